//! What every tool call shares: its arguments read as pydantic would check them, its failures
//! (answered as FastMCP answers them), and its results in FastMCP's shapes.

use crate::store::StoreError;
use rmcp::model::{CallToolResult, ContentBlock, JsonObject, MetaObject};
use serde_json::{Value, json};

/// Why a call gave no result.
pub(super) enum Failure {
    /// The arguments are wrong, or the tool is unknown: said as it is.
    Invalid(String),
    /// The tool failed: FastMCP prefixes `Error calling tool '<name>': `.
    Failed(String),
}

/// A result whose text is the failure.
pub(super) fn error_result(message: String) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message)])
}

/// A call's arguments, read as pydantic would check them.
pub(super) struct Args<'a> {
    pub(super) map: &'a JsonObject,
}

impl Args<'_> {
    /// A string argument that must be there.
    pub(super) fn string(&self, key: &str) -> Result<String, Failure> {
        match self.map.get(key) {
            Some(Value::String(s)) => Ok(s.clone()),
            None | Some(Value::Null) => Err(Failure::Invalid(format!(
                "Missing required argument {key:?}"
            ))),
            Some(other) => Err(not_a(key, "string", other)),
        }
    }

    /// A string argument that may be left out (or null).
    pub(super) fn optional(&self, key: &str) -> Result<Option<String>, Failure> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(not_a(key, "string", other)),
        }
    }

    /// An optional string argument that must be one of `allowed`.
    pub(super) fn choice(&self, key: &str, allowed: &[&str]) -> Result<Option<String>, Failure> {
        let value = self.optional(key)?;
        match value {
            Some(v) if !allowed.contains(&v.as_str()) => Err(Failure::Invalid(format!(
                "Argument {key:?} must be one of {allowed:?}, not {v:?}"
            ))),
            other => Ok(other),
        }
    }

    /// An integer argument, `default` when left out, at least `min`.
    pub(super) fn integer(&self, key: &str, default: u64, min: u64) -> Result<u64, Failure> {
        let n = match self.map.get(key) {
            None | Some(Value::Null) => return Ok(default),
            Some(Value::Number(n)) => n.as_u64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                    .map(|f| f as u64)
            }),
            Some(Value::String(s)) => s.trim().parse().ok(),
            Some(_) => None,
        };
        match n {
            Some(n) if n >= min => Ok(n),
            _ => Err(Failure::Invalid(format!(
                "Argument {key:?} must be an integer of at least {min}, not {}",
                self.map.get(key).map_or(String::new(), Value::to_string)
            ))),
        }
    }

    /// A list of objects, when given.
    pub(super) fn objects(&self, key: &str) -> Result<Option<Vec<JsonObject>>, Failure> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Value::Object(map) => Ok(map.clone()),
                    other => Err(not_a(key, "list of objects", other)),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(other) => Err(not_a(key, "list of objects", other)),
        }
    }
}

fn not_a(key: &str, kind: &str, value: &Value) -> Failure {
    Failure::Invalid(format!("Argument {key:?} must be a {kind}, not {value}"))
}

/// A database failure, logged, as the tool's error.
pub(super) fn store(e: StoreError) -> Failure {
    tracing::error!("MCP tool: database error: {e}");
    Failure::Failed(format!("database error: {e}"))
}

/// FastMCP's result for an object: the JSON as text, and the object as structured content.
pub(super) fn object_result(value: Value) -> CallToolResult {
    let mut result = CallToolResult::success(vec![ContentBlock::text(value.to_string())]);
    result.structured_content = Some(value);
    result
}

/// FastMCP's result for a value that is not an object: as text (a string as it is), and as
/// structured content under `result`, marked so in `_meta`.
pub(super) fn wrapped_result(value: Value) -> CallToolResult {
    let text = match &value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
    result.structured_content = Some(json!({ "result": value }));
    let mut meta = MetaObject::new();
    meta.insert("fastmcp".to_owned(), json!({"wrap_result": true}));
    result.meta = Some(meta);
    result
}
