//! What the MCP tests share: the Python tool server (as a stdio command or an HTTP process),
//! runs of an agent, and waits on conditions.

use crate::helpers::{HookLog, TestApp, parse_sse, spawn_with};
use crate::mock_openai::MockOpenAi;
use agentos::{Agent, AgentOs, McpTools};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// The tool server script.
pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compat/mcp_tool_server.py")
}

/// The virtualenv's python, or `None` (the test is skipped; under CI it fails).
pub async fn python(test: &str) -> Option<PathBuf> {
    crate::python::python_or_skip(test).await
}

/// The tool server over stdio, restarted quickly after a crash.
pub fn stdio_tools(python: &Path) -> McpTools {
    McpTools::stdio(
        python.to_string_lossy(),
        [script().to_string_lossy().into_owned(), "stdio".to_owned()],
    )
    .reconnect_backoff(Duration::from_millis(50), Duration::from_millis(400))
}

/// A free loopback port below the kernel's ephemeral range, so that no listener on port 0 or
/// outgoing connection takes it before the server that is to bind it (maybe seconds later).
pub fn free_port() -> u16 {
    loop {
        let port = fastrand::u16(20_000..32_000);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// The tool server over streamable HTTP, as a process of its own.
pub struct HttpServer {
    pub port: u16,
    child: Child,
}

impl HttpServer {
    /// Starts it on `port` and waits until it accepts connections.
    pub async fn start(python: &Path, port: u16) -> HttpServer {
        let child = Command::new(python)
            .arg(script())
            .args(["http", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start the MCP tool server");
        let server = HttpServer { port, child };
        assert!(
            wait_until(Duration::from_secs(30), || async {
                tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_ok()
            })
            .await,
            "the MCP tool server did not listen on {port}"
        );
        server
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/mcp", self.port)
    }

    /// Waits (up to `limit`) for it to exit; whether it did.
    pub async fn wait_exit(&mut self, limit: Duration) -> bool {
        tokio::time::timeout(limit, self.child.wait()).await.is_ok()
    }
}

/// Serves these agents (and nothing else) on a fresh database.
pub async fn serve(agents: impl IntoIterator<Item = Agent>) -> TestApp {
    let os = agents
        .into_iter()
        .fold(AgentOs::new(), |os, agent| os.agent(agent));
    spawn_with(os, Arc::new(MockOpenAi::start().await), HookLog::default()).await
}

/// A non-streamed run of `agent`: the status and the run's JSON.
pub async fn run_agent(app: &TestApp, agent: &str, message: &str) -> (u16, Value) {
    let res = app
        .client
        .post(app.url(&format!("/agents/{agent}/runs")))
        .form(&[("message", message), ("stream", "false")])
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

/// A streamed run of `agent`: its events, `(name, data)`.
pub async fn run_agent_sse(app: &TestApp, agent: &str, message: &str) -> Vec<(String, Value)> {
    let res = app
        .client
        .post(app.url(&format!("/agents/{agent}/runs")))
        .form(&[("message", message), ("stream", "true")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    parse_sse(&res.text().await.unwrap())
}

/// The names of the tools `GET /agents/{agent}` lists.
pub async fn offered_tools(app: &TestApp, agent: &str) -> Vec<String> {
    let (status, body) = app.get_json(&format!("/agents/{agent}")).await;
    assert_eq!(status, 200, "{body}");
    body["tools"]["tools"]
        .as_array()
        .map(|tools| {
            tools
                .iter()
                .filter_map(|t| t["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Waits (up to `limit`) until `agent` offers the tool `name`.
pub async fn wait_for_tool(app: &TestApp, agent: &str, name: &str, limit: Duration) -> bool {
    wait_until(limit, || async {
        offered_tools(app, agent).await.iter().any(|t| t == name)
    })
    .await
}

/// Polls `check` until it holds or `limit` passes.
pub async fn wait_until<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The `tools` a run's JSON recorded.
pub fn executions(run: &Value) -> &Vec<Value> {
    run["tools"].as_array().expect("the run has tools")
}
