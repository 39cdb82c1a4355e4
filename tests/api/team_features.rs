//! Teams through the HTTP API, beyond the modes: nested teams, a team step in a workflow, the
//! options that shape members' input, history, structured members, resume, teams in
//! `/config`, and bad input.

use crate::helpers::parse_sse;
use crate::teams::{
    app_with, member, post_team, research_team, run_team, stream_team, two_step_leader,
};
use agentos::{Agent, AgentOs, Member, ScriptedModel, ScriptedReply, Step, Team, Workflow};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

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
