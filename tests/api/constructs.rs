//! The workflow language through HTTP: function steps, Steps, Parallel, Condition, Loop,
//! Router, retries and `on_error`, session_state, and the step tree; JSON and SSE.

use crate::helpers::*;
use crate::mock_openai::MockOpenAi;
use agentos::{
    Agent, AgentOs, Condition, Loop, OnError, OpenAIChat, Parallel, Router, ScriptedModel, Step,
    StepInput, StepOutput, Steps, Workflow,
};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

async fn app_with(workflows: Vec<Workflow>) -> TestApp {
    let mock = Arc::new(MockOpenAi::start().await);
    let os = workflows
        .into_iter()
        .fold(AgentOs::new(), |os, wf| os.workflow(wf));
    spawn_with(os, mock, HookLog::default()).await
}

async fn post(app: &TestApp, wf: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let form = fields
        .iter()
        .fold(reqwest::multipart::Form::new(), |f, (k, v)| {
            f.text(k.to_string(), v.to_string())
        });
    app.client
        .post(app.url(&format!("/workflows/{wf}/runs")))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

/// A non-streamed run: status and body.
async fn run(app: &TestApp, wf: &str, fields: &[(&str, &str)]) -> (u16, Value) {
    let mut all = vec![("stream", "false")];
    all.extend_from_slice(fields);
    let res = post(app, wf, &all).await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

/// A streamed run's events.
async fn stream(app: &TestApp, wf: &str, fields: &[(&str, &str)]) -> Vec<(String, Value)> {
    let mut all = vec![("stream", "true")];
    all.extend_from_slice(fields);
    let res = post(app, wf, &all).await;
    assert_eq!(res.status(), 200);
    parse_sse(&res.text().await.unwrap())
}

fn names(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(n, _)| n.as_str()).collect()
}

fn position(events: &[(String, Value)], name: &str) -> usize {
    events
        .iter()
        .position(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no {name} in {:?}", names(events)))
}

fn scripted(name: &str) -> Agent {
    Agent::new(name).model(ScriptedModel::new())
}

fn shout() -> Step {
    Step::function("shout", |input: StepInput| async move {
        let text = input.previous_step_content.unwrap_or(input.input);
        Ok(StepOutput::new(text.to_uppercase()))
    })
}

#[tokio::test]
async fn function_steps_chain_and_a_stop_ends_the_workflow_early() {
    let wf = Workflow::new("fn-flow").steps([
        shout(),
        Step::function("gate", |input: StepInput| async move {
            let seen = input
                .get_step_content("shout")
                .unwrap_or_default()
                .to_owned();
            Ok(StepOutput::new(format!("stopped after {seen}")).with_stop(true))
        }),
        Step::function("never", |_| async { Ok(StepOutput::new("ran anyway")) }),
    ]);
    let app = app_with(vec![wf]).await;

    let (status, body) = run(&app, "fn-flow", &[("message", "hello")]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "COMPLETED");
    assert_eq!(body["content"], "stopped after HELLO");
    let steps = body["step_results"].as_array().unwrap();
    assert_eq!(steps.len(), 2, "the step after the stop never ran: {body}");
    assert_eq!(steps[0]["content"], "HELLO");
    assert_eq!(steps[0]["executor_type"], "function");
    assert_eq!(steps[0]["executor_name"], "shout");
    assert_eq!(steps[0]["step_type"], "Step");
    assert_eq!(steps[1]["stop"], true);
    assert!(
        steps[0].get("steps").is_none(),
        "a single step has no nested steps"
    );

    let events = stream(&app, "fn-flow", &[("message", "hello")]).await;
    assert_eq!(
        names(&events),
        [
            "WorkflowStarted",
            "StepStarted",
            "StepOutput",
            "StepCompleted",
            "StepStarted",
            "StepOutput",
            "StepCompleted",
            "WorkflowCompleted"
        ]
    );
    let (_, out) = &events[2];
    assert_eq!(out["step_name"], "shout");
    assert_eq!(out["step_index"], 0);
    assert_eq!(out["step_output"]["content"], "HELLO");
    assert_eq!(events[7].1["content"], "stopped after HELLO");
}

fn research_workflow() -> Workflow {
    Workflow::new("research").steps([
        Step::from(Parallel::new(
            "gather",
            [
                Step::from(scripted("Web")),
                Step::from(scripted("Papers")),
                Step::function("notes", |_| async { Ok(StepOutput::new("my notes")) }),
            ],
        )),
        Step::from(scripted("Writer")),
    ])
}

#[tokio::test]
async fn parallel_runs_every_branch_and_the_next_agent_gets_all_their_content() {
    let app = app_with(vec![research_workflow()]).await;
    let (status, body) = run(&app, "research", &[("message", "rust async")]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "COMPLETED");

    let gather = &body["step_results"][0];
    assert_eq!(gather["step_type"], "Parallel");
    assert_eq!(gather["executor_type"], "parallel");
    let content = gather["content"].as_str().unwrap();
    assert!(content.starts_with("## Parallel Execution Results\n\n### ✅ SUCCESS: Web\n"));
    assert!(
        content.contains("### ✅ SUCCESS: notes\nmy notes"),
        "{content}"
    );
    let children = gather["steps"].as_array().unwrap();
    let child_names: Vec<&str> = children
        .iter()
        .map(|c| c["step_name"].as_str().unwrap())
        .collect();
    assert_eq!(child_names, ["Web", "Papers", "notes"]);
    assert_eq!(children[0]["content"], "Scripted reply to: rust async");
    // The parallel's tokens add up its agents'.
    assert!(gather["metrics"]["total_tokens"].as_u64().unwrap() > 0);

    // The writer got every branch as a `=== name ===` section.
    let writer = body["content"].as_str().unwrap();
    assert!(
        writer.starts_with(
            "Scripted reply to: === Web ===\nScripted reply to: rust async\n\n=== Papers ==="
        ),
        "{writer}"
    );
    assert!(writer.ends_with("=== notes ===\nmy notes"), "{writer}");
    // Three agents ran: their runs are all there.
    assert_eq!(body["step_executor_runs"].as_array().unwrap().len(), 3);
    assert!(body["metrics"]["steps"]["Papers"].is_object());
    // The stored run keeps the nested outputs (GET one run, and the session's run list).
    let (run_id, session_id) = (
        body["run_id"].as_str().unwrap(),
        body["session_id"].as_str().unwrap(),
    );
    let (_, stored) = app
        .get_json(&format!("/workflows/research/runs/{run_id}"))
        .await;
    assert_eq!(stored["step_results"], body["step_results"]);
    let (_, listed) = app
        .get_json(&format!("/workflows/research/runs?session_id={session_id}"))
        .await;
    assert_eq!(listed[0]["step_results"], body["step_results"]);

    let events = stream(&app, "research", &[("message", "rust async")]).await;
    let started = position(&events, "ParallelExecutionStarted");
    let completed = position(&events, "ParallelExecutionCompleted");
    let (_, s) = &events[started];
    assert_eq!(s["parallel_step_count"], 3);
    assert_eq!(s["step_name"], "gather");
    let gather_id = s["step_id"].clone();
    // Every child step event sits between them and names the Parallel as its parent.
    let children: Vec<&Value> = events
        .iter()
        .filter(|(n, _)| n == "StepStarted")
        .map(|(_, d)| d)
        .filter(|d| d["parent_step_id"] == gather_id)
        .collect();
    assert_eq!(children.len(), 3);
    // A construct's children are indexed by their path from the top, as agno's tuples.
    let mut indices: Vec<Value> = children.iter().map(|d| d["step_index"].clone()).collect();
    indices.sort_by_key(|v| v[1].as_u64());
    assert_eq!(indices, [json!([0, 0]), json!([0, 1]), json!([0, 2])]);
    assert_eq!(s["step_index"], 0);
    for (i, (name, data)) in events.iter().enumerate() {
        if data["parent_step_id"] == gather_id {
            assert!(started < i && i < completed, "{name} outside the Parallel");
        }
    }
    assert_eq!(
        events[completed].1["step_results"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(events.last().unwrap().0, "WorkflowCompleted");
}

fn fact_check_workflow() -> Workflow {
    let needs_facts = |input: &StepInput| input.input.contains("facts");
    Workflow::new("fact-check").steps([
        shout(),
        Step::from(
            Condition::new(
                "verify",
                needs_facts,
                [Step::function("check", |input: StepInput| async move {
                    let prev = input.previous_step_content.unwrap_or_default();
                    Ok(StepOutput::new(format!("checked {prev}")))
                })],
            )
            .else_steps([Step::function("trust", |_| async {
                Ok(StepOutput::new("trusted"))
            })]),
        ),
        Step::from(Condition::new("never", |_: &StepInput| false, [shout()])),
        Step::function("publish", |input: StepInput| async move {
            Ok(StepOutput::new(format!(
                "published: {}",
                input.previous_step_content.unwrap_or_default()
            )))
        }),
    ])
}

#[tokio::test]
async fn condition_takes_the_if_or_else_branch_and_one_that_ran_nothing_is_transparent() {
    let app = app_with(vec![fact_check_workflow()]).await;

    let (_, body) = run(&app, "fact-check", &[("message", "facts please")]).await;
    assert_eq!(body["status"], "COMPLETED", "{body}");
    let verify = &body["step_results"][1];
    assert_eq!(verify["step_type"], "Condition");
    assert_eq!(
        verify["content"],
        "Condition verify completed with 1 results (if branch)"
    );
    assert_eq!(verify["steps"][0]["content"], "checked FACTS PLEASE");
    let never = &body["step_results"][2];
    assert_eq!(
        never["content"],
        "Condition never not met - skipped 1 steps"
    );
    assert!(never.get("steps").is_none());
    // "publish" got the verify branch's content, not the skipped condition's message.
    assert_eq!(
        body["content"],
        "published: Condition verify completed with 1 results (if branch)"
    );

    let (_, body) = run(&app, "fact-check", &[("message", "just vibes")]).await;
    assert_eq!(body["step_results"][1]["steps"][0]["content"], "trusted");

    let events = stream(&app, "fact-check", &[("message", "just vibes")]).await;
    let conds: Vec<&Value> = events
        .iter()
        .filter(|(n, _)| n.starts_with("Condition"))
        .map(|(_, d)| d)
        .collect();
    assert_eq!(conds.len(), 4, "{:?}", names(&events));
    assert_eq!(conds[0]["event"], "ConditionExecutionStarted");
    assert_eq!(conds[0]["condition_result"], false);
    assert_eq!(conds[1]["event"], "ConditionExecutionCompleted");
    assert_eq!(conds[1]["branch"], "else");
    assert_eq!(conds[1]["executed_steps"], 1);
    assert_eq!(conds[1]["step_results"][0]["content"], "trusted");
    assert!(conds[3].get("branch").is_none(), "agno drops a null branch");
    assert_eq!(conds[3]["executed_steps"], 0);
}

fn draft_review_workflow() -> Workflow {
    let draft = Step::function("draft", |input: StepInput| async move {
        let n = input.session_state.update(|s| {
            let n = s.get("drafts").and_then(Value::as_u64).unwrap_or(0) + 1;
            s.insert("drafts".into(), json!(n));
            n
        });
        Ok(StepOutput::new(format!("draft {n} of {}", input.input)))
    });
    let review = Step::function("review", |input: StepInput| async move {
        let draft = input.previous_step_content.unwrap_or_default();
        let verdict = if draft.starts_with("draft 2") {
            "approved"
        } else {
            "needs work"
        };
        Ok(StepOutput::new(verdict))
    });
    Workflow::new("draft-review").steps([Loop::new("revise", [draft, review])
        .max_iterations(5)
        .end_condition(|outputs: &[StepOutput]| {
            outputs
                .last()
                .is_some_and(|o| o.content.as_deref() == Some("approved"))
        })])
}

#[tokio::test]
async fn loop_repeats_until_its_end_condition_and_reports_each_iteration() {
    let app = app_with(vec![draft_review_workflow()]).await;
    let (_, body) = run(&app, "draft-review", &[("message", "the essay")]).await;
    assert_eq!(body["status"], "COMPLETED", "{body}");
    let revise = &body["step_results"][0];
    assert_eq!(revise["step_type"], "Loop");
    assert_eq!(
        revise["content"],
        "Loop revise completed 2 iterations with 4 total steps"
    );
    let contents: Vec<&str> = revise["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        contents,
        [
            "draft 1 of the essay",
            "needs work",
            "draft 2 of the essay",
            "approved"
        ]
    );
    // The run's content is the deepest last step's.
    assert_eq!(body["content"], "approved");

    // A new session starts from scratch: the loop again ends at its second iteration.
    let events = stream(&app, "draft-review", &[("message", "the essay")]).await;
    let loop_events: Vec<&(String, Value)> = events
        .iter()
        .filter(|(n, _)| n.starts_with("Loop"))
        .collect();
    let loop_names: Vec<&str> = loop_events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        loop_names,
        [
            "LoopExecutionStarted",
            "LoopIterationStarted",
            "LoopIterationCompleted",
            "LoopIterationStarted",
            "LoopIterationCompleted",
            "LoopExecutionCompleted"
        ]
    );
    assert_eq!(loop_events[0].1["max_iterations"], 5);
    assert_eq!(loop_events[1].1["iteration"], 1);
    assert_eq!(loop_events[2].1["should_continue"], true);
    assert_eq!(loop_events[4].1["should_continue"], false);
    assert_eq!(
        loop_events[4].1["iteration_results"][1]["content"],
        "approved"
    );
    assert_eq!(loop_events[5].1["total_iterations"], 2);
    assert_eq!(loop_events[5].1["all_results"].as_array().unwrap().len(), 2);
}

fn topic_router_workflow() -> Workflow {
    let selector = |input: &StepInput| {
        let topic = input.input.to_lowercase();
        if topic.contains("tech") {
            vec!["tech".to_owned()]
        } else if topic.contains("both") {
            vec!["tech".to_owned(), "sports".to_owned()]
        } else if topic.contains("cooking") {
            vec!["cooking".to_owned()]
        } else {
            vec![]
        }
    };
    let tech = Steps::new(
        "tech",
        [
            Step::from(scripted("TechResearcher")),
            Step::function("cite", |input: StepInput| async move {
                Ok(StepOutput::new(format!(
                    "{} [cited]",
                    input.previous_step_content.unwrap_or_default()
                )))
            }),
        ],
    );
    Workflow::new("by-topic").steps([Router::new(
        "route",
        selector,
        [
            Step::from(tech),
            Step::function("sports", |_| async { Ok(StepOutput::new("sports desk")) }),
        ],
    )])
}

#[tokio::test]
async fn router_runs_the_selected_choices_and_an_unknown_choice_skips_the_router() {
    let app = app_with(vec![topic_router_workflow()]).await;

    let (_, body) = run(&app, "by-topic", &[("message", "Tech news")]).await;
    assert_eq!(body["status"], "COMPLETED", "{body}");
    let route = &body["step_results"][0];
    assert_eq!(route["step_type"], "Router");
    assert_eq!(route["content"], "Router route completed with 1 results");
    // The chosen Steps group nests inside the Router.
    let tech = &route["steps"][0];
    assert_eq!(tech["step_type"], "Steps");
    assert_eq!(tech["steps"].as_array().unwrap().len(), 2);
    assert_eq!(body["content"], "Scripted reply to: Tech news [cited]");

    let (_, body) = run(&app, "by-topic", &[("message", "both please")]).await;
    assert_eq!(
        body["step_results"][0]["steps"].as_array().unwrap().len(),
        2
    );
    assert_eq!(body["content"], "sports desk");

    // The selector named a choice that does not exist: the Router is skipped (agno's default).
    let (_, body) = run(&app, "by-topic", &[("message", "cooking")]).await;
    assert_eq!(body["status"], "COMPLETED");
    let route = &body["step_results"][0];
    assert_eq!(route["success"], false);
    assert_eq!(
        route["content"],
        "Step skipped due to error: Router route has no choice named \"cooking\""
    );

    let events = stream(&app, "by-topic", &[("message", "Tech news")]).await;
    let started = &events[position(&events, "RouterExecutionStarted")].1;
    assert_eq!(started["selected_steps"], json!(["tech"]));
    let steps_started = position(&events, "StepsExecutionStarted");
    let steps_completed = position(&events, "StepsExecutionCompleted");
    assert!(position(&events, "RouterExecutionStarted") < steps_started);
    assert!(steps_completed < position(&events, "RouterExecutionCompleted"));
    assert_eq!(events[steps_started].1["steps_count"], 2);
    assert_eq!(events[steps_started].1["step_index"], json!([0, 0]));
    let cite = events
        .iter()
        .find(|(n, d)| n == "StepStarted" && d["step_name"] == "cite")
        .unwrap();
    assert_eq!(cite.1["step_index"], json!([0, 0, 1]));
    assert_eq!(
        events[steps_started].1["parent_step_id"],
        started["step_id"]
    );
    assert_eq!(events[steps_completed].1["executed_steps"], 2);
    // Agent events inside the nested group still arrive.
    assert!(names(&events).contains(&"RunContent"));
}

#[tokio::test]
async fn retries_then_on_error_skip_or_fail_decide_the_run() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let flaky = Step::function("flaky", move |_| {
        let n = counted.fetch_add(1, Ordering::SeqCst);
        async move {
            match n {
                0 | 1 => Err("try again".into()),
                _ => Ok(StepOutput::new("third time lucky")),
            }
        }
    })
    .max_retries(2);
    let boom =
        || Step::function("boom", |_| async { Err::<StepOutput, _>("boom".into()) }).max_retries(0);
    let retrying = Workflow::new("retrying").steps([flaky]);
    let skipping =
        Workflow::new("skipping").steps([shout(), boom(), Step::from(scripted("After"))]);
    let failing =
        Workflow::new("failing").steps([shout(), boom().on_error(OnError::Fail), shout()]);
    let app = app_with(vec![retrying, skipping, failing]).await;

    let (_, body) = run(&app, "retrying", &[("message", "x")]).await;
    assert_eq!(body["content"], "third time lucky", "{body}");
    assert_eq!(calls.load(Ordering::SeqCst), 3);

    // Skip (the default for a function step): recorded, and the next step gets the content
    // before the failed one, never the error text.
    let (_, body) = run(&app, "skipping", &[("message", "hi")]).await;
    assert_eq!(body["status"], "COMPLETED", "{body}");
    let skipped = &body["step_results"][1];
    assert_eq!(skipped["content"], "Step skipped due to error: boom");
    assert_eq!(skipped["success"], false);
    assert_eq!(skipped["error"], "boom");
    assert_eq!(skipped["executor_type"], "function");
    assert_eq!(body["content"], "Scripted reply to: HI");

    // Fail: the run ends ERROR with the error text and stops.
    let (status, body) = run(&app, "failing", &[("message", "hi")]).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ERROR", "{body}");
    assert_eq!(body["error"], "boom");
    assert_eq!(body["step_results"].as_array().unwrap().len(), 2);
    let (_, stored) = app
        .get_json(&format!(
            "/workflows/failing/runs/{}",
            body["run_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(stored["status"], "ERROR");

    let events = stream(&app, "failing", &[("message", "hi")]).await;
    let n = names(&events);
    assert_eq!(&n[n.len() - 2..], ["StepError", "WorkflowError"]);
    assert_eq!(events.last().unwrap().1["error"], "boom");
}

#[tokio::test]
async fn a_model_failure_fails_the_run_unless_its_step_is_explicitly_skipped() {
    let mock = Arc::new(MockOpenAi::start().await);
    let agent = |name: &str| {
        Agent::new(name).model(
            OpenAIChat::new("gpt-5.2")
                .base_url(mock.base_url())
                .api_key("test-key")
                .retry_policy(fast_retries()),
        )
    };
    let strict = Workflow::new("strict").steps([Step::from(agent("Flaky")), shout()]);
    let lenient = Workflow::new("lenient").steps([
        shout(),
        Step::agent("flaky", agent("Flaky")).on_error(OnError::Skip),
        Step::function("last", |input: StepInput| async move {
            Ok(StepOutput::new(format!(
                "got {}",
                input.previous_step_content.unwrap_or_default()
            )))
        }),
    ]);
    let os = AgentOs::new().workflow(strict).workflow(lenient);
    let app = spawn_with(os, mock.clone(), HookLog::default()).await;
    mock.fail_with(500);

    let (_, body) = run(&app, "strict", &[("message", "hi")]).await;
    assert_eq!(body["status"], "ERROR", "{body}");
    assert_eq!(body["step_results"].as_array().unwrap().len(), 1);

    let (_, body) = run(&app, "lenient", &[("message", "hi")]).await;
    assert_eq!(body["status"], "COMPLETED", "{body}");
    let flaky = &body["step_results"][1];
    assert_eq!(flaky["success"], false);
    assert!(
        flaky["content"]
            .as_str()
            .unwrap()
            .starts_with("Step skipped due to error: model server returned 500"),
        "{flaky}"
    );
    assert_eq!(body["content"], "got HI");
}

fn counter_workflow() -> Workflow {
    let mut defaults = serde_json::Map::new();
    defaults.insert("visits".into(), json!(0));
    defaults.insert("theme".into(), json!("light"));
    Workflow::new("counter")
        .session_state(defaults)
        .steps([Step::function("visit", |input: StepInput| async move {
            let state = &input.session_state;
            let visits = state.get("visits").and_then(|v| v.as_u64()).unwrap_or(0) + 1;
            state.set("visits", visits);
            let theme = state.get("theme").unwrap_or(Value::Null);
            let vip = input
                .additional_data
                .get("vip")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            Ok(StepOutput::new(format!(
                "visit {visits}, theme {theme}, vip {vip}"
            )))
        })])
}

#[tokio::test]
async fn session_state_merges_request_over_stored_over_default_and_persists() {
    let app = app_with(vec![counter_workflow()]).await;
    let (_, body) = run(&app, "counter", &[("message", "hi"), ("session_id", "s1")]).await;
    assert_eq!(
        body["content"], "visit 1, theme \"light\", vip false",
        "{body}"
    );

    // The stored state carries over; the request's field overrides it key by key.
    let (_, body) = run(
        &app,
        "counter",
        &[
            ("message", "hi"),
            ("session_id", "s1"),
            ("session_state", r#"{"theme": "dark"}"#),
            ("additional_data", r#"{"vip": true}"#),
        ],
    )
    .await;
    assert_eq!(
        body["content"], "visit 2, theme \"dark\", vip true",
        "{body}"
    );
    let (_, body) = run(&app, "counter", &[("message", "hi"), ("session_id", "s1")]).await;
    assert_eq!(body["content"], "visit 3, theme \"dark\", vip false");

    // The sessions API shows the stored state.
    let (status, session) = app.get_json("/sessions/s1?type=workflow").await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(session["session_state"]["visits"], 3);
    assert_eq!(session["session_state"]["theme"], "dark");

    // Another session starts from the default.
    let (_, body) = run(&app, "counter", &[("message", "hi"), ("session_id", "s2")]).await;
    assert_eq!(body["content"], "visit 1, theme \"light\", vip false");

    for (field, value) in [
        ("session_state", "{not json"),
        ("session_state", "[1, 2]"),
        ("additional_data", "nope"),
    ] {
        let (status, body) = run(&app, "counter", &[("message", "hi"), (field, value)]).await;
        assert_eq!(status, 400, "{field}={value}: {body}");
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.starts_with(field), "{detail}");
    }
}

#[tokio::test]
async fn get_workflow_shows_the_step_tree() {
    let app = app_with(vec![
        research_workflow(),
        fact_check_workflow(),
        topic_router_workflow(),
        draft_review_workflow(),
    ])
    .await;

    let (status, body) = app.get_json("/workflows/research").await;
    assert_eq!(status, 200);
    let steps = body["steps"].as_array().unwrap();
    assert_eq!(steps[0]["type"], "Parallel");
    assert_eq!(steps[0]["name"], "gather");
    assert_eq!(steps[0]["steps"][0]["type"], "Step");
    assert_eq!(steps[0]["steps"][0]["agent"]["name"], "Web");
    assert_eq!(steps[0]["steps"][0]["agent"]["model"]["model"], "scripted");
    assert_eq!(
        steps[0]["steps"][2],
        json!({"name": "notes", "description": "User-defined callable step", "type": "Step"})
    );
    assert_eq!(steps[1]["agent"]["name"], "Writer");

    let (_, body) = app.get_json("/workflows/fact-check").await;
    let verify = &body["steps"][1];
    assert_eq!(verify["type"], "Condition");
    assert_eq!(verify["steps"][0]["name"], "check");
    assert_eq!(verify["else_steps"][0]["name"], "trust");
    assert!(body["steps"][2].get("else_steps").is_none());

    let (_, body) = app.get_json("/workflows/by-topic").await;
    let route = &body["steps"][0];
    assert_eq!(route["type"], "Router");
    assert_eq!(route["steps"][0]["type"], "Steps");
    assert_eq!(
        route["steps"][0]["steps"][0]["agent"]["name"],
        "TechResearcher"
    );

    let (_, body) = app.get_json("/workflows/draft-review").await;
    assert_eq!(body["steps"][0]["type"], "Loop");
    assert_eq!(body["steps"][0]["max_iterations"], 5);
    assert_eq!(body["steps"][0]["steps"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_failing_step_deep_inside_constructs_ends_the_run_with_the_path_recorded() {
    let broken = Step::function("broken", |_| async {
        Err::<StepOutput, _>("disk full".into())
    })
    .max_retries(0)
    .on_error(OnError::Fail);
    let inner = Loop::new(
        "retry_loop",
        [Step::from(Parallel::new("fan_out", [shout(), broken]))],
    );
    let wf = Workflow::new("deep").steps([Step::from(inner), shout()]);
    let app = app_with(vec![wf]).await;

    let (status, body) = run(&app, "deep", &[("message", "x")]).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ERROR", "{body}");
    assert_eq!(body["error"], "disk full");
    let results = body["step_results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "the step after the loop never ran");
    let fan_out = &results[0]["steps"][0];
    assert_eq!(fan_out["step_type"], "Parallel");
    assert_eq!(fan_out["success"], false);
    let children = fan_out["steps"].as_array().unwrap();
    assert_eq!(children[0]["content"], "X");
    assert_eq!(children[1]["step_name"], "broken");
    assert_eq!(children[1]["error"], "disk full");

    let events = stream(&app, "deep", &[("message", "x")]).await;
    let n = names(&events);
    assert!(n.contains(&"StepError"), "{n:?}");
    assert_eq!(n.last(), Some(&"WorkflowError"));
    assert!(!n.contains(&"LoopExecutionCompleted"));
}

#[tokio::test]
async fn cancelling_a_run_inside_a_loop_ends_it_cancelled_with_the_iterations_done() {
    let tick = Step::function("tick", |_| async {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        Ok(StepOutput::new("tick"))
    });
    let wf = Workflow::new("forever").steps([
        Step::from(Loop::new("spin", [tick]).max_iterations(100_000)),
        shout(),
    ]);
    let app = app_with(vec![wf]).await;
    let mut res = post(&app, "forever", &[("message", "go")]).await;
    let mut text = String::new();
    while text.matches("event: LoopIterationCompleted").count() < 2 {
        let chunk = res.chunk().await.unwrap().expect("stream ended early");
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let run_id = parse_sse(&text)[0].1["run_id"].as_str().unwrap().to_owned();
    let cancel = app
        .client
        .post(app.url(&format!("/workflows/forever/runs/{run_id}/cancel")))
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.status(), 200);
    let rest = res.text().await.unwrap();
    let events = parse_sse(&format!("{text}{rest}"));
    let n = names(&events);
    assert_eq!(
        &n[n.len() - 2..],
        ["WorkflowCancelled", "WorkflowCompleted"]
    );
    assert!(!n.contains(&"LoopExecutionCompleted"));

    let (_, polled) = app
        .get_json(&format!("/workflows/forever/runs/{run_id}"))
        .await;
    assert_eq!(polled["status"], "CANCELLED", "{polled}");
    let results = polled["step_results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "the step after the loop never ran");
    let spin = &results[0];
    assert_eq!(spin["error"], "Cancelled during execution");
    let ticks = spin["steps"].as_array().unwrap();
    assert!(ticks.len() >= 3, "{spin}");
    assert!(
        ticks[..ticks.len() - 1]
            .iter()
            .all(|t| t["content"] == "tick")
    );
    assert_eq!(ticks.last().unwrap()["error"], "Cancelled during execution");
}

#[tokio::test]
async fn a_background_run_of_constructs_is_polled_to_its_nested_result() {
    let app = app_with(vec![research_workflow()]).await;
    let res = post(
        &app,
        "research",
        &[
            ("message", "bg topic"),
            ("stream", "false"),
            ("background", "true"),
        ],
    )
    .await;
    assert_eq!(res.status(), 202);
    let body: Value = res.json().await.unwrap();
    let url = format!(
        "/workflows/research/runs/{}",
        body["run_id"].as_str().unwrap()
    );
    let mut polled = Value::Null;
    for _ in 0..200 {
        let (_, now) = app.get_json(&url).await;
        polled = now;
        if polled["status"] == "COMPLETED" || polled["status"] == "ERROR" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(polled["status"], "COMPLETED", "{polled}");
    assert_eq!(polled["step_results"][0]["step_type"], "Parallel");
    assert_eq!(
        polled["step_results"][0]["steps"].as_array().unwrap().len(),
        3
    );
    assert!(
        polled["content"]
            .as_str()
            .unwrap()
            .contains("=== notes ===\nmy notes")
    );
}
