//! [`Component`]: what a run runs, resolved from the registry by kind and id.

use crate::agent::Agent;
use crate::kind::ComponentKind;
use crate::workflow::Workflow;
use std::sync::Arc;

/// What a run runs.
#[derive(Debug, Clone)]
pub(crate) enum Component {
    Workflow(Arc<Workflow>),
    Agent(Arc<Agent>),
}

impl Component {
    /// The session and run type.
    pub(crate) fn kind(&self) -> ComponentKind {
        match self {
            Component::Workflow(_) => ComponentKind::Workflow,
            Component::Agent(_) => ComponentKind::Agent,
        }
    }

    /// The display name (the agent's or the workflow's name).
    pub(crate) fn name(&self) -> &str {
        match self {
            Component::Workflow(w) => w.get_name(),
            Component::Agent(a) => a.name(),
        }
    }

    /// The workflow or agent id.
    pub(crate) fn id(&self) -> &str {
        match self {
            Component::Workflow(w) => w.id(),
            Component::Agent(a) => a.id(),
        }
    }
}
