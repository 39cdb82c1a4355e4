//! [`ComponentKind`]: what a run runs and what a session belongs to. Routes, sessions, runs and
//! the stores all name a component's kind through this one type, so a new kind is added here.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The kind of a served component: an agent, a team or a workflow. Its wire form is agno's
/// session and run type (`"agent"`, `"team"`, `"workflow"`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ComponentKind {
    /// An agent served on its own (`/agents/{id}`).
    Agent,
    /// A team of agents (`/teams/{id}`).
    Team,
    /// A workflow (`/workflows/{id}`).
    Workflow,
}

impl ComponentKind {
    /// Every kind, in agno's order.
    pub const ALL: [ComponentKind; 3] = [
        ComponentKind::Agent,
        ComponentKind::Team,
        ComponentKind::Workflow,
    ];

    /// The wire name: `agent`, `team` or `workflow`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ComponentKind::Agent => "agent",
            ComponentKind::Team => "team",
            ComponentKind::Workflow => "workflow",
        }
    }

    /// Parses a wire name; `None` for anything else.
    pub fn parse(s: &str) -> Option<ComponentKind> {
        ComponentKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The capitalised name, as messages show it (`Agent not found`).
    pub const fn label(self) -> &'static str {
        match self {
            ComponentKind::Agent => "Agent",
            ComponentKind::Team => "Team",
            ComponentKind::Workflow => "Workflow",
        }
    }

    /// The key that carries a component's id in agno's JSON (`agent_id`, `team_id`,
    /// `workflow_id`).
    pub const fn id_key(self) -> &'static str {
        match self {
            ComponentKind::Agent => "agent_id",
            ComponentKind::Team => "team_id",
            ComponentKind::Workflow => "workflow_id",
        }
    }

    /// The key that carries a component's name in agno's JSON (`agent_name`, ...).
    pub const fn name_key(self) -> &'static str {
        match self {
            ComponentKind::Agent => "agent_name",
            ComponentKind::Team => "team_name",
            ComponentKind::Workflow => "workflow_name",
        }
    }

    /// The collection's path segment (`agents`, `teams`, `workflows`).
    pub const fn plural(self) -> &'static str {
        match self {
            ComponentKind::Agent => "agents",
            ComponentKind::Team => "teams",
            ComponentKind::Workflow => "workflows",
        }
    }
}

impl fmt::Display for ComponentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ComponentKind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<ComponentKind, UnknownKind> {
        ComponentKind::parse(s).ok_or_else(|| UnknownKind(s.to_owned()))
    }
}

/// A kind name that is none of `agent`, `team`, `workflow`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown component type {0:?}: use agent, team or workflow")]
pub struct UnknownKind(pub String);

#[cfg(test)]
mod tests {
    use super::ComponentKind;

    #[test]
    fn the_wire_name_round_trips() {
        for kind in ComponentKind::ALL {
            assert_eq!(ComponentKind::parse(kind.as_str()), Some(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{kind}\""));
        }
        assert_eq!(ComponentKind::parse("Agent"), None);
        assert!("crew".parse::<ComponentKind>().is_err());
    }
}
