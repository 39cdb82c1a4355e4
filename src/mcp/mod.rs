//! [`McpTools`]: the tools of an MCP server (Model Context Protocol), offered to an agent's model
//! like its own, through the official Rust SDK (`rmcp`).
//!
//! - `mod.rs`: the builder and the [`Toolkit`] it is;
//! - `supervise.rs`: the connection's life (connect, list, refresh on the server's
//!   list-changed notification, reconnect or restart with backoff);
//! - `connect.rs`: one connection, over stdio (a child process) or streamable HTTP;
//! - `call.rs`: one tool call and its result as text; `names.rs`: filters, prefix, names.

mod call;
mod connect;
mod names;
mod supervise;

use crate::tool::{AgentTool, Toolkit};
use futures::future::BoxFuture;
use rmcp::RoleClient;
use rmcp::service::Peer;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long one tool call may take by default (see [`McpTools::timeout`]).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The first wait before a reconnect, and the longest (see [`McpTools::reconnect_backoff`]).
const DEFAULT_BACKOFF: (Duration, Duration) = (Duration::from_millis(250), Duration::from_secs(30));

/// The tools of an MCP server, for an agent ([`Agent::toolkit`](crate::Agent::toolkit)):
/// agno's `MCPTools`.
///
/// The OS connects when it starts, lists the server's tools and offers them to the model with
/// their JSON schemas; a server that says its tool list changed is listed again. A server that
/// is down does not stop the OS: it is retried with backoff (a stdio server is restarted), and
/// its tools appear when it answers. A call that fails (the server is down, the call timed out,
/// the server answered an error) goes back to the model as the tool's error, and the run
/// continues. Several servers may serve one agent; clones share one connection.
///
/// ```no_run
/// use agentos::{Agent, McpTools, OpenAIChat};
/// use std::time::Duration;
///
/// let files = McpTools::stdio("npx", ["-y", "@modelcontextprotocol/server-filesystem", "/srv/docs"])
///     .include_tools(["read_file", "list_directory"]);
/// let search = McpTools::streamable_http("https://search.example.com/mcp")
///     .bearer_token("secret")
///     .prefix("search")
///     .timeout(Duration::from_secs(10));
/// let agent = Agent::new("Researcher")
///     .model(OpenAIChat::new("gpt-5.2"))
///     .toolkit(files)
///     .toolkit(search);
/// ```
#[derive(Clone)]
pub struct McpTools {
    name: String,
    settings: Settings,
    state: Arc<State>,
}

impl std::fmt::Debug for McpTools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpTools")
            .field("name", &self.name)
            .field("transport", &self.settings.transport)
            .finish_non_exhaustive()
    }
}

/// How to reach the server.
#[derive(Clone)]
enum Transport {
    /// A child process speaking MCP on its stdin and stdout.
    Stdio {
        command: String,
        args: Vec<String>,
        env: Vec<(String, String)>,
        cwd: Option<PathBuf>,
    },
    /// MCP's streamable HTTP transport.
    Http {
        url: String,
        headers: Vec<(String, String)>,
        bearer: Option<String>,
    },
}

impl std::fmt::Debug for Transport {
    /// Without the environment, the headers or the token: they may hold secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Stdio { command, args, .. } => f
                .debug_struct("Stdio")
                .field("command", command)
                .field("args", args)
                .finish(),
            Transport::Http { url, .. } => f.debug_struct("Http").field("url", url).finish(),
        }
    }
}

/// What the builder sets.
#[derive(Debug, Clone)]
struct Settings {
    transport: Transport,
    include: Option<Vec<String>>,
    exclude: Vec<String>,
    prefix: Option<String>,
    timeout: Duration,
    backoff: (Duration, Duration),
}

/// What the connection's supervisor shares with the tools and the agent.
struct State {
    link: Mutex<Link>,
    /// The tools offered now (the last list the server gave, filtered and named).
    tools: Mutex<Arc<[AgentTool]>>,
    /// The server said its tool list changed.
    refresh: Notify,
    /// A call found the connection broken: reconnect.
    broken: Notify,
    started: AtomicBool,
    /// Cancelled once the first attempt to connect and list has ended, well or not.
    settled: CancellationToken,
}

/// The connection as the tools see it.
enum Link {
    /// Connected; the number tells this connection from the earlier ones.
    Up(Peer<RoleClient>, u64),
    /// Not connected, and why.
    Down(String),
}

impl State {
    fn lock_link(&self) -> std::sync::MutexGuard<'_, Link> {
        self.link.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_tools(&self) -> std::sync::MutexGuard<'_, Arc<[AgentTool]>> {
        self.tools.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The connected peer and its connection's number, or why there is none.
    fn peer(&self) -> Result<(Peer<RoleClient>, u64), String> {
        match &*self.lock_link() {
            Link::Up(peer, n) => Ok((peer.clone(), *n)),
            Link::Down(why) => Err(why.clone()),
        }
    }

    /// A call found the connection `n` broken: the supervisor reconnects, unless that
    /// connection is already gone.
    fn broken(&self, n: u64) {
        if matches!(&*self.lock_link(), Link::Up(_, current) if *current == n) {
            self.broken.notify_one();
        }
    }

    fn set(&self, link: Link) {
        *self.lock_link() = link;
    }
}

impl McpTools {
    fn new(name: String, transport: Transport) -> McpTools {
        McpTools {
            name,
            settings: Settings {
                transport,
                include: None,
                exclude: Vec::new(),
                prefix: None,
                timeout: DEFAULT_TIMEOUT,
                backoff: DEFAULT_BACKOFF,
            },
            state: Arc::new(State {
                link: Mutex::new(Link::Down("not connected yet".to_owned())),
                tools: Mutex::new(Arc::from(Vec::new())),
                refresh: Notify::new(),
                broken: Notify::new(),
                started: AtomicBool::new(false),
                settled: CancellationToken::new(),
            }),
        }
    }

    /// A server run as a child process that speaks MCP on its stdin and stdout, e.g.
    /// `McpTools::stdio("npx", ["-y", "@modelcontextprotocol/server-memory"])`. It is restarted
    /// (with backoff) when it exits. It gets only a minimal environment (`HOME`, `LOGNAME`,
    /// `PATH`, `SHELL`, `TERM`, `USER`, as MCP's own SDKs give) plus [`McpTools::env`]: the
    /// server's secrets (API keys) are not handed to it. Its stderr goes to the log.
    pub fn stdio<I, S>(command: impl Into<String>, args: I) -> McpTools
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let command = command.into();
        let args: Vec<String> = args.into_iter().map(Into::into).collect();
        let name = names::from_command(&command, &args);
        McpTools::new(
            name,
            Transport::Stdio {
                command,
                args,
                env: Vec::new(),
                cwd: None,
            },
        )
    }

    /// A server reached over MCP's streamable HTTP transport at `url` (e.g.
    /// `http://127.0.0.1:8000/mcp`).
    pub fn streamable_http(url: impl Into<String>) -> McpTools {
        let url = url.into();
        let name = names::from_url(&url);
        McpTools::new(
            name,
            Transport::Http {
                url,
                headers: Vec::new(),
                bearer: None,
            },
        )
    }

    /// The name used in logs and in the errors the model sees (default: the command's file
    /// name, or the URL's host).
    pub fn name(mut self, name: impl Into<String>) -> McpTools {
        self.name = name.into();
        self
    }

    /// Sets an environment variable of a stdio server (ignored over HTTP).
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> McpTools {
        if let Transport::Stdio { env, .. } = &mut self.settings.transport {
            env.push((key.into(), value.into()));
        }
        self
    }

    /// The working directory of a stdio server (ignored over HTTP).
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> McpTools {
        if let Transport::Stdio { cwd, .. } = &mut self.settings.transport {
            *cwd = Some(dir.into());
        }
        self
    }

    /// Sends this header with every HTTP request (ignored over stdio).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> McpTools {
        if let Transport::Http { headers, .. } = &mut self.settings.transport {
            headers.push((name.into(), value.into()));
        }
        self
    }

    /// Sends `Authorization: Bearer <token>` with every HTTP request (ignored over stdio).
    pub fn bearer_token(mut self, token: impl Into<String>) -> McpTools {
        if let Transport::Http { bearer, .. } = &mut self.settings.transport {
            *bearer = Some(token.into());
        }
        self
    }

    /// Offers only these of the server's tools (by their names on the server).
    pub fn include_tools<I, S>(mut self, names: I) -> McpTools
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.settings.include = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Never offers these of the server's tools (by their names on the server).
    pub fn exclude_tools<I, S>(mut self, names: I) -> McpTools
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.settings.exclude = names.into_iter().map(Into::into).collect();
        self
    }

    /// Offers each tool as `<prefix>_<name>` (agno's `tool_name_prefix`), so that two servers'
    /// tools of the same name can serve one agent.
    pub fn prefix(mut self, prefix: impl Into<String>) -> McpTools {
        self.settings.prefix = Some(prefix.into());
        self
    }

    /// The longest one call of a tool may take (default 30 s); past it the call is cancelled at
    /// the server and the model gets an error result. The agent's own
    /// [`tool_timeout`](crate::Agent::tool_timeout) still applies.
    pub fn timeout(mut self, timeout: Duration) -> McpTools {
        self.settings.timeout = timeout;
        self
    }

    /// How long to wait before reconnecting to a server that is down or restarting one that
    /// exited: `first`, then twice as long each time, up to `max` (default 250 ms to 30 s,
    /// with jitter).
    pub fn reconnect_backoff(mut self, first: Duration, max: Duration) -> McpTools {
        self.settings.backoff = (first, max.max(first));
        self
    }
}

impl Toolkit for McpTools {
    fn name(&self) -> &str {
        &self.name
    }

    fn tools(&self) -> Arc<[AgentTool]> {
        self.state.lock_tools().clone()
    }

    fn unavailable(&self) -> Option<String> {
        match &*self.state.lock_link() {
            Link::Up(..) => None,
            Link::Down(why) => Some(format!(
                "the MCP server {:?} is not connected ({why}); its tools are unavailable until \
                 it is",
                self.name
            )),
        }
    }

    fn start(&self, tasks: &TaskTracker, stop: &CancellationToken) {
        if self.state.started.swap(true, Ordering::SeqCst) {
            return;
        }
        let supervisor = supervise::Supervisor {
            name: self.name.clone(),
            settings: self.settings.clone(),
            state: self.state.clone(),
            tasks: tasks.clone(),
            stop: stop.clone(),
        };
        tasks.spawn(supervisor.run());
    }

    fn settled(&self) -> BoxFuture<'static, ()> {
        Box::pin(self.state.settled.clone().cancelled_owned())
    }
}
