//! agentos's `/mcp`, driven by the official Python SDK's client
//! (`tests/compat/mcp_client_suite.py`) in both of its connect modes.

use crate::helpers::{HookLog, TestApp, spawn_with};
use crate::mock_openai::MockOpenAi;
use agentos::{Agent, AgentOs, ScriptedModel, ScriptedReply, Team, Workflow, tool_fn};
use serde::Deserialize;
use serde_json::json;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::process::Command;

const KEY: &str = "mcp-test-key";

#[derive(Deserialize, schemars::JsonSchema)]
struct AddArgs {
    a: i64,
    b: i64,
}

/// The example's OS (`examples/agent_os.rs`: the workflow `analysis-workflow`, the agent
/// `assistant` with `add` and the team `research-team`), offline, with the security key and
/// `/mcp`.
async fn serve_os(mcp: bool) -> TestApp {
    let step = |name: &str| Agent::new(name).model(ScriptedModel::new());
    let workflow = Workflow::new("analysis-workflow")
        .name("AnalysisWorkflow")
        .steps([step("Analyzer"), step("Summarizer")]);
    let add = tool_fn("add", "Add two numbers.", |args: AddArgs| async move {
        Ok::<_, String>(args.a + args.b)
    });
    let assistant = Agent::new("Assistant")
        .model(ScriptedModel::script([
            ScriptedReply::tool_call("add", json!({"a": 2, "b": 3})),
            ScriptedReply::text("2 + 3 = 5"),
        ]))
        .tool(add);
    let team = Team::new("Research Team")
        .model(ScriptedModel::script([
            ScriptedReply::delegate("researcher", "find facts"),
            ScriptedReply::text("The team's report."),
        ]))
        .members([step("Researcher")]);
    let os = AgentOs::new()
        .workflow(workflow)
        .agent(assistant)
        .team(team)
        .security_key(KEY)
        .mcp_server(mcp);
    spawn_with(os, Arc::new(MockOpenAi::start().await), HookLog::default()).await
}

async fn get(app: &TestApp, path: &str) -> (u16, serde_json::Value) {
    let res = app
        .client
        .get(app.url(path))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_official_python_client_drives_agentos_over_mcp() {
    let Some(python) = crate::support::python("the_official_python_client_drives_agentos").await
    else {
        return;
    };
    let app = serve_os(true).await;
    let (_, info) = get(&app, "/info").await;
    assert_eq!(
        info["mcp"],
        json!({"enabled": true, "path": "/mcp", "oauth": null, "tool_run_endpoint": false})
    );
    let (_, config) = get(&app, "/config").await;
    assert_eq!(config["mcp"]["enabled"], true, "{config}");

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compat/mcp_client_suite.py");
    for mode in ["legacy", "auto"] {
        let suite = Command::new(&python)
            .arg(&script)
            .args([app.base.as_str(), KEY, mode])
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output();
        // A guard against a hung suite, not a timing assertion.
        let out = tokio::time::timeout(Duration::from_secs(120), suite)
            .await
            .expect("the MCP client suite did not finish")
            .expect("run the MCP client suite");
        let output = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success(),
            "the MCP client suite failed in {mode} mode ({}):\n{output}",
            out.status
        );
        assert!(
            output.contains(&format!("MCP CLIENT SUITE PASSED ({mode})")),
            "{output}"
        );
        println!("{output}");
    }

    // The runs made over MCP are runs like any other: stored, in their sessions.
    let (status, sessions) = get(&app, "/sessions?type=workflow&user_id=mcp-user-auto").await;
    assert_eq!(status, 200, "{sessions}");
    assert_eq!(sessions["meta"]["total_count"], 1, "{sessions}");
    let session = sessions["data"][0]["session_id"].as_str().unwrap();
    let (_, runs) = get(&app, &format!("/sessions/{session}/runs")).await;
    assert_eq!(runs[0]["status"], "COMPLETED", "{runs}");
    assert!(
        runs[0]["content"]
            .as_str()
            .unwrap()
            .contains("MCP is a protocol"),
        "{runs}"
    );
}

#[tokio::test]
async fn mcp_is_off_unless_asked_for() {
    let app = serve_os(false).await;
    let res = app
        .client
        .post(app.url("/mcp"))
        .bearer_auth(KEY)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let (_, info) = get(&app, "/info").await;
    assert_eq!(info["mcp"]["enabled"], false);
    assert_eq!(info["mcp"]["path"], serde_json::Value::Null);
    let (_, config) = get(&app, "/config").await;
    assert_eq!(config["mcp"]["enabled"], false);
}
