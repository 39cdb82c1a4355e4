//! [`Agent`]: a model with instructions, tools and hooks; the agent loop that runs it once
//! (`run.rs`, `conversation.rs`).

mod builtin;
mod children;
mod conversation;
mod options;
mod prompt;
mod round;
mod run;

pub(crate) use builtin::ChatHistory;
pub(crate) use children::{ChildTools, LoopState};
pub(crate) use options::Extras;
pub use prompt::Instructions;
pub(crate) use prompt::Recall;
pub(crate) use run::{AgentCall, DeferredHook, StepPlace};

use crate::hooks::{Hook, IntoHook};
use crate::knowledge::{Knowledge, KnowledgeAttachment};
use crate::model::{Model, ModelError, ModelRequest};
use crate::output::OutputSchema;
use crate::retrieval::MetadataFilter;
use crate::tool::{AgentTool, IntoTool, Toolkit};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

/// How many earlier runs of a session an agent sees by default (agno's `num_history_runs`).
pub(crate) const HISTORY_RUNS: usize = 3;
/// Rounds of tool calls before the model must answer (see [`Agent::max_tool_rounds`]).
const DEFAULT_MAX_TOOL_ROUNDS: usize = 10;
/// How long one tool call may take (see [`Agent::tool_timeout`]).
const DEFAULT_TOOL_TIMEOUT: Duration = Duration::from_secs(60);

/// An agent: a model, instructions (the system message), tools, an optional output type,
/// model settings and hooks.
///
/// ```
/// use agentos::{Agent, ScriptedModel};
/// let analyzer = Agent::new("Analyzer")
///     .model(ScriptedModel::new())
///     .instructions("Analyze the input and identify key points.")
///     .temperature(0.2);
/// assert_eq!(analyzer.id(), "analyzer");
/// ```
#[derive(Clone)]
pub struct Agent {
    id: String,
    name: String,
    model: Option<Arc<dyn Model>>,
    instructions: Option<Instructions>,
    pre_hooks: Vec<Hook>,
    post_hooks: Vec<Hook>,
    history_runs: usize,
    tools: Vec<AgentTool>,
    /// Boxed: an `Agent` is a workflow step, and steps should stay small.
    loop_settings: Box<LoopSettings>,
    /// Prompt building, session state, memories and summaries; `None` until one is set.
    extras: Option<Box<Extras>>,
    /// The knowledge base and how it is used; boxed for the same reason.
    knowledge: Option<Box<KnowledgeAttachment>>,
}

/// How an agent talks to its model: the tool loop's limits, the output type and the request
/// settings (and its role in a team, which its team's leader reads: kept here, boxed, to keep
/// a step small).
#[derive(Clone)]
struct LoopSettings {
    role: Option<String>,
    tool_choice: Option<Value>,
    max_tool_rounds: usize,
    tool_timeout: Duration,
    output_schema: Option<OutputSchema>,
    temperature: Option<f64>,
    max_tokens: Option<u32>,
    request_fields: Map<String, Value>,
    /// Tool sets whose lists can change while the OS runs (MCP servers).
    toolkits: Vec<Arc<dyn Toolkit>>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("model", &self.model.as_ref().map(|m| m.id().to_owned()))
            .field("pre_hooks", &self.pre_hooks)
            .field("post_hooks", &self.post_hooks)
            .field("tools", &self.tools)
            .field(
                "toolkits",
                &self
                    .loop_settings
                    .toolkits
                    .iter()
                    .map(|k| k.name())
                    .collect::<Vec<_>>(),
            )
            .field("output_schema", &self.loop_settings.output_schema)
            .finish_non_exhaustive()
    }
}

/// agno's default id: the name lowercased, spaces and underscores as dashes.
pub(crate) fn slug(name: &str) -> String {
    name.to_lowercase().replace([' ', '_'], "-")
}

impl Agent {
    /// An agent called `name`; its id is the name in lowercase with dashes (agno's rule).
    pub fn new(name: impl Into<String>) -> Agent {
        let name = name.into();
        Agent {
            id: slug(&name),
            name,
            model: None,
            instructions: None,
            pre_hooks: Vec::new(),
            post_hooks: Vec::new(),
            history_runs: HISTORY_RUNS,
            tools: Vec::new(),
            loop_settings: Box::new(LoopSettings {
                role: None,
                tool_choice: None,
                max_tool_rounds: DEFAULT_MAX_TOOL_ROUNDS,
                tool_timeout: DEFAULT_TOOL_TIMEOUT,
                output_schema: None,
                temperature: None,
                max_tokens: None,
                request_fields: Map::new(),
                toolkits: Vec::new(),
            }),
            extras: None,
            knowledge: None,
        }
    }

    /// How many earlier runs of the session the model sees when the agent is run on its own
    /// (`POST /agents/{id}/runs` with a `session_id`): agno's `num_history_runs`. Default 3;
    /// 0 sends no history.
    pub fn history_runs(mut self, n: usize) -> Agent {
        self.history_runs = n;
        self
    }

    /// Overrides the id.
    pub fn with_id(mut self, id: impl Into<String>) -> Agent {
        self.id = id.into();
        self
    }

    /// The model that answers.
    pub fn model(mut self, model: impl Model) -> Agent {
        self.model = Some(Arc::new(model));
        self
    }

    /// The model that answers, already shared.
    pub fn shared_model(mut self, model: Arc<dyn Model>) -> Agent {
        self.model = Some(model);
        self
    }

    /// The instructions: a text, a list (`["...", "..."]`, rendered as bullets) or
    /// [`Instructions::from_fn`] of the run's context. `{var}` templates in them are filled
    /// from the session state, dependencies, metadata and user id.
    pub fn instructions(mut self, instructions: impl Into<Instructions>) -> Agent {
        self.instructions = Some(instructions.into());
        self
    }

    /// Adds a hook that runs before the model call; it may reject the input with
    /// [`HookError::input_check`].
    pub fn pre_hook(mut self, hook: impl IntoHook) -> Agent {
        self.pre_hooks.push(hook.into_hook());
        self
    }

    /// Adds a hook that runs after the answer.
    pub fn post_hook(mut self, hook: impl IntoHook) -> Agent {
        self.post_hooks.push(hook.into_hook());
        self
    }

    /// Adds a tool the model may call: a [`Tool`](crate::Tool) or a
    /// [`tool_fn`](crate::tool_fn) closure. Several calls in one reply run concurrently. A tool
    /// with the name of one added before replaces it.
    pub fn tool(mut self, tool: impl IntoTool) -> Agent {
        let tool = tool.into_tool();
        self.tools
            .retain(|t| t.definition().name != tool.definition().name);
        self.tools.push(tool);
        self
    }

    /// Adds a set of tools whose list can change while the OS runs, such as an MCP server's
    /// ([`McpTools`](crate::McpTools)); several may be added. The model is offered the
    /// toolkit's tools of the moment at every model call; a native tool of the same name wins.
    ///
    /// ```no_run
    /// use agentos::{Agent, McpTools, ScriptedModel};
    /// let agent = Agent::new("Files")
    ///     .model(ScriptedModel::new())
    ///     .toolkit(McpTools::stdio("npx", ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"]))
    ///     .toolkit(McpTools::streamable_http("http://127.0.0.1:8000/mcp").prefix("search"));
    /// ```
    pub fn toolkit(mut self, toolkit: impl Toolkit) -> Agent {
        self.loop_settings.toolkits.push(Arc::new(toolkit));
        self
    }

    /// OpenAI's `tool_choice` (`json!("required")`, `json!("none")` or a function object);
    /// by default the server decides (`"auto"`).
    pub fn tool_choice(mut self, choice: Value) -> Agent {
        self.loop_settings.tool_choice = Some(choice);
        self
    }

    /// How many rounds of tool calls (model replies that call tools) a run may make, 10 by
    /// default. After the last one the model is asked once more with `tool_choice: "none"`, to
    /// answer with what it has; if it still calls tools the run fails.
    pub fn max_tool_rounds(mut self, rounds: usize) -> Agent {
        self.loop_settings.max_tool_rounds = rounds;
        self
    }

    /// The longest one tool call may take (60 s by default); past it the model gets an error
    /// result for that call.
    pub fn tool_timeout(mut self, limit: Duration) -> Agent {
        self.loop_settings.tool_timeout = limit;
        self
    }

    /// Structured output: the model must answer with JSON matching `T`'s schema (sent as
    /// OpenAI's `response_format` `json_schema`, strict). The run's `content` is the JSON
    /// object and `content_type` the type's name; a reply that does not parse as `T` fails
    /// the run.
    pub fn output_schema<T: JsonSchema + DeserializeOwned + 'static>(mut self) -> Agent {
        self.loop_settings.output_schema = Some(OutputSchema::of::<T>());
        self
    }

    /// The sampling temperature sent with every model call.
    pub fn temperature(mut self, temperature: f64) -> Agent {
        self.loop_settings.temperature = Some(temperature);
        self
    }

    /// The most tokens a reply may use (sent as `max_completion_tokens`).
    pub fn max_tokens(mut self, max_tokens: u32) -> Agent {
        self.loop_settings.max_tokens = Some(max_tokens);
        self
    }

    /// Any other field of the chat completions request (`top_p`, `seed`,
    /// `reasoning_effort`...), sent as it is; it overrides the settings above.
    pub fn request_field(mut self, key: impl Into<String>, value: Value) -> Agent {
        self.loop_settings.request_fields.insert(key.into(), value);
        self
    }

    /// Gives the agent a knowledge base. By default (agno's) the model gets the
    /// `search_knowledge_base` tool and instructions to search before answering; see
    /// [`Agent::add_knowledge_to_context`] for references added to the message instead.
    pub fn knowledge(mut self, knowledge: Knowledge) -> Agent {
        self.knowledge = Some(Box::new(KnowledgeAttachment::new(knowledge)));
        self.refresh_knowledge_tool()
    }

    /// Whether the model gets the `search_knowledge_base` tool (agno's `search_knowledge`,
    /// default true).
    pub fn search_knowledge(self, on: bool) -> Agent {
        self.with_attachment(|a| a.search_tool = on)
    }

    /// Adds the knowledge base's best chunks for the user's message to that message before
    /// the model is called (agno's `add_knowledge_to_context`, default false).
    pub fn add_knowledge_to_context(self, on: bool) -> Agent {
        self.with_attachment(|a| a.add_references = on)
    }

    /// Limits every knowledge search of this agent to content with this metadata (agno's
    /// `knowledge_filters`); a request's `knowledge_filters` field overrides it key by key.
    pub fn knowledge_filters(self, filters: MetadataFilter) -> Agent {
        self.with_attachment(|a| a.filters = filters)
    }

    /// Lets the model choose filters: the tool takes a `filters` argument and the
    /// instructions list the metadata keys (agno's `enable_agentic_knowledge_filters`).
    pub fn enable_agentic_knowledge_filters(self, on: bool) -> Agent {
        self.with_attachment(|a| a.agentic_filters = on)
    }

    /// The knowledge base attached, and how it is used.
    pub fn get_knowledge(&self) -> Option<&KnowledgeAttachment> {
        self.knowledge.as_deref()
    }

    fn with_attachment(mut self, f: impl FnOnce(&mut KnowledgeAttachment)) -> Agent {
        if let Some(attachment) = self.knowledge.as_deref_mut() {
            f(attachment);
        }
        self.refresh_knowledge_tool()
    }

    /// The search tool as the attachment says now (replacing any earlier one).
    fn refresh_knowledge_tool(mut self) -> Agent {
        let name = crate::knowledge::SEARCH_TOOL;
        self.tools.retain(|t| t.definition().name != name);
        if let Some(tool) = self.knowledge.as_ref().and_then(|k| k.tool()) {
            self.tools.push(tool);
        }
        self
    }

    /// What the agent does, for the leader of a team it is a member of (agno's `role`: shown in
    /// the leader's roster beside its id and name).
    pub fn role(mut self, role: impl Into<String>) -> Agent {
        self.loop_settings.role = Some(role.into());
        self
    }

    /// The agent's role in a team, if set.
    pub fn get_role(&self) -> Option<&str> {
        self.loop_settings.role.as_deref()
    }

    /// Sets the output type from a schema already made (a team's, for its leader).
    pub(crate) fn with_output_schema(mut self, schema: Option<OutputSchema>) -> Agent {
        self.loop_settings.output_schema = schema;
        self
    }

    /// The output type's name, when the agent has one.
    pub(crate) fn output_schema_name(&self) -> Option<&str> {
        self.loop_settings
            .output_schema
            .as_ref()
            .map(|s| s.format.name.as_str())
    }

    /// The agent's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The agent's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The model, if one was set.
    pub fn get_model(&self) -> Option<&Arc<dyn Model>> {
        self.model.as_ref()
    }

    /// How many earlier runs of the session the model sees.
    pub fn get_history_runs(&self) -> usize {
        self.history_runs
    }

    /// Refuses tool names OpenAI would refuse at the first model call (it wants
    /// `^[a-zA-Z0-9_-]{1,64}$`), so the mistake shows at startup.
    pub(crate) fn check_tools(&self) -> Result<(), String> {
        for tool in &self.tools {
            let name = &tool.definition().name;
            let valid = (1..=64).contains(&name.len())
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !valid {
                return Err(format!(
                    "agent {:?}: the tool name {name:?} must be 1 to 64 letters, digits, '_' or '-'",
                    self.name
                ));
            }
        }
        Ok(())
    }

    /// The toolkits, for the OS to start.
    pub(crate) fn toolkits(&self) -> &[Arc<dyn Toolkit>] {
        &self.loop_settings.toolkits
    }

    /// The tools offered to the model now: the agent's own, then each toolkit's current ones
    /// (a name already taken is skipped). Without toolkits, the agent's own list as it is.
    pub(super) fn current_tools(&self) -> Cow<'_, [AgentTool]> {
        self.round_tools(&self.tools)
    }

    /// `base` (a run's tools) with the toolkits' tools of the moment; `base` itself, borrowed,
    /// when the agent has no toolkit. A tool of `base` wins a name clash.
    pub(super) fn round_tools<'a>(&self, base: &'a [AgentTool]) -> Cow<'a, [AgentTool]> {
        let toolkits = &self.loop_settings.toolkits;
        if toolkits.is_empty() {
            return Cow::Borrowed(base);
        }
        let mut all = base.to_vec();
        for kit in toolkits {
            for tool in kit.tools().iter() {
                let name = &tool.definition().name;
                if !all.iter().any(|t| &t.definition().name == name) {
                    all.push(tool.clone());
                }
            }
        }
        Cow::Owned(all)
    }

    /// agno's `AgentResponse.tools`: `{"tools": [{name, description, parameters}],
    /// "tool_choice"?}`, or `None` without tools. A toolkit's tools are those of the moment.
    pub(crate) fn tools_info(&self) -> Option<Value> {
        let current = self.current_tools();
        if current.is_empty() {
            return None;
        }
        let tools: Vec<Value> = current
            .iter()
            .map(|t| {
                let d = t.definition();
                serde_json::json!({"name": d.name, "description": d.description, "parameters": d.parameters})
            })
            .collect();
        let mut info = serde_json::json!({ "tools": tools });
        if let Some(choice) = &self.loop_settings.tool_choice {
            info["tool_choice"] = choice.clone();
        }
        Some(info)
    }

    /// Every hook of this agent, pre-hooks first.
    pub(crate) fn hooks(&self) -> impl Iterator<Item = &Hook> {
        self.pre_hooks.iter().chain(self.post_hooks.iter())
    }
}

/// Stands in for a missing model: every call fails with a clear message.
struct NoModel;

#[async_trait::async_trait]
impl Model for NoModel {
    fn id(&self) -> &str {
        "none"
    }
    fn provider(&self) -> &str {
        "none"
    }
    async fn complete(&self, _: &ModelRequest) -> Result<crate::model::ModelResponse, ModelError> {
        Err(ModelError::Malformed("the agent has no model".into()))
    }
    async fn stream(&self, _: &ModelRequest) -> Result<crate::model::ModelStream, ModelError> {
        Err(ModelError::Malformed("the agent has no model".into()))
    }
}
