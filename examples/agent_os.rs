//! The AgentOS that agno's own clients talk to: an agent `assistant` and the seed workflow
//! `analysis-workflow`, on the seed example's defaults (port 7777, `tmp/workflow.db`, OpenAI
//! when `OPENAI_API_KEY`/`OPENAI_BASE_URL` are set, else the offline `ScriptedModel`).
//!
//! ```text
//! cargo run --example agent_os
//! curl -X POST http://localhost:7777/agents/assistant/runs -F "message=Hello" -F "stream=false"
//! ```
//!
//! Point agno's Agent UI (`http://localhost:3000`) or `agno.client.AgentOSClient` at
//! `http://localhost:7777`.

#[allow(dead_code)]
#[path = "background_hooks_workflow.rs"]
mod seed;

use agentos::{Agent, AgentOs};

/// The chat agent.
fn assistant() -> Agent {
    Agent::new("Assistant")
        .shared_model(seed::model("gpt-5.2"))
        .instructions("You are a helpful assistant.")
}

#[tokio::main]
async fn main() -> Result<(), agentos::OsError> {
    seed::init();
    AgentOs::new()
        .agent(assistant())
        .workflow(seed::analysis_workflow())
        .run_hooks_in_background(true)
        .serve("127.0.0.1:7777")
        .await
}
