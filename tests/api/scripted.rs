//! The offline model users test with (`ScriptedModel`), and a workflow whose last step answers
//! with an output type.

use crate::helpers::{HookLog, WF, parse_sse, spawn_with};
use crate::mock_openai::MockOpenAi;
use agentos::{Agent, AgentOs, ScriptedModel, ScriptedReply, Workflow, WorkflowRunOutput, tool_fn};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

#[derive(Debug, Deserialize, JsonSchema)]
#[allow(dead_code)]
struct Report {
    /// The headline.
    title: String,
    /// How sure the writer is, 0 to 10.
    confidence: u32,
    /// Short points.
    points: Vec<String>,
}

#[derive(Deserialize, JsonSchema)]
struct Pair {
    a: i64,
    b: i64,
}

#[tokio::test]
async fn a_workflow_ending_with_a_structured_agent_answers_its_object() {
    let mock = Arc::new(MockOpenAi::start().await);
    let wf = Workflow::new(WF).steps([
        Agent::new("Researcher").model(ScriptedModel::new()),
        Agent::new("Writer")
            .model(ScriptedModel::new())
            .output_schema::<Report>(),
    ]);
    let app = spawn_with(AgentOs::new().workflow(wf), mock, HookLog::default()).await;

    let (status, body) = app.run_json(&[("message", "tides")]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "COMPLETED", "{body}");
    // The scripted default fits the schema; the workflow's content is that object.
    assert!(body["content"].is_object(), "{body}");
    assert_eq!(body["content_type"], "Report");
    let title = body["content"]["title"].as_str().unwrap();
    assert!(title.starts_with("Scripted reply to: "), "{title}");
    let output: WorkflowRunOutput = serde_json::from_value(body.clone()).unwrap();
    let report: Report = output.content_as().unwrap();
    assert_eq!(report.title, title);

    // Streamed, WorkflowCompleted carries the same object.
    let res = app
        .post_run(&[("message", "tides"), ("stream", "true")])
        .await;
    let events = parse_sse(&res.text().await.unwrap());
    let done = &events
        .iter()
        .find(|(n, _)| n == "WorkflowCompleted")
        .unwrap()
        .1;
    assert!(done["content"].is_object(), "{done}");
    assert_eq!(done["content_type"], "Report");

    // The stored run answers the same object.
    let (_, stored) = app
        .get_json(&format!(
            "/workflows/{WF}/runs/{}",
            body["run_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(stored["content"], body["content"]);
}

#[tokio::test]
async fn a_script_starts_over_for_every_run() {
    let mock = Arc::new(MockOpenAi::start().await);
    let model = ScriptedModel::script([
        ScriptedReply::tool_call("add", json!({"a": 2, "b": 3})),
        ScriptedReply::text("the sum is 5"),
    ]);
    let add = tool_fn("add", "Add two numbers.", |p: Pair| async move {
        Ok::<_, String>(p.a + p.b)
    });
    let wf = Workflow::new(WF).steps([Agent::new("Adder").model(model).tool(add)]);
    let app = spawn_with(AgentOs::new().workflow(wf), mock, HookLog::default()).await;

    for run in 1..=3 {
        let (status, body) = app.run_json(&[("message", "2 + 3?")]).await;
        assert_eq!(status, 200);
        assert_eq!(body["content"], "the sum is 5", "run {run}: {body}");
        let tools = body["step_executor_runs"][0]["tools"].as_array().unwrap();
        assert_eq!(tools.len(), 1, "run {run} called the tool once: {body}");
        assert_eq!(tools[0]["result"], "5");
    }
}
