//! A draft-review `Loop`, offline with `ScriptedModel`: a writer drafts, a reviewer checks,
//! and the loop ends when the reviewer approves (or after `max_iterations`). The number of
//! drafts lives in `session_state`, which is stored with the session, so the same session
//! picks up where it left off.
//!
//! ```text
//! cargo run --example draft_review_loop            # two demo runs in one session, then exit
//! cargo run --example draft_review_loop -- --serve # serve on 127.0.0.1:7777
//! curl -X POST http://localhost:7777/workflows/draft-review/runs \
//!   -F "message=A launch announcement" -F "session_id=s1" -F "stream=false"
//! ```

use agentos::{
    Agent, AgentOs, Loop, ModelRequest, ScriptedModel, SqliteDb, Step, StepInput, StepOutput,
    Workflow,
};
use serde_json::json;

fn draft_review() -> Workflow {
    let writer = Agent::new("Writer").model(ScriptedModel::from_fn(|req: &ModelRequest| {
        let asked = req
            .messages
            .last()
            .map(|m| m.content.as_str())
            .unwrap_or("");
        Ok(format!("Draft: {asked}"))
    }));
    // Counts the drafts of this session in session_state.
    let count = Step::function("count_drafts", |input: StepInput| async move {
        let drafts = input.session_state.update(|state| {
            let n = state.get("drafts").and_then(|v| v.as_u64()).unwrap_or(0) + 1;
            state.insert("drafts".into(), json!(n));
            n
        });
        let draft = input.previous_step_content.unwrap_or_default();
        Ok(StepOutput::new(format!("{draft} (revision {drafts})")))
    });
    // Approves the third revision of the session.
    let review = Step::function("review", |input: StepInput| async move {
        let drafts = input
            .session_state
            .get("drafts")
            .and_then(|v| v.as_u64())
            .unwrap_or(0);
        Ok(StepOutput::new(if drafts >= 3 {
            "APPROVED"
        } else {
            "Needs a stronger opening."
        }))
    });
    let revise = Loop::new("revise", [Step::agent("write", writer), count, review])
        .max_iterations(5)
        .end_condition(|outputs: &[StepOutput]| {
            outputs
                .last()
                .is_some_and(|o| o.content.as_deref() == Some("APPROVED"))
        });
    Workflow::new("draft-review")
        .name("Draft and review")
        .steps([revise])
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let os = AgentOs::new()
        .workflow(draft_review())
        .db(SqliteDb::new("tmp/draft_review_loop.db"));
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
    let session = uuid_like();
    for message in ["A launch announcement", "A follow-up post"] {
        let body: serde_json::Value = reqwest::Client::new()
            .post(format!("{base}/workflows/draft-review/runs"))
            .form(&[
                ("message", message),
                ("stream", "false"),
                ("session_id", &session),
            ])
            .send()
            .await?
            .json()
            .await?;
        println!("== {message}: {}", body["step_results"][0]["content"]);
        for step in body["step_results"][0]["steps"]
            .as_array()
            .into_iter()
            .flatten()
        {
            println!("  {}: {}", step["step_name"], step["content"]);
        }
    }
    let _ = stop.send(());
    server.await??;
    Ok(())
}

/// A session id unique to this demo run.
fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("draft-review-{nanos}")
}
