//! Hooks: background after the response, contained failures, retries, guardrails, inline events.

use crate::helpers::*;
use crate::mock_openai::MockOpenAi;
use agentos::{Agent, AgentOs, Hook, HookContext, HookError, OpenAIChat, Workflow};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn background_hooks_finish_after_the_response() {
    let app = spawn_app().await;
    let (status, body) = app
        .run_json(&[("message", "Explain the benefits of exercise")])
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "COMPLETED");
    // Each hook sleeps 1 s: the response must not have waited for them.
    assert!(
        !app.hooks.entries().iter().any(|e| e.starts_with("done:")),
        "response waited for a hook: {:?}",
        app.hooks.entries()
    );
    assert!(
        app.hooks
            .wait_for("done:Analyzer", Duration::from_secs(5))
            .await
    );
    assert!(
        app.hooks
            .wait_for("done:Summarizer", Duration::from_secs(5))
            .await
    );

    // The job's final write follows the hook's last line: wait for it.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let jobs = loop {
        let jobs = app.hook_jobs().await;
        if jobs.iter().all(|j| j.status == "done") || std::time::Instant::now() > deadline {
            break jobs;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(jobs.len(), 2);
    for job in &jobs {
        assert_eq!(
            job.run_id.as_deref(),
            Some(body["run_id"].as_str().unwrap())
        );
        assert_eq!(job.name, "log_step_completion");
        assert_eq!(job.status, "done");
        assert_eq!(job.outcome.as_deref(), Some("ok"));
        assert_eq!(job.attempts, 1);
    }
}

/// A hook that records its call, then fails in the way its name says.
fn misbehaving(log: &HookLog, name: &'static str) -> Hook {
    let log = log.clone();
    Hook::new(name, move |ctx: HookContext| {
        let log = log.clone();
        async move {
            log.push(format!("{name}:{}", ctx.agent.name));
            match name {
                "failing" => Err(HookError::msg("the metrics service said no")),
                "panicking" => panic!("hook exploded"),
                "slow" => {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    Ok(())
                }
                _ => Ok(()),
            }
        }
    })
}

#[tokio::test]
async fn failing_panicking_and_slow_hooks_leave_the_response_and_other_hooks_intact() {
    let mock = Arc::new(MockOpenAi::start().await);
    let log = HookLog::default();
    let hooks: Vec<Hook> = ["failing", "panicking", "slow", "ok"]
        .into_iter()
        .map(|n| misbehaving(&log, n))
        .collect();
    let os = AgentOs::new()
        .workflow(seed_workflow(&mock.base_url(), &hooks))
        .run_hooks_in_background(true)
        .hook_timeout(Duration::from_millis(300))
        .hook_retries(1, Duration::from_millis(10));
    let app = spawn_with(os, mock, log.clone()).await;

    let (status, body) = app.run_json(&[("message", "hello")]).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "COMPLETED");
    assert_eq!(body["content"], "reply to: reply to: hello");
    assert!(log.wait_for("ok:Analyzer", Duration::from_secs(5)).await);
    assert!(log.wait_for("ok:Summarizer", Duration::from_secs(5)).await);

    // Every outcome is recorded, each on its own job.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let jobs = loop {
        let jobs = app.hook_jobs().await;
        if jobs
            .iter()
            .all(|j| j.status == "done" || j.status == "dead")
            || tokio::time::Instant::now() > deadline
        {
            break jobs;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(jobs.len(), 8);
    for job in &jobs {
        let (status, outcome) = match job.name.as_str() {
            "failing" => ("dead", "error"),
            "panicking" => ("dead", "panic"),
            "slow" => ("dead", "timeout"),
            _ => ("done", "ok"),
        };
        assert_eq!(
            (job.status.as_str(), job.outcome.as_deref()),
            (status, Some(outcome)),
            "{job:?}"
        );
    }
    let failing = jobs.iter().find(|j| j.name == "failing").unwrap();
    assert_eq!(
        failing.last_error.as_deref(),
        Some("the metrics service said no")
    );
    let panicking = jobs.iter().find(|j| j.name == "panicking").unwrap();
    assert!(
        panicking
            .last_error
            .as_deref()
            .unwrap()
            .contains("hook exploded")
    );

    // The server is still up and still answers runs.
    let (status, again) = app.run_json(&[("message", "again")]).await;
    assert_eq!((status, again["status"].as_str()), (200, Some("COMPLETED")));
}

#[tokio::test]
async fn an_inline_panicking_hook_does_not_break_the_run() {
    let mock = Arc::new(MockOpenAi::start().await);
    let log = HookLog::default();
    let hooks = [misbehaving(&log, "panicking"), misbehaving(&log, "ok")];
    let os = AgentOs::new().workflow(seed_workflow(&mock.base_url(), &hooks));
    let app = spawn_with(os, mock, log.clone()).await;
    let (status, body) = app.run_json(&[("message", "hello")]).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "COMPLETED");
    // Inline hooks ran before the response, in order, the panic contained.
    assert_eq!(
        log.entries(),
        [
            "panicking:Analyzer",
            "ok:Analyzer",
            "panicking:Summarizer",
            "ok:Summarizer"
        ]
    );
    assert!(
        app.hook_jobs().await.is_empty(),
        "inline hooks are not jobs"
    );
}

#[tokio::test]
async fn inline_hooks_stream_agnos_hook_events() {
    let mock = Arc::new(MockOpenAi::start().await);
    let log = HookLog::default();
    let os = AgentOs::new().workflow(seed_workflow(&mock.base_url(), &[misbehaving(&log, "ok")]));
    let app = spawn_with(os, mock, log).await;
    let res = app.post_run(&[("message", "hello")]).await;
    let names: Vec<String> = parse_sse(&res.text().await.unwrap())
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let at = |n: &str| names.iter().position(|x| x == n).unwrap();
    assert!(at("RunContentCompleted") < at("PostHookStarted"));
    assert!(at("PostHookStarted") < at("PostHookCompleted"));
    assert!(at("PostHookCompleted") < at("RunCompleted"));
}

#[tokio::test]
async fn a_failed_background_hook_is_retried_and_knows_its_attempt() {
    let mock = Arc::new(MockOpenAi::start().await);
    let log = HookLog::default();
    let flaky = {
        let log = log.clone();
        Hook::new("flaky", move |ctx: HookContext| {
            let log = log.clone();
            async move {
                let job = ctx.job.clone().expect("background hooks know their job");
                log.push(format!("attempt:{}:{}", ctx.agent.name, job.attempt));
                if job.attempt < 2 {
                    return Err(HookError::msg("transient"));
                }
                Ok(())
            }
        })
        .background()
        .max_attempts(3) // the hook's own limit wins over the OS-wide one below
    };
    let os = AgentOs::new()
        .workflow(seed_workflow(&mock.base_url(), &[flaky]))
        .hook_retries(1, Duration::from_millis(20))
        .hook_poll_interval(Duration::from_millis(50));
    let app = spawn_with(os, mock, log.clone()).await;
    let (status, _) = app.run_json(&[("message", "hello")]).await;
    assert_eq!(status, 200);
    assert!(
        log.wait_for("attempt:Analyzer:2", Duration::from_secs(5))
            .await
    );
    assert!(
        log.wait_for("attempt:Summarizer:2", Duration::from_secs(5))
            .await
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let jobs = app.hook_jobs().await;
    assert!(
        jobs.iter().all(|j| j.status == "done" && j.attempts == 2),
        "{jobs:?}"
    );
}

fn guarded_workflow(model_url: &str) -> Workflow {
    let guard = Hook::new("no_secrets", |ctx: HookContext| async move {
        if ctx.run_input.input_content.contains("password") {
            return Err(HookError::input_check("Input contains a password"));
        }
        Ok(())
    })
    .guardrail();
    let model = OpenAIChat::new("gpt-5.2").base_url(model_url).api_key("k");
    Workflow::new(WF).steps([Agent::new("Analyzer").model(model).pre_hook(guard)])
}

#[tokio::test]
async fn a_pre_hook_can_reject_the_input() {
    let mock = Arc::new(MockOpenAi::start().await);
    let os = AgentOs::new()
        .workflow(guarded_workflow(&mock.base_url()))
        .run_hooks_in_background(true);
    let app = spawn_with(os, mock, HookLog::default()).await;

    let (status, body) = app
        .run_json(&[
            ("message", "my password is hunter2"),
            ("session_id", "s-guard"),
        ])
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["detail"], "Input contains a password");
    assert!(app.mock.requests().is_empty(), "the model is never called");
    let (_, runs) = app
        .get_json(&format!("/workflows/{WF}/runs?session_id=s-guard"))
        .await;
    assert_eq!(runs[0]["status"], "ERROR");
    assert_eq!(runs[0]["error"], "Input contains a password");

    let res = app.post_run(&[("message", "password again")]).await;
    let events = parse_sse(&res.text().await.unwrap());
    let (_, err) = events.iter().find(|(n, _)| n == "RunError").unwrap();
    assert_eq!(err["error_type"], "input_check_error");
    assert_eq!(err["error_id"], "input_not_allowed");
    assert_eq!(events.last().unwrap().0, "WorkflowError");

    let (status, ok) = app.run_json(&[("message", "hello")]).await;
    assert_eq!((status, ok["status"].as_str()), (200, Some("COMPLETED")));
}

#[tokio::test]
async fn hooks_see_the_request_extra_fields_metadata_and_ids() {
    let mock = Arc::new(MockOpenAi::start().await);
    let log = HookLog::default();
    let inspect = {
        let log = log.clone();
        Hook::new("inspect", move |ctx: HookContext| {
            let log = log.clone();
            async move {
                let out = ctx.run_output().expect("post-hooks see the output");
                log.push(format!(
                    "{}|{}|{}|{}|{}|{}|{}",
                    ctx.agent.id,
                    ctx.extra["foo"],
                    ctx.extra["flag"],
                    ctx.metadata
                        .as_ref()
                        .map(|m| m["k"].clone())
                        .unwrap_or_default(),
                    ctx.user_id.as_deref().unwrap_or("-"),
                    ctx.session_id,
                    out.content_text(),
                ));
                Ok(())
            }
        })
    };
    let os = AgentOs::new().workflow(seed_workflow(&mock.base_url(), &[inspect]));
    let app = spawn_with(os, mock, log.clone()).await;
    let (status, _) = app
        .run_json(&[
            ("message", "hi"),
            ("foo", "bar"),
            ("flag", "TRUE"),
            ("metadata", r#"{"k": 7}"#),
            ("user_id", "u-9"),
            ("session_id", "s-ctx"),
        ])
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        log.entries()[0],
        r#"analyzer|"bar"|true|7|u-9|s-ctx|reply to: hi"#
    );
}

#[tokio::test]
async fn a_waiting_hook_reads_the_output_from_its_run_even_after_the_session_is_deleted() {
    let mock = Arc::new(MockOpenAi::start().await);
    let log = HookLog::default();
    // The one slot stays taken until the gate opens, so every other job waits in the database.
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let hook = {
        let (log, gate) = (log.clone(), gate.clone());
        Hook::new("log_step_completion", move |ctx: HookContext| {
            let (log, gate) = (log.clone(), gate.clone());
            async move {
                drop(gate.acquire().await);
                let out = ctx.run_output().expect("post-hooks see the output");
                log.push(format!(
                    "done:{}|{}|{}",
                    ctx.session_id,
                    ctx.agent.name,
                    out.content_text()
                ));
                Ok::<(), HookError>(())
            }
        })
    };
    let os = AgentOs::new()
        .workflow(seed_workflow(&mock.base_url(), &[hook]))
        .run_hooks_in_background(true)
        .hook_concurrency(1)
        .hook_poll_interval(Duration::from_millis(50));
    let app = spawn_with(os, mock, log.clone()).await;
    for session in ["kept", "doomed"] {
        let message = format!("run in {session}");
        let (status, _) = app
            .run_json(&[("message", &message), ("session_id", session)])
            .await;
        assert_eq!(status, 200);
    }
    // The agents' outputs are stored once, in the runs: the jobs refer to them.
    let jobs = app.hook_jobs().await;
    assert_eq!(jobs.len(), 4);
    for job in &jobs {
        let payload: serde_json::Value = serde_json::from_str(&job.payload).unwrap();
        assert!(
            agentos::store::needs_run_output(&job.payload) && payload["run_output"].is_null(),
            "{payload}"
        );
    }
    // Deleting the session deletes its run, not the hook jobs still owed: they keep the output.
    let response = app
        .client
        .delete(app.url("/sessions/doomed"))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let (status, _) = app.get_json("/sessions/doomed").await;
    assert_eq!(status, 404);
    gate.add_permits(100);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while log.entries().len() < 4 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only these hooks ran: {:?}",
            log.entries()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut done = log.entries();
    done.sort();
    assert_eq!(
        done,
        [
            "done:doomed|Analyzer|reply to: run in doomed",
            "done:doomed|Summarizer|reply to: reply to: run in doomed",
            "done:kept|Analyzer|reply to: run in kept",
            "done:kept|Summarizer|reply to: reply to: run in kept",
        ]
    );
    let jobs = app.hook_jobs().await;
    assert!(
        jobs.iter().all(|j| j.status == "done" && j.attempts == 1),
        "{jobs:?}"
    );
}

#[tokio::test]
async fn hooks_beyond_the_concurrency_wait_in_the_database_and_all_run() {
    let mock = Arc::new(MockOpenAi::start().await);
    let log = HookLog::default();
    // Like `sleeping_hook`, and it says which run's context it got: a job waiting for the one
    // slot keeps only its id in memory, and runs with the context stored in its row.
    let hook = {
        let log = log.clone();
        Hook::new("log_step_completion", move |ctx: HookContext| {
            let log = log.clone();
            async move {
                log.push(format!("start:{}", ctx.agent.name));
                tokio::time::sleep(Duration::from_millis(100)).await;
                let out = ctx.run_output().expect("post-hooks see the output");
                log.push(format!(
                    "done:{}|{}",
                    ctx.agent.name,
                    out.content_text().lines().next().unwrap_or_default()
                ));
                Ok::<(), HookError>(())
            }
        })
    };
    let wf = seed_workflow(&mock.base_url(), &[hook]);
    let os = AgentOs::new()
        .workflow(wf)
        .run_hooks_in_background(true)
        .hook_concurrency(1)
        .hook_poll_interval(Duration::from_millis(50));
    let app = spawn_with(os, mock, log.clone()).await;
    for i in 0..3 {
        let (status, _) = app.run_json(&[("message", &format!("run {i}"))]).await;
        assert_eq!(status, 200);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let done = log
            .entries()
            .iter()
            .filter(|e| e.starts_with("done:"))
            .count();
        if done == 6 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {done} of 6 hooks ran"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Each run's two hooks ran once each, with that run's own output.
    let mut done: Vec<String> = log
        .entries()
        .into_iter()
        .filter(|e| e.starts_with("done:"))
        .collect();
    done.sort();
    let mut expected: Vec<String> = (0..3)
        .flat_map(|i| {
            [
                format!("done:Analyzer|reply to: run {i}"),
                format!("done:Summarizer|reply to: reply to: run {i}"),
            ]
        })
        .collect();
    expected.sort();
    assert_eq!(done, expected);
    // One at a time: no two hooks overlapped.
    let entries = log.entries();
    for pair in entries.chunks(2) {
        assert!(
            pair[0].starts_with("start:") && pair[1].starts_with("done:"),
            "{entries:?}"
        );
    }
    let jobs = app.hook_jobs().await;
    assert!(
        jobs.iter().all(|j| j.status == "done" && j.attempts == 1),
        "{jobs:?}"
    );
}
