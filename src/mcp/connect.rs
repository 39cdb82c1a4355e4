//! One connection to an MCP server: a child process over stdio, or streamable HTTP, opened
//! with MCP's `initialize` handshake. The client side of the protocol is `rmcp`'s.

use super::{Settings, State, Transport};
use rmcp::model::{ClientCapabilities, ClientConfig, Implementation, ProtocolVersion};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use std::collections::HashMap;
use std::process::Stdio;
use std::sync::Weak;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_util::task::TaskTracker;

/// The environment a stdio server gets from ours (what MCP's Python and TypeScript SDKs pass
/// on): enough to run, none of our secrets.
const INHERITED_ENV: [&str; 6] = ["HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER"];

/// An open connection.
pub(super) type Connection = RunningService<RoleClient, Handler>;

/// Our side of the protocol: who we are, and the notifications we act on.
pub(super) struct Handler {
    pub state: Weak<State>,
}

impl ClientHandler for Handler {
    fn get_info(&self) -> ClientConfig {
        // The `initialize` handshake every server speaks (the 2026 revision drops it, and
        // servers on earlier revisions are most of those that exist).
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("agentos", env!("CARGO_PKG_VERSION")),
        )
        .with_protocol_version(ProtocolVersion::LATEST_WITH_INITIALIZE)
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        if let Some(state) = self.state.upgrade() {
            state.refresh.notify_one();
        }
    }
}

/// Opens a connection (starting the process, for stdio) and makes the handshake. A stdio
/// server's stderr is logged by a task on `tasks` until the process exits.
pub(super) async fn open(
    name: &str,
    settings: &Settings,
    handler: Handler,
    tasks: &TaskTracker,
) -> Result<Connection, String> {
    match &settings.transport {
        Transport::Stdio {
            command,
            args,
            env,
            cwd,
        } => {
            let mut cmd = tokio::process::Command::new(command);
            cmd.args(args).env_clear();
            for key in INHERITED_ENV {
                if let Ok(value) = std::env::var(key) {
                    cmd.env(key, value);
                }
            }
            cmd.envs(env.iter().map(|(k, v)| (k, v)));
            if let Some(dir) = cwd {
                cmd.current_dir(dir);
            }
            let (child, stderr) = TokioChildProcess::builder(cmd)
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| format!("cannot start {command:?}: {e}"))?;
            if let Some(stderr) = stderr {
                tasks.spawn(log_stderr(name.to_owned(), stderr));
            }
            handler
                .serve(child)
                .await
                .map_err(|e| format!("the MCP handshake failed: {e}"))
        }
        Transport::Http {
            url,
            headers,
            bearer,
        } => {
            let mut custom = HashMap::new();
            for (key, value) in headers {
                let key = reqwest::header::HeaderName::from_bytes(key.as_bytes())
                    .map_err(|e| format!("bad header name {key:?}: {e}"))?;
                let value = reqwest::header::HeaderValue::from_str(value)
                    .map_err(|e| format!("bad value for header {key}: {e}"))?;
                custom.insert(key, value);
            }
            let mut config =
                StreamableHttpClientTransportConfig::with_uri(url.as_str()).custom_headers(custom);
            if let Some(token) = bearer {
                config = config.auth_header(token.clone());
            }
            let transport =
                StreamableHttpClientTransport::with_client(reqwest::Client::new(), config);
            handler
                .serve(transport)
                .await
                .map_err(|e| format!("cannot connect to {url}: {e}"))
        }
    }
}

/// Logs what a stdio server writes to its stderr, line by line, until it exits.
async fn log_stderr(name: String, stderr: tokio::process::ChildStderr) {
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::info!(mcp_server = %name, "{line}");
    }
}
