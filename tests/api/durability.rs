//! Durable and truthful: model faults end in the right status, retries are bounded, hook jobs
//! are recovered after a crash and can be retried, idempotent posts run once, load loses
//! nothing, and malformed requests get a clear 4xx.

use crate::helpers::*;
use crate::mock_openai::MockOpenAi;
use agentos::store::prelude::*;
use agentos::store::{HOOK_JOB_KIND, NewJob, RunRecord, SessionRecord, SqliteStore};
use agentos::{
    Agent, AgentOs, Hook, HookContext, HookError, OpenAIChat, RetryPolicy, RunStatus, Workflow,
};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A one-step workflow whose model has a short attempt timeout and quick retries.
fn one_step(mock: &MockOpenAi, policy: RetryPolicy) -> Workflow {
    let model = OpenAIChat::new("gpt-5.2")
        .base_url(mock.base_url())
        .api_key("k")
        .timeout(Duration::from_millis(400))
        .retry_policy(policy);
    Workflow::new(WF).steps([Agent::new("Analyzer").model(model)])
}

async fn one_step_app(policy: RetryPolicy) -> TestApp {
    let mock = Arc::new(MockOpenAi::start().await);
    let os = AgentOs::new().workflow(one_step(&mock, policy));
    spawn_with(os, mock, HookLog::default()).await
}

/// Runs once (streamed or not) and returns the terminal status and error text as stored.
async fn stored_outcome(app: &TestApp, stream: bool, session: &str) -> (String, String) {
    let stream = if stream { "true" } else { "false" };
    let res = app
        .post_run(&[
            ("message", "hi"),
            ("stream", stream),
            ("session_id", session),
        ])
        .await;
    assert_eq!(res.status(), 200);
    let _ = res.bytes().await; // read to the end
    let (_, runs) = app
        .get_json(&format!("/workflows/{WF}/runs?session_id={session}"))
        .await;
    let run = &runs[0];
    (
        run["status"].as_str().unwrap().to_owned(),
        run["error"].as_str().unwrap_or("").to_owned(),
    )
}

#[tokio::test]
async fn model_faults_drive_runs_to_the_right_terminal_status() {
    let quick = RetryPolicy {
        initial_backoff: Duration::from_millis(20),
        ..RetryPolicy::default()
    };
    let app = one_step_app(quick.clone()).await;
    let m = &app.mock;

    // Transient faults are retried away.
    m.fail_next(500, 2, None);
    assert_eq!(stored_outcome(&app, false, "f-500x2").await.0, "COMPLETED");
    m.fail_next(429, 1, Some(1));
    let started = Instant::now();
    assert_eq!(stored_outcome(&app, true, "f-429").await.0, "COMPLETED");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "Retry-After: 1 was honoured"
    );
    m.quirky();
    let res = app
        .post_run(&[("message", "quirks"), ("stream", "true")])
        .await;
    let events = parse_sse(&res.text().await.unwrap());
    assert_eq!(
        events.last().unwrap().1["content"],
        "reply to: quirks",
        "finish_reason \"\" and no usage are fine"
    );

    // Faults that outlast the retries end the run ERROR, with the cause recorded.
    let before = m.requests().len();
    m.fail_with(503);
    let (status, error) = stored_outcome(&app, false, "f-503").await;
    assert_eq!(
        (status.as_str(), error.contains("503")),
        ("ERROR", true),
        "{error}"
    );
    assert_eq!(m.requests().len() - before, 3, "bounded attempts");

    m.fail_with(400);
    let before = m.requests().len();
    let (status, error) = stored_outcome(&app, false, "f-400").await;
    assert_eq!((status.as_str(), error.contains("400")), ("ERROR", true));
    assert_eq!(
        m.requests().len() - before,
        1,
        "a client error is not retried"
    );

    m.garbage();
    let (status, error) = stored_outcome(&app, false, "f-garbage").await;
    assert_eq!(
        (status.as_str(), error.contains("malformed")),
        ("ERROR", true),
        "{error}"
    );

    m.reset();
    let (status, error) = stored_outcome(&app, true, "f-reset").await;
    assert_eq!(status, "ERROR", "{error}");

    m.hang();
    let (status, error) = stored_outcome(&app, false, "f-hang").await;
    assert_eq!(
        (status.as_str(), error.contains("timed out")),
        ("ERROR", true),
        "{error}"
    );

    m.truncate_streams();
    let (status, error) = stored_outcome(&app, true, "f-truncated").await;
    assert_eq!(
        (status.as_str(), error.contains("ended before")),
        ("ERROR", true),
        "{error}"
    );

    // The server is unharmed.
    m.heal();
    assert_eq!(stored_outcome(&app, false, "f-healed").await.0, "COMPLETED");
}

#[tokio::test]
async fn an_idempotency_key_runs_once_and_answers_the_same_run() {
    let app = spawn_app().await;
    let post = |key: &'static str, stream: &'static str| {
        let app_client = app.client.clone();
        let url = app.url(&format!("/workflows/{WF}/runs"));
        async move {
            app_client
                .post(url)
                .header("Idempotency-Key", key)
                .form(&[("message", "once"), ("stream", stream)])
                .send()
                .await
                .unwrap()
        }
    };
    let first: Value = post("key-1", "false").await.json().await.unwrap();
    let again = post("key-1", "false").await;
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again, first, "the stored output, not a new run");
    assert_eq!(app.mock.requests().len(), 2, "executed once (two steps)");
    let streamed = parse_sse(&post("key-1", "true").await.text().await.unwrap());
    assert_eq!(streamed.len(), 1);
    assert_eq!(streamed[0].0, "WorkflowCompleted");
    assert_eq!(streamed[0].1["run_id"], first["run_id"]);

    // While the run is still going: 202 with its id.
    app.mock.set_delay(Duration::from_millis(500));
    let slow = tokio::spawn(post("key-2", "false"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let pending = post("key-2", "false").await;
    assert_eq!(pending.status(), 202);
    let pending: Value = pending.json().await.unwrap();
    assert_eq!(pending["status"], "RUNNING");
    let done: Value = slow.await.unwrap().json().await.unwrap();
    assert_eq!(pending["run_id"], done["run_id"]);

    let bad = app
        .client
        .post(app.url(&format!("/workflows/{WF}/runs")))
        .header("Idempotency-Key", "")
        .form(&[("message", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn idempotency_keys_expire() {
    let mock = Arc::new(MockOpenAi::start().await);
    let os = AgentOs::new()
        .workflow(seed_workflow(&mock.base_url(), &[]))
        .idempotency_ttl(Duration::from_millis(100));
    let app = spawn_with(os, mock, HookLog::default()).await;
    let post = || {
        app.client
            .post(app.url(&format!("/workflows/{WF}/runs")))
            .header("Idempotency-Key", "short-lived")
            .form(&[("message", "x"), ("stream", "false")])
            .send()
    };
    let a: Value = post().await.unwrap().json().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let b: Value = post().await.unwrap().json().await.unwrap();
    assert_ne!(a["run_id"], b["run_id"]);
}

#[tokio::test]
async fn hook_jobs_are_listed_and_a_dead_one_can_be_retried() {
    let mock = Arc::new(MockOpenAi::start().await);
    let log = HookLog::default();
    let fails_once = {
        let log = log.clone();
        Hook::new("fails_once", move |ctx: HookContext| {
            let log = log.clone();
            async move {
                let attempt = ctx.job.map(|j| j.attempt).unwrap_or(0);
                log.push(format!("{}:{attempt}", ctx.agent.name));
                if attempt == 1 {
                    return Err(HookError::msg("first attempt always fails"));
                }
                Ok(())
            }
        })
        .background()
    };
    let os = AgentOs::new()
        .workflow(seed_workflow(&mock.base_url(), &[fails_once]))
        .hook_retries(1, Duration::from_millis(10))
        .hook_poll_interval(Duration::from_millis(50));
    let app = spawn_with(os, mock, log.clone()).await;
    let (_, run) = app.run_json(&[("message", "hi")]).await;
    let run_id = run["run_id"].as_str().unwrap();
    assert!(log.wait_for("Summarizer:1", Duration::from_secs(5)).await);

    let dead = loop {
        let (_, page) = app
            .get_json(&format!("/hooks/jobs?status=dead&run_id={run_id}"))
            .await;
        if page["meta"]["total_count"] == 2 {
            break page;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let job = &dead["data"][0];
    assert_eq!(job["hook_name"], "fails_once");
    assert_eq!(job["outcome"], "error");
    assert_eq!(job["last_error"], "first attempt always fails");
    assert_eq!(job["attempts"], 1);
    assert_eq!(job["attempt_errors"][0]["attempt"], 1);
    assert_eq!(job["attempt_errors"][0]["outcome"], "error");
    assert_eq!(
        job["attempt_errors"][0]["error"],
        "first attempt always fails"
    );
    let job_id = job["job_id"].as_str().unwrap();

    let res = app
        .client
        .post(app.url(&format!("/hooks/jobs/{job_id}/retry")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "pending");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, page) = app
            .get_json("/hooks/jobs?status=done&hook=fails_once")
            .await;
        if page["meta"]["total_count"] == 1 {
            assert_eq!(page["data"][0]["job_id"], job_id);
            assert_eq!(page["data"][0]["attempts"], 2);
            break;
        }
        assert!(Instant::now() < deadline, "the retried job never ran");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let res = app
        .client
        .post(app.url(&format!("/hooks/jobs/{job_id}/retry")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409, "a done job is not retried");
    let res = app
        .client
        .post(app.url("/hooks/jobs/nope/retry"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let (status, _) = app.get_json("/hooks/jobs?status=bogus").await;
    assert_eq!(status, 400);
    let (_, page) = app.get_json("/hooks/jobs?limit=1&page=2").await;
    assert_eq!(page["meta"]["total_count"], 2);
    assert_eq!(page["meta"]["total_pages"], 2);
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_restart_takes_over_what_a_dead_process_left() {
    // What a process killed mid-flight leaves behind: a run still RUNNING and a hook job
    // leased to it, never started.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crashed.db");
    let store = SqliteStore::open(&db).await.unwrap();
    let now = chrono_millis();
    let session = SessionRecord {
        session_id: "s-crash".into(),
        session_type: agentos::ComponentKind::Workflow,
        component_id: WF.into(),
        user_id: None,
        session_name: None,
        session_state: "{}".into(),
        created_at: now,
        updated_at: now,
    };
    let run = |id: &str, status| RunRecord {
        run_id: id.into(),
        session_id: "s-crash".into(),
        component_type: agentos::ComponentKind::Workflow,
        component_id: WF.into(),
        user_id: None,
        status,
        input: "hi".into(),
        output: None,
        error: None,
        created_at: now,
        updated_at: now,
    };
    store
        .begin_run(&session, &run("in-flight", RunStatus::Running), None)
        .await
        .unwrap();
    store
        .begin_run(&session, &run("answered", RunStatus::Running), None)
        .await
        .unwrap();
    let ctx = json!({
        "agent": {"id": "analyzer", "name": "Analyzer"}, "run_id": "agent-run", "workflow_id": WF,
        "workflow_run_id": "answered", "session_id": "s-crash", "user_id": null,
        "run_input": {"input_content": "hi"}, "run_output": null, "extra": {}, "metadata": null, "job": null
    });
    let job = NewJob {
        job_id: "job-1".into(),
        kind: HOOK_JOB_KIND.into(),
        name: "log_step_completion".into(),
        run_id: Some("answered".into()),
        payload: ctx.to_string(),
        max_attempts: 3,
        lease_owner: "dead-process".into(),
        lease_until: now + 3_600_000,
        claimed: false,
        trace_parent: None,
    };
    store.finish_run("answered", RunStatus::Completed, "{\"input\":\"hi\",\"content_type\":\"str\",\"workflow_id\":\"analysis-workflow\",\"workflow_name\":\"AnalysisWorkflow\",\"run_id\":\"answered\",\"session_id\":\"s-crash\",\"created_at\":0,\"status\":\"COMPLETED\"}", None, vec![job]).await.unwrap();
    store.close().await;

    let mock = Arc::new(MockOpenAi::start().await);
    let log = HookLog::default();
    let wf = seed_workflow(
        &mock.base_url(),
        &[sleeping_hook(&log, Duration::from_millis(10))],
    );
    let os = AgentOs::new().workflow(wf).db(agentos::SqliteDb::new(&db));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(os.serve_with_shutdown(listener, async {
        let _ = rx.await;
    }));

    assert!(
        log.wait_for("done:Analyzer", Duration::from_secs(5)).await,
        "the leased job ran at once"
    );
    let runs: Value = reqwest::get(format!("{base}/workflows/{WF}/runs?session_id=s-crash"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(runs[0]["run_id"], "in-flight");
    assert_eq!(runs[0]["status"], "ERROR");
    assert_eq!(runs[0]["error"], "interrupted: server restarted");
    assert_eq!(runs[1]["status"], "COMPLETED");
    let _ = tx.send(());
    server.await.unwrap().unwrap();
}

fn chrono_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test]
async fn under_load_every_answered_run_is_stored_with_its_status() {
    let app = spawn_app().await;
    let requests = (0..256).map(|i| {
        let client = app.client.clone();
        let url = app.url(&format!("/workflows/{WF}/runs"));
        async move {
            let res = client
                .post(url)
                .form(&[
                    ("message", format!("load {i}")),
                    ("stream", "false".into()),
                    ("session_id", "s-load".into()),
                ])
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap())
        }
    });
    let answers = futures::future::join_all(requests).await;
    let answered: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == 200)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(
        answered.len(),
        256,
        "{:?}",
        answers.iter().find(|(s, _)| *s != 200)
    );
    let (_, runs) = app
        .get_json(&format!("/workflows/{WF}/runs?session_id=s-load"))
        .await;
    let stored = runs.as_array().unwrap();
    assert_eq!(stored.len(), answered.len());
    for body in answered {
        let row = stored
            .iter()
            .find(|r| r["run_id"] == body["run_id"])
            .expect("answered run is stored");
        assert_eq!(row["status"], body["status"]);
        assert_eq!(row["content"], body["content"]);
    }
}

#[tokio::test]
async fn malformed_requests_get_a_clear_4xx_and_disturb_nothing() {
    let app = spawn_app().await;
    let (_, kept) = app
        .run_json(&[("message", "keep me"), ("session_id", "s-kept")])
        .await;
    let url = app.url(&format!("/workflows/{WF}/runs"));
    let many: String = (0..5000).map(|i| format!("f{i}=x&")).collect::<String>() + "message=hi";
    let nul_multipart = "--b\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\nhi\r\n--b\r\nContent-Disposition: form-data; name=\"session_id\"\r\n\r\na\0b\r\n--b--\r\n";
    let bad_utf8_multipart: Vec<u8> = [
        b"--b\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\n".as_slice(),
        &[0xff, 0xfe, 0xfd],
        b"\r\n--b--\r\n",
    ]
    .concat();
    let cases: Vec<(&str, Option<&str>, Vec<u8>, u16)> = vec![
        ("empty body, no type", None, vec![], 422),
        (
            "empty urlencoded",
            Some("application/x-www-form-urlencoded"),
            vec![],
            422,
        ),
        (
            "json body",
            Some("application/json"),
            br#"{"message":"hi"}"#.to_vec(),
            415,
        ),
        ("text body", Some("text/plain"), b"message=hi".to_vec(), 422),
        (
            "multipart without boundary",
            Some("multipart/form-data"),
            b"message=hi".to_vec(),
            400,
        ),
        (
            "broken multipart",
            Some("multipart/form-data; boundary=b"),
            b"--b\r\ngarbage".to_vec(),
            400,
        ),
        (
            "invalid utf-8 field",
            Some("multipart/form-data; boundary=b"),
            bad_utf8_multipart,
            400,
        ),
        (
            "invalid utf-8 urlencoded",
            Some("application/x-www-form-urlencoded"),
            b"message=%FF%FE".to_vec(),
            400,
        ),
        (
            "thousands of fields",
            Some("application/x-www-form-urlencoded"),
            many.into_bytes(),
            400,
        ),
        (
            "bad boolean",
            Some("application/x-www-form-urlencoded"),
            b"message=hi&stream=perhaps".to_vec(),
            422,
        ),
        (
            "NUL in session_id",
            Some("multipart/form-data; boundary=b"),
            nul_multipart.as_bytes().to_vec(),
            400,
        ),
        (
            "over the size limit",
            Some("application/x-www-form-urlencoded"),
            vec![b'a'; 11 * 1024 * 1024],
            413,
        ),
    ];
    for (name, content_type, body, expected) in cases {
        let mut req = app.client.post(&url).body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status().as_u16(), expected, "{name}");
        let detail: Value = res
            .json()
            .await
            .unwrap_or_else(|e| panic!("{name}: not JSON: {e}"));
        assert!(!detail["detail"].is_null(), "{name}: {detail}");
    }
    for path in [
        "/workflows/..%2F..%2Fetc%2Fpasswd/runs",
        "/workflows/a%00b/runs",
    ] {
        let res = app
            .client
            .post(app.url(path))
            .form(&[("message", "hi")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{path}");
    }
    let (status, _) = app
        .get_json(&format!(
            "/workflows/{WF}/runs/..%2F..%2Fetc?session_id=s-kept"
        ))
        .await;
    assert_eq!(status, 404);

    // Nothing accepted before is disturbed, and the server still runs.
    let run_id = kept["run_id"].as_str().unwrap();
    let (status, again) = app
        .get_json(&format!("/workflows/{WF}/runs/{run_id}?session_id=s-kept"))
        .await;
    assert_eq!((status, &again), (200, &kept));
    let (status, fresh) = app.run_json(&[("message", "still up")]).await;
    assert_eq!((status, fresh["status"].as_str()), (200, Some("COMPLETED")));
}

#[tokio::test]
async fn clients_that_give_up_early_never_leave_a_run_running() {
    let app = spawn_app().await;
    app.mock.set_delay(Duration::from_millis(20));
    // Each client gives up after 400 ms, while 200 runs queue: some before their run row is written,
    // some while it executes. The runtime owns every run that got a row.
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(400))
        .build()
        .unwrap();
    let posts = (0..200).map(|i| {
        let client = impatient.clone();
        let url = app.url(&format!("/workflows/{WF}/runs"));
        async move {
            let form = [
                ("message", format!("impatient {i}")),
                ("stream", "false".to_owned()),
            ];
            let _ = client.post(url).form(&form).send().await;
        }
    });
    futures::future::join_all(posts).await;

    let store = SqliteStore::open(&app.db_path).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let counts: Vec<(String, i64)> =
            sqlx::query_as("SELECT status, COUNT(*) FROM runs GROUP BY status")
                .fetch_all(store.pool())
                .await
                .unwrap();
        let running: i64 = counts
            .iter()
            .filter(|(s, _)| s == "RUNNING")
            .map(|(_, n)| n)
            .sum();
        if running == 0 {
            assert!(counts.iter().all(|(s, _)| s == "COMPLETED"), "{counts:?}");
            break;
        }
        assert!(Instant::now() < deadline, "runs left RUNNING: {counts:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    store.close().await;
}
