//! MCP both ways, against the official Python SDK (`mcp` from PyPI, pinned in
//! `tests/compat/requirements.txt`), which nobody here wrote:
//!
//! - `client.rs`: agents use the tools of `tests/compat/mcp_tool_server.py`, over stdio and
//!   streamable HTTP (schemas, results, headers, filters, names, list-changed);
//! - `faults.rs`: the tool server killed mid-run, restarted, slow past the timeout, failing, or
//!   never started;
//! - `server.rs`: agentos's own `/mcp`, driven by the SDK's client
//!   (`tests/compat/mcp_client_suite.py`);
//! - `example.rs`: `cargo run --example mcp_tools`, offline.
//!
//! Needs `python3` and PyPI (`tests/support/python.rs`): skipped locally without them, failed
//! under `CI=true`.

#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;
#[path = "../api/mock_openai.rs"]
mod mock_openai;
#[path = "../support/python.rs"]
mod python;

mod client;
mod example;
mod faults;
mod server;
mod support;
