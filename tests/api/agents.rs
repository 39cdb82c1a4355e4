//! Agents served on their own: `/agents`, agent runs (JSON, SSE), conversation history, runs
//! listed and polled, cancel (agents and workflows), background runs (202 + poll), resumable
//! streams with `event_index` and `/resume` (live, after the end, and from the database after
//! a restart), and `Idempotency-Key` on agent runs.

use crate::helpers::{
    HookLog, TestApp, WF, fast_retries, parse_sse, restart_on, seed_workflow, spawn_with,
};
use crate::mock_openai::MockOpenAi;
use agentos::{Agent, AgentOs, OpenAIChat};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

const AGENT: &str = "assistant";

fn assistant(model_url: &str) -> Agent {
    let model = OpenAIChat::new("gpt-5.2")
        .base_url(model_url)
        .api_key("test-key")
        .timeout(Duration::from_secs(60))
        .retry_policy(fast_retries());
    Agent::new("Assistant")
        .model(model)
        .instructions("You are a helpful assistant.")
}

fn os_for(mock: &MockOpenAi) -> AgentOs {
    AgentOs::new()
        .agent(assistant(&mock.base_url()))
        .workflow(seed_workflow(&mock.base_url(), &[]))
}

async fn spawn() -> TestApp {
    let mock = Arc::new(MockOpenAi::start().await);
    let os = os_for(&mock);
    spawn_with(os, mock, HookLog::default()).await
}

async fn post_form(app: &TestApp, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let form = fields
        .iter()
        .fold(reqwest::multipart::Form::new(), |f, (k, v)| {
            f.text(k.to_string(), v.to_string())
        });
    app.client
        .post(app.url(path))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

async fn agent_json(app: &TestApp, fields: &[(&str, &str)]) -> (u16, Value) {
    let mut all = vec![("stream", "false")];
    all.extend_from_slice(fields);
    let res = post_form(app, &format!("/agents/{AGENT}/runs"), &all).await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

/// Polls `path` until its `status` is terminal; returns the last body.
async fn poll_until_done(app: &TestApp, path: &str) -> Value {
    for _ in 0..500 {
        let (code, body) = app.get_json(path).await;
        assert_eq!(code, 200, "{body}");
        if ["COMPLETED", "ERROR", "CANCELLED"].contains(&body["status"].as_str().unwrap_or("")) {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{path} never reached a terminal status");
}

/// Reads an SSE response until `stop` says so (or the end); returns the events seen.
async fn read_events(
    res: reqwest::Response,
    mut stop: impl FnMut(&[(String, Value)]) -> bool,
) -> Vec<(String, Value)> {
    let mut res = res;
    let mut text = String::new();
    while let Some(chunk) = res.chunk().await.unwrap() {
        text.push_str(std::str::from_utf8(&chunk).unwrap());
        let complete = &text[..text.rfind("\n\n").map_or(0, |i| i + 2)];
        let events = parse_sse(complete);
        if stop(&events) {
            return events;
        }
    }
    parse_sse(&text)
}

#[tokio::test]
async fn agents_are_listed_with_their_db_and_model() {
    let app = spawn().await;
    let (code, agents) = app.get_json("/agents").await;
    assert_eq!(code, 200);
    let agents = agents.as_array().unwrap();
    assert_eq!(agents.len(), 1);
    let a = &agents[0];
    assert_eq!(a["id"], AGENT);
    assert_eq!(a["name"], "Assistant");
    assert!(a["db_id"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(a["model"]["model"], "gpt-5.2");
    assert_eq!(a["model"]["provider"], "OpenAI");

    let (code, one) = app.get_json(&format!("/agents/{AGENT}")).await;
    assert_eq!(code, 200);
    assert_eq!(one["id"], AGENT);
    let (code, missing) = app.get_json("/agents/nobody").await;
    assert_eq!(code, 404);
    assert_eq!(
        missing["detail"],
        "Agent not found: 'nobody'. Served agents: assistant"
    );

    let (_, config) = app.get_json("/config").await;
    assert_eq!(config["agents"][0]["id"], AGENT);
    assert_eq!(config["agents"][0]["db_id"], a["db_id"]);
    let (code, models) = app.get_json("/models").await;
    assert_eq!(code, 200);
    assert_eq!(
        models,
        serde_json::json!([{"id": "gpt-5.2", "provider": "OpenAI"}])
    );
}

#[tokio::test]
async fn a_non_streamed_agent_run_returns_its_run_output_and_is_stored() {
    let app = spawn().await;
    let (code, out) = agent_json(
        &app,
        &[("message", "hello"), ("session_id", ""), ("user_id", "u1")],
    )
    .await;
    assert_eq!(code, 200, "{out}");
    assert_eq!(out["status"], "COMPLETED");
    assert_eq!(out["agent_id"], AGENT);
    assert_eq!(out["agent_name"], "Assistant");
    assert_eq!(out["content"], "reply to: hello");
    assert_eq!(out["user_id"], "u1");
    assert_eq!(out["input"]["input_content"], "hello");
    let session = out["session_id"].as_str().unwrap();
    assert_eq!(
        session.len(),
        36,
        "an empty session_id starts a new session"
    );
    let roles: Vec<&str> = out["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "user", "assistant"]);

    let run_id = out["run_id"].as_str().unwrap();
    let (code, polled) = app
        .get_json(&format!(
            "/agents/{AGENT}/runs/{run_id}?session_id={session}"
        ))
        .await;
    assert_eq!(code, 200);
    assert_eq!(polled, out);
    let (code, listed) = app
        .get_json(&format!("/agents/{AGENT}/runs?session_id={session}"))
        .await;
    assert_eq!(code, 200);
    assert_eq!(listed[0]["run_id"], run_id);
    assert_eq!(listed[0]["run_input"], "hello");
    assert_eq!(listed[0]["content"], "reply to: hello");
    let (_, none) = app
        .get_json(&format!(
            "/agents/{AGENT}/runs?session_id={session}&status=ERROR"
        ))
        .await;
    assert_eq!(none, serde_json::json!([]));
    let (code, _) = app
        .get_json(&format!(
            "/agents/{AGENT}/runs?session_id={session}&status=DONE"
        ))
        .await;
    assert_eq!(code, 400);
}

#[tokio::test]
async fn a_streamed_agent_run_sends_deltas_then_the_full_content_once_stored() {
    let app = spawn().await;
    let res = post_form(
        &app,
        &format!("/agents/{AGENT}/runs"),
        &[("message", "stream me"), ("session_id", "")],
    )
    .await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let events = parse_sse(&res.text().await.unwrap());
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"RunStarted"));
    assert_eq!(names.last(), Some(&"RunCompleted"));
    for (name, data) in &events {
        assert_eq!(&data["event"], name, "the name is inside the JSON too");
    }
    let started = &events[0].1;
    let session = started["session_id"].as_str().unwrap();
    assert_eq!(session.len(), 36);
    let deltas: String = events
        .iter()
        .filter(|(n, _)| n == "RunContent")
        .map(|(_, d)| d["content"].as_str().unwrap())
        .collect();
    assert_eq!(deltas, "reply to: stream me");
    assert!(events.iter().filter(|(n, _)| n == "RunContent").count() > 1);
    let completed = &events.last().unwrap().1;
    assert_eq!(completed["content"], "reply to: stream me");
    // RunCompleted is sent once the run is stored: a poll right after sees it.
    let run_id = completed["run_id"].as_str().unwrap();
    let (_, polled) = app
        .get_json(&format!(
            "/agents/{AGENT}/runs/{run_id}?session_id={session}"
        ))
        .await;
    assert_eq!(polled["status"], "COMPLETED");
}

#[tokio::test]
async fn a_run_in_an_existing_session_sends_the_previous_turns() {
    let app = spawn().await;
    let (_, first) = agent_json(&app, &[("message", "my name is Ada")]).await;
    let session = first["session_id"].as_str().unwrap().to_owned();
    let (_, second) = agent_json(
        &app,
        &[("message", "what is my name?"), ("session_id", &session)],
    )
    .await;
    assert_eq!(second["status"], "COMPLETED");
    assert_eq!(second["session_id"], session);
    let requests = app.mock.requests();
    let last = requests.last().unwrap();
    let sent: Vec<(String, String)> = last["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["role"].as_str().unwrap().to_owned(),
                m["content"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("system", "You are a helpful assistant."),
        ("user", "my name is Ada"),
        ("assistant", "reply to: my name is Ada"),
        ("user", "what is my name?"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(r, c)| (r.to_string(), c.to_string()))
        .collect();
    assert_eq!(sent, expected);
    // The stored run keeps its own turn only.
    assert_eq!(second["messages"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn bad_agent_requests_get_clear_errors() {
    let app = spawn().await;
    let res = post_form(&app, "/agents/nobody/runs", &[("message", "hi")]).await;
    assert_eq!(res.status(), 404);
    assert_eq!(
        res.json::<Value>().await.unwrap()["detail"],
        "Agent not found: 'nobody'. Served agents: assistant"
    );
    let res = post_form(
        &app,
        &format!("/agents/{AGENT}/runs"),
        &[("stream", "false")],
    )
    .await;
    assert_eq!(res.status(), 422);
    let res = app
        .client
        .post(app.url(&format!("/agents/{AGENT}/runs")))
        .json(&serde_json::json!({"message": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    let (code, _) = app.get_json(&format!("/agents/{AGENT}/runs")).await;
    assert_eq!(code, 422, "session_id is required to list runs");
    let (code, body) = app
        .get_json(&format!("/agents/{AGENT}/runs?session_id=nope"))
        .await;
    assert_eq!(code, 404);
    assert_eq!(body["detail"], "Session not found");
    let (code, body) = app.get_json(&format!("/agents/{AGENT}/runs/nope")).await;
    assert_eq!(code, 404);
    assert_eq!(body["detail"], "Run not found");
    // A workflow session cannot be continued by the agent.
    let (_, wf_run) = app.run_json(&[("message", "x")]).await;
    let wf_session = wf_run["session_id"].as_str().unwrap();
    let (code, _) = agent_json(&app, &[("message", "hi"), ("session_id", wf_session)]).await;
    assert_eq!(code, 409);
    // Cancel: `{}` for any run of a known agent, 404 for an unknown agent.
    let res = app
        .client
        .post(app.url(&format!("/agents/{AGENT}/runs/nope/cancel")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap(), serde_json::json!({}));
    let res = app
        .client
        .post(app.url("/agents/nobody/runs/nope/cancel"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = post_form(
        &app,
        &format!("/agents/{AGENT}/runs/nope/resume"),
        &[("last_event_index", "x")],
    )
    .await;
    assert_eq!(res.status(), 422);
}

#[tokio::test]
async fn cancelling_a_streamed_agent_run_stops_it_and_stores_cancelled() {
    let app = spawn().await;
    app.mock.set_delay(Duration::from_secs(30));
    let res = post_form(
        &app,
        &format!("/agents/{AGENT}/runs"),
        &[("message", "slow")],
    )
    .await;
    let mut res = res;
    // Wait for the model request to be under way.
    let mut text = String::new();
    while !text.contains("ModelRequestStarted") {
        let chunk = res.chunk().await.unwrap().expect("stream ended early");
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let started = &parse_sse(&text)[0].1;
    let run_id = started["run_id"].as_str().unwrap().to_owned();
    let session = started["session_id"].as_str().unwrap().to_owned();
    let res2 = app
        .client
        .post(app.url(&format!(
            "/agents/{AGENT}/runs/{run_id}/cancel?session_id={session}"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(res2.status(), 200);
    // The stream ends promptly (well before the mock's 30 s) with RunCancelled.
    let rest = tokio::time::timeout(Duration::from_secs(10), res.text())
        .await
        .expect("the stream did not end after cancel")
        .unwrap();
    let events = parse_sse(&format!("{text}{rest}"));
    let (name, data) = events.last().unwrap();
    assert_eq!(name, "RunCancelled");
    assert_eq!(data["reason"], format!("Run {run_id} was cancelled"));
    let (_, polled) = app
        .get_json(&format!(
            "/agents/{AGENT}/runs/{run_id}?session_id={session}"
        ))
        .await;
    assert_eq!(polled["status"], "CANCELLED");
}

#[tokio::test]
async fn cancelling_a_workflow_run_keeps_finished_steps_and_ends_cancelled() {
    // The first step's model answers at once, the second's takes 30 s.
    let fast = Arc::new(MockOpenAi::start().await);
    let slow = MockOpenAi::start().await;
    slow.set_delay(Duration::from_secs(30));
    let wf = agentos::Workflow::new("two-speed").steps([
        assistant(&fast.base_url()).with_id("first"),
        assistant(&slow.base_url()).with_id("second"),
    ]);
    let app = spawn_with(AgentOs::new().workflow(wf), fast, HookLog::default()).await;
    let mut res = post_form(
        &app,
        "/workflows/two-speed/runs",
        &[("message", "cancel me")],
    )
    .await;
    let mut text = String::new();
    // Both steps' model requests have started (the event's name, not its data, which names it
    // too).
    while text.matches("event: ModelRequestStarted\n").count() < 2 {
        let chunk = res.chunk().await.unwrap().expect("stream ended early");
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let run_id = parse_sse(&text)[0].1["run_id"].as_str().unwrap().to_owned();
    let cancel = app
        .client
        .post(app.url(&format!("/workflows/two-speed/runs/{run_id}/cancel")))
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.status(), 200);
    let rest = tokio::time::timeout(Duration::from_secs(10), res.text())
        .await
        .expect("the stream did not end after cancel")
        .unwrap();
    let events = parse_sse(&format!("{text}{rest}"));
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    let tail = &names[names.len() - 2..];
    assert_eq!(
        tail,
        ["WorkflowCancelled", "WorkflowCompleted"],
        "{names:?}"
    );
    let session = events[0].1["session_id"].as_str().unwrap();
    let (_, polled) = app
        .get_json(&format!(
            "/workflows/two-speed/runs/{run_id}?session_id={session}"
        ))
        .await;
    assert_eq!(polled["status"], "CANCELLED");
    let steps = polled["step_results"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0]["success"], true);
    assert_eq!(steps[0]["content"], "reply to: cancel me");
    assert_eq!(steps[1]["success"], false);
    assert_eq!(steps[1]["error"], "Cancelled during execution");
}

#[tokio::test]
async fn a_background_run_answers_202_at_once_and_is_polled_to_completion() {
    let app = spawn().await;
    app.mock.set_delay(Duration::from_millis(300));
    for (path, poll) in [
        (
            format!("/agents/{AGENT}/runs"),
            format!("/agents/{AGENT}/runs"),
        ),
        (
            format!("/workflows/{WF}/runs"),
            format!("/workflows/{WF}/runs"),
        ),
    ] {
        let res = post_form(
            &app,
            &path,
            &[
                ("message", "bg"),
                ("stream", "false"),
                ("background", "true"),
                ("session_id", "bg1"),
            ],
        )
        .await;
        assert_eq!(res.status(), 202);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["status"], "PENDING");
        assert_eq!(body["session_id"], "bg1");
        let run_id = body["run_id"].as_str().unwrap();
        // Not done yet: the model takes 300 ms per call.
        let (_, now) = app
            .get_json(&format!("{poll}/{run_id}?session_id=bg1"))
            .await;
        assert!(
            ["PENDING", "RUNNING"].contains(&now["status"].as_str().unwrap()),
            "{now}"
        );
        let done = poll_until_done(&app, &format!("{poll}/{run_id}?session_id=bg1")).await;
        assert_eq!(done["status"], "COMPLETED", "{done}");
        // The workflow's session is a different one: use a fresh id for it.
        let _ = app.client.delete(app.url("/sessions/bg1")).send().await;
        if path.starts_with("/agents") {
            // Sessions belong to one component: the workflow run needs its own.
            break;
        }
    }
    let res = post_form(
        &app,
        &format!("/workflows/{WF}/runs"),
        &[
            ("message", "bg"),
            ("stream", "false"),
            ("background", "true"),
        ],
    )
    .await;
    assert_eq!(res.status(), 202);
    let body: Value = res.json().await.unwrap();
    let run_id = body["run_id"].as_str().unwrap();
    let session = body["session_id"].as_str().unwrap();
    let done = poll_until_done(
        &app,
        &format!("/workflows/{WF}/runs/{run_id}?session_id={session}"),
    )
    .await;
    assert_eq!(done["status"], "COMPLETED");
    assert_eq!(done["content"], "reply to: reply to: bg");
}

fn indices(events: &[(String, Value)]) -> Vec<i64> {
    events
        .iter()
        .filter_map(|(_, d)| d["event_index"].as_i64())
        .collect()
}

#[tokio::test]
async fn a_resumable_stream_is_picked_up_where_the_client_left_it() {
    let app = spawn().await;
    app.mock.set_delay(Duration::from_millis(200));
    let res = post_form(
        &app,
        &format!("/workflows/{WF}/runs"),
        &[("message", "resume me"), ("background", "true")],
    )
    .await;
    assert_eq!(res.status(), 200);
    // Read the first events, then go away.
    let first = read_events(res, |events| events.len() >= 3).await;
    let seen = indices(&first);
    assert_eq!(seen, (0..seen.len() as i64).collect::<Vec<_>>());
    let last_seen = *seen.last().unwrap();
    let run_id = first[0].1["run_id"].as_str().unwrap().to_owned();
    let session = first[0].1["session_id"].as_str().unwrap().to_owned();

    // Still running: catch up on what was missed, then follow live to the end.
    let res = post_form(
        &app,
        &format!("/workflows/{WF}/runs/{run_id}/resume"),
        &[
            ("last_event_index", &last_seen.to_string()),
            ("session_id", &session),
        ],
    )
    .await;
    assert_eq!(res.status(), 200);
    let resumed = parse_sse(&res.text().await.unwrap());
    let live: Vec<_> = resumed
        .iter()
        .filter(|(n, _)| n != "catch_up")
        .cloned()
        .collect();
    let idx = indices(&live);
    assert_eq!(idx.first(), Some(&(last_seen + 1)));
    assert!(
        idx.windows(2).all(|w| w[1] == w[0] + 1),
        "no gap, no repeat: {idx:?}"
    );
    assert_eq!(live.last().unwrap().0, "WorkflowCompleted");
    let total = *idx.last().unwrap() + 1;

    // Finished, still in memory: a replay of what is after the given index.
    let res = post_form(
        &app,
        &format!("/workflows/{WF}/runs/{run_id}/resume"),
        &[("last_event_index", &(total - 3).to_string())],
    )
    .await;
    let replay = parse_sse(&res.text().await.unwrap());
    assert_eq!(replay[0].0, "replay");
    assert_eq!(replay[0].1["status"], "COMPLETED");
    assert_eq!(replay[0].1["total_events"], 2);
    assert_eq!(indices(&replay[1..]), [total - 2, total - 1]);

    // After a restart the events come from the database.
    let mut app = app;
    app.stop().await;
    let app = restart_on(&app, os_for(&app.mock)).await;
    let res = post_form(
        &app,
        &format!("/workflows/{WF}/runs/{run_id}/resume"),
        &[("last_event_index", "-1"), ("session_id", &session)],
    )
    .await;
    let stored = parse_sse(&res.text().await.unwrap());
    assert_eq!(stored[0].0, "replay");
    assert_eq!(stored[0].1["total_events"], total);
    assert_eq!(indices(&stored[1..]), (0..total).collect::<Vec<_>>());
    assert_eq!(stored.last().unwrap().0, "WorkflowCompleted");

    // No body at all: every field of the resume form is optional.
    let res = app
        .client
        .post(app.url(&format!("/workflows/{WF}/runs/nope/resume")))
        .send()
        .await
        .unwrap();
    let missing = parse_sse(&res.text().await.unwrap());
    assert_eq!(missing[0].0, "error");
    assert_eq!(
        missing[0].1["error"],
        "Run nope not found in buffer or database"
    );
}

#[tokio::test]
async fn a_repeated_idempotency_key_returns_the_same_agent_run() {
    let app = spawn().await;
    let post = || async {
        let form = reqwest::multipart::Form::new()
            .text("message", "once")
            .text("stream", "false");
        app.client
            .post(app.url(&format!("/agents/{AGENT}/runs")))
            .header("Idempotency-Key", "key-1")
            .multipart(form)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    let a = post().await;
    let b = post().await;
    assert_eq!(a["run_id"], b["run_id"]);
    assert_eq!(b["content"], "reply to: once");
    assert_eq!(app.mock.requests().len(), 1, "the model was called once");
}

#[tokio::test]
async fn uploaded_files_reach_the_model_and_unsupported_ones_are_refused() {
    let app = spawn().await;
    let png: &[u8] = b"\x89PNG\r\n\x1a\nfake";
    let form = reqwest::multipart::Form::new()
        .text("message", "describe these")
        .text("stream", "false")
        .part(
            "files",
            reqwest::multipart::Part::bytes(png.to_vec())
                .file_name("chart.png")
                .mime_str("image/png")
                .unwrap(),
        )
        .part(
            "files",
            reqwest::multipart::Part::bytes(b"revenue went up".to_vec())
                .file_name("notes.txt")
                .mime_str("text/plain")
                .unwrap(),
        );
    let res = app
        .client
        .post(app.url(&format!("/agents/{AGENT}/runs")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let out: Value = res.json().await.unwrap();
    assert_eq!(out["status"], "COMPLETED");
    let sent = app.mock.requests().last().unwrap().clone();
    let user = sent["messages"].as_array().unwrap().last().unwrap().clone();
    let parts = user["content"].as_array().expect("text and image parts");
    assert_eq!(parts[0]["type"], "text");
    let text = parts[0]["text"].as_str().unwrap();
    assert!(text.starts_with("describe these"), "{text}");
    assert!(
        text.contains("<file name=\"notes.txt\">\nrevenue went up\n</file>"),
        "{text}"
    );
    assert_eq!(parts[1]["type"], "image_url");
    assert_eq!(
        parts[1]["image_url"]["url"],
        "data:image/png;base64,iVBORw0KGgpmYWtl"
    );

    let calls = app.mock.requests().len();
    let form = reqwest::multipart::Form::new()
        .text("message", "read this")
        .text("stream", "false")
        .part(
            "files",
            reqwest::multipart::Part::bytes(b"%PDF-1.7".to_vec())
                .file_name("report.pdf")
                .mime_str("application/pdf")
                .unwrap(),
        );
    let res = app
        .client
        .post(app.url(&format!("/agents/{AGENT}/runs")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.starts_with("Unsupported file type"), "{detail}");
    assert!(detail.contains("report.pdf"), "{detail}");
    assert_eq!(
        app.mock.requests().len(),
        calls,
        "nothing reached the model"
    );
}
