//! A `Router` by topic, offline with `ScriptedModel`: a selector reads the question and picks
//! the desk (or desks) that answer it. A function step that fails is retried, then skipped
//! (`on_error` skip, agno's default), and the run goes on.
//!
//! ```text
//! cargo run --example topic_router            # three demo runs, then exit
//! cargo run --example topic_router -- --serve # serve on 127.0.0.1:7777
//! curl -X POST http://localhost:7777/workflows/news-desk/runs \
//!   -F "message=What happened in tech and sports today?" -F "stream=false"
//! ```

use agentos::{
    Agent, AgentOs, OnError, Router, ScriptedModel, SqliteDb, Step, StepInput, StepOutput, Steps,
    Workflow,
};

fn desk(name: &str, answer: &'static str) -> Agent {
    Agent::new(name).model(ScriptedModel::from_fn(move |_| Ok(answer.to_owned())))
}

fn news_desk() -> Workflow {
    let pick_desks = |input: &StepInput| {
        let q = input.input.to_lowercase();
        let mut desks = Vec::new();
        if q.contains("tech") {
            desks.push("tech".to_owned());
        }
        if q.contains("sport") {
            desks.push("sports".to_owned());
        }
        if desks.is_empty() {
            desks.push("general".to_owned());
        }
        desks
    };
    let tech = Steps::new(
        "tech",
        [
            Step::from(desk("Tech Desk", "A new open-source model was released.")),
            // A flaky source: fails every time, is retried twice, then skipped.
            Step::function("tech_sources", |_| async {
                Err::<StepOutput, _>("the source archive is unreachable".into())
            })
            .max_retries(2)
            .on_error(OnError::Skip),
        ],
    );
    let router = Router::new(
        "route_by_topic",
        pick_desks,
        [
            Step::from(tech),
            Step::agent("sports", desk("Sports Desk", "The home team won 3-1.")),
            Step::agent("general", desk("General Desk", "A quiet day in the news.")),
        ],
    );
    // Every desk's answer, found inside the Router's nested outputs.
    let headline = Step::function("headline", |input: StepInput| async move {
        let mut answers = Vec::new();
        if let Some(routed) = input.get_step_output("route_by_topic") {
            desk_answers(routed, &mut answers);
        }
        Ok(StepOutput::new(format!(
            "HEADLINES: {}",
            answers.join(" | ")
        )))
    });
    Workflow::new("news-desk")
        .name("News desk")
        .steps([Step::from(router), headline])
}

/// The contents of the agent steps (the desks) under `out`, in order.
fn desk_answers(out: &StepOutput, answers: &mut Vec<String>) {
    if out.executor_type.as_deref() == Some("agent") && out.success {
        answers.extend(out.content.clone());
    }
    for child in out.steps.iter().flatten() {
        desk_answers(child, answers);
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let os = AgentOs::new()
        .workflow(news_desk())
        .db(SqliteDb::new("tmp/topic_router.db"));
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
    for message in [
        "Any tech news?",
        "What happened in tech and sports today?",
        "Anything else?",
    ] {
        let body: serde_json::Value = reqwest::Client::new()
            .post(format!("{base}/workflows/news-desk/runs"))
            .form(&[("message", message), ("stream", "false")])
            .send()
            .await?
            .json()
            .await?;
        println!("== {message}");
        println!("  router: {}", body["step_results"][0]["content"]);
        println!("  => {}", body["content"]);
        let tech_sources = body["step_results"][0]["steps"][0]["steps"][1]["content"].as_str();
        if let Some(skipped) = tech_sources {
            println!("  (tech_sources: {skipped})");
        }
    }
    let _ = stop.send(());
    server.await??;
    Ok(())
}
