//! Tracing and metrics as a user sees them: agno's `/traces` and `/metrics` after real runs,
//! spans received by an OTLP receiver built on the OpenTelemetry project's own protobuf types,
//! the Prometheus exposition checked by Prometheus's own `promtool`, and a collector that is
//! down changing nothing for a run.

use crate::helpers::{HookLog, fast_retries, seed_workflow, sleeping_hook, spawn_with};
use crate::mock_openai::MockOpenAi;
use agentos::{Agent, AgentOs, OpenAIChat, tool_fn};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::python;

#[derive(Debug, Deserialize, JsonSchema)]
struct AddArgs {
    a: f64,
    b: f64,
}

/// An agent `calc` with the tool `add`, on the mock.
fn calculator(mock: &MockOpenAi) -> Agent {
    let model = OpenAIChat::new("gpt-5.2")
        .base_url(mock.base_url())
        .api_key("test-key")
        .timeout(Duration::from_secs(5))
        .retry_policy(fast_retries());
    Agent::new("Calc")
        .with_id("calc")
        .model(model)
        .instructions("Add numbers with the add tool.")
        .tool(tool_fn(
            "add",
            "Add two numbers.",
            |a: AddArgs| async move { Ok::<_, String>(a.a + a.b) },
        ))
}

/// Runs `calc` once, the model calling `add` first; returns the run's JSON.
async fn run_calc(app: &crate::helpers::TestApp, traceparent: Option<&str>) -> Value {
    app.mock
        .push_tool_calls(&[("add", json!({"a": 2, "b": 3}))]);
    app.mock.push_reply("The sum is 5.");
    let form = reqwest::multipart::Form::new()
        .text("message", "What is 2 + 3?")
        .text("stream", "false")
        .text("user_id", "ada");
    let mut req = app
        .client
        .post(app.url("/agents/calc/runs"))
        .multipart(form);
    if let Some(tp) = traceparent {
        req = req.header("traceparent", tp);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// Polls `GET path` until `ready` holds for its JSON (the spans are written in batches).
async fn wait_json(
    app: &crate::helpers::TestApp,
    path: &str,
    ready: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = app.get_json(path).await;
        if status == 200 && ready(&body) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{path} never became ready: {body}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn traced(mock: &Arc<MockOpenAi>) -> AgentOs {
    AgentOs::new()
        .agent(calculator(mock))
        .tracing(true)
        .without_otlp()
        .trace_export_interval(Duration::from_millis(20))
}

/// The node of `tree` (depth first) whose `type` is `kind`.
fn nodes<'a>(tree: &'a Value, kind: &str, out: &mut Vec<&'a Value>) {
    for node in tree.as_array().into_iter().flatten() {
        if node["type"] == kind {
            out.push(node);
        }
        nodes(&node["spans"], kind, out);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_is_a_trace_in_agnos_traces_api() {
    let mock = Arc::new(MockOpenAi::start().await);
    let app = spawn_with(traced(&mock), mock, HookLog::default()).await;
    let run = run_calc(&app, None).await;
    let run_id = run["run_id"].as_str().unwrap();

    let list = wait_json(&app, &format!("/traces?run_id={run_id}"), |b| {
        b["data"].as_array().is_some_and(|d| d.len() == 1)
    })
    .await;
    let summary = &list["data"][0];
    assert_eq!(summary["name"], "invoke_agent Calc");
    assert_eq!(summary["status"], "OK");
    assert_eq!(summary["agent_id"], "calc");
    assert_eq!(summary["user_id"], "ada");
    assert_eq!(summary["input"], "What is 2 + 3?");
    assert_eq!(summary["session_id"], run["session_id"]);
    assert_eq!(list["meta"]["total_count"], 1);

    // The tree: the run, its two model calls and the tool call between them.
    let trace_id = summary["trace_id"].as_str().unwrap();
    let detail = wait_json(&app, &format!("/traces/{trace_id}"), |b| {
        let mut llm = Vec::new();
        nodes(&b["tree"], "LLM", &mut llm);
        llm.len() == 2
    })
    .await;
    assert_eq!(detail["output"], "The sum is 5.");
    assert_eq!(detail["tree"].as_array().unwrap().len(), 1);
    let root = &detail["tree"][0];
    assert_eq!(root["type"], "AGENT");
    assert!(root["metadata"]["total_input_tokens"].as_i64().unwrap() > 0);
    let (mut llm, mut tools) = (Vec::new(), Vec::new());
    nodes(&detail["tree"], "LLM", &mut llm);
    nodes(&detail["tree"], "TOOL", &mut tools);
    assert_eq!(llm[0]["name"], "chat gpt-5.2");
    assert_eq!(llm[0]["metadata"]["model"], "gpt-5.2");
    assert!(llm[0]["metadata"]["input_tokens"].as_i64().unwrap() > 0);
    assert_eq!(tools.len(), 1);
    assert_eq!(tools[0]["name"], "execute_tool add");
    assert_eq!(tools[0]["output"], "5.0");
    assert_eq!(tools[0]["metadata"]["tool_name"], "add");

    // One span alone.
    let span_id = tools[0]["id"].as_str().unwrap();
    let (status, node) = app
        .get_json(&format!("/traces/{trace_id}?span_id={span_id}"))
        .await;
    assert_eq!((status, &node["name"]), (200, &json!("execute_tool add")));
    let (status, body) = app
        .get_json("/traces/00000000000000000000000000000001")
        .await;
    assert_eq!((status, &body["detail"]), (404, &json!("Trace not found")));

    // Sessions, and the search DSL.
    let stats = wait_json(&app, "/trace_session_stats?user_id=ada", |b| {
        b["data"].as_array().is_some_and(|d| !d.is_empty())
    })
    .await;
    assert_eq!(stats["data"][0]["session_id"], run["session_id"]);
    assert_eq!(stats["data"][0]["total_traces"], 1);
    let search = |filter: Value| {
        let app = &app;
        async move {
            let res = app
                .client
                .post(app.url("/traces/search"))
                .json(&json!({"filter": filter, "page": 1, "limit": 10}))
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        }
    };
    let (status, found) = search(json!({"op": "AND", "conditions": [
        {"op": "EQ", "key": "status", "value": "OK"},
        {"op": "CONTAINS", "key": "name", "value": "CALC"},
    ]}))
    .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["data"][0]["trace_id"], trace_id);
    assert!(found["data"][0]["tree"].is_array());
    let (_, none) =
        search(json!({"op": "NOT", "condition": {"op": "EQ", "key": "agent_id", "value": "calc"}}))
            .await;
    assert_eq!(none["meta"]["total_count"], 0);
    let (status, bad) = search(json!({"op": "LIKE", "key": "name", "value": "x"})).await;
    assert_eq!(status, 400);
    assert_eq!(
        bad["detail"],
        "Invalid filter expression: Unknown filter operator: LIKE"
    );
    let (status, bad) = search(json!({"op": "EQ", "key": "colour", "value": "x"})).await;
    assert_eq!(
        (status, &bad["detail"]),
        (
            400,
            &json!("Invalid filter expression: Unknown filter field \"colour\"")
        )
    );

    let (status, bad) = app.get_json("/traces?start_time=yesterday").await;
    assert_eq!(status, 400);
    assert!(
        bad["detail"]
            .as_str()
            .unwrap()
            .starts_with("Invalid start_time format")
    );
    let (status, _) = app.get_json("/traces?limit=0").await;
    assert_eq!(status, 422);
    let (status, schema) = app.get_json("/traces/filter-schema").await;
    assert_eq!(status, 200);
    assert_eq!(schema["logical_operators"], json!(["AND", "OR"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_callers_traceparent_and_the_runs_hook_jobs_share_the_trace() {
    let mock = Arc::new(MockOpenAi::start().await);
    let hooks = HookLog::default();
    let os = AgentOs::new()
        .workflow(seed_workflow(
            &mock.base_url(),
            &[sleeping_hook(&hooks, Duration::from_millis(10))],
        ))
        .run_hooks_in_background(true)
        .tracing(true)
        .without_otlp()
        .trace_export_interval(Duration::from_millis(20));
    let app = spawn_with(os, mock, hooks).await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let form = reqwest::multipart::Form::new()
        .text("message", "Explain tracing")
        .text("stream", "false");
    let res = app
        .client
        .post(app.url("/workflows/analysis-workflow/runs"))
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let detail = wait_json(&app, &format!("/traces/{trace_id}"), |b| {
        let mut jobs = Vec::new();
        nodes(&b["tree"], "JOB", &mut jobs);
        jobs.len() == 2
    })
    .await;
    assert_eq!(detail["workflow_id"], "analysis-workflow", "{detail}");
    let root = &detail["tree"][0];
    assert_eq!(root["type"], "WORKFLOW");
    let children: Vec<&str> = root["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    // The steps, then the two hook attempts, children of the run even though they ran after it.
    assert!(children.contains(&"invoke_agent Analyzer"), "{children:?}");
    assert!(
        children.contains(&"invoke_agent Summarizer"),
        "{children:?}"
    );
    let mut jobs = Vec::new();
    nodes(&detail["tree"], "JOB", &mut jobs);
    assert!(
        jobs.iter()
            .all(|j| j["name"].as_str().unwrap().starts_with("hook "))
    );
    assert!(jobs.iter().all(|j| j["status"] == "OK"));
}

#[tokio::test(flavor = "multi_thread")]
async fn with_tracing_off_nothing_is_stored_and_traces_stay_with_their_os() {
    // Two servers in one process: one traced, one not.
    let mock = Arc::new(MockOpenAi::start().await);
    let quiet = spawn_with(
        AgentOs::new().agent(calculator(&mock)).without_otlp(),
        mock.clone(),
        HookLog::default(),
    )
    .await;
    let traced_mock = Arc::new(MockOpenAi::start().await);
    let traced = spawn_with(traced(&traced_mock), traced_mock, HookLog::default()).await;
    let untraced_run = run_calc(&quiet, None).await;
    let traced_run = run_calc(&traced, None).await;
    // Once the traced server has written its run's trace, the other run's spans, ended
    // earlier, would have been written too had they gone anywhere.
    let path = format!("/traces?run_id={}", traced_run["run_id"].as_str().unwrap());
    wait_json(&traced, &path, |b| {
        b["data"].as_array().is_some_and(|d| d.len() == 1)
    })
    .await;
    let (_, all) = traced.get_json("/traces").await;
    assert_eq!(all["meta"]["total_count"], 1, "only its own run: {all}");
    let (status, list) = quiet.get_json("/traces").await;
    assert_eq!(status, 200);
    assert_eq!(list["data"], json!([]), "{untraced_run}");
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_metrics_count_runs_sessions_users_and_tokens() {
    let mock = Arc::new(MockOpenAi::start().await);
    let app = spawn_with(traced(&mock), mock, HookLog::default()).await;
    let run = run_calc(&app, None).await;
    run_calc(&app, None).await;
    let res = app
        .client
        .post(app.url("/metrics/refresh"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let days: Value = res.json().await.unwrap();
    let today = &days[0];
    assert_eq!(today["agent_runs_count"], 2);
    assert_eq!(today["agent_sessions_count"], 2);
    assert_eq!(today["users_count"], 1);
    let input = run["metrics"]["input_tokens"].as_i64().unwrap();
    assert!(today["token_metrics"]["input_tokens"].as_i64().unwrap() >= 2 * input.min(1));
    assert_eq!(today["model_metrics"][0]["model_id"], "gpt-5.2");
    assert!(today["id"].as_str().unwrap().ends_with("_daily"));

    let (status, metrics) = app.get_json("/metrics").await;
    assert_eq!(status, 200);
    assert_eq!(metrics["metrics"][0]["agent_runs_count"], 2);
    assert!(metrics["updated_at"].is_string());
    let (status, state) = app.get_json("/metrics/refresh/status").await;
    assert_eq!((status, &state["status"]), (200, &json!("completed")));
    let (status, _) = app.get_json("/metrics?starting_date=last-week").await;
    assert_eq!(status, 422);

    let res = app
        .client
        .post(app.url("/metrics/refresh?background=true"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let (_, config) = app.get_json("/config").await;
    assert_eq!(
        config["metrics"]["dbs"][0]["tables"],
        json!(["usage_metrics"])
    );
    assert!(config["traces"]["dbs"][0]["db_id"].is_string());
}

/// `promtool`, Prometheus's own checker, if installed (`.ci/run` installs Debian's
/// `prometheus`); `None` skips locally and fails under CI.
fn promtool() -> Option<&'static str> {
    let found = std::process::Command::new("promtool")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some("promtool");
    }
    assert!(
        std::env::var("CI").is_err(),
        "promtool is missing (Debian package prometheus); .ci/run installs it"
    );
    eprintln!("skipping the promtool check: promtool is not installed");
    None
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_exposition_counts_runs_and_passes_promtool() {
    let mock = Arc::new(MockOpenAi::start().await);
    let hooks = HookLog::default();
    let os = AgentOs::new()
        .agent(calculator(&mock))
        .workflow(seed_workflow(
            &mock.base_url(),
            &[sleeping_hook(&hooks, Duration::from_millis(5))],
        ))
        .run_hooks_in_background(true)
        .without_otlp()
        .prometheus_path("/internal/metrics");
    let app = spawn_with(os, mock, hooks).await;
    run_calc(&app, None).await;
    let (status, _) = app.run_json(&[("message", "Explain metrics")]).await;
    assert_eq!(status, 200);
    let res = app
        .client
        .get(app.url("/internal/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = res.text().await.unwrap();
    for line in [
        "agentos_runs_started_total{kind=\"agent\",component=\"calc\"} 1",
        "agentos_runs_finished_total{kind=\"agent\",component=\"calc\",status=\"COMPLETED\"} 1",
        "agentos_runs_started_total{kind=\"workflow\",component=\"analysis-workflow\"} 1",
        "agentos_http_requests_total{method=\"POST\",route=\"/agents/{agent_id}/runs\",status=\"200\"} 1",
        "agentos_run_duration_seconds_count{kind=\"agent\",component=\"calc\",status=\"COMPLETED\"} 1",
        "agentos_model_call_duration_seconds_count{model=\"gpt-5.2\",provider=\"OpenAI\"} 4",
        "agentos_runs_in_flight 0",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    assert!(text.contains(
        "agentos_model_tokens_total{model=\"gpt-5.2\",provider=\"OpenAI\",type=\"input\"}"
    ));
    assert!(text.contains(
        "agentos_store_write_duration_seconds_bucket{backend=\"sqlite\",operation=\"finish_run\""
    ));
    assert!(text.contains("agentos_jobs{kind=\"hook\""));
    // agno's `/metrics` is still agno's.
    let (status, usage) = app.get_json("/metrics").await;
    assert_eq!(status, 200);
    assert!(usage["metrics"].is_array());

    let Some(promtool) = promtool() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("exposition.txt");
    std::fs::write(&file, &text).unwrap();
    let out = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&file).unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Starts `tests/compat/otlp_receiver.py`; its base URL.
async fn otlp_receiver(python: &std::path::Path) -> (tokio::process::Child, String) {
    use tokio::io::AsyncBufReadExt;
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compat/otlp_receiver.py");
    let mut child = tokio::process::Command::new(python)
        .arg(script)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    tokio::io::BufReader::new(stdout)
        .read_line(&mut line)
        .await
        .unwrap();
    (child, format!("http://127.0.0.1:{}", line.trim()))
}

#[tokio::test(flavor = "multi_thread")]
async fn an_otlp_receiver_gets_the_runs_spans_with_parents_and_gen_ai_attributes() {
    let Some(python) = python::python_or_skip("an_otlp_receiver_gets_the_runs_spans").await else {
        return;
    };
    let (_receiver, url) = otlp_receiver(&python).await;
    let mock = Arc::new(MockOpenAi::start().await);
    let os = AgentOs::new()
        .agent(calculator(&mock))
        .otlp_endpoint(format!("{url}/v1/traces"))
        .trace_export_interval(Duration::from_millis(20));
    let app = spawn_with(os, mock, HookLog::default()).await;
    let caller = "0af7651916cd43dd8448eb211c80319c";
    run_calc(&app, Some(&format!("00-{caller}-b7ad6b7169203331-01"))).await;

    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let spans: Vec<Value> = loop {
        let spans: Vec<Value> = client
            .get(format!("{url}/spans"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if spans.iter().any(|s| s["name"] == "invoke_agent Calc")
            && spans
                .iter()
                .any(|s| s["attributes"]["http.route"] == "/agents/{agent_id}/runs")
        {
            break spans;
        }
        assert!(Instant::now() < deadline, "spans never arrived: {spans:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    let find = |name: &str| -> Vec<&Value> { spans.iter().filter(|s| s["name"] == name).collect() };
    let http = find("POST /agents/{agent_id}/runs")[0];
    let run = find("invoke_agent Calc")[0];
    let chats = find("chat gpt-5.2");
    let tool = find("execute_tool add")[0];
    // One trace, the caller's; the request under the caller's span, the run under the request,
    // the model and tool calls under the run.
    for s in [http, run, chats[0], chats[1], tool] {
        assert_eq!(s["trace_id"], caller);
        assert_eq!(s["service"], "agentos");
    }
    assert_eq!(http["parent_span_id"], "b7ad6b7169203331");
    assert_eq!(http["kind"], 2, "SPAN_KIND_SERVER");
    assert_eq!(http["attributes"]["http.response.status_code"], 200);
    assert_eq!(run["parent_span_id"], http["span_id"]);
    assert_eq!(chats.len(), 2);
    for chat in &chats {
        assert_eq!(chat["parent_span_id"], run["span_id"]);
        assert_eq!(chat["kind"], 3, "SPAN_KIND_CLIENT");
        assert_eq!(chat["attributes"]["gen_ai.operation.name"], "chat");
        assert_eq!(chat["attributes"]["gen_ai.provider.name"], "openai");
        assert_eq!(chat["attributes"]["gen_ai.request.model"], "gpt-5.2");
        assert!(
            chat["attributes"]["gen_ai.usage.input_tokens"]
                .as_i64()
                .unwrap()
                > 0
        );
    }
    assert_eq!(
        chats[0]["attributes"]["gen_ai.response.finish_reasons"],
        "tool_calls"
    );
    assert_eq!(tool["parent_span_id"], run["span_id"]);
    assert_eq!(tool["attributes"]["gen_ai.operation.name"], "execute_tool");
    assert_eq!(tool["attributes"]["gen_ai.tool.name"], "add");
    assert_eq!(tool["attributes"]["gen_ai.tool.call.id"], "call_1");
    assert_eq!(run["attributes"]["gen_ai.operation.name"], "invoke_agent");
    assert_eq!(run["attributes"]["gen_ai.agent.id"], "calc");
    assert_eq!(run["attributes"]["gen_ai.agent.name"], "Calc");
    assert_eq!(run["status"], 1, "STATUS_CODE_OK");
    // Store writes are spans of the run too.
    assert!(
        spans
            .iter()
            .any(|s| s["attributes"]["db.operation.name"] == "finish_run"
                && s["parent_span_id"] == run["span_id"]),
        "{spans:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_collector_that_is_down_fails_no_run_and_holds_none_back() {
    // A port nothing listens on: every export fails at once.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1/traces", closed.local_addr().unwrap());
    drop(closed);
    let mock = Arc::new(MockOpenAi::start().await);
    let os = AgentOs::new()
        .agent(calculator(&mock))
        .otlp_endpoint(url)
        .prometheus(true)
        .trace_export_interval(Duration::from_millis(20));
    let app = spawn_with(os, mock, HookLog::default()).await;
    for _ in 0..3 {
        let run = run_calc(&app, None).await;
        assert_eq!(run["status"], "COMPLETED");
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = app
            .client
            .get(app.url("/metrics/prometheus"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let failed = text
            .lines()
            .find_map(|l| l.strip_prefix("agentos_spans_export_failed_total "))
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
        if failed > 0 {
            assert!(text.contains("agentos_spans_exported_total 0"), "{text}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no failed export counted:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_retried_after_a_restart_joins_its_runs_trace() {
    use agentos::{Hook, HookContext, HookError};
    // The first attempt outlives the server; the next one, in the restarted server, succeeds.
    let hook = Hook::new("outlives_the_server", |ctx: HookContext| async move {
        if ctx.job.as_ref().is_some_and(|j| j.attempt == 1) {
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
        Ok::<(), HookError>(())
    });
    let os_for = |mock: &Arc<MockOpenAi>| {
        AgentOs::new()
            .workflow(seed_workflow(&mock.base_url(), std::slice::from_ref(&hook)))
            .run_hooks_in_background(true)
            .hook_retries(3, Duration::from_millis(10))
            .hook_poll_interval(Duration::from_millis(20))
            .shutdown_timeout(Duration::from_millis(200))
            .tracing(true)
            .without_otlp()
            .trace_export_interval(Duration::from_millis(20))
    };
    let mock = Arc::new(MockOpenAi::start().await);
    let mut app = spawn_with(os_for(&mock), mock.clone(), HookLog::default()).await;
    let (status, run) = app.run_json(&[("message", "Explain")]).await;
    assert_eq!(status, 200);
    let run_id = run["run_id"].as_str().unwrap();
    let list = wait_json(&app, &format!("/traces?run_id={run_id}"), |b| {
        b["data"].as_array().is_some_and(|d| d.len() == 1)
    })
    .await;
    let trace_id = list["data"][0]["trace_id"].as_str().unwrap().to_owned();
    app.stop().await;

    let app = crate::helpers::restart_on(&app, os_for(&mock)).await;
    let detail = wait_json(&app, &format!("/traces/{trace_id}"), |b| {
        let mut jobs = Vec::new();
        nodes(&b["tree"], "JOB", &mut jobs);
        jobs.iter()
            .filter(|j| j["metadata"]["attempt"] == 2 && j["status"] == "OK")
            .count()
            == 2
    })
    .await;
    // The retried attempts hang under the run's span, stored by the previous process.
    let root = &detail["tree"][0];
    assert_eq!(root["type"], "WORKFLOW");
    assert_eq!(detail["run_id"], run_id);
    let retried: Vec<&Value> = root["spans"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["type"] == "JOB" && n["metadata"]["attempt"] == 2)
        .collect();
    assert_eq!(retried.len(), 2, "{detail}");
}
