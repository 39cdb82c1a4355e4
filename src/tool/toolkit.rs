//! [`Toolkit`]: a set of tools whose list can change while the OS runs (an MCP server's tools),
//! and [`JsonTool`], a tool known only at runtime (its schema comes from elsewhere).

use super::{AgentTool, ErasedTool, ToolContext, ToolError};
use crate::model::ToolDefinition;
use async_trait::async_trait;
use futures::future::BoxFuture;
use serde_json::Value;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// A set of tools an agent offers its model, whose list may change while the OS runs: the
/// model is offered the toolkit's current tools at every model call of a run. An MCP server's
/// tools ([`McpTools`](crate::McpTools)) are one.
///
/// A native tool of the agent wins over a toolkit's tool of the same name, and among toolkits
/// the first added wins. A toolkit's tools must follow OpenAI's naming rule (1 to 64 letters,
/// digits, `_` or `-`); the agent does not rename them.
pub trait Toolkit: Send + Sync + 'static {
    /// Its name, for logs and error messages.
    fn name(&self) -> &str;

    /// The tools it offers now. Asked before every model call of a run that has it, so it
    /// should be cheap (a shared snapshot).
    fn tools(&self) -> Arc<[AgentTool]>;

    /// Why some of its tools may be missing now (its server is unreachable, ...), told to the
    /// model when it calls a tool the agent does not have. `None` when all is well.
    fn unavailable(&self) -> Option<String> {
        None
    }

    /// Starts its background work (connections, refreshes) on `tasks`, the OS's own tracker;
    /// the work must end once `stop` is cancelled, and the OS waits for it at shutdown. The OS
    /// calls this once at startup for every agent that holds the toolkit, so a toolkit shared
    /// by several agents must start only once.
    fn start(&self, tasks: &TaskTracker, stop: &CancellationToken) {
        let _ = (tasks, stop);
    }

    /// Completes once the toolkit's first attempt to get its tools has ended, well or not. The
    /// OS waits for it (a few seconds at most) before it serves, so that the first runs are
    /// offered the tools.
    fn settled(&self) -> BoxFuture<'static, ()> {
        Box::pin(std::future::ready(()))
    }
}

/// A tool known only at runtime, such as an MCP server's: its definition (name, description,
/// JSON schema) comes from elsewhere, its arguments arrive as the model's JSON and its result
/// is the text given back. Made into an agent's tool with [`AgentTool::from_json`].
#[async_trait]
pub trait JsonTool: Send + Sync + 'static {
    /// Runs it with the model's arguments (a JSON object).
    async fn call_json(&self, ctx: &ToolContext, args: Value) -> Result<String, ToolError>;
}

/// A [`JsonTool`] as an agent holds it.
struct Json<T>(T);

impl<T: JsonTool> ErasedTool for Json<T> {
    fn call_json(&self, args: Value, ctx: ToolContext) -> BoxFuture<'_, Result<String, ToolError>> {
        Box::pin(async move { self.0.call_json(&ctx, args).await })
    }
}

impl AgentTool {
    /// A tool whose definition is known only at runtime, run by `tool`.
    pub fn from_json(definition: ToolDefinition, tool: impl JsonTool) -> AgentTool {
        AgentTool {
            definition,
            inner: Arc::new(Json(tool)),
        }
    }
}

/// The message for a call of a tool the agent does not have, with what each impaired toolkit
/// says about its missing tools.
pub(crate) fn not_found(name: &str, toolkits: &[Arc<dyn Toolkit>]) -> String {
    let mut message = format!("tool {name} not found");
    for note in toolkits.iter().filter_map(|k| k.unavailable()) {
        message.push_str("; ");
        message.push_str(&note);
    }
    message
}
