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

    /// The workflow, agent or team id.
    pub(crate) fn id(&self) -> &str {
        match self {
            Component::Workflow(w) => w.id(),
            Component::Agent(a) => a.id(),
            Component::Team(t) => t.get_id(),
        }
    }
}
