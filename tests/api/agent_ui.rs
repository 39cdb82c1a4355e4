//! Agent UI's contract (`shared/reference/agent-ui-contract.md`), replayed call by call in its
//! order, from its origin, with its headers, checking every field it reads: start-up
//! (`/health`, `/teams`, `/agents`, the sessions list), a chat (the multipart run with an empty
//! `session_id`, its stream parsed the way Agent UI parses it, the history fetch it sends while
//! the reply streams), a second message in the session, a reload, and delete.

use crate::helpers::{HookLog, TestApp, fast_retries, spawn_with};
use crate::mock_openai::MockOpenAi;
use agentos::{Agent, AgentOs, OpenAIChat};
use reqwest::{Method, Response};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

const UI: &str = "http://localhost:3000";
const TOKEN: &str = "ui-secret";

async fn spawn(token: Option<&str>) -> TestApp {
    let mock = Arc::new(MockOpenAi::start().await);
    let model = OpenAIChat::new("gpt-5.2")
        .base_url(mock.base_url())
        .api_key("k")
        .retry_policy(fast_retries());
    let agent = Agent::new("Assistant")
        .model(model)
        .instructions("You are a helpful assistant.");
    let os = AgentOs::new()
        .agent(agent)
        .security_key(token.unwrap_or(""));
    spawn_with(os, mock, HookLog::default()).await
}

/// Agent UI's `createHeaders`: `Content-Type: application/json` on every GET/DELETE, and the
/// token when one is set. Each such call is preflighted first, as the browser does.
async fn ui_call(app: &TestApp, method: Method, path: &str, token: Option<&str>) -> Response {
    let request_headers = match token {
        Some(_) => "content-type,authorization",
        None => "content-type",
    };
    let pre = app
        .client
        .request(Method::OPTIONS, app.url(path))
        .header("Origin", UI)
        .header("Access-Control-Request-Method", method.as_str())
        .header("Access-Control-Request-Headers", request_headers)
        .send()
        .await
        .unwrap();
    assert!(
        pre.status().is_success(),
        "preflight of {method} {path}: {}",
        pre.status()
    );
    let h = pre.headers();
    assert_eq!(h["access-control-allow-origin"], UI);
    let allowed_methods = h["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_ascii_uppercase();
    assert!(
        allowed_methods.contains(method.as_str()),
        "{allowed_methods}"
    );
    let allowed_headers = h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for header in request_headers.split(',') {
        assert!(allowed_headers.contains(header), "{allowed_headers}");
    }
    let mut req = app
        .client
        .request(method, app.url(path))
        .header("Origin", UI)
        .header("Content-Type", "application/json");
    if let Some(token) = token {
        req = req.header("Authorization", format!("Bearer {token}"));
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.headers()["access-control-allow-origin"], UI, "{path}");
    res
}

/// Agent UI's stream parser (`parseBuffer`): every top-level `{...}` in the body is one JSON
/// object; everything outside (the SSE `event:`/`data:` prefixes) is ignored.
fn ui_parse(buffer: &str) -> (Vec<Value>, usize) {
    let bytes = buffer.as_bytes();
    let mut out = Vec::new();
    let mut consumed = 0;
    let mut i = 0;
    while let Some(start) = buffer[i..].find('{').map(|p| p + i) {
        let (mut depth, mut in_string, mut escaped, mut end) = (0, false, false, None);
        for (j, &b) in bytes.iter().enumerate().skip(start) {
            match (in_string, escaped, b) {
                (true, true, _) => escaped = false,
                (true, false, b'\\') => escaped = true,
                (true, false, b'"') => in_string = false,
                (true, false, _) => {}
                (false, _, b'"') => in_string = true,
                (false, _, b'{') => depth += 1,
                (false, _, b'}') => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(j);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(end) = end else { break };
        out.push(serde_json::from_str(&buffer[start..=end]).unwrap());
        consumed = end + 1;
        i = end + 1;
    }
    (out, consumed)
}

/// What Agent UI shows after the stream: the reply built its way (deltas appended, then
/// replaced by `RunCompleted.content`) and the session it learned from `RunStarted`.
struct Chat {
    session_id: String,
    reply: String,
    history_during_stream: Option<(u16, Value)>,
}

/// Agent UI's two modes: the agent `assistant`, or the team `research-team`.
#[derive(Clone, Copy)]
enum Mode {
    Agent,
    Team,
}

impl Mode {
    fn run_path(self) -> &'static str {
        match self {
            Mode::Agent => "/agents/assistant/runs",
            Mode::Team => "/teams/research-team/runs",
        }
    }

    fn kind(self) -> &'static str {
        match self {
            Mode::Agent => "agent",
            Mode::Team => "team",
        }
    }
}

/// The chat POST (multipart: `message`, `stream=true`, `session_id`), read incrementally. On
/// `RunStarted` it fetches the session's history, as Agent UI does while the reply streams.
async fn chat(app: &TestApp, message: &str, session_id: &str, token: Option<&str>) -> Chat {
    chat_in(app, Mode::Agent, message, session_id, token).await
}

/// [`chat`] in either mode: Agent UI handles `RunStarted`/`TeamRunStarted`,
/// `RunContent`/`TeamRunContent` and `RunCompleted`/`TeamRunCompleted` alike.
async fn chat_in(
    app: &TestApp,
    mode: Mode,
    message: &str,
    session_id: &str,
    token: Option<&str>,
) -> Chat {
    let form = reqwest::multipart::Form::new()
        .text("message", message.to_owned())
        .text("stream", "true")
        .text("session_id", session_id.to_owned());
    let mut req = app
        .client
        .post(app.url(mode.run_path()))
        .header("Origin", UI)
        .multipart(form);
    if let Some(token) = token {
        req = req.header("Authorization", format!("Bearer {token}"));
    }
    let mut res = req.send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["access-control-allow-origin"], UI);
    let mut buffer = String::new();
    let mut chat = Chat {
        session_id: String::new(),
        reply: String::new(),
        history_during_stream: None,
    };
    let mut previous_chunk = String::new();
    let mut completed = false;
    while let Some(bytes) = res.chunk().await.unwrap() {
        buffer.push_str(std::str::from_utf8(&bytes).unwrap());
        let (events, consumed) = ui_parse(&buffer);
        buffer.drain(..consumed);
        for event in events {
            assert!(
                event.get("data").is_none(),
                "an event must not carry a `data` key"
            );
            match event["event"].as_str().unwrap() {
                "RunStarted" | "TeamRunStarted" => {
                    chat.session_id = event["session_id"].as_str().unwrap().to_owned();
                    assert!(event["created_at"].is_i64());
                    if chat.history_during_stream.is_none() {
                        let path = format!(
                            "/sessions/{}/runs?type={}&db_id=",
                            chat.session_id,
                            mode.kind()
                        );
                        let res = ui_call(app, Method::GET, &path, token).await;
                        let status = res.status().as_u16();
                        let body = res.json().await.unwrap_or(Value::Null);
                        chat.history_during_stream = Some((status, body));
                    }
                }
                "RunContent" | "TeamRunContent" => {
                    let delta = event["content"].as_str().expect("a string delta");
                    chat.reply.push_str(&delta.replacen(&previous_chunk, "", 1));
                    previous_chunk = delta.to_owned();
                }
                "RunCompleted" | "TeamRunCompleted" => {
                    chat.reply = event["content"]
                        .as_str()
                        .expect("the full content")
                        .to_owned();
                    completed = event["event"] == "TeamRunCompleted" || event["team_id"].is_null();
                }
                "RunError" | "TeamRunError" | "TeamRunCancelled" => {
                    panic!("the run failed: {event}")
                }
                _ => {}
            }
        }
    }
    assert!(completed, "no RunCompleted (TeamRunCompleted in team mode)");
    chat
}

async fn replay_agent_ui(token: Option<&str>) {
    let app = spawn(token).await;
    // Start-up: health, teams, agents, then the sessions of the first agent.
    let res = ui_call(&app, Method::GET, "/health", token).await;
    assert_eq!(res.status(), 200);
    let res = ui_call(&app, Method::GET, "/teams", token).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap(), serde_json::json!([]));
    let res = ui_call(&app, Method::GET, "/agents", token).await;
    assert_eq!(res.status(), 200);
    let agents: Value = res.json().await.unwrap();
    let agent = &agents.as_array().expect("a bare array")[0];
    assert_eq!(agent["id"], "assistant");
    assert_eq!(agent["name"], "Assistant");
    assert_eq!(agent["model"]["model"], "gpt-5.2");
    assert_eq!(agent["model"]["provider"], "OpenAI");
    let db_id = agent["db_id"]
        .as_str()
        .expect("db_id, without which no history")
        .to_owned();
    let sessions_path = format!("/sessions?type=agent&component_id=assistant&db_id={db_id}");
    let res = ui_call(&app, Method::GET, &sessions_path, token).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap()["data"],
        serde_json::json!([])
    );

    // A new chat: empty session_id; the session comes back in RunStarted.
    let first = chat(&app, "Hello there", "", token).await;
    assert_eq!(first.reply, "reply to: Hello there");
    assert_eq!(first.session_id.len(), 36);
    // The mid-stream history fetch must not wipe the chat: 404, or an array holding this run
    // with its input.
    match first
        .history_during_stream
        .expect("the history was fetched mid-stream")
    {
        (404, _) => {}
        (200, runs) => {
            let runs = runs.as_array().expect("an array");
            assert_eq!(runs.len(), 1, "{runs:?}");
            assert_eq!(runs[0]["run_input"], "Hello there");
        }
        (status, body) => panic!("mid-stream history: {status} {body}"),
    }
    // A second message in the same session.
    let second = chat(&app, "And again", &first.session_id, token).await;
    assert_eq!(second.session_id, first.session_id);
    assert_eq!(second.reply, "reply to: And again");

    // Reload: the sessions list and the history, with every field Agent UI reads.
    let res = ui_call(&app, Method::GET, &sessions_path, token).await;
    let list: Value = res.json().await.unwrap();
    let data = list["data"].as_array().unwrap();
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["session_id"], first.session_id.as_str());
    assert_eq!(data[0]["session_name"], "Hello there");
    assert!(data[0]["created_at"].is_string() || data[0]["created_at"].is_i64());
    let history_path = format!(
        "/sessions/{}/runs?type=agent&db_id={db_id}",
        first.session_id
    );
    let res = ui_call(&app, Method::GET, &history_path, token).await;
    assert_eq!(res.status(), 200);
    let runs: Value = res.json().await.unwrap();
    let runs = runs.as_array().unwrap();
    let turns: Vec<(&str, &str)> = runs
        .iter()
        .map(|r| {
            (
                r["run_input"].as_str().unwrap(),
                r["content"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        turns,
        [
            ("Hello there", "reply to: Hello there"),
            ("And again", "reply to: And again")
        ]
    );
    // `tools` is absent when there were none (agno drops nulls there), else an array.
    assert!(runs.iter().all(|r| r.get("created_at").is_some()
        && r.get("tools").is_none_or(|t| t.is_array() || t.is_null())));

    // Delete from the sidebar.
    let delete_path = format!("/sessions/{}?db_id={db_id}", first.session_id);
    let res = ui_call(&app, Method::DELETE, &delete_path, token).await;
    assert!(res.status().is_success(), "{}", res.status());
    let res = ui_call(&app, Method::GET, &sessions_path, token).await;
    assert_eq!(
        res.json::<Value>().await.unwrap()["data"],
        serde_json::json!([])
    );
    let res = ui_call(&app, Method::GET, &history_path, token).await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn agent_ui_without_a_token() {
    replay_agent_ui(None).await;
}

#[tokio::test]
async fn agent_ui_with_a_token() {
    replay_agent_ui(Some(TOKEN)).await;
}

#[tokio::test]
async fn agent_ui_shows_the_detail_of_a_failed_run() {
    // With the wrong token the run POST is refused with a JSON `detail` Agent UI shows.
    let app = spawn(Some(TOKEN)).await;
    let form = reqwest::multipart::Form::new()
        .text("message", "hi")
        .text("stream", "true")
        .text("session_id", "");
    let res = app
        .client
        .post(app.url("/agents/assistant/runs"))
        .header("Origin", UI)
        .header("Authorization", "Bearer wrong")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["access-control-allow-origin"], UI);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["detail"], "Invalid authentication token");
    // /health stays open: the endpoint shows as active.
    let res = ui_call(&app, Method::GET, "/health", None).await;
    assert_eq!(res.status(), 200);
    tokio::time::sleep(Duration::from_millis(1)).await;
}

/// A research team whose leader delegates to a researcher, then answers with its findings.
async fn spawn_team() -> TestApp {
    use agentos::{ScriptedModel, ScriptedReply, Team};
    let mock = Arc::new(MockOpenAi::start().await);
    let model = || {
        OpenAIChat::new("gpt-5.2")
            .base_url(mock.base_url())
            .api_key("k")
            .retry_policy(fast_retries())
    };
    let leader = ScriptedModel::respond(|req| {
        Ok(match req.turn() {
            0 => ScriptedReply::delegate("researcher", req.last_user_message()),
            _ => ScriptedReply::text(format!("Team: {}", req.tool_results()[0].content)),
        })
    });
    let team = Team::new("Research Team")
        .model(leader)
        .members([Agent::new("Researcher").model(model())]);
    let os = AgentOs::new()
        .agent(Agent::new("Assistant").model(model()))
        .team(team);
    spawn_with(os, mock.clone(), HookLog::default()).await
}

#[tokio::test]
async fn agent_ui_in_team_mode() {
    let app = spawn_team().await;
    let res = ui_call(&app, Method::GET, "/teams", None).await;
    assert_eq!(res.status(), 200);
    let teams: Value = res.json().await.unwrap();
    let team = &teams.as_array().expect("a bare array")[0];
    assert_eq!(team["id"], "research-team");
    assert_eq!(team["name"], "Research Team");
    assert_eq!(team["model"]["provider"], "Scripted");
    let db_id = team["db_id"].as_str().expect("db_id").to_owned();
    let sessions_path = format!("/sessions?type=team&component_id=research-team&db_id={db_id}");
    let res = ui_call(&app, Method::GET, &sessions_path, None).await;
    assert_eq!(
        res.json::<Value>().await.unwrap()["data"],
        serde_json::json!([])
    );

    let first = chat_in(&app, Mode::Team, "Tides", "", None).await;
    assert_eq!(first.reply, "Team: reply to: Tides");
    // Mid-stream: 404 until the run is stored, or an array holding this team run.
    match first.history_during_stream.expect("fetched mid-stream") {
        (404, _) => {}
        (200, runs) => {
            let last = runs.as_array().expect("an array").last().cloned();
            let last = last.expect("this run");
            assert_eq!(
                (&last["team_id"], &last["run_input"]),
                (&json!("research-team"), &json!("Tides"))
            );
        }
        (status, body) => panic!("mid-stream history: {status} {body}"),
    }
    let second = chat_in(&app, Mode::Team, "Waves", &first.session_id, None).await;
    assert_eq!(second.session_id, first.session_id);
    assert_eq!(second.reply, "Team: reply to: Waves");

    // Reload: the team's sessions, and the history with the team's turns (each after its
    // member's, as agno lists a team session).
    let res = ui_call(&app, Method::GET, &sessions_path, None).await;
    let list: Value = res.json().await.unwrap();
    assert_eq!(list["data"][0]["session_id"], first.session_id.as_str());
    assert_eq!(list["data"][0]["session_name"], "Tides");
    let history_path = format!(
        "/sessions/{}/runs?type=team&db_id={db_id}",
        first.session_id
    );
    let res = ui_call(&app, Method::GET, &history_path, None).await;
    assert_eq!(res.status(), 200);
    let runs: Value = res.json().await.unwrap();
    let team_turns: Vec<(&str, &str)> = runs
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["team_id"] == "research-team")
        .map(|r| {
            (
                r["run_input"].as_str().unwrap(),
                r["content"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        team_turns,
        [
            ("Tides", "Team: reply to: Tides"),
            ("Waves", "Team: reply to: Waves")
        ]
    );
    let last = runs.as_array().unwrap().last().unwrap();
    assert_eq!(
        last["team_id"], "research-team",
        "the team's answer closes the chat"
    );
    assert!(last["tools"].is_array());
    assert_eq!(last["tools"][0]["tool_name"], "delegate_task_to_member");
}
