//! # agentos
//!
//! An agent-orchestration server and library that speaks agno AgentOS's HTTP protocol: agno's
//! clients work against it unmodified. Workflows run their steps in order, each an agent
//! calling an OpenAI-compatible model; results come back as JSON or SSE; post-hooks run in the
//! background after the response, as durable jobs; runs persist in SQLite.
//!
//! ```no_run
//! use agentos::{Agent, AgentOs, HookContext, HookError, OpenAIChat, SqliteDb, Workflow};
//!
//! async fn log_step_completion(ctx: HookContext) -> Result<(), HookError> {
//!     println!("[Background Hook] Agent '{}' completed step", ctx.agent.name);
//!     Ok(())
//! }
//!
//! # async fn run() -> Result<(), agentos::OsError> {
//! let analyzer = Agent::new("Analyzer")
//!     .model(OpenAIChat::new("gpt-5.2"))
//!     .instructions("Analyze the input and identify key points.")
//!     .post_hook(log_step_completion);
//! let workflow = Workflow::new("analysis-workflow")
//!     .name("AnalysisWorkflow")
//!     .steps([analyzer])
//!     .db(SqliteDb::new("tmp/workflow.db"));
//! AgentOs::new()
//!     .workflow(workflow)
//!     .run_hooks_in_background(true)
//!     .serve("127.0.0.1:7777")
//!     .await
//! # }
//! ```
#![warn(missing_docs)]

mod agent;
mod context;
mod db;
mod event;
mod hooks;
mod http;
mod kind;
mod knowledge;
mod mcp;
mod memory;
pub mod model;
mod os;
mod outcome;
mod output;
pub mod prelude;
mod retrieval;
mod run;
mod runtime;
pub mod store;
mod team;
pub mod telemetry;
mod tool;
mod workflow;

pub use agent::{Agent, Instructions};
pub use context::{Document, Media, Principal, RunContext, SessionState};
pub use db::{DbConfig, DbConfigError, SqliteDb};
pub use event::{AgentContext, RunEvent, StepIndex, WorkflowContext};
pub use hooks::{AgentInfo, Hook, HookContext, HookError, IntoHook, JobInfo};
pub use http::{JwtConfig, RateLimit};
pub use kind::{ComponentKind, UnknownKind};
pub use knowledge::{
    Chunking, Knowledge, KnowledgeAttachment, KnowledgeError, KnowledgeIndex, Reader, Section,
    Source,
};
pub use mcp::McpTools;
pub use memory::{MemoryManager, SessionSummary, SessionSummaryManager};
pub use model::{Model, ModelError, ModelRequest, OpenAIChat, RetryPolicy};
#[cfg(feature = "scripted")]
pub use model::{ScriptedModel, ScriptedReply};
pub use os::{AgentOs, OsError, shutdown_signal};
pub use retrieval::{MetadataFilter, RRF_K, SearchHit, SearchType, fuse_rrf, query_words};
pub use run::{
    ChildRun, Message, ModelMetrics, RunInput, RunMetrics, RunOutput, RunStatus, StepMetrics,
    StepOutput, TeamRunOutput, WorkflowMetrics, WorkflowRunOutput,
};
pub use run::{ToolCallMetrics, ToolExecution};
pub use team::{Member, Team, TeamMode};
pub use tool::{
    AgentTool, FnTool, IntoTool, JsonTool, NoArgs, Tool, ToolContext, ToolError, ToolFn, Toolkit,
    tool_fn,
};
pub use workflow::{
    Condition, Loop, OnError, Parallel, Router, Step, StepError, StepInput, StepKind, Steps,
    Workflow,
};
