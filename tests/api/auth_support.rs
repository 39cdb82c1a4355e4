//! What the auth tests share: tokens minted by PyJWT (`tests/compat/mint_tokens.py`, with keys
//! it makes), an OS with an agent and the seed workflow behind JWT, and requests with a bearer.

use crate::helpers::*;
use crate::mock_openai::MockOpenAi;
use crate::python;
use agentos::{Agent, AgentOs, OpenAIChat};
use reqwest::{Method, RequestBuilder};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

pub const AGENT: &str = "assistant";
pub const AUDIENCE: &str = "agentos-test";
pub const ISSUER: &str = "https://idp.example.test";

/// Keys and tokens made by PyJWT: `dir` holds the public keys (`rsa.pem`, `ec.pem`, `hs.txt`,
/// `jwks_k1.json`, ...).
pub struct Minted {
    pub dir: tempfile::TempDir,
    pub tokens: HashMap<String, String>,
}

impl Minted {
    pub fn token(&self, name: &str) -> &str {
        &self.tokens[name]
    }

    pub fn key(&self, file: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(file)).unwrap()
    }
}

/// One token to mint: its algorithm, key (see the script) and claims.
pub fn spec(alg: &str, key: &str, claims: Value) -> Value {
    json!({"alg": alg, "key": key, "claims": claims})
}

/// Claims of a valid token for `sub` with `scopes` (audience, issuer, an hour to live).
pub fn claims(sub: &str, scopes: &[&str]) -> Value {
    json!({"sub": sub, "scopes": scopes, "aud": AUDIENCE, "iss": ISSUER,
           "iat": "now-5", "exp": "now+3600"})
}

/// Mints `tokens` with PyJWT; `None` when Python is unavailable (skipped locally).
pub async fn mint(test: &str, tokens: Map<String, Value>) -> Option<Minted> {
    let python = python::python_or_skip(test).await?;
    let dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compat/mint_tokens.py");
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let input = json!({"dir": dir.path(), "tokens": tokens}).to_string();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).await.unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    assert!(
        out.status.success(),
        "mint_tokens.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tokens = serde_json::from_slice(&out.stdout).unwrap();
    Some(Minted { dir, tokens })
}

/// The chat agent on the mock.
pub fn assistant(model_url: &str) -> Agent {
    let model = OpenAIChat::new("gpt-5.2")
        .base_url(model_url)
        .api_key("test-key")
        .timeout(Duration::from_secs(10))
        .retry_policy(fast_retries());
    Agent::new("Assistant").with_id(AGENT).model(model)
}

/// The agent and the seed workflow, configured by `configure`.
pub async fn spawn_auth(configure: impl FnOnce(AgentOs) -> AgentOs) -> TestApp {
    let mock = Arc::new(MockOpenAi::start().await);
    let os = AgentOs::new()
        .agent(assistant(&mock.base_url()))
        .workflow(seed_workflow(&mock.base_url(), &[]));
    spawn_with(configure(os), mock, HookLog::default()).await
}

/// A request with `token` as its bearer (none for `None`).
pub fn request(app: &TestApp, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
    let mut req = app.client.request(method, app.url(path));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req
}

/// Sends and reads the status and JSON body (`Null` when the body is not JSON).
pub async fn call(req: RequestBuilder) -> (u16, Value) {
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A non-streamed run of the agent as `token`, in `session` when given: the run's output.
pub async fn run_agent(app: &TestApp, token: &str, session: Option<&str>) -> (u16, Value) {
    let mut form = reqwest::multipart::Form::new()
        .text("message", "Hello")
        .text("stream", "false")
        .text("user_id", "someone-else");
    if let Some(session) = session {
        form = form.text("session_id", session.to_owned());
    }
    let req = request(
        app,
        Method::POST,
        &format!("/agents/{AGENT}/runs"),
        Some(token),
    );
    call(req.multipart(form)).await
}
