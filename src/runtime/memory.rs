//! What an agent's memories and summaries cost a run, and the durable jobs that do the work
//! after the response.
//!
//! Before a run: the user's memories, the session's summary and a reader of its earlier
//! messages (each only when the agent uses it) become the agent call's [`Recall`].
//!
//! After a completed run: a `memory` job (the memory manager reads the user's message, or
//! carries out the tasks the model gave through `update_user_memory`) and a
//! `session_summary` job (the session's summary made again) are stored with the run's final
//! state, in the same transaction, and run once the response is out, with the retries and
//! records of every job.

use super::jobs::{JobHandler, JobQueue, ReadyJob, Start};
use super::{COMMITTED_JOB_LEASE, history};
use crate::agent::{Agent, ChatHistory, Extras, Recall};
use crate::context::RunContext;
use crate::hooks::JobInfo;
use crate::memory::{MemoryDb, SessionSummary, UserMemory};
use crate::model::ChatMessage;
use crate::run::{Message, RunOutput, RunStatus, unix_millis};
use crate::store::{
    JobRecord, MemoryRecord, MemoryUpdate, NewJob, SessionUpdate, Store, topics_json,
};
use async_trait::async_trait;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The kind of a memory manager's job; its name is the agent's id.
pub(crate) const MEMORY_JOB_KIND: &str = "memory";
/// The kind of a session summary's job; its name is the agent's id.
pub(crate) const SUMMARY_JOB_KIND: &str = "session_summary";
/// The user whose memories a run that named none reads and writes (agno's).
pub(crate) const DEFAULT_USER: &str = "default";

/// A `memory` job's payload.
#[derive(Debug, Serialize, Deserialize)]
struct MemoryJob {
    agent_id: String,
    user_id: String,
    /// The user's message to learn from (after a run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    input: Option<String>,
    /// The tasks the model gave through `update_user_memory`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tasks: Vec<String>,
}

/// A `session_summary` job's payload.
#[derive(Debug, Serialize, Deserialize)]
struct SummaryJob {
    agent_id: String,
    session_id: String,
}

/// A job of this module to store with a run's final state.
pub(super) struct AfterRun {
    kind: &'static str,
    name: String,
    payload: String,
}

/// The memory's user: the run's, else agno's `default`.
fn user_of(ctx: &RunContext) -> &str {
    ctx.user_id.as_deref().unwrap_or(DEFAULT_USER)
}

/// What `agent` reads for its context before a run; `None` (and nothing read) for an agent
/// that uses no memory, summary or chat history.
pub(super) async fn recall(
    store: &Arc<dyn Store>,
    agent: &Agent,
    ctx: &RunContext,
) -> Option<Box<Recall>> {
    let extras = agent.extras()?;
    let memories_wanted = extras.memories_in_context();
    let summary_wanted = extras.summary_in_context();
    if !memories_wanted && !summary_wanted && !extras.read_chat_history {
        return None;
    }
    let memories = async {
        if !memories_wanted {
            return None;
        }
        Some(match store.user_memories(user_of(ctx)).await {
            Ok(memories) => memories.into_iter().map(|m| m.memory).collect(),
            Err(e) => {
                tracing::warn!(run = %ctx.run_id, error = %e, "cannot read the user's memories");
                Vec::new()
            }
        })
    };
    let summary = async {
        if !summary_wanted {
            return None;
        }
        match store.session_view(&ctx.session_id).await {
            Ok(view) => view
                .and_then(|v| v.summary)
                .and_then(|s| serde_json::from_str::<SessionSummary>(&s).ok())
                .map(|s| s.summary),
            Err(e) => {
                tracing::warn!(run = %ctx.run_id, error = %e, "cannot read the session summary");
                None
            }
        }
    };
    // Both reads at once.
    let (memories, summary) = tokio::join!(memories, summary);
    let mut recall = Recall {
        memories,
        summary,
        chat: None,
    };
    if extras.read_chat_history {
        recall.chat = Some(Arc::new(StoredChat {
            store: store.clone(),
            session_id: ctx.session_id.clone(),
            run_id: ctx.run_id.clone(),
        }));
    }
    Some(Box::new(recall))
}

/// The session's earlier messages, or its last `num_history_messages` when the agent counts
/// messages instead of runs.
pub(super) async fn history_for(
    store: &dyn Store,
    agent: &Agent,
    ctx: &RunContext,
) -> Vec<Message> {
    match agent.extras().and_then(|e| e.num_history_messages) {
        Some(0) => Vec::new(),
        Some(n) => {
            // Each earlier run gives two messages.
            let mut messages =
                history::history(store, &ctx.session_id, &ctx.run_id, n.div_ceil(2)).await;
            messages.split_off(messages.len().saturating_sub(n))
        }
        None => match agent.get_history_runs() {
            0 => Vec::new(),
            n => history::history(store, &ctx.session_id, &ctx.run_id, n).await,
        },
    }
}

/// The jobs a completed run of `agent` leaves: the memory manager's (the user's message, or
/// the model's tasks under agentic memory, as agno), and the session summary's.
pub(super) fn after_run(
    extras: &Extras,
    agent: &Agent,
    ctx: &RunContext,
    output: &RunOutput,
    memory_tasks: Vec<String>,
) -> Vec<AfterRun> {
    if output.status != RunStatus::Completed {
        return Vec::new();
    }
    let mut jobs = Vec::new();
    let input = &output.input.input_content;
    let memory = match extras.memory.agentic {
        true => (!memory_tasks.is_empty()).then_some((None, memory_tasks)),
        false => (extras.learns_after_runs() && !input.trim().is_empty())
            .then(|| (Some(input.clone()), Vec::new())),
    };
    if let Some((input, tasks)) = memory {
        let job = MemoryJob {
            agent_id: agent.id().to_owned(),
            user_id: user_of(ctx).to_owned(),
            input,
            tasks,
        };
        if let Ok(payload) = serde_json::to_string(&job) {
            jobs.push(AfterRun {
                kind: MEMORY_JOB_KIND,
                name: agent.id().to_owned(),
                payload,
            });
        }
    }
    if extras.summaries.enabled {
        let job = SummaryJob {
            agent_id: agent.id().to_owned(),
            session_id: ctx.session_id.clone(),
        };
        if let Ok(payload) = serde_json::to_string(&job) {
            jobs.push(AfterRun {
                kind: SUMMARY_JOB_KIND,
                name: agent.id().to_owned(),
                payload,
            });
        }
    }
    jobs
}

/// The rows of `jobs` for the run's final write, each stored claimed on a slot reserved now
/// when one is free (it starts once the response is out, without a claim of its own), else
/// pending and leased briefly to this process.
pub(super) fn new_jobs(
    jobs: Vec<AfterRun>,
    run_id: &str,
    dispatcher: &JobQueue,
    max_attempts: u32,
    trace_parent: Option<String>,
    due_at: i64,
) -> impl Iterator<Item = (NewJob, ReadyJob)> {
    jobs.into_iter().map(move |job| {
        let job_id = crate::run::new_row_id();
        let slot = dispatcher.reserve(&job.name, max_attempts);
        let lease_until = match slot {
            Some(_) => dispatcher.lease_until(),
            None => unix_millis() + COMMITTED_JOB_LEASE.as_millis() as i64,
        };
        let now = unix_millis();
        let start = slot.map(|slot| {
            let record = JobRecord {
                job_id: job_id.clone(),
                kind: job.kind.to_owned(),
                name: job.name.clone(),
                run_id: Some(run_id.to_owned()),
                payload: job.payload.clone(),
                status: "running".to_owned(),
                attempts: 1,
                max_attempts,
                outcome: None,
                last_error: None,
                attempt_errors: "[]".to_owned(),
                next_attempt_at: now,
                created_at: now,
                updated_at: now,
                trace_parent: trace_parent.clone(),
            };
            (slot, Start::Job(record))
        });
        let new = NewJob {
            job_id: job_id.clone(),
            kind: job.kind.into(),
            name: job.name,
            run_id: Some(run_id.to_owned()),
            payload: job.payload,
            max_attempts,
            lease_owner: dispatcher.owner().to_owned(),
            lease_until,
            claimed: start.is_some(),
            trace_parent: trace_parent.clone(),
        };
        let ready = ReadyJob {
            job_id,
            start,
            trace_parent: trace_parent.clone(),
            due_at,
        };
        (new, ready)
    })
}

/// Runs `memory` and `session_summary` jobs: the served agents' memory and summary managers,
/// on the store.
pub(super) struct MemoryJobs {
    pub store: Arc<dyn Store>,
    pub agents: Vec<Arc<Agent>>,
}

impl MemoryJobs {
    fn agent(&self, id: &str) -> Result<&Arc<Agent>, String> {
        self.agents
            .iter()
            .find(|a| a.id() == id)
            .ok_or_else(|| format!("no agent {id:?} is served any more"))
    }

    async fn memory(&self, job: &JobRecord) -> Result<(), String> {
        let payload: MemoryJob = serde_json::from_str(&job.payload)
            .map_err(|e| format!("unreadable memory job payload: {e}"))?;
        let agent = self.agent(&payload.agent_id)?;
        let model = agent
            .memory_model()
            .ok_or("the agent has no model for its memory manager")?;
        let manager = agent
            .extras()
            .and_then(|e| e.memory.manager.clone())
            .unwrap_or_default();
        let db = UserMemories {
            store: self.store.as_ref(),
            user_id: &payload.user_id,
            agent_id: agent.id(),
            input: payload
                .input
                .as_deref()
                .or(payload.tasks.first().map(String::as_str)),
        };
        if let Some(input) = &payload.input {
            let messages = vec![ChatMessage::new("user", input.clone())];
            manager.learn(model.as_ref(), &db, messages).await?;
        }
        for task in &payload.tasks {
            manager.run_task(model.as_ref(), &db, task).await?;
        }
        Ok(())
    }

    async fn summary(&self, job: &JobRecord) -> Result<(), String> {
        let payload: SummaryJob = serde_json::from_str(&job.payload)
            .map_err(|e| format!("unreadable summary job payload: {e}"))?;
        let agent = self.agent(&payload.agent_id)?;
        let model = agent
            .summary_model()
            .ok_or("the agent has no model for its session summaries")?;
        let manager = agent
            .extras()
            .and_then(|e| e.summaries.manager.clone())
            .unwrap_or_default();
        let mut runs = session_messages(self.store.as_ref(), &payload.session_id, "").await?;
        if let Some(n) = manager.runs_to_read() {
            runs = runs.split_off(runs.len().saturating_sub(n));
        }
        let conversation: Vec<Message> = runs.into_iter().flatten().collect();
        let Some(summary) = manager.summarize(model.as_ref(), &conversation).await? else {
            return Ok(());
        };
        let update = SessionUpdate {
            summary: Some(serde_json::to_string(&summary).map_err(|e| e.to_string())?),
            ..SessionUpdate::default()
        };
        self.store
            .update_session(&payload.session_id, &update)
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}

impl JobHandler for MemoryJobs {
    fn run<'a>(&'a self, job: &'a JobRecord, _: JobInfo) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            match job.kind.as_str() {
                MEMORY_JOB_KIND => self.memory(job).await,
                SUMMARY_JOB_KIND => self.summary(job).await,
                other => Err(format!("not a memory job: {other}")),
            }
        })
    }
}

/// The messages of each completed run of the session but `except`, oldest run first (without
/// system messages and earlier runs' history).
async fn session_messages(
    store: &dyn Store,
    session_id: &str,
    except: &str,
) -> Result<Vec<Vec<Message>>, String> {
    let runs = store
        .session_runs(session_id)
        .await
        .map_err(|e| e.to_string())?;
    Ok(runs
        .iter()
        .filter(|r| r.run_id != except && r.status == RunStatus::Completed)
        .filter_map(|r| serde_json::from_str::<RunOutput>(r.output.as_deref()?).ok())
        .map(|run| {
            run.messages
                .into_iter()
                .filter(|m| m.role != "system" && !m.from_history)
                .collect()
        })
        .collect())
}

/// The session's earlier messages, read from the store when the model asks.
struct StoredChat {
    store: Arc<dyn Store>,
    session_id: String,
    run_id: String,
}

#[async_trait]
impl ChatHistory for StoredChat {
    async fn messages(&self) -> Result<Vec<Message>, String> {
        let runs = session_messages(self.store.as_ref(), &self.session_id, &self.run_id).await?;
        Ok(runs.into_iter().flatten().collect())
    }
}

/// One user's memories in the store, as the memory manager changes them: new ones are the
/// agent's, learned from `input`.
struct UserMemories<'a> {
    store: &'a dyn Store,
    user_id: &'a str,
    agent_id: &'a str,
    input: Option<&'a str>,
}

#[async_trait]
impl MemoryDb for UserMemories<'_> {
    async fn memories(&self) -> Result<Vec<UserMemory>, String> {
        let rows = self
            .store
            .user_memories(self.user_id)
            .await
            .map_err(|e| e.to_string())?;
        Ok(rows
            .into_iter()
            .map(|m| UserMemory {
                topics: m.topic_list(),
                memory_id: m.memory_id,
                memory: m.memory,
            })
            .collect())
    }

    async fn add(&self, memory: &str, topics: &[String]) -> Result<(), String> {
        let mut row = MemoryRecord::new(self.user_id, memory, topics);
        row.agent_id = Some(self.agent_id.to_owned());
        row.input = self.input.map(str::to_owned);
        self.store
            .insert_memory(&row)
            .await
            .map_err(|e| e.to_string())
    }

    async fn update(
        &self,
        memory_id: &str,
        memory: &str,
        topics: Option<&[String]>,
    ) -> Result<bool, String> {
        let update = MemoryUpdate {
            memory: memory.to_owned(),
            topics: topics.map(topics_json),
            input: self.input.map(str::to_owned),
        };
        let updated = self
            .store
            .update_memory(memory_id, Some(self.user_id), &update)
            .await
            .map_err(|e| e.to_string())?;
        Ok(updated.is_some())
    }

    async fn delete(&self, memory_id: &str) -> Result<bool, String> {
        let ids = [memory_id.to_owned()];
        let deleted = self
            .store
            .delete_memories(&ids, Some(self.user_id))
            .await
            .map_err(|e| e.to_string())?;
        Ok(deleted > 0)
    }

    async fn clear(&self) -> Result<(), String> {
        self.store
            .clear_user_memories(self.user_id)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }
}
