//! The names most programs need, without any that collide with axum's or tokio's:
//! `use agentos::prelude::*;` next to `use axum::Router;` compiles.
//!
//! The workflow construct agno calls `Router` is here as [`StepRouter`] (at the crate root it
//! keeps agno's name, [`crate::Router`]).
//!
//! ```no_run
//! use agentos::prelude::*;
//! use axum::Router;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let agent = Agent::new("Assistant").model(ScriptedModel::new());
//! let os = AgentOs::new().agent(agent);
//! let app: Router = Router::new().nest("/ai", os.router().await?);
//! # let _ = app;
//! # Ok(())
//! # }
//! ```

pub use crate::model::OpenAIEmbedder;
pub use crate::workflow::Router as StepRouter;
pub use crate::{
    Agent, AgentOs, ComponentKind, Condition, Hook, HookContext, HookError, Instructions,
    Knowledge, Loop, MemoryManager, MetadataFilter, Model, NoArgs, OnError, OpenAIChat, OsError,
    Parallel, RunContext, RunEvent, RunOutput, RunStatus, SearchType, SessionState,
    SessionSummaryManager, SqliteDb, Step, StepInput, StepOutput, Steps, Tool, ToolContext,
    ToolError, Workflow, WorkflowRunOutput, tool_fn,
};
#[cfg(feature = "scripted")]
pub use crate::{ScriptedModel, ScriptedReply, model::HashEmbedder};
