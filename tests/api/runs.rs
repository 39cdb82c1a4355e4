//! Runs end to end: the JSON shape, SSE order, data flow between steps, sessions, persistence.

use crate::helpers::*;
use agentos::AgentOs;
use serde_json::Value;

const MESSAGE: &str = "Explain the benefits of exercise";

#[tokio::test]
async fn non_streamed_run_answers_with_agnos_workflow_run_output() {
    let app = spawn_app().await;
    let (status, body) = app.run_json(&[("message", MESSAGE)]).await;
    assert_eq!(status, 200, "{body}");

    assert_eq!(body["status"], "COMPLETED");
    assert_eq!(body["input"], MESSAGE);
    assert_eq!(body["workflow_id"], WF);
    assert_eq!(body["workflow_name"], "AnalysisWorkflow");
    assert_eq!(body["content_type"], "str");
    assert!(body["run_id"].as_str().is_some_and(|s| s.len() == 36));
    assert!(body["session_id"].as_str().is_some_and(|s| s.len() == 36));
    assert!(body["created_at"].as_i64().is_some());
    // agno omits null keys at the top level.
    assert!(
        body.get("user_id").is_none(),
        "null user_id must be omitted: {body}"
    );

    // The summarizer got the analyzer's content as its input.
    let first = format!("reply to: {MESSAGE}");
    let second = format!("reply to: {first}");
    assert_eq!(body["content"], second);

    let steps = body["step_results"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    for (step, (name, content)) in steps
        .iter()
        .zip([("Analyzer", &first), ("Summarizer", &second)])
    {
        assert_eq!(step["step_name"], name);
        assert_eq!(step["executor_name"], name);
        assert_eq!(step["executor_type"], "agent");
        assert_eq!(step["step_type"], "Step");
        assert_eq!(step["content"], content.as_str());
        assert_eq!(step["success"], true);
        // StepOutput keeps its null keys.
        assert!(step.get("error").is_some_and(Value::is_null));
        assert!(step["step_id"].is_string() && step["step_run_id"].is_string());
        assert!(step["metrics"]["total_tokens"].as_u64().unwrap() > 0);
    }

    let runs = body["step_executor_runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["model"], "gpt-5.2");
    assert_eq!(runs[0]["model_provider"], "OpenAI");
    assert_eq!(runs[0]["parent_run_id"], body["run_id"]);
    assert_eq!(runs[0]["run_id"], steps[0]["step_run_id"]);
    assert_eq!(runs[1]["input"]["input_content"], first);

    let metrics = &body["metrics"];
    assert!(metrics["duration"].as_f64().is_some());
    assert_eq!(metrics["steps"]["Analyzer"]["executor_type"], "agent");
    assert_eq!(
        metrics["steps"]["Summarizer"]["executor_name"],
        "Summarizer"
    );
}

#[tokio::test]
async fn instructions_go_in_as_the_system_message_and_steps_chain() {
    let app = spawn_app().await;
    let (status, _) = app.run_json(&[("message", MESSAGE)]).await;
    assert_eq!(status, 200);
    let requests = app.mock.requests();
    assert_eq!(requests.len(), 2, "one model call per step");
    let msgs = |i: usize| requests[i]["messages"].as_array().unwrap().clone();
    assert_eq!(msgs(0)[0]["role"], "system");
    assert_eq!(msgs(0)[0]["content"], ANALYZER_INSTRUCTIONS);
    assert_eq!(msgs(0)[1]["role"], "user");
    assert_eq!(msgs(0)[1]["content"], MESSAGE);
    assert_eq!(msgs(1)[0]["content"], SUMMARIZER_INSTRUCTIONS);
    assert_eq!(msgs(1)[1]["content"], format!("reply to: {MESSAGE}"));
    assert_eq!(requests[0]["model"], "gpt-5.2");
    assert_eq!(requests[0]["stream"], false);
}

#[tokio::test]
async fn urlencoded_form_works_like_multipart() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url(&format!("/workflows/{WF}/runs")))
        .form(&[
            ("message", MESSAGE),
            ("stream", "false"),
            ("user_id", "u-1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "COMPLETED");
    assert_eq!(body["user_id"], "u-1");
    assert_eq!(body["content"], format!("reply to: reply to: {MESSAGE}"));
}

#[tokio::test]
async fn streamed_run_sends_agnos_events_in_order() {
    let app = spawn_app().await;
    let res = app
        .post_run(&[("message", MESSAGE), ("session_id", "sse-1")])
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let events = parse_sse(&res.text().await.unwrap());
    for (name, data) in &events {
        assert_eq!(&data["event"], name.as_str(), "data repeats the event name");
    }

    // Collapse the RunContent deltas to check the order agno uses.
    let mut names: Vec<&str> = Vec::new();
    for (name, _) in &events {
        if !(name == "RunContent" && names.last() == Some(&"RunContent")) {
            names.push(name);
        }
    }
    let agent = [
        "RunStarted",
        "ModelRequestStarted",
        "RunContent",
        "ModelRequestCompleted",
        "RunContentCompleted",
        "RunCompleted",
    ];
    let mut expected = vec!["WorkflowStarted"];
    for _ in 0..2 {
        expected.push("StepStarted");
        expected.extend(agent);
        expected.push("StepCompleted");
    }
    expected.push("WorkflowCompleted");
    assert_eq!(names, expected);

    // The deltas are the model's own stream (the mock sends pieces of at most 5 chars) and add
    // up to each step's content.
    let first = format!("reply to: {MESSAGE}");
    let deltas: Vec<&str> = events
        .iter()
        .filter(|(n, d)| n == "RunContent" && d["agent_name"] == "Analyzer")
        .map(|(_, d)| d["content"].as_str().unwrap())
        .collect();
    assert!(deltas.len() > 3 && deltas.iter().all(|d| d.chars().count() <= 5));
    assert_eq!(deltas.concat(), first);

    let (_, started) = &events[0];
    assert_eq!(started["session_id"], "sse-1");
    assert_eq!(started["workflow_id"], WF);
    let (_, run_started) = &events[2];
    assert_eq!(run_started["workflow_run_id"], started["run_id"]);
    assert_eq!(run_started["step_name"], "Analyzer");
    assert_eq!(run_started["model"], "gpt-5.2");
    let (_, done) = events.last().unwrap();
    assert_eq!(done["content"], format!("reply to: {first}"));
    assert_eq!(done["step_results"].as_array().unwrap().len(), 2);

    // The streamed run is stored like any other.
    let run_id = started["run_id"].as_str().unwrap();
    let (status, stored) = app
        .get_json(&format!("/workflows/{WF}/runs/{run_id}?session_id=sse-1"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(stored["status"], "COMPLETED");
    assert_eq!(stored["content"], done["content"]);
    assert_eq!(app.mock.requests()[0]["stream"], true);
}

#[tokio::test]
async fn runs_with_one_session_id_accumulate_and_new_sessions_are_made() {
    let app = spawn_app().await;
    let (_, a) = app
        .run_json(&[("message", "one"), ("session_id", "s-acc")])
        .await;
    let (_, b) = app
        .run_json(&[("message", "two"), ("session_id", "s-acc")])
        .await;
    let (_, c) = app.run_json(&[("message", "three")]).await;
    assert_eq!(a["session_id"], "s-acc");
    assert_eq!(b["session_id"], "s-acc");
    assert_ne!(c["session_id"], "s-acc");

    let (status, runs) = app
        .get_json(&format!("/workflows/{WF}/runs?session_id=s-acc"))
        .await;
    assert_eq!(status, 200);
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["run_id"], a["run_id"]);
    assert_eq!(runs[0]["run_input"], "one");
    assert_eq!(runs[1]["run_id"], b["run_id"]);
    assert_eq!(runs[1]["status"], "COMPLETED");
    assert_eq!(runs[1]["content"], "reply to: reply to: two");
    assert_eq!(runs[1]["step_results"].as_array().unwrap().len(), 2);
    assert!(runs[1]["created_at"].as_str().unwrap().ends_with('Z'));

    let new_session = c["session_id"].as_str().unwrap();
    let (_, other) = app
        .get_json(&format!("/workflows/{WF}/runs?session_id={new_session}"))
        .await;
    assert_eq!(other.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn runs_survive_a_restart_on_the_same_database_file() {
    let mut app = spawn_app().await;
    let (_, run) = app
        .run_json(&[("message", MESSAGE), ("session_id", "s-restart")])
        .await;
    app.stop().await;

    let wf = seed_workflow(&app.mock.base_url(), &[]);
    let again = restart_on(&app, AgentOs::new().workflow(wf)).await;
    let run_id = run["run_id"].as_str().unwrap();
    let (status, stored) = again
        .get_json(&format!(
            "/workflows/{WF}/runs/{run_id}?session_id=s-restart"
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(stored, run, "the stored output is the answered output");
    let (_, list) = again
        .get_json(&format!("/workflows/{WF}/runs?session_id=s-restart"))
        .await;
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_run_row_is_running_while_the_run_executes() {
    let app = spawn_app().await;
    app.mock.set_delay(std::time::Duration::from_millis(600));
    let client = app.client.clone();
    let url = app.url(&format!("/workflows/{WF}/runs"));
    let pending = tokio::spawn(async move {
        client
            .post(url)
            .form(&[
                ("message", "slow"),
                ("stream", "false"),
                ("session_id", "s-live"),
            ])
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (status, runs) = app
        .get_json(&format!("/workflows/{WF}/runs?session_id=s-live"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(runs[0]["status"], "RUNNING");
    assert_eq!(runs[0]["run_input"], "slow");
    let done = pending.await.unwrap();
    assert_eq!(done["status"], "COMPLETED");
    let (_, runs) = app
        .get_json(&format!("/workflows/{WF}/runs?session_id=s-live"))
        .await;
    assert_eq!(runs[0]["status"], "COMPLETED");
}
