//! [`StepInput`]: what a step receives.

use crate::context::SessionState;
use crate::run::StepOutput;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

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
