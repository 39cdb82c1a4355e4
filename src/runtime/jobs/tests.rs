//! The queue runs a job of any kind through its handler.

use super::*;
use crate::store::{JobFilter, NewJob, SqliteStore};
use std::sync::atomic::{AtomicU32, Ordering};

/// A handler that fails its first attempt, then records the payload it ran with.
struct FlakyEcho {
    calls: AtomicU32,
    seen: Mutex<Vec<String>>,
}

impl JobHandler for FlakyEcho {
    fn run<'a>(
        &'a self,
        job: &'a JobRecord,
        attempt: JobInfo,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::Relaxed);
            if attempt.attempt == 1 {
                return Err("not yet".to_owned());
            }
            self.seen.lock().unwrap().push(job.payload.clone());
            Ok(())
        })
    }
}

fn job(id: &str, kind: &'static str) -> NewJob {
    NewJob {
        job_id: id.to_owned(),
        kind: kind.into(),
        name: "echo".to_owned(),
        run_id: None,
        payload: format!("{{\"job\":\"{id}\"}}"),
        max_attempts: 3,
        lease_owner: String::new(),
        lease_until: 0,
        claimed: false,
        trace_parent: None,
    }
}

#[tokio::test]
async fn a_job_of_another_kind_runs_through_its_handler_with_retries() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("jobs.db"))
            .await
            .unwrap(),
    );
    let echo = Arc::new(FlakyEcho {
        calls: AtomicU32::new(0),
        seen: Mutex::default(),
    });
    let mut handlers: HashMap<&'static str, Arc<dyn JobHandler>> = HashMap::new();
    handlers.insert("echo", echo.clone());
    let settings = HookSettings {
        backoff: Duration::from_millis(10),
        poll_interval: Duration::from_millis(20),
        ..HookSettings::default()
    };
    let queue = JobQueue::new(store.clone(), HashMap::new(), handlers, settings);
    store
        .enqueue_jobs(vec![job("j1", "echo"), job("j2", "nobody")])
        .await
        .unwrap();
    queue.start().await;

    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let jobs = loop {
        let filter = JobFilter {
            limit: 100,
            ..JobFilter::default()
        };
        let (jobs, _) = store.list_jobs(&filter).await.unwrap();
        let settled = jobs
            .iter()
            .all(|j| j.status == "done" || j.status == "dead");
        if settled || std::time::Instant::now() > deadline {
            break jobs;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(queue.drain(Duration::from_secs(5)).await);
    let by_id = |id: &str| jobs.iter().find(|j| j.job_id == id).unwrap();
    assert_eq!(by_id("j1").status, "done", "{:?}", by_id("j1"));
    assert_eq!(by_id("j1").attempts, 2, "failed once, then ran");
    assert_eq!(echo.calls.load(Ordering::Relaxed), 2);
    assert_eq!(*echo.seen.lock().unwrap(), [r#"{"job":"j1"}"#]);
    let orphan = by_id("j2");
    assert_eq!(orphan.status, "dead");
    assert!(
        orphan
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("no handler"),
        "{orphan:?}"
    );
    store.close().await;
}
