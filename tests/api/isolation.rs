//! Per-user isolation on SQLite and on Postgres: with `user_isolation`, one user's sessions and
//! runs are invisible to another (404, never 403), in lists and in direct fetches by id; the
//! admin scope sees all; runs take the token's user; a service account sees only its own.

use crate::auth_support::*;
use crate::helpers::*;
use crate::mock_openai::MockOpenAi;
use crate::pg_backend::TestDb;
use agentos::{AgentOs, JwtConfig};
use reqwest::Method;
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;

const SCOPES: &[&str] = &[
    "agents:read",
    "agents:run",
    "sessions:read",
    "sessions:write",
    "sessions:delete",
    "service_accounts:write",
];

fn session_ids(list: &Value) -> BTreeSet<String> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["session_id"].as_str().unwrap().to_owned())
        .collect()
}

async fn users_are_isolated(test: &str, db: &TestDb) {
    let mut tokens = Map::new();
    for user in ["alice", "bob"] {
        tokens.insert(user.into(), spec("HS256", "hs", claims(user, SCOPES)));
    }
    tokens.insert(
        "admin".into(),
        spec("HS256", "hs", claims("root", &["agent_os:admin"])),
    );
    let Some(minted) = mint(test, tokens).await else {
        return;
    };
    let secret = minted.key("hs.txt");
    let mock = Arc::new(MockOpenAi::start().await);
    let os = AgentOs::new()
        .agent(assistant(&mock.base_url()))
        .authorization(
            JwtConfig::new()
                .verification_key(secret)
                .algorithm("HS256")
                .user_isolation(true),
        );
    let app = spawn_on_db(os, db.config(), mock, HookLog::default()).await;
    let (alice, bob, admin) = (
        minted.token("alice"),
        minted.token("bob"),
        minted.token("admin"),
    );
    let get = |path: String, token: &str| call(request(&app, Method::GET, &path, Some(token)));

    let (status, ra) = run_agent(&app, alice, None).await;
    assert_eq!(status, 200, "{ra}");
    let (_, rb) = run_agent(&app, bob, None).await;
    assert_eq!(
        (ra["user_id"].as_str(), rb["user_id"].as_str()),
        (Some("alice"), Some("bob"))
    );
    let (sa, sb) = (
        ra["session_id"].as_str().unwrap(),
        rb["session_id"].as_str().unwrap(),
    );
    let rb_id = rb["run_id"].as_str().unwrap();

    // Lists: each user their own, whatever user_id they ask for; the admin everyone's.
    let (_, mine) = get("/sessions?user_id=bob".into(), alice).await;
    assert_eq!(session_ids(&mine), BTreeSet::from([sa.to_owned()]));
    let (_, all) = get("/sessions".into(), admin).await;
    assert_eq!(
        session_ids(&all),
        BTreeSet::from([sa.to_owned(), sb.to_owned()])
    );

    // Direct fetches of Bob's session and run by Alice: not found, in agno's words.
    let not_found = |d: String| (404, json!({ "detail": d }));
    assert_eq!(
        get(format!("/sessions/{sb}"), alice).await,
        not_found(format!("Session with id '{sb}' not found"))
    );
    assert_eq!(
        get(format!("/sessions/{sb}/runs"), alice).await,
        not_found(format!("Session with ID {sb} not found"))
    );
    assert_eq!(
        get(format!("/sessions/{sb}/runs/{rb_id}"), alice).await,
        not_found(format!("Session with ID {sb} not found"))
    );
    let run_404 = not_found("Run not found".into());
    assert_eq!(
        get(
            format!("/agents/{AGENT}/runs/{rb_id}?session_id={sb}"),
            alice
        )
        .await,
        run_404
    );
    assert_eq!(
        get(format!("/agents/{AGENT}/runs/{rb_id}"), alice).await,
        run_404
    );
    assert_eq!(
        get(format!("/agents/{AGENT}/runs?session_id={sb}"), alice).await,
        not_found("Session not found".into())
    );
    // A run into Bob's session is refused; Alice's own session stays hers.
    assert_eq!(
        run_agent(&app, alice, Some(sb)).await,
        not_found("Session not found".into())
    );
    let (status, again) = run_agent(&app, alice, Some(sa)).await;
    assert_eq!((status, again["session_id"].as_str()), (200, Some(sa)));
    let (status, runs) = get(format!("/agents/{AGENT}/runs?session_id={sa}"), alice).await;
    assert_eq!((status, runs.as_array().map(Vec::len)), (200, Some(2)));

    // The admin reads Bob's session and run.
    assert_eq!(get(format!("/sessions/{sb}"), admin).await.0, 200);
    assert_eq!(
        get(
            format!("/agents/{AGENT}/runs/{rb_id}?session_id={sb}"),
            admin
        )
        .await
        .0,
        200
    );
    // Alice cannot delete Bob's session; Bob can.
    let delete = |token: &str| {
        call(request(
            &app,
            Method::DELETE,
            &format!("/sessions/{sb}"),
            Some(token),
        ))
    };
    assert_eq!(delete(alice).await.0, 404);
    assert_eq!(get(format!("/sessions/{sb}"), bob).await.0, 200);
    assert_eq!(delete(bob).await.0, 204);

    // A service account Alice mints runs as `sa:<name>` and sees only its own sessions.
    let req = request(&app, Method::POST, "/service-accounts", Some(alice));
    let body = json!({"name": "alices-bot", "scopes": [{"scope": "agents:run"}, {"scope": "sessions:read"}]});
    let (status, account) = call(req.json(&body)).await;
    assert_eq!(
        (status, account["principal"].as_str()),
        (201, Some("sa:alices-bot")),
        "{account}"
    );
    let pat = account["token"].as_str().unwrap();
    let (status, run) = run_agent(&app, pat, None).await;
    assert_eq!(
        (status, run["user_id"].as_str()),
        (200, Some("sa:alices-bot")),
        "{run}"
    );
    let (_, its) = get("/sessions".into(), pat).await;
    assert_eq!(
        session_ids(&its),
        BTreeSet::from([run["session_id"].as_str().unwrap().to_owned()])
    );
    assert_eq!(get(format!("/sessions/{sa}"), pat).await.0, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn users_are_isolated_on_sqlite() {
    let db = TestDb::sqlite();
    users_are_isolated("users_are_isolated_on_sqlite", &db).await;
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn users_are_isolated_on_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    users_are_isolated("users_are_isolated_on_postgres", &db).await;
    db.cleanup().await;
}

/// One MCP tool call over streamable HTTP with a bearer, as an MCP client sends it; the
/// result's structured content (JSON or the SSE event's data).
async fn mcp_call(app: &TestApp, token: &str, tool: &str, arguments: Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": tool, "arguments": arguments}});
    let res = app
        .client
        .post(app.url("/mcp"))
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    let json = text
        .lines()
        .find_map(|l| l.strip_prefix("data:"))
        .unwrap_or(&text)
        .trim();
    let reply: Value = serde_json::from_str(json).unwrap();
    reply["result"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn mcp_tools_see_only_the_callers_sessions() {
    let test = "mcp_tools_see_only_the_callers_sessions";
    let mut tokens = Map::new();
    for user in ["alice", "bob"] {
        tokens.insert(user.into(), spec("HS256", "hs", claims(user, SCOPES)));
    }
    let Some(minted) = mint(test, tokens).await else {
        return;
    };
    let mock = Arc::new(MockOpenAi::start().await);
    let os = AgentOs::new()
        .agent(assistant(&mock.base_url()))
        .mcp_server(true)
        .authorization(
            JwtConfig::new()
                .verification_key(minted.key("hs.txt"))
                .algorithm("HS256")
                .user_isolation(true),
        );
    let app = spawn_with(os, mock, HookLog::default()).await;
    let (alice, bob) = (minted.token("alice"), minted.token("bob"));
    let (_, ra) = run_agent(&app, alice, None).await;
    let sa = ra["session_id"].as_str().unwrap().to_owned();

    // Bob asks for Alice's sessions by name: he gets only his own (none).
    let listed = mcp_call(
        &app,
        bob,
        "get_sessions",
        json!({"session_type": "agent", "user_id": "alice"}),
    )
    .await;
    assert_eq!(listed["structuredContent"]["data"], json!([]), "{listed}");
    let runs = mcp_call(&app, bob, "get_session_runs", json!({"session_id": sa})).await;
    assert_eq!(runs["isError"], true, "{runs}");
    // A run Bob starts over MCP is his, whatever user_id he names.
    let started = mcp_call(
        &app,
        bob,
        "run_agent",
        json!({"agent_id": AGENT, "message": "hi", "user_id": "alice"}),
    )
    .await;
    assert_ne!(started["isError"], true, "{started}");
    let listed = mcp_call(
        &app,
        alice,
        "get_sessions",
        json!({"session_type": "agent"}),
    )
    .await;
    let ids: Vec<&str> = listed["structuredContent"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["session_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [sa.as_str()], "Alice sees her one session: {listed}");
}
