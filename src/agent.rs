//! [`Agent`]: a model with instructions and hooks, and the agent loop that runs it once.

mod conversation;

use crate::event::{AgentContext, EventSink, RunEvent};
use crate::hooks::{AgentInfo, Hook, HookContext, HookError, IntoHook, call_contained};
use crate::model::{Model, ModelError, ModelRequest, Usage};
use crate::output::OutputSchema;
use crate::run::{Message, ModelMetrics, RunInput, RunMetrics, RunOutput, RunStatus, unix_seconds};
use crate::tool::{AgentTool, IntoTool};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

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
    instructions: Option<String>,
    pre_hooks: Vec<Hook>,
    post_hooks: Vec<Hook>,
    history_runs: usize,
    tools: Vec<AgentTool>,
    /// Boxed: an `Agent` is a workflow step, and steps should stay small.
    loop_settings: Box<LoopSettings>,
}

/// How an agent talks to its model: the tool loop's limits, the output type and the request
/// settings.
#[derive(Clone)]
struct LoopSettings {
    tool_choice: Option<Value>,
    max_tool_rounds: usize,
    tool_timeout: Duration,
    output_schema: Option<OutputSchema>,
    temperature: Option<f64>,
    max_tokens: Option<u32>,
    request_fields: Map<String, Value>,
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
            history_runs: crate::runtime::HISTORY_RUNS,
            tools: Vec::new(),
            loop_settings: Box::new(LoopSettings {
                tool_choice: None,
                max_tool_rounds: DEFAULT_MAX_TOOL_ROUNDS,
                tool_timeout: DEFAULT_TOOL_TIMEOUT,
                output_schema: None,
                temperature: None,
                max_tokens: None,
                request_fields: Map::new(),
            }),
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

    /// The system message.
    pub fn instructions(mut self, instructions: impl Into<String>) -> Agent {
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

    /// agno's `AgentResponse.tools`: `{"tools": [{name, description, parameters}],
    /// "tool_choice"?}`, or `None` without tools.
    pub(crate) fn tools_info(&self) -> Option<Value> {
        if self.tools.is_empty() {
            return None;
        }
        let tools: Vec<Value> = self
            .tools
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

/// Where an agent run sits inside a workflow run.
#[derive(Debug, Clone)]
pub(crate) struct StepPlace {
    pub workflow_id: String,
    pub workflow_run_id: String,
    pub step_id: String,
    pub step_name: String,
    pub step_index: usize,
}

/// The request-level facts an agent run needs.
#[derive(Debug, Clone)]
pub(crate) struct AgentRunParams {
    pub input: String,
    pub session_id: String,
    pub user_id: Option<String>,
    pub extra: Map<String, Value>,
    pub metadata: Option<Map<String, Value>>,
    pub place: Option<StepPlace>,
    /// AgentOs-wide `run_hooks_in_background`.
    pub hooks_in_background: bool,
    /// The run id to use (a top-level run's id is chosen by the runtime); a new one if `None`.
    pub run_id: Option<String>,
    /// Earlier turns of the session, sent between the system message and the input.
    pub history: Vec<Message>,
    /// Images uploaded with the run (data URLs), sent with the input.
    pub images: Vec<String>,
    /// Text documents uploaded with the run, sent after the input.
    pub documents: Vec<crate::runtime::Document>,
    /// Stops the run (cooperatively) when cancelled.
    pub cancel: CancellationToken,
    /// A run of its own (not a workflow step): its last event (`RunCompleted`, `RunError`,
    /// `RunCancelled`) is left to the runtime, which sends it once the run is stored.
    pub top_level: bool,
}

/// A hook to run after the response, with the context it will get.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct DeferredHook {
    pub hook_name: String,
    pub ctx: HookContext,
    /// The hook's own attempt limit, if it has one.
    pub max_attempts: Option<u32>,
}

/// Why an agent run failed.
#[derive(Debug, Clone)]
pub(crate) struct AgentFailure {
    pub message: String,
    /// agno's `error_type`: `input_check_error`, `output_check_error`, `model_error`.
    pub error_type: &'static str,
    pub error_id: Option<String>,
}

impl AgentFailure {
    /// True when a guardrail rejected the client's input.
    pub(crate) fn is_input_rejection(&self) -> bool {
        self.error_type == "input_check_error"
    }
}

/// What one agent run leaves behind.
#[derive(Debug)]
pub(crate) struct AgentRunResult {
    pub output: RunOutput,
    pub failure: Option<AgentFailure>,
    pub deferred: Vec<DeferredHook>,
}

impl Agent {
    /// Runs the agent once: pre-hooks, the model call (streamed when someone listens),
    /// post-hooks; emits agno's agent events in agno's order.
    pub(crate) async fn run(
        &self,
        params: &AgentRunParams,
        sink: &mut EventSink,
    ) -> AgentRunResult {
        let started = Instant::now();
        let run_id = params
            .run_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        // `AgentOs` refuses agents without a model at build time; `NoModel` keeps this total.
        let model = self.model.clone().unwrap_or_else(|| Arc::new(NoModel));
        let actx = Arc::new(AgentContext {
            created_at: unix_seconds(),
            agent_id: self.id.clone(),
            agent_name: self.name.clone(),
            run_id: run_id.clone(),
            session_id: params.session_id.clone(),
            workflow_id: params.place.as_ref().map(|p| p.workflow_id.clone()),
            workflow_run_id: params.place.as_ref().map(|p| p.workflow_run_id.clone()),
            step_id: params.place.as_ref().map(|p| p.step_id.clone()),
            step_name: params.place.as_ref().map(|p| p.step_name.clone()),
            step_index: params.place.as_ref().map(|p| p.step_index),
            nested_depth: 0,
        });
        let mut hook_ctx = HookContext {
            agent: AgentInfo {
                id: self.id.clone(),
                name: self.name.clone(),
            },
            run_id: run_id.clone(),
            workflow_id: actx.workflow_id.clone(),
            workflow_run_id: actx.workflow_run_id.clone(),
            session_id: params.session_id.clone(),
            user_id: params.user_id.clone(),
            run_input: RunInput {
                input_content: params.input.clone(),
            },
            run_output: None,
            extra: params.extra.clone(),
            metadata: params.metadata.clone(),
            job: None,
        };
        let mut output = RunOutput {
            run_id,
            agent_id: self.id.clone(),
            agent_name: self.name.clone(),
            session_id: params.session_id.clone(),
            parent_run_id: actx.workflow_run_id.clone(),
            workflow_id: actx.workflow_id.clone(),
            workflow_step_id: actx.step_id.clone(),
            user_id: params.user_id.clone(),
            content: Value::String(String::new()),
            content_type: "str".to_owned(),
            model: model.id().to_owned(),
            model_provider: model.provider().to_owned(),
            created_at: actx.created_at,
            status: RunStatus::Running,
            metrics: RunMetrics::default(),
            messages: Vec::new(),
            tools: Vec::new(),
            input: hook_ctx.run_input.clone(),
        };
        let mut deferred = Vec::new();

        sink.emit(|| RunEvent::RunStarted {
            ctx: actx.clone(),
            model: output.model.clone(),
            model_provider: output.model_provider.clone(),
        })
        .await;

        if let Err(failure) = self
            .run_hooks(true, params, &hook_ctx, &actx, sink, &mut deferred)
            .await
        {
            return fail(output, failure, deferred, &actx, sink, started, params).await;
        }
        if params.cancel.is_cancelled() {
            return cancelled(output, deferred, &actx, sink, started, params).await;
        }

        let mut messages = self.initial_messages(params);
        let answer = self
            .converse(
                model.as_ref(),
                &mut messages,
                &mut output,
                &actx,
                sink,
                params,
            )
            .await;
        // The run's record keeps its own turn; the history is the earlier runs'.
        messages.retain(|m| !m.from_history);
        output.messages = messages;
        let conversation::Answer {
            content,
            usage,
            ttft,
        } = match answer {
            Ok(answer) => answer,
            Err(conversation::Stop::Cancelled(partial)) => {
                output.content = Value::String(partial);
                return cancelled(output, deferred, &actx, sink, started, params).await;
            }
            Err(conversation::Stop::Failed(failure)) => {
                return fail(output, failure, deferred, &actx, sink, started, params).await;
            }
        };
        sink.emit(|| RunEvent::RunContentCompleted { ctx: actx.clone() })
            .await;

        output.content = content;
        if let Some(schema) = &self.loop_settings.output_schema {
            output.content_type = schema.format.name.clone();
        }
        output.status = RunStatus::Completed;
        output.metrics = metrics(&output, usage, ttft, started);
        hook_ctx.run_output = Some(output.clone());

        if let Err(failure) = self
            .run_hooks(false, params, &hook_ctx, &actx, sink, &mut deferred)
            .await
        {
            return fail(output, failure, deferred, &actx, sink, started, params).await;
        }
        output.metrics.duration = Some(started.elapsed().as_secs_f64());
        if !params.top_level {
            sink.emit(|| RunEvent::RunCompleted {
                ctx: actx.clone(),
                content: output.content.clone(),
                content_type: output.content_type.clone(),
                metrics: output.metrics.clone(),
            })
            .await;
        }
        AgentRunResult {
            output,
            failure: None,
            deferred,
        }
    }

    /// Runs the pre-hooks (`pre == true`) or post-hooks in order. Deferred hooks are collected;
    /// inline ones run now. A check error stops the run; any other failure is logged.
    async fn run_hooks(
        &self,
        pre: bool,
        params: &AgentRunParams,
        ctx: &HookContext,
        actx: &Arc<AgentContext>,
        sink: &mut EventSink,
        deferred: &mut Vec<DeferredHook>,
    ) -> Result<(), AgentFailure> {
        let hooks = if pre {
            &self.pre_hooks
        } else {
            &self.post_hooks
        };
        for hook in hooks {
            if hook.deferred(params.hooks_in_background) {
                deferred.push(DeferredHook {
                    hook_name: hook.name().to_owned(),
                    ctx: ctx.clone(),
                    max_attempts: hook.attempt_limit(),
                });
                continue;
            }
            let name = hook.name().to_owned();
            sink.emit(|| match pre {
                true => RunEvent::PreHookStarted {
                    ctx: actx.clone(),
                    pre_hook_name: name.clone(),
                },
                false => RunEvent::PostHookStarted {
                    ctx: actx.clone(),
                    post_hook_name: name.clone(),
                },
            })
            .await;
            match call_contained(hook, ctx.clone()).await {
                Ok(()) => {
                    sink.emit(|| match pre {
                        true => RunEvent::PreHookCompleted {
                            ctx: actx.clone(),
                            pre_hook_name: name.clone(),
                        },
                        false => RunEvent::PostHookCompleted {
                            ctx: actx.clone(),
                            post_hook_name: name.clone(),
                        },
                    })
                    .await;
                }
                Err(HookError::InputCheck {
                    message,
                    check_trigger,
                }) => {
                    return Err(AgentFailure {
                        message,
                        error_type: "input_check_error",
                        error_id: Some(check_trigger),
                    });
                }
                Err(HookError::OutputCheck {
                    message,
                    check_trigger,
                }) => {
                    return Err(AgentFailure {
                        message,
                        error_type: "output_check_error",
                        error_id: Some(check_trigger),
                    });
                }
                Err(HookError::Failed(e)) => {
                    tracing::warn!(hook = %name, agent = %self.name, error = %e, "hook failed");
                }
            }
        }
        Ok(())
    }
}

fn metrics(output: &RunOutput, usage: Usage, ttft: Option<f64>, started: Instant) -> RunMetrics {
    let total = usage.input_tokens + usage.output_tokens;
    let mut m = RunMetrics {
        input_tokens: usage.input_tokens,
        output_tokens: usage.output_tokens,
        total_tokens: total,
        time_to_first_token: ttft,
        duration: Some(started.elapsed().as_secs_f64()),
        details: Default::default(),
    };
    m.details.insert(
        "model".to_owned(),
        vec![ModelMetrics {
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
            total_tokens: total,
            id: output.model.clone(),
            provider: output.model_provider.clone(),
        }],
    );
    m
}

async fn fail(
    mut output: RunOutput,
    failure: AgentFailure,
    deferred: Vec<DeferredHook>,
    actx: &Arc<AgentContext>,
    sink: &mut EventSink,
    started: Instant,
    params: &AgentRunParams,
) -> AgentRunResult {
    output.status = RunStatus::Error;
    output.content = Value::String(failure.message.clone());
    output.metrics.duration = Some(started.elapsed().as_secs_f64());
    if !params.top_level {
        sink.emit(|| RunEvent::RunError {
            ctx: actx.clone(),
            content: failure.message.clone(),
            error_type: Some(failure.error_type.to_owned()),
            error_id: failure.error_id.clone(),
        })
        .await;
    }
    AgentRunResult {
        output,
        failure: Some(failure),
        deferred,
    }
}

/// Ends a cancelled run: status CANCELLED, the partial content kept (agno puts the reason in
/// `content` when there is none), no post-hooks.
async fn cancelled(
    mut output: RunOutput,
    deferred: Vec<DeferredHook>,
    actx: &Arc<AgentContext>,
    sink: &mut EventSink,
    started: Instant,
    params: &AgentRunParams,
) -> AgentRunResult {
    let reason = crate::runtime::cancel_reason(&output.run_id);
    output.status = RunStatus::Cancelled;
    if output.content.as_str().is_some_and(str::is_empty) {
        output.content = Value::String(reason.clone());
    }
    output.metrics.duration = Some(started.elapsed().as_secs_f64());
    if !params.top_level {
        sink.emit(|| RunEvent::RunCancelled {
            ctx: actx.clone(),
            reason,
        })
        .await;
    }
    AgentRunResult {
        output,
        failure: None,
        deferred,
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
