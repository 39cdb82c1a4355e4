//! Agent hooks: async functions of a [`HookContext`], run before the model call (pre-hooks,
//! which may reject the input) or after the answer (post-hooks), inline or in the background.

use crate::context::SessionState;
use crate::run::{RunInput, RunOutput};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;
use std::future::Future;
use std::sync::Arc;

/// The agent a hook runs for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentInfo {
    /// The agent's id.
    pub id: String,
    /// The agent's name.
    pub name: String,
}

/// The durable job behind a background hook: its id and which attempt this is (from 1), so a
/// hook can make itself idempotent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobInfo {
    /// The `jobs` row id.
    pub id: String,
    /// 1 for the first attempt.
    pub attempt: u32,
}

/// Everything a hook may look at (agno injects the same by parameter name): the run's facts
/// from its [`RunContext`](crate::RunContext) and the agent's input and output.
///
/// A hook that runs inline gets the run's live `session_state`: what it sets is stored with
/// the session. A background hook runs after the run is stored, possibly in another process:
/// its context is stored with its job, and its `session_state` is a copy of the state the run
/// ended with (changing it changes nothing stored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HookContext {
    /// The agent.
    pub agent: AgentInfo,
    /// The agent run's id.
    pub run_id: String,
    /// The workflow, when the agent runs as a workflow step.
    pub workflow_id: Option<String>,
    /// The workflow run, when the agent runs as a workflow step.
    pub workflow_run_id: Option<String>,
    /// The session.
    pub session_id: String,
    /// The user, when the request named one.
    pub user_id: Option<String>,
    /// What the agent was asked.
    pub run_input: RunInput,
    /// The agent's answer (post-hooks only).
    pub run_output: Option<RunOutput>,
    /// The request's extra form fields (`true`/`false` become booleans, `null`/`none` null).
    pub extra: Map<String, Value>,
    /// The request's `metadata` form field (a JSON object).
    pub metadata: Option<Map<String, Value>>,
    /// The run's session state: live inline, a copy of the final state in the background.
    #[serde(default, skip_serializing_if = "SessionState::is_empty")]
    pub session_state: SessionState,
    /// The request's `dependencies` form field (a JSON object).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub dependencies: Map<String, Value>,
    /// Set when the hook runs as a background job.
    pub job: Option<JobInfo>,
}

impl HookContext {
    /// The agent's answer; `None` in a pre-hook.
    pub fn run_output(&self) -> Option<&RunOutput> {
        self.run_output.as_ref()
    }
}

/// Why a hook failed. Any `std::error::Error` converts into it with `?`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookError {
    /// A pre-hook rejects the input (agno's `InputCheckError`): the run ends with an error.
    InputCheck {
        /// Shown to the client.
        message: String,
        /// agno's `CheckTrigger` value, e.g. `input_not_allowed`.
        check_trigger: String,
    },
    /// A post-hook rejects the output (agno's `OutputCheckError`): the run ends with an error.
    OutputCheck {
        /// Shown to the client.
        message: String,
        /// agno's `CheckTrigger` value, e.g. `output_not_allowed`.
        check_trigger: String,
    },
    /// Any other failure: logged and recorded, the run goes on.
    Failed(String),
}

impl HookError {
    /// Rejects the input with agno's `input_not_allowed` trigger.
    pub fn input_check(message: impl Into<String>) -> HookError {
        HookError::InputCheck {
            message: message.into(),
            check_trigger: "input_not_allowed".to_owned(),
        }
    }

    /// Rejects the output with agno's `output_not_allowed` trigger.
    pub fn output_check(message: impl Into<String>) -> HookError {
        HookError::OutputCheck {
            message: message.into(),
            check_trigger: "output_not_allowed".to_owned(),
        }
    }

    /// A plain failure with this message.
    pub fn msg(message: impl fmt::Display) -> HookError {
        HookError::Failed(message.to_string())
    }
}

impl fmt::Display for HookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HookError::InputCheck { message, .. }
            | HookError::OutputCheck { message, .. }
            | HookError::Failed(message) => f.write_str(message),
        }
    }
}

impl<E: std::error::Error> From<E> for HookError {
    fn from(e: E) -> HookError {
        HookError::Failed(e.to_string())
    }
}

type HookFn = dyn Fn(HookContext) -> BoxFuture<'static, Result<(), HookError>> + Send + Sync;

/// A named hook. Plain async functions convert into one ([`IntoHook`]), named after the
/// function; [`Hook::new`] names a closure.
#[derive(Clone)]
pub struct Hook {
    name: String,
    func: Arc<HookFn>,
    background: Option<bool>,
    guardrail: bool,
    max_attempts: Option<u32>,
}

impl fmt::Debug for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hook")
            .field("name", &self.name)
            .field("background", &self.background)
            .field("guardrail", &self.guardrail)
            .finish()
    }
}

impl Hook {
    /// A hook called `name` running `f`. The name finds the hook again for a durable job, so it
    /// must be unique within an AgentOs.
    pub fn new<F, Fut>(name: impl Into<String>, f: F) -> Hook
    where
        F: Fn(HookContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), HookError>> + Send + 'static,
    {
        Hook {
            name: name.into(),
            func: Arc::new(move |ctx| Box::pin(f(ctx))),
            background: None,
            guardrail: false,
            max_attempts: None,
        }
    }

    /// As a background job, tries this hook up to `n` times in all (default: the AgentOs-wide
    /// `hook_retries` setting, 3).
    pub fn max_attempts(mut self, n: u32) -> Hook {
        self.max_attempts = Some(n.max(1));
        self
    }

    /// This hook's own attempt limit, if it has one.
    pub(crate) fn attempt_limit(&self) -> Option<u32> {
        self.max_attempts
    }

    /// Runs this hook in the background, after the response (agno's
    /// `@hook(run_in_background=True)`), whatever the AgentOs-wide setting.
    pub fn background(mut self) -> Hook {
        self.background = Some(true);
        self
    }

    /// Always runs this hook inline, even under `run_hooks_in_background(true)`.
    pub fn inline(mut self) -> Hook {
        self.background = Some(false);
        self
    }

    /// Marks a guardrail: it always runs inline, so its `InputCheck`/`OutputCheck` can stop the run.
    pub fn guardrail(mut self) -> Hook {
        self.guardrail = true;
        self.background = Some(false);
        self
    }

    /// The hook's registered name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the hook is deferred, given the AgentOs-wide `run_hooks_in_background` flag.
    pub(crate) fn deferred(&self, all_in_background: bool) -> bool {
        match self.background {
            Some(explicit) => explicit,
            None => all_in_background && !self.guardrail,
        }
    }

    pub(crate) fn call(&self, ctx: HookContext) -> BoxFuture<'static, Result<(), HookError>> {
        (self.func)(ctx)
    }
}

/// Anything that can be an agent hook: a [`Hook`] or an async function of [`HookContext`].
pub trait IntoHook {
    /// Converts into a [`Hook`].
    fn into_hook(self) -> Hook;
}

impl IntoHook for Hook {
    fn into_hook(self) -> Hook {
        self
    }
}

impl<F, Fut> IntoHook for F
where
    F: Fn(HookContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HookError>> + Send + 'static,
{
    fn into_hook(self) -> Hook {
        // `type_name` of a fn item is its path: `my_crate::log_step_completion`.
        let path = std::any::type_name::<F>();
        let name = path.rsplit("::").next().unwrap_or(path);
        Hook::new(name, self)
    }
}

/// Runs a hook to completion, catching a panic: `Err` holds the panic's message.
pub(crate) async fn call_catching(
    hook: &Hook,
    ctx: HookContext,
) -> Result<Result<(), HookError>, String> {
    use futures::FutureExt;
    std::panic::AssertUnwindSafe(hook.call(ctx))
        .catch_unwind()
        .await
        .map_err(|panic| panic_message(&panic))
}

/// Runs a hook to completion, turning a panic into a `Failed` error.
pub(crate) async fn call_contained(hook: &Hook, ctx: HookContext) -> Result<(), HookError> {
    call_catching(hook, ctx)
        .await
        .unwrap_or_else(|panic| Err(HookError::Failed(format!("panicked: {panic}"))))
}

/// The text of a panic payload.
pub(crate) fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_owned()
    }
}

/// Reports a hook (or another background job) that failed: through `tracing` when the
/// application has set a subscriber, else as one line on stderr, so a failure is never silent
/// in a program that configured no logging. `context` says what failed, `name` names it.
pub(crate) fn report_failure(name: &str, context: &str, error: &str) {
    if tracing::dispatcher::has_been_set() {
        tracing::warn!(name = %name, error = %error, "{context}");
    } else {
        eprintln!("[agentos] {context} {name:?}: {error}");
    }
}
