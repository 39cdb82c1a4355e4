//! User memories and session summaries: the memory manager's background job after a run (and
//! through the agentic `update_user_memory` tool), what later runs see, per-user isolation,
//! failures that never touch the answer, and session summaries. The routes are in
//! `memory_routes.rs`.

use crate::helpers::{HookLog, TestApp, fast_retries, spawn_with, stored_jobs, wait_for};
use crate::mock_openai::MockOpenAi;
use agentos::{Agent, AgentOs, MemoryManager, OpenAIChat};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

const AGENT: &str = "assistant";

fn model(url: &str) -> OpenAIChat {
    OpenAIChat::new("gpt-5.2")
        .base_url(url)
        .api_key("test-key")
        .timeout(Duration::from_secs(30))
        .retry_policy(fast_retries())
}

/// An assistant on `mock` that learns about its users after each run.
pub(crate) fn remembering(mock: &MockOpenAi) -> Agent {
    Agent::new("Assistant")
        .model(model(&mock.base_url()))
        .instructions("You are a helpful assistant.")
        .update_memory_on_run(true)
}

fn os(agent: Agent) -> AgentOs {
    AgentOs::new()
        .agent(agent)
        .hook_retries(2, Duration::from_millis(10))
        .hook_poll_interval(Duration::from_millis(20))
}

pub(crate) async fn spawn(agent: Agent, mock: Arc<MockOpenAi>) -> TestApp {
    spawn_with(os(agent), mock, HookLog::default()).await
}

/// The memories of `user` once there are `n` of them (waits up to 10 s).
async fn memories_of(app: &TestApp, user: &str, n: usize) -> Vec<Value> {
    let path = format!("/memories?user_id={user}");
    let found = wait_for(Duration::from_secs(10), || async {
        let (_, body) = app.get_json(&path).await;
        let data = body["data"].as_array().cloned().unwrap_or_default();
        (data.len() >= n).then_some(data)
    })
    .await;
    found.unwrap_or_else(|| panic!("{user} never had {n} memories"))
}

/// The system message of the model request whose last user message is `message`.
fn system_for(mock: &MockOpenAi, message: &str) -> String {
    let request = mock
        .requests()
        .into_iter()
        .find(|r| {
            r["messages"]
                .as_array()
                .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
                .is_some_and(|m| m["content"] == message)
        })
        .unwrap_or_else(|| panic!("no model request for {message:?}"));
    request["messages"][0]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_memory_learned_after_a_run_reaches_the_users_other_sessions_only() {
    let mock = Arc::new(MockOpenAi::start().await);
    let app = spawn(remembering(&mock), mock.clone()).await;

    let (status, run) = app
        .agent_run(
            AGENT,
            &[
                ("message", "I love jazz"),
                ("user_id", "alice"),
                ("session_id", "a1"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{run}");
    assert_eq!(run["status"], "COMPLETED");
    assert_eq!(run["content"], "reply to: I love jazz");

    // After the response, the memory manager's job kept the fact, as agno's tools would.
    let memories = memories_of(&app, "alice", 1).await;
    assert_eq!(memories[0]["memory"], "The user said: I love jazz");
    assert_eq!(memories[0]["topics"], json!(["conversation"]));
    assert_eq!(memories[0]["agent_id"], AGENT);
    assert_eq!(memories[0]["user_id"], "alice");
    let manager = mock
        .requests()
        .into_iter()
        .find(|r| {
            r["tools"].is_array()
                && r["messages"][0]["content"]
                    .as_str()
                    .is_some_and(|s| s.starts_with("You are a Memory Manager"))
        })
        .expect("the memory manager called the model");
    let tools: Vec<&str> = manager["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["function"]["name"].as_str())
        .collect();
    assert_eq!(tools, ["add_memory", "update_memory", "delete_memory"]);
    assert_eq!(manager["messages"][1]["content"], "I love jazz");
    let jobs = stored_jobs(&app.db_path).await;
    let job = jobs
        .iter()
        .find(|j| j.kind == "memory")
        .expect("a memory job");
    assert_eq!(job.status, "done");
    assert_eq!(job.run_id.as_deref(), run["run_id"].as_str());

    // Another session of alice's sees it; bob's never does.
    app.agent_run(
        AGENT,
        &[
            ("message", "What do I like?"),
            ("user_id", "alice"),
            ("session_id", "a2"),
        ],
    )
    .await;
    let alice = system_for(&mock, "What do I like?");
    assert!(
        alice.contains("<memories_from_previous_interactions>\n- The user said: I love jazz\n</memories_from_previous_interactions>"),
        "{alice}"
    );
    app.agent_run(
        AGENT,
        &[
            ("message", "What does bob like?"),
            ("user_id", "bob"),
            ("session_id", "b1"),
        ],
    )
    .await;
    let bob = system_for(&mock, "What does bob like?");
    assert!(!bob.contains("jazz"), "{bob}");
    assert!(
        bob.contains("have not had any interactions with the user yet"),
        "{bob}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_memory_job_leaves_the_run_completed_and_is_retried_and_recorded() {
    let mock = Arc::new(MockOpenAi::start().await);
    let broken = MockOpenAi::start().await;
    broken.fail_with(500);
    let agent = remembering(&mock).memory_manager(MemoryManager::new().model(
        model(&broken.base_url()).retry_policy(agentos::RetryPolicy {
            max_attempts: 1,
            ..fast_retries()
        }),
    ));
    let app = spawn(agent, mock.clone()).await;

    let (status, run) = app
        .agent_run(AGENT, &[("message", "My name is Ana"), ("user_id", "ana")])
        .await;
    assert_eq!(status, 200, "{run}");
    assert_eq!(run["status"], "COMPLETED");
    assert_eq!(run["content"], "reply to: My name is Ana");

    let dead = wait_for(Duration::from_secs(10), || async {
        let jobs = stored_jobs(&app.db_path).await;
        jobs.into_iter()
            .find(|j| j.kind == "memory" && j.status == "dead")
    })
    .await
    .expect("the memory job ends dead after its retries");
    assert_eq!(dead.attempts, 2);
    let errors: Vec<Value> = serde_json::from_str(&dead.attempt_errors).unwrap();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        dead.last_error.as_deref().unwrap_or("").contains("500"),
        "{:?}",
        dead.last_error
    );
    let (_, stored) = app
        .get_json(&format!(
            "/agents/{AGENT}/runs/{}",
            run["run_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(stored["status"], "COMPLETED", "{stored}");
    assert!(memories_list(&app, "ana").await.is_empty());
}

pub(crate) async fn memories_list(app: &TestApp, user: &str) -> Vec<Value> {
    let (_, body) = app.get_json(&format!("/memories?user_id={user}")).await;
    body["data"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn agentic_memory_is_updated_after_the_response() {
    let mock = Arc::new(MockOpenAi::start().await);
    let agent = Agent::new("Assistant")
        .model(model(&mock.base_url()))
        .enable_agentic_memory(true);
    let app = spawn(agent, mock.clone()).await;
    mock.push_tool_calls(&[(
        "update_user_memory",
        json!({"task": "Remember that the user is vegetarian"}),
    )]);
    mock.push_reply("Noted: you are vegetarian.");

    let (_, run) = app
        .agent_run(
            AGENT,
            &[("message", "I am vegetarian"), ("user_id", "vera")],
        )
        .await;
    assert_eq!(run["status"], "COMPLETED", "{run}");
    assert_eq!(run["content"], "Noted: you are vegetarian.");
    assert!(
        run["tools"][0]["result"]
            .as_str()
            .unwrap()
            .starts_with("Memory update scheduled"),
        "{run}"
    );
    let system = system_for(&mock, "I am vegetarian");
    assert!(system.contains("<updating_user_memories>"), "{system}");
    // The task reached the memory manager, whose tools now may not clear memories (agno's
    // default), and a memory was kept.
    let memories = memories_of(&app, "vera", 1).await;
    assert_eq!(
        memories[0]["memory"],
        "The user said: Remember that the user is vegetarian"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plain_agent_leaves_no_memory_or_summary_job() {
    let mock = Arc::new(MockOpenAi::start().await);
    let agent = Agent::new("Assistant").model(model(&mock.base_url()));
    let app = spawn(agent, mock.clone()).await;
    let (_, run) = app
        .agent_run(AGENT, &[("message", "My name is Ana"), ("user_id", "ana")])
        .await;
    assert_eq!(run["status"], "COMPLETED");
    assert!(stored_jobs(&app.db_path).await.is_empty());
    assert_eq!(mock.requests().len(), 1, "one model call, nothing else");
    let system = mock.requests()[0]["messages"][0].clone();
    assert_eq!(
        system["role"], "user",
        "no system message without instructions"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn session_summaries_are_stored_on_the_session_and_added_to_the_context() {
    let mock = Arc::new(MockOpenAi::start().await);
    let agent = Agent::new("Assistant")
        .model(model(&mock.base_url()))
        .enable_session_summaries(true);
    let app = spawn(agent, mock.clone()).await;
    app.agent_run(AGENT, &[("message", "Plan a trip"), ("session_id", "s1")])
        .await;
    let summary = wait_for(Duration::from_secs(10), || async {
        let (_, session) = app.get_json("/sessions/s1").await;
        session
            .get("session_summary")
            .filter(|s| s.is_object())
            .cloned()
    })
    .await
    .expect("the session shows its summary");
    assert_eq!(summary["summary"], "Summary of: Plan a trip");
    assert_eq!(summary["topics"], json!(["chat"]));
    assert!(summary["updated_at"].is_string());

    app.agent_run(AGENT, &[("message", "To Lisbon"), ("session_id", "s1")])
        .await;
    let system = system_for(&mock, "To Lisbon");
    assert!(
        system.contains(
            "<summary_of_previous_interactions>\nSummary of: Plan a trip\n</summary_of_previous_interactions>"
        ),
        "{system}"
    );
    // The next summary covers both runs.
    let updated = wait_for(Duration::from_secs(10), || async {
        let (_, session) = app.get_json("/sessions/s1").await;
        let text = session["session_summary"]["summary"].as_str()?.to_owned();
        text.contains("To Lisbon").then_some(text)
    })
    .await
    .expect("the summary is made again after the second run");
    assert_eq!(updated, "Summary of: Plan a trip | To Lisbon");
}
