//! Teams that stop, fail and crash: a cancel stops the leader and every member in flight (all
//! stored CANCELLED), a member's failure is told truthfully, background team runs answer 202
//! and are polled, members' background hooks are durable jobs, and a background team run
//! killed with SIGKILL resumes without paying again for the members that had finished.

use crate::example::start_named_example_in;
use crate::helpers::{HookLog, fast_retries, parse_sse, sleeping_hook, spawn_with};
use crate::mock_openai::MockOpenAi;
use crate::teams::{member, post_team, run_team};
use agentos::{
    Agent, AgentOs, ModelError, OpenAIChat, ScriptedModel, ScriptedReply, Team, TeamMode,
};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A member answering through the mock (so a test can slow it down or hang it).
fn mocked(mock: &MockOpenAi, name: &str) -> Agent {
    Agent::new(name).model(
        OpenAIChat::new("gpt-5.2")
            .base_url(mock.base_url())
            .api_key("k")
            .retry_policy(fast_retries()),
    )
}

/// Reads an SSE response until `done` holds for its text; returns the text so far.
async fn read_until(res: &mut reqwest::Response, done: impl Fn(&str) -> bool) -> String {
    let mut text = String::new();
    while !done(&text) {
        let chunk = tokio::time::timeout(Duration::from_secs(10), res.chunk())
            .await
            .expect("no event in 10 s")
            .unwrap()
            .expect("stream ended early");
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    text
}

#[tokio::test]
async fn a_cancel_stops_the_leader_and_every_member_in_flight_and_stores_them_cancelled() {
    let mock = Arc::new(MockOpenAi::start().await);
    mock.hang();
    let leader_calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = leader_calls.clone();
    let leader = ScriptedModel::respond(move |req| {
        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(match req.turn() {
            0 => ScriptedReply::delegate("researcher", "dig").and_delegate("writer", "draft"),
            _ => ScriptedReply::text("should not be reached"),
        })
    });
    let team = Team::new("Research Team")
        .model(leader)
        .members([mocked(&mock, "Researcher"), mocked(&mock, "Writer")]);
    let app = spawn_with(AgentOs::new().team(team), mock.clone(), HookLog::default()).await;

    let mut res = post_team(&app, "research-team", &[("message", "tides")]).await;
    let text = read_until(&mut res, |t| {
        t.matches("event: ModelRequestStarted").count() == 2
    })
    .await;
    let events = parse_sse(&text);
    let run_id = events[0].1["run_id"].as_str().unwrap().to_owned();
    let started = Instant::now();
    let cancel = app
        .client
        .post(app.url(&format!("/teams/research-team/runs/{run_id}/cancel")))
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.status(), 200);
    let rest = tokio::time::timeout(Duration::from_secs(10), res.text())
        .await
        .expect("the team run did not stop")
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    let events = parse_sse(&format!("{text}{rest}"));
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.last(), Some(&"TeamRunCancelled"), "{names:?}");
    assert_eq!(
        names.iter().filter(|n| **n == "RunCancelled").count(),
        2,
        "{names:?}"
    );

    let (status, stored) = app
        .get_json(&format!("/teams/research-team/runs/{run_id}"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(stored["status"], "CANCELLED", "{stored}");
    let members = stored["member_responses"].as_array().unwrap();
    assert_eq!(members.len(), 2, "both members in flight are recorded");
    for m in members {
        assert_eq!(m["status"], "CANCELLED", "{m}");
        assert_eq!(m["parent_run_id"], run_id.as_str());
    }
    let session = stored["session_id"].as_str().unwrap();
    let (_, runs) = app.get_json(&format!("/sessions/{session}/runs")).await;
    let statuses: Vec<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["CANCELLED", "CANCELLED", "CANCELLED"]);
    // The leader was not asked again after the cancel.
    assert_eq!(leader_calls.load(std::sync::atomic::Ordering::SeqCst), 1);
}

fn failing(name: &str) -> Agent {
    Agent::new(name).model(ScriptedModel::from_fn(|_| {
        Err(ModelError::Malformed("the model broke".into()))
    }))
}

#[tokio::test]
async fn a_member_failure_is_told_to_the_leader_and_stored_truthfully() {
    // Coordinate: the leader reads the failure as an error and answers with what it knows.
    let leader = ScriptedModel::respond(|req| {
        Ok(match req.turn() {
            0 => ScriptedReply::delegate("researcher", "dig"),
            _ => ScriptedReply::text(format!(
                "I could not research: {}",
                req.tool_results()[0].content
            )),
        })
    });
    let team = Team::new("Research Team")
        .model(leader)
        .members([failing("Researcher"), member("Writer")]);
    // Route: the failed member's answer was to be the team's, so the team run fails.
    let router = Team::new("Router")
        .model(ScriptedModel::script([ScriptedReply::delegate(
            "researcher",
            "dig",
        )]))
        .members([failing("Researcher")])
        .mode(TeamMode::Route);
    let app = crate::teams::app_with(AgentOs::new().team(team).team(router)).await;

    let res = post_team(
        &app,
        "research-team",
        &[("message", "tides"), ("stream", "true")],
    )
    .await;
    let events = parse_sse(&res.text().await.unwrap());
    let error = events
        .iter()
        .find(|(n, _)| n == "TeamToolCallError")
        .expect("the delegation is reported as failed");
    assert!(
        error.1["error"]
            .as_str()
            .unwrap()
            .contains("member \"Researcher\" failed: malformed model response: the model broke"),
        "{}",
        error.1
    );
    assert!(
        events
            .iter()
            .any(|(n, d)| n == "RunError" && d["agent_id"] == "researcher")
    );
    let (_, done) = events.last().unwrap();
    let run_id = done["run_id"].as_str().unwrap();
    let (_, stored) = app
        .get_json(&format!("/teams/research-team/runs/{run_id}"))
        .await;
    assert_eq!(stored["status"], "COMPLETED");
    assert!(
        stored["content"]
            .as_str()
            .unwrap()
            .starts_with("I could not research: Error - member")
    );
    assert_eq!(stored["member_responses"][0]["status"], "ERROR");
    assert_eq!(stored["tools"][0]["tool_call_error"], true);

    let (status, body) = run_team(&app, "router", &[("message", "tides")]).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["status"], "ERROR",
        "never COMPLETED with an error text: {body}"
    );
    assert_eq!(body["member_responses"][0]["status"], "ERROR");
    let session = body["session_id"].as_str().unwrap();
    let (_, runs) = app
        .get_json(&format!("/teams/router/runs?session_id={session}"))
        .await;
    assert_eq!(runs[0]["status"], "ERROR");
    assert!(
        runs[0]["error"]
            .as_str()
            .unwrap()
            .contains("the model broke"),
        "{runs}"
    );
    let res = post_team(&app, "router", &[("message", "again"), ("stream", "true")]).await;
    let events = parse_sse(&res.text().await.unwrap());
    let (name, last) = events.last().unwrap();
    assert_eq!(name, "TeamRunError");
    assert_eq!(last["error_type"], "member_error");
}

#[tokio::test]
async fn a_background_team_run_answers_202_is_polled_and_an_idempotency_key_runs_it_once() {
    let leader = crate::teams::two_step_leader(("researcher", "dig"), ("writer", "draft"));
    let team = Team::new("Research Team")
        .model(leader)
        .members([member("Researcher"), member("Writer")]);
    let app = crate::teams::app_with(AgentOs::new().team(team)).await;
    let res = post_team(
        &app,
        "research-team",
        &[
            ("message", "tides"),
            ("stream", "false"),
            ("background", "true"),
        ],
    )
    .await;
    assert_eq!(res.status(), 202);
    let accepted: Value = res.json().await.unwrap();
    assert_eq!(accepted["status"], "PENDING");
    let run_id = accepted["run_id"].as_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let done = loop {
        let (_, body) = app
            .get_json(&format!("/teams/research-team/runs/{run_id}"))
            .await;
        if body["status"] == "COMPLETED" {
            break body;
        }
        assert!(Instant::now() < deadline, "{body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(done["member_responses"].as_array().unwrap().len(), 2);
    assert_eq!(done["content"], "Final: Writer did: draft");

    let keyed = |_: ()| {
        let form = reqwest::multipart::Form::new()
            .text("message", "once")
            .text("stream", "false");
        app.client
            .post(app.url("/teams/research-team/runs"))
            .header("Idempotency-Key", "team-key-1")
            .multipart(form)
            .send()
    };
    let first: Value = keyed(()).await.unwrap().json().await.unwrap();
    let again: Value = keyed(()).await.unwrap().json().await.unwrap();
    assert_eq!(first["run_id"], again["run_id"]);
    assert_eq!(first, again);
}

#[tokio::test]
async fn members_background_hooks_are_durable_jobs_after_the_response() {
    let mock = Arc::new(MockOpenAi::start().await);
    let log = HookLog::default();
    let hook = sleeping_hook(&log, Duration::from_millis(300));
    let leader = crate::teams::two_step_leader(("researcher", "dig"), ("writer", "draft"));
    let team = Team::new("Research Team").model(leader).members([
        member("Researcher").post_hook(hook.clone()),
        member("Writer").post_hook(hook),
    ]);
    let os = AgentOs::new()
        .team(team)
        .run_hooks_in_background(true)
        .hook_poll_interval(Duration::from_millis(50));
    let app = spawn_with(os, mock, log.clone()).await;
    let (_, body) = run_team(&app, "research-team", &[("message", "tides")]).await;
    assert_eq!(body["status"], "COMPLETED", "{body}");
    assert!(
        !log.contains("done:Researcher"),
        "the response waited for a hook"
    );
    assert!(log.wait_for("done:Writer", Duration::from_secs(5)).await);
    assert!(
        log.wait_for("done:Researcher", Duration::from_secs(5))
            .await
    );
    let run_id = body["run_id"].as_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let jobs: Vec<_> = app
            .hook_jobs()
            .await
            .into_iter()
            .filter(|j| j.run_id.as_deref() == Some(run_id))
            .collect();
        if jobs.len() == 2 && jobs.iter().all(|j| j.status == "done") {
            break;
        }
        assert!(Instant::now() < deadline, "{jobs:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The mock's requests whose system message starts with `prefix`.
fn calls_of(mock: &MockOpenAi, prefix: &str) -> usize {
    mock.requests()
        .iter()
        .filter(|r| {
            r["messages"][0]["content"]
                .as_str()
                .is_some_and(|s| s.starts_with(prefix))
        })
        .count()
}

#[tokio::test]
async fn a_background_team_run_killed_mid_way_resumes_without_repeating_finished_members() {
    let mock = MockOpenAi::start().await;
    // The leader delegates to the researcher (answered at once), then to the writer, whose
    // call hangs until the process is killed.
    mock.push_tool_calls(&[(
        "delegate_task_to_member",
        json!({"member_id": "researcher", "task": "Research tides"}),
    )]);
    mock.push_reply("Tides rise twice a day.");
    mock.push_tool_calls(&[(
        "delegate_task_to_member",
        json!({"member_id": "writer", "task": "Write about tides"}),
    )]);
    mock.slow_after(3, Duration::from_secs(60));
    let envs = [("OPENAI_BASE_URL", mock.base_url())];
    let example = start_named_example_in("agent_os", tempfile::tempdir().unwrap(), &envs).await;
    let form = reqwest::multipart::Form::new()
        .text("message", "tides")
        .text("stream", "false")
        .text("background", "true");
    let accepted: Value = reqwest::Client::new()
        .post(format!("{}/teams/research-team/runs", example.base))
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(accepted["status"], "PENDING", "{accepted}");
    let run_id = accepted["run_id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(10);
    while mock.requests().len() < 4 {
        assert!(Instant::now() < deadline, "the writer was never called");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let dir = example.kill_9().await;

    mock.slow_after(usize::MAX, Duration::ZERO);
    mock.push_reply("A short piece on tides.");
    mock.push_reply("Here is the report.");
    let again = start_named_example_in("agent_os", dir, &envs).await;
    let url = format!("{}/teams/research-team/runs/{run_id}", again.base);
    let deadline = Instant::now() + Duration::from_secs(20);
    let done = loop {
        let body: Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
        if body["status"] != "RUNNING" && body["status"] != "PENDING" {
            break body;
        }
        assert!(Instant::now() < deadline, "the run was not resumed: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(done["status"], "COMPLETED", "{done}");
    assert_eq!(done["content"], "Here is the report.");
    let members = done["member_responses"].as_array().unwrap();
    let ids: Vec<&str> = members
        .iter()
        .map(|m| m["agent_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["researcher", "writer"]);
    assert_eq!(members[0]["content"], "Tides rise twice a day.");
    assert_eq!(members[1]["content"], "A short piece on tides.");
    assert_eq!(done["tools"].as_array().unwrap().len(), 2);
    // Paid once: the researcher and the leader's first two replies were not asked again.
    assert_eq!(calls_of(&mock, "Research the topic"), 1);
    assert_eq!(
        calls_of(&mock, "Write a short report"),
        2,
        "the killed call, then once"
    );
    assert_eq!(calls_of(&mock, "Delegate research"), 3);
    assert_eq!(mock.requests().len(), 6);
    let (status, _) = again.terminate().await;
    assert!(status.success());
}
