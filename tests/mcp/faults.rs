//! MCP tool servers that fail: killed mid-run, restarted, slower than the timeout, answering an
//! error, or never started. Each time the model gets a truthful tool error, the run ends as the
//! model decides, nothing hangs and nothing is lost.

use crate::helpers::TestApp;
use crate::support::*;
use agentos::{Agent, McpTools, ScriptedModel, ScriptedReply};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// A model that calls the tool its message names (`pid`, `crash`, `slow`, `fail`, `add`) and then
/// answers with what the tool gave back: `tool said: <the result or the error>`.
fn tool_caller() -> ScriptedModel {
    ScriptedModel::respond(|req| {
        if req.turn() > 0 {
            let said = req
                .tool_results()
                .first()
                .map_or("", |m| m.content.as_str());
            return Ok(ScriptedReply::text(format!("tool said: {said}")));
        }
        Ok(match req.last_user_message() {
            "pid" => ScriptedReply::tool_call("dotted_name", json!({})),
            "crash" => ScriptedReply::tool_call("crash", json!({})),
            "slow" => ScriptedReply::tool_call("slow", json!({"seconds": 30})),
            "fail" => ScriptedReply::tool_call("fail", json!({"message": "boom"})),
            "add" => ScriptedReply::tool_call("add", json!({"a": 2, "b": 3})),
            other => ScriptedReply::text(format!("no tool for {other}")),
        })
    })
}

/// The one tool execution of a run.
fn execution(run: &Value) -> &Value {
    let tools = executions(run);
    assert_eq!(tools.len(), 1, "{run}");
    &tools[0]
}

/// The process id `dotted_name` reports, once a run of `pid` succeeds (up to `limit`).
async fn pid_when_up(app: &TestApp, agent: &str, limit: Duration) -> Option<String> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        let (_, run) = run_agent(app, agent, "pid").await;
        let tool = &executions(&run)[0];
        if tool["tool_call_error"] == false {
            return tool["result"]
                .as_str()
                .and_then(|s| s.split(' ').nth(1))
                .map(str::to_owned);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// Whether the process `pid` is gone (or a zombie awaiting its parent).
fn process_gone(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stdio_server_killed_mid_run_is_restarted_and_the_run_goes_on() {
    let Some(python) = python("a_stdio_server_killed_mid_run").await else {
        return;
    };
    let agent = Agent::new("Fragile")
        .model(tool_caller())
        .toolkit(stdio_tools(&python).name("tools"));
    let mut app = serve([agent]).await;
    let first = pid_when_up(&app, "fragile", Duration::from_secs(5))
        .await
        .expect("the server answers");

    // The server exits in the middle of the call: the model is told so, and answers; the
    // stream ends with the run's last event, not silently.
    let events = run_agent_sse(&app, "fragile", "crash").await;
    let error = events
        .iter()
        .find(|(n, _)| n == "ToolCallError")
        .unwrap_or_else(|| panic!("no ToolCallError in {events:?}"));
    let message = error.1["error"].as_str().unwrap();
    assert!(message.contains("\"tools\""), "{message}");
    assert!(message.contains("closed during the call"), "{message}");
    let (last, data) = events.last().unwrap();
    assert_eq!(last, "RunCompleted", "{events:?}");
    assert!(
        data["content"]
            .as_str()
            .unwrap()
            .starts_with("tool said: the connection")
    );

    // The run is stored, the failed call in it.
    let run_id = data["run_id"].as_str().unwrap();
    let (status, stored) = app
        .get_json(&format!("/agents/fragile/runs/{run_id}"))
        .await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["status"], "COMPLETED");
    assert_eq!(execution(&stored)["tool_call_error"], true);

    // The server is started again, a new process, and its tools work.
    let second = pid_when_up(&app, "fragile", Duration::from_secs(20))
        .await
        .expect("the server was restarted");
    assert_ne!(first, second, "the same process answered");

    // Shutdown stops the server.
    tokio::time::timeout(Duration::from_secs(20), app.stop())
        .await
        .expect("shutdown finished");
    assert!(
        wait_until(Duration::from_secs(5), || async { process_gone(&second) }).await,
        "the MCP server {second} outlived agentos"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_http_server_killed_mid_call_then_restarted_serves_again() {
    let Some(python) = python("an_http_server_killed_mid_call").await else {
        return;
    };
    let port = free_port();
    let mut server = HttpServer::start(&python, port).await;
    let tools = McpTools::streamable_http(server.url())
        .name("remote")
        .reconnect_backoff(Duration::from_millis(50), Duration::from_millis(300));
    let agent = Agent::new("Remote").model(tool_caller()).toolkit(tools);
    let app = serve([agent]).await;
    assert!(
        pid_when_up(&app, "remote", Duration::from_secs(5))
            .await
            .is_some()
    );

    let (status, run) = run_agent(&app, "remote", "crash").await;
    assert_eq!(status, 200, "{run}");
    assert_eq!(run["status"], "COMPLETED", "{run}");
    let tool = execution(&run);
    assert_eq!(tool["tool_call_error"], true, "{run}");
    let message = tool["result"].as_str().unwrap();
    assert!(message.contains("MCP server \"remote\""), "{message}");
    assert!(
        server.wait_exit(Duration::from_secs(5)).await,
        "the server did not die"
    );

    // While it is down, calls say so.
    let (_, run) = run_agent(&app, "remote", "pid").await;
    let tool = execution(&run);
    assert_eq!(tool["tool_call_error"], true, "{run}");
    assert!(
        tool["result"]
            .as_str()
            .unwrap()
            .contains("MCP server \"remote\""),
        "{run}"
    );

    // Back on the same port: reconnected, and the tools work again.
    let _server = HttpServer::start(&python, port).await;
    assert!(
        pid_when_up(&app, "remote", Duration::from_secs(20))
            .await
            .is_some(),
        "not reconnected"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_slower_than_the_timeout_is_cancelled_and_the_run_goes_on() {
    let Some(python) = python("a_call_slower_than_the_timeout").await else {
        return;
    };
    let tools = stdio_tools(&python)
        .name("tools")
        .timeout(Duration::from_millis(500));
    let agent = Agent::new("Patient").model(tool_caller()).toolkit(tools);
    let app = serve([agent]).await;
    let before = pid_when_up(&app, "patient", Duration::from_secs(5)).await;

    let started = Instant::now();
    let (status, run) = run_agent(&app, "patient", "slow").await;
    assert_eq!(status, 200, "{run}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the run waited for the slow tool: {:?}",
        started.elapsed()
    );
    assert_eq!(run["status"], "COMPLETED", "{run}");
    let tool = execution(&run);
    assert_eq!(tool["tool_call_error"], true);
    assert_eq!(
        tool["result"],
        "the MCP server \"tools\" did not answer within 500ms; the call was cancelled"
    );
    assert_eq!(
        run["content"],
        "tool said: the MCP server \"tools\" did not answer within 500ms; the call was cancelled"
    );
    // The connection is still good: the same process answers at once.
    let (_, run) = run_agent(&app, "patient", "pid").await;
    assert_eq!(execution(&run)["tool_call_error"], false, "{run}");
    let after = execution(&run)["result"]
        .as_str()
        .unwrap()
        .split(' ')
        .nth(1)
        .map(str::to_owned);
    assert_eq!(before, after);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tool_error_goes_back_to_the_model() {
    let Some(python) = python("a_tool_error_goes_back_to_the_model").await else {
        return;
    };
    let agent = Agent::new("Failing")
        .model(tool_caller())
        .toolkit(stdio_tools(&python));
    let app = serve([agent]).await;
    let events = run_agent_sse(&app, "failing", "fail").await;
    let (_, error) = events
        .iter()
        .find(|(n, _)| n == "ToolCallError")
        .unwrap_or_else(|| panic!("no ToolCallError in {events:?}"));
    assert_eq!(error["error"], "Error executing tool fail: boom");
    assert_eq!(error["tool"]["tool_name"], "fail");
    let (last, data) = events.last().unwrap();
    assert_eq!(last, "RunCompleted");
    assert_eq!(
        data["content"],
        "tool said: Error executing tool fail: boom"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn servers_down_at_startup_do_not_stop_the_os_and_their_tools_appear_when_up() {
    let Some(python) = python("servers_down_at_startup").await else {
        return;
    };
    let port = free_port();
    let ghost =
        McpTools::stdio("/nonexistent/agentos-mcp-server", Vec::<String>::new()).name("ghost");
    let late = McpTools::streamable_http(format!("http://127.0.0.1:{port}/mcp"))
        .name("late")
        .reconnect_backoff(Duration::from_millis(50), Duration::from_millis(300));
    let agent = Agent::new("Hopeful")
        .model(tool_caller())
        .toolkit(ghost)
        .toolkit(late);
    let started = Instant::now();
    let app = serve([agent]).await;
    let (status, _) = app.get_json("/health").await;
    assert_eq!(status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "startup waited for servers that are down: {:?}",
        started.elapsed()
    );

    // The model calls a tool no server offers yet: it is told why.
    let (status, run) = run_agent(&app, "hopeful", "add").await;
    assert_eq!(status, 200, "{run}");
    assert_eq!(run["status"], "COMPLETED", "{run}");
    let message = execution(&run)["result"].as_str().unwrap().to_owned();
    assert!(message.starts_with("tool add not found; "), "{message}");
    assert!(
        message.contains("the MCP server \"ghost\" is not connected (cannot start"),
        "{message}"
    );
    assert!(
        message.contains("the MCP server \"late\" is not connected"),
        "{message}"
    );

    // The HTTP server comes up: its tools appear, and work.
    let _server = HttpServer::start(&python, port).await;
    assert!(
        wait_for_tool(&app, "hopeful", "add", Duration::from_secs(20)).await,
        "the late server's tools never appeared"
    );
    let (_, run) = run_agent(&app, "hopeful", "add").await;
    assert_eq!(execution(&run)["result"], "5", "{run}");
    assert_eq!(run["content"], "tool said: 5");
}
