//! Teams: each mode, nested teams, a team step in a workflow, cancel cascading to members,
//! a member's failure, and bad input.

use crate::helpers::{HookLog, TestApp, parse_sse, spawn_with};
use crate::mock_openai::MockOpenAi;
use agentos::{Agent, AgentOs, ScriptedModel, ScriptedReply, Team, TeamMode};
use serde_json::Value;
use std::sync::Arc;

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

fn member(name: &str) -> Agent {
    Agent::new(name)
        .model(ScriptedModel::from_fn({
            let name = name.to_owned();
            move |req| Ok(format!("{name} did: {}", req.last_user_message()))
        }))
        .role(format!("The {name}"))
}

async fn app_with(team: Team) -> TestApp {
    let mock = Arc::new(MockOpenAi::start().await);
    spawn_with(AgentOs::new().team(team), mock, HookLog::default()).await
}

#[tokio::test]
async fn a_coordinating_leader_delegates_and_answers_from_the_members() {
    let leader = ScriptedModel::respond(|req| {
        Ok(match req.turn() {
            0 => ScriptedReply::delegate("researcher", "find facts"),
            1 => ScriptedReply::delegate("writer", "write it up"),
            _ => ScriptedReply::text(format!(
                "Final: {}",
                req.tool_results().last().unwrap().content
            )),
        })
    });
    let team = Team::new("Research Team")
        .model(leader)
        .members([member("Researcher"), member("Writer")]);
    let app = app_with(team).await;
    let (status, body) = run_team(&app, "research-team", &[("message", "tides")]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "COMPLETED", "{body}");
    assert_eq!(body["content"], "Final: Writer did: write it up", "{body}");
    assert_eq!(body["team_id"], "research-team");
    let members = body["member_responses"].as_array().unwrap();
    assert_eq!(members.len(), 2);
    assert_eq!(members[0]["agent_id"], "researcher");
    assert_eq!(members[0]["parent_run_id"], body["run_id"]);
    assert_eq!(body["tools"][0]["child_run_id"], members[0]["run_id"]);

    let res = post_team(
        &app,
        "research-team",
        &[("message", "tides"), ("stream", "true")],
    )
    .await;
    let events = parse_sse(&res.text().await.unwrap());
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    eprintln!("{names:?}");
    assert_eq!(names.first(), Some(&"TeamRunStarted"));
    assert_eq!(names.last(), Some(&"TeamRunCompleted"));
}
