//! Background hooks with a workflow in AgentOS: the Rust port of agno's
//! `background_hooks_workflow.py`.
//!
//! Background hooks execute after the API response is sent, making them non-blocking.
//!
//! ```text
//! cargo run --example background_hooks_workflow
//! curl -X POST http://localhost:7777/workflows/analysis-workflow/runs \
//!   -F "message=Explain the benefits of exercise" \
//!   -F "stream=false"
//! ```
//!
//! With neither `OPENAI_API_KEY` nor `OPENAI_BASE_URL` set, the agents answer with the offline
//! `ScriptedModel` (the response's `model` field says `scripted`).

use agentos::{
    Agent, AgentOs, HookContext, HookError, Model, OpenAIChat, ScriptedModel, SqliteDb, Workflow,
};
use std::sync::Arc;
use std::time::Duration;

// ---------------------------------------------------------------------------
// Create Example
// ---------------------------------------------------------------------------

/// Background post-hook on the agent that runs after each step completes.
async fn log_step_completion(ctx: HookContext) -> Result<(), HookError> {
    println!(
        "[Background Hook] Agent '{}' completed step",
        ctx.agent.name
    );
    println!("[Background Hook] Run ID: {}", ctx.run_id);

    // Simulate async work
    tokio::time::sleep(Duration::from_secs(1)).await;
    println!("[Background Hook] Logged metrics for {}", ctx.agent.name);
    Ok(())
}

/// `OpenAIChat` when a server is configured, else the offline scripted model.
pub fn model(id: &str) -> Arc<dyn Model> {
    if OpenAIChat::configured_from_env() {
        Arc::new(OpenAIChat::new(id))
    } else {
        Arc::new(ScriptedModel::new())
    }
}

/// Loads `.env`, starts logging (and agentos's span layer, idle until tracing is turned on),
/// and says which model answers.
pub fn init() {
    let _ = dotenvy::dotenv();
    agentos::telemetry::init();
    if !OpenAIChat::configured_from_env() {
        println!(
            "OPENAI_API_KEY and OPENAI_BASE_URL are not set: answering with the offline ScriptedModel"
        );
    }
}

/// The seed workflow: Analyzer then Summarizer, each with the background post-hook.
pub fn analysis_workflow() -> Workflow {
    // Create agents for the workflow steps
    let analyzer = Agent::new("Analyzer")
        .shared_model(model("gpt-5.2"))
        .instructions("Analyze the input and identify key points.")
        .post_hook(log_step_completion);

    let summarizer = Agent::new("Summarizer")
        .shared_model(model("gpt-5.2"))
        .instructions("Summarize the analysis into a brief response.")
        .post_hook(log_step_completion);

    // Create the workflow
    Workflow::new("analysis-workflow")
        .name("AnalysisWorkflow")
        .description("Analyzes input and provides a summary")
        .steps([analyzer, summarizer])
        .db(SqliteDb::new("tmp/workflow.db"))
}

#[tokio::main]
async fn main() -> Result<(), agentos::OsError> {
    init();
    let analysis_workflow = analysis_workflow();

    // Create AgentOS with background hooks enabled
    let agent_os = AgentOs::new()
        .workflow(analysis_workflow)
        .run_hooks_in_background(true);

    // -----------------------------------------------------------------------
    // Run Example
    // -----------------------------------------------------------------------
    agent_os.serve("127.0.0.1:7777").await
}
