//! Agents using the tools of a real MCP server (the official Python SDK's, in
//! `tests/compat/mcp_tool_server.py`), over stdio and streamable HTTP.

use crate::helpers::{HookLog, fast_retries, spawn_with};
use crate::mock_openai::MockOpenAi;
use crate::support::*;
use agentos::{Agent, AgentOs, McpTools, OpenAIChat, ScriptedModel, ScriptedReply, tool_fn};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_calls_a_stdio_servers_tools_offered_with_their_schemas() {
    let Some(python) = python("an_agent_calls_a_stdio_servers_tools").await else {
        return;
    };
    let mock = Arc::new(MockOpenAi::start().await);
    mock.push_tool_calls(&[
        ("add", json!({"a": 2, "b": 3})),
        ("whoami", json!({})),
        ("dotted_name", json!({})),
    ]);
    let model = OpenAIChat::new("gpt-5.2")
        .base_url(mock.base_url())
        .api_key("test-key")
        .retry_policy(fast_retries());
    let agent = Agent::new("Calculator")
        .model(model)
        .toolkit(stdio_tools(&python).env("GREETING", "hello"));
    let app = spawn_with(
        AgentOs::new().agent(agent),
        mock.clone(),
        HookLog::default(),
    )
    .await;

    let (status, run) = run_agent(&app, "calculator", "What is 2 + 3?").await;
    assert_eq!(status, 200, "{run}");
    assert_eq!(run["status"], "COMPLETED", "{run}");

    // The model was offered the server's tools with the server's own JSON schemas; a name
    // OpenAI would refuse (`dotted.name`) is offered as `dotted_name`.
    let requests = mock.requests();
    let offered = requests[0]["tools"].as_array().unwrap();
    let add = offered
        .iter()
        .find(|t| t["function"]["name"] == "add")
        .expect("add is offered");
    assert_eq!(add["function"]["description"], "Add two integers.");
    let params = &add["function"]["parameters"];
    assert_eq!(params["type"], "object");
    assert_eq!(params["properties"]["a"]["type"], "integer");
    assert_eq!(params["properties"]["b"]["type"], "integer");
    assert_eq!(params["required"], json!(["a", "b"]));
    let names: Vec<&str> = offered
        .iter()
        .filter_map(|t| t["function"]["name"].as_str())
        .collect();
    for name in [
        "echo",
        "slow",
        "fail",
        "crash",
        "whoami",
        "enable_extra",
        "dotted_name",
    ] {
        assert!(names.contains(&name), "{name} not offered: {names:?}");
    }

    // The results went back to the model, and the run recorded them.
    let results: Vec<&str> = requests[1]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(results[0], "5");
    // The server got the variable it was given, and none of ours.
    assert!(results[1].contains("greeting=hello"), "{}", results[1]);
    assert!(
        std::env::var("CARGO_MANIFEST_DIR").is_err() || results[1].contains("inherited=no"),
        "the server inherited agentos's environment: {}",
        results[1]
    );
    assert!(results[2].starts_with("pid "), "{}", results[2]);
    let tools = executions(&run);
    assert_eq!(tools.len(), 3);
    assert!(tools.iter().all(|t| t["tool_call_error"] == false), "{run}");
    assert_eq!(tools[0]["tool_name"], "add");
    assert_eq!(tools[0]["result"], "5");
    assert_eq!(run["content"], "reply to: What is 2 + 3?");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_servers_serve_one_agent_over_http_and_stdio_with_prefixes_and_headers() {
    let Some(python) = python("two_servers_serve_one_agent").await else {
        return;
    };
    let http = HttpServer::start(&python, free_port()).await;
    let remote = McpTools::streamable_http(http.url())
        .bearer_token("tok-123")
        .header("X-Tenant", "acme")
        .prefix("remote")
        .exclude_tools(["crash"]);
    let local = stdio_tools(&python).prefix("local").include_tools(["add"]);
    let model = ScriptedModel::script([
        ScriptedReply::tool_call("remote_whoami", json!({}))
            .and_tool_call("remote_echo", json!({"text": "hi"}))
            .and_tool_call("local_add", json!({"a": 40, "b": 2})),
        ScriptedReply::text("done"),
    ]);
    let agent = Agent::new("Both")
        .model(model)
        .toolkit(remote)
        .toolkit(local);
    let app = serve([agent]).await;

    // Each server's tools, under its prefix; the filters applied.
    let offered = offered_tools(&app, "both").await;
    assert!(offered.contains(&"remote_whoami".to_owned()), "{offered:?}");
    assert!(offered.contains(&"remote_add".to_owned()), "{offered:?}");
    assert!(!offered.contains(&"remote_crash".to_owned()), "{offered:?}");
    let local_tools: Vec<&String> = offered.iter().filter(|n| n.starts_with("local_")).collect();
    assert_eq!(local_tools, ["local_add"], "{offered:?}");

    // As events, like native tools: started, completed, no error, and the run's last event.
    let events = run_agent_sse(&app, "both", "Go").await;
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names.iter().filter(|n| **n == "ToolCallStarted").count(),
        3,
        "{names:?}"
    );
    assert_eq!(
        names.iter().filter(|n| **n == "ToolCallCompleted").count(),
        3,
        "{names:?}"
    );
    assert!(!names.contains(&"ToolCallError"), "{events:?}");
    assert_eq!(names.last(), Some(&"RunCompleted"), "{names:?}");
    let result = |tool: &str| -> String {
        events
            .iter()
            .find(|(n, d)| n == "ToolCallCompleted" && d["tool"]["tool_name"] == tool)
            .map(|(_, d)| d["tool"]["result"].as_str().unwrap().to_owned())
            .unwrap_or_else(|| panic!("no {tool} result in {events:?}"))
    };
    let whoami = result("remote_whoami");
    assert!(whoami.contains("authorization=Bearer tok-123"), "{whoami}");
    assert!(whoami.contains("tenant=acme"), "{whoami}");
    assert_eq!(result("remote_echo"), "echo: hi");
    assert_eq!(result("local_add"), "42");
}

#[derive(Deserialize, schemars::JsonSchema)]
struct AddArgs {
    a: i64,
    b: i64,
}

#[tokio::test(flavor = "multi_thread")]
async fn a_servers_tool_list_change_is_picked_up_and_native_tools_win_a_name() {
    let Some(python) = python("a_servers_tool_list_change_is_picked_up").await else {
        return;
    };
    let model = ScriptedModel::respond(|req| {
        Ok(match (req.last_user_message(), req.turn()) {
            ("enable", 0) => ScriptedReply::tool_call("enable_extra", json!({})),
            ("extra", 0) => ScriptedReply::tool_call("extra", json!({"word": "hi"})),
            ("add", 0) => ScriptedReply::tool_call("add", json!({"a": 1, "b": 1})),
            _ => ScriptedReply::text("ok"),
        })
    });
    let native = tool_fn("add", "Add, natively.", |args: AddArgs| async move {
        Ok::<_, String>(format!("native {}", args.a + args.b))
    });
    let agent = Agent::new("Growing")
        .model(model)
        .tool(native)
        .toolkit(stdio_tools(&python));
    let app = serve([agent]).await;

    assert!(
        !offered_tools(&app, "growing")
            .await
            .contains(&"extra".to_owned())
    );
    let (_, run) = run_agent(&app, "growing", "enable").await;
    assert_eq!(executions(&run)[0]["result"], "extra enabled", "{run}");
    // The server's notifications/tools/list_changed made agentos list the tools again.
    assert!(
        wait_for_tool(&app, "growing", "extra", Duration::from_secs(10)).await,
        "the new tool was not picked up: {:?}",
        offered_tools(&app, "growing").await
    );
    let (_, run) = run_agent(&app, "growing", "extra").await;
    assert_eq!(executions(&run)[0]["result"], "extra: hi", "{run}");
    assert_eq!(executions(&run)[0]["tool_call_error"], false, "{run}");

    // The server's `add` is shadowed by the agent's own.
    let (_, run) = run_agent(&app, "growing", "add").await;
    assert_eq!(executions(&run)[0]["result"], "native 2", "{run}");
    let offered = offered_tools(&app, "growing").await;
    assert_eq!(
        offered.iter().filter(|n| *n == "add").count(),
        1,
        "{offered:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_workflow_steps_agent_uses_mcp_tools() {
    let Some(python) = python("a_workflow_steps_agent_uses_mcp_tools").await else {
        return;
    };
    let calculator = Agent::new("Calculator")
        .model(ScriptedModel::script([
            ScriptedReply::tool_call("add", json!({"a": 20, "b": 22})),
            ScriptedReply::text("the sum is 42"),
        ]))
        .toolkit(stdio_tools(&python).include_tools(["add"]));
    let workflow = agentos::Workflow::new("sums").steps([calculator]);
    let app = spawn_with(
        AgentOs::new().workflow(workflow),
        Arc::new(MockOpenAi::start().await),
        HookLog::default(),
    )
    .await;
    let res = app
        .client
        .post(app.url("/workflows/sums/runs"))
        .form(&[("message", "20 + 22?"), ("stream", "false")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let run: serde_json::Value = res.json().await.unwrap();
    assert_eq!(run["status"], "COMPLETED", "{run}");
    assert_eq!(run["content"], "the sum is 42");
    let step = &run["step_executor_runs"][0];
    assert_eq!(step["tools"][0]["tool_name"], "add", "{run}");
    assert_eq!(step["tools"][0]["result"], "42", "{run}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_team_member_and_its_leader_use_mcp_tools() {
    let Some(python) = python("a_team_member_and_its_leader_use_mcp_tools").await else {
        return;
    };
    // The leader (scripted) delegates to the calculator, which calls the server's `add`
    // through the mock; the leader's own toolkit is offered beside its delegation tool.
    let mock = Arc::new(MockOpenAi::start().await);
    mock.push_tool_calls(&[("add", json!({"a": 20, "b": 22}))]);
    let model = OpenAIChat::new("gpt-5.2")
        .base_url(mock.base_url())
        .api_key("test-key")
        .retry_policy(fast_retries());
    let calculator = Agent::new("Calculator")
        .model(model)
        .toolkit(stdio_tools(&python));
    let leader = ScriptedModel::respond(|req| {
        let names: Vec<&str> = req.tools.iter().map(|t| t.name.as_str()).collect();
        Ok(match req.turn() {
            0 if names.contains(&"whoami") => ScriptedReply::delegate("calculator", "20 + 22"),
            0 => ScriptedReply::text(format!("the leader's toolkit is missing: {names:?}")),
            _ => ScriptedReply::text(format!("Sum: {}", req.tool_results()[0].content)),
        })
    });
    let team = agentos::Team::new("Desk")
        .model(leader)
        .toolkit(stdio_tools(&python))
        .members([calculator]);
    let app = spawn_with(AgentOs::new().team(team), mock.clone(), HookLog::default()).await;
    let res = app
        .client
        .post(app.url("/teams/desk/runs"))
        .form(&[("message", "add"), ("stream", "false")])
        .send()
        .await
        .unwrap();
    let run: serde_json::Value = res.json().await.unwrap();
    assert_eq!(run["status"], "COMPLETED", "{run}");
    let member = &run["member_responses"][0];
    assert_eq!(member["tools"][0]["tool_name"], "add", "{member}");
    assert_eq!(member["tools"][0]["result"], "42");
    assert_eq!(
        run["content"],
        format!("Sum: {}", member["content"].as_str().unwrap())
    );
}
