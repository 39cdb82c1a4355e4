//! The agent's options for what it knows of whom it talks to: prompt building, session state,
//! history, user memories and session summaries (agno's names). An agent that sets none of
//! them holds no [`Extras`] and builds its messages as plainly as before.

use super::Agent;
use super::prompt::Instructions;
use crate::memory::{MemoryManager, SessionSummaryManager};
use crate::model::Model;
use serde_json::{Map, Value};
use std::sync::Arc;

/// The options an agent sets beyond its model, instructions, tools and hooks. Boxed in the
/// agent, and only once one is set.
#[derive(Clone, Debug)]
pub(crate) struct Extras {
    pub description: Option<String>,
    pub expected_output: Option<String>,
    pub additional_context: Option<String>,
    pub markdown: bool,
    pub add_datetime_to_context: bool,
    pub datetime_format: Option<String>,
    pub add_name_to_context: bool,
    pub use_instruction_tags: bool,
    /// Fill `{var}` templates (agno's `resolve_in_context`, default true).
    pub resolve_in_context: bool,
    /// The session state's defaults.
    pub session_state: Map<String, Value>,
    pub add_session_state_to_context: bool,
    pub add_dependencies_to_context: bool,
    pub num_history_messages: Option<usize>,
    pub read_chat_history: bool,
    pub memory: MemoryOptions,
    pub summaries: SummaryOptions,
}

/// User memories: agno's `memory_manager`, `update_memory_on_run`, `enable_agentic_memory`,
/// `add_memories_to_context`.
#[derive(Clone, Debug, Default)]
pub(crate) struct MemoryOptions {
    pub manager: Option<MemoryManager>,
    pub update_on_run: bool,
    pub agentic: bool,
    pub add_to_context: Option<bool>,
}

/// Session summaries: agno's `enable_session_summaries`, `session_summary_manager`,
/// `add_session_summary_to_context`.
#[derive(Clone, Debug, Default)]
pub(crate) struct SummaryOptions {
    pub manager: Option<SessionSummaryManager>,
    pub enabled: bool,
    pub add_to_context: Option<bool>,
}

impl Default for Extras {
    fn default() -> Extras {
        Extras {
            description: None,
            expected_output: None,
            additional_context: None,
            markdown: false,
            add_datetime_to_context: false,
            datetime_format: None,
            add_name_to_context: false,
            use_instruction_tags: false,
            resolve_in_context: true,
            session_state: Map::new(),
            add_session_state_to_context: false,
            add_dependencies_to_context: false,
            num_history_messages: None,
            read_chat_history: false,
            memory: MemoryOptions::default(),
            summaries: SummaryOptions::default(),
        }
    }
}

impl Extras {
    /// Whether the user's memories go into the system message: as set, else when the agent
    /// uses memories at all (agno's default).
    pub(crate) fn memories_in_context(&self) -> bool {
        let m = &self.memory;
        m.add_to_context
            .unwrap_or(m.update_on_run || m.agentic || m.manager.is_some())
    }

    /// Whether the session summary goes into the system message: as set, else when the agent
    /// makes summaries (agno's default).
    pub(crate) fn summary_in_context(&self) -> bool {
        let s = &self.summaries;
        s.add_to_context.unwrap_or(s.enabled)
    }

    /// Whether the runtime runs a memory job after each completed run.
    pub(crate) fn learns_after_runs(&self) -> bool {
        self.memory.update_on_run
    }
}

impl Agent {
    fn extras_mut(&mut self) -> &mut Extras {
        self.extras.get_or_insert_with(Box::default)
    }

    /// What the agent is, first in its system message (agno's `description`).
    pub fn description(mut self, description: impl Into<String>) -> Agent {
        self.extras_mut().description = Some(description.into());
        self
    }

    /// What a good answer looks like (agno's `expected_output`).
    pub fn expected_output(mut self, text: impl Into<String>) -> Agent {
        self.extras_mut().expected_output = Some(text.into());
        self
    }

    /// Text appended to the system message (agno's `additional_context`).
    pub fn additional_context(mut self, text: impl Into<String>) -> Agent {
        self.extras_mut().additional_context = Some(text.into());
        self
    }

    /// Asks for markdown answers (unless the agent has an output type).
    pub fn markdown(mut self, on: bool) -> Agent {
        self.extras_mut().markdown = on;
        self
    }

    /// Tells the model the current local time (agno's `add_datetime_to_context`).
    pub fn add_datetime_to_context(mut self, on: bool) -> Agent {
        self.extras_mut().add_datetime_to_context = on;
        self
    }

    /// The time's format (strftime, e.g. `"%A %d %B %Y, %H:%M"`).
    pub fn datetime_format(mut self, format: impl Into<String>) -> Agent {
        self.extras_mut().datetime_format = Some(format.into());
        self
    }

    /// Tells the model its name.
    pub fn add_name_to_context(mut self, on: bool) -> Agent {
        self.extras_mut().add_name_to_context = on;
        self
    }

    /// Wraps the instructions in `<instructions>` tags.
    pub fn use_instruction_tags(mut self, on: bool) -> Agent {
        self.extras_mut().use_instruction_tags = on;
        self
    }

    /// Whether `{var}` templates in the instructions and the input are filled from the
    /// session state, dependencies, metadata and user id (default true, as agno's
    /// `resolve_in_context`).
    pub fn resolve_in_context(mut self, on: bool) -> Agent {
        self.extras_mut().resolve_in_context = on;
        self
    }

    /// The session state's defaults: a run starts from these, overridden by the session's
    /// stored state, overridden by the request's `session_state`; the state the run leaves is
    /// stored with the session.
    pub fn session_state(mut self, defaults: Map<String, Value>) -> Agent {
        self.extras_mut().session_state = defaults;
        self
    }

    /// Shows the session state to the model, at the end of the system message.
    pub fn add_session_state_to_context(mut self, on: bool) -> Agent {
        self.extras_mut().add_session_state_to_context = on;
        self
    }

    /// Gives the model agno's `update_session_state(session_state_updates)` tool, which sets
    /// the keys it is given in the session state.
    pub fn enable_agentic_state(mut self, on: bool) -> Agent {
        self.tools
            .retain(|t| t.definition().name != super::builtin::UPDATE_SESSION_STATE);
        if on {
            self.tools.push(super::builtin::update_session_state_tool());
        }
        self
    }

    /// Appends the request's `dependencies` to the user message, as agno's
    /// `<additional context>` block.
    pub fn add_dependencies_to_context(mut self, on: bool) -> Agent {
        self.extras_mut().add_dependencies_to_context = on;
        self
    }

    /// At most this many earlier messages of the session (instead of a number of runs: see
    /// [`Agent::history_runs`]).
    pub fn num_history_messages(mut self, n: usize) -> Agent {
        self.extras_mut().num_history_messages = Some(n);
        self
    }

    /// Gives the model agno's `get_chat_history(num_chats)` tool, which reads the session's
    /// earlier messages.
    pub fn read_chat_history(mut self, on: bool) -> Agent {
        self.extras_mut().read_chat_history = on;
        self
    }

    /// The memory manager (default: agno's, on the agent's model); setting one also adds the
    /// user's memories to the context unless [`Agent::add_memories_to_context`] says not to.
    pub fn memory_manager(mut self, manager: MemoryManager) -> Agent {
        self.extras_mut().memory.manager = Some(manager);
        self
    }

    /// After each completed run, a background job has the memory manager read the user's
    /// message and update their memories (agno's `update_memory_on_run`). It never delays the
    /// answer.
    pub fn update_memory_on_run(mut self, on: bool) -> Agent {
        self.extras_mut().memory.update_on_run = on;
        self
    }

    /// Gives the model agno's `update_user_memory(task)` tool: the task goes to the memory
    /// manager in a background job after the response (agno's `enable_agentic_memory`).
    pub fn enable_agentic_memory(mut self, on: bool) -> Agent {
        self.extras_mut().memory.agentic = on;
        self
    }

    /// Whether the user's memories go into the system message (default: when the agent uses
    /// memories).
    pub fn add_memories_to_context(mut self, on: bool) -> Agent {
        self.extras_mut().memory.add_to_context = Some(on);
        self
    }

    /// After each completed run, a background job updates the session's summary (agno's
    /// `enable_session_summaries`); `GET /sessions/{id}` shows it.
    pub fn enable_session_summaries(mut self, on: bool) -> Agent {
        self.extras_mut().summaries.enabled = on;
        self
    }

    /// The session summary manager (default: agno's, on the agent's model); setting one turns
    /// summaries on.
    pub fn session_summary_manager(mut self, manager: SessionSummaryManager) -> Agent {
        let summaries = &mut self.extras_mut().summaries;
        summaries.manager = Some(manager);
        summaries.enabled = true;
        self
    }

    /// Whether the session's summary goes into the system message (default: when summaries
    /// are on).
    pub fn add_session_summary_to_context(mut self, on: bool) -> Agent {
        self.extras_mut().summaries.add_to_context = Some(on);
        self
    }

    /// Instructions computed from the run's context (see [`Instructions::from_fn`]).
    pub fn instructions_fn<F>(self, f: F) -> Agent
    where
        F: Fn(&crate::context::RunContext) -> Instructions + Send + Sync + 'static,
    {
        self.instructions(Instructions::from_fn(f))
    }

    /// The session state's defaults.
    pub fn get_session_state(&self) -> Option<&Map<String, Value>> {
        self.extras.as_ref().map(|e| &e.session_state)
    }

    /// The options beyond the basics, if any is set.
    pub(crate) fn extras(&self) -> Option<&Extras> {
        self.extras.as_deref()
    }

    /// The model the memory manager uses: its own, else the agent's.
    pub(crate) fn memory_model(&self) -> Option<Arc<dyn Model>> {
        let own = self
            .extras()
            .and_then(|e| e.memory.manager.as_ref())
            .and_then(|m| m.get_model());
        own.or(self.model.as_ref()).cloned()
    }

    /// The model the session summary manager uses: its own, else the agent's.
    pub(crate) fn summary_model(&self) -> Option<Arc<dyn Model>> {
        let own = self
            .extras()
            .and_then(|e| e.summaries.manager.as_ref())
            .and_then(|m| m.get_model());
        own.or(self.model.as_ref()).cloned()
    }
}
