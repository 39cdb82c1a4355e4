//! [`Team`]: a leader model whose tools are its members (agents, or nested teams), in agno's
//! four modes. The leader is an [`Agent`] run by the same agent loop as any other
//! (`agent/conversation.rs`); its delegation and task tools (`delegate.rs`, `tasks.rs`) run
//! the members as child runs. `prompt.rs` builds the leader's system message as agno does,
//! `run.rs` runs the team once.

mod call;
mod delegate;
mod prompt;
mod run;
mod task_list;
mod tasks;

pub(crate) use call::{TeamCall, TeamCheckpoint, TeamHistory, TeamProgress};
pub(crate) use run::last_event;

use crate::agent::{Agent, slug};
use crate::model::Model;
use crate::output::OutputSchema;
use crate::tool::IntoTool;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::sync::Arc;

/// How a team's leader works with its members (agno's `TeamMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TeamMode {
    /// The leader delegates sub-tasks (`delegate_task_to_member`), reads the answers and
    /// writes the answer itself.
    #[default]
    Coordinate,
    /// The leader hands the request to one member, whose answer is the team's
    /// (`respond_directly`).
    Route,
    /// The leader sends one task to every member at once (`delegate_task_to_members`), then
    /// writes the answer (agno's former "collaborate").
    Broadcast,
    /// The leader keeps a task list (`create_task`, `execute_task`, ...) and works through it
    /// until the goal is met or `max_iterations` run out.
    Tasks,
}

impl TeamMode {
    /// agno's wire name (`coordinate`, `route`, `broadcast`, `tasks`).
    pub fn as_str(self) -> &'static str {
        match self {
            TeamMode::Coordinate => "coordinate",
            TeamMode::Route => "route",
            TeamMode::Broadcast => "broadcast",
            TeamMode::Tasks => "tasks",
        }
    }
}

/// A member of a team: an agent, or a nested team.
#[derive(Debug, Clone)]
pub enum Member {
    /// An agent.
    Agent(Arc<Agent>),
    /// A nested team.
    Team(Arc<Team>),
}

impl Member {
    /// The id the leader delegates to.
    pub fn id(&self) -> &str {
        match self {
            Member::Agent(a) => a.id(),
            Member::Team(t) => t.get_id(),
        }
    }

    /// The name.
    pub fn name(&self) -> &str {
        match self {
            Member::Agent(a) => a.name(),
            Member::Team(t) => t.get_name(),
        }
    }
}

impl From<Agent> for Member {
    fn from(agent: Agent) -> Member {
        Member::Agent(Arc::new(agent))
    }
}

impl From<Team> for Member {
    fn from(team: Team) -> Member {
        Member::Team(Arc::new(team))
    }
}

/// The options of a team beyond its leader and members (agno's names).
#[derive(Debug, Clone)]
struct Options {
    mode: TeamMode,
    determine_input_for_members: bool,
    share_member_interactions: bool,
    add_team_history_to_members: bool,
    num_team_history_runs: usize,
    stream_member_events: bool,
    max_iterations: usize,
    markdown: bool,
    session_state: Map<String, Value>,
}

/// A team: a leader model with instructions, and members it delegates to.
///
/// ```
/// use agentos::{Agent, ScriptedModel, ScriptedReply, Team, TeamMode};
/// let researcher = Agent::new("Researcher").model(ScriptedModel::new()).role("Finds facts");
/// let writer = Agent::new("Writer").model(ScriptedModel::new()).role("Writes it up");
/// // Offline, the leader's delegations are scripted like any tool call.
/// let leader = ScriptedModel::script([
///     ScriptedReply::delegate("researcher", "Find three facts about tides"),
///     ScriptedReply::delegate("writer", "Write a paragraph from these facts"),
///     ScriptedReply::text("Here is the paragraph."),
/// ]);
/// let team = Team::new("Research Team")
///     .id("research-team")
///     .model(leader)
///     .instructions("Delegate research to the Researcher, then have the Writer write it up.")
///     .members([researcher, writer])
///     .mode(TeamMode::Coordinate);
/// assert_eq!(team.get_members().len(), 2);
/// ```
#[derive(Debug, Clone)]
pub struct Team {
    id: String,
    name: String,
    instructions: Option<String>,
    description: Option<String>,
    role: Option<String>,
    members: Vec<Member>,
    /// The leader's model, tools and loop settings (its instructions are made per run).
    leader: Agent,
    options: Box<Options>,
}

impl Team {
    /// A team called `name`; its id is the name in lowercase with dashes (agno's rule).
    pub fn new(name: impl Into<String>) -> Team {
        let name = name.into();
        Team {
            id: slug(&name),
            leader: Agent::new(name.clone()).with_id(slug(&name)),
            name,
            instructions: None,
            description: None,
            role: None,
            members: Vec::new(),
            options: Box::new(Options {
                mode: TeamMode::Coordinate,
                determine_input_for_members: true,
                share_member_interactions: false,
                add_team_history_to_members: false,
                num_team_history_runs: 3,
                stream_member_events: true,
                max_iterations: 10,
                markdown: false,
                session_state: Map::new(),
            }),
        }
    }

    /// Overrides the id.
    pub fn id(mut self, id: impl Into<String>) -> Team {
        self.id = id.into();
        self.leader = self.leader.with_id(self.id.clone());
        self
    }

    /// The leader's model.
    pub fn model(mut self, model: impl Model) -> Team {
        self.leader = self.leader.model(model);
        self
    }

    /// The leader's model, already shared.
    pub fn shared_model(mut self, model: Arc<dyn Model>) -> Team {
        self.leader = self.leader.shared_model(model);
        self
    }

    /// The leader's instructions (the top of its system message).
    pub fn instructions(mut self, instructions: impl Into<String>) -> Team {
        self.instructions = Some(instructions.into());
        self
    }

    /// A description, shown by `GET /teams` and in a parent team's roster.
    pub fn description(mut self, description: impl Into<String>) -> Team {
        self.description = Some(description.into());
        self
    }

    /// What the team does, for the leader of a team it is a member of.
    pub fn role(mut self, role: impl Into<String>) -> Team {
        self.role = Some(role.into());
        self
    }

    /// The members: agents or nested teams (`[Member::from(agent), Member::from(team)]` to mix
    /// them), in the order the leader's roster lists them.
    pub fn members<I, M>(mut self, members: I) -> Team
    where
        I: IntoIterator<Item = M>,
        M: Into<Member>,
    {
        self.members = members.into_iter().map(Into::into).collect();
        self
    }

    /// Adds a member.
    pub fn member(mut self, member: impl Into<Member>) -> Team {
        self.members.push(member.into());
        self
    }

    /// How the leader works with the members ([`TeamMode::Coordinate`] by default).
    pub fn mode(mut self, mode: TeamMode) -> Team {
        self.options.mode = mode;
        self
    }

    /// agno's `respond_directly`: the member the leader picks answers for the team
    /// ([`TeamMode::Route`]); `false` goes back to [`TeamMode::Coordinate`].
    pub fn respond_directly(self, on: bool) -> Team {
        match on {
            true => self.mode(TeamMode::Route),
            false if self.options.mode == TeamMode::Route => self.mode(TeamMode::Coordinate),
            false => self,
        }
    }

    /// `false`: every member gets the user's message as it is, not the task the leader writes
    /// (agno's `determine_input_for_members`, true by default).
    pub fn determine_input_for_members(mut self, on: bool) -> Team {
        self.options.determine_input_for_members = on;
        self
    }

    /// Each member's task starts with what the members before it in this run were asked and
    /// answered (agno's `share_member_interactions`).
    pub fn share_member_interactions(mut self, on: bool) -> Team {
        self.options.share_member_interactions = on;
        self
    }

    /// Each member's task starts with the session's earlier team runs, input and answer
    /// (agno's `add_team_history_to_members`; the last 3 by default, see
    /// [`Team::num_team_history_runs`]).
    pub fn add_team_history_to_members(mut self, on: bool) -> Team {
        self.options.add_team_history_to_members = on;
        self
    }

    /// How many earlier team runs [`Team::add_team_history_to_members`] shows.
    pub fn num_team_history_runs(mut self, n: usize) -> Team {
        self.options.num_team_history_runs = n;
        self
    }

    /// Whether a streamed team run also streams its members' own events (`RunStarted`,
    /// `RunContent`, ... with `parent_run_id`); true by default, as agno.
    pub fn stream_member_events(mut self, on: bool) -> Team {
        self.options.stream_member_events = on;
        self
    }

    /// Tasks mode: how many times the leader is asked to go on before the run ends with what
    /// it has (10 by default).
    pub fn max_iterations(mut self, n: usize) -> Team {
        self.options.max_iterations = n.max(1);
        self
    }

    /// Asks the leader to format its answers in Markdown (agno's `markdown`: a line of the
    /// system message's `<additional_information>`).
    pub fn markdown(mut self, on: bool) -> Team {
        self.options.markdown = on;
        self
    }

    /// How many rounds of tool calls (delegations among them) the leader may make in one
    /// iteration, 10 by default (see [`Agent::max_tool_rounds`]).
    pub fn max_tool_rounds(mut self, rounds: usize) -> Team {
        self.leader = self.leader.max_tool_rounds(rounds);
        self
    }

    /// How many earlier runs of the session the leader sees (3 by default; 0 sends none).
    pub fn history_runs(mut self, n: usize) -> Team {
        self.leader = self.leader.history_runs(n);
        self
    }

    /// A tool of the leader's own, beside its members.
    pub fn tool(mut self, tool: impl IntoTool) -> Team {
        self.leader = self.leader.tool(tool);
        self
    }

    /// A toolkit of the leader's own (an MCP server's tools: `McpTools`), as
    /// [`Agent::toolkit`].
    pub fn toolkit(mut self, toolkit: impl crate::tool::Toolkit) -> Team {
        self.leader = self.leader.toolkit(toolkit);
        self
    }

    /// Structured output for the team's answer (the leader's), as [`Agent::output_schema`].
    pub fn output_schema<T: JsonSchema + DeserializeOwned + 'static>(mut self) -> Team {
        self.leader = self
            .leader
            .with_output_schema(Some(OutputSchema::of::<T>()));
        self
    }

    /// The default `session_state` of a new session, as [`crate::Workflow::session_state`].
    /// Tasks mode keeps its task list there (`_team_tasks`).
    pub fn session_state(mut self, state: Map<String, Value>) -> Team {
        self.options.session_state = state;
        self
    }

    /// The id.
    pub fn get_id(&self) -> &str {
        &self.id
    }

    /// The name.
    pub fn get_name(&self) -> &str {
        &self.name
    }

    /// The description.
    pub fn get_description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The role.
    pub fn get_role(&self) -> Option<&str> {
        self.role.as_deref()
    }

    /// The instructions.
    pub fn get_instructions(&self) -> Option<&str> {
        self.instructions.as_deref()
    }

    /// The mode.
    pub fn get_mode(&self) -> TeamMode {
        self.options.mode
    }

    /// The members.
    pub fn get_members(&self) -> &[Member] {
        &self.members
    }

    /// The leader's model, if one was set.
    pub fn get_model(&self) -> Option<&Arc<dyn Model>> {
        self.leader.get_model()
    }

    /// Whether members' events are streamed.
    pub fn get_stream_member_events(&self) -> bool {
        self.options.stream_member_events
    }

    /// The default session state.
    pub fn get_session_state(&self) -> &Map<String, Value> {
        &self.options.session_state
    }

    /// How many earlier runs of the session the leader sees.
    pub fn get_history_runs(&self) -> usize {
        self.leader.get_history_runs()
    }

    /// How many of the session's earlier team runs a run reads: enough for the leader's
    /// history, the members' (`add_team_history_to_members`) and each member's own.
    pub(crate) fn history_depth(&self) -> usize {
        let team = match self.options.add_team_history_to_members {
            true => self.options.num_team_history_runs,
            false => 0,
        };
        let members = self.members.iter().map(|m| match m {
            Member::Agent(a) => a.get_history_runs(),
            Member::Team(t) => t.history_depth(),
        });
        members
            .chain([team, self.get_history_runs()])
            .max()
            .unwrap_or(0)
    }

    /// The leader's own tools, as agno's `TeamResponse.tools` shows them (the delegation or
    /// task tools first).
    pub(crate) fn tools_info(&self) -> Value {
        let own = self.leader.tools_info();
        let mut tools: Vec<Value> = self
            .child_tool_definitions()
            .into_iter()
            .map(|d| {
                serde_json::json!({"name": d.name, "description": d.description, "parameters": d.parameters})
            })
            .collect();
        if let Some(Value::Array(more)) = own.as_ref().and_then(|o| o.get("tools")) {
            tools.extend(more.iter().cloned());
        }
        serde_json::json!({ "tools": tools })
    }

    /// Every agent in the team, nested teams' too (their models, tools and hooks are checked
    /// and registered like any agent's).
    pub fn agents(&self) -> Vec<&Agent> {
        let mut out = Vec::new();
        for member in &self.members {
            match member {
                Member::Agent(a) => out.push(a.as_ref()),
                Member::Team(t) => out.extend(t.agents()),
            }
        }
        out
    }

    /// The leaders of every team in the team, its own first (their toolkits are started with
    /// the OS's).
    pub(crate) fn leaders(&self) -> Vec<&Agent> {
        self.teams().into_iter().map(|t| &t.leader).collect()
    }

    /// Every team in the team, itself first.
    pub fn teams(&self) -> Vec<&Team> {
        let mut out = vec![self];
        for member in &self.members {
            if let Member::Team(t) = member {
                out.extend(t.teams());
            }
        }
        out
    }

    /// Refuses what would fail at the first run: a team or agent without a model, a bad tool
    /// name, two members with one id.
    pub(crate) fn check(&self) -> Result<(), String> {
        for team in self.teams() {
            if team.get_model().is_none() {
                return Err(format!("team {:?} has no model", team.name));
            }
            team.leader.check_tools()?;
            let mut ids = std::collections::HashSet::new();
            for member in &team.members {
                if !ids.insert(member.id()) {
                    return Err(format!(
                        "team {:?} has two members with the id {:?}",
                        team.name,
                        member.id()
                    ));
                }
            }
        }
        for agent in self.agents() {
            if agent.get_model().is_none() {
                return Err(format!("agent {:?} has no model", agent.name()));
            }
            agent.check_tools()?;
        }
        Ok(())
    }

    /// The member `id`: a direct member, else one of a nested team's (agno searches the whole
    /// tree).
    fn find_member(&self, id: &str) -> Option<&Member> {
        if let Some(member) = self.members.iter().find(|m| m.id() == id) {
            return Some(member);
        }
        self.members.iter().find_map(|m| match m {
            Member::Team(t) => t.find_member(id),
            Member::Agent(_) => None,
        })
    }
}
