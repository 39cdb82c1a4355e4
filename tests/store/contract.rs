//! The `Store` contract: what every backend must do, method by method. Each test gets a fresh
//! database and runs unchanged on SQLite and on Postgres.

use crate::backend::TestDb;
pub use crate::service_accounts::*;
use agentos::RunStatus;
use agentos::store::prelude::*;
use agentos::store::{
    BeginRun, HOOK_JOB_KIND, IdempotencyKey, JobAttempt, JobFilter, JobRecord, NewJob, RunRecord,
    SessionFilter, SessionKey, SessionRecord, SessionSort, SessionUpdate, SessionView, StoreError,
};
use serde_json::Value;
use std::collections::HashSet;
use std::sync::Arc;

const WF: &str = "analysis-workflow";
const HOUR: i64 = 3_600_000;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn session(id: &str, component: &str) -> SessionRecord {
    SessionRecord {
        session_id: id.into(),
        session_type: agentos::ComponentKind::Workflow,
        component_id: component.into(),
        user_id: Some("u1".into()),
        session_name: Some("first input".into()),
        session_state: "{}".into(),
        created_at: now(),
        updated_at: now(),
    }
}

fn run(id: &str, session: &str) -> RunRecord {
    RunRecord {
        run_id: id.into(),
        session_id: session.into(),
        component_type: agentos::ComponentKind::Workflow,
        component_id: WF.into(),
        user_id: Some("u1".into()),
        status: RunStatus::Running,
        input: format!("input of {id}"),
        output: None,
        error: None,
        created_at: now(),
        updated_at: now(),
    }
}

fn job(id: &str, run: &str, owner: &str, lease_until: i64) -> NewJob {
    NewJob {
        job_id: id.into(),
        kind: HOOK_JOB_KIND.into(),
        name: "log_step_completion".into(),
        run_id: Some(run.into()),
        payload: format!("{{\"job\":\"{id}\"}}"),
        max_attempts: 3,
        lease_owner: owner.into(),
        lease_until,
        claimed: false,
    }
}

/// Starts `run_id` in session `s` and returns the store's answer.
async fn begin(store: &dyn Store, s: &str, run_id: &str) -> BeginRun {
    store
        .begin_run(&session(s, WF), &run(run_id, s), None)
        .await
        .unwrap()
}

/// A finished run `run_id` with `jobs`.
async fn finished_with(store: &dyn Store, run_id: &str, jobs: &[NewJob]) {
    begin(store, &format!("s-{run_id}"), run_id).await;
    store
        .finish_run(
            run_id,
            RunStatus::Completed,
            "{\"content\":\"ok\"}",
            None,
            jobs.to_vec(),
        )
        .await
        .unwrap();
}

async fn all_jobs(store: &dyn Store) -> Vec<JobRecord> {
    let filter = JobFilter {
        limit: 1000,
        ..JobFilter::default()
    };
    store.list_jobs(&filter).await.unwrap().0
}

pub async fn a_run_is_stored_with_its_session(db: &TestDb) {
    let store = db.open().await;
    let BeginRun::Started(s) = begin(store.as_ref(), "s1", "r1").await else {
        panic!("a new run starts")
    };
    assert_eq!(s.session_id, "s1");
    assert_eq!(s.component_id, WF);
    assert_eq!(s.session_name.as_deref(), Some("first input"));
    let BeginRun::Started(again) = begin(store.as_ref(), "s1", "r2").await else {
        panic!("a second run in the session starts")
    };
    assert_eq!(
        again.created_at, s.created_at,
        "the session is kept, not replaced"
    );

    let stored = store.get_session("s1").await.unwrap().unwrap();
    assert_eq!(stored.user_id.as_deref(), Some("u1"));
    assert_eq!(stored.session_state, "{}");
    assert!(store.get_session("nope").await.unwrap().is_none());

    let r1 = store.get_run("r1").await.unwrap().unwrap();
    assert_eq!(r1.status, RunStatus::Running);
    assert_eq!(r1.input, "input of r1");
    assert_eq!(r1.output, None);
    assert!(store.get_run("nope").await.unwrap().is_none());
    let ids: Vec<_> = store
        .session_runs("s1")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.run_id)
        .collect();
    assert_eq!(ids, ["r1", "r2"], "oldest first");
    assert!(store.session_runs("nope").await.unwrap().is_empty());
    store.close().await;
}

pub async fn a_session_of_another_component_is_refused(db: &TestDb) {
    let store = db.open().await;
    begin(store.as_ref(), "s1", "r1").await;
    let before = store.get_session("s1").await.unwrap().unwrap();
    let mut other = session("s1", "other-workflow");
    other.updated_at = before.updated_at + HOUR;
    let err = store
        .begin_run(&other, &run("r2", "s1"), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::SessionConflict(ref s) if s == "s1"),
        "{err}"
    );
    assert!(
        store.get_run("r2").await.unwrap().is_none(),
        "nothing recorded"
    );
    assert_eq!(
        store.get_session("s1").await.unwrap().unwrap(),
        before,
        "the session is left as it was"
    );
    store.close().await;
}

pub async fn an_idempotency_key_names_one_run_until_it_expires(db: &TestDb) {
    let store = db.open().await;
    let key = |k: &str, scope: &str, expires_at| IdempotencyKey {
        scope: scope.into(),
        key: k.into(),
        expires_at,
    };
    let live = key("k1", "workflow:wf", now() + HOUR);
    let first = store
        .begin_run(&session("s1", WF), &run("r1", "s1"), Some(&live))
        .await
        .unwrap();
    assert!(matches!(first, BeginRun::Started(_)));
    let second = store
        .begin_run(&session("s1", WF), &run("r2", "s1"), Some(&live))
        .await
        .unwrap();
    let BeginRun::Existing(existing) = second else {
        panic!("the key names r1")
    };
    assert_eq!(existing.run_id, "r1");
    assert!(store.get_run("r2").await.unwrap().is_none());

    let other_scope = key("k1", "workflow:other", now() + HOUR);
    let third = store
        .begin_run(&session("s1", WF), &run("r3", "s1"), Some(&other_scope))
        .await
        .unwrap();
    assert!(
        matches!(third, BeginRun::Started(_)),
        "keys are per component"
    );

    let expired = key("k2", "workflow:wf", now() - 1);
    store
        .begin_run(&session("s1", WF), &run("r4", "s1"), Some(&expired))
        .await
        .unwrap();
    let after = store
        .begin_run(&session("s1", WF), &run("r5", "s1"), Some(&expired))
        .await
        .unwrap();
    assert!(
        matches!(after, BeginRun::Started(_)),
        "an expired key is forgotten"
    );
    store.close().await;
}

pub async fn a_finished_run_keeps_its_output_and_its_jobs(db: &TestDb) {
    let store = db.open().await;
    begin(store.as_ref(), "s1", "r1").await;
    let owner = store.owner_id().to_owned();
    store
        .finish_run(
            "r1",
            RunStatus::Error,
            "{\"content\":null,\"status\":\"ERROR\"}",
            Some("model failed"),
            vec![
                job("j1", "r1", &owner, now() + HOUR),
                job("j2", "r1", &owner, now() + HOUR),
            ],
        )
        .await
        .unwrap();
    let r = store.get_run("r1").await.unwrap().unwrap();
    assert_eq!(r.status, RunStatus::Error);
    assert_eq!(
        r.output.as_deref(),
        Some("{\"content\":null,\"status\":\"ERROR\"}")
    );
    assert_eq!(r.error.as_deref(), Some("model failed"));
    let jobs = all_jobs(store.as_ref()).await;
    let ids: Vec<_> = jobs.iter().map(|j| j.job_id.as_str()).collect();
    assert_eq!(ids, ["j1", "j2"], "oldest first");
    assert!(
        jobs.iter()
            .all(|j| j.status == "pending" && j.attempts == 0)
    );
    assert_eq!(jobs[0].payload, "{\"job\":\"j1\"}");
    assert_eq!(jobs[0].attempt_errors, "[]");

    let missing = store
        .finish_run(
            "nope",
            RunStatus::Completed,
            "{}",
            None,
            vec![job("j3", "nope", &owner, 0)],
        )
        .await;
    assert!(missing.is_err(), "finishing an unknown run fails");
    assert_eq!(
        all_jobs(store.as_ref()).await.len(),
        2,
        "and records no job"
    );
    store.close().await;
}

pub async fn a_leased_job_is_claimed_only_by_its_owner_until_the_lease_expires(db: &TestDb) {
    let store = db.open().await;
    let later = now() + HOUR;
    finished_with(
        store.as_ref(),
        "r1",
        &[
            job("mine", "r1", "a", later),
            job("stale", "r1", "a", now() - 1),
        ],
    )
    .await;
    assert!(store.claim_job("mine", "b", later).await.unwrap().is_none());
    let claimed = store.claim_job("mine", "a", later).await.unwrap().unwrap();
    assert_eq!(claimed.status, "running");
    assert_eq!(claimed.attempts, 1);
    assert!(
        store.claim_job("mine", "a", later).await.unwrap().is_none(),
        "a running job is not claimed again"
    );
    let taken = store.claim_job("stale", "b", later).await.unwrap().unwrap();
    assert_eq!(taken.attempts, 1, "an expired lease is anyone's");
    assert!(store.claim_job("nope", "a", later).await.unwrap().is_none());
    store.close().await;
}

pub async fn a_job_stored_claimed_is_running_its_first_attempt(db: &TestDb) {
    let store = db.open().await;
    let later = now() + HOUR;
    let claimed = NewJob {
        claimed: true,
        ..job("at-once", "r1", "a", later)
    };
    finished_with(
        store.as_ref(),
        "r1",
        &[claimed, job("queued", "r1", "a", later)],
    )
    .await;
    let jobs = all_jobs(store.as_ref()).await;
    let state = |id: &str| {
        let j = jobs.iter().find(|j| j.job_id == id).unwrap();
        (j.status.clone(), j.attempts)
    };
    assert_eq!(state("at-once"), ("running".to_owned(), 1));
    assert_eq!(state("queued"), ("pending".to_owned(), 0));
    // Nobody claims it again, not even its owner, while the lease lasts.
    assert!(
        store
            .claim_job("at-once", "a", later)
            .await
            .unwrap()
            .is_none()
    );
    let due = store.claim_due_jobs("b", later, 10).await.unwrap();
    assert!(due.iter().all(|j| j.job_id != "at-once"), "{due:?}");
    // Its outcome is recorded like any claimed attempt's.
    let attempt = JobAttempt {
        status: "done",
        outcome: "ok",
        error: None,
        next_attempt_at: now(),
    };
    store.finish_job_attempt("at-once", &attempt).await.unwrap();
    let done = all_jobs(store.as_ref()).await;
    let j = done.iter().find(|j| j.job_id == "at-once").unwrap();
    assert_eq!((j.status.as_str(), j.attempts), ("done", 1));
    store.close().await;
}

pub async fn due_jobs_are_claimed_once_each_and_only_when_due(db: &TestDb) {
    let store = db.open().await;
    let later = now() + HOUR;
    finished_with(
        store.as_ref(),
        "r1",
        &[
            job("expired", "r1", "dead", now() - 1),
            job("leased", "r1", "alive", later),
        ],
    )
    .await;
    let claimed = store.claim_due_jobs("b", now() - 1, 10).await.unwrap();
    let ids: Vec<_> = claimed.iter().map(|j| j.job_id.as_str()).collect();
    assert_eq!(ids, ["expired"], "a job still leased waits");
    // Claimed with a lease already over: as if "b" died mid-attempt.
    let again = store.claim_due_jobs("c", later, 10).await.unwrap();
    assert_eq!(
        again.len(),
        1,
        "a running job whose lease expired is taken over"
    );
    assert_eq!(again[0].attempts, 2);
    assert!(
        store
            .claim_due_jobs("d", later, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // A failed attempt retries at its time, not before.
    store
        .finish_job_attempt(
            "expired",
            &JobAttempt {
                status: "failed",
                outcome: "error",
                error: Some("boom".into()),
                next_attempt_at: now() + HOUR,
            },
        )
        .await
        .unwrap();
    assert!(
        store
            .claim_due_jobs("d", later, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Many claimants at once (two processes, several sweeps each) never share a job.
    let owner = store.owner_id().to_owned();
    let many: Vec<_> = (0..40)
        .map(|i| job(&format!("m{i}"), "r2", &owner, now() - 1))
        .collect();
    finished_with(store.as_ref(), "r2", &many).await;
    let other = db.open().await;
    let claims = (0..8).map(|i| {
        let s: Arc<dyn Store> = if i % 2 == 0 {
            store.clone()
        } else {
            other.clone()
        };
        async move {
            s.claim_due_jobs(&format!("w{i}"), now() + HOUR, 7)
                .await
                .unwrap()
        }
    });
    let mut got: Vec<String> = futures::future::join_all(claims)
        .await
        .into_iter()
        .flatten()
        .map(|j| j.job_id)
        .collect();
    // A claim skips rows another is taking: one more sweep gets whatever was skipped.
    let rest = store
        .claim_due_jobs("last", now() + HOUR, 100)
        .await
        .unwrap();
    got.extend(rest.into_iter().map(|j| j.job_id));
    let distinct: HashSet<_> = got.iter().collect();
    assert_eq!(
        distinct.len(),
        got.len(),
        "a job was claimed twice: {got:?}"
    );
    assert_eq!(got.len(), 40, "every job was claimed");
    other.close().await;
    store.close().await;
}

pub async fn attempts_are_recorded_and_failed_jobs_can_be_retried(db: &TestDb) {
    let store = db.open().await;
    finished_with(store.as_ref(), "r1", &[job("j1", "r1", "a", now() - 1)]).await;
    let attempt = |status, outcome, error: Option<&str>| JobAttempt {
        status,
        outcome,
        error: error.map(str::to_owned),
        next_attempt_at: now() - 1,
    };
    store
        .claim_job("j1", "a", now() + HOUR)
        .await
        .unwrap()
        .unwrap();
    store
        .finish_job_attempt("j1", &attempt("failed", "error", Some("first")))
        .await
        .unwrap();
    store
        .claim_job("j1", "a", now() + HOUR)
        .await
        .unwrap()
        .unwrap();
    store
        .finish_job_attempt("j1", &attempt("dead", "timeout", Some("second")))
        .await
        .unwrap();
    let j = &all_jobs(store.as_ref()).await[0];
    assert_eq!(j.status, "dead");
    assert_eq!(j.outcome.as_deref(), Some("timeout"));
    assert_eq!(j.last_error.as_deref(), Some("second"));
    let errors: Value = serde_json::from_str(&j.attempt_errors).unwrap();
    assert_eq!(errors.as_array().unwrap().len(), 2);
    assert_eq!(errors[0]["attempt"], 1);
    assert_eq!(errors[0]["outcome"], "error");
    assert_eq!(errors[0]["error"], "first");
    assert_eq!(errors[1]["attempt"], 2);
    assert!(errors[1]["at"].as_i64().unwrap() > 0);
    assert!(
        store
            .claim_due_jobs("b", now() + HOUR, 10)
            .await
            .unwrap()
            .is_empty(),
        "dead stays dead"
    );

    let (retried, record) = store.retry_job("j1").await.unwrap().unwrap();
    assert!(retried);
    assert_eq!(record.status, "pending");
    assert_eq!(record.max_attempts, 3);
    let claimed = store.claim_due_jobs("b", now() + HOUR, 10).await.unwrap();
    assert_eq!(claimed.len(), 1, "a retried job is due at once");
    store
        .finish_job_attempt("j1", &attempt("done", "ok", None))
        .await
        .unwrap();
    let (retried, record) = store.retry_job("j1").await.unwrap().unwrap();
    assert!(!retried, "a done job is not retried");
    assert_eq!(record.status, "done");
    let errors: Value = serde_json::from_str(&record.attempt_errors).unwrap();
    assert_eq!(
        errors.as_array().unwrap().len(),
        2,
        "a success adds no error"
    );
    assert!(store.retry_job("nope").await.unwrap().is_none());
    store.close().await;
}

pub async fn hook_jobs_are_filtered_and_paged(db: &TestDb) {
    let store = db.open().await;
    let jobs: Vec<_> = (0..5)
        .map(|i| job(&format!("a{i}"), "r1", "x", 0))
        .collect();
    finished_with(store.as_ref(), "r1", &jobs).await;
    finished_with(store.as_ref(), "r2", &[job("b0", "r2", "x", 0)]).await;
    store
        .claim_job("a1", "x", now() + HOUR)
        .await
        .unwrap()
        .unwrap();
    let page = |status: Option<&str>, run: Option<&str>, limit, offset| JobFilter {
        status: status.map(str::to_owned),
        kind: None,
        run_id: run.map(str::to_owned),
        name: None,
        limit,
        offset,
    };
    let (rows, total) = store
        .list_jobs(&page(None, Some("r1"), 2, 1))
        .await
        .unwrap();
    assert_eq!(total, 5);
    let ids: Vec<_> = rows.iter().map(|j| j.job_id.as_str()).collect();
    assert_eq!(ids, ["a1", "a2"]);
    let (rows, total) = store
        .list_jobs(&page(Some("running"), None, 10, 0))
        .await
        .unwrap();
    assert_eq!((rows.len(), total), (1, 1));
    assert_eq!(rows[0].job_id, "a1");
    let by_hook = JobFilter {
        name: Some("other".into()),
        limit: 10,
        ..JobFilter::default()
    };
    assert_eq!(store.list_jobs(&by_hook).await.unwrap().1, 0);
    store.close().await;
}

/// A job of a kind other than `hook`, enqueued on its own (no run), e.g. a memory update.
fn memory_job(id: &str, owner: &str, lease_until: i64) -> NewJob {
    NewJob {
        job_id: id.into(),
        kind: "memory".into(),
        name: "update_memories".into(),
        run_id: None,
        payload: format!("{{\"user_id\":\"u-{id}\"}}"),
        max_attempts: 2,
        lease_owner: owner.into(),
        lease_until,
        claimed: false,
    }
}

pub async fn a_job_of_another_kind_without_a_run_is_claimed_retried_and_listed(db: &TestDb) {
    let store = db.open().await;
    let later = now() + HOUR;
    store
        .enqueue_jobs(vec![memory_job("m1", "a", later)])
        .await
        .unwrap();
    store.enqueue_jobs(Vec::new()).await.unwrap();
    let listed = all_jobs(store.as_ref()).await;
    assert_eq!(listed.len(), 1);
    let j = &listed[0];
    assert_eq!(
        (j.kind.as_str(), j.name.as_str(), j.run_id.as_deref()),
        ("memory", "update_memories", None)
    );
    assert_eq!((j.status.as_str(), j.attempts), ("pending", 0));

    assert!(store.claim_job("m1", "b", later).await.unwrap().is_none());
    let claimed = store.claim_job("m1", "a", later).await.unwrap().unwrap();
    assert_eq!((claimed.kind.as_str(), claimed.run_id), ("memory", None));
    assert_eq!(
        claimed.payload, "{\"user_id\":\"u-m1\"}",
        "no run to restore from"
    );
    assert_eq!(claimed.attempts, 1);
    let failed = |status| JobAttempt {
        status,
        outcome: "error",
        error: Some("model down".into()),
        next_attempt_at: now() - 1,
    };
    store
        .finish_job_attempt("m1", &failed("failed"))
        .await
        .unwrap();
    let due = store.claim_due_jobs("c", later, 10).await.unwrap();
    assert_eq!(due.len(), 1, "a failed job of any kind is swept");
    assert_eq!((due[0].kind.as_str(), due[0].attempts), ("memory", 2));
    store
        .finish_job_attempt("m1", &failed("dead"))
        .await
        .unwrap();

    let (retried, job) = store.retry_job("m1").await.unwrap().unwrap();
    assert!(retried);
    assert_eq!(
        (job.kind.as_str(), job.status.as_str(), job.max_attempts),
        ("memory", "pending", 3)
    );
    let errors: Value = serde_json::from_str(&job.attempt_errors).unwrap();
    assert_eq!(errors.as_array().unwrap().len(), 2);
    let again = store.claim_due_jobs("c", later, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    store
        .finish_job_attempt(
            "m1",
            &JobAttempt {
                status: "done",
                outcome: "ok",
                error: None,
                next_attempt_at: now(),
            },
        )
        .await
        .unwrap();
    let done = &all_jobs(store.as_ref()).await[0];
    assert_eq!((done.status.as_str(), done.attempts), ("done", 3));

    // Released at a restart, and reconciled from a dead owner, like any job.
    store
        .enqueue_jobs(vec![memory_job("m2", "gone", later)])
        .await
        .unwrap();
    if store.exclusive() {
        assert_eq!(store.release_all_leases().await.unwrap(), 1);
    } else {
        let r = store
            .reconcile_dead_owners("interrupted", now())
            .await
            .unwrap();
        assert_eq!(r.jobs_released, 1);
    }
    let swept = store.claim_due_jobs("c", later, 10).await.unwrap();
    assert_eq!(swept.len(), 1);
    assert_eq!(swept[0].job_id, "m2");
    store.close().await;
}

pub async fn jobs_are_listed_by_kind(db: &TestDb) {
    let store = db.open().await;
    finished_with(
        store.as_ref(),
        "r1",
        &[job("h1", "r1", "x", 0), job("h2", "r1", "x", 0)],
    )
    .await;
    store
        .enqueue_jobs(vec![
            memory_job("m1", "x", 0),
            NewJob {
                kind: "summary".into(),
                name: "summarize_session".into(),
                run_id: Some("r1".into()),
                ..memory_job("s1", "x", 0)
            },
        ])
        .await
        .unwrap();
    let of_kind = |kind: Option<&str>| JobFilter {
        kind: kind.map(str::to_owned),
        limit: 10,
        ..JobFilter::default()
    };
    let ids = |(jobs, total): (Vec<JobRecord>, u64)| -> (Vec<String>, u64) {
        (jobs.into_iter().map(|j| j.job_id).collect(), total)
    };
    let hooks = store
        .list_jobs(&of_kind(Some(HOOK_JOB_KIND)))
        .await
        .unwrap();
    assert_eq!(ids(hooks), (vec!["h1".into(), "h2".into()], 2));
    let memory = store.list_jobs(&of_kind(Some("memory"))).await.unwrap();
    assert_eq!(ids(memory), (vec!["m1".into()], 1));
    let (all, total) = store.list_jobs(&of_kind(None)).await.unwrap();
    assert_eq!((all.len(), total), (4, 4), "no kind: every job");
    let of_run = JobFilter {
        run_id: Some("r1".into()),
        ..of_kind(Some("summary"))
    };
    assert_eq!(
        ids(store.list_jobs(&of_run).await.unwrap()),
        (vec!["s1".into()], 1),
        "a job of another kind may name a run"
    );
    let by_name = JobFilter {
        name: Some("log_step_completion".into()),
        ..of_kind(Some("memory"))
    };
    assert_eq!(store.list_jobs(&by_name).await.unwrap().1, 0);
    store.close().await;
}

/// Writes that fail with a database error (here, a run id that is taken) fail alone, whatever
/// they were committed with: on SQLite concurrent writes share a transaction.
pub async fn a_failing_write_fails_alone(db: &TestDb) {
    let store = db.open().await;
    begin(store.as_ref(), "s0", "taken").await;
    let starts = (0..24).map(|i| {
        let store = store.clone();
        async move {
            let id = if i % 6 == 0 {
                "taken".to_owned()
            } else {
                format!("r{i:02}")
            };
            let s = format!("s{i}");
            let begun = store.begin_run(&session(&s, WF), &run(&id, &s), None).await;
            (id, begun.is_ok())
        }
    });
    let results = futures::future::join_all(starts).await;
    for (id, ok) in &results {
        assert_eq!(*ok, id != "taken", "{id}: {results:?}");
    }
    for (id, _) in results.iter().filter(|(id, _)| id != "taken") {
        assert!(store.get_run(id).await.unwrap().is_some(), "{id} is stored");
    }
    let taken = store.get_run("taken").await.unwrap().unwrap();
    assert_eq!(
        taken.session_id, "s0",
        "the run that held the id is untouched"
    );
    store.close().await;
}

pub async fn a_restart_on_an_exclusive_database_takes_everything_over(db: &TestDb) {
    let store = db.open().await;
    begin(store.as_ref(), "s1", "running").await;
    finished_with(
        store.as_ref(),
        "done",
        &[
            job("pending", "done", "dead", now() + HOUR),
            job("mid", "done", "dead", 0),
        ],
    )
    .await;
    store
        .claim_job("mid", "dead", now() + HOUR)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.fail_interrupted_runs("interrupted").await.unwrap(), 1);
    let r = store.get_run("running").await.unwrap().unwrap();
    assert_eq!(
        (r.status, r.error.as_deref()),
        (RunStatus::Error, Some("interrupted"))
    );
    assert_eq!(
        store.get_run("done").await.unwrap().unwrap().status,
        RunStatus::Completed
    );

    assert_eq!(store.release_all_leases().await.unwrap(), 2);
    let jobs = all_jobs(store.as_ref()).await;
    let mid = jobs.iter().find(|j| j.job_id == "mid").unwrap();
    assert_eq!(
        mid.status, "failed",
        "an attempt caught mid-run counts as failed"
    );
    assert_eq!(
        mid.last_error.as_deref(),
        Some("interrupted: server restarted")
    );
    let due = store.claim_due_jobs("new", now() + HOUR, 10).await.unwrap();
    assert_eq!(due.len(), 2, "both are due at once");
    store.close().await;
}

pub async fn a_dead_owners_runs_and_job_leases_are_reconciled(db: &TestDb) {
    let dead = db.open().await;
    let alive = db.open().await;
    assert_ne!(
        dead.owner_id(),
        alive.owner_id(),
        "each store is its own owner"
    );
    let dead_id = dead.owner_id().to_owned();
    dead.renew_owner_lease(now() - 1).await.unwrap(); // its last heartbeat is over
    alive.renew_owner_lease(now() + HOUR).await.unwrap();
    begin(dead.as_ref(), "s1", "orphan").await;
    begin(alive.as_ref(), "s1", "live").await;
    finished_with(
        dead.as_ref(),
        "done",
        &[job("j1", "done", &dead_id, now() + HOUR)],
    )
    .await;
    dead.claim_job("j1", &dead_id, now() + HOUR)
        .await
        .unwrap()
        .unwrap();

    let r = alive
        .reconcile_dead_owners("interrupted", now())
        .await
        .unwrap();
    assert_eq!((r.runs_failed, r.jobs_released), (1, 1));
    let orphan = alive.get_run("orphan").await.unwrap().unwrap();
    assert_eq!(orphan.status, RunStatus::Error);
    assert_eq!(orphan.error.as_deref(), Some("interrupted"));
    let live = alive.get_run("live").await.unwrap().unwrap();
    assert_eq!(
        live.status,
        RunStatus::Running,
        "a live owner's run is left alone"
    );
    assert_eq!(
        alive.get_run("done").await.unwrap().unwrap().status,
        RunStatus::Completed
    );
    let taken = alive
        .claim_due_jobs(alive.owner_id(), now() + HOUR, 10)
        .await
        .unwrap();
    assert_eq!(taken.len(), 1, "the dead owner's running job is taken over");
    assert_eq!(taken[0].attempts, 2);

    // A renewed lease protects the owner's runs again; one never taken counts as dead.
    dead.renew_owner_lease(now() + HOUR).await.unwrap();
    begin(dead.as_ref(), "s1", "later").await;
    let never = db.open().await;
    begin(never.as_ref(), "s1", "unowned").await;
    let r = alive
        .reconcile_dead_owners("interrupted", now())
        .await
        .unwrap();
    assert_eq!(r.runs_failed, 1);
    assert_eq!(
        alive.get_run("later").await.unwrap().unwrap().status,
        RunStatus::Running
    );
    assert_eq!(
        alive.get_run("unowned").await.unwrap().unwrap().status,
        RunStatus::Error
    );
    for s in [dead, alive, never] {
        s.close().await;
    }
}

pub async fn a_cancel_asked_of_another_process_is_pending_for_its_owner(db: &TestDb) {
    let owner = db.open().await;
    let other = db.open().await;
    begin(owner.as_ref(), "s1", "r1").await;
    begin(owner.as_ref(), "s1", "r2").await;
    if owner.exclusive() {
        // One process owns the database: a cancel is in memory, never stored.
        assert!(!other.request_cancel("r1").await.unwrap());
        assert!(owner.requested_cancels().await.unwrap().is_empty());
        owner.close().await;
        other.close().await;
        return;
    }
    assert!(other.request_cancel("r1").await.unwrap());
    assert!(!other.request_cancel("nope").await.unwrap(), "no such run");
    assert_eq!(owner.requested_cancels().await.unwrap(), ["r1"]);
    assert!(
        other.requested_cancels().await.unwrap().is_empty(),
        "only the owner's runs are its business"
    );
    // Once the run has ended, the cancel is no longer pending, and a new one is refused.
    owner
        .finish_run("r1", RunStatus::Cancelled, "{}", None, Vec::new())
        .await
        .unwrap();
    assert!(owner.requested_cancels().await.unwrap().is_empty());
    assert!(!other.request_cancel("r1").await.unwrap());
    owner.close().await;
    other.close().await;
}

pub async fn concurrent_runs_in_one_session_are_all_stored(db: &TestDb) {
    let a = db.open().await;
    let b = db.open().await;
    let starts = (0..40).map(|i| {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        async move {
            let id = format!("r{i:02}");
            s.begin_run(&session("shared", WF), &run(&id, "shared"), None)
                .await
                .unwrap();
            s.finish_run(
                &id,
                RunStatus::Completed,
                &format!("{{\"run\":\"{id}\"}}"),
                None,
                Vec::new(),
            )
            .await
            .unwrap();
        }
    });
    futures::future::join_all(starts).await;
    let runs = a.session_runs("shared").await.unwrap();
    assert_eq!(runs.len(), 40);
    for r in &runs {
        assert_eq!(r.status, RunStatus::Completed);
        assert_eq!(
            r.output.as_deref(),
            Some(format!("{{\"run\":\"{}\"}}", r.run_id).as_str())
        );
    }
    a.close().await;
    b.close().await;
}

pub async fn a_background_run_keeps_its_request_checkpoint_and_events(db: &TestDb) {
    let store = db.open().await;
    let mut pending = run("bg", "s1");
    pending.status = RunStatus::Pending;
    store
        .begin_run(&session("s1", WF), &pending, None)
        .await
        .unwrap();
    store
        .start_background_run("bg", "{\"message\":\"hi\"}")
        .await
        .unwrap();
    assert_eq!(
        store.get_run("bg").await.unwrap().unwrap().status,
        RunStatus::Running
    );
    let events = |range: std::ops::Range<i64>| -> Vec<(i64, String)> {
        range.map(|i| (i, format!("{{\"event\":{i}}}"))).collect()
    };
    store
        .checkpoint_run("bg", "{\"step\":1}", &events(0..3))
        .await
        .unwrap();
    // Rows already logged are kept; new ones are added.
    let mut again = events(2..5);
    again[0].1 = "{\"event\":\"changed\"}".into();
    store.append_run_events("bg", &again).await.unwrap();
    store.append_run_events("bg", &[]).await.unwrap();
    assert_eq!(store.run_events("bg", -1).await.unwrap(), events(0..5));
    assert_eq!(store.run_events("bg", 2).await.unwrap(), events(3..5));
    assert!(store.run_events("nope", -1).await.unwrap().is_empty());

    begin(store.as_ref(), "s1", "plain").await;
    let resumable = store.resumable_runs().await.unwrap();
    assert_eq!(resumable.len(), 1, "only background runs with a request");
    assert_eq!(resumable[0].run.run_id, "bg");
    assert_eq!(resumable[0].request, "{\"message\":\"hi\"}");
    assert_eq!(resumable[0].checkpoint.as_deref(), Some("{\"step\":1}"));
    assert_eq!(
        store.fail_interrupted_runs("interrupted").await.unwrap(),
        1,
        "a resumable run is left to be resumed"
    );
    assert_eq!(
        store.get_run("bg").await.unwrap().unwrap().status,
        RunStatus::Running
    );
    store.close().await;
}

pub async fn a_session_created_before_its_runs_is_completed_by_the_first(db: &TestDb) {
    let store = db.open().await;
    let empty = |id: &str, kind: &str, component: &str| SessionView {
        session: SessionRecord {
            session_type: agentos::ComponentKind::parse(kind).unwrap(),
            component_id: component.into(),
            session_name: None,
            session_state: "{\"topic\":\"exercise\"}".into(),
            ..session(id, component)
        },
        metadata: Some("{\"source\":\"crm\"}".into()),
        summary: None,
    };
    let pre = empty("pre", "workflow", "");
    let created = store
        .create_session(&pre)
        .await
        .unwrap()
        .expect("a new id is created");
    assert_eq!(created, pre, "stored as given");
    assert_eq!(
        store.session_view("pre").await.unwrap(),
        Some(created.clone())
    );
    let mut again = empty("pre", "agent", "chat");
    again.session.session_name = Some("other".into());
    assert_eq!(
        store.create_session(&again).await.unwrap(),
        None,
        "an id is taken whatever the type"
    );
    assert_eq!(store.session_view("pre").await.unwrap(), Some(created));

    // The first run names the component and, having no name, the session; the state stays.
    let BeginRun::Started(stored) = begin(store.as_ref(), "pre", "r1").await else {
        panic!("the run starts");
    };
    assert_eq!(stored.component_id, WF);
    assert_eq!(stored.session_name.as_deref(), Some("first input"));
    assert_eq!(stored.session_state, "{\"topic\":\"exercise\"}");
    let view = store.session_view("pre").await.unwrap().unwrap();
    assert_eq!(view.session.component_id, WF);
    assert_eq!(view.metadata.as_deref(), Some("{\"source\":\"crm\"}"));
    // From then on it belongs to that workflow.
    let err = store
        .begin_run(&session("pre", "other-wf"), &run("r2", "pre"), None)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::SessionConflict(_)), "{err}");

    // A session created with its component keeps it and takes the first run's input as name.
    store
        .create_session(&empty("named-later", "workflow", WF))
        .await
        .unwrap()
        .unwrap();
    begin(store.as_ref(), "named-later", "r3").await;
    let view = store.session_view("named-later").await.unwrap().unwrap();
    assert_eq!(view.session.session_name.as_deref(), Some("first input"));

    // A run of another type is refused and completes nothing.
    store
        .create_session(&empty("agent-s", "agent", ""))
        .await
        .unwrap()
        .unwrap();
    let err = store
        .begin_run(&session("agent-s", WF), &run("r4", "agent-s"), None)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::SessionConflict(_)), "{err}");
    let view = store.session_view("agent-s").await.unwrap().unwrap();
    assert_eq!(
        (
            view.session.component_id.as_str(),
            view.session.session_name
        ),
        ("", None)
    );
    assert!(store.get_run("r4").await.unwrap().is_none());
    store.close().await;
}

pub async fn sessions_are_listed_updated_and_deleted(db: &TestDb) {
    let store = db.open().await;
    for (id, name) in [("s1", "Banana"), ("s2", "apple pie"), ("s3", "Cherry")] {
        let mut s = session(id, WF);
        s.session_name = Some(name.into());
        store
            .begin_run(&s, &run(&format!("r-{id}"), id), None)
            .await
            .unwrap();
        store
            .finish_run(
                &format!("r-{id}"),
                RunStatus::Completed,
                "{}",
                None,
                Vec::new(),
            )
            .await
            .unwrap();
    }
    let filter = |name: Option<&str>, sort_by, ascending, limit, offset| SessionFilter {
        session_type: Some(agentos::ComponentKind::Workflow),
        component_id: Some(WF.into()),
        user_id: Some("u1".into()),
        session_name: name.map(str::to_owned),
        sort_by,
        ascending,
        limit,
        offset,
    };
    let ids = |page: (Vec<SessionView>, u64)| -> (Vec<String>, u64) {
        (
            page.0.into_iter().map(|v| v.session.session_id).collect(),
            page.1,
        )
    };
    let by_name = store
        .list_sessions(&filter(None, SessionSort::SessionName, true, 10, 0))
        .await
        .unwrap();
    assert_eq!(
        ids(by_name),
        (vec!["s1".into(), "s3".into(), "s2".into()], 3),
        "by bytes"
    );
    let page = store
        .list_sessions(&filter(None, SessionSort::SessionName, false, 1, 1))
        .await
        .unwrap();
    assert_eq!(ids(page), (vec!["s3".into()], 3));
    let found = store
        .list_sessions(&filter(Some("PIE"), SessionSort::CreatedAt, true, 10, 0))
        .await
        .unwrap();
    assert_eq!(
        ids(found),
        (vec!["s2".into()], 1),
        "a case-insensitive substring"
    );

    let update = SessionUpdate {
        session_name: Some("renamed".into()),
        metadata: Some("{\"k\":1}".into()),
        ..SessionUpdate::default()
    };
    let view = store.update_session("s1", &update).await.unwrap().unwrap();
    assert_eq!(view.session.session_name.as_deref(), Some("renamed"));
    assert_eq!(view.metadata.as_deref(), Some("{\"k\":1}"));
    assert_eq!(
        view.session.session_state, "{}",
        "fields not given are kept"
    );
    let renamed = store.rename_session("s1", "again").await.unwrap().unwrap();
    assert_eq!(renamed.metadata.as_deref(), Some("{\"k\":1}"));
    let view = store.session_view("s1").await.unwrap().unwrap();
    assert_eq!(view.session.session_name.as_deref(), Some("again"));
    assert!(
        store
            .update_session("nope", &update)
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.session_view("nope").await.unwrap().is_none());

    let key = |id: &str| SessionKey {
        session_id: id.into(),
        session_type: Some(agentos::ComponentKind::Workflow),
        user_id: None,
    };
    begin(store.as_ref(), "s2", "in-progress").await;
    let refused = store
        .delete_sessions(&[key("s1"), key("s2")])
        .await
        .unwrap();
    assert_eq!(
        (refused.deleted.len(), refused.busy),
        (0, vec!["s2".to_owned()])
    );
    assert!(
        store.session_view("s1").await.unwrap().is_some(),
        "nothing deleted"
    );
    let wrong_type = SessionKey {
        session_type: Some(agentos::ComponentKind::Agent),
        ..key("s1")
    };
    assert!(
        store
            .delete_session(&wrong_type)
            .await
            .unwrap()
            .deleted
            .is_empty()
    );
    let done = store
        .delete_sessions(&[key("s1"), key("nope")])
        .await
        .unwrap();
    assert_eq!(done.deleted, ["s1"]);
    assert!(store.session_view("s1").await.unwrap().is_none());
    assert!(
        store.get_run("r-s1").await.unwrap().is_none(),
        "its runs go with it"
    );
    store.close().await;
}

pub async fn a_jobs_context_gets_its_output_from_its_run_even_once_deleted(db: &TestDb) {
    let store = db.open().await;
    // A workflow run whose agent steps' outputs are in its stored output; its jobs refer to
    // them, the way the runtime stores a post-hook's context.
    let output = serde_json::json!({"run_id": "wf-run", "step_executor_runs": [
        {"run_id": "step-1", "content": "first"},
        {"run_id": "step-2", "content": "second"},
    ]});
    let referring = |id: &str, agent_run: &str| NewJob {
        payload: format!(
            "{{\"run_id\":\"{agent_run}\",\"run_output\":null,\"run_output_in_run\":true}}"
        ),
        ..job(id, "wf-run", "p1", 0)
    };
    let jobs = [
        referring("pending", "step-1"),
        referring("done", "step-2"),
        job("self-contained", "wf-run", "p1", 0),
    ];
    begin(store.as_ref(), "s1", "wf-run").await;
    store
        .finish_run(
            "wf-run",
            RunStatus::Completed,
            &output.to_string(),
            None,
            jobs.to_vec(),
        )
        .await
        .unwrap();
    let full = serde_json::json!({"run_id": "step-1", "run_output": {"run_id": "step-1", "content": "first"}});
    let claimed = store
        .claim_job("pending", "p1", now() + HOUR)
        .await
        .unwrap();
    let claimed: Value = serde_json::from_str(&claimed.unwrap().payload).unwrap();
    assert_eq!(claimed, full, "a claim puts back the agent's output");
    let done = store.claim_job("done", "p1", now() + HOUR).await.unwrap();
    assert!(done.is_some());
    let attempt = JobAttempt {
        status: "done",
        outcome: "ok",
        error: None,
        next_attempt_at: now(),
    };
    store.finish_job_attempt("done", &attempt).await.unwrap();

    let key = SessionKey {
        session_id: "s1".into(),
        session_type: None,
        user_id: None,
    };
    let deleted = store.delete_sessions(&[key]).await.unwrap();
    assert_eq!(deleted.deleted, ["s1"]);
    assert!(store.get_run("wf-run").await.unwrap().is_none());

    let payloads: std::collections::HashMap<String, String> = all_jobs(store.as_ref())
        .await
        .into_iter()
        .map(|j| (j.job_id, j.payload))
        .collect();
    let pending: Value = serde_json::from_str(&payloads["pending"]).unwrap();
    assert_eq!(
        pending, full,
        "a job that may still run keeps its agent's output"
    );
    assert!(
        agentos::store::needs_run_output(&payloads["done"]),
        "a done job is left as it was"
    );
    assert_eq!(payloads["self-contained"], "{\"job\":\"self-contained\"}");
    store.close().await;
}

pub async fn an_agents_history_is_its_last_completed_runs(db: &TestDb) {
    let store = db.open().await;
    for (id, status) in [
        ("h1", RunStatus::Completed),
        ("h2", RunStatus::Completed),
        ("h3", RunStatus::Error),
        ("h4", RunStatus::Completed),
        ("h5", RunStatus::Completed),
    ] {
        begin(store.as_ref(), "sh", id).await;
        store
            .finish_run(id, status, "{}", None, Vec::new())
            .await
            .unwrap();
    }
    begin(store.as_ref(), "sh", "h6").await; // still running
    let ids = |runs: Vec<agentos::store::RunRecord>| -> Vec<String> {
        runs.into_iter().map(|r| r.run_id).collect()
    };
    let recent = store.recent_completed_runs("sh", "h5", 2).await.unwrap();
    assert_eq!(
        ids(recent),
        ["h2", "h4"],
        "the last two COMPLETED, oldest first, not h5"
    );
    let all = store.recent_completed_runs("sh", "h6", 10).await.unwrap();
    assert_eq!(ids(all), ["h1", "h2", "h4", "h5"]);
    assert!(
        store
            .recent_completed_runs("other", "x", 3)
            .await
            .unwrap()
            .is_empty()
    );
}
