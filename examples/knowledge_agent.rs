//! An agent that answers from a folder of documents: every file of `examples/knowledge/`
//! (Markdown, text, HTML; PDF, DOCX, CSV and JSON are read too) is ingested when the OS starts,
//! and the agent searches it with `search_knowledge_base` before answering.
//!
//! ```text
//! cargo run --example knowledge_agent
//! curl -X POST http://localhost:7777/agents/support/runs -F "message=How long do refunds take?" -F stream=false
//! curl -X POST http://localhost:7777/knowledge/search -H 'content-type: application/json' -d '{"query": "express delivery"}'
//! ```
//!
//! Offline (no `OPENAI_API_KEY`/`OPENAI_BASE_URL`), the scripted model searches with the
//! question and answers with the best passage, and the `HashEmbedder` embeds locally; with a
//! server configured, `OpenAIChat` and `OpenAIEmbedder` do. `KNOWLEDGE_DIR` names another
//! folder; the database is `tmp/knowledge.db`.

use agentos::model::{HashEmbedder, OpenAIEmbedder};
use agentos::{Agent, AgentOs, Knowledge, OpenAIChat, ScriptedModel, ScriptedReply, SqliteDb};
use serde_json::{Value, json};

/// The folder of documents, with the embedder for the configured server (or offline).
fn knowledge() -> Knowledge {
    let dir = std::env::var("KNOWLEDGE_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/examples/knowledge").into());
    let kb = Knowledge::new("support-docs")
        .description("Returns, refunds, shipping and warranty")
        .add_path(dir)
        .max_results(3);
    match OpenAIChat::configured_from_env() {
        true => kb.embedder(OpenAIEmbedder::new("text-embedding-3-small")),
        false => kb.embedder(HashEmbedder::new(256)),
    }
}

/// Offline: searches with the question, then answers with the best passage it found.
fn offline_model() -> ScriptedModel {
    ScriptedModel::respond(|req| {
        let Some(result) = req.tool_results().first() else {
            let query = req.last_user_message();
            return Ok(ScriptedReply::tool_call(
                "search_knowledge_base",
                json!({"query": query}),
            ));
        };
        let docs: Value = serde_json::from_str(&result.content).unwrap_or(Value::Null);
        Ok(ScriptedReply::text(match &docs[0] {
            Value::Null => "I found nothing about that in the documents.".to_owned(),
            best => format!(
                "From {}: {}",
                best["meta_data"]["source"]
                    .as_str()
                    .unwrap_or("the documents"),
                best["content"].as_str().unwrap_or_default()
            ),
        }))
    })
}

#[tokio::main]
async fn main() -> Result<(), agentos::OsError> {
    let _ = dotenvy::dotenv();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let support = Agent::new("Support")
        .instructions("Answer customers' questions from the support documents.")
        .knowledge(knowledge());
    let support = match OpenAIChat::configured_from_env() {
        true => support.model(OpenAIChat::new("gpt-5.2")),
        false => support.model(offline_model()),
    };
    AgentOs::new()
        .agent(support)
        .db(SqliteDb::new("tmp/knowledge.db"))
        .serve("127.0.0.1:7777")
        .await
}
