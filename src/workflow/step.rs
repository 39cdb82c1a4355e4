//! [`Step`]: one node of a workflow: an agent, an async function, or one of the constructs
//! that group steps ([`Steps`], [`Parallel`], [`Condition`], [`Loop`] and [`Router`]), each of
//! which converts into a [`Step`], so they nest.
//!
//! ```
//! use agentos::{Agent, Condition, Loop, OnError, Parallel, Router, ScriptedModel, Step, StepInput, StepOutput, Steps, Workflow};
//!
//! let agent = |name: &str| Agent::new(name).model(ScriptedModel::new());
//! let keywords = Step::function("keywords", |input: StepInput| async move {
//!     // input.input, input.previous_step_content, input.previous_step_outputs,
//!     // input.additional_data, input.session_state (shared by the run, stored with the session)
//!     Ok(StepOutput::new(input.input.to_lowercase()))
//! })
//! .max_retries(1)              // extra attempts after an Err (default 3)
//! .on_error(OnError::Skip);    // or OnError::Fail: the run ends ERROR
//! let wf = Workflow::new("research").steps([
//!     Step::from(Parallel::new("gather", [Step::from(agent("Web")), keywords])),
//!     Condition::new("check", |i: &StepInput| i.input.contains("numbers"), [agent("Checker")])
//!         .else_steps([agent("Skimmer")])
//!         .into(),
//!     Loop::new("revise", [agent("Writer"), agent("Reviewer")])
//!         .max_iterations(3)
//!         .end_condition(|outs: &[StepOutput]| outs.iter().any(|o| o.content.as_deref() == Some("OK")))
//!         .into(),
//!     Router::new("desk", |_: &StepInput| vec!["tech".to_owned()], [Steps::new("tech", [agent("Tech")])]).into(),
//! ]);
//! # assert_eq!(wf.get_steps().len(), 4);
//! ```

use super::input::StepInput;
use crate::agent::Agent;
use crate::run::StepOutput;
use crate::team::Team;
use futures::future::BoxFuture;
use std::future::Future;
use std::sync::Arc;

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
    /// A team, given the previous step's content (or the run's message) as input.
    Team(Arc<Team>),
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
            StepKind::Team(t) => f.debug_tuple("Team").field(&t.get_id()).finish(),
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
            StepKind::Agent(_) | StepKind::Team(_) | StepKind::Function(_) => "Step",
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

    /// A step running `team`, named after it (agno's `Step(team=...)`).
    pub fn team(team: Team) -> Step {
        Step::with_kind(team.get_name().to_owned(), StepKind::Team(Arc::new(team)))
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
            StepKind::Team(t) => out.extend(t.agents()),
            StepKind::Function(_) => {}
            kind => {
                for child in children(kind) {
                    child.collect_agents(out);
                }
            }
        }
    }

    /// Every team in this step and its children.
    pub(crate) fn collect_teams<'a>(&'a self, out: &mut Vec<&'a Team>) {
        match &self.kind {
            StepKind::Team(t) => out.push(t),
            kind => {
                for child in children(kind) {
                    child.collect_teams(out);
                }
            }
        }
    }
}

/// A team in a step list becomes a step named after the team.
impl From<Team> for Step {
    fn from(team: Team) -> Step {
        Step::team(team)
    }
}

/// An agent in a step list becomes a step named after the agent (agno's rule).
impl From<Agent> for Step {
    fn from(agent: Agent) -> Step {
        Step::agent(agent.name().to_owned(), agent)
    }
}

type Evaluator = Arc<dyn Fn(&StepInput) -> bool + Send + Sync>;
type EndCondition = Arc<dyn Fn(&[StepOutput]) -> bool + Send + Sync>;
type Selector = Arc<dyn Fn(&StepInput) -> Vec<String> + Send + Sync>;

fn collect<I, S>(steps: I) -> Vec<Step>
where
    I: IntoIterator<Item = S>,
    S: Into<Step>,
{
    steps.into_iter().map(Into::into).collect()
}

/// A named sequential group: each child gets the previous child's content.
///
/// ```
/// use agentos::{Agent, ScriptedModel, Steps, Workflow};
/// let writing = Steps::new("writing", [
///     Agent::new("Writer").model(ScriptedModel::new()),
///     Agent::new("Editor").model(ScriptedModel::new()),
/// ]);
/// let wf = Workflow::new("blog").steps([writing]);
/// assert_eq!(wf.get_steps()[0].name(), "writing");
/// ```
#[derive(Debug, Clone)]
pub struct Steps {
    pub(crate) name: String,
    pub(crate) steps: Vec<Step>,
}

impl Steps {
    /// A group called `name`.
    pub fn new<I, S>(name: impl Into<String>, steps: I) -> Steps
    where
        I: IntoIterator<Item = S>,
        S: Into<Step>,
    {
        Steps {
            name: name.into(),
            steps: collect(steps),
        }
    }
}

impl From<Steps> for Step {
    fn from(s: Steps) -> Step {
        Step::with_kind(s.name.clone(), StepKind::Steps(s))
    }
}

/// Children that run concurrently, all given the same input. Its content is agno's summary
/// (`## Parallel Execution Results` with one `### ✅ SUCCESS: name` section per child); the
/// next agent step gets every child's content as `=== name ===` sections.
#[derive(Debug, Clone)]
pub struct Parallel {
    pub(crate) name: String,
    pub(crate) steps: Vec<Step>,
}

impl Parallel {
    /// A Parallel called `name`.
    pub fn new<I, S>(name: impl Into<String>, steps: I) -> Parallel
    where
        I: IntoIterator<Item = S>,
        S: Into<Step>,
    {
        Parallel {
            name: name.into(),
            steps: collect(steps),
        }
    }
}

impl From<Parallel> for Step {
    fn from(p: Parallel) -> Step {
        Step::with_kind(p.name.clone(), StepKind::Parallel(p))
    }
}

/// Runs `steps` when the evaluator returns true, else `else_steps` (if any).
#[derive(Clone)]
pub struct Condition {
    pub(crate) name: String,
    pub(crate) evaluator: Evaluator,
    pub(crate) steps: Vec<Step>,
    pub(crate) else_steps: Vec<Step>,
}

impl std::fmt::Debug for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Condition")
            .field("name", &self.name)
            .field("steps", &self.steps)
            .field("else_steps", &self.else_steps)
            .finish_non_exhaustive()
    }
}

impl Condition {
    /// A Condition called `name` running `steps` when `evaluator` says so.
    pub fn new<F, I, S>(name: impl Into<String>, evaluator: F, steps: I) -> Condition
    where
        F: Fn(&StepInput) -> bool + Send + Sync + 'static,
        I: IntoIterator<Item = S>,
        S: Into<Step>,
    {
        Condition {
            name: name.into(),
            evaluator: Arc::new(evaluator),
            steps: collect(steps),
            else_steps: Vec::new(),
        }
    }

    /// The steps to run when the evaluator returns false.
    pub fn else_steps<I, S>(mut self, steps: I) -> Condition
    where
        I: IntoIterator<Item = S>,
        S: Into<Step>,
    {
        self.else_steps = collect(steps);
        self
    }
}

impl From<Condition> for Step {
    fn from(c: Condition) -> Step {
        Step::with_kind(c.name.clone(), StepKind::Condition(c))
    }
}

/// Repeats its steps until `end_condition` (given the outputs of the iteration just run)
/// returns true, a step asks to stop, or `max_iterations` (default 3) is reached.
#[derive(Clone)]
pub struct Loop {
    pub(crate) name: String,
    pub(crate) steps: Vec<Step>,
    pub(crate) max_iterations: usize,
    pub(crate) end_condition: Option<EndCondition>,
    pub(crate) forward_iteration_output: bool,
}

impl std::fmt::Debug for Loop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loop")
            .field("name", &self.name)
            .field("steps", &self.steps)
            .field("max_iterations", &self.max_iterations)
            .finish_non_exhaustive()
    }
}

impl Loop {
    /// A Loop called `name` (at most 3 iterations unless told otherwise).
    pub fn new<I, S>(name: impl Into<String>, steps: I) -> Loop
    where
        I: IntoIterator<Item = S>,
        S: Into<Step>,
    {
        Loop {
            name: name.into(),
            steps: collect(steps),
            max_iterations: 3,
            end_condition: None,
            forward_iteration_output: false,
        }
    }

    /// At most this many iterations.
    pub fn max_iterations(mut self, n: usize) -> Loop {
        self.max_iterations = n;
        self
    }

    /// Ends the loop when this returns true for an iteration's outputs.
    pub fn end_condition<F>(mut self, f: F) -> Loop
    where
        F: Fn(&[StepOutput]) -> bool + Send + Sync + 'static,
    {
        self.end_condition = Some(Arc::new(f));
        self
    }

    /// When true, each iteration starts from the previous iteration's last output instead of
    /// the loop's own input (agno's `forward_iteration_output`).
    pub fn forward_iteration_output(mut self, forward: bool) -> Loop {
        self.forward_iteration_output = forward;
        self
    }
}

impl From<Loop> for Step {
    fn from(l: Loop) -> Step {
        Step::with_kind(l.name.clone(), StepKind::Loop(l))
    }
}

/// Runs the choices a selector picks, by name, in the order given. An unknown name is an
/// error of the Router step.
#[derive(Clone)]
pub struct Router {
    pub(crate) name: String,
    pub(crate) selector: Selector,
    pub(crate) choices: Vec<Step>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("name", &self.name)
            .field("choices", &self.choices)
            .finish_non_exhaustive()
    }
}

impl Router {
    /// A Router called `name`; `selector` returns the names of the choices to run.
    pub fn new<F, I, S>(name: impl Into<String>, selector: F, choices: I) -> Router
    where
        F: Fn(&StepInput) -> Vec<String> + Send + Sync + 'static,
        I: IntoIterator<Item = S>,
        S: Into<Step>,
    {
        Router {
            name: name.into(),
            selector: Arc::new(selector),
            choices: collect(choices),
        }
    }
}

impl From<Router> for Step {
    fn from(r: Router) -> Step {
        Step::with_kind(r.name.clone(), StepKind::Router(r))
    }
}

/// Every child of a construct (both branches of a Condition, every choice of a Router).
pub(crate) fn children(kind: &StepKind) -> Vec<&Step> {
    match kind {
        StepKind::Agent(_) | StepKind::Team(_) | StepKind::Function(_) => Vec::new(),
        StepKind::Steps(s) => s.steps.iter().collect(),
        StepKind::Parallel(p) => p.steps.iter().collect(),
        StepKind::Condition(c) => c.steps.iter().chain(&c.else_steps).collect(),
        StepKind::Loop(l) => l.steps.iter().collect(),
        StepKind::Router(r) => r.choices.iter().collect(),
    }
}
