//! The fields every event carries: [`WorkflowContext`] on workflow-level events,
//! [`AgentContext`] on agent-level ones, and a step's [`StepIndex`].

use crate::run::RunOutput;
use serde::Serialize;

/// A step's `step_index`: an integer for a top-level step; for a step inside a construct, the
/// path of positions from the top, sent as a JSON array (`[2, 0]`: the first child of the
/// third step), as agno sends a tuple for the children of a construct.
#[derive(Debug, Clone, PartialEq, Eq, Default, utoipa::ToSchema)]
#[schema(
    value_type = serde_json::Value,
    description = "An integer for a top-level step; the path of positions (an array) inside a construct"
)]
pub struct StepIndex(pub Vec<usize>);

impl StepIndex {
    /// A top-level step's index.
    pub fn top(index: usize) -> StepIndex {
        StepIndex(vec![index])
    }

    /// The index of this step's child at `position`.
    pub fn child(&self, position: usize) -> StepIndex {
        let mut path = self.0.clone();
        path.push(position);
        StepIndex(path)
    }

    /// The step's position among its siblings.
    pub fn position(&self) -> usize {
        self.0.last().copied().unwrap_or(0)
    }
}

impl Serialize for StepIndex {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [index] => serializer.serialize_u64(*index as u64),
            path => path.serialize(serializer),
        }
    }
}

/// Fields every workflow-level event carries.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct WorkflowContext {
    /// Unix seconds.
    pub created_at: i64,
    /// The workflow's id.
    pub workflow_id: String,
    /// The workflow's name.
    pub workflow_name: String,
    /// The session.
    pub session_id: String,
    /// The workflow run's id.
    pub run_id: String,
    /// The step's id, on step events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_id: Option<String>,
    /// The enclosing construct's step id, on events of steps inside Steps, Parallel,
    /// Condition, Loop or Router.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_step_id: Option<String>,
    /// Always 0: workflows do not nest yet.
    pub nested_depth: u32,
}

/// Fields every agent-level event carries, and every team-level one: a team's events are its
/// leader's (`team == true`), whose keys are `team_id`/`team_name` and whose names start with
/// `Team` (`TeamRunStarted`, ...), as agno's team events.
#[derive(Debug, Clone, PartialEq, utoipa::ToSchema)]
pub struct AgentContext {
    /// Unix seconds.
    pub created_at: i64,
    /// The agent's id (the team's, for a team's events).
    pub agent_id: String,
    /// The agent's name (the team's, for a team's events).
    pub agent_name: String,
    /// The agent (or team) run's own id.
    pub run_id: String,
    /// The team run this run is a member of.
    pub parent_run_id: Option<String>,
    /// The session.
    pub session_id: String,
    /// The workflow, when the agent runs as a step.
    pub workflow_id: Option<String>,
    /// The workflow run, when the agent runs as a step.
    pub workflow_run_id: Option<String>,
    /// The step's id.
    pub step_id: Option<String>,
    /// The step's name.
    pub step_name: Option<String>,
    /// The step's position.
    pub step_index: Option<usize>,
    /// Always 0.
    pub nested_depth: u32,
    /// A team's event: `team_id`/`team_name` on the wire, and a `Team` name.
    #[schema(ignore)]
    pub team: bool,
}

impl Serialize for AgentContext {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let (id_key, name_key) = match self.team {
            true => ("team_id", "team_name"),
            false => ("agent_id", "agent_name"),
        };
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("created_at", &self.created_at)?;
        map.serialize_entry(id_key, &self.agent_id)?;
        map.serialize_entry(name_key, &self.agent_name)?;
        map.serialize_entry("run_id", &self.run_id)?;
        if let Some(parent) = &self.parent_run_id {
            map.serialize_entry("parent_run_id", parent)?;
        }
        map.serialize_entry("session_id", &self.session_id)?;
        let optional = [
            ("workflow_id", &self.workflow_id),
            ("workflow_run_id", &self.workflow_run_id),
            ("step_id", &self.step_id),
            ("step_name", &self.step_name),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                map.serialize_entry(key, value)?;
            }
        }
        if let Some(index) = self.step_index {
            map.serialize_entry("step_index", &index)?;
        }
        map.serialize_entry("nested_depth", &self.nested_depth)?;
        map.end()
    }
}

impl AgentContext {
    /// The context of an agent run of its own (not a workflow step).
    pub(crate) fn top_level(output: &RunOutput) -> AgentContext {
        AgentContext::standalone(
            &output.agent_id,
            &output.agent_name,
            &output.run_id,
            &output.session_id,
        )
    }

    /// The context of the run `run_id` of an agent served on its own.
    pub(crate) fn standalone(
        agent_id: &str,
        agent_name: &str,
        run_id: &str,
        session_id: &str,
    ) -> AgentContext {
        AgentContext {
            created_at: crate::run::unix_seconds(),
            agent_id: agent_id.to_owned(),
            agent_name: agent_name.to_owned(),
            run_id: run_id.to_owned(),
            parent_run_id: None,
            session_id: session_id.to_owned(),
            workflow_id: None,
            workflow_run_id: None,
            step_id: None,
            step_name: None,
            step_index: None,
            nested_depth: 0,
            team: false,
        }
    }
}
