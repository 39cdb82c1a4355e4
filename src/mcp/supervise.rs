//! The life of one server's connection, a task on the OS's tracker: connect, list the tools,
//! list them again when the server says they changed, and when the connection drops (or a stdio
//! server exits) mark it down and reconnect (restart) with backoff, until the OS stops.

use super::call::McpTool;
use super::connect::{self, Connection, Handler};
use super::{Link, Settings, State, names};
use crate::model::ToolDefinition;
use crate::tool::AgentTool;
use futures::FutureExt;
use rmcp::RoleClient;
use rmcp::service::{Peer, ServiceError};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long closing a connection at shutdown may take (a stdio server is asked to exit, then
/// terminated, then killed).
const CLOSE_WAIT: Duration = Duration::from_secs(10);
/// A connection that stayed up this long starts the backoff over when it drops.
const STABLE: Duration = Duration::from_secs(30);
/// How long the handshake, and a listing of the tools, may take.
const HANDSHAKE: Duration = Duration::from_secs(30);

/// One server's supervisor.
pub(super) struct Supervisor {
    pub name: String,
    pub settings: Settings,
    pub state: Arc<State>,
    pub tasks: TaskTracker,
    pub stop: CancellationToken,
}

/// Why a connection that was up ended.
enum Ended {
    /// The OS is stopping; the connection is closed.
    Stopped,
    /// It dropped (or the server exited), and why.
    Dropped(String),
}

impl Supervisor {
    pub(super) async fn run(self) {
        let mut backoff = Backoff::new(self.settings.backoff);
        let mut connections = 0;
        loop {
            connections += 1;
            let handler = Handler {
                state: Arc::downgrade(&self.state),
            };
            let opening = connect::open(&self.name, &self.settings, handler, &self.tasks);
            let opened = tokio::select! {
                opened = tokio::time::timeout(HANDSHAKE, opening) => opened,
                () = self.stop.cancelled() => break,
            };
            let why = match opened {
                Err(_) => format!("no answer to the handshake within {HANDSHAKE:?}"),
                Ok(Err(why)) => why,
                Ok(Ok(connection)) => {
                    let since = Instant::now();
                    match self.serve(connection, connections).await {
                        Ended::Stopped => break,
                        Ended::Dropped(why) => {
                            if since.elapsed() >= STABLE {
                                backoff.reset();
                            }
                            why
                        }
                    }
                }
            };
            let wait = backoff.next();
            tracing::warn!(mcp_server = %self.name, "MCP server unavailable: {why}; retrying in {wait:?}");
            self.state.set(Link::Down(why));
            self.state.settled.cancel();
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.stop.cancelled() => break,
            }
        }
        self.state
            .set(Link::Down("agentos is shutting down".to_owned()));
        self.state.settled.cancel();
    }

    /// Lists the tools, publishes the connection, and keeps the list current until the
    /// connection ends or the OS stops.
    async fn serve(&self, connection: Connection, number: u64) -> Ended {
        let peer = connection.peer().clone();
        let cancel = connection.cancellation_token();
        let ended = connection.waiting();
        tokio::pin!(ended);
        let listed = tokio::select! {
            listed = self.list(&peer) => listed,
            reason = &mut ended => return Ended::Dropped(format!("the connection closed ({reason:?})")),
            () = self.stop.cancelled() => {
                cancel.cancel();
                let _ = tokio::time::timeout(CLOSE_WAIT, ended).await;
                return Ended::Stopped;
            }
        };
        if let Err(why) = listed {
            cancel.cancel();
            let _ = tokio::time::timeout(CLOSE_WAIT, ended).await;
            return Ended::Dropped(why);
        }
        // A call that found an earlier connection broken is not about this one.
        let _ = self.state.broken.notified().now_or_never();
        self.state.set(Link::Up(peer.clone(), number));
        self.state.settled.cancel();
        tracing::info!(mcp_server = %self.name, tools = self.state.lock_tools().len(), "MCP server connected");
        loop {
            tokio::select! {
                reason = &mut ended => {
                    return Ended::Dropped(format!("the connection closed ({reason:?})"));
                }
                () = self.stop.cancelled() => {
                    cancel.cancel();
                    let _ = tokio::time::timeout(CLOSE_WAIT, ended).await;
                    return Ended::Stopped;
                }
                () = self.state.refresh.notified() => {
                    if let Err(why) = self.list(&peer).await {
                        cancel.cancel();
                        let _ = tokio::time::timeout(CLOSE_WAIT, ended).await;
                        return Ended::Dropped(why);
                    }
                    tracing::info!(mcp_server = %self.name, tools = self.state.lock_tools().len(), "MCP tool list changed");
                }
                () = self.state.broken.notified() => {
                    cancel.cancel();
                    let _ = tokio::time::timeout(CLOSE_WAIT, ended).await;
                    return Ended::Dropped("a call found the connection broken".to_owned());
                }
            }
        }
    }

    /// Lists the server's tools and publishes those offered, filtered and named.
    async fn list(&self, peer: &Peer<RoleClient>) -> Result<(), String> {
        let listed = tokio::time::timeout(HANDSHAKE, peer.list_all_tools())
            .await
            .map_err(|_| format!("no answer to tools/list within {HANDSHAKE:?}"))?
            .map_err(|e: ServiceError| format!("tools/list failed: {e}"))?;
        let remote_names: Vec<String> = listed.iter().map(|t| t.name.to_string()).collect();
        let remote_names: Vec<&str> = remote_names.iter().map(String::as_str).collect();
        let mut tools: Vec<AgentTool> = Vec::with_capacity(listed.len());
        for tool in listed {
            let remote = tool.name.to_string();
            if !names::wanted(&self.settings, &remote) {
                continue;
            }
            let Some(name) = names::offered(self.settings.prefix.as_deref(), &remote) else {
                continue;
            };
            if tools.iter().any(|t| t.definition().name == name) {
                tracing::warn!(mcp_server = %self.name, tool = %remote, "two tools are offered as {name}; the first is kept");
                continue;
            }
            let mut parameters: Map<String, Value> = (*tool.input_schema).clone();
            parameters
                .entry("type")
                .or_insert_with(|| Value::from("object"));
            parameters
                .entry("properties")
                .or_insert_with(|| Value::Object(Map::new()));
            let definition = ToolDefinition {
                name,
                description: tool.description.map(|d| d.into_owned()).unwrap_or_default(),
                parameters: Value::Object(parameters),
            };
            let body = McpTool {
                remote,
                server: self.name.clone(),
                state: Arc::downgrade(&self.state),
                timeout: self.settings.timeout,
            };
            tools.push(AgentTool::from_json(definition, body));
        }
        if let Some(include) = &self.settings.include {
            let missing: Vec<&String> = include
                .iter()
                .filter(|n| !remote_names.contains(&n.as_str()))
                .collect();
            if !missing.is_empty() {
                tracing::warn!(mcp_server = %self.name, "included tools the server does not offer: {missing:?}");
            }
        }
        *self.state.lock_tools() = Arc::from(tools);
        Ok(())
    }
}

/// Exponential backoff with jitter: `first`, doubling, up to `max`.
struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    fn new((first, max): (Duration, Duration)) -> Backoff {
        Backoff {
            first,
            max,
            next: first,
        }
    }

    fn reset(&mut self) {
        self.next = self.first;
    }

    /// The next wait: the current step, up to a quarter more at random.
    fn next(&mut self) -> Duration {
        let step = self.next;
        self.next = (self.next * 2).min(self.max);
        step + step.mul_f64(fastrand::f64() / 4.0)
    }
}
