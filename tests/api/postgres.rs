//! The HTTP suite's key paths on Postgres (`AGENTOS_TEST_POSTGRES_URL`, a fresh schema per
//! test): a run stored and its hooks done, a replica taking over what a dead one left, and two
//! replicas writing one session at once.

use crate::helpers::{HookLog, TestApp, WF, seed_workflow, sleeping_hook, spawn_on_db};
use crate::mock_openai::MockOpenAi;
use crate::pg_backend::TestDb;
use agentos::store::{HOOK_JOB_KIND, NewJob, RunRecord, SessionRecord};
use agentos::{AgentOs, RunStatus};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The seed app (1 s background hooks, unless `hook_sleep` says otherwise) on `db`.
async fn seed_app_on(
    db: &TestDb,
    mock: Arc<MockOpenAi>,
    hooks: HookLog,
    hook_sleep: Duration,
) -> TestApp {
    let wf = seed_workflow(&mock.base_url(), &[sleeping_hook(&hooks, hook_sleep)]);
    let os = AgentOs::new()
        .workflow(wf)
        .run_hooks_in_background(true)
        .hook_retries(1, Duration::from_millis(10))
        .hook_poll_interval(Duration::from_millis(50))
        .owner_heartbeat(Duration::from_millis(200));
    spawn_on_db(os, db.config(), mock, hooks).await
}

/// Polls `GET path` until `done(json)` holds, up to `limit`; returns the last answer.
async fn poll(app: &TestApp, path: &str, limit: Duration, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let (status, body) = app.get_json(path).await;
        assert_eq!(status, 200, "{path}: {body}");
        if done(&body) || Instant::now() > deadline {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test]
async fn on_postgres_a_run_is_stored_and_its_hooks_are_done() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let mock = Arc::new(MockOpenAi::start().await);
    let hooks = HookLog::default();
    let mut app = seed_app_on(&db, mock, hooks.clone(), Duration::from_millis(100)).await;
    let (status, body) = app
        .run_json(&[("message", "Explain exercise"), ("session_id", "s1")])
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "COMPLETED");
    assert_eq!(body["content"], "reply to: reply to: Explain exercise");
    let run_id = body["run_id"].as_str().unwrap();

    let (status, stored) = app
        .get_json(&format!("/workflows/{WF}/runs/{run_id}?session_id=s1"))
        .await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["status"], "COMPLETED");
    assert_eq!(stored["content"], body["content"]);

    assert!(
        hooks
            .wait_for("done:Summarizer", Duration::from_secs(10))
            .await
    );
    let jobs = poll(
        &app,
        "/hooks/jobs?status=done",
        Duration::from_secs(10),
        |j| j["meta"]["total_count"] == 2,
    )
    .await;
    assert_eq!(jobs["meta"]["total_count"], 2, "{jobs}");
    assert!(
        jobs["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|j| j["run_id"] == run_id)
    );
    app.stop().await;
    db.cleanup().await;
}

#[tokio::test]
async fn on_postgres_a_replica_takes_over_what_a_dead_replica_left() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    // A replica that died mid-flight: a run still RUNNING, and a hook job it was running.
    let dead = db.open().await;
    let owner = dead.owner_id().to_owned();
    dead.renew_owner_lease(now() + 300).await.unwrap(); // its last heartbeat
    let session = SessionRecord {
        session_id: "s-crash".into(),
        session_type: agentos::ComponentKind::Workflow,
        component_id: WF.into(),
        user_id: None,
        session_name: None,
        session_state: "{}".into(),
        created_at: now(),
        updated_at: now(),
    };
    let run = |id: &str| RunRecord {
        run_id: id.into(),
        session_id: "s-crash".into(),
        component_type: agentos::ComponentKind::Workflow,
        component_id: WF.into(),
        user_id: None,
        status: RunStatus::Running,
        input: "hi".into(),
        output: None,
        error: None,
        created_at: now(),
        updated_at: now(),
    };
    dead.begin_run(&session, &run("in-flight"), None)
        .await
        .unwrap();
    dead.begin_run(&session, &run("answered"), None)
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
        lease_owner: owner.clone(),
        lease_until: now() + 3_600_000,
        claimed: false,
        trace_parent: None,
    };
    let output = json!({"input": "hi", "content_type": "str", "workflow_id": WF,
        "workflow_name": "AnalysisWorkflow", "run_id": "answered", "session_id": "s-crash",
        "created_at": 0, "status": "COMPLETED"});
    dead.finish_run(
        "answered",
        RunStatus::Completed,
        &output.to_string(),
        None,
        vec![job],
    )
    .await
    .unwrap();
    let claimed = dead
        .claim_job("job-1", &owner, now() + 3_600_000)
        .await
        .unwrap();
    assert!(claimed.is_some());
    dead.close().await;

    let mock = Arc::new(MockOpenAi::start().await);
    let hooks = HookLog::default();
    let mut app = seed_app_on(&db, mock, hooks.clone(), Duration::from_millis(10)).await;
    // The survivor's own runs are untouched while the dead one's are reconciled.
    let (status, body) = app
        .run_json(&[("message", "still here"), ("session_id", "s2")])
        .await;
    assert_eq!(
        (status, &body["status"]),
        (200, &json!("COMPLETED")),
        "{body}"
    );

    assert!(
        hooks
            .wait_for("done:Analyzer", Duration::from_secs(20))
            .await,
        "the dead replica's hook job ran here"
    );
    let runs = poll(
        &app,
        &format!("/workflows/{WF}/runs?session_id=s-crash"),
        Duration::from_secs(20),
        |r| r[0]["status"] == "ERROR",
    )
    .await;
    assert_eq!(runs[0]["run_id"], "in-flight");
    assert_eq!(runs[0]["status"], "ERROR");
    assert_eq!(runs[0]["error"], "interrupted: server restarted");
    assert_eq!(runs[1]["status"], "COMPLETED");
    let jobs = poll(
        &app,
        "/hooks/jobs?run_id=answered",
        Duration::from_secs(10),
        |j| j["data"][0]["status"] == "done",
    )
    .await;
    assert_eq!(jobs["data"][0]["status"], "done", "{jobs}");
    assert_eq!(
        jobs["data"][0]["attempts"], 2,
        "the dead replica's attempt counts"
    );
    app.stop().await;
    db.cleanup().await;
}

#[tokio::test]
async fn on_postgres_two_replicas_writing_one_session_at_once_store_every_run() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let mock = Arc::new(MockOpenAi::start().await);
    let hooks = HookLog::default();
    let mut a = seed_app_on(&db, mock.clone(), hooks.clone(), Duration::from_millis(10)).await;
    let mut b = seed_app_on(&db, mock, hooks, Duration::from_millis(10)).await;
    let posts = (0..24).map(|i| {
        let app = if i % 2 == 0 { &a } else { &b };
        let message = format!("message {i}");
        async move {
            app.run_json(&[("message", message.as_str()), ("session_id", "shared")])
                .await
        }
    });
    let answers = futures::future::join_all(posts).await;
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
        assert_eq!(body["status"], "COMPLETED");
    }
    for app in [&a, &b] {
        let (status, runs) = app
            .get_json(&format!("/workflows/{WF}/runs?session_id=shared"))
            .await;
        assert_eq!(status, 200, "{runs}");
        let runs = runs.as_array().unwrap();
        assert_eq!(
            runs.len(),
            24,
            "every run is stored, whichever replica took it"
        );
        for i in 0..24 {
            let content = format!("reply to: reply to: message {i}");
            assert!(
                runs.iter()
                    .any(|r| r["status"] == "COMPLETED" && r["content"] == content),
                "run {i} is missing or overwritten"
            );
        }
    }
    a.stop().await;
    b.stop().await;
    db.cleanup().await;
}

#[tokio::test]
async fn on_postgres_a_cancel_sent_to_one_replica_stops_a_run_on_another() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let mock = Arc::new(MockOpenAi::start().await);
    let hooks = HookLog::default();
    let mut a = seed_app_on(&db, mock.clone(), hooks.clone(), Duration::from_millis(10)).await;
    let mut b = seed_app_on(&db, mock.clone(), hooks, Duration::from_millis(10)).await;
    // The model takes 30 s: the run on A is mid-call when the cancel comes.
    mock.set_delay(Duration::from_secs(30));
    let mut res = a
        .post_run(&[("message", "stop me"), ("session_id", "s-cancel")])
        .await;
    let mut text = String::new();
    while !text.contains("ModelRequestStarted") {
        let chunk = res.chunk().await.unwrap().expect("stream ended early");
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let run_id = crate::helpers::parse_sse(&text)[0].1["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cancel = b
        .client
        .post(b.url(&format!("/workflows/{WF}/runs/{run_id}/cancel")))
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.status(), 200);
    let rest = tokio::time::timeout(Duration::from_secs(10), res.text())
        .await
        .expect("the run on A did not stop after a cancel sent to B")
        .unwrap();
    let events = crate::helpers::parse_sse(&format!("{text}{rest}"));
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        &names[names.len() - 2..],
        ["WorkflowCancelled", "WorkflowCompleted"],
        "{names:?}"
    );
    let stored = poll(
        &b,
        &format!("/workflows/{WF}/runs/{run_id}?session_id=s-cancel"),
        Duration::from_secs(5),
        |r| r["status"] == "CANCELLED",
    )
    .await;
    assert_eq!(stored["status"], "CANCELLED");
    mock.set_delay(Duration::ZERO);
    a.stop().await;
    b.stop().await;
    db.cleanup().await;
}

#[tokio::test]
async fn on_postgres_a_stored_cancel_whose_notify_was_missed_stops_the_run_at_a_heartbeat() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let agentos::DbConfig::Postgres(url) = db.config() else {
        unreachable!("a Postgres test database")
    };
    let mock = Arc::new(MockOpenAi::start().await);
    let hooks = HookLog::default();
    // Heartbeats every 200 ms (seed_app_on).
    let mut app = seed_app_on(&db, mock.clone(), hooks, Duration::from_millis(10)).await;
    // The model takes 30 s: the run is mid-call when the cancel is stored.
    mock.set_delay(Duration::from_secs(30));
    let mut res = app
        .post_run(&[("message", "stop me"), ("session_id", "s-missed")])
        .await;
    let mut text = String::new();
    while !text.contains("ModelRequestStarted") {
        let chunk = res.chunk().await.unwrap().expect("stream ended early");
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let run_id = crate::helpers::parse_sse(&text)[0].1["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // What another replica's cancel leaves when its NOTIFY never arrives (this replica's
    // listening connection was reconnecting): the stored intent only.
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let marked = sqlx::query("UPDATE runs SET cancel_requested = 1 WHERE run_id = $1")
        .bind(&run_id)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(marked.rows_affected(), 1);
    pool.close().await;
    let stored_at = Instant::now();
    let rest = tokio::time::timeout(Duration::from_secs(5), res.text())
        .await
        .expect("a stored cancel was not acted on within 5 s (25 heartbeats)")
        .unwrap();
    let events = crate::helpers::parse_sse(&format!("{text}{rest}"));
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        &names[names.len() - 2..],
        ["WorkflowCancelled", "WorkflowCompleted"],
        "{names:?}"
    );
    assert!(
        stored_at.elapsed() < Duration::from_secs(2),
        "stopped {:?} after the cancel was stored: more than a few heartbeats",
        stored_at.elapsed()
    );
    let stored = poll(
        &app,
        &format!("/workflows/{WF}/runs/{run_id}?session_id=s-missed"),
        Duration::from_secs(5),
        |r| r["status"] == "CANCELLED",
    )
    .await;
    assert_eq!(stored["status"], "CANCELLED");
    mock.set_delay(Duration::ZERO);
    app.stop().await;
    db.cleanup().await;
}

#[tokio::test]
async fn on_postgres_a_resume_on_one_replica_follows_a_run_streamed_from_another() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let mock = Arc::new(MockOpenAi::start().await);
    let hooks = HookLog::default();
    let mut a = seed_app_on(&db, mock.clone(), hooks.clone(), Duration::from_millis(10)).await;
    let mut b = seed_app_on(&db, mock.clone(), hooks, Duration::from_millis(10)).await;
    mock.set_delay(Duration::from_millis(500));
    let mut res = a
        .post_run(&[
            ("message", "follow me"),
            ("background", "true"),
            ("session_id", "s-follow"),
        ])
        .await;
    let mut text = String::new();
    while !text.contains("RunStarted") {
        let chunk = res.chunk().await.unwrap().expect("stream ended early");
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    drop(res);
    let seen = crate::helpers::parse_sse(&text[..text.rfind("\n\n").unwrap() + 2]);
    let last = seen.last().unwrap().1["event_index"].as_i64().unwrap();
    let run_id = seen[0].1["run_id"].as_str().unwrap().to_owned();

    // B does not run it: it follows A's events through the database, live, to the end.
    let form = reqwest::multipart::Form::new()
        .text("last_event_index", last.to_string())
        .text("session_id", "s-follow");
    let res = b
        .client
        .post(b.url(&format!("/workflows/{WF}/runs/{run_id}/resume")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = tokio::time::timeout(Duration::from_secs(20), res.text())
        .await
        .expect("the resumed stream did not end")
        .unwrap();
    let events = crate::helpers::parse_sse(&body);
    assert_eq!(events[0].0, "catch_up");
    let indices: Vec<i64> = events[1..]
        .iter()
        .map(|(_, d)| d["event_index"].as_i64().unwrap())
        .collect();
    let expected: Vec<i64> = (last + 1..=*indices.last().unwrap()).collect();
    assert_eq!(
        indices, expected,
        "every event after the last seen, once, in order"
    );
    assert_eq!(events.last().unwrap().0, "WorkflowCompleted");
    let steps: Vec<&str> = events
        .iter()
        .filter(|(n, _)| n == "StepCompleted")
        .map(|(_, d)| d["step_name"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["Analyzer", "Summarizer"]);
    mock.set_delay(Duration::ZERO);
    a.stop().await;
    b.stop().await;
    db.cleanup().await;
}

#[tokio::test]
async fn on_postgres_a_resume_following_another_replica_ends_with_the_runs_last_event() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    // Another, live replica executes a run and has written its first events.
    let other = db.open().await;
    other.renew_owner_lease(now() + 3_600_000).await.unwrap();
    let session = SessionRecord {
        session_id: "s-elsewhere".into(),
        session_type: agentos::ComponentKind::Workflow,
        component_id: WF.into(),
        user_id: None,
        session_name: None,
        session_state: "{}".into(),
        created_at: now(),
        updated_at: now(),
    };
    let run = RunRecord {
        run_id: "elsewhere".into(),
        session_id: "s-elsewhere".into(),
        component_type: agentos::ComponentKind::Workflow,
        component_id: WF.into(),
        user_id: None,
        status: RunStatus::Running,
        input: "hi".into(),
        output: None,
        error: None,
        created_at: now(),
        updated_at: now(),
    };
    other.begin_run(&session, &run, None).await.unwrap();
    let event = |i: i64, name: &str| {
        (
            i,
            json!({"event": name, "run_id": "elsewhere", "event_index": i}).to_string(),
        )
    };
    other
        .append_run_events(
            "elsewhere",
            &[event(0, "WorkflowStarted"), event(1, "StepStarted")],
        )
        .await
        .unwrap();

    let mock = Arc::new(MockOpenAi::start().await);
    let mut app = seed_app_on(&db, mock, HookLog::default(), Duration::from_millis(10)).await;
    let form = reqwest::multipart::Form::new().text("last_event_index", "0");
    let mut res = app
        .client
        .post(app.url(&format!("/workflows/{WF}/runs/elsewhere/resume")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut text = String::new();
    while !text.contains("StepStarted") {
        let chunk = res.chunk().await.unwrap().expect("stream ended early");
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    // The run ends as a replica ends it: its final state is stored first, and its last events
    // (the final one is sent only once the state is stored) are written a moment later.
    other
        .finish_run("elsewhere", RunStatus::Completed, "{}", None, Vec::new())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    other
        .append_run_events(
            "elsewhere",
            &[event(2, "StepCompleted"), event(3, "WorkflowCompleted")],
        )
        .await
        .unwrap();
    let rest = tokio::time::timeout(Duration::from_secs(10), res.text())
        .await
        .expect("the followed stream did not end")
        .unwrap();
    let events = crate::helpers::parse_sse(&format!("{text}{rest}"));
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "catch_up",
            "StepStarted",
            "StepCompleted",
            "WorkflowCompleted"
        ],
        "the stream ends with the run's last event, not when its status turns final"
    );
    other.close().await;
    app.stop().await;
    db.cleanup().await;
}

#[tokio::test]
async fn on_postgres_a_dead_replicas_background_run_is_resumed_by_another() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    // A replica that died with a background run under way, its first step done (checkpointed).
    let dead = db.open().await;
    dead.renew_owner_lease(now() + 300).await.unwrap(); // its last heartbeat
    let session = SessionRecord {
        session_id: "s-orphan".into(),
        session_type: agentos::ComponentKind::Workflow,
        component_id: WF.into(),
        user_id: None,
        session_name: None,
        session_state: "{}".into(),
        created_at: now(),
        updated_at: now(),
    };
    let run = RunRecord {
        run_id: "orphan".into(),
        session_id: "s-orphan".into(),
        component_type: agentos::ComponentKind::Workflow,
        component_id: WF.into(),
        user_id: None,
        status: RunStatus::Pending,
        input: "carry on".into(),
        output: None,
        error: None,
        created_at: now(),
        updated_at: now(),
    };
    dead.begin_run(&session, &run, None).await.unwrap();
    let request = json!({"message": "carry on", "stream": false, "session_id": "s-orphan",
        "user_id": null, "extra": {}, "metadata": null, "background": true});
    dead.start_background_run("orphan", &request.to_string())
        .await
        .unwrap();

    // A live replica claims it once the dead one's lease has expired, and runs it to the end.
    let mock = Arc::new(MockOpenAi::start().await);
    let hooks = HookLog::default();
    let mut live = seed_app_on(&db, mock.clone(), hooks, Duration::from_millis(10)).await;
    let done = poll(
        &live,
        &format!("/workflows/{WF}/runs/orphan?session_id=s-orphan"),
        Duration::from_secs(15),
        |r| r["status"] == "COMPLETED" || r["status"] == "ERROR",
    )
    .await;
    assert_eq!(done["status"], "COMPLETED", "{done}");
    assert_eq!(done["content"], "reply to: reply to: carry on");
    assert_eq!(mock.requests().len(), 2);
    live.stop().await;
    db.cleanup().await;
}
