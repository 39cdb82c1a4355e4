//! Lifecycle: graceful shutdown drains hooks, client disconnects do not lose runs, the router
//! embeds in a host app, and two instances in one process stay apart.

use crate::helpers::*;
use crate::mock_openai::MockOpenAi;
use agentos::AgentOs;
use axum::Router;
use axum::routing::get;
use futures::StreamExt;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn shutdown_drains_pending_hooks_before_the_pool_closes() {
    let mut app = spawn_app().await;
    let (status, _) = app.run_json(&[("message", "hello")]).await;
    assert_eq!(status, 200);
    assert!(
        !app.hooks.contains("done:Analyzer"),
        "the hook is still sleeping"
    );
    app.stop().await;
    // stop() returns only after the drain: both hooks finished and their outcome was written
    // before the pool closed.
    assert!(app.hooks.contains("done:Analyzer") && app.hooks.contains("done:Summarizer"));
    let jobs = app.hook_jobs().await;
    assert_eq!(jobs.len(), 2);
    assert!(jobs.iter().all(|j| j.status == "done"), "{jobs:?}");
}

#[tokio::test]
async fn shutdown_lets_an_in_flight_run_finish() {
    let mut app = spawn_app().await;
    app.mock.set_delay(Duration::from_millis(300));
    let client = app.client.clone();
    let url = app.url(&format!("/workflows/{WF}/runs"));
    let pending = tokio::spawn(async move {
        let res = client
            .post(url)
            .form(&[
                ("message", "finish me"),
                ("stream", "false"),
                ("session_id", "s-drain"),
            ])
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.json::<Value>().await.unwrap())
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    app.stop().await;
    let (status, body) = pending.await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(body["status"], "COMPLETED");
    let again = restart_on(
        &app,
        AgentOs::new().workflow(seed_workflow(&app.mock.base_url(), &[])),
    )
    .await;
    let (_, runs) = again
        .get_json(&format!("/workflows/{WF}/runs?session_id=s-drain"))
        .await;
    assert_eq!(runs[0]["status"], "COMPLETED");
}

#[tokio::test]
async fn a_client_that_half_closes_after_its_request_still_gets_the_answer() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app().await;
    app.mock.set_delay(Duration::from_millis(100));
    let addr = app.url("").trim_start_matches("http://").to_owned();
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let body = "message=half+closed&stream=false";
    let request = format!(
        "POST /workflows/{WF}/runs HTTP/1.1\r\nHost: {addr}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    // Like `nc -N`: nothing more to send, so the client shuts its write side and waits.
    tcp.shutdown().await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(Duration::from_secs(10), tcp.read_to_string(&mut response))
        .await
        .expect("the server answered")
        .unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let json: Value = serde_json::from_str(response.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(json["status"], "COMPLETED");
    assert_eq!(json["input"], "half closed");
}

#[tokio::test]
async fn a_client_that_disconnects_mid_stream_does_not_lose_the_run() {
    let app = spawn_app().await;
    app.mock.set_delay(Duration::from_millis(200));
    let res = app
        .post_run(&[("message", "keep going"), ("session_id", "s-gone")])
        .await;
    let mut body = res.bytes_stream();
    let first = body.next().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("WorkflowStarted"));
    drop(body); // the client goes away

    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (_, runs) = app
            .get_json(&format!("/workflows/{WF}/runs?session_id=s-gone"))
            .await;
        if runs[0]["status"] == "COMPLETED" {
            assert_eq!(runs[0]["content"], "reply to: reply to: keep going");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "run never finished: {runs}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(app.mock.requests().len(), 2, "both steps ran");
    assert!(
        app.hooks
            .wait_for("done:Summarizer", Duration::from_secs(5))
            .await
    );
}

#[tokio::test]
async fn the_router_nests_under_a_prefix_in_a_host_app() {
    #[derive(Clone)]
    struct HostState {
        greeting: &'static str,
    }
    let mock = MockOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let os = AgentOs::new()
        .workflow(seed_workflow(&mock.base_url(), &[]))
        .db(agentos::SqliteDb::new(dir.path().join("host.db")));
    let api = os.router().await.unwrap();
    let host = Router::new()
        .route("/ping", get(|axum::extract::State(s): axum::extract::State<HostState>| async move { s.greeting }))
        .with_state(HostState { greeting: "pong" })
        .nest("/ai", api);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, host).await });

    let client = reqwest::Client::new();
    assert_eq!(
        client
            .get(format!("{base}/ping"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "pong"
    );
    let health: Value = client
        .get(format!("{base}/ai/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    let run: Value = client
        .post(format!("{base}/ai/workflows/{WF}/runs"))
        .form(&[("message", "nested"), ("stream", "false")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(run["status"], "COMPLETED");
    assert_eq!(run["content"], "reply to: reply to: nested");
    server.abort();
    os.shutdown().await;
}

#[tokio::test]
async fn two_instances_in_one_process_do_not_interfere() {
    let a = spawn_app().await;
    let mock = Arc::new(MockOpenAi::start().await);
    let b = spawn_with(
        AgentOs::new().workflow(seed_workflow(&mock.base_url(), &[])),
        mock,
        HookLog::default(),
    )
    .await;
    let (_, run) = a
        .run_json(&[("message", "only in a"), ("session_id", "shared-name")])
        .await;
    let run_id = run["run_id"].as_str().unwrap();
    let (status, _) = b.get_json(&format!("/workflows/{WF}/runs/{run_id}")).await;
    assert_eq!(status, 404);
    let (_, b_run) = b
        .run_json(&[("message", "only in b"), ("session_id", "shared-name")])
        .await;
    assert_eq!(b_run["status"], "COMPLETED");
    let (_, a_runs) = a
        .get_json(&format!("/workflows/{WF}/runs?session_id=shared-name"))
        .await;
    assert_eq!(a_runs.as_array().unwrap().len(), 1);
    assert!(
        b.mock
            .requests()
            .iter()
            .all(|r| r["messages"][1]["content"] != "only in a")
    );
}
