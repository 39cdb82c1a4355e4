//! [`tool_fn`]: a tool made of a plain async closure, of its arguments and, when it wants it,
//! of the call's [`ToolContext`].

use super::{Tool, ToolContext, ToolError};
use crate::context::RunContext;
use async_trait::async_trait;
use futures::future::BoxFuture;
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

/// Arguments of a tool that takes none.
#[derive(Debug, Clone, Copy, Default, serde::Deserialize, JsonSchema)]
pub struct NoArgs {}

/// An async closure that can be a tool: `|args: A| async {..}` or
/// `|ctx: ToolContext, args: A| async {..}`. `Marker` tells the two apart; it is inferred.
pub trait ToolFn<A, Marker>: Send + Sync + 'static {
    /// The tool's result.
    type Output: Serialize + Send + 'static;
    /// Runs the closure.
    fn call(
        &self,
        ctx: &ToolContext,
        args: A,
    ) -> BoxFuture<'static, Result<Self::Output, ToolError>>;
}

/// The marker of a closure of its arguments only.
#[doc(hidden)]
pub struct ArgsOnly;

/// The marker of a closure of the context and its arguments.
#[doc(hidden)]
pub struct WithContext;

impl<A, F, Fut, R, E> ToolFn<A, ArgsOnly> for F
where
    A: Send + 'static,
    F: Fn(A) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, E>> + Send + 'static,
    R: Serialize + Send + 'static,
    E: fmt::Display + 'static,
{
    type Output = R;
    fn call(&self, _ctx: &ToolContext, args: A) -> BoxFuture<'static, Result<R, ToolError>> {
        let fut = self(args);
        Box::pin(async move { fut.await.map_err(|e| ToolError::new(e.to_string())) })
    }
}

impl<A, F, Fut, R, E> ToolFn<A, WithContext> for F
where
    A: Send + 'static,
    F: Fn(ToolContext, A) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, E>> + Send + 'static,
    R: Serialize + Send + 'static,
    E: fmt::Display + 'static,
{
    type Output = R;
    fn call(&self, ctx: &ToolContext, args: A) -> BoxFuture<'static, Result<R, ToolError>> {
        let fut = self(ctx.clone(), args);
        Box::pin(async move { fut.await.map_err(|e| ToolError::new(e.to_string())) })
    }
}

/// A tool made of an async closure; see [`tool_fn`].
pub struct FnTool<A, M, F> {
    name: String,
    description: String,
    f: F,
    _args: PhantomData<fn(A, M)>,
}

impl<A, M, F> fmt::Debug for FnTool<A, M, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnTool")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Wraps an async closure as a tool. Its argument type gives the schema; its error may be
/// anything that displays. A closure that takes a [`ToolContext`] first gets the run's context
/// (session state, user, dependencies), which is not part of the schema the model sees.
///
/// ```
/// use agentos::{Agent, ScriptedModel, ToolContext, tool_fn};
/// use schemars::JsonSchema;
/// use serde::Deserialize;
///
/// #[derive(Deserialize, JsonSchema)]
/// struct City {
///     /// The city's name.
///     city: String,
/// }
///
/// let agent = Agent::new("Weather")
///     .model(ScriptedModel::new())
///     .tool(tool_fn(
///         "get_weather",
///         "Get the current weather for a city.",
///         |args: City| async move { Ok::<_, String>(format!("Sunny in {}", args.city)) },
///     ))
///     .tool(tool_fn(
///         "remember_city",
///         "Remember the user's city.",
///         |ctx: ToolContext, args: City| async move {
///             ctx.session_state.set("city", args.city.clone());
///             Ok::<_, String>(format!("I'll remember {}", args.city))
///         },
///     ));
/// ```
pub fn tool_fn<A, M, F>(
    name: impl Into<String>,
    description: impl Into<String>,
    f: F,
) -> FnTool<A, M, F>
where
    A: DeserializeOwned + JsonSchema + Send + 'static,
    F: ToolFn<A, M>,
    M: 'static,
{
    FnTool {
        name: name.into(),
        description: description.into(),
        f,
        _args: PhantomData,
    }
}

#[async_trait]
impl<A, M, F> Tool for FnTool<A, M, F>
where
    A: DeserializeOwned + JsonSchema + Send + 'static,
    F: ToolFn<A, M>,
    M: 'static,
{
    type Args = A;
    type Output = F::Output;
    fn name(&self) -> &str {
        &self.name
    }
    fn description(&self) -> &str {
        &self.description
    }
    /// Outside a run (a direct call, in a test): the closure gets an empty context.
    async fn call(&self, args: A) -> Result<F::Output, ToolError> {
        let ctx = ToolContext::new(Arc::new(RunContext::new("", "")), "");
        self.f.call(&ctx, args).await
    }
    async fn call_with_context(&self, ctx: &ToolContext, args: A) -> Result<F::Output, ToolError> {
        self.f.call(ctx, args).await
    }
}
