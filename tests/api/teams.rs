//! Teams through the HTTP API: each mode (coordinate, route, broadcast, tasks), the stored run
//! and its session as agno shows them, and the team's events; the helpers the other team tests
//! share. (`team_features.rs`: nested teams, workflow steps, options, history, bad input;
//! `team_durability.rs`: cancel, failures, background runs, hooks, crashes.)

use crate::helpers::{HookLog, TestApp, parse_sse, spawn_with};
use crate::mock_openai::MockOpenAi;
use agentos::{Agent, AgentOs, OpenAIChat, ScriptedModel, ScriptedReply, Team, TeamMode};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// `POST /teams/{team}/runs` as multipart with these fields.
pub(crate) async fn post_team(
    app: &TestApp,
    team: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let form = fields
        .iter()
        .fold(reqwest::multipart::Form::new(), |f, (k, v)| {
            f.text(k.to_string(), v.to_string())
        });
    app.client
        .post(app.url(&format!("/teams/{team}/runs")))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

/// A non-streamed team run: status and JSON body.
pub(crate) async fn run_team(app: &TestApp, team: &str, fields: &[(&str, &str)]) -> (u16, Value) {
    let mut all = vec![("stream", "false")];
    all.extend_from_slice(fields);
    let res = post_team(app, team, &all).await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

/// A streamed team run's events.
pub(crate) async fn stream_team(
    app: &TestApp,
    team: &str,
    fields: &[(&str, &str)],
) -> Vec<(String, Value)> {
    let mut all = vec![("stream", "true")];
    all.extend_from_slice(fields);
    let res = post_team(app, team, &all).await;
    assert_eq!(res.status(), 200);
    parse_sse(&res.text().await.unwrap())
}

/// A member whose scripted model says what it was asked: `<Name> did: <its input>`.
pub(crate) fn member(name: &str) -> Agent {
    let who = name.to_owned();
    Agent::new(name)
        .model(ScriptedModel::from_fn(move |req| {
            Ok(format!("{who} did: {}", req.last_user_message()))
        }))
        .role(format!("The {name}"))
}

/// A leader that delegates `first` to one member, `then` to another, then answers with the
/// last member's answer.
pub(crate) fn two_step_leader(first: (&str, &str), then: (&str, &str)) -> ScriptedModel {
    let (first, then) = (
        (first.0.to_owned(), first.1.to_owned()),
        (then.0.to_owned(), then.1.to_owned()),
    );
    ScriptedModel::respond(move |req| {
        Ok(match req.turn() {
            0 => ScriptedReply::delegate(&first.0, &first.1),
            1 => ScriptedReply::delegate(&then.0, &then.1),
            _ => ScriptedReply::text(format!(
                "Final: {}",
                req.tool_results().last().unwrap().content
            )),
        })
    })
}

pub(crate) async fn app_with(os: AgentOs) -> TestApp {
    let mock = Arc::new(MockOpenAi::start().await);
    spawn_with(os, mock, HookLog::default()).await
}

pub(crate) fn research_team(leader: ScriptedModel) -> Team {
    Team::new("Research Team")
        .model(leader)
        .instructions("Delegate research, then writing.")
        .members([member("Researcher"), member("Writer")])
}

fn event_names(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(n, _)| n.as_str()).collect()
}

#[tokio::test]
async fn a_coordinating_leader_delegates_then_answers_and_the_run_is_stored_as_agno_shows_it() {
    let leader = two_step_leader(("researcher", "find facts"), ("writer", "write it up"));
    let app = app_with(AgentOs::new().team(research_team(leader))).await;

    // The team as agno's clients list it.
    let (status, teams) = app.get_json("/teams").await;
    assert_eq!(status, 200);
    let team = &teams[0];
    assert_eq!(team["id"], "research-team");
    assert_eq!(team["name"], "Research Team");
    assert_eq!(team["mode"], "coordinate");
    assert_eq!(team["model"]["provider"], "Scripted");
    assert_eq!(team["members"][1]["id"], "writer");
    assert_eq!(team["tools"]["tools"][0]["name"], "delegate_task_to_member");
    assert_eq!(
        team["tools"]["tools"][0]["parameters"]["required"],
        json!(["member_id", "task"])
    );
    assert_eq!(app.get_json("/teams/research-team").await.1, *team);

    let (status, body) = run_team(&app, "research-team", &[("message", "tides")]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "COMPLETED", "{body}");
    assert_eq!(body["content"], "Final: Writer did: write it up");
    assert_eq!(body["team_id"], "research-team");
    assert_eq!(body["team_name"], "Research Team");
    assert_eq!(body["input"]["input_content"], "tides");
    let run_id = body["run_id"].as_str().unwrap();
    let session = body["session_id"].as_str().unwrap();
    let members = body["member_responses"].as_array().unwrap();
    assert_eq!(members.len(), 2);
    assert_eq!(members[0]["agent_id"], "researcher");
    assert_eq!(members[0]["content"], "Researcher did: find facts");
    assert_eq!(members[0]["parent_run_id"], run_id);
    assert_eq!(members[1]["agent_id"], "writer");
    // Each delegation names the member run it started.
    assert_eq!(body["tools"][0]["tool_name"], "delegate_task_to_member");
    assert_eq!(body["tools"][0]["child_run_id"], members[0]["run_id"]);
    assert_eq!(body["tools"][0]["result"], "Researcher did: find facts");
    // The leader's system message is agno's: instructions, then the roster and its rules.
    let system = body["messages"][0]["content"].as_str().unwrap();
    assert!(
        system.starts_with("Delegate research, then writing.\n\n<team>\n"),
        "{system}"
    );
    assert!(
        system.contains(
            "<member id=\"researcher\" name=\"Researcher\">\n  Role: The Researcher\n</member>"
        ),
        "{system}"
    );
    assert!(system.contains("You work in coordinate mode"), "{system}");

    // Polled and listed as agno does.
    let (status, polled) = app
        .get_json(&format!("/teams/research-team/runs/{run_id}"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(polled, body);
    let (_, runs) = app
        .get_json(&format!("/teams/research-team/runs?session_id={session}"))
        .await;
    assert_eq!(runs.as_array().unwrap().len(), 1, "{runs}");
    assert_eq!(runs[0]["team_id"], "research-team");
    assert_eq!(runs[0]["run_input"], "tides");

    // A session of type team; its runs are the member runs, then the team run.
    let (_, sessions) = app.get_json("/sessions?type=team").await;
    assert_eq!(sessions["data"][0]["session_id"], session);
    let (_, all) = app.get_json("/sessions?type=agent").await;
    assert_eq!(all["data"].as_array().unwrap().len(), 0);
    let (status, runs) = app
        .get_json(&format!("/sessions/{session}/runs?type=team"))
        .await;
    assert_eq!(status, 200);
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 3, "{runs:?}");
    assert_eq!(runs[0]["agent_id"], "researcher");
    assert_eq!(runs[0]["parent_run_id"], run_id);
    assert_eq!(runs[0]["run_input"], "find facts");
    assert_eq!(runs[1]["agent_id"], "writer");
    assert_eq!(runs[2]["team_id"], "research-team");
    assert_eq!(runs[2]["content"], body["content"]);
    let member_run = members[1]["run_id"].as_str().unwrap();
    let (status, one) = app
        .get_json(&format!("/sessions/{session}/runs/{member_run}"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(one["content"], "Writer did: write it up");
}

#[tokio::test]
async fn a_streamed_team_run_sends_agnos_team_events_and_its_members_events() {
    let leader = two_step_leader(("researcher", "find facts"), ("writer", "write it up"));
    let app = app_with(AgentOs::new().team(research_team(leader))).await;
    let events = stream_team(&app, "research-team", &[("message", "tides")]).await;
    let names = event_names(&events);
    let team_run = events[0].1["run_id"].as_str().unwrap().to_owned();
    // agno's order: the leader's call, the delegation with the member's own run inside it.
    let expected_start = [
        "TeamRunStarted",
        "TeamModelRequestStarted",
        "TeamModelRequestCompleted",
        "TeamToolCallStarted",
        "RunStarted",
        "ModelRequestStarted",
    ];
    assert_eq!(&names[..6], expected_start, "{names:?}");
    assert_eq!(
        &names[names.len() - 4..],
        [
            "TeamRunContent",
            "TeamModelRequestCompleted",
            "TeamRunContentCompleted",
            "TeamRunCompleted"
        ]
    );
    let (_, started) = &events[0];
    assert_eq!(started["team_id"], "research-team");
    assert_eq!(started["team_name"], "Research Team");
    assert!(started.get("agent_id").is_none(), "{started}");
    // The members' events name them and their parent.
    let member_started = &events[4].1;
    assert_eq!(member_started["agent_id"], "researcher");
    assert_eq!(member_started["parent_run_id"], team_run.as_str());
    let member_done: Vec<&Value> = events
        .iter()
        .filter(|(n, _)| n == "RunCompleted")
        .map(|(_, d)| d)
        .collect();
    assert_eq!(member_done.len(), 2);
    assert_eq!(member_done[1]["content"], "Writer did: write it up");
    let tool_done = events
        .iter()
        .find(|(n, _)| n == "TeamToolCallCompleted")
        .unwrap();
    assert_eq!(tool_done.1["tool"]["result"], "Researcher did: find facts");
    let (_, completed) = events.last().unwrap();
    assert_eq!(completed["content"], "Final: Writer did: write it up");
    assert_eq!(completed["member_responses"].as_array().unwrap().len(), 2);

    // Without member events, only the team's own.
    let quiet = Team::new("Quiet")
        .model(two_step_leader(("researcher", "a"), ("writer", "b")))
        .members([member("Researcher"), member("Writer")])
        .stream_member_events(false);
    let app = app_with(AgentOs::new().team(quiet)).await;
    let events = stream_team(&app, "quiet", &[("message", "x")]).await;
    assert!(
        events.iter().all(|(n, _)| n.starts_with("Team")),
        "{:?}",
        event_names(&events)
    );
    assert_eq!(events.last().unwrap().0, "TeamRunCompleted");
}

#[tokio::test]
async fn a_routing_leader_hands_over_and_the_members_answer_is_the_teams() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let leader = ScriptedModel::respond(move |_| {
        counted.fetch_add(1, Ordering::SeqCst);
        Ok(ScriptedReply::delegate(
            "writer",
            "write a haiku about tides",
        ))
    });
    let team = research_team(leader).id("router").mode(TeamMode::Route);
    let app = app_with(AgentOs::new().team(team)).await;
    let (_, body) = run_team(&app, "router", &[("message", "a haiku please")]).await;
    assert_eq!(body["status"], "COMPLETED", "{body}");
    assert_eq!(body["content"], "Writer did: write a haiku about tides");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "no second leader call");
    assert_eq!(body["tools"][0]["stop_after_tool_call"], true);
    let system = body["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("You work in route mode"), "{system}");

    let events = stream_team(&app, "router", &[("message", "again")]).await;
    let content: Vec<&Value> = events
        .iter()
        .filter(|(n, _)| n == "TeamRunContent")
        .map(|(_, d)| &d["content"])
        .collect();
    assert_eq!(content, [&json!("Writer did: write a haiku about tides")]);
    assert_eq!(events.last().unwrap().0, "TeamRunCompleted");
    assert_eq!(
        events.last().unwrap().1["content"],
        "Writer did: write a haiku about tides"
    );
    // `respond_directly(true)` is route mode, as in agno.
    let direct = research_team(ScriptedModel::new()).respond_directly(true);
    assert_eq!(direct.get_mode(), TeamMode::Route);
}

#[tokio::test]
async fn a_broadcast_reaches_every_member_at_once() {
    let mock = Arc::new(MockOpenAi::start().await);
    mock.set_delay(Duration::from_millis(200));
    let slow = |name: &str| {
        Agent::new(name).model(
            OpenAIChat::new("gpt-5.2")
                .base_url(mock.base_url())
                .api_key("k"),
        )
    };
    let leader = ScriptedModel::respond(|req| {
        Ok(match req.turn() {
            0 => ScriptedReply::delegate_to_all("what matters most?"),
            _ => ScriptedReply::text(format!("Summary of: {}", req.tool_results()[0].content)),
        })
    });
    let team = Team::new("Panel")
        .model(leader)
        .members([slow("Optimist"), slow("Skeptic")])
        .mode(TeamMode::Broadcast);
    let app = spawn_with(AgentOs::new().team(team), mock.clone(), HookLog::default()).await;
    let events = stream_team(&app, "panel", &[("message", "hi")]).await;
    let names = event_names(&events);
    // Both members started before either finished: they ran concurrently.
    let second_start = names
        .iter()
        .enumerate()
        .filter(|(_, n)| **n == "RunStarted")
        .nth(1)
        .unwrap()
        .0;
    let first_done = names.iter().position(|n| *n == "RunCompleted").unwrap();
    assert!(second_start < first_done, "{names:?}");
    let (_, done) = events.last().unwrap();
    assert_eq!(
        done["content"],
        "Summary of: Agent Optimist: reply to: what matters most?\n\nAgent Skeptic: reply to: what matters most?"
    );
    assert_eq!(done["member_responses"].as_array().unwrap().len(), 2);
    let started = events
        .iter()
        .find(|(n, _)| n == "TeamToolCallStarted")
        .unwrap();
    assert_eq!(started.1["tool"]["tool_name"], "delegate_task_to_members");
}

/// The ids in `Task created: [id] ...` results.
fn task_ids(req: &agentos::ModelRequest) -> Vec<String> {
    req.tool_results()
        .iter()
        .filter_map(|r| {
            let text = r.content.strip_prefix("Task created: [")?;
            Some(text[..text.find(']')?].to_owned())
        })
        .collect()
}

#[tokio::test]
async fn in_tasks_mode_the_leader_works_through_its_task_list() {
    let leader = ScriptedModel::respond(|req| {
        Ok(match req.turn() {
            0 => ScriptedReply::tool_call(
                "create_task",
                json!({"title": "Research", "description": "find facts", "assignee": "researcher"}),
            )
            .and_tool_call(
                "create_task",
                json!({"title": "Write", "description": "write the report", "assignee": "writer"}),
            ),
            1 => ScriptedReply::tool_call(
                "execute_tasks_parallel",
                json!({"task_ids": task_ids(req)}),
            ),
            _ => ScriptedReply::text("Both tasks are done."),
        })
    });
    let team = research_team(leader).id("planner").mode(TeamMode::Tasks);
    let app = app_with(AgentOs::new().team(team)).await;
    let events = stream_team(&app, "planner", &[("message", "a report")]).await;
    let names = event_names(&events);
    assert_eq!(names[1], "TeamTaskIterationStarted", "{names:?}");
    assert_eq!(names.iter().filter(|n| **n == "TeamTaskCreated").count(), 2);
    assert_eq!(
        names.iter().filter(|n| **n == "TeamTaskUpdated").count(),
        4,
        "{names:?}"
    );
    let state = events
        .iter()
        .find(|(n, _)| n == "TeamTaskStateUpdated")
        .unwrap();
    let tasks = state.1["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 2);
    assert!(
        tasks.iter().all(|t| t["status"] == "completed"),
        "{tasks:?}"
    );
    assert_eq!(tasks[0]["result"], "Researcher did: find facts");
    let (_, done) = events.last().unwrap();
    assert_eq!(done["content"], "Both tasks are done.");
    assert_eq!(done["member_responses"].as_array().unwrap().len(), 2);
    // The task list lives in the session state, as agno keeps it.
    let session = done["session_id"].as_str().unwrap();
    let (_, detail) = app.get_json(&format!("/sessions/{session}")).await;
    let stored = &detail["session_state"]["_team_tasks"]["tasks"];
    assert_eq!(
        stored[1]["result"], "Writer did: write the report",
        "{detail}"
    );
    assert_eq!(stored[0]["assignee"], "researcher");
}

#[tokio::test]
async fn a_tasks_leader_that_only_talks_is_reminded_once_then_its_answer_is_final() {
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    let leader = ScriptedModel::respond(move |req| {
        seen.lock()
            .unwrap()
            .push(req.last_user_message().to_owned());
        Ok(ScriptedReply::text("Hello there."))
    });
    let team = research_team(leader).id("planner").mode(TeamMode::Tasks);
    let app = app_with(AgentOs::new().team(team)).await;
    let (_, body) = run_team(&app, "planner", &[("message", "hi")]).await;
    assert_eq!(body["status"], "COMPLETED", "{body}");
    assert_eq!(body["content"], "Hello there.");
    let requests = requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert!(
        requests[1]
            .starts_with("<current_task_state>\nNo tasks created yet.\n</current_task_state>"),
        "{requests:?}"
    );
}
