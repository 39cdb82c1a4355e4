//! What only the SQLite backend does: its write-ahead log, and its files.

use agentos::DbConfig;
use agentos::RunStatus;
use agentos::store::{RunRecord, SessionRecord, Store};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The WAL header's checkpoint sequence number: SQLite adds one each time the WAL starts over.
fn wal_restarts(wal: &Path) -> u32 {
    use std::io::Read;
    let mut header = [0u8; 16];
    match std::fs::File::open(wal).and_then(|mut f| f.read_exact(&mut header)) {
        Ok(()) => u32::from_be_bytes(header[12..16].try_into().unwrap()),
        Err(_) => 0,
    }
}

/// Stores runs `{prefix}-1`, `{prefix}-2`, ... with `output` until `stop`; adds the output's
/// bytes to `written`.
async fn write_runs(
    store: Arc<dyn Store>,
    prefix: String,
    output: Arc<str>,
    written: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) {
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let (run_id, session_id) = (format!("{prefix}-{n}"), format!("s-{prefix}-{n}"));
        let session = SessionRecord {
            session_id: session_id.clone(),
            session_type: agentos::ComponentKind::Workflow,
            component_id: "wf".into(),
            user_id: None,
            session_name: None,
            session_state: "{}".into(),
            created_at: 0,
            updated_at: 0,
        };
        let run = RunRecord {
            run_id: run_id.clone(),
            session_id,
            component_type: agentos::ComponentKind::Workflow,
            component_id: "wf".into(),
            user_id: None,
            status: RunStatus::Running,
            input: "hi".into(),
            output: None,
            error: None,
            created_at: 0,
            updated_at: 0,
        };
        store.begin_run(&session, &run, None).await.unwrap();
        store
            .finish_run(&run_id, RunStatus::Completed, &output, None, Vec::new())
            .await
            .unwrap();
        written.fetch_add(output.len() as u64, Ordering::Relaxed);
    }
}

/// A checkpoint beside a steady stream of commits never caught up with them, and SQLite starts
/// the WAL over only at a commit that finds it caught up: under load the WAL file grew by
/// everything written (~100 MB a second at one run in flight) until the disk was full. Here
/// eight writers keep commits going back to back for three seconds, and the WAL must start
/// over (its file is then written again from the beginning) at least three times. Before the
/// fix it never did: in 30 s its file passed 4 GB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_starts_over_under_a_steady_stream_of_commits() {
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("agentos.db-wal");
    let store = DbConfig::Sqlite(dir.path().join("agentos.db"))
        .open()
        .await
        .unwrap();
    let output: Arc<str> = format!("{{\"content\":\"{}\"}}", "x".repeat(4 * 1024)).into();
    let written = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..8)
        .map(|i| {
            tokio::spawn(write_runs(
                Arc::clone(&store),
                format!("w{i}"),
                Arc::clone(&output),
                Arc::clone(&written),
                Arc::clone(&stop),
            ))
        })
        .collect();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(3)
        || (wal_restarts(&wal) < 3 && started.elapsed() < Duration::from_secs(30))
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.await.unwrap();
    }
    let (restarts, written) = (wal_restarts(&wal), written.load(Ordering::Relaxed));
    let wal_len = std::fs::metadata(&wal).unwrap().len();
    assert!(
        restarts >= 3,
        "the WAL started over {restarts} times while {written} bytes of output were written \
         (its file is {wal_len} bytes)"
    );
    store.close().await;
}

/// Open files of this process that are the database or its WAL.
fn open_database_files(dir: &Path) -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter(|target| target.starts_with(dir))
        .count()
}

/// An embedding service may open and drop stores without closing them; a dropped store must
/// not keep its files open (its checkpointer held the readers' pool, every second, forever).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_store_closes_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = DbConfig::Sqlite(dir.path().join("agentos.db"))
        .open()
        .await
        .unwrap();
    assert!(open_database_files(dir.path()) > 0);
    drop(store);
    let started = Instant::now();
    while open_database_files(dir.path()) > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{} files of a dropped store are still open",
            open_database_files(dir.path())
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
