//! What a team run produces: agno's `TeamRunOutput`, with its members' runs
//! ([`ChildRun`]: an agent's [`RunOutput`] or a nested team's [`TeamRunOutput`]).

use super::{Message, RunInput, RunMetrics, RunOutput, RunStatus, ToolExecution, value_text};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The output of one team run (agno's `TeamRunOutput.to_dict()`: null keys left out).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TeamRunOutput {
    /// This team run's id.
    pub run_id: String,
    /// The team's id.
    pub team_id: String,
    /// The team's name.
    pub team_name: String,
    /// The session the run belongs to.
    pub session_id: String,
    /// The team or workflow run this run is a member or a step of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_run_id: Option<String>,
    /// The step id inside the workflow, for a team that is a workflow step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_step_id: Option<String>,
    /// The user, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// What the team was asked.
    pub input: RunInput,
    /// The answer: the leader's text (or a routed member's), or the JSON object of a
    /// structured output.
    pub content: Value,
    /// `"str"` for text, the output type's name for structured output.
    pub content_type: String,
    /// The leader's messages: system, user, its replies (with the delegations) and the
    /// members' answers as tool results.
    pub messages: Vec<Message>,
    /// The leader's tokens and timing.
    pub metrics: RunMetrics,
    /// The leader's model.
    pub model: String,
    /// Its provider.
    pub model_provider: String,
    /// The members' runs, in the order they finished (always present, as agno sends it).
    #[serde(default)]
    #[schema(no_recursion, value_type = Vec<Object>)]
    pub member_responses: Vec<ChildRun>,
    /// The leader's tool calls (its delegations among them), in the order the model made them.
    pub tools: Vec<ToolExecution>,
    /// Unix seconds.
    pub created_at: i64,
    /// Final status.
    pub status: RunStatus,
    /// The session state as the run left it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_state: Option<Map<String, Value>>,
    /// Free-form metadata from the request (`metadata` form field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
}

impl TeamRunOutput {
    /// The content as text: a string as it is, structured output as compact JSON.
    pub fn content_text(&self) -> String {
        value_text(&self.content)
    }

    /// The content as `T`: the team's output type for a structured output, or `String` for
    /// text.
    pub fn content_as<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.content)
    }

    /// Every member run, nested teams' members too, depth first.
    pub fn all_member_runs(&self) -> Vec<&ChildRun> {
        let mut out = Vec::new();
        for member in &self.member_responses {
            out.push(member);
            if let ChildRun::Team(team) = member {
                out.extend(team.all_member_runs());
            }
        }
        out
    }
}

/// A run started by another run: an agent's (a workflow step, a team member) or a team's
/// (a nested team, a team step). Untagged on the wire: agno tells them apart by `agent_id`
/// and `team_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
// The agent variant is by far the common one (every workflow agent step): boxing it would cost
// each step an allocation.
#[allow(clippy::large_enum_variant)]
pub enum ChildRun {
    /// An agent's run.
    Agent(RunOutput),
    /// A team's run.
    #[schema(no_recursion)]
    Team(Box<TeamRunOutput>),
}

impl ChildRun {
    /// The run's id.
    pub fn run_id(&self) -> &str {
        match self {
            ChildRun::Agent(run) => &run.run_id,
            ChildRun::Team(run) => &run.run_id,
        }
    }

    /// The run's content.
    pub fn content(&self) -> &Value {
        match self {
            ChildRun::Agent(run) => &run.content,
            ChildRun::Team(run) => &run.content,
        }
    }

    /// `"str"`, or the output type's name.
    pub fn content_type(&self) -> &str {
        match self {
            ChildRun::Agent(run) => &run.content_type,
            ChildRun::Team(run) => &run.content_type,
        }
    }

    /// The run's status.
    pub fn status(&self) -> RunStatus {
        match self {
            ChildRun::Agent(run) => run.status,
            ChildRun::Team(run) => run.status,
        }
    }

    /// The run's metrics.
    pub fn metrics(&self) -> &RunMetrics {
        match self {
            ChildRun::Agent(run) => &run.metrics,
            ChildRun::Team(run) => &run.metrics,
        }
    }

    /// The agent's run, if it is one.
    pub fn as_agent(&self) -> Option<&RunOutput> {
        match self {
            ChildRun::Agent(run) => Some(run),
            ChildRun::Team(_) => None,
        }
    }

    /// The team's run, if it is one.
    pub fn as_team(&self) -> Option<&TeamRunOutput> {
        match self {
            ChildRun::Agent(_) => None,
            ChildRun::Team(run) => Some(run),
        }
    }
}

impl From<RunOutput> for ChildRun {
    fn from(run: RunOutput) -> ChildRun {
        ChildRun::Agent(run)
    }
}

impl From<TeamRunOutput> for ChildRun {
    fn from(run: TeamRunOutput) -> ChildRun {
        ChildRun::Team(Box::new(run))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent_run(id: &str) -> RunOutput {
        RunOutput {
            run_id: id.into(),
            agent_id: "writer".into(),
            agent_name: "Writer".into(),
            session_id: "s".into(),
            parent_run_id: Some("t".into()),
            workflow_id: None,
            workflow_step_id: None,
            user_id: None,
            content: Value::String("draft".into()),
            content_type: "str".into(),
            model: "m".into(),
            model_provider: "p".into(),
            created_at: 0,
            status: RunStatus::Completed,
            metrics: RunMetrics::default(),
            messages: Vec::new(),
            tools: Vec::new(),
            input: RunInput::default(),
        }
    }

    #[test]
    fn member_runs_round_trip_as_agno_tells_them_apart() {
        let team = TeamRunOutput {
            run_id: "t".into(),
            team_id: "research-team".into(),
            team_name: "Research Team".into(),
            session_id: "s".into(),
            parent_run_id: None,
            workflow_step_id: None,
            user_id: None,
            input: RunInput::default(),
            content: Value::String("done".into()),
            content_type: "str".into(),
            messages: Vec::new(),
            metrics: RunMetrics::default(),
            model: "m".into(),
            model_provider: "p".into(),
            member_responses: vec![agent_run("a1").into()],
            tools: Vec::new(),
            created_at: 0,
            status: RunStatus::Completed,
            session_state: None,
            metadata: None,
        };
        let nested = ChildRun::from(team.clone());
        let json = serde_json::to_value(&nested).unwrap();
        assert_eq!(json["team_id"], "research-team");
        assert_eq!(json["member_responses"][0]["agent_id"], "writer");
        assert!(json.get("parent_run_id").is_none(), "nulls left out");
        let back: ChildRun = serde_json::from_value(json).unwrap();
        assert_eq!(back, nested);
        assert_eq!(back.as_team().unwrap().all_member_runs()[0].run_id(), "a1");
        let agent: ChildRun =
            serde_json::from_value(serde_json::to_value(agent_run("a2")).unwrap()).unwrap();
        assert_eq!(agent.as_agent().map(|r| r.run_id.as_str()), Some("a2"));
    }
}
