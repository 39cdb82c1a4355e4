//! One call of an MCP server's tool, and its result as the text the model reads. Every failure
//! says what happened (not connected, no answer in time, the connection dropped, the server's
//! own error), so the model can try again or answer without the tool.

use super::State;
use crate::tool::{JsonTool, ToolContext, ToolError};
use async_trait::async_trait;
use rmcp::ServiceError;
use rmcp::model::{CallToolRequestParams, CallToolResult, ContentBlock, ResourceContents};
use serde_json::Value;
use std::sync::Weak;
use std::time::Duration;

/// One of the server's tools.
pub(super) struct McpTool {
    /// Its name on the server.
    pub remote: String,
    /// The server's name, for messages.
    pub server: String,
    /// Weak: the state holds the tools.
    pub state: Weak<State>,
    pub timeout: Duration,
}

#[async_trait]
impl JsonTool for McpTool {
    async fn call_json(&self, _ctx: &ToolContext, args: Value) -> Result<String, ToolError> {
        let server = &self.server;
        let state = self
            .state
            .upgrade()
            .ok_or_else(|| ToolError::new(format!("the MCP server {server:?} is gone")))?;
        let (peer, connection) = state.peer().map_err(|why| {
            ToolError::new(format!(
                "the MCP server {server:?} is not connected ({why}); the call was not made"
            ))
        })?;
        let arguments = match args {
            Value::Object(map) => map,
            other => {
                return Err(ToolError::new(format!(
                    "the arguments must be a JSON object, not {other}"
                )));
            }
        };
        let params = CallToolRequestParams::new(self.remote.clone()).with_arguments(arguments);
        // Dropping the call on timeout cancels it at the server.
        let result = match tokio::time::timeout(self.timeout, peer.call_tool(params)).await {
            Err(_) => {
                return Err(ToolError::new(format!(
                    "the MCP server {server:?} did not answer within {:?}; the call was cancelled",
                    self.timeout
                )));
            }
            Ok(Err(e)) => {
                if matches!(
                    e,
                    ServiceError::TransportClosed | ServiceError::TransportSend(_)
                ) {
                    state.broken(connection);
                }
                return Err(ToolError::new(describe(server, &e)));
            }
            Ok(Ok(result)) => result,
        };
        let text = result_text(&result);
        if result.is_error == Some(true) {
            let text = if text.is_empty() {
                "the tool failed without a message".to_owned()
            } else {
                text
            };
            return Err(ToolError::new(text));
        }
        Ok(text)
    }
}

/// What went wrong with a call that got no result.
fn describe(server: &str, e: &ServiceError) -> String {
    match e {
        ServiceError::TransportClosed => format!(
            "the connection to the MCP server {server:?} closed during the call (did the server \
             stop?); it is being reconnected"
        ),
        ServiceError::TransportSend(e) => {
            format!("the MCP server {server:?} could not be reached ({e}); it is being reconnected")
        }
        ServiceError::McpError(e) => {
            format!("the MCP server {server:?} refused the call: {}", e.message)
        }
        other => format!("the call to the MCP server {server:?} failed: {other}"),
    }
}

/// A result as text: its text blocks, one per line, with what the model cannot read (images,
/// audio, binary resources) named; the structured content when there is nothing else.
pub(super) fn result_text(result: &CallToolResult) -> String {
    let parts: Vec<String> = result.content.iter().map(block_text).collect();
    if parts.is_empty()
        && let Some(structured) = &result.structured_content
    {
        return match structured {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
    }
    parts.join("\n")
}

fn block_text(block: &ContentBlock) -> String {
    match block {
        ContentBlock::Text(t) => t.text.clone(),
        ContentBlock::Image(i) => format!("[image: {}]", i.mime_type),
        ContentBlock::Audio(a) => format!("[audio: {}]", a.mime_type),
        ContentBlock::Resource(r) => match &r.resource {
            ResourceContents::TextResourceContents { text, .. } => text.clone(),
            ResourceContents::BlobResourceContents { uri, .. } => format!("[resource: {uri}]"),
            #[allow(unreachable_patterns)]
            _ => "[resource]".to_owned(),
        },
        ContentBlock::ResourceLink(link) => format!("[resource link: {}]", link.uri),
        #[allow(unreachable_patterns)]
        _ => "[content]".to_owned(),
    }
}
