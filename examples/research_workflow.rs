//! A research workflow with `Parallel` and `Condition`, offline with `ScriptedModel`.
//!
//! Three researchers gather material at the same time (`Parallel`); a fact checker runs only
//! when the topic asks for numbers (`Condition`, with an `else` branch); a writer turns it all
//! into an article. `Steps` groups the writing and editing.
//!
//! ```text
//! cargo run --example research_workflow            # two demo runs, then exit
//! cargo run --example research_workflow -- --serve # serve on 127.0.0.1:7777
//! curl -X POST http://localhost:7777/workflows/research/runs \
//!   -F "message=Statistics on remote work" -F "stream=false"
//! ```

use agentos::{
    Agent, AgentOs, Condition, ModelRequest, Parallel, ScriptedModel, SqliteDb, Step, StepInput,
    StepOutput, Steps, Workflow,
};

/// An agent whose scripted model answers `<prefix> <the question>`.
fn agent(name: &str, prefix: &'static str) -> Agent {
    Agent::new(name).model(ScriptedModel::from_fn(move |req: &ModelRequest| {
        let asked = req
            .messages
            .last()
            .map(|m| m.content.as_str())
            .unwrap_or("");
        let first_line = asked.lines().find(|l| !l.starts_with("===")).unwrap_or("");
        Ok(format!("{prefix} {first_line}"))
    }))
}

fn research_workflow() -> Workflow {
    let gather = Parallel::new(
        "gather",
        [
            Step::from(agent("Web Researcher", "Top web results about:")),
            Step::from(agent("Paper Researcher", "Three papers on:")),
            Step::function("keywords", |input: StepInput| async move {
                let words: Vec<&str> = input.input.split_whitespace().take(3).collect();
                Ok(StepOutput::new(format!("keywords: {}", words.join(", "))))
            }),
        ],
    );
    let wants_numbers = |input: &StepInput| {
        let topic = input.input.to_lowercase();
        topic.contains("statistics") || topic.contains("numbers")
    };
    let check = Condition::new(
        "fact_check",
        wants_numbers,
        [agent("Fact Checker", "Verified figures for:")],
    )
    .else_steps([Step::function("no_figures", |_| async {
        Ok(StepOutput::new("No figures to verify."))
    })]);
    let write = Steps::new(
        "writing",
        [
            Step::from(agent("Writer", "Article draft based on:")),
            Step::function("edit", |input: StepInput| async move {
                let draft = input.previous_step_content.unwrap_or_default();
                Ok(StepOutput::new(format!("{draft} (edited)")))
            }),
        ],
    );
    Workflow::new("research")
        .name("Research")
        .description("Parallel research, an optional fact check, then an article")
        .steps([Step::from(gather), check.into(), write.into()])
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let os = AgentOs::new()
        .workflow(research_workflow())
        .db(SqliteDb::new("tmp/research_workflow.db"));
    if std::env::args().any(|a| a == "--serve") {
        os.serve("127.0.0.1:7777").await?;
        return Ok(());
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(os.serve_with_shutdown(listener, async {
        let _ = stopped.await;
    }));
    for message in ["Statistics on remote work", "The history of tea"] {
        let body: serde_json::Value = reqwest::Client::new()
            .post(format!("{base}/workflows/research/runs"))
            .form(&[("message", message), ("stream", "false")])
            .send()
            .await?
            .json()
            .await?;
        println!("== {message}");
        for step in body["step_results"].as_array().into_iter().flatten() {
            println!(
                "{} ({}): {}",
                step["step_name"], step["step_type"], step["content"]
            );
        }
        println!("=> {}\n", body["content"]);
    }
    let _ = stop.send(());
    server.await??;
    Ok(())
}
