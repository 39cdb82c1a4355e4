//! The AgentOS that agno's own clients talk to: an agent `assistant` (with a tool `add(a, b)`,
//! user memories, and the knowledge base `docs`, which it searches with
//! `search_knowledge_base`), the team `research-team` (a leader coordinating `researcher` and
//! `writer`) and the seed workflow `analysis-workflow`, on the seed example's defaults (port
//! 7777, `tmp/workflow.db`, OpenAI when `OPENAI_API_KEY`/`OPENAI_BASE_URL` are set, else the
//! offline `ScriptedModel` and `HashEmbedder`).
//!
//! ```text
//! cargo run --example agent_os
//! curl -X POST http://localhost:7777/agents/assistant/runs -F "message=Hello" -F "stream=false"
//! curl -N -X POST http://localhost:7777/agents/assistant/runs -F "message=What is 2 + 3?"
//! curl -X POST http://localhost:7777/knowledge/content -F "text_content=Our office opens at 9." -F name=hours
//! curl -X POST http://localhost:7777/knowledge/search -H 'content-type: application/json' -d '{"query": "opening hours"}'
//! curl -X POST http://localhost:7777/teams/research-team/runs -F "message=Tides" -F "stream=false"
//! ```
//!
//! Point agno's Agent UI (`http://localhost:3000`) or `agno.client.AgentOSClient` at
//! `http://localhost:7777`. Offline, the scripted model calls `add` for a message with two
//! numbers, so the clients see tool-call events too; the team's leader delegates to the
//! Researcher, then to the Writer, then answers with the Writer's text.
//!
//! With `JWT_VERIFICATION_KEY` set (a shared secret or a PEM public key; or `JWT_JWKS_FILE` /
//! `JWT_JWKS_URL`), every request needs a JWT: `JWT_ALGORITHM` (default `RS256`, as agno),
//! `JWT_AUDIENCE` and `JWT_ISSUER` are checked when set, routes check agno's scopes, and each
//! user sees only their own sessions and runs (docs/guide/identity.md).
//!
//! The assistant keeps memories of its users: after each run, a background job has the memory
//! manager read the user's message. Offline, the scripted model keeps a message that tells
//! something about the user ("My name is Ana", "I like jazz") as a memory, and answers later
//! runs of the same user, in any session, with what it remembers:
//!
//! ```text
//! curl -X POST http://localhost:7777/agents/assistant/runs -F "message=My name is Ana" -F "user_id=ana" -F "stream=false"
//! curl "http://localhost:7777/memories?user_id=ana"
//! curl -X POST http://localhost:7777/agents/assistant/runs -F "message=Who am I?" -F "user_id=ana" -F "stream=false"
//! ```
//!
//! Observability is on: every run's trace is stored for agno's `/traces` (os.agno.com's Traces
//! page), agno's usage metrics are at `/metrics`, Prometheus's exposition at
//! `/metrics/prometheus`, and with `OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318` the
//! spans also go to any OTLP collector (Jaeger, Tempo, ...): docs/guide/observability.md.

#[allow(dead_code)]
#[path = "support/offline_memory.rs"]
mod offline_memory;
#[allow(dead_code)]
#[path = "background_hooks_workflow.rs"]
mod seed;

use agentos::model::{HashEmbedder, OpenAIEmbedder};
use agentos::{
    Agent, AgentOs, JwtConfig, Knowledge, Model, OpenAIChat, ScriptedModel, ScriptedReply, Team,
    TeamMode, tool_fn,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// The arguments of `add`.
#[derive(Debug, Deserialize, JsonSchema)]
struct AddArgs {
    /// The first number.
    a: f64,
    /// The second number.
    b: f64,
}

/// Offline: asks for `add` when the message holds two numbers, then states the tool's answer;
/// as the memory manager, keeps what the user tells about themselves; otherwise answers with
/// what it remembers of the user.
fn offline_model() -> ScriptedModel {
    ScriptedModel::respond(|req| {
        if let Some(reply) = offline_memory::memory_manager_reply(req) {
            return Ok(reply);
        }
        if let Some(result) = req.tool_results().first() {
            return Ok(ScriptedReply::text(format!(
                "The sum is {}.",
                result.content
            )));
        }
        let numbers: Vec<f64> = req
            .last_user_message()
            .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
            .filter_map(|w| w.parse().ok())
            .collect();
        match numbers[..] {
            [a, b, ..] => Ok(ScriptedReply::tool_call("add", json!({"a": a, "b": b}))),
            _ => Ok(ScriptedReply::text(format!(
                "Scripted reply to: {}{}",
                req.last_user_message(),
                offline_memory::remembered(req)
            ))),
        }
    })
}

/// The assistant's knowledge base: content comes in through `/knowledge/content`.
fn docs() -> Knowledge {
    let kb = Knowledge::new("docs").description("Documents uploaded to the assistant");
    match OpenAIChat::configured_from_env() {
        true => kb.embedder(OpenAIEmbedder::new("text-embedding-3-small")),
        false => kb.embedder(HashEmbedder::new(256)),
    }
}

/// The chat agent, with its `add` tool and its knowledge base.
fn assistant() -> Agent {
    let model: Arc<dyn Model> = match OpenAIChat::configured_from_env() {
        true => seed::model("gpt-5.2"),
        false => Arc::new(offline_model()),
    };
    Agent::new("Assistant")
        .shared_model(model)
        .instructions("You are a helpful assistant. Use the add tool to add numbers.")
        .update_memory_on_run(true)
        .tool(tool_fn(
            "add",
            "Add two numbers and return the sum.",
            |args: AddArgs| async move { Ok::<_, String>(args.a + args.b) },
        ))
        .knowledge(docs())
}

/// Offline, the leader's script: research, then writing, then the Writer's text as the answer.
fn offline_leader() -> ScriptedModel {
    ScriptedModel::respond(|req| {
        Ok(match req.turn() {
            0 => ScriptedReply::delegate(
                "researcher",
                format!("Research this topic: {}", req.last_user_message()),
            ),
            1 => ScriptedReply::delegate(
                "writer",
                format!(
                    "Write a short report from these findings: {}",
                    req.tool_results().last().map_or("", |r| r.content.as_str())
                ),
            ),
            _ => ScriptedReply::text(format!(
                "Here is the team's report. {}",
                req.tool_results().last().map_or("", |r| r.content.as_str())
            )),
        })
    })
}

/// The research team: a leader coordinating a Researcher and a Writer.
fn research_team() -> Team {
    let online = OpenAIChat::configured_from_env();
    let leader: Arc<dyn Model> = match online {
        true => seed::model("gpt-5.2"),
        false => Arc::new(offline_leader()),
    };
    let members = || -> Arc<dyn Model> {
        match online {
            true => seed::model("gpt-5.2"),
            false => Arc::new(ScriptedModel::new()),
        }
    };
    let researcher = Agent::new("Researcher")
        .shared_model(members())
        .role("Finds the key facts about a topic")
        .instructions("Research the topic and list the key facts.");
    let writer = Agent::new("Writer")
        .shared_model(members())
        .role("Writes a clear short report from research notes")
        .instructions("Write a short report from the research.");
    Team::new("Research Team")
        .id("research-team")
        .shared_model(leader)
        .instructions("Delegate research to the Researcher, then have the Writer write it up.")
        .members([researcher, writer])
        .mode(TeamMode::Coordinate)
}

#[tokio::main]
async fn main() -> Result<(), agentos::OsError> {
    seed::init();
    let mut os = AgentOs::new()
        .agent(assistant())
        .team(research_team())
        .workflow(seed::analysis_workflow())
        .run_hooks_in_background(true)
        .tracing(true)
        .prometheus(true);
    if JwtConfig::configured_in_env() {
        os = os.authorization(JwtConfig::from_env().user_isolation(true));
    }
    os.serve("127.0.0.1:7777").await
}
