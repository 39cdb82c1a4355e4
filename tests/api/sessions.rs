//! The sessions API: list (filters, sort, pages), detail, runs, rename, update, delete; agent
//! runs written through the `Store` API, workflow runs through HTTP; bad input gets 4xx.

use crate::helpers::*;
use agentos::store::prelude::*;
use agentos::store::{RunRecord, SessionRecord, SqliteStore};
use agentos::{Message, ModelMetrics, RunInput, RunMetrics, RunOutput, RunStatus};
use futures::StreamExt;
use serde_json::{Value, json};
use std::time::Duration;

/// A non-streamed workflow run in `session` (as `user`, if given); panics unless it completed.
async fn run_in(app: &TestApp, session: &str, user: Option<&str>, message: &str) -> Value {
    let mut fields = vec![("message", message), ("session_id", session)];
    if let Some(user) = user {
        fields.push(("user_id", user));
    }
    let (status, body) = app.run_json(&fields).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "COMPLETED");
    body
}

async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn ids(list: &Value) -> Vec<&str> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["session_id"].as_str().unwrap())
        .collect()
}

/// The `loc` of each FastAPI-style validation error in a 422 body.
fn error_locs(body: &Value) -> Vec<Value> {
    body["detail"]
        .as_array()
        .unwrap_or_else(|| panic!("a list of errors: {body}"))
        .iter()
        .map(|e| e["loc"].clone())
        .collect()
}

#[tokio::test]
async fn sessions_are_listed_newest_first_with_agnos_shape() {
    let app = spawn_app().await;
    run_in(&app, "s-a", Some("alice"), "Alpha question").await;
    run_in(&app, "s-b", None, "Beta question").await;
    run_in(&app, "s-c", Some("alice"), "Gamma question").await;

    let (status, list) = app.get_json("/sessions").await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(ids(&list), ["s-c", "s-b", "s-a"]);
    let meta = &list["meta"];
    assert_eq!(
        (
            &meta["page"],
            &meta["limit"],
            &meta["total_pages"],
            &meta["total_count"]
        ),
        (&json!(1), &json!(20), &json!(1), &json!(3))
    );
    assert!(meta["search_time_ms"].is_number());

    let first = &list["data"][0];
    assert_eq!(first["session_name"], "Gamma question");
    assert_eq!(first["session_type"], "workflow");
    assert_eq!(first["workflow_id"], WF);
    assert_eq!(first["user_id"], "alice");
    assert_eq!(first["session_state"], json!({}));
    assert_eq!(
        first["metadata"],
        json!({}),
        "agno stores {{}} for workflow sessions"
    );
    // agno 3.1.10 answers ISO-8601 UTC strings here, not unix ints.
    let created = first["created_at"].as_str().unwrap();
    assert!(created.ends_with('Z') && created.len() == 20, "{created}");
    assert!(first["updated_at"].is_string());
    // Nulls are left out: s-b has no user.
    assert!(list["data"][1].get("user_id").is_none(), "{list}");
    assert!(first.get("agent_id").is_none());
}

#[tokio::test]
async fn the_session_list_filters_sorts_and_pages() {
    let app = spawn_app().await;
    run_in(&app, "s-a", Some("alice"), "Alpha question").await;
    run_in(&app, "s-b", Some("bob"), "beta QUESTION").await;
    run_in(&app, "s-c", Some("alice"), "Gamma").await;

    let list = |q: &str| {
        let path = format!("/sessions?{q}");
        let app = &app;
        async move {
            let (status, body) = app.get_json(&path).await;
            assert_eq!(status, 200, "{path}: {body}");
            body
        }
    };
    assert_eq!(ids(&list("sort_order=asc").await), ["s-a", "s-b", "s-c"]);
    assert_eq!(ids(&list("user_id=alice").await), ["s-c", "s-a"]);
    assert_eq!(ids(&list("session_name=question").await), ["s-b", "s-a"]);
    assert_eq!(
        ids(&list("type=workflow&component_id=analysis-workflow&user_id=bob").await),
        ["s-b"]
    );
    assert_eq!(ids(&list("type=agent").await), Vec::<&str>::new());
    assert_eq!(ids(&list("component_id=other").await), Vec::<&str>::new());
    assert_eq!(
        ids(&list("sort_by=session_name&sort_order=asc").await),
        ["s-a", "s-c", "s-b"],
        "byte order: upper case first"
    );

    // A rename makes the session the most recently updated one.
    let (status, _) = send(
        app.client
            .post(app.url("/sessions/s-a/rename"))
            .json(&json!({"session_name": "Renamed"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(ids(&list("sort_by=updated_at").await)[0], "s-a");

    let page2 = list("limit=2&page=2").await;
    assert_eq!(ids(&page2), ["s-a"]);
    assert_eq!(page2["meta"]["total_pages"], 2);
    assert_eq!(page2["meta"]["total_count"], 3);
    let beyond = list("limit=2&page=9").await;
    assert_eq!(ids(&beyond), Vec::<&str>::new());
    assert_eq!(beyond["meta"]["total_count"], 3);
}

#[tokio::test]
async fn bad_list_parameters_get_422_naming_the_parameter() {
    let app = spawn_app().await;
    for (query, param) in [
        ("type=bogus", "type"),
        ("limit=0", "limit"),
        ("limit=5000", "limit"),
        ("limit=ten", "limit"),
        ("page=0", "page"),
        ("page=-1", "page"),
        ("sort_order=up", "sort_order"),
        ("sort_by=password", "sort_by"),
    ] {
        let (status, body) = app.get_json(&format!("/sessions?{query}")).await;
        assert_eq!(status, 422, "{query}: {body}");
        assert_eq!(error_locs(&body), [json!(["query", param])], "{query}");
    }
    let (status, body) = app.get_json("/sessions?type=x&limit=0").await;
    assert_eq!(status, 422);
    assert_eq!(
        error_locs(&body).len(),
        2,
        "every bad parameter is reported: {body}"
    );
    let (status, body) = app.get_json("/sessions?user_id=%FF").await;
    assert_eq!(status, 400, "{body}");
    assert!(body["detail"].is_string());
}

#[tokio::test]
async fn a_workflow_session_has_details_and_its_runs_in_agnos_schemas() {
    let app = spawn_app().await;
    let first = run_in(&app, "wf-s", Some("u1"), "First question").await;
    let second = run_in(&app, "wf-s", Some("u1"), "Second question").await;

    let (status, detail) = app.get_json("/sessions/wf-s").await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["session_id"], "wf-s");
    assert_eq!(detail["session_name"], "First question");
    assert_eq!(detail["workflow_id"], WF);
    assert_eq!(detail["workflow_name"], "AnalysisWorkflow");
    assert_eq!(detail["user_id"], "u1");
    assert_eq!(detail["session_state"], json!({}));
    assert_eq!(detail["workflow_data"]["name"], "AnalysisWorkflow");
    let steps: Vec<&Value> = detail["workflow_data"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(
        steps.iter().map(|s| &s["name"]).collect::<Vec<_>>(),
        ["Analyzer", "Summarizer"]
    );
    // Two runs of two steps: the session's tokens are the sum of all four model calls.
    let step_tokens = |run: &Value| -> u64 {
        run["step_results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["metrics"]["total_tokens"].as_u64().unwrap())
            .sum()
    };
    let total = step_tokens(&first) + step_tokens(&second);
    assert!(total > 0);
    assert_eq!(
        detail["session_data"]["session_metrics"]["total_tokens"],
        total
    );
    assert!(
        detail.get("chat_history").is_none(),
        "workflow sessions have none"
    );

    let (status, runs) = app.get_json("/sessions/wf-s/runs").await;
    assert_eq!(status, 200, "{runs}");
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["run_id"], first["run_id"]);
    assert_eq!(runs[1]["run_id"], second["run_id"]);
    let run = &runs[0];
    assert_eq!(run["run_input"], "First question");
    assert_eq!(run["content"], first["content"]);
    assert_eq!(run["content_type"], "str");
    assert_eq!(run["status"], "COMPLETED");
    assert_eq!(run["workflow_id"], WF);
    assert_eq!(run["user_id"], "u1");
    assert_eq!(run["step_results"], first["step_results"]);
    assert_eq!(run["step_executor_runs"], first["step_executor_runs"]);
    assert_eq!(run["events"], json!([]));
    assert!(run["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(
        run.get("step_requirements").is_none(),
        "nulls dropped in the list"
    );

    // The same with the type given; the status filter (case-insensitive).
    let (_, typed) = app
        .get_json("/sessions/wf-s/runs?type=workflow&status=completed")
        .await;
    assert_eq!(typed.as_array().unwrap().len(), 2);
    let (_, none) = app.get_json("/sessions/wf-s/runs?status=ERROR").await;
    assert_eq!(none, json!([]));
    let (status, body) = app.get_json("/sessions/wf-s/runs?status=DONE").await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = app.get_json("/sessions/wf-s/runs?created_after=soon").await;
    assert_eq!(status, 422);
    assert_eq!(error_locs(&body), [json!(["query", "created_after"])]);
    let (_, later) = app
        .get_json("/sessions/wf-s/runs?created_after=4102444800")
        .await;
    assert_eq!(later, json!([]), "nothing created after 2100");

    let path = format!("/sessions/wf-s/runs/{}", second["run_id"].as_str().unwrap());
    let (status, one) = app.get_json(&path).await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["run_id"], second["run_id"]);
    assert_eq!(one["run_input"], "Second question");
    assert!(
        one.get("step_requirements").is_some_and(Value::is_null),
        "nulls kept: {one}"
    );
}

#[tokio::test]
async fn unknown_sessions_and_runs_get_404() {
    let app = spawn_app().await;
    let run = run_in(&app, "known", Some("u1"), "Hello").await;
    let run_id = run["run_id"].as_str().unwrap();
    run_in(&app, "other", None, "Hi").await;

    for (path, detail) in [
        ("/sessions/nope", "Session with id 'nope' not found"),
        ("/sessions/nope/runs", "Session with ID nope not found"),
        ("/sessions/nope/runs/x", "Session with ID nope not found"),
        (
            "/sessions/known/runs/nope",
            "Run with ID nope not found in session known",
        ),
        // A session of another type, or another user, is not found.
        (
            "/sessions/known?type=agent",
            "Session with id 'known' not found",
        ),
        (
            "/sessions/known/runs?type=team",
            "Session with ID known not found",
        ),
        (
            "/sessions/known?user_id=u2",
            "Session with id 'known' not found",
        ),
    ] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(
            (status, body["detail"].as_str()),
            (404, Some(detail)),
            "{path}"
        );
    }
    // A run of another session is not found in this one.
    let (status, _) = app
        .get_json(&format!("/sessions/other/runs/{run_id}"))
        .await;
    assert_eq!(status, 404);
    let (status, body) = app.get_json("/sessions/known?type=nope").await;
    assert_eq!(status, 422);
    assert_eq!(error_locs(&body), [json!(["query", "type"])]);
}

#[tokio::test]
async fn rename_and_patch_change_what_the_session_shows() {
    let app = spawn_app().await;
    run_in(&app, "s1", None, "Original name").await;

    let (status, renamed) = send(
        app.client
            .post(app.url("/sessions/s1/rename"))
            .json(&json!({"session_name": "Better name"})),
    )
    .await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["session_name"], "Better name");
    assert_eq!(renamed["workflow_id"], WF);

    let patch = json!({
        "session_state": {"step": "done", "progress": 100},
        "metadata": {"tags": ["planning"]},
        "summary": {"summary": "We planned.", "topics": ["plans"]},
    });
    let (status, patched) = send(app.client.patch(app.url("/sessions/s1")).json(&patch)).await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(
        patched["session_name"], "Better name",
        "untouched fields stay"
    );
    assert_eq!(patched["session_state"], patch["session_state"]);
    assert_eq!(
        patched["session_data"]["session_state"],
        patch["session_state"]
    );
    assert_eq!(patched["metadata"], patch["metadata"]);

    let (_, detail) = app.get_json("/sessions/s1").await;
    assert_eq!(detail["session_state"], patch["session_state"]);
    let (_, list) = app.get_json("/sessions").await;
    let entry = &list["data"][0];
    assert_eq!(entry["session_name"], "Better name");
    assert_eq!(entry["session_state"], patch["session_state"]);
    assert_eq!(entry["metadata"], patch["metadata"]);
    assert_eq!(entry["session_summary"], patch["summary"]);

    let (status, body) = send(
        app.client
            .patch(app.url("/sessions/s1"))
            .json(&json!({"session_name": "Only the name"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["session_state"], patch["session_state"]);
    assert_eq!(body["session_name"], "Only the name");
}

#[tokio::test]
async fn bad_rename_and_patch_bodies_get_422_and_unknown_sessions_404() {
    let app = spawn_app().await;
    run_in(&app, "s1", None, "Name").await;
    let rename = |body: &str| {
        app.client
            .post(app.url("/sessions/s1/rename"))
            .header("content-type", "application/json")
            .body(body.to_owned())
    };
    for (body, loc) in [
        ("{}", json!(["body", "session_name"])),
        (r#"{"session_name": 5}"#, json!(["body", "session_name"])),
        ("not json", json!(["body", 0])),
        ("", json!(["body"])),
        ("[1]", json!(["body"])),
    ] {
        let (status, err) = send(rename(body)).await;
        assert_eq!(status, 422, "{body:?}: {err}");
        assert_eq!(error_locs(&err), [loc], "{body:?}");
    }
    let patch = |body: Value| app.client.patch(app.url("/sessions/s1")).json(&body);
    for (body, loc) in [
        (
            json!({"session_state": [1]}),
            json!(["body", "session_state"]),
        ),
        (json!({"metadata": "x"}), json!(["body", "metadata"])),
        (
            json!({"summary": {"topics": []}}),
            json!(["body", "summary", "summary"]),
        ),
        (
            json!({"session_name": false}),
            json!(["body", "session_name"]),
        ),
    ] {
        let (status, err) = send(patch(body.clone())).await;
        assert_eq!(status, 422, "{body}: {err}");
        assert_eq!(error_locs(&err), [loc], "{body}");
    }
    // Nothing was changed by the rejected requests.
    let (_, detail) = app.get_json("/sessions/s1").await;
    assert_eq!(detail["session_name"], "Name");
    assert_eq!(detail["session_state"], json!({}));

    let (status, err) = send(
        app.client
            .post(app.url("/sessions/nope/rename"))
            .json(&json!({"session_name": "x"})),
    )
    .await;
    assert_eq!(
        (status, err["detail"].as_str()),
        (404, Some("Session with id 'nope' not found"))
    );
    let (status, _) = send(app.client.patch(app.url("/sessions/nope")).json(&json!({}))).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn deleting_a_session_removes_it_and_its_runs_but_not_its_hook_jobs() {
    let app = spawn_app().await;
    let keyed = |message: &'static str| {
        let form = reqwest::multipart::Form::new()
            .text("message", message)
            .text("stream", "false")
            .text("session_id", "doomed");
        app.client
            .post(app.url(&format!("/workflows/{WF}/runs")))
            .header("Idempotency-Key", "once")
            .multipart(form)
    };
    let (status, run) = send(keyed("Delete me")).await;
    assert_eq!(status, 200, "{run}");
    run_in(&app, "kept", None, "Keep me").await;
    assert!(
        app.hooks
            .wait_for("done:Summarizer", Duration::from_secs(10))
            .await
    );
    let jobs_before = app.hook_jobs().await.len();
    assert!(jobs_before > 0);
    // A replay log entry for the run, as /resume will write them.
    let store = SqliteStore::open(&app.db_path).await.unwrap();
    let events = "SELECT COUNT(*) FROM run_events";
    sqlx::query("INSERT INTO run_events (run_id, event_index, event) VALUES (?, 0, '{}')")
        .bind(run["run_id"].as_str().unwrap())
        .execute(store.pool())
        .await
        .unwrap();

    let (status, body) = send(app.client.delete(app.url("/sessions/doomed"))).await;
    assert_eq!(status, 204, "{body}");
    let (status, _) = app.get_json("/sessions/doomed").await;
    assert_eq!(status, 404);
    let (status, _) = app.get_json("/sessions/doomed/runs").await;
    assert_eq!(status, 404);
    let path = format!("/workflows/{WF}/runs/{}", run["run_id"].as_str().unwrap());
    let (status, _) = app.get_json(&path).await;
    assert_eq!(status, 404, "the run went with its session");
    assert_eq!(ids(&app.get_json("/sessions").await.1), ["kept"]);
    assert_eq!(app.hook_jobs().await.len(), jobs_before, "hook jobs stay");
    let left: i64 = sqlx::query_scalar(events)
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(left, 0, "run events went with the run");
    store.close().await;
    // The run's Idempotency-Key went too: the same key runs again.
    let (status, again) = send(keyed("Delete me")).await;
    assert_eq!(status, 200, "{again}");
    assert_ne!(again["run_id"], run["run_id"]);
    let (status, _) = send(app.client.delete(app.url("/sessions/doomed"))).await;
    assert_eq!(status, 204);

    let (status, body) = send(app.client.delete(app.url("/sessions/doomed"))).await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (404, Some("Session with id 'doomed' not found"))
    );

    // The session id can be used again.
    run_in(&app, "doomed", None, "Born again").await;
    let (_, detail) = app.get_json("/sessions/doomed").await;
    assert_eq!(detail["session_name"], "Born again");
}

#[tokio::test]
async fn bulk_delete_takes_ids_with_their_types() {
    let app = spawn_app().await;
    for s in ["b1", "b2", "b3"] {
        run_in(&app, s, None, "Hello").await;
    }
    let bulk = |body: Value| app.client.delete(app.url("/sessions")).json(&body);

    let (status, body) = send(bulk(
        json!({"session_ids": ["b1", "b2"], "session_types": ["workflow"]}),
    ))
    .await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (
            400,
            Some("Session IDs and session types must have the same length")
        )
    );
    for (body, loc) in [
        (
            json!({"session_ids": ["b1"], "session_types": []}),
            json!(["body", "session_types"]),
        ),
        (
            json!({"session_ids": ["b1"], "session_types": ["bogus"]}),
            json!(["body", "session_types", 0]),
        ),
        (
            json!({"session_ids": "b1", "session_types": ["workflow"]}),
            json!(["body", "session_ids"]),
        ),
        (
            json!({"session_types": ["workflow"]}),
            json!(["body", "session_ids"]),
        ),
    ] {
        let (status, err) = send(bulk(body.clone())).await;
        assert_eq!(status, 422, "{body}: {err}");
        assert_eq!(error_locs(&err), [loc], "{body}");
    }
    let (status, _) = send(app.client.delete(app.url("/sessions"))).await;
    assert_eq!(status, 422, "a body is required");
    assert_eq!(
        app.get_json("/sessions").await.1["meta"]["total_count"],
        3,
        "nothing deleted yet"
    );

    // b3 is named with the wrong type, so it stays; unknown ids are ignored.
    let (status, body) = send(bulk(json!({
        "session_ids": ["b1", "b3", "nope", "b2"],
        "session_types": ["workflow", "agent", "workflow", "workflow"],
    })))
    .await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(ids(&app.get_json("/sessions").await.1), ["b3"]);
}

#[tokio::test]
async fn a_run_still_executing_is_listed_with_its_input_and_blocks_deletion() {
    let app = spawn_app().await;
    app.mock.set_delay(Duration::from_millis(1500));
    let res = app
        .post_run(&[("message", "Still thinking"), ("session_id", "live")])
        .await;
    assert_eq!(res.status(), 200);
    let mut stream = res.bytes_stream();
    // The first event means the run is stored; the model has not answered yet.
    let first = stream.next().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("WorkflowStarted"));

    let (status, runs) = app.get_json("/sessions/live/runs?type=workflow").await;
    assert_eq!(status, 200, "{runs}");
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 1, "the chat keeps the message just sent");
    assert_eq!(runs[0]["status"], "RUNNING");
    assert_eq!(runs[0]["run_input"], "Still thinking");
    assert_eq!(runs[0]["content"], "");

    let (status, body) = send(app.client.delete(app.url("/sessions/live"))).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("live"));
    let (status, _) = send(
        app.client
            .delete(app.url("/sessions"))
            .json(&json!({"session_ids": ["live"], "session_types": ["workflow"]})),
    )
    .await;
    assert_eq!(status, 409);

    while let Some(chunk) = stream.next().await {
        chunk.unwrap();
    }
    let (_, runs) = app.get_json("/sessions/live/runs").await;
    assert_eq!(runs[0]["status"], "COMPLETED");
    assert_eq!(runs[0]["content"], "reply to: reply to: Still thinking");
    let (status, _) = send(app.client.delete(app.url("/sessions/live"))).await;
    assert_eq!(status, 204, "deletable once finished");
}

fn agent_output(run_id: &str, session_id: &str, question: &str, answer: &str) -> RunOutput {
    let mut metrics = RunMetrics {
        input_tokens: 7,
        output_tokens: 5,
        total_tokens: 12,
        ..RunMetrics::default()
    };
    metrics.details.insert(
        "model".to_owned(),
        vec![ModelMetrics {
            input_tokens: 7,
            output_tokens: 5,
            total_tokens: 12,
            id: "gpt-5.2".to_owned(),
            provider: "OpenAI".to_owned(),
        }],
    );
    RunOutput {
        run_id: run_id.to_owned(),
        agent_id: "chat".to_owned(),
        agent_name: "Chat".to_owned(),
        session_id: session_id.to_owned(),
        parent_run_id: None,
        workflow_id: None,
        workflow_step_id: None,
        user_id: Some("ann".to_owned()),
        content: answer.into(),
        content_type: "str".to_owned(),
        model: "gpt-5.2".to_owned(),
        model_provider: "OpenAI".to_owned(),
        created_at: 1_795_000_000,
        status: RunStatus::Completed,
        metrics,
        messages: vec![
            Message::new("system", "Be brief."),
            Message::new("user", question),
            Message::new("assistant", answer),
        ],
        tools: vec![],
        input: RunInput {
            input_content: question.to_owned(),
        },
    }
}

fn agent_run(run_id: &str, session_id: &str, input: &str, at: i64) -> RunRecord {
    RunRecord {
        run_id: run_id.to_owned(),
        session_id: session_id.to_owned(),
        component_type: agentos::ComponentKind::Agent,
        component_id: "chat".to_owned(),
        user_id: Some("ann".to_owned()),
        status: RunStatus::Running,
        input: input.to_owned(),
        output: None,
        error: None,
        created_at: at,
        updated_at: at,
    }
}

#[tokio::test]
async fn agent_sessions_render_agnos_agent_schemas() {
    let app = spawn_app().await;
    // The server has applied the migrations once it answers.
    assert_eq!(app.get_json("/health").await.0, 200);
    let store = SqliteStore::open(&app.db_path).await.unwrap();
    let now = chrono_now_millis();
    let session = SessionRecord {
        session_id: "chat-1".to_owned(),
        session_type: agentos::ComponentKind::Agent,
        component_id: "chat".to_owned(),
        user_id: Some("ann".to_owned()),
        session_name: Some("What is Rust?".to_owned()),
        session_state: "{}".to_owned(),
        created_at: now,
        updated_at: now,
    };
    // A finished run, then one still executing.
    store
        .begin_run(
            &session,
            &agent_run("r1", "chat-1", "What is Rust?", now),
            None,
        )
        .await
        .unwrap();
    let output = agent_output("r1", "chat-1", "What is Rust?", "A language.");
    let json = serde_json::to_string(&output).unwrap();
    store
        .finish_run("r1", RunStatus::Completed, &json, None, Vec::new())
        .await
        .unwrap();
    store
        .begin_run(
            &session,
            &agent_run("r2", "chat-1", "And Go?", now + 1),
            None,
        )
        .await
        .unwrap();
    store.close().await;

    // What agno's Agent UI asks for its sidebar.
    let (status, list) = app
        .get_json("/sessions?type=agent&component_id=chat&db_id=whatever")
        .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(ids(&list), ["chat-1"]);
    let entry = &list["data"][0];
    assert_eq!(entry["agent_id"], "chat");
    assert_eq!(entry["session_type"], "agent");
    assert_eq!(entry["session_name"], "What is Rust?");
    assert!(entry.get("workflow_id").is_none());
    let (_, workflows) = app.get_json("/sessions?type=workflow").await;
    assert_eq!(ids(&workflows), Vec::<&str>::new());

    let (status, detail) = app.get_json("/sessions/chat-1").await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["agent_session_id"], "chat-1");
    assert_eq!(detail["agent_id"], "chat");
    assert_eq!(detail["agent_data"]["name"], "Chat");
    assert_eq!(detail["agent_data"]["model"]["id"], "gpt-5.2");
    assert_eq!(detail["total_tokens"], 12);
    assert_eq!(detail["metrics"]["details"]["model"][0]["total_tokens"], 12);
    let history: Vec<(&str, &str)> = detail["chat_history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["role"].as_str().unwrap(), m["content"].as_str().unwrap()))
        .collect();
    assert_eq!(
        history,
        [("user", "What is Rust?"), ("assistant", "A language.")]
    );

    // The Agent UI's history call: one finished run, one in progress with its input.
    let (status, runs) = app
        .get_json("/sessions/chat-1/runs?type=agent&db_id=x")
        .await;
    assert_eq!(status, 200, "{runs}");
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 2);
    let done = &runs[0];
    assert_eq!(done["run_id"], "r1");
    assert_eq!(done["agent_id"], "chat");
    assert_eq!(done["user_id"], "ann");
    assert_eq!(done["status"], "COMPLETED");
    assert_eq!(done["run_input"], "What is Rust?");
    assert_eq!(done["content"], "A language.");
    assert_eq!(done["run_response_format"], "text");
    assert_eq!(done["parent_run_id"], "");
    assert_eq!(done["messages"].as_array().unwrap().len(), 3);
    assert_eq!(done["metrics"]["total_tokens"], 12);
    assert_eq!(done["input_media"]["images"], json!([]));
    assert!(done["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(done.get("tools").is_none(), "no tools, no key");
    assert!(done.get("workflow_id").is_none());
    let live = &runs[1];
    assert_eq!(live["run_id"], "r2");
    assert_eq!(live["status"], "RUNNING");
    assert_eq!(live["run_input"], "And Go?");
    assert_eq!(live["content"], "");
    assert_eq!(live["agent_id"], "chat");

    let (status, one) = app.get_json("/sessions/chat-1/runs/r1?type=agent").await;
    assert_eq!(status, 200);
    assert_eq!(one["content"], "A language.");
    assert!(
        one.get("forked_from_run_id").is_some_and(Value::is_null),
        "nulls kept"
    );

    let (status, _) = app.get_json("/sessions/chat-1?type=workflow").await;
    assert_eq!(status, 404);
}

fn chrono_now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// `POST /sessions` with `query` and a JSON `body` (none at all when `None`).
async fn create(app: &TestApp, query: &str, body: Option<Value>) -> (u16, Value) {
    let req = app.client.post(app.url(&format!("/sessions{query}")));
    match body {
        Some(body) => send(req.json(&body)).await,
        None => send(req).await,
    }
}

/// The seed workflow, and `stateful`, whose one step answers with the session state's `topic`.
async fn app_with_stateful_workflow() -> TestApp {
    let mock = std::sync::Arc::new(crate::mock_openai::MockOpenAi::start().await);
    let stateful = agentos::Workflow::new("stateful").steps([agentos::Step::function(
        "read",
        |input: agentos::StepInput| async move {
            let topic = input.session_state.get("topic").unwrap_or(Value::Null);
            Ok(agentos::StepOutput::new(format!("topic {topic}")))
        },
    )]);
    let os = agentos::AgentOs::new()
        .workflow(seed_workflow(&mock.base_url(), &[]))
        .workflow(stateful);
    spawn_with(os, mock, HookLog::default()).await
}

#[tokio::test]
async fn a_created_session_is_shown_at_once_and_its_first_run_fills_it_in() {
    let app = app_with_stateful_workflow().await;
    let (status, created) = create(
        &app,
        "?type=workflow&db_id=ignored",
        Some(json!({
            "session_id": "pre", "session_state": {"topic": "exercise"},
            "metadata": {"source": "crm"}, "user_id": "u1",
            // agno's client sends every field, nulls included.
            "session_name": null, "agent_id": null, "team_id": null, "workflow_id": null,
        })),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["session_id"], "pre");
    assert_eq!(created["session_state"], json!({"topic": "exercise"}));
    assert_eq!(created["metadata"], json!({"source": "crm"}));
    assert_eq!(created["user_id"], "u1");
    assert_eq!(created["session_name"], "", "no name and no run yet");
    assert!(created["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(
        created.get("workflow_id").is_none() && created.get("workflow_data").is_none(),
        "no workflow yet, and nulls are left out: {created}"
    );
    let (status, detail) = app.get_json("/sessions/pre").await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["session_state"], created["session_state"]);
    let (_, list) = app.get_json("/sessions?type=workflow").await;
    assert_eq!(ids(&list), ["pre"]);
    let (status, runs) = app.get_json("/sessions/pre/runs").await;
    assert_eq!((status, runs), (200, json!([])));

    // The id is taken now, whatever the type asked.
    for query in ["?type=workflow", "?type=agent", ""] {
        let (status, err) = create(&app, query, Some(json!({"session_id": "pre"}))).await;
        assert_eq!(status, 409, "{query}: {err}");
        assert_eq!(
            err["detail"],
            "Session with id 'pre' already exists. Use PATCH /sessions/pre to update it."
        );
    }

    // The first run in it sees the state it was created with, and names the session.
    let form = reqwest::multipart::Form::new()
        .text("message", "What now?")
        .text("stream", "false")
        .text("session_id", "pre");
    let (status, run) = send(
        app.client
            .post(app.url("/workflows/stateful/runs"))
            .multipart(form),
    )
    .await;
    assert_eq!(status, 200, "{run}");
    assert_eq!(run["content"], "topic \"exercise\"");
    let (_, detail) = app.get_json("/sessions/pre?type=workflow").await;
    assert_eq!(detail["workflow_id"], "stateful");
    assert_eq!(detail["workflow_name"], "stateful");
    assert_eq!(detail["session_name"], "What now?");
    assert_eq!(detail["session_state"]["topic"], "exercise");
    assert_eq!(detail["metadata"], json!({"source": "crm"}));
    let (_, list) = app
        .get_json("/sessions?type=workflow&component_id=stateful")
        .await;
    assert_eq!(ids(&list), ["pre"]);

    // It belongs to that workflow now: another one's run is refused.
    let (status, body) = app
        .run_json(&[("message", "Hi"), ("session_id", "pre")])
        .await;
    assert_eq!(status, 409, "{body}");
}

#[tokio::test]
async fn a_session_is_created_as_an_agent_session_by_default_and_keeps_its_type() {
    let app = spawn_app().await;
    // No body at all, no type: an agent session with a new id.
    let (status, created) = create(&app, "", None).await;
    assert_eq!(status, 201, "{created}");
    let id = created["session_id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 36, "a uuid: {id}");
    assert_eq!(created["agent_session_id"], id.as_str());
    assert_eq!(created["chat_history"], json!([]));
    assert!(created.get("agent_id").is_none(), "{created}");
    let (_, list) = app.get_json("/sessions?type=agent").await;
    assert_eq!(ids(&list), [id.as_str()]);

    let (status, named) = create(
        &app,
        "?type=agent",
        Some(
            json!({"session_id": "", "session_name": "Planning", "agent_id": "assistant",
                    "workflow_id": "not-for-agents"}),
        ),
    )
    .await;
    assert_eq!(status, 201, "{named}");
    assert_ne!(named["session_id"], "", "an empty id gets a new one");
    assert_eq!(named["session_name"], "Planning");
    assert_eq!(named["agent_id"], "assistant");
    assert!(named.get("workflow_id").is_none());
    let (status, team) = create(&app, "?type=team", Some(json!({"team_id": "t1"}))).await;
    assert_eq!((status, &team["team_id"]), (201, &json!("t1")), "{team}");

    // A workflow run cannot take over an agent session: 409, and the session is unchanged.
    let (status, body) = app
        .run_json(&[("message", "Hi"), ("session_id", &id)])
        .await;
    assert_eq!(status, 409, "{body}");
    let (_, detail) = app.get_json(&format!("/sessions/{id}")).await;
    assert!(detail.get("agent_id").is_none(), "{detail}");
    assert_eq!(detail["session_name"], "");
    let (_, runs) = app.get_json(&format!("/sessions/{id}/runs")).await;
    assert_eq!(runs, json!([]));
}

#[tokio::test]
async fn bad_create_requests_get_4xx_and_create_nothing() {
    let app = spawn_app().await;
    let raw = |query: &str, body: &str| {
        app.client
            .post(app.url(&format!("/sessions{query}")))
            .header("content-type", "application/json")
            .body(body.to_owned())
    };
    for (query, body, loc) in [
        ("?type=robot", "{}", json!(["query", "type"])),
        (
            "",
            r#"{"session_state": "x"}"#,
            json!(["body", "session_state"]),
        ),
        ("", r#"{"metadata": [1]}"#, json!(["body", "metadata"])),
        ("", r#"{"session_id": 5}"#, json!(["body", "session_id"])),
        ("", r#"{"agent_id": true}"#, json!(["body", "agent_id"])),
        ("", "not json", json!(["body", 0])),
        ("", "[1]", json!(["body"])),
    ] {
        let (status, err) = send(raw(query, body)).await;
        assert_eq!(status, 422, "{query} {body}: {err}");
        assert_eq!(error_locs(&err), [loc], "{query} {body}");
    }
    let (status, err) = create(&app, "", Some(json!({"session_id": "a\u{0}b"}))).await;
    assert_eq!(status, 400, "{err}");
    assert_eq!(err["detail"], "session_id must not contain NUL bytes");
    let (status, err) = create(
        &app,
        "?type=workflow",
        Some(json!({"workflow_id": "w\u{0}"})),
    )
    .await;
    assert_eq!(status, 400, "{err}");
    assert_eq!(err["detail"], "workflow_id must not contain NUL bytes");
    let (_, list) = app.get_json("/sessions").await;
    assert_eq!(list["meta"]["total_count"], 0, "{list}");
}

/// The keys of a run preview.
fn keys(v: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn run_previews_list_each_run_briefly_with_the_filters_of_runs() {
    let app = spawn_app().await;
    // 300 characters, two bytes each: the preview keeps 280 characters, not bytes.
    let long = "é".repeat(300);
    let first = run_in(&app, "pv", Some("u1"), &long).await;
    let second = run_in(&app, "pv", Some("u1"), "Short one").await;

    let (status, previews) = app.get_json("/sessions/pv/run-previews").await;
    assert_eq!(status, 200, "{previews}");
    let previews = previews.as_array().unwrap();
    assert_eq!(previews.len(), 2);
    let p = &previews[0];
    assert_eq!(
        keys(p),
        [
            "content_preview",
            "created_at",
            "run_id",
            "run_input",
            "status",
            "user_id",
            "workflow_id"
        ],
        "no steps, messages, events or metrics: {p}"
    );
    assert_eq!(p["run_id"], first["run_id"]);
    assert_eq!(p["workflow_id"], WF);
    assert_eq!(p["user_id"], "u1");
    assert_eq!(p["status"], "COMPLETED");
    assert_eq!(p["run_input"], "é".repeat(280));
    let content = first["content"].as_str().unwrap();
    assert!(content.chars().count() > 280);
    assert_eq!(
        p["content_preview"],
        content.chars().take(280).collect::<String>()
    );
    assert_eq!(
        p["created_at"],
        app.get_json("/sessions/pv/runs").await.1[0]["created_at"]
    );
    let p = &previews[1];
    assert_eq!(p["run_id"], second["run_id"]);
    assert_eq!(p["run_input"], "Short one");
    assert_eq!(p["content_preview"], second["content"]);

    // The filters of /runs.
    let count = |q: &'static str| {
        let app = &app;
        async move {
            let (status, body) = app
                .get_json(&format!("/sessions/pv/run-previews?{q}"))
                .await;
            assert_eq!(status, 200, "{q}: {body}");
            body.as_array().unwrap().len()
        }
    };
    assert_eq!(count("status=completed&type=workflow").await, 2);
    assert_eq!(count("status=ERROR&status=RUNNING").await, 0);
    assert_eq!(count("created_after=4102444800").await, 0);
    assert_eq!(count("user_id=u1").await, 2);
    for (path, status) in [
        ("/sessions/pv/run-previews?status=DONE", 400),
        ("/sessions/pv/run-previews?created_before=soon", 422),
        ("/sessions/pv/run-previews?type=agent", 404),
        ("/sessions/pv/run-previews?user_id=u2", 404),
        ("/sessions/nope/run-previews", 404),
    ] {
        let (got, body) = app.get_json(path).await;
        assert_eq!(got, status, "{path}: {body}");
    }
    let (_, body) = app.get_json("/sessions/nope/run-previews").await;
    assert_eq!(body["detail"], "Session with ID nope not found");
}

#[tokio::test]
async fn agent_run_previews_show_structured_content_as_python_json() {
    let app = spawn_app().await;
    assert_eq!(app.get_json("/health").await.0, 200);
    let store = SqliteStore::open(&app.db_path).await.unwrap();
    let now = chrono_now_millis();
    let session = SessionRecord {
        session_id: "chat-p".to_owned(),
        session_type: agentos::ComponentKind::Agent,
        component_id: "chat".to_owned(),
        user_id: Some("ann".to_owned()),
        session_name: Some("Weather?".to_owned()),
        session_state: "{}".to_owned(),
        created_at: now,
        updated_at: now,
    };
    store
        .begin_run(&session, &agent_run("r1", "chat-p", "Weather?", now), None)
        .await
        .unwrap();
    let mut output = agent_output("r1", "chat-p", "Weather?", "");
    output.content = json!({"city": "Zürich", "temps": [3, 5]});
    output.content_type = "Forecast".to_owned();
    store
        .finish_run(
            "r1",
            RunStatus::Completed,
            &serde_json::to_string(&output).unwrap(),
            None,
            Vec::new(),
        )
        .await
        .unwrap();
    store
        .begin_run(
            &session,
            &agent_run("r2", "chat-p", "And tomorrow?", now + 1),
            None,
        )
        .await
        .unwrap();
    store.close().await;

    let (status, previews) = app.get_json("/sessions/chat-p/run-previews").await;
    assert_eq!(status, 200, "{previews}");
    let done = &previews[0];
    assert_eq!(done["agent_id"], "chat");
    assert_eq!(done["parent_run_id"], "");
    assert_eq!(done["run_input"], "Weather?");
    // Python's json.dumps: ", " and ": " separators, non-ASCII escaped.
    assert_eq!(
        done["content_preview"],
        r#"{"city": "Z\u00fcrich", "temps": [3, 5]}"#
    );
    assert!(done.get("workflow_id").is_none());
    let live = &previews[1];
    assert_eq!(live["status"], "RUNNING");
    assert_eq!(live["run_input"], "And tomorrow?");
    assert_eq!(live["content_preview"], "");
}
