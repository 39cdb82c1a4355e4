//! [`Step`]: one node of a workflow (an agent, an async function, or a construct), the
//! [`StepInput`] it receives and the run's shared [`SessionState`].

use super::constructs::{Condition, Loop, Parallel, Router, Steps};
use crate::agent::Agent;
use crate::run::StepOutput;
use futures::future::BoxFuture;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

/// The error a function step returns: anything that converts into a boxed error
/// (`Err("text".into())`, or `?` on most error types).
pub type StepError = Box<dyn std::error::Error + Send + Sync>;

/// A function step's body, shared.
pub(crate) type StepFn =
    Arc<dyn Fn(StepInput) -> BoxFuture<'static, Result<StepOutput, StepError>> + Send + Sync>;

/// What a step does when it fails (agno's `on_error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// Record the step as skipped (`content: "Step skipped due to error: ..."`,
    /// `success: false`) and go on with the next step.
    Skip,
    /// End the run with status `ERROR` and the error text.
    Fail,
}

/// What a step runs.
#[derive(Clone)]
#[non_exhaustive]
pub enum StepKind {
    /// An agent, given the previous step's content (or the run's message) as input.
    Agent(Agent),
    /// An async Rust function of [`StepInput`] returning a [`StepOutput`].
    Function(StepFn),
    /// A named sequential group.
    Steps(Steps),
    /// Children run concurrently.
    Parallel(Parallel),
    /// `steps` or `else_steps`, depending on an evaluator.
    Condition(Condition),
    /// Children repeated until an end condition or `max_iterations`.
    Loop(Loop),
    /// The choices a selector picks.
    Router(Router),
}

impl std::fmt::Debug for StepKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StepKind::Agent(a) => f.debug_tuple("Agent").field(a).finish(),
            StepKind::Function(_) => f.write_str("Function"),
            StepKind::Steps(s) => s.fmt(f),
            StepKind::Parallel(p) => p.fmt(f),
            StepKind::Condition(c) => c.fmt(f),
            StepKind::Loop(l) => l.fmt(f),
            StepKind::Router(r) => r.fmt(f),
        }
    }
}

impl StepKind {
    /// agno's `step_type` for this kind.
    pub fn type_name(&self) -> &'static str {
        match self {
            StepKind::Agent(_) | StepKind::Function(_) => "Step",
            StepKind::Steps(_) => "Steps",
            StepKind::Parallel(_) => "Parallel",
            StepKind::Condition(_) => "Condition",
            StepKind::Loop(_) => "Loop",
            StepKind::Router(_) => "Router",
        }
    }
}

/// agno's default number of extra attempts for a failing function step.
const DEFAULT_MAX_RETRIES: u32 = 3;

/// One step of a workflow.
///
/// ```
/// use agentos::{OnError, Step, StepInput, StepOutput};
/// let count = Step::function("count_words", |input: StepInput| async move {
///     let text = input.previous_step_content.unwrap_or(input.input);
///     Ok(StepOutput::new(text.split_whitespace().count().to_string()))
/// })
/// .max_retries(0)
/// .on_error(OnError::Fail);
/// assert_eq!(count.name(), "count_words");
/// ```
#[derive(Debug, Clone)]
pub struct Step {
    pub(crate) name: String,
    pub(crate) id: String,
    pub(crate) description: Option<String>,
    pub(crate) kind: StepKind,
    pub(crate) max_retries: u32,
    pub(crate) on_error: Option<OnError>,
}

impl Step {
    pub(crate) fn with_kind(name: impl Into<String>, kind: StepKind) -> Step {
        Step {
            name: name.into(),
            id: uuid::Uuid::new_v4().to_string(),
            description: None,
            kind,
            max_retries: DEFAULT_MAX_RETRIES,
            on_error: None,
        }
    }

    /// A step called `name` running `agent`.
    pub fn agent(name: impl Into<String>, agent: Agent) -> Step {
        Step::with_kind(name, StepKind::Agent(agent))
    }

    /// A step called `name` running an async function of the [`StepInput`]. An `Err` (or a
    /// panic) is retried up to [`Step::max_retries`] times, then handled by
    /// [`Step::on_error`].
    pub fn function<F, Fut>(name: impl Into<String>, f: F) -> Step
    where
        F: Fn(StepInput) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<StepOutput, StepError>> + Send + 'static,
    {
        let f: StepFn = Arc::new(move |input| Box::pin(f(input)));
        Step::with_kind(name, StepKind::Function(f)).description("User-defined callable step")
    }

    /// A description, shown by `GET /workflows/{id}`.
    pub fn description(mut self, description: impl Into<String>) -> Step {
        self.description = Some(description.into());
        self
    }

    /// Extra attempts after a function step fails (default 3, as agno). Agent steps rely on
    /// their model's retry policy instead.
    pub fn max_retries(mut self, n: u32) -> Step {
        self.max_retries = n;
        self
    }

    /// What a failure of this step does. Unset: a function step's error skips the step (agno's
    /// default) and an agent step's failure ends the run `ERROR`. Set, it applies to both
    /// (an input rejected by a guardrail always ends the run).
    pub fn on_error(mut self, on_error: OnError) -> Step {
        self.on_error = Some(on_error);
        self
    }

    /// The step's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The step's id (stable for the life of the process).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The description, if any.
    pub fn get_description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// What the step runs.
    pub fn kind(&self) -> &StepKind {
        &self.kind
    }

    /// Every agent in this step and its children.
    pub(crate) fn collect_agents<'a>(&'a self, out: &mut Vec<&'a Agent>) {
        match &self.kind {
            StepKind::Agent(a) => out.push(a),
            StepKind::Function(_) => {}
            kind => {
                for child in super::constructs::children(kind) {
                    child.collect_agents(out);
                }
            }
        }
    }
}

/// An agent in a step list becomes a step named after the agent (agno's rule).
impl From<Agent> for Step {
    fn from(agent: Agent) -> Step {
        Step::agent(agent.name().to_owned(), agent)
    }
}

/// The run's `session_state`: one JSON object shared by every step of a run (and by the
/// branches of a `Parallel`), loaded from the session and stored with it when the run ends.
/// Cloning gives another handle to the same map.
#[derive(Debug, Clone, Default)]
pub struct SessionState(Arc<Mutex<Map<String, Value>>>);

impl SessionState {
    /// A state holding `map`.
    pub fn new(map: Map<String, Value>) -> SessionState {
        SessionState(Arc::new(Mutex::new(map)))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Map<String, Value>> {
        // A poisoned lock only means a step panicked while holding it; the map is still a
        // valid JSON object.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The value at `key`, if any.
    pub fn get(&self, key: &str) -> Option<Value> {
        self.lock().get(key).cloned()
    }

    /// Sets `key` to `value`.
    pub fn set(&self, key: impl Into<String>, value: impl Into<Value>) {
        self.lock().insert(key.into(), value.into());
    }

    /// Removes `key`, returning its value.
    pub fn remove(&self, key: &str) -> Option<Value> {
        self.lock().remove(key)
    }

    /// Runs `f` on the map, atomically with respect to other steps.
    pub fn update<R>(&self, f: impl FnOnce(&mut Map<String, Value>) -> R) -> R {
        f(&mut self.lock())
    }

    /// A copy of the whole map.
    pub fn snapshot(&self) -> Map<String, Value> {
        self.lock().clone()
    }
}

/// What a step receives (agno's `StepInput`).
#[derive(Debug, Clone, Default)]
pub struct StepInput {
    /// The run's message (every step gets it).
    pub input: String,
    /// The content of the previous step in the same sequence (`None` for the first step). A
    /// step that failed (`success: false` with an `error`), and a Condition or Router that ran
    /// nothing, are never the previous step.
    pub previous_step_content: Option<String>,
    /// The outputs of the steps before this one in the same sequence (and, inside a
    /// construct, the steps before the construct), by step name.
    pub previous_step_outputs: BTreeMap<String, StepOutput>,
    /// The `additional_data` form field (a JSON object), empty when not given.
    pub additional_data: Map<String, Value>,
    /// The run's shared session state.
    pub session_state: SessionState,
    /// What the next agent step is asked, from the last output that counts as input (see
    /// `previous_step_content`); `None`: the run's message.
    pub(crate) agent_input: Option<String>,
}

impl StepInput {
    /// The output of the step called `name`, searching inside constructs too.
    pub fn get_step_output(&self, name: &str) -> Option<&StepOutput> {
        fn find<'a>(out: &'a StepOutput, name: &str) -> Option<&'a StepOutput> {
            if out.step_name == name {
                return Some(out);
            }
            out.steps.iter().flatten().find_map(|s| find(s, name))
        }
        self.previous_step_outputs.get(name).or_else(|| {
            self.previous_step_outputs
                .values()
                .find_map(|o| find(o, name))
        })
    }

    /// The content of the step called `name` (searching inside constructs too).
    pub fn get_step_content(&self, name: &str) -> Option<&str> {
        self.get_step_output(name)
            .and_then(|o| o.content.as_deref())
    }

    /// Records a finished step: it becomes the previous step of the next one, unless it failed.
    pub(crate) fn advance(&mut self, out: &StepOutput) {
        self.previous_step_outputs
            .insert(out.step_name.clone(), out.clone());
        let failed = !out.success && out.error.is_some();
        let ran_nothing = out.step_type != "Step" && out.steps.as_ref().is_none_or(Vec::is_empty);
        if !failed && !ran_nothing {
            self.previous_step_content = out.content.clone();
            self.agent_input = deepest_for_agent(out).filter(|c| !c.is_empty());
        }
    }

    /// What an agent step is asked (wire spec §4.3): the deepest content of the previous
    /// step (every branch of a Parallel, as `=== name ===` sections), else the run's message.
    pub(crate) fn agent_message(&self) -> String {
        self.agent_input
            .clone()
            .unwrap_or_else(|| self.input.clone())
    }
}

fn deepest_for_agent(out: &StepOutput) -> Option<String> {
    match out.steps.as_deref() {
        Some(children) if !children.is_empty() => {
            if out.step_type == "Parallel" {
                let parts: Vec<String> = children
                    .iter()
                    .filter_map(|c| {
                        deepest_for_agent(c)
                            .filter(|s| !s.trim().is_empty())
                            .map(|s| format!("=== {} ===\n{s}", c.step_name))
                    })
                    .collect();
                if parts.is_empty() {
                    out.content.clone()
                } else {
                    Some(parts.join("\n\n"))
                }
            } else {
                children.last().and_then(deepest_for_agent)
            }
        }
        _ => out.content.clone(),
    }
}
