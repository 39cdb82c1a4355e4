//! [`AgentOs`]: the builder users start from; it owns the runtime and serves the router.

use crate::agent::Agent;
use crate::hooks::Hook;
use crate::http::mcp::McpSettings;
use crate::http::serve::ServeOptions;
use crate::http::{JwtConfig, RateLimit};
use crate::knowledge::Knowledge;
use crate::runtime::jobs::HookSettings;
use crate::runtime::lease::LeaseSettings;
use crate::runtime::telemetry::{Otlp, Telemetry, TelemetrySettings};
use crate::runtime::{Component, Runtime, RuntimeParts};
use crate::store::{DbConfig, StoreError};
use crate::team::Team;
use crate::workflow::Workflow;
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::OnceCell;

/// How long the OS waits at startup for its toolkits' first attempt (MCP servers' tools) before
/// it serves without the tools of those that have not answered.
const TOOLKIT_START_WAIT: Duration = Duration::from_secs(10);

/// Why the OS could not start.
#[derive(Debug, thiserror::Error)]
pub enum OsError {
    /// The configuration is inconsistent (duplicate ids, an agent without a model, ...).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// `DATABASE_URL` (or a configured database) names a database agentos cannot use.
    #[error(transparent)]
    Db(#[from] crate::db::DbConfigError),
    /// The address could not be bound or served.
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

/// An agent operating system: workflows served over agno AgentOS's HTTP protocol.
///
/// ```no_run
/// use agentos::{Agent, AgentOs, ScriptedModel, Workflow};
/// # async fn run() -> Result<(), agentos::OsError> {
/// let wf = Workflow::new("echo").steps([Agent::new("Echo").model(ScriptedModel::new())]);
/// AgentOs::new().workflow(wf).serve("127.0.0.1:7777").await
/// # }
/// ```
pub struct AgentOs {
    id: String,
    workflows: Vec<Workflow>,
    agents: Vec<Agent>,
    knowledge: Vec<Knowledge>,
    teams: Vec<Team>,
    db: Option<DbConfig>,
    hooks_in_background: bool,
    hook_settings: HookSettings,
    shutdown_timeout: Duration,
    max_body_bytes: usize,
    idempotency_ttl: Duration,
    lease_settings: LeaseSettings,
    security_key: Option<String>,
    cors_origins: Option<Vec<String>>,
    jwt: Option<JwtConfig>,
    rate_limit: Option<RateLimit>,
    serve_options: ServeOptions,
    /// `Some` when `/mcp` is served.
    mcp: Option<McpSettings>,
    telemetry: TelemetrySettings,
    /// Where the Prometheus exposition is served, when on.
    prometheus_path: Option<String>,
    runtime: OnceCell<Arc<Runtime>>,
}

impl Default for AgentOs {
    fn default() -> Self {
        AgentOs::new()
    }
}

impl std::fmt::Debug for AgentOs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentOs")
            .field("id", &self.id)
            .field("workflows", &self.workflows.len())
            .field("agents", &self.agents.len())
            .field("teams", &self.teams.len())
            .field("db", &self.db)
            .field("hooks_in_background", &self.hooks_in_background)
            .finish_non_exhaustive()
    }
}

impl AgentOs {
    /// An empty OS with the defaults: hooks inline, 64 concurrent background hooks, 60 s per
    /// hook attempt, 3 attempts, 30 s shutdown drain, 10 MiB request bodies.
    pub fn new() -> AgentOs {
        AgentOs {
            id: "agentos".to_owned(),
            workflows: Vec::new(),
            agents: Vec::new(),
            knowledge: Vec::new(),
            teams: Vec::new(),
            db: None,
            hooks_in_background: false,
            hook_settings: HookSettings::default(),
            shutdown_timeout: Duration::from_secs(30),
            max_body_bytes: 10 * 1024 * 1024,
            idempotency_ttl: Duration::from_secs(24 * 3600),
            lease_settings: LeaseSettings::default(),
            security_key: None,
            cors_origins: None,
            jwt: None,
            rate_limit: None,
            serve_options: ServeOptions::default(),
            mcp: None,
            telemetry: TelemetrySettings::default(),
            prometheus_path: None,
            runtime: OnceCell::new(),
        }
    }

    /// The OS id reported by `/config` and `/`.
    pub fn id(mut self, id: impl Into<String>) -> AgentOs {
        self.id = id.into();
        self
    }

    /// Serves this workflow.
    pub fn workflow(mut self, workflow: Workflow) -> AgentOs {
        self.workflows.push(workflow);
        self
    }

    /// Serves this agent on its own (`/agents/{id}`, `POST /agents/{id}/runs`).
    pub fn agent(mut self, agent: Agent) -> AgentOs {
        self.agents.push(agent);
        self
    }

    /// Serves this knowledge base on `/knowledge` (agno's `AgentOS(knowledge=[...])`). The
    /// knowledge bases of the agents served are served without it.
    pub fn knowledge(mut self, knowledge: Knowledge) -> AgentOs {
        self.knowledge.push(knowledge);
        self
    }

    /// Serves this team (`/teams/{id}`, `POST /teams/{id}/runs`).
    pub fn team(mut self, team: Team) -> AgentOs {
        self.teams.push(team);
        self
    }

    /// The database for every run. Default: `DATABASE_URL`, else the first workflow's `db`,
    /// else `tmp/agentos.db`.
    pub fn db(mut self, db: impl Into<DbConfig>) -> AgentOs {
        self.db = Some(db.into());
        self
    }

    /// Runs every hook that is not a guardrail in the background, after the response (agno's
    /// `AgentOS(run_hooks_in_background=True)`, which agno itself drops; we honour it).
    pub fn run_hooks_in_background(mut self, on: bool) -> AgentOs {
        self.hooks_in_background = on;
        self
    }

    /// At most `n` background hooks run at once (default 64).
    pub fn hook_concurrency(mut self, n: usize) -> AgentOs {
        self.hook_settings.concurrency = n.max(1);
        self
    }

    /// Each background hook attempt is cut off after `timeout` (default 60 s).
    pub fn hook_timeout(mut self, timeout: Duration) -> AgentOs {
        self.hook_settings.timeout = timeout;
        self
    }

    /// A failed background hook is tried up to `max_attempts` times in all (default 3), waiting
    /// about `backoff`, then twice that, ... between attempts (default 1 s, with jitter).
    pub fn hook_retries(mut self, max_attempts: u32, backoff: Duration) -> AgentOs {
        self.hook_settings.max_attempts = max_attempts.max(1);
        self.hook_settings.backoff = backoff;
        self
    }

    /// How long shutdown waits for in-flight runs, and then for background hooks (default 30 s each).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> AgentOs {
        self.shutdown_timeout = timeout;
        self
    }

    /// How often due hook retries and abandoned hook jobs are looked for (default 1 s).
    pub fn hook_poll_interval(mut self, interval: Duration) -> AgentOs {
        self.hook_settings.poll_interval = interval;
        self
    }

    /// How long an `Idempotency-Key` names its run (default 24 h).
    pub fn idempotency_ttl(mut self, ttl: Duration) -> AgentOs {
        self.idempotency_ttl = ttl;
        self
    }

    /// On a database shared by replicas (Postgres): how often this process renews its owner
    /// lease and reconciles the work of dead replicas (default 3 s; the lease holds three
    /// times as long, so a dead replica's runs end ERROR and its hook jobs are taken within
    /// about four heartbeats).
    pub fn owner_heartbeat(mut self, every: Duration) -> AgentOs {
        self.lease_settings = LeaseSettings::every(every);
        self
    }

    /// The largest request body accepted (default 10 MiB); larger ones get 413.
    pub fn max_body_bytes(mut self, bytes: usize) -> AgentOs {
        self.max_body_bytes = bytes;
        self
    }

    /// Requires `Authorization: Bearer <key>` on every route except `/`, `/health`, `/info`, the
    /// docs (`/docs`, `/openapi.json`) and `OPTIONS` requests; others get 401. Default: the
    /// `OS_SECURITY_KEY` environment variable. An empty key turns auth off.
    pub fn security_key(mut self, key: impl Into<String>) -> AgentOs {
        self.security_key = Some(key.into());
        self
    }

    /// The browser origins CORS allows (with credentials), replacing the defaults like agno's
    /// `cors_allowed_origins`. `*` is dropped; an empty list keeps the defaults. Default:
    /// `CORS_ORIGIN_LIST` (comma-separated or a JSON array) plus `http://localhost:3000` and
    /// agno's hosts (`https://agno.com`, `https://www.agno.com`, `https://app.agno.com`,
    /// `https://os-stg.agno.com`, `https://os.agno.com`).
    pub fn cors_allowed_origins<I, S>(mut self, origins: I) -> AgentOs
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.cors_origins = Some(origins.into_iter().map(Into::into).collect());
        self
    }

    /// Verifies JWTs and checks agno's scopes on every route (agno's `AgentOS(authorization=True)`):
    /// a token's user (`sub`) and scopes become the request's principal; with
    /// [`JwtConfig::user_isolation`] each user sees only their own sessions and runs. The
    /// security key is then not accepted (JWT takes precedence, as in agno); service account
    /// tokens (`/service-accounts`) work with either.
    pub fn authorization(mut self, config: JwtConfig) -> AgentOs {
        self.jwt = Some(config);
        self
    }

    /// Limits each principal (the verified user or service account, else the client's
    /// address) to a request rate; past it, 429 with `Retry-After`. Default: no limit.
    pub fn rate_limit(mut self, limit: RateLimit) -> AgentOs {
        self.rate_limit = Some(limit);
        self
    }

    /// How long a request's headers may take to arrive once the client starts waiting (default
    /// 30 s); then the connection is closed. Applies to [`AgentOs::serve`].
    pub fn header_read_timeout(mut self, timeout: Duration) -> AgentOs {
        self.serve_options.header_read_timeout = timeout;
        self
    }

    /// How long a request's body may take to arrive once the client starts waiting (default
    /// 60 s), however it trickles; then the connection is closed. Applies to [`AgentOs::serve`].
    pub fn body_read_timeout(mut self, timeout: Duration) -> AgentOs {
        self.serve_options.body_read_timeout = timeout;
        self
    }

    /// At most `n` connections at once (default 10,000); more wait to be accepted. Applies to
    /// [`AgentOs::serve`].
    pub fn max_connections(mut self, n: usize) -> AgentOs {
        self.serve_options.max_connections = Some(n);
        self
    }

    /// The largest request head, request line and headers (default 64 KiB); larger ones get
    /// 431. Applies to [`AgentOs::serve`].
    pub fn max_header_bytes(mut self, bytes: usize) -> AgentOs {
        self.serve_options.max_header_bytes = bytes;
        self
    }

    /// Serves the OS as an MCP server over streamable HTTP at `/mcp` (agno's
    /// `AgentOS(mcp_server=True)`), with agno's tools: the OS's config, run an agent, team or
    /// workflow, continue and cancel a run, list sessions and a session's runs. The security
    /// key applies. Without a key, only requests to a loopback host are served (protection
    /// against DNS rebinding, as agno's); [`AgentOs::mcp_allowed_hosts`] adds others.
    pub fn mcp_server(mut self, on: bool) -> AgentOs {
        self.mcp = match (on, self.mcp.take()) {
            (false, _) => None,
            (true, settings) => Some(settings.unwrap_or_default()),
        };
        self
    }

    /// Host names (or `host:port`) `/mcp` answers besides loopback ones when no security key is
    /// set; with a key, every host is served. Turns the MCP server on.
    pub fn mcp_allowed_hosts<I, S>(mut self, hosts: I) -> AgentOs
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut settings = self.mcp.take().unwrap_or_default();
        settings.allowed_hosts = hosts.into_iter().map(Into::into).collect();
        self.mcp = Some(settings);
        self
    }

    /// Stores every run's trace in the database for agno's traces API (`/traces`,
    /// `/trace_session_stats`; agno's `AgentOS(tracing=True)`). Spans are written in batches by
    /// a background task, never on a run's path. Default off.
    ///
    /// agentos's spans reach the database through [`crate::telemetry::layer`]: if the process
    /// has no global `tracing` subscriber yet, [`crate::telemetry::init`]'s is installed.
    pub fn tracing(mut self, on: bool) -> AgentOs {
        self.telemetry.traces = on;
        self
    }

    /// Exports every run's spans over OTLP/HTTP (protobuf) to this traces endpoint
    /// (`http://collector:4318/v1/traces`). Default: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, or
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` plus `/v1/traces`, when set; otherwise no export. Export is
    /// batched and bounded: a collector that is down or slow loses spans, never a run.
    pub fn otlp_endpoint(mut self, url: impl Into<String>) -> AgentOs {
        self.telemetry.otlp = Otlp::Endpoint(url.into());
        self
    }

    /// Never exports over OTLP, whatever the environment says.
    pub fn without_otlp(mut self) -> AgentOs {
        self.telemetry.otlp = Otlp::Off;
        self
    }

    /// How often finished spans are written to the database and the OTLP endpoint (default
    /// 1 s).
    pub fn trace_export_interval(mut self, every: Duration) -> AgentOs {
        self.telemetry.export_interval = every;
        self
    }

    /// Serves Prometheus metrics (text exposition) at `/metrics/prometheus` (agno's `/metrics`
    /// is its usage metrics): runs, latencies, tokens, jobs, store writes and HTTP requests.
    /// Default off.
    pub fn prometheus(self, on: bool) -> AgentOs {
        match on {
            true => self.prometheus_path("/metrics/prometheus"),
            false => AgentOs {
                prometheus_path: None,
                telemetry: TelemetrySettings {
                    metrics: false,
                    ..self.telemetry
                },
                ..self
            },
        }
    }

    /// Serves Prometheus metrics at `path` (see [`AgentOs::prometheus`]).
    pub fn prometheus_path(mut self, path: impl Into<String>) -> AgentOs {
        let path = path.into();
        self.prometheus_path = Some(match path.starts_with('/') {
            true => path,
            false => format!("/{path}"),
        });
        self.telemetry.metrics = true;
        self
    }

    fn db_config(&self) -> Result<DbConfig, OsError> {
        if let Some(db) = DbConfig::from_env()? {
            return Ok(db);
        }
        Ok(self
            .db
            .clone()
            .or_else(|| self.workflows.iter().find_map(|w| w.get_db().cloned()))
            .unwrap_or_else(|| DbConfig::Sqlite(PathBuf::from("tmp/agentos.db"))))
    }

    fn hooks(&self) -> Result<HashMap<String, Hook>, OsError> {
        let mut hooks: HashMap<String, Hook> = HashMap::new();
        let mut ids = std::collections::HashSet::new();
        for wf in &self.workflows {
            if !ids.insert(wf.id()) {
                return Err(OsError::Config(format!(
                    "two workflows have the id {:?}",
                    wf.id()
                )));
            }
        }
        let mut agent_ids = std::collections::HashSet::new();
        for agent in &self.agents {
            if !agent_ids.insert(agent.id()) {
                return Err(OsError::Config(format!(
                    "two agents have the id {:?}",
                    agent.id()
                )));
            }
        }
        let mut team_ids = std::collections::HashSet::new();
        for team in &self.teams {
            if !team_ids.insert(team.get_id()) {
                return Err(OsError::Config(format!(
                    "two teams have the id {:?}",
                    team.get_id()
                )));
            }
        }
        let step_teams = self.workflows.iter().flat_map(|wf| wf.teams());
        for team in self.teams.iter().chain(step_teams) {
            team.check().map_err(OsError::Config)?;
        }
        let step_agents = self.workflows.iter().flat_map(|wf| wf.agents());
        let team_agents = self.teams.iter().flat_map(|t| t.agents());
        for agent in self.agents.iter().chain(step_agents).chain(team_agents) {
            if agent.get_model().is_none() {
                return Err(OsError::Config(format!(
                    "agent {:?} has no model",
                    agent.name()
                )));
            }
            agent.check_tools().map_err(OsError::Config)?;
            for hook in agent.hooks() {
                // One name, one hook: a durable job finds its hook again by name. The same
                // function attached to several agents shares its name, which is fine.
                hooks
                    .entry(hook.name().to_owned())
                    .or_insert_with(|| hook.clone());
            }
        }
        Ok(hooks)
    }

    /// Every knowledge base: those given, then those of the agents (served, then workflow
    /// steps), each once. Two different knowledge bases may not share an id.
    fn knowledge_bases(&self) -> Result<Vec<Knowledge>, OsError> {
        let mut bases: Vec<Knowledge> = Vec::new();
        let step_agents = self.workflows.iter().flat_map(|wf| wf.agents());
        let attached = self
            .agents
            .iter()
            .chain(step_agents)
            .filter_map(|a| a.get_knowledge().map(|k| k.knowledge().clone()));
        for kb in self.knowledge.iter().cloned().chain(attached) {
            match bases.iter().find(|b| b.id() == kb.id()) {
                Some(known) if known.same(&kb) => {}
                Some(_) => {
                    return Err(OsError::Config(format!(
                        "two knowledge bases have the id {:?}",
                        kb.id()
                    )));
                }
                None => bases.push(kb),
            }
        }
        Ok(bases)
    }

    /// Opens the database, applies migrations and builds the runtime (once).
    async fn runtime(&self) -> Result<Arc<Runtime>, OsError> {
        self.runtime
            .get_or_try_init(|| async {
                let hooks = self.hooks()?;
                let knowledge = self.knowledge_bases()?;
                let db = self.db_config()?;
                let store = db.open().await?;
                let db_id = match &db {
                    DbConfig::Sqlite(path) => uuid::Uuid::new_v5(
                        &uuid::Uuid::NAMESPACE_DNS,
                        path.to_string_lossy().as_bytes(),
                    )
                    .to_string(),
                    DbConfig::Postgres(url) => {
                        uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, url.as_bytes()).to_string()
                    }
                };
                let components: Vec<Component> = self
                    .workflows
                    .iter()
                    .cloned()
                    .map(|w| Component::Workflow(Arc::new(w)))
                    .chain(
                        self.agents
                            .iter()
                            .cloned()
                            .map(|a| Component::Agent(Arc::new(a))),
                    )
                    .collect();
                let telemetry = Telemetry::new(&self.telemetry, &store, &components)
                    .map_err(|e| OsError::Config(format!("OTLP export: {e}")))?;
                let runtime = Runtime::new(RuntimeParts {
                    os_id: self.id.clone(),
                    db_id,
                    workflows: self.workflows.iter().cloned().map(Arc::new).collect(),
                    agents: self.agents.iter().cloned().map(Arc::new).collect(),
                    knowledge,
                    teams: self.teams.iter().cloned().map(Arc::new).collect(),
                    store,
                    hooks_in_background: self.hooks_in_background,
                    hooks,
                    hook_settings: self.hook_settings.clone(),
                    idempotency_ttl: self.idempotency_ttl,
                    lease_settings: self.lease_settings,
                    telemetry,
                });
                runtime.recover().await?;
                runtime.load_knowledge_sources().await;
                let runtime = Arc::new(runtime);
                runtime.start_resuming_orphans();
                runtime.start_toolkits(TOOLKIT_START_WAIT).await;
                Ok(runtime)
            })
            .await
            .cloned()
    }

    /// The HTTP API as an `axum::Router`, to serve or to `nest` inside a host application.
    /// Opens the database on first use.
    pub async fn router(&self) -> Result<axum::Router, OsError> {
        Ok(self.build_router().await?.0)
    }

    /// The router, and whether its requests need the client's address.
    async fn build_router(&self) -> Result<(axum::Router, bool), OsError> {
        let edge = crate::http::Edge::from_config(
            self.security_key.as_deref(),
            self.cors_origins.as_deref(),
            self.jwt.as_ref(),
            self.rate_limit,
        )
        .map_err(OsError::Config)?;
        let runtime = self.runtime().await?;
        let store = runtime.store.clone();
        let mut api = crate::http::api_router(
            runtime.clone(),
            self.max_body_bytes,
            self.prometheus_path.as_deref(),
        );
        if let Some(settings) = &self.mcp {
            api =
                crate::http::mcp::mount(api, runtime, settings, edge.keyed(), self.max_body_bytes);
        }
        let router =
            crate::http::with_edge(api, &edge, &self.id, store).map_err(OsError::Config)?;
        Ok((router, edge.needs_peer_addr()))
    }

    /// Binds `addr` (overridden by `AGENT_OS_HOST` / `AGENT_OS_PORT`) and serves until SIGINT or
    /// SIGTERM, then shuts down gracefully.
    pub async fn serve(self, addr: &str) -> Result<(), OsError> {
        let addr = resolve_addr(addr)?;
        let listener = TcpListener::bind(addr).await?;
        tracing::info!("AgentOS listening on http://{}", listener.local_addr()?);
        self.serve_with_shutdown(listener, shutdown_signal()).await
    }

    /// Serves on `listener` until `signal` completes: then stops accepting, lets in-flight
    /// requests and runs finish, drains background hooks, and closes the database.
    pub async fn serve_with_shutdown(
        self,
        listener: TcpListener,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), OsError> {
        let (router, peer_addr) = self.build_router().await?;
        let options = ServeOptions {
            peer_addr,
            ..self.serve_options
        };
        crate::http::serve::serve(listener, router, signal, options).await;
        self.shutdown().await;
        Ok(())
    }

    /// For a host application's own shutdown path: waits for in-flight runs, drains background
    /// hooks (each up to the shutdown timeout), then closes the database.
    pub async fn shutdown(&self) {
        if let Some(runtime) = self.runtime.get() {
            runtime.shutdown(self.shutdown_timeout).await;
        }
    }
}

fn resolve_addr(addr: &str) -> Result<SocketAddr, OsError> {
    let bad = |e: String| OsError::Config(format!("bad listen address: {e}"));
    let default: SocketAddr = addr.parse().map_err(|e| bad(format!("{addr:?}: {e}")))?;
    let host = std::env::var("AGENT_OS_HOST")
        .ok()
        .filter(|h| !h.is_empty());
    let port = std::env::var("AGENT_OS_PORT")
        .ok()
        .filter(|p| !p.is_empty());
    let ip = match host.as_deref() {
        None => default.ip(),
        Some("localhost") => std::net::Ipv4Addr::LOCALHOST.into(),
        Some(h) => h
            .parse()
            .map_err(|e| bad(format!("AGENT_OS_HOST={h:?}: {e}")))?,
    };
    let port = match port {
        None => default.port(),
        Some(p) => p
            .parse()
            .map_err(|e| bad(format!("AGENT_OS_PORT={p:?}: {e}")))?,
    };
    Ok(SocketAddr::new(ip, port))
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutting down: finishing in-flight runs and background hooks");
}
