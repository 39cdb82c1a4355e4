//! agentos inside your own axum app: the whole AgentOS API nested under `/ai`, beside a route
//! of the app's own. This file is the README's quick start (a test keeps the two the same).
//!
//! ```text
//! cargo run --example embed_axum
//! curl http://localhost:7777/ping
//! curl http://localhost:7777/ai/workflows
//! curl -X POST http://localhost:7777/ai/workflows/answer/runs -F "message=Hello" -F "stream=false"
//! ```
//!
//! `AGENT_OS_HOST` and `AGENT_OS_PORT` override the address, as for the other examples. With
//! neither `OPENAI_API_KEY` nor `OPENAI_BASE_URL` set, the agent answers with the offline
//! `ScriptedModel`.

use agentos::prelude::*;
use axum::{Router, routing::get};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Any OpenAI-compatible server when OPENAI_API_KEY or OPENAI_BASE_URL is set, else offline.
    let writer = Agent::new("Writer").instructions("Answer in one friendly sentence.");
    let writer = if OpenAIChat::configured_from_env() {
        writer.model(OpenAIChat::new("gpt-5.2"))
    } else {
        writer.model(ScriptedModel::new())
    };
    let os = AgentOs::new().workflow(Workflow::new("answer").steps([writer]));

    // Your app, with agentos's API (and its docs, auth and CORS) under /ai.
    let app = Router::new()
        .route("/ping", get(|| async { "pong" }))
        .nest("/ai", os.router().await?); // opens the database, applies the migrations

    let host = std::env::var("AGENT_OS_HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let port = std::env::var("AGENT_OS_PORT").unwrap_or_else(|_| "7777".into());
    let listener = tokio::net::TcpListener::bind(format!("{host}:{port}")).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(agentos::shutdown_signal())
        .await?;
    // Waits for in-flight runs, drains background hooks, closes the database.
    os.shutdown().await;
    Ok(())
}
