//! `/mcp`: agentos as an MCP server over streamable HTTP (agno's `AgentOS(mcp_server=True)`),
//! through `rmcp`, the official Rust SDK. The tools are agno 3.1.10's built-in set: the OS's
//! config, run an agent, team or workflow, continue and cancel a run, list sessions and a
//! session's runs.
//!
//! - `catalog.rs`: the tools' names, schemas and annotations;
//! - `handler.rs`: the protocol handler; `call.rs`: a call's arguments, failures and results;
//! - `runs.rs`: the run and lifecycle tools; `reads.rs`: the config and session tools.
//!
//! Stateless: no MCP session is kept between requests (a run's state is in the database), so
//! any replica answers any request. The security key applies as to every route (the edge
//! layers wrap this service); the route is not in the OpenAPI document, as in agno.

mod call;
mod catalog;
mod handler;
mod reads;
mod runs;

use crate::runtime::Runtime;
use axum::Router;
use rmcp::transport::StreamableHttpService;
use rmcp::transport::streamable_http_server::StreamableHttpServerConfig;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use std::sync::Arc;
use std::time::Duration;

/// Where the MCP server is mounted.
pub(crate) const PATH: &str = "/mcp";

/// How the MCP server is set up.
#[derive(Debug, Clone, Default)]
pub(crate) struct McpSettings {
    /// `Host` values accepted besides loopback ones, on a server without a key (DNS-rebinding
    /// protection, as agno's); with a key set, any host is accepted.
    pub allowed_hosts: Vec<String>,
}

/// That the MCP server is on, for `/info` and `/config` (an extension of every request).
#[derive(Debug, Clone, Copy)]
pub(crate) struct McpOn;

/// `router` with the MCP server at `/mcp`. `keyed`: the security key guards every route, so
/// the `Host` check against DNS rebinding is not needed (agno's rule).
pub(crate) fn mount(
    router: Router,
    runtime: Arc<Runtime>,
    settings: &McpSettings,
    keyed: bool,
    max_body_bytes: usize,
) -> Router {
    let handler = handler::AgentOsMcp::new(runtime);
    let mut config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_sse_keep_alive(Some(Duration::from_secs(15)))
        .with_max_request_body_bytes(max_body_bytes);
    config = if keyed {
        config.disable_allowed_hosts()
    } else {
        let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "::1"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        hosts.extend(settings.allowed_hosts.iter().cloned());
        config.with_allowed_hosts(hosts)
    };
    let service = StreamableHttpService::new(
        move || Ok(handler.clone()),
        Arc::new(NeverSessionManager::default()),
        config,
    );
    router
        .nest_service(PATH, service)
        .layer(axum::Extension(McpOn))
}
