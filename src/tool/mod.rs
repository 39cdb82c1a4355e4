//! Tools an agent can call: [`Tool`], typed (its arguments are a Rust type whose JSON schema
//! `schemars` derives), and [`tool_fn`], which wraps a plain async closure. Either may read the
//! run's [`ToolContext`] (session state, user, dependencies, ...), which the model never sees.
//!
//! A [`Toolkit`] is a set of tools whose list can change while the OS runs (an MCP server's).
//!
//! A tool never ends a run: arguments that do not parse, an error, a panic or a timeout become
//! an error message given back to the model, which can try again or answer without it.

mod call;
mod func;
mod toolkit;

pub(crate) use call::{ToolOutcome, execute, start, started_now, summary};
pub use func::{FnTool, NoArgs, ToolFn, tool_fn};
pub use toolkit::{JsonTool, Toolkit};

use crate::context::RunContext;
use crate::model::ToolDefinition;
use async_trait::async_trait;
use futures::future::BoxFuture;
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// What a tool call knows besides its arguments: the run's [`RunContext`] (it derefs to it)
/// and which call this is. The model does not see it and cannot set it.
#[derive(Debug, Clone)]
pub struct ToolContext {
    run: Arc<RunContext>,
    tool_call_id: String,
}

impl ToolContext {
    /// The context of the call `tool_call_id` in the run `run`.
    pub fn new(run: Arc<RunContext>, tool_call_id: impl Into<String>) -> ToolContext {
        ToolContext {
            run,
            tool_call_id: tool_call_id.into(),
        }
    }

    /// The run's context, shared.
    pub fn run(&self) -> &Arc<RunContext> {
        &self.run
    }

    /// The model's id for this call (`call_...`).
    pub fn tool_call_id(&self) -> &str {
        &self.tool_call_id
    }
}

impl Deref for ToolContext {
    type Target = RunContext;

    fn deref(&self) -> &RunContext {
        &self.run
    }
}

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
    /// Runs it with the run's context (session state, user, dependencies, ...). By default it
    /// calls [`Tool::call`]; a tool that needs the context overrides this one.
    async fn call_with_context(
        &self,
        ctx: &ToolContext,
        args: Self::Args,
    ) -> Result<Self::Output, ToolError> {
        let _ = ctx;
        self.call(args).await
    }
}

/// A tool with its type erased, as an agent holds it.
trait ErasedTool: Send + Sync {
    fn call_json(&self, args: Value, ctx: ToolContext) -> BoxFuture<'_, Result<String, ToolError>>;
}

impl<T: Tool> ErasedTool for T {
    fn call_json(&self, args: Value, ctx: ToolContext) -> BoxFuture<'_, Result<String, ToolError>> {
        Box::pin(async move {
            let args: T::Args = serde_json::from_value(args)
                .map_err(|e| ToolError::new(format!("invalid arguments: {e}")))?;
            let output = self.call_with_context(&ctx, args).await?;
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
