//! Process-level, on Postgres: two replicas of the seed example (the built binary) share one
//! database; one is killed with SIGKILL half-way through; the other finishes everything.

use crate::example::{start_example_in, start_named_example_in};
use crate::helpers::WF;
use crate::mock_openai::MockOpenAi;
use crate::pg_backend::TestDb;
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Runs posted in all (the issue asks for 500; a debug build on a shared 2-core machine does
/// them in well under a minute).
const RUNS: usize = 500;
/// Clients posting at once.
const CLIENTS: usize = 16;
/// Sessions the runs are spread over.
const SESSIONS: usize = 10;

/// Posts one non-streamed run to `base`; `None` if the replica is unreachable or died mid-way.
async fn post(client: &reqwest::Client, base: &str, i: usize) -> Option<Value> {
    let form = reqwest::multipart::Form::new()
        .text("message", format!("run {i}"))
        .text("stream", "false")
        .text("session_id", format!("s{}", i % SESSIONS));
    let res = client
        .post(format!("{base}/workflows/{WF}/runs"))
        .multipart(form)
        .send()
        .await
        .ok()?;
    res.json().await.ok()
}

async fn get(client: &reqwest::Client, url: String) -> Value {
    client.get(url).send().await.unwrap().json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_the_runs_and_a_survivor_finishes_a_killed_ones_work() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let agentos::DbConfig::Postgres(url) = db.config() else {
        unreachable!("a Postgres test database")
    };
    let mock = MockOpenAi::start().await;
    // Each model call takes a moment, so runs are in flight when a replica dies.
    mock.set_delay(Duration::from_millis(20));
    let envs = [
        ("OPENAI_BASE_URL", mock.base_url()),
        ("OPENAI_API_KEY", "test-key".to_owned()),
        ("DATABASE_URL", url),
    ];
    let a = start_example_in(tempfile::tempdir().unwrap(), &envs).await;
    let b = start_example_in(tempfile::tempdir().unwrap(), &envs).await;
    let (a_base, b_base) = (a.base.clone(), b.base.clone());

    // CLIENTS clients alternate between the replicas, like a load balancer; a post that fails
    // (the replica died) goes to the other one.
    let next = Arc::new(AtomicUsize::new(0));
    let answered = Arc::new(AtomicUsize::new(0));
    let clients = (0..CLIENTS).map(|_| {
        let (next, answered) = (next.clone(), answered.clone());
        let (a_base, b_base) = (a_base.clone(), b_base.clone());
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= RUNS {
                    return;
                }
                let (first, second) = if i % 2 == 0 {
                    (&a_base, &b_base)
                } else {
                    (&b_base, &a_base)
                };
                let body = match post(&client, first, i).await {
                    Some(body) => body,
                    None => post(&client, second, i)
                        .await
                        .expect("the surviving replica answers"),
                };
                assert_eq!(body["status"], "COMPLETED", "{body}");
                answered.fetch_add(1, Ordering::SeqCst);
            }
        })
    });
    let clients: Vec<_> = clients.collect();
    while answered.load(Ordering::SeqCst) < RUNS / 2 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _dir = a.kill_9().await;
    for c in clients {
        c.await.unwrap();
    }
    assert_eq!(answered.load(Ordering::SeqCst), RUNS);

    // Within a bound, every run accepted by either replica is terminal (the killed one's runs
    // in flight end ERROR) and every hook job of every completed run is done.
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let mut runs = Vec::new();
        for s in 0..SESSIONS {
            let page = get(
                &client,
                format!("{b_base}/workflows/{WF}/runs?session_id=s{s}"),
            )
            .await;
            runs.extend(page.as_array().unwrap().clone());
        }
        let unfinished = runs
            .iter()
            .filter(|r| r["status"] == "RUNNING" || r["status"] == "PENDING")
            .count();
        let completed = runs.iter().filter(|r| r["status"] == "COMPLETED").count();
        let jobs = get(&client, format!("{b_base}/hooks/jobs?limit=1")).await;
        let done = get(&client, format!("{b_base}/hooks/jobs?status=done&limit=1")).await;
        let (jobs, done) = (
            jobs["meta"]["total_count"].as_u64().unwrap(),
            done["meta"]["total_count"].as_u64().unwrap(),
        );
        let settled = unfinished == 0 && jobs == done && jobs == 2 * completed as u64;
        if settled || Instant::now() > deadline {
            let errors = runs.iter().filter(|r| r["status"] == "ERROR").count();
            eprintln!(
                "{} runs: {completed} completed, {errors} interrupted; {done}/{jobs} hook jobs done",
                runs.len()
            );
            assert!(
                runs.len() >= RUNS,
                "{} runs stored for {RUNS} answered",
                runs.len()
            );
            assert!(completed >= RUNS, "every answered run is stored COMPLETED");
            for r in runs.iter().filter(|r| r["status"] == "ERROR") {
                assert_eq!(r["error"], "interrupted: server restarted", "{r}");
            }
            assert_eq!(unfinished, 0, "runs left RUNNING after the kill");
            assert_eq!(
                jobs,
                2 * completed as u64,
                "two hook jobs per completed run"
            );
            assert_eq!(done, jobs, "every hook job is done");
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    drop(b);
    db.cleanup().await;
}

/// Reads an SSE response until its text contains `needle`; returns the text so far.
async fn read_until(res: &mut reqwest::Response, needle: &str) -> String {
    let mut text = String::new();
    while !text.contains(needle) {
        let chunk = res.chunk().await.unwrap().expect("stream ended early");
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn across_two_replica_processes_cancel_and_resume_reach_the_run_where_it_executes() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let agentos::DbConfig::Postgres(url) = db.config() else {
        unreachable!("a Postgres test database")
    };
    let mock = MockOpenAi::start().await;
    let envs = [
        ("OPENAI_BASE_URL", mock.base_url()),
        ("OPENAI_API_KEY", "test-key".to_owned()),
        ("DATABASE_URL", url),
    ];
    let a = start_example_in(tempfile::tempdir().unwrap(), &envs).await;
    let b = start_example_in(tempfile::tempdir().unwrap(), &envs).await;
    let client = reqwest::Client::new();
    let run_url = |base: &str| format!("{base}/workflows/{WF}/runs");

    // Cancel: a run streaming from A, mid model call (30 s), cancelled through B.
    mock.set_delay(Duration::from_secs(30));
    let form = reqwest::multipart::Form::new().text("message", "stop me");
    let mut res = client
        .post(run_url(&a.base))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let text = read_until(&mut res, "ModelRequestStarted").await;
    let run_id = crate::helpers::parse_sse(&text)[0].1["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cancel = client
        .post(format!("{}/{run_id}/cancel", run_url(&b.base)))
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
        ["WorkflowCancelled", "WorkflowCompleted"]
    );

    // Resume: a resumable run streaming from A, its client gone, followed live through B.
    mock.set_delay(Duration::from_millis(400));
    let form = reqwest::multipart::Form::new()
        .text("message", "follow me")
        .text("background", "true");
    let mut res = client
        .post(run_url(&a.base))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let text = read_until(&mut res, "RunStarted").await;
    drop(res);
    let seen = crate::helpers::parse_sse(&text[..text.rfind("\n\n").unwrap() + 2]);
    let last = seen.last().unwrap().1["event_index"].as_i64().unwrap();
    let run_id = seen[0].1["run_id"].as_str().unwrap().to_owned();
    let form = reqwest::multipart::Form::new().text("last_event_index", last.to_string());
    let res = client
        .post(format!("{}/{run_id}/resume", run_url(&b.base)))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let body = tokio::time::timeout(Duration::from_secs(20), res.text())
        .await
        .expect("the resumed stream did not end")
        .unwrap();
    let events = crate::helpers::parse_sse(&body);
    let indices: Vec<i64> = events
        .iter()
        .filter_map(|(_, d)| d["event_index"].as_i64())
        .collect();
    let expected: Vec<i64> = (last + 1..=*indices.last().unwrap()).collect();
    assert_eq!(
        indices, expected,
        "every event after the last seen, once, in order"
    );
    assert_eq!(events.last().unwrap().0, "WorkflowCompleted");
    let stored = get(&client, format!("{}/{run_id}", run_url(&b.base))).await;
    assert_eq!(stored["status"], "COMPLETED");
    mock.set_delay(Duration::ZERO);
    let _ = a.terminate().await;
    let _ = b.terminate().await;
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_team_run_cancelled_through_another_replica_stops_its_members_there() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let agentos::DbConfig::Postgres(url) = db.config() else {
        unreachable!("a Postgres test database")
    };
    let mock = MockOpenAi::start().await;
    // The leader delegates to both members at once; their calls take 30 s.
    mock.push_tool_calls(&[
        (
            "delegate_task_to_member",
            serde_json::json!({"member_id": "researcher", "task": "dig"}),
        ),
        (
            "delegate_task_to_member",
            serde_json::json!({"member_id": "writer", "task": "draft"}),
        ),
    ]);
    mock.slow_after(1, Duration::from_secs(30));
    let envs = [
        ("OPENAI_BASE_URL", mock.base_url()),
        ("OPENAI_API_KEY", "test-key".to_owned()),
        ("DATABASE_URL", url),
    ];
    let a = start_named_example_in("agent_os", tempfile::tempdir().unwrap(), &envs).await;
    let b = start_named_example_in("agent_os", tempfile::tempdir().unwrap(), &envs).await;
    let client = reqwest::Client::new();
    let runs = |base: &str| format!("{base}/teams/research-team/runs");
    let form = reqwest::multipart::Form::new().text("message", "stop us");
    let mut res = client
        .post(runs(&a.base))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let mut text = String::new();
    // The two members' model calls are under way.
    while text.matches("event: ModelRequestStarted").count() < 2 {
        let chunk = res.chunk().await.unwrap();
        let chunk = chunk.unwrap_or_else(|| panic!("stream ended early: {text}"));
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let run_id = crate::helpers::parse_sse(&text)[0].1["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cancel = client
        .post(format!("{}/{run_id}/cancel", runs(&b.base)))
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.status(), 200);
    let rest = tokio::time::timeout(Duration::from_secs(10), res.text())
        .await
        .expect("the team run on A did not stop after a cancel sent to B")
        .unwrap();
    let events = crate::helpers::parse_sse(&format!("{text}{rest}"));
    assert_eq!(events.last().unwrap().0, "TeamRunCancelled");
    let stored = get(&client, format!("{}/{run_id}", runs(&b.base))).await;
    assert_eq!(stored["status"], "CANCELLED", "{stored}");
    let members = stored["member_responses"].as_array().unwrap();
    assert_eq!(members.len(), 2);
    assert!(
        members.iter().all(|m| m["status"] == "CANCELLED"),
        "{stored}"
    );
    mock.slow_after(usize::MAX, Duration::ZERO);
    let _ = a.terminate().await;
    let _ = b.terminate().await;
    db.cleanup().await;
}
