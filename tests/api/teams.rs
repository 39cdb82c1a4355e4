//! Teams through the HTTP API: each mode, nested teams, a team step in a workflow, the
//! options that shape members' input, history, sessions of type team, and bad input.
//! (`team_durability.rs`: cancel, failures, background runs, hooks, crashes.)

use crate::helpers::{HookLog, TestApp, parse_sse, spawn_with};
use crate::mock_openai::MockOpenAi;
use agentos::{
    Agent, AgentOs, Member, OpenAIChat, ScriptedModel, ScriptedReply, Step, Team, TeamMode,
    Workflow,
};
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

fn research_team(leader: ScriptedModel) -> Team {
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

#[tokio::test]
async fn nested_teams_run_as_members_with_their_own_members() {
    let inner_leader = ScriptedModel::respond(|req| {
        Ok(match req.turn() {
            0 => ScriptedReply::delegate("researcher", "dig"),
            _ => ScriptedReply::text(format!("Inner: {}", req.tool_results()[0].content)),
        })
    });
    let inner = Team::new("Research Team")
        .model(inner_leader)
        .role("Researches anything")
        .members([member("Researcher")]);
    // The outer leader delegates to the sub-team, then to a member inside it by its own id.
    let outer_leader = ScriptedModel::respond(|req| {
        Ok(match req.turn() {
            0 => ScriptedReply::delegate("research-team", "research tides"),
            1 => ScriptedReply::delegate("researcher", "double-check"),
            _ => ScriptedReply::text("Outer done"),
        })
    });
    let outer = Team::new("Newsroom")
        .model(outer_leader)
        .members([Member::from(member("Editor")), Member::from(inner)]);
    let app = app_with(AgentOs::new().team(outer)).await;

    let events = stream_team(&app, "newsroom", &[("message", "tides")]).await;
    let outer_run = events[0].1["run_id"].as_str().unwrap().to_owned();
    let inner_started: Vec<&Value> = events
        .iter()
        .filter(|(n, d)| n == "TeamRunStarted" && d["team_id"] == "research-team")
        .map(|(_, d)| d)
        .collect();
    assert_eq!(inner_started.len(), 1);
    assert_eq!(inner_started[0]["parent_run_id"], outer_run.as_str());
    let inner_done = events
        .iter()
        .find(|(n, d)| n == "TeamRunCompleted" && d["team_id"] == "research-team")
        .unwrap();
    assert_eq!(inner_done.1["content"], "Inner: Researcher did: dig");
    let (_, done) = events.last().unwrap();
    assert_eq!(done["team_id"], "newsroom");
    assert_eq!(done["content"], "Outer done");
    let members = done["member_responses"].as_array().unwrap();
    assert_eq!(members[0]["team_id"], "research-team");
    assert_eq!(members[0]["parent_run_id"], outer_run.as_str());
    assert_eq!(members[0]["member_responses"][0]["agent_id"], "researcher");
    assert_eq!(
        members[0]["member_responses"][0]["parent_run_id"],
        members[0]["run_id"]
    );
    assert_eq!(members[1]["agent_id"], "researcher");
    assert_eq!(members[1]["content"], "Researcher did: double-check");

    // The roster shows the sub-team and, inside it, its members without ids.
    let system = done["member_responses"][0]["messages"][0]["content"]
        .as_str()
        .unwrap();
    assert!(
        system.contains("<member id=\"researcher\" name=\"Researcher\">"),
        "{system}"
    );
    let (_, team) = app.get_json("/teams/newsroom").await;
    assert_eq!(team["members"][1]["id"], "research-team");
    assert_eq!(team["members"][1]["members"][0]["id"], "researcher");

    // The session lists every run, the nested team's members before it.
    let session = done["session_id"].as_str().unwrap();
    let (_, runs) = app.get_json(&format!("/sessions/{session}/runs")).await;
    let ids: Vec<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["agent_id"].as_str().or(r["team_id"].as_str()).unwrap())
        .collect();
    assert_eq!(
        ids,
        ["researcher", "research-team", "researcher", "newsroom"]
    );
}

#[tokio::test]
async fn a_team_is_a_workflow_step() {
    let leader = two_step_leader(("researcher", "find facts"), ("writer", "write it up"));
    let wf = Workflow::new("report").steps([
        Step::team(research_team(leader)),
        Step::from(member("Editor")),
    ]);
    let app = app_with(AgentOs::new().workflow(wf)).await;
    let form = [("message", "tides"), ("stream", "false")];
    let res = app
        .client
        .post(app.url("/workflows/report/runs"))
        .multipart(
            form.iter()
                .fold(reqwest::multipart::Form::new(), |f, (k, v)| {
                    f.text(k.to_string(), v.to_string())
                }),
        )
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "COMPLETED", "{body}");
    let step = &body["step_results"][0];
    assert_eq!(step["executor_type"], "team");
    assert_eq!(step["executor_name"], "Research Team");
    assert_eq!(step["content"], "Final: Writer did: write it up");
    let team_run = &body["step_executor_runs"][0];
    assert_eq!(team_run["team_id"], "research-team");
    assert_eq!(team_run["parent_run_id"], body["run_id"]);
    assert_eq!(team_run["member_responses"].as_array().unwrap().len(), 2);
    // The next step gets the team's answer.
    assert_eq!(
        body["content"],
        "Editor did: Final: Writer did: write it up"
    );
    let (_, wf) = app.get_json("/workflows/report").await;
    assert_eq!(wf["steps"][0]["team"]["id"], "research-team");
    assert_eq!(wf["steps"][0]["team"]["members"][0]["id"], "researcher");
}

#[tokio::test]
async fn members_get_the_shared_interactions_and_the_teams_history() {
    let leader = || two_step_leader(("researcher", "find facts"), ("writer", "write it up"));
    let team = research_team(leader())
        .id("sharing")
        .share_member_interactions(true)
        .add_team_history_to_members(true);
    let verbatim = research_team(leader())
        .id("verbatim")
        .determine_input_for_members(false);
    let app = app_with(AgentOs::new().team(team).team(verbatim)).await;
    let (_, first) = run_team(
        &app,
        "sharing",
        &[("message", "tides"), ("session_id", "s1")],
    )
    .await;
    let writer = first["member_responses"][1]["content"].as_str().unwrap();
    assert!(
        writer.starts_with(
            "Writer did: <member_interaction_context>\nSee below interactions with other team members.\nMember: Researcher\nTask: find facts\nResponse: Researcher did: find facts\n"
        ),
        "{writer}"
    );
    assert!(writer.ends_with("write it up"), "{writer}");
    let (_, second) = run_team(
        &app,
        "sharing",
        &[("message", "waves"), ("session_id", "s1")],
    )
    .await;
    let researcher = second["member_responses"][0]["content"].as_str().unwrap();
    assert!(
        researcher.contains("<team_history_context>\n[run-1]\ninput: tides\nresponse: Final: "),
        "{researcher}"
    );
    // The leader sees the session's earlier run too.
    let history: Vec<&Value> = second["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["from_history"] == true)
        .collect();
    assert!(
        history.is_empty(),
        "history is left out of the stored record"
    );
    let (_, verbatim) = run_team(&app, "verbatim", &[("message", "exactly this")]).await;
    assert_eq!(
        verbatim["member_responses"][0]["content"],
        "Researcher did: exactly this"
    );
}

#[tokio::test]
async fn the_leader_and_each_member_remember_the_session() {
    let leader_requests = Arc::new(Mutex::new(Vec::new()));
    let seen = leader_requests.clone();
    let leader = ScriptedModel::respond(move |req| {
        if req.turn() == 0 {
            seen.lock().unwrap().push(req.messages.len());
        }
        Ok(match req.turn() {
            0 => ScriptedReply::delegate("researcher", req.last_user_message()),
            _ => ScriptedReply::text("ok"),
        })
    });
    let member_requests = Arc::new(Mutex::new(Vec::new()));
    let member_seen = member_requests.clone();
    let researcher = Agent::new("Researcher").model(ScriptedModel::from_fn(move |req| {
        let texts: Vec<String> = req.messages.iter().map(|m| m.content.clone()).collect();
        member_seen.lock().unwrap().push(texts);
        Ok("noted".to_owned())
    }));
    let team = Team::new("Memo").model(leader).members([researcher]);
    let app = app_with(AgentOs::new().team(team)).await;
    for message in ["first topic", "second topic"] {
        let (_, body) = run_team(&app, "memo", &[("message", message), ("session_id", "s")]).await;
        assert_eq!(body["status"], "COMPLETED", "{body}");
    }
    let leader_requests = leader_requests.lock().unwrap().clone();
    // system + user, then system + the first run (user, assistant) + user.
    assert_eq!(leader_requests, [2, 4]);
    let member_requests = member_requests.lock().unwrap().clone();
    assert_eq!(member_requests[1], ["first topic", "noted", "second topic"]);
}

#[tokio::test]
async fn bad_input_gets_a_clear_4xx() {
    let app = app_with(AgentOs::new().team(research_team(ScriptedModel::new()))).await;
    let res = post_team(&app, "nope", &[("message", "hi")]).await;
    assert_eq!(res.status(), 404);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"detail": "Team not found: 'nope'. Served teams: research-team"})
    );
    assert_eq!(
        app.get_json("/teams/nope").await,
        (
            404,
            json!({"detail": "Team not found: 'nope'. Served teams: research-team"})
        )
    );
    let res = post_team(&app, "research-team", &[("stream", "false")]).await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["detail"][0]["loc"],
        json!(["body", "message"]),
        "{body}"
    );
    let res = post_team(
        &app,
        "research-team",
        &[("message", "hi"), ("stream", "maybe")],
    )
    .await;
    assert_eq!(res.status(), 422);
    let res = app
        .client
        .post(app.url("/teams/research-team/runs"))
        .json(&json!({"message": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    let (status, body) = app.get_json("/teams/research-team/runs/nope").await;
    assert_eq!((status, body), (404, json!({"detail": "Run not found"})));
    let (status, _) = app.get_json("/teams/research-team/runs").await;
    assert_eq!(status, 422, "session_id is required");
    // A delegation to an unknown member is the leader's error, with the roster to pick from.
    let leader = ScriptedModel::respond(|req| {
        Ok(match req.turn() {
            0 => ScriptedReply::delegate("ghost", "boo"),
            _ => ScriptedReply::text(req.tool_results()[0].content.clone()),
        })
    });
    let app = app_with(AgentOs::new().team(research_team(leader))).await;
    let (_, body) = run_team(&app, "research-team", &[("message", "hi")]).await;
    assert_eq!(body["tools"][0]["tool_call_error"], true);
    let text = body["content"].as_str().unwrap();
    assert!(
        text.starts_with("Member with ID ghost not found in the team or any subteams."),
        "{text}"
    );
    assert!(
        text.contains("<member id=\"writer\" name=\"Writer\">"),
        "{text}"
    );
}

#[tokio::test]
async fn teams_show_in_config_models_and_info() {
    let team = research_team(ScriptedModel::new().id("leader-model"));
    let app = app_with(AgentOs::new().team(team)).await;
    let (_, config) = app.get_json("/config").await;
    assert_eq!(config["teams"][0]["id"], "research-team");
    assert_eq!(config["teams"][0]["mode"], "coordinate");
    assert_eq!(config["teams"][0]["model"]["id"], "leader-model");
    let (_, models) = app.get_json("/models").await;
    let ids: Vec<&str> = models
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"leader-model") && ids.contains(&"scripted"),
        "{ids:?}"
    );
    let (_, info) = app.get_json("/info").await;
    assert_eq!(info["team_count"], 1);
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
#[allow(dead_code)]
struct Facts {
    /// The facts found.
    facts: Vec<String>,
}

#[tokio::test]
async fn a_structured_member_answers_its_object_and_the_leader_reads_it_as_json() {
    let leader = ScriptedModel::respond(|req| {
        Ok(match req.turn() {
            0 => ScriptedReply::delegate("researcher", "list facts"),
            _ => ScriptedReply::text(req.tool_results()[0].content.clone()),
        })
    });
    let researcher = Agent::new("Researcher")
        .model(ScriptedModel::script([ScriptedReply::json(
            json!({"facts": ["tides follow the moon"]}),
        )]))
        .output_schema::<Facts>();
    let team = Team::new("Facts").model(leader).members([researcher]);
    let app = app_with(AgentOs::new().team(team)).await;
    let (_, body) = run_team(&app, "facts", &[("message", "tides")]).await;
    let member = &body["member_responses"][0];
    assert_eq!(
        member["content"],
        json!({"facts": ["tides follow the moon"]})
    );
    assert_eq!(member["content_type"], "Facts");
    assert_eq!(
        body["content"],
        "{\n  \"facts\": [\n    \"tides follow the moon\"\n  ]\n}"
    );
}

#[tokio::test]
async fn a_resumable_team_stream_is_picked_up_with_resume() {
    let leader = two_step_leader(("researcher", "find facts"), ("writer", "write it up"));
    let app = app_with(AgentOs::new().team(research_team(leader))).await;
    let res = post_team(
        &app,
        "research-team",
        &[
            ("message", "tides"),
            ("stream", "true"),
            ("background", "true"),
        ],
    )
    .await;
    let first = parse_sse(&res.text().await.unwrap());
    let run_id = first[0].1["run_id"].as_str().unwrap().to_owned();
    assert_eq!(first[0].0, "TeamRunStarted");
    assert_eq!(first.last().unwrap().0, "TeamRunCompleted");
    // A client that saw the first three events picks up the rest.
    let form = reqwest::multipart::Form::new().text("last_event_index", "2");
    let res = app
        .client
        .post(app.url(&format!("/teams/research-team/runs/{run_id}/resume")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let rest: Vec<(String, Value)> = parse_sse(&res.text().await.unwrap())
        .into_iter()
        .filter(|(_, d)| d.get("event_index").is_some())
        .collect();
    let indices: Vec<i64> = rest
        .iter()
        .map(|(_, d)| d["event_index"].as_i64().unwrap())
        .collect();
    let expected: Vec<i64> = (3..first.len() as i64).collect();
    assert_eq!(indices, expected);
    assert_eq!(rest.last().unwrap().0, "TeamRunCompleted");
}
