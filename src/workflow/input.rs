//! [`StepInput`]: what a step receives.

use crate::context::{RunContext, SessionState};
use crate::run::StepOutput;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What a step receives (agno's `StepInput`), and the run's context
/// ([`StepInput::run_context`]: user, session state, dependencies, metadata...).
///
/// ```
/// use agentos::{Step, StepInput, StepOutput};
/// let greet = Step::function("greet", |input: StepInput| async move {
///     let ctx = input.run_context();
///     let user = ctx.user_id.clone().unwrap_or_else(|| "guest".to_owned());
///     ctx.session_state.set("greeted", true);
///     Ok(StepOutput::new(format!("Hello, {user}")))
/// });
/// # let _ = greet;
/// ```
#[derive(Debug, Clone)]
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
    /// The run's context, shared by every step.
    pub(crate) run: Arc<RunContext>,
}

/// An empty input, in the context of a run with no id (for tests of function steps).
impl Default for StepInput {
    fn default() -> StepInput {
        StepInput::of_run(String::new(), Arc::new(RunContext::new("", "")))
    }
}

impl StepInput {
    /// The first step's input in the run `run`: its message, and what its context holds.
    pub(crate) fn of_run(input: String, run: Arc<RunContext>) -> StepInput {
        StepInput {
            input,
            previous_step_content: None,
            previous_step_outputs: BTreeMap::new(),
            additional_data: run.additional_data.clone(),
            session_state: run.session_state.clone(),
            agent_input: None,
            run,
        }
    }

    /// The run's context (agno's `run_context`): run, session and user ids, the session
    /// state, dependencies, metadata, and whether the run was cancelled.
    pub fn run_context(&self) -> &Arc<RunContext> {
        &self.run
    }

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
