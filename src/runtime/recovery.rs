//! Taking over what a dead process left: at startup on an exclusive store (SQLite), through
//! the owner lease on a shared one (Postgres); background runs resume from their checkpoint.

use super::request::RunRequest;
use super::{INTERRUPTED, Runtime, cancel::cancel_requested_here};
use crate::kind::ComponentKind;
use crate::run::RunStatus;
use crate::store::{ResumableRun, StoreError};
use crate::workflow::WorkflowCall;
use futures::StreamExt;
use std::sync::Arc;
use tokio::sync::mpsc;

impl Runtime {
    /// Takes over what a dead process left (on an exclusive store only: on a shared one it may
    /// be another replica's, and leases expire instead): runs still RUNNING or PENDING end
    /// ERROR and hook job leases are released. On a shared store the owner lease starts
    /// instead (`lease.rs`): dead replicas' work is reconciled periodically. Then the hook
    /// sweep starts.
    pub(crate) async fn recover(&self) -> Result<(), StoreError> {
        let mut resumable = Vec::new();
        if !self.store.exclusive() {
            let (orphans_tx, orphans) = mpsc::unbounded_channel();
            *self.orphans.lock().unwrap_or_else(|e| e.into_inner()) = Some(orphans);
            self.lease
                .start(
                    self.store.clone(),
                    self.lease_settings,
                    orphans_tx,
                    self.active.clone(),
                    &self.background,
                )
                .await?;
        } else {
            resumable = self.store.resumable_runs().await?;
            let n = self.store.fail_interrupted_runs(INTERRUPTED).await?;
            if n > 0 {
                tracing::warn!("{n} run(s) left unfinished by a previous process marked ERROR");
            }
            let n = self.store.release_all_leases().await?;
            if n > 0 {
                tracing::info!("{n} hook job(s) left by a previous process are due again");
            }
        }
        self.telemetry.start(&self.background, &self.stopping);
        self.dispatcher.start().await;
        if let Some(mut requests) = self.store.cancel_requests().await? {
            let active = self.active.clone();
            let stopping = self.stopping.clone();
            self.background.spawn(async move {
                loop {
                    let run_id = tokio::select! {
                        run_id = requests.next() => run_id,
                        () = stopping.cancelled() => None,
                    };
                    let Some(run_id) = run_id else { return };
                    cancel_requested_here(&active, &run_id, "NOTIFY");
                }
            });
        }
        for run in resumable {
            self.resume_or_fail(run).await?;
        }
        Ok(())
    }

    /// Resumes a background run left by a dead process; if it cannot be (its workflow is no
    /// longer served, its request is unreadable), ends it ERROR.
    async fn resume_or_fail(&self, run: ResumableRun) -> Result<(), StoreError> {
        let run_id = run.run.run_id.clone();
        match self.resume(run) {
            Ok(()) => {
                tracing::info!(run = %run_id, "resuming a background run left unfinished");
                Ok(())
            }
            Err(e) => {
                tracing::warn!(run = %run_id, error = %e, "cannot resume a background run");
                let error = format!("{INTERRUPTED} ({e})");
                let output = serde_json::json!({"run_id": run_id, "status": RunStatus::Error, "content": error});
                self.store
                    .finish_run(
                        &run_id,
                        RunStatus::Error,
                        &output.to_string(),
                        Some(&error),
                        Vec::new(),
                    )
                    .await
            }
        }
    }

    /// On a shared store: resumes the background runs the owner lease claims from dead
    /// replicas, as they come (until shutdown stops the lease).
    pub(crate) fn start_resuming_orphans(self: &Arc<Runtime>) {
        let orphans = self
            .orphans
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let Some(mut orphans) = orphans else { return };
        // The task holds the runtime only weakly: the runtime's own tracker must not keep it
        // alive.
        let runtime = Arc::downgrade(self);
        let stopping = self.stopping.clone();
        self.background.spawn(async move {
            loop {
                let run = tokio::select! {
                    run = orphans.recv() => run,
                    () = stopping.cancelled() => None,
                };
                let (Some(run), Some(runtime)) = (run, runtime.upgrade()) else {
                    return;
                };
                if let Err(e) = runtime.resume_or_fail(run).await {
                    tracing::error!(error = %e, "cannot resume or fail a dead replica's run");
                }
            }
        });
    }

    /// Resumes a background run a dead process left: from its last checkpoint (the steps that
    /// finished are not run again), with its journal's stored events, under its own id.
    fn resume(&self, resumable: ResumableRun) -> Result<(), String> {
        let ResumableRun {
            run,
            request,
            checkpoint,
        } = resumable;
        let req: RunRequest = serde_json::from_str(&request).map_err(|e| e.to_string())?;
        let component = self
            .component(run.component_type, &run.component_id)
            .ok_or_else(|| {
                format!(
                    "{} {} is no longer served",
                    run.component_type, run.component_id
                )
            })?;
        let (mut resume_from, mut team_resume) = (None, None);
        match (component.kind(), checkpoint) {
            (ComponentKind::Workflow, Some(c)) => {
                resume_from = Some(Box::new(
                    serde_json::from_str(&c).map_err(|e| e.to_string())?,
                ));
            }
            (ComponentKind::Team, Some(c)) => {
                team_resume = Some(Box::new(
                    serde_json::from_str(&c).map_err(|e| e.to_string())?,
                ));
            }
            _ => {}
        }
        let stream = req.stream;
        let (input, ctx) = req.into_context(
            run.run_id.clone(),
            run.session_id.clone(),
            run.created_at / 1000,
            self.hooks_in_background,
        );
        let call = WorkflowCall {
            input,
            checkpoint: None,
            resume_from,
        };
        let store = self.store.clone();
        let journal = stream.then(|| self.new_journal(&run.run_id, Vec::new()));
        let (mut task, _ends) =
            self.task(component, ctx, call, stream, Some(request), journal.clone());
        task.team_resume = team_resume;
        let span = task.span.clone();
        self.runs.spawn(tracing::Instrument::instrument(
            async move {
                if let Some(journal) = &journal {
                    match store.run_events(&run.run_id, -1).await {
                        Ok(rows) => journal.preload(rows),
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot read the resumed run's events")
                        }
                    }
                }
                Box::new(task).run().await;
            },
            span,
        ));
        Ok(())
    }
}
