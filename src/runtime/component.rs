//! [`Component`]: what a run runs, resolved from the registry by kind and id.

use crate::agent::Agent;
use crate::kind::ComponentKind;
use crate::team::Team;
use crate::workflow::Workflow;
use std::sync::Arc;

/// What a run runs.
#[derive(Debug, Clone)]
pub(crate) enum Component {
    Workflow(Arc<Workflow>),
    Agent(Arc<Agent>),
    Team(Arc<Team>),
}

impl Component {
    /// The session and run type.
    pub(crate) fn kind(&self) -> ComponentKind {
        match self {
            Component::Workflow(_) => ComponentKind::Workflow,
            Component::Agent(_) => ComponentKind::Agent,
            Component::Team(_) => ComponentKind::Team,
        }
    }

    /// The display name (the agent's, the team's or the workflow's name).
    pub(crate) fn name(&self) -> &str {
        match self {
            Component::Workflow(w) => w.get_name(),
            Component::Agent(a) => a.name(),
            Component::Team(t) => t.get_name(),
        }
    }

    /// The workflow, agent or team id.
    pub(crate) fn id(&self) -> &str {
        match self {
            Component::Workflow(w) => w.id(),
            Component::Agent(a) => a.id(),
            Component::Team(t) => t.get_id(),
        }
    }
}
