//! What a team call is given (its input, place, history, checkpoint writer, resume point) and
//! what a background team run's checkpoint holds.

use crate::agent::{DeferredHook, LoopState, StepPlace};
use crate::run::{ChildRun, Message};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// The session's earlier runs a team shows its leader and members, read once when the run
/// starts: each as `(input, answer)`, oldest first.
#[derive(Debug, Clone, Default)]
pub(crate) struct TeamHistory {
    /// The team's own earlier runs.
    pub runs: Vec<(String, String)>,
    /// Each member's earlier runs (agents and nested teams, at any depth), by id.
    pub members: HashMap<String, Vec<(String, String)>>,
}

impl TeamHistory {
    /// The last `n` of `runs` as user and assistant messages marked `from_history`.
    pub(crate) fn messages(runs: &[(String, String)], n: usize) -> Vec<Message> {
        runs[runs.len().saturating_sub(n)..]
            .iter()
            .flat_map(|(input, answer)| {
                [
                    Message::new("user", input.clone()),
                    Message::new("assistant", answer.clone()),
                ]
            })
            .map(|mut m| {
                m.from_history = true;
                m
            })
            .collect()
    }

    /// agno's `<team_history_context>` of the last `n` team runs, for members; `None` without
    /// any.
    pub(crate) fn context(&self, n: usize) -> Option<String> {
        let runs = &self.runs[self.runs.len().saturating_sub(n)..];
        if runs.is_empty() {
            return None;
        }
        let mut parts = vec!["<team_history_context>".to_owned()];
        for (i, (input, answer)) in runs.iter().enumerate() {
            parts.push(format!("[run-{}]", i + 1));
            if !input.is_empty() {
                parts.push(format!("input: {input}"));
            }
            if !answer.is_empty() {
                parts.push(format!("response: {answer}"));
            }
            parts.push(String::new());
        }
        parts.push("</team_history_context>".to_owned());
        parts.push(String::new());
        Some(parts.join("\n"))
    }

    /// The history a nested team member `id` sees: its own runs, and the same members'.
    pub(crate) fn of_member(&self, id: &str) -> TeamHistory {
        TeamHistory {
            runs: self.members.get(id).cloned().unwrap_or_default(),
            members: self.members.clone(),
        }
    }
}

/// A background team run's progress, stored as the leader's replies and the members' runs come
/// in: the leader's loop, the members' runs so far, the background hooks they owe, and the
/// session state (tasks mode's task list lives there). A resumed run starts from it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TeamCheckpoint {
    pub leader: LoopState,
    pub members: Vec<ChildRun>,
    pub deferred: Vec<DeferredHook>,
    #[serde(default)]
    pub interactions: Vec<Interaction>,
    #[serde(default)]
    pub session_state: Map<String, Value>,
}

/// Records a background team run's progress (the runtime's checkpoint writer; the engine only
/// calls it).
pub(crate) trait TeamProgress: Send + Sync {
    /// Records `checkpoint` for the run `run_id`. A failure is the implementation's to log: a
    /// resume would redo what it missed.
    fn save<'a>(&'a self, run_id: &'a str, checkpoint: &'a TeamCheckpoint) -> BoxFuture<'a, ()>;
}

/// What differs between the calls of a team: the input, where it sits, what it remembers.
pub(crate) struct TeamCall {
    /// What the team is asked.
    pub input: String,
    /// A run of its own: it takes the context's run id and uploaded files, and its last event
    /// is left to the runtime.
    pub top_level: bool,
    /// The run's id, for a nested team (a new one when `None` and not top-level).
    pub run_id: Option<String>,
    /// The team or workflow run this one is a member or step of.
    pub parent_run_id: Option<String>,
    /// Where the team sits inside a workflow run.
    pub place: Option<StepPlace>,
    /// The session's earlier runs.
    pub history: Arc<TeamHistory>,
    /// Set for background runs: records progress as members finish.
    pub progress: Option<Arc<dyn TeamProgress>>,
    /// A resumed run's progress: its finished members are not run again.
    pub resume: Option<Box<TeamCheckpoint>>,
}

impl TeamCall {
    /// The call of a team that is a member of the team run `parent_run_id`.
    pub(crate) fn member(input: String, parent_run_id: String, history: TeamHistory) -> TeamCall {
        TeamCall {
            input,
            top_level: false,
            run_id: None,
            parent_run_id: Some(parent_run_id),
            place: None,
            history: Arc::new(history),
            progress: None,
            resume: None,
        }
    }

    /// The call of a team that is a workflow step.
    pub(crate) fn step(input: String, place: StepPlace) -> TeamCall {
        TeamCall {
            input,
            top_level: false,
            run_id: None,
            parent_run_id: Some(place.workflow_run_id.clone()),
            place: Some(place),
            history: Arc::default(),
            progress: None,
            resume: None,
        }
    }
}

/// A member's turn in this run, as `share_member_interactions` shows it to the next members.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Interaction {
    pub member_name: String,
    pub task: String,
    pub response: String,
}
