//! Tools an agent can call: [`Tool`], typed (its arguments are a Rust type whose JSON schema
//! `schemars` derives), and [`tool_fn`], which wraps a plain async closure.
//!
//! A tool never ends a run: arguments that do not parse, an error, a panic or a timeout become
//! an error message given back to the model, which can try again or answer without it.

use crate::model::{ToolCall, ToolDefinition};
use crate::run::{ToolCallMetrics, ToolExecution, unix_seconds};
use async_trait::async_trait;
use futures::FutureExt;
use futures::future::BoxFuture;
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Why a tool call failed. The message goes back to the model.
///
/// `?` converts any `std::error::Error`; [`ToolError::new`] takes a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolError(String);

impl ToolError {
    /// A failure with this message.
    pub fn new(message: impl Into<String>) -> ToolError {
        ToolError(message.into())
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<E: std::error::Error> From<E> for ToolError {
    fn from(e: E) -> ToolError {
        ToolError(e.to_string())
    }
}

/// A typed tool: a name, a description and an async body taking [`Tool::Args`], whose JSON
/// schema (from `#[derive(JsonSchema)]`) tells the model how to call it.
///
/// ```
/// use agentos::{Tool, ToolError};
/// use schemars::JsonSchema;
/// use serde::Deserialize;
///
/// /// The arguments; doc comments become the schema's descriptions.
/// #[derive(Deserialize, JsonSchema)]
/// struct AddArgs {
///     /// The first number.
///     a: i64,
///     /// The second number.
///     b: i64,
/// }
///
/// struct Add;
///
/// #[async_trait::async_trait]
/// impl Tool for Add {
///     type Args = AddArgs;
///     type Output = i64;
///     fn name(&self) -> &str {
///         "add"
///     }
///     fn description(&self) -> &str {
///         "Add two numbers."
///     }
///     async fn call(&self, args: AddArgs) -> Result<i64, ToolError> {
///         args.a.checked_add(args.b).ok_or_else(|| ToolError::new("overflow"))
///     }
/// }
/// ```
#[async_trait]
pub trait Tool: Send + Sync + 'static {
    /// The arguments, deserialized from the model's JSON.
    type Args: DeserializeOwned + JsonSchema + Send + 'static;
    /// The result; a string goes to the model as it is, anything else as compact JSON.
    type Output: Serialize + Send + 'static;
    /// The name the model calls it by (letters, digits, `_` and `-`).
    fn name(&self) -> &str;
    /// What it does, for the model.
    fn description(&self) -> &str;
    /// Runs it.
    async fn call(&self, args: Self::Args) -> Result<Self::Output, ToolError>;
}

/// Arguments of a tool that takes none.
#[derive(Debug, Clone, Copy, Default, serde::Deserialize, JsonSchema)]
pub struct NoArgs {}

/// A tool made of an async closure; see [`tool_fn`].
pub struct FnTool<A, F> {
    name: String,
    description: String,
    f: F,
    _args: PhantomData<fn(A)>,
}

impl<A, F> fmt::Debug for FnTool<A, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnTool")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Wraps an async closure as a tool. Its argument type gives the schema; its error may be
/// anything that displays.
///
/// ```
/// use agentos::{Agent, ScriptedModel, tool_fn};
/// use schemars::JsonSchema;
/// use serde::Deserialize;
///
/// #[derive(Deserialize, JsonSchema)]
/// struct City {
///     /// The city's name.
///     city: String,
/// }
///
/// let agent = Agent::new("Weather").model(ScriptedModel::new()).tool(tool_fn(
///     "get_weather",
///     "Get the current weather for a city.",
///     |args: City| async move { Ok::<_, String>(format!("Sunny in {}", args.city)) },
/// ));
/// ```
pub fn tool_fn<A, F, Fut, R, E>(
    name: impl Into<String>,
    description: impl Into<String>,
    f: F,
) -> FnTool<A, F>
where
    A: DeserializeOwned + JsonSchema + Send + 'static,
    F: Fn(A) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, E>> + Send + 'static,
    R: Serialize + Send + 'static,
    E: fmt::Display + 'static,
{
    FnTool {
        name: name.into(),
        description: description.into(),
        f,
        _args: PhantomData,
    }
}

#[async_trait]
impl<A, F, Fut, R, E> Tool for FnTool<A, F>
where
    A: DeserializeOwned + JsonSchema + Send + 'static,
    F: Fn(A) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, E>> + Send + 'static,
    R: Serialize + Send + 'static,
    E: fmt::Display + 'static,
{
    type Args = A;
    type Output = R;
    fn name(&self) -> &str {
        &self.name
    }
    fn description(&self) -> &str {
        &self.description
    }
    async fn call(&self, args: A) -> Result<R, ToolError> {
        (self.f)(args)
            .await
            .map_err(|e| ToolError::new(e.to_string()))
    }
}

/// A tool with its type erased, as an agent holds it.
trait ErasedTool: Send + Sync {
    fn call_json(&self, args: Value) -> BoxFuture<'_, Result<String, ToolError>>;
}

impl<T: Tool> ErasedTool for T {
    fn call_json(&self, args: Value) -> BoxFuture<'_, Result<String, ToolError>> {
        Box::pin(async move {
            let args: T::Args = serde_json::from_value(args)
                .map_err(|e| ToolError::new(format!("invalid arguments: {e}")))?;
            let output = self.call(args).await?;
            match serde_json::to_value(output) {
                Ok(Value::String(s)) => Ok(s),
                Ok(other) => Ok(other.to_string()),
                Err(e) => Err(ToolError::new(format!(
                    "could not serialize the result: {e}"
                ))),
            }
        })
    }
}

/// Turns a value into an agent's tool; implemented for every [`Tool`].
pub trait IntoTool {
    /// The tool, ready for an agent.
    fn into_tool(self) -> AgentTool;
}

impl<T: Tool> IntoTool for T {
    fn into_tool(self) -> AgentTool {
        let definition = ToolDefinition {
            name: self.name().to_owned(),
            description: self.description().to_owned(),
            parameters: parameters_schema::<T::Args>(),
        };
        AgentTool {
            definition,
            inner: Arc::new(self),
        }
    }
}

impl IntoTool for AgentTool {
    fn into_tool(self) -> AgentTool {
        self
    }
}

/// A tool as an agent holds it: its definition and its body.
#[derive(Clone)]
pub struct AgentTool {
    definition: ToolDefinition,
    inner: Arc<dyn ErasedTool>,
}

impl fmt::Debug for AgentTool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentTool")
            .field("name", &self.definition.name)
            .finish_non_exhaustive()
    }
}

impl AgentTool {
    /// What the model is told about it.
    pub fn definition(&self) -> &ToolDefinition {
        &self.definition
    }
}

/// The JSON schema of a tool's arguments: schemars' schema without the keys OpenAI does not
/// want at the top (`$schema`, `title`), always an object.
fn parameters_schema<A: JsonSchema>() -> Value {
    let mut schema = schemars::schema_for!(A).to_value();
    if let Value::Object(map) = &mut schema {
        map.remove("$schema");
        map.remove("title");
        map.entry("type").or_insert_with(|| Value::from("object"));
        map.entry("properties")
            .or_insert_with(|| Value::Object(Map::new()));
    }
    schema
}

/// The outcome of one tool call: its record and the text given back to the model.
pub(crate) struct ToolOutcome {
    pub execution: ToolExecution,
    /// The error, when the call failed.
    pub error: Option<String>,
}

/// The record of a call that has not run yet (the `ToolCallStarted` payload), with the
/// arguments parsed, or the parse error.
pub(crate) fn start(call: &ToolCall) -> (ToolExecution, Result<Value, String>) {
    let args = if call.arguments.trim().is_empty() {
        Ok(Value::Object(Map::new()))
    } else {
        serde_json::from_str::<Value>(&call.arguments)
            .map_err(|e| format!("the arguments are not valid JSON ({e}); send a JSON object"))
    };
    let execution = ToolExecution {
        tool_call_id: call.id.clone(),
        tool_name: call.name.clone(),
        tool_args: args.as_ref().ok().cloned(),
        tool_call_error: None,
        result: None,
        metrics: None,
        child_run_id: None,
        stop_after_tool_call: false,
        created_at: unix_seconds(),
    };
    (execution, args)
}

/// Runs one call to the end: never fails, never panics, never takes longer than `limit`.
pub(crate) async fn execute(
    tools: &[AgentTool],
    mut execution: ToolExecution,
    args: Result<Value, String>,
    limit: Duration,
) -> ToolOutcome {
    let start_time = unix_seconds_f64();
    let started = Instant::now();
    let result = match (
        args,
        tools
            .iter()
            .find(|t| t.definition.name == execution.tool_name),
    ) {
        (_, None) => Err(format!("tool {} not found", execution.tool_name)),
        (Err(e), Some(_)) => Err(e),
        (Ok(args), Some(tool)) => {
            let call = std::panic::AssertUnwindSafe(tool.inner.call_json(args)).catch_unwind();
            match tokio::time::timeout(limit, call).await {
                Err(_) => Err(format!("the tool timed out after {limit:?}")),
                Ok(Err(panic)) => Err(format!(
                    "the tool panicked: {}",
                    crate::hooks::panic_message(&panic)
                )),
                Ok(Ok(Err(e))) => Err(e.to_string()),
                Ok(Ok(Ok(text))) => Ok(text),
            }
        }
    };
    execution.metrics = Some(ToolCallMetrics {
        start_time: Some(start_time),
        end_time: Some(unix_seconds_f64()),
        duration: Some(started.elapsed().as_secs_f64()),
    });
    execution.tool_call_error = Some(result.is_err());
    let error = result.as_ref().err().cloned();
    execution.result = Some(result.unwrap_or_else(|e| e));
    ToolOutcome { execution, error }
}

/// agno's `ToolCallCompleted` content: `name(a=1, b=x) completed in 0.0012s. `
pub(crate) fn summary(execution: &ToolExecution) -> String {
    let args = match &execution.tool_args {
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(", "),
        _ => String::new(),
    };
    let secs = execution
        .metrics
        .as_ref()
        .and_then(|m| m.duration)
        .unwrap_or(0.0);
    format!("{}({args}) completed in {secs:.4}s. ", execution.tool_name)
}

fn unix_seconds_f64() -> f64 {
    chrono::Utc::now().timestamp_micros() as f64 / 1e6
}
