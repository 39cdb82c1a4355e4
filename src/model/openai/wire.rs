//! OpenAI's JSON: messages in, replies, usage and errors out.

use super::super::retry::AttemptTimeout;
use super::super::{ChatMessage, ModelError, ToolCall, Usage};
use async_openai::error::OpenAIError;
use serde_json::{Value, json};

/// One message in OpenAI's shape: an assistant's `tool_calls`, a tool result's `tool_call_id`.
pub(super) fn message_json(m: &ChatMessage) -> Value {
    let mut v = json!({"role": m.role, "content": m.openai_content()});
    if !m.tool_calls.is_empty() {
        let calls: Vec<Value> = m
            .tool_calls
            .iter()
            .map(|c| {
                json!({"id": c.id, "type": "function",
                       "function": {"name": c.name, "arguments": c.arguments}})
            })
            .collect();
        v["tool_calls"] = Value::Array(calls);
        if m.content.is_empty() {
            v["content"] = Value::Null;
        }
    }
    if let Some(id) = &m.tool_call_id {
        v["tool_call_id"] = json!(id);
    }
    v
}

/// The tool calls of a complete reply message.
pub(super) fn tool_calls_of(message: &Value) -> Vec<ToolCall> {
    let Some(calls) = message.get("tool_calls").and_then(Value::as_array) else {
        return Vec::new();
    };
    calls
        .iter()
        .map(|c| ToolCall {
            id: text_at(c, "/id"),
            name: text_at(c, "/function/name"),
            arguments: match c.pointer("/function/arguments") {
                Some(Value::String(s)) => s.clone(),
                // Some servers send the arguments as an object rather than JSON text.
                Some(v @ Value::Object(_)) => v.to_string(),
                _ => String::new(),
            },
        })
        .collect()
}

pub(super) fn text_at(v: &Value, pointer: &str) -> String {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

pub(super) fn map_error(e: OpenAIError) -> ModelError {
    match e {
        OpenAIError::ApiError(api) => ModelError::Status {
            status: api.status_code.as_u16(),
            message: api.api_error.message.clone(),
        },
        OpenAIError::Reqwest(e) => match e.status() {
            Some(status) => ModelError::Status {
                status: status.as_u16(),
                message: e.to_string(),
            },
            None if e.is_decode() => ModelError::Malformed(e.to_string()),
            None => ModelError::Transport(e.to_string()),
        },
        OpenAIError::JSONDeserialize(e, body) => {
            let snippet: String = body.chars().take(200).collect();
            ModelError::Malformed(format!("{e}: {snippet}"))
        }
        OpenAIError::StreamError(e) => ModelError::Transport(e.to_string()),
        OpenAIError::Boxed(e) => match e.downcast_ref::<AttemptTimeout>() {
            Some(t) => ModelError::Timeout(t.0),
            None => ModelError::Transport(e.to_string()),
        },
        other => ModelError::Malformed(other.to_string()),
    }
}

pub(super) fn usage_of(v: &Value) -> Option<Usage> {
    let u = v.get("usage")?;
    if u.is_null() {
        return None;
    }
    Some(Usage {
        input_tokens: u.get("prompt_tokens").and_then(Value::as_u64).unwrap_or(0),
        output_tokens: u
            .get("completion_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(0),
    })
}
