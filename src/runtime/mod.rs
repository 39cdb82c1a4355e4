//! The runtime: the registry of served components, the run manager (a run is a task the
//! runtime owns; an HTTP request only subscribes to it), the hook dispatcher, recovery after a
//! crash, and graceful shutdown.
//!
//! - `request.rs`: what the wire hands in and gets back;
//! - `start.rs`: a run's first write and its task; `task.rs`: the task itself;
//! - `recovery.rs`: what a dead process left; `lease.rs`: the owner lease of a shared store;
//! - `checkpoint.rs`, `state.rs`, `history.rs`: a run's checkpoints, session state and history;
//! - `cancel.rs`: cancel switches; `jobs.rs`: the durable job queue (background hooks and
//!   other kinds); `flush.rs`: journals.

mod cancel;
mod checkpoint;
mod component;
mod flush;
mod history;
mod hook_payload;
pub(crate) mod jobs;
pub(crate) mod knowledge;
pub(crate) mod lease;
mod memory;
mod recovery;
mod request;
mod start;
mod state;
mod task;
pub(crate) mod telemetry;
mod trace_rows;

pub(crate) use cancel::{CancelSwitches, cancel_requested_here};
pub(crate) use request::{ResponseGuard, RunHandle, RunRequest, RunResult, StartError, Started};

use crate::agent::Agent;
use crate::event::journal::Journal;
use crate::kind::ComponentKind;
use crate::knowledge::Knowledge;
use crate::store::{ResumableRun, Store};
use crate::team::Team;
use crate::workflow::Workflow;
pub(crate) use component::Component;
use jobs::JobQueue;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long a finished run waits for its HTTP response to be written before it releases its
/// background hooks anyway (as long as their lease: after that the sweep may take them).
const RESPONSE_WAIT: Duration = COMMITTED_JOB_LEASE;
/// How long a committed hook job stays leased to the process that wrote it. Long enough for
/// the response to be written (milliseconds, normally), short enough that a job this process
/// has no free slot for is soon taken by the sweep without a second write to release it.
const COMMITTED_JOB_LEASE: Duration = Duration::from_secs(5);
/// The error recorded on runs a dead process left unfinished.
pub(crate) const INTERRUPTED: &str = "interrupted: server restarted";
/// Events buffered between a run and a slow SSE client before the run waits for it.
const EVENT_BUFFER: usize = 256;

pub(crate) struct Runtime {
    pub os_id: String,
    pub db_id: String,
    pub workflows: Vec<Arc<Workflow>>,
    pub agents: Vec<Arc<Agent>>,
    /// The knowledge bases served (`/knowledge`), each searching the store.
    pub knowledge: Vec<Knowledge>,
    pub teams: Vec<Arc<Team>>,
    pub store: Arc<dyn Store>,
    pub hooks_in_background: bool,
    pub instantiated_at: String,
    dispatcher: JobQueue,
    max_attempts: u32,
    idempotency_ttl: Duration,
    /// Every run's task.
    runs: TaskTracker,
    /// Everything else the runtime starts: the owner lease, the cancel listener, the resumer
    /// of dead replicas' runs, journals' flushers and retention timers.
    background: TaskTracker,
    /// Cancelled at shutdown: background tasks stop.
    stopping: CancellationToken,
    lease: lease::OwnerLease,
    lease_settings: lease::LeaseSettings,
    /// Background runs of dead replicas the lease claimed, to resume here.
    orphans: Mutex<Option<mpsc::UnboundedReceiver<ResumableRun>>>,
    /// The cancel switch of every run executing in this process, by run id.
    active: CancelSwitches,
    /// The journals of resumable runs executing here or recently finished, by run id.
    journals: task::Journals,
    /// Spans (their route and export) and Prometheus metrics.
    pub telemetry: telemetry::Telemetry,
}

pub(crate) struct RuntimeParts {
    pub os_id: String,
    pub db_id: String,
    pub workflows: Vec<Arc<Workflow>>,
    pub agents: Vec<Arc<Agent>>,
    pub knowledge: Vec<Knowledge>,
    pub teams: Vec<Arc<Team>>,
    pub store: Arc<dyn Store>,
    pub hooks_in_background: bool,
    pub hooks: HashMap<String, crate::hooks::Hook>,
    pub hook_settings: jobs::HookSettings,
    pub idempotency_ttl: Duration,
    pub lease_settings: lease::LeaseSettings,
    pub telemetry: telemetry::Telemetry,
}

/// The handlers of the memory manager's and the session summaries' jobs.
fn memory_handlers(
    store: &Arc<dyn Store>,
    agents: &[Arc<Agent>],
) -> HashMap<&'static str, Arc<dyn jobs::JobHandler>> {
    let handler: Arc<dyn jobs::JobHandler> = Arc::new(memory::MemoryJobs {
        store: store.clone(),
        agents: agents.to_vec(),
    });
    HashMap::from([
        (memory::MEMORY_JOB_KIND, handler.clone()),
        (memory::SUMMARY_JOB_KIND, handler),
    ])
}

impl Runtime {
    pub(crate) fn new(parts: RuntimeParts) -> Runtime {
        let max_attempts = parts.hook_settings.max_attempts.max(1);
        let mut handlers = memory_handlers(&parts.store, &parts.agents);
        if !parts.knowledge.is_empty() {
            for kb in &parts.knowledge {
                kb.attach_index(Arc::new(knowledge::StoreIndex(parts.store.clone())));
            }
            let ingestion = knowledge::Ingestion::new(
                parts.store.clone(),
                &parts.knowledge,
                parts.hook_settings.timeout,
            );
            handlers.insert(knowledge::KNOWLEDGE_JOB_KIND, Arc::new(ingestion));
        }
        Runtime {
            os_id: parts.os_id,
            db_id: parts.db_id,
            workflows: parts.workflows,
            agents: parts.agents,
            knowledge: parts.knowledge,
            teams: parts.teams,
            dispatcher: JobQueue::new(
                parts.store.clone(),
                parts.hooks,
                handlers,
                parts.hook_settings,
            )
            .with_telemetry(parts.telemetry.route, parts.telemetry.metrics.clone()),
            store: parts.store,
            hooks_in_background: parts.hooks_in_background,
            instantiated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            max_attempts,
            idempotency_ttl: parts.idempotency_ttl,
            runs: TaskTracker::new(),
            background: TaskTracker::new(),
            stopping: CancellationToken::new(),
            lease: lease::OwnerLease::default(),
            orphans: Mutex::default(),
            lease_settings: parts.lease_settings,
            active: Arc::default(),
            journals: Arc::default(),
            telemetry: parts.telemetry,
        }
    }

    /// Runs `task` on the runtime's background tracker (it stops at shutdown with the rest).
    pub(crate) fn spawn_background<F>(&self, task: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.background.spawn(task);
    }

    /// The runs executing in this process now.
    pub(crate) fn runs_in_flight(&self) -> usize {
        self.active.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// The in-memory journal of a resumable run, if it is executing here or ended recently.
    pub(crate) fn journal(&self, run_id: &str) -> Option<Arc<Journal>> {
        self.journals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(run_id)
            .cloned()
    }

    /// A workflow by id.
    pub(crate) fn workflow(&self, id: &str) -> Option<&Arc<Workflow>> {
        self.workflows.iter().find(|w| w.id() == id)
    }

    /// An agent by id.
    pub(crate) fn agent(&self, id: &str) -> Option<&Arc<Agent>> {
        self.agents.iter().find(|a| a.id() == id)
    }

    /// A team by id.
    pub(crate) fn team(&self, id: &str) -> Option<&Arc<Team>> {
        self.teams.iter().find(|t| t.get_id() == id)
    }

    /// The component of `kind` with this id, if served.
    fn component(&self, kind: ComponentKind, id: &str) -> Option<Component> {
        match kind {
            ComponentKind::Workflow => self.workflow(id).cloned().map(Component::Workflow),
            ComponentKind::Agent => self.agent(id).cloned().map(Component::Agent),
            ComponentKind::Team => self.team(id).cloned().map(Component::Team),
        }
    }

    /// The ids served of `kind`, in the order they were added (for messages that name them).
    pub(crate) fn ids(&self, kind: ComponentKind) -> Vec<&str> {
        match kind {
            ComponentKind::Workflow => self.workflows.iter().map(|w| w.id()).collect(),
            ComponentKind::Agent => self.agents.iter().map(|a| a.id()).collect(),
            ComponentKind::Team => self.teams.iter().map(|t| t.get_id()).collect(),
        }
    }

    /// Starts the toolkits of every agent served, on its own, as a step or in a team (leaders
    /// too), on the background tracker (MCP connections): they stop at shutdown, after the runs.
    /// Waits (up to `limit`) until each has made its first attempt, so that the first runs are
    /// offered their tools; a toolkit whose server is down does not hold the OS back longer.
    pub(crate) async fn start_toolkits(&self, limit: Duration) {
        // A workflow's agents include its team steps' members; their leaders come with the
        // served teams' leaders and members.
        let step_agents = self.workflows.iter().flat_map(|w| w.agents());
        let step_leaders = self
            .workflows
            .iter()
            .flat_map(|w| w.teams())
            .flat_map(|t| t.leaders());
        let team_agents: Vec<&Agent> = self
            .teams
            .iter()
            .flat_map(|t| t.leaders().into_iter().chain(t.agents()))
            .chain(step_leaders)
            .collect();
        let mut settled = Vec::new();
        let agents = self.agents.iter().map(|a| a.as_ref()).chain(step_agents);
        for agent in agents.chain(team_agents) {
            for toolkit in agent.toolkits() {
                toolkit.start(&self.background, &self.stopping);
                settled.push(toolkit.settled());
            }
        }
        if !settled.is_empty()
            && tokio::time::timeout(limit, futures::future::join_all(settled))
                .await
                .is_err()
        {
            tracing::warn!(
                "some toolkits did not answer within {limit:?}; serving without their tools until they do"
            );
        }
    }

    /// Shuts down in order: in-flight runs finish, then pending background hooks drain (up to
    /// `deadline`), then background tasks stop and the database closes.
    pub(crate) async fn shutdown(&self, deadline: Duration) {
        self.runs.close();
        if tokio::time::timeout(deadline, self.runs.wait())
            .await
            .is_err()
        {
            tracing::warn!("in-flight runs did not finish within {deadline:?}");
        }
        if !self.dispatcher.drain(deadline).await {
            tracing::warn!(
                "background hooks did not drain within {deadline:?}; they stay pending in the jobs table"
            );
        }
        self.lease.stop().await;
        self.stopping.cancel();
        self.background.close();
        if tokio::time::timeout(deadline, self.background.wait())
            .await
            .is_err()
        {
            tracing::warn!("background tasks did not stop within {deadline:?}");
        }
        self.telemetry.stop();
        self.store.close().await;
    }
}
