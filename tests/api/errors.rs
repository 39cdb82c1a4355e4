//! Bad input gets a clear 4xx `{"detail"}`; upstream failures end the run ERROR, recorded.

use crate::helpers::*;
use crate::mock_openai::MockOpenAi;
use agentos::{Agent, AgentOs, OpenAIChat, Workflow};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn unknown_workflow_is_404() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url("/workflows/nope/runs"))
        .form(&[("message", "hi")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let not_found =
        json!({"detail": "Workflow not found: 'nope'. Served workflows: analysis-workflow"});
    assert_eq!(res.json::<Value>().await.unwrap(), not_found);
    let (status, body) = app.get_json("/workflows/nope").await;
    assert_eq!((status, body), (404, not_found));
    let (status, body) = app.get_json("/no/such/route").await;
    assert_eq!(status, 404);
    assert!(body["detail"].is_string());
}

#[tokio::test]
async fn a_missing_message_is_422_and_a_json_body_is_415() {
    let app = spawn_app().await;
    let (status, body) = app.run_json(&[("session_id", "x")]).await;
    assert_eq!(status, 422);
    assert_eq!(body["detail"][0]["type"], "missing");
    assert_eq!(body["detail"][0]["loc"], json!(["body", "message"]));

    let res = app
        .client
        .post(app.url(&format!("/workflows/{WF}/runs")))
        .json(&json!({"message": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    assert_eq!(
        res.json::<Value>().await.unwrap()["detail"],
        send_a_form(
            &app,
            &format!("/workflows/{WF}/runs"),
            "-F message='Hello' -F stream=false"
        )
    );

    let (status, body) = app
        .run_json(&[("message", "hi"), ("stream", "maybe")])
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["detail"][0]["loc"], json!(["body", "stream"]));
    assert!(app.mock.requests().is_empty(), "nothing ran");
}

/// The 415 detail for a JSON body posted to `path` of `app`.
fn send_a_form(app: &TestApp, path: &str, fields: &str) -> String {
    format!(
        "This route reads a form, not application/json: send multipart/form-data or \
         application/x-www-form-urlencoded, for example: curl -X POST {}{path} {fields}",
        app.base
    )
}

#[tokio::test]
async fn every_form_route_answers_a_json_body_with_the_form_to_send() {
    let mock = Arc::new(MockOpenAi::start().await);
    let os = AgentOs::new()
        .workflow(seed_workflow(&mock.base_url(), &[]))
        .agent(Agent::new("Helper").model(OpenAIChat::new("m").base_url(mock.base_url())));
    let app = spawn_with(os, mock, HookLog::default()).await;
    let run = "-F message='Hello' -F stream=false";
    let resume = "-F last_event_index=0";
    for (path, fields) in [
        (format!("/workflows/{WF}/runs"), run),
        ("/agents/helper/runs".to_owned(), run),
        (format!("/workflows/{WF}/runs/r1/resume"), resume),
        ("/agents/helper/runs/r1/resume".to_owned(), resume),
    ] {
        let res = app
            .client
            .post(app.url(&path))
            .header("content-type", "application/json; charset=utf-8")
            .body(r#"{"message": "hi"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 415, "{path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["detail"], send_a_form(&app, &path, fields), "{path}");
    }
    assert!(app.mock.requests().is_empty(), "nothing ran");
}

#[tokio::test]
async fn an_unknown_id_names_the_ids_served() {
    let mock = Arc::new(MockOpenAi::start().await);
    let os = AgentOs::new()
        .workflow(seed_workflow(&mock.base_url(), &[]))
        .workflow(Workflow::new("second").steps([Agent::new("A").model(OpenAIChat::new("m"))]));
    let app = spawn_with(os, mock, HookLog::default()).await;
    let cases = [
        (
            "/workflows/analysis",
            "Workflow not found: 'analysis'. Served workflows: analysis-workflow, second",
        ),
        (
            "/workflows/analysis/runs?session_id=s",
            "Workflow not found: 'analysis'. Served workflows: analysis-workflow, second",
        ),
        (
            "/agents/Analyzer",
            "Agent not found: 'Analyzer'. Served agents: none",
        ),
        ("/teams/t1", "Team not found: 't1'. Served teams: none"),
    ];
    for (path, detail) in cases {
        assert_eq!(
            app.get_json(path).await,
            (404, json!({ "detail": detail })),
            "{path}"
        );
    }
    let res = app
        .client
        .post(app.url("/workflows/analysis/runs/r1/cancel"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(
        res.json::<Value>().await.unwrap()["detail"],
        "Workflow not found: 'analysis'. Served workflows: analysis-workflow, second"
    );
}

#[tokio::test]
async fn a_session_of_another_component_is_409_naming_its_owner() {
    let mock = Arc::new(MockOpenAi::start().await);
    let os = AgentOs::new()
        .workflow(seed_workflow(&mock.base_url(), &[]))
        .agent(
            Agent::new("Helper").model(OpenAIChat::new("m").base_url(mock.base_url()).api_key("k")),
        );
    let app = spawn_with(os, mock, HookLog::default()).await;
    let (status, _) = app
        .run_json(&[("message", "hi"), ("session_id", "s1")])
        .await;
    assert_eq!(status, 200);
    let agent_run = |session: &'static str| {
        app.client
            .post(app.url("/agents/helper/runs"))
            .form(&[
                ("message", "hi"),
                ("stream", "false"),
                ("session_id", session),
            ])
            .send()
    };
    let res = agent_run("s1").await.unwrap();
    assert_eq!(res.status(), 409);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"detail": "Session s1 belongs to workflow 'analysis-workflow'; send another session_id, or none to start a new session"})
    );

    let res = agent_run("s2").await.unwrap();
    assert_eq!(res.status(), 200);
    let (status, body) = app
        .run_json(&[("message", "hi"), ("session_id", "s2")])
        .await;
    assert_eq!(
        (status, body),
        (
            409,
            json!({"detail": "Session s2 belongs to agent 'helper'; send another session_id, or none to start a new session"})
        )
    );

    // A session created empty, of another type.
    let res = app
        .client
        .post(app.url("/sessions?type=agent"))
        .json(&json!({"session_id": "s3"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let (status, body) = app
        .run_json(&[("message", "hi"), ("session_id", "s3")])
        .await;
    assert_eq!(
        (status, body),
        (
            409,
            json!({"detail": "Session s3 is an agent session; send another session_id, or none to start a new session"})
        )
    );
}

/// Sends `body` to `path` over a plain TCP connection, all of it, then reads the answer:
/// `(status, body)`. A server that answers before reading the upload and closes makes the
/// write or the read fail with a reset.
async fn raw_post(base: &str, path: &str, content_type: &str, body: &[u8]) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    for chunk in body.chunks(64 * 1024) {
        tcp.write_all(chunk)
            .await
            .unwrap_or_else(|e| panic!("the upload was cut off: {e}"));
    }
    let mut answer = Vec::new();
    tcp.read_to_end(&mut answer)
        .await
        .unwrap_or_else(|e| panic!("no answer after the upload: {e}"));
    let answer = String::from_utf8_lossy(&answer);
    let status = answer[9..12].parse().unwrap();
    let (_, json) = answer.split_once("\r\n\r\n").unwrap();
    (status, serde_json::from_str(json).unwrap())
}

#[tokio::test]
async fn a_large_upload_to_an_unknown_route_gets_its_404() {
    let app = spawn_app().await;
    let file = vec![b'x'; 6 * 1024 * 1024];
    let body = [
        b"--b\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.txt\"\r\n\r\n"
            .as_slice(),
        &file,
        b"\r\n--b--\r\n",
    ]
    .concat();
    let multipart = "multipart/form-data; boundary=b";
    for path in ["/agents/nobody/run", "/v1/workflows/x/runs"] {
        assert_eq!(
            raw_post(&app.base, path, multipart, &body).await,
            (404, json!({"detail": "Not Found"})),
            "{path}"
        );
    }
    // An unknown method on a known path reads the upload too.
    assert_eq!(
        raw_post(&app.base, "/health", multipart, &body).await,
        (405, json!({"detail": "Method Not Allowed"}))
    );
}

#[tokio::test]
async fn an_upload_over_the_limit_to_an_unknown_route_is_413() {
    let mock = Arc::new(MockOpenAi::start().await);
    let os = AgentOs::new()
        .workflow(seed_workflow(&mock.base_url(), &[]))
        .max_body_bytes(1024 * 1024);
    let app = spawn_with(os, mock, HookLog::default()).await;
    let res = app
        .client
        .post(app.url("/no/such/route"))
        .body(vec![b'x'; 3 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"detail": "Request body too large"})
    );
    let res = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(res.status(), 200, "the server is still up");
}

#[tokio::test]
async fn run_lookups_answer_404_and_422_like_agno() {
    let app = spawn_app().await;
    let (status, body) = app
        .get_json(&format!("/workflows/{WF}/runs/no-such-run?session_id=s"))
        .await;
    assert_eq!((status, body), (404, json!({"detail": "Run not found"})));
    let (status, body) = app
        .get_json(&format!("/workflows/{WF}/runs?session_id=no-such-session"))
        .await;
    assert_eq!(
        (status, body),
        (404, json!({"detail": "Session not found"}))
    );
    let (status, body) = app.get_json(&format!("/workflows/{WF}/runs")).await;
    assert_eq!(status, 422);
    assert_eq!(body["detail"][0]["loc"], json!(["query", "session_id"]));
}

#[tokio::test]
async fn a_trailing_slash_is_tolerated() {
    let app = spawn_app().await;
    let (status, list) = app.get_json("/workflows/").await;
    assert_eq!(status, 200);
    assert_eq!(list[0]["id"], WF);
    assert_eq!(
        list[0]["description"],
        "Analyzes input and provides a summary"
    );
    let res = app
        .client
        .post(app.url(&format!("/workflows/{WF}/runs/")))
        .form(&[("message", "hi"), ("stream", "false")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (status, health) = app.get_json("/health/").await;
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")));
}

#[tokio::test]
async fn meta_routes_describe_the_os() {
    let app = spawn_app().await;
    let (_, config) = app.get_json("/config").await;
    assert_eq!(config["workflows"][0]["id"], WF);
    assert_eq!(config["workflows"][0]["db_id"], config["os_database"]);
    let (_, wf) = app.get_json(&format!("/workflows/{WF}")).await;
    assert_eq!(wf["name"], "AnalysisWorkflow");
    assert_eq!(wf["steps"][0]["name"], "Analyzer");
    assert_eq!(wf["steps"][1]["agent"]["model"]["model"], "gpt-5.2");
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let mock = Arc::new(MockOpenAi::start().await);
    let os = AgentOs::new()
        .workflow(seed_workflow(&mock.base_url(), &[]))
        .max_body_bytes(1024);
    let app = spawn_with(os, mock, HookLog::default()).await;
    let big = "x".repeat(4096);
    let (status, body) = app.run_json(&[("message", &big)]).await;
    assert_eq!(status, 413);
    assert!(body["detail"].is_string());
    let res = app
        .client
        .post(app.url(&format!("/workflows/{WF}/runs")))
        .form(&[("message", big.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
}

/// Runs one non-streamed request against a broken model; returns the body and the stored run.
async fn run_against_broken_model(app: &TestApp, session: &str) -> (Value, Value) {
    let (status, body) = app
        .run_json(&[("message", "hello"), ("session_id", session)])
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, runs) = app
        .get_json(&format!("/workflows/{WF}/runs?session_id={session}"))
        .await;
    (body, runs[0].clone())
}

#[tokio::test]
async fn an_upstream_5xx_fails_the_step_and_the_run_is_stored_error() {
    let app = spawn_app().await;
    app.mock.fail_with(500);
    let (body, stored) = run_against_broken_model(&app, "s-500").await;
    assert_eq!(body["status"], "ERROR");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains("500") && error.contains("mock failure"),
        "{error}"
    );
    assert_eq!(
        body["step_results"].as_array().unwrap().len(),
        1,
        "the next step never ran"
    );
    assert_eq!(body["step_results"][0]["success"], false);
    // async-openai retries a 5xx a few times; every call is still the first step's.
    let requests = app.mock.requests();
    assert!(
        requests
            .iter()
            .all(|r| r["messages"][0]["content"] == ANALYZER_INSTRUCTIONS),
        "the error text is never fed to step two"
    );
    assert_eq!(stored["status"], "ERROR");
    assert_eq!(stored["error"], error);
    assert!(
        app.hook_jobs().await.is_empty(),
        "a failed agent run has no post-hooks"
    );
}

#[tokio::test]
async fn a_malformed_upstream_body_fails_the_run() {
    let app = spawn_app().await;
    app.mock.garbage();
    let (body, stored) = run_against_broken_model(&app, "s-garbage").await;
    assert_eq!(body["status"], "ERROR");
    assert!(
        body["error"].as_str().unwrap().contains("malformed"),
        "{body}"
    );
    assert_eq!(stored["status"], "ERROR");
}

fn workflow_with(model: OpenAIChat) -> Workflow {
    Workflow::new(WF).steps([Agent::new("Analyzer").model(model)])
}

#[tokio::test]
async fn a_refused_connection_and_a_timeout_fail_the_run() {
    // A port with nothing listening.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_url = format!("http://{}/v1", closed.local_addr().unwrap());
    drop(closed);
    let mock = Arc::new(MockOpenAi::start().await);
    let os = AgentOs::new().workflow(workflow_with(
        OpenAIChat::new("m").base_url(dead_url).api_key("k"),
    ));
    let app = spawn_with(os, mock.clone(), HookLog::default()).await;
    let (body, stored) = run_against_broken_model(&app, "s-refused").await;
    assert_eq!(body["status"], "ERROR");
    assert!(
        body["error"].as_str().unwrap().contains("unreachable"),
        "{body}"
    );
    assert_eq!(stored["status"], "ERROR");

    mock.set_delay(Duration::from_secs(2));
    let slow = OpenAIChat::new("m")
        .base_url(mock.base_url())
        .api_key("k")
        .timeout(Duration::from_millis(200));
    let app = spawn_with(
        AgentOs::new().workflow(workflow_with(slow)),
        mock,
        HookLog::default(),
    )
    .await;
    let (body, stored) = run_against_broken_model(&app, "s-timeout").await;
    assert_eq!(body["status"], "ERROR");
    assert!(
        body["error"].as_str().unwrap().contains("timed out"),
        "{body}"
    );
    assert_eq!(stored["status"], "ERROR");
}

#[tokio::test]
async fn a_streamed_upstream_failure_ends_with_error_events() {
    let app = spawn_app().await;
    app.mock.fail_with(503);
    let res = app
        .post_run(&[("message", "hello"), ("session_id", "s-sse-err")])
        .await;
    let events = parse_sse(&res.text().await.unwrap());
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "WorkflowStarted",
            "StepStarted",
            "RunStarted",
            "ModelRequestStarted",
            "RunError",
            "StepError",
            "WorkflowError"
        ]
    );
    assert!(events[4].1["content"].as_str().unwrap().contains("503"));
    let (_, runs) = app
        .get_json(&format!("/workflows/{WF}/runs?session_id=s-sse-err"))
        .await;
    assert_eq!(runs[0]["status"], "ERROR");
}
