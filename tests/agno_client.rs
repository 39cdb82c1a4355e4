//! agno's own Python client against agentos: agno 3.1.10 from PyPI in a virtualenv, driven by
//! `tests/compat/agno_client_suite.py` through `agno.client.AgentOSClient` (config, agents,
//! teams, agent, team and workflow runs JSON and SSE, cancel, sessions, their runs, rename,
//! update, delete, memories and what a later session of the same user is told, knowledge
//! content, search and an agent searching it, traces and usage metrics) and the cookbook's
//! raw-HTTP flow, against the real server on a loopback port; then the same flows with a bearer
//! JWT minted by PyJWT, on a server with JWT auth and per-user isolation.
//!
//! Needs `python3` and PyPI. Without them the test is skipped with a message on stderr, except
//! under `CI=true`, where it fails. The virtualenv (`tests/support/python.rs`, agno pinned in
//! `tests/compat/requirements.txt`) is kept in `target/tmp/py-venv` and reused.

#[allow(dead_code)]
#[path = "api/auth_support.rs"]
mod auth_support;
#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;
#[path = "api/mock_openai.rs"]
mod mock_openai;
#[path = "support/python.rs"]
mod python;

use agentos::model::HashEmbedder;
use agentos::{
    Agent, AgentOs, JwtConfig, Knowledge, OpenAIChat, ScriptedModel, ScriptedReply, Team, Workflow,
};
use auth_support::{AUDIENCE, ISSUER, claims, mint, spec};
use helpers::{HookLog, fast_retries, seed_workflow, sleeping_hook, spawn_with};
use mock_openai::MockOpenAi;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::process::Command;

/// The knowledge base of `examples/agent_os.rs`, on the offline embedder.
fn docs() -> Knowledge {
    Knowledge::new("docs").embedder(HashEmbedder::new(256))
}

/// Searches its knowledge base with the user's message, then answers with what it found.
fn knowledge_agent(kb: Knowledge) -> Agent {
    let model = ScriptedModel::respond(|req| {
        if let Some(result) = req.tool_results().first() {
            return Ok(ScriptedReply::text(format!("Found: {}", result.content)));
        }
        Ok(ScriptedReply::tool_call(
            "search_knowledge_base",
            serde_json::json!({"query": req.last_user_message()}),
        ))
    });
    Agent::new("Knowledge Agent").model(model).knowledge(kb)
}

/// The chat agent of `examples/agent_os.rs`, on the model at `model_url`.
fn assistant(model_url: &str) -> Agent {
    let model = OpenAIChat::new("gpt-5.2")
        .base_url(model_url)
        .api_key("test-key")
        .timeout(Duration::from_secs(120))
        .retry_policy(fast_retries());
    Agent::new("Assistant")
        .model(model)
        .instructions("You are a helpful assistant.")
        .update_memory_on_run(true)
}

/// `research-team` on the model at `model_url`: a scripted leader delegates `Research:
/// <message>` to the researcher, then `Write: <its answer>` to the writer, then answers
/// `Report: <the writer's answer>`.
fn research_team(model_url: &str, id: &str) -> Team {
    let leader = ScriptedModel::respond(|req| {
        let last = req.tool_results().last().map(|r| r.content.clone());
        Ok(match req.turn() {
            0 => ScriptedReply::delegate(
                "researcher",
                format!("Research: {}", req.last_user_message()),
            ),
            1 => ScriptedReply::delegate("writer", format!("Write: {}", last.unwrap_or_default())),
            _ => ScriptedReply::text(format!("Report: {}", last.unwrap_or_default())),
        })
    });
    Team::new("Research Team").id(id).model(leader).members([
        assistant(model_url).with_id("researcher"),
        assistant(model_url).with_id("writer"),
    ])
}

/// The example's AgentOS (`examples/agent_os.rs`) on the mock, plus an agent, a workflow and
/// a team whose model answers only after 300 s, so that their runs are cancelled in flight.
async fn example_app(configure: impl FnOnce(AgentOs) -> AgentOs) -> (helpers::TestApp, MockOpenAi) {
    let mock = Arc::new(MockOpenAi::start().await);
    let slow = MockOpenAi::start().await;
    slow.set_delay(Duration::from_secs(300));
    let hooks = HookLog::default();
    let kb = docs();
    let os = AgentOs::new()
        .agent(assistant(&mock.base_url()).knowledge(kb.clone()))
        .agent(knowledge_agent(kb))
        .agent(assistant(&slow.base_url()).with_id("slow-assistant"))
        .workflow(seed_workflow(
            &mock.base_url(),
            &[sleeping_hook(&hooks, Duration::from_millis(10))],
        ))
        .workflow(Workflow::new("slow-workflow").steps([assistant(&slow.base_url())]))
        .team(research_team(&mock.base_url(), "research-team"))
        .team(research_team(&slow.base_url(), "slow-team"))
        .run_hooks_in_background(true)
        .tracing(true)
        .without_otlp()
        .trace_export_interval(Duration::from_millis(50));
    (spawn_with(configure(os), mock, hooks).await, slow)
}

/// Runs the suite against `app` with `args`; asserts it passed and the hooks ran.
async fn run_suite(python: &Path, app: &helpers::TestApp, args: &[&str]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compat/agno_client_suite.py");
    let suite = Command::new(python)
        .arg(&script)
        .arg(&app.base)
        .args(args)
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    // A guard against a hung suite, not a timing assertion.
    let out = tokio::time::timeout(Duration::from_secs(600), suite)
        .await
        .expect("the agno client suite did not finish")
        .expect("run the agno client suite");
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "agno's client suite failed ({}):\n{output}",
        out.status
    );
    // The workflow runs made by agno's client ran the example's background hooks.
    assert!(
        app.hooks
            .wait_for("done:Summarizer", Duration::from_secs(10))
            .await,
        "no background hook ran: {:?}",
        app.hooks.entries()
    );
    println!("{output}");
}

#[tokio::test(flavor = "multi_thread")]
async fn agnos_client_drives_agentos() {
    let Some(python) = python::python_or_skip("agnos_client_drives_agentos").await else {
        return;
    };
    let (app, _slow) = example_app(|os| os).await;
    run_suite(&python, &app, &[]).await;
}

/// The same flows with a bearer JWT (minted by PyJWT) on a server with JWT auth, agno's scopes
/// and per-user isolation, as `cargo run --example agent_os` runs with `JWT_VERIFICATION_KEY`.
#[tokio::test(flavor = "multi_thread")]
async fn agnos_client_drives_agentos_with_a_jwt() {
    let scopes = [
        "config:read",
        "agents:read",
        "agents:run",
        "workflows:read",
        "workflows:run",
        "teams:read",
        "teams:run",
        "sessions:read",
        "sessions:write",
        "sessions:delete",
        "memories:read",
        "memories:write",
        "memories:delete",
        "knowledge:read",
        "knowledge:write",
        "knowledge:delete",
        "traces:read",
        "metrics:read",
        "metrics:write",
    ];
    let mut tokens = serde_json::Map::new();
    for user in ["alice", "mallory"] {
        tokens.insert(user.into(), spec("RS256", "rsa", claims(user, &scopes)));
    }
    let test = "agnos_client_drives_agentos_with_a_jwt";
    let (Some(python), Some(minted)) =
        (python::python_or_skip(test).await, mint(test, tokens).await)
    else {
        return;
    };
    let key = minted.key("rsa.pem");
    let (app, _slow) = example_app(|os| {
        os.authorization(
            JwtConfig::new()
                .verification_key(key)
                .audience(AUDIENCE)
                .issuer(ISSUER)
                .user_isolation(true),
        )
    })
    .await;
    let args = [
        "--bearer",
        minted.token("alice"),
        "--other-bearer",
        minted.token("mallory"),
    ];
    run_suite(&python, &app, &args).await;
}
