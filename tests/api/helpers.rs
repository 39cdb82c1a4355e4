//! `spawn_app()`: the real server on 127.0.0.1:0 with a fresh SQLite file and a local
//! OpenAI-compatible mock, plus a record of what the hooks did.

use crate::mock_openai::MockOpenAi;
use agentos::store::prelude::*;
use agentos::store::{JobFilter, JobRecord, SqliteStore};
use agentos::{
    Agent, AgentOs, Hook, HookContext, HookError, OpenAIChat, RetryPolicy, SqliteDb, Workflow,
};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

pub const WF: &str = "analysis-workflow";
pub const ANALYZER_INSTRUCTIONS: &str = "Analyze the input and identify key points.";
pub const SUMMARIZER_INSTRUCTIONS: &str = "Summarize the analysis into a brief response.";

/// What hooks did, in order: `(entry, when)`.
#[derive(Clone, Default)]
pub struct HookLog(Arc<Mutex<Vec<(String, Instant)>>>);

impl HookLog {
    pub fn push(&self, entry: String) {
        self.0.lock().unwrap().push((entry, Instant::now()));
    }

    pub fn entries(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(e, _)| e.clone())
            .collect()
    }

    pub fn contains(&self, entry: &str) -> bool {
        self.entries().iter().any(|e| e == entry)
    }

    /// Waits up to `limit` until `entry` is logged.
    pub async fn wait_for(&self, entry: &str, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.contains(entry) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.contains(entry)
    }
}

/// The seed example's hook, recording instead of printing: `start:<agent>` then, after
/// `sleep`, `done:<agent>`.
pub fn sleeping_hook(log: &HookLog, sleep: Duration) -> Hook {
    let log = log.clone();
    Hook::new("log_step_completion", move |ctx: HookContext| {
        let log = log.clone();
        async move {
            log.push(format!("start:{}", ctx.agent.name));
            tokio::time::sleep(sleep).await;
            log.push(format!("done:{}", ctx.agent.name));
            Ok::<(), HookError>(())
        }
    })
}

/// The default retry policy with short waits, so failure tests stay quick.
pub fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        initial_backoff: Duration::from_millis(20),
        ..RetryPolicy::default()
    }
}

/// The seed workflow (Analyzer then Summarizer) against `model_url`, each agent with `hooks`.
pub fn seed_workflow(model_url: &str, hooks: &[Hook]) -> Workflow {
    let agent = |name: &str, instructions: &str| {
        let model = OpenAIChat::new("gpt-5.2")
            .base_url(model_url)
            .api_key("test-key")
            .timeout(Duration::from_secs(5))
            .retry_policy(fast_retries());
        hooks.iter().cloned().fold(
            Agent::new(name).model(model).instructions(instructions),
            |a, h| a.post_hook(h),
        )
    };
    Workflow::new(WF)
        .name("AnalysisWorkflow")
        .description("Analyzes input and provides a summary")
        .steps([
            agent("Analyzer", ANALYZER_INSTRUCTIONS),
            agent("Summarizer", SUMMARIZER_INSTRUCTIONS),
        ])
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub db_path: PathBuf,
    pub mock: Arc<MockOpenAi>,
    pub hooks: HookLog,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<Result<(), agentos::OsError>>>,
    _dir: Arc<tempfile::TempDir>,
}

/// Builds the seed app: the seed workflow with a 1 s background hook on each agent.
pub async fn spawn_app() -> TestApp {
    let mock = Arc::new(MockOpenAi::start().await);
    let hooks = HookLog::default();
    let wf = seed_workflow(
        &mock.base_url(),
        &[sleeping_hook(&hooks, Duration::from_secs(1))],
    );
    let os = AgentOs::new()
        .workflow(wf)
        .run_hooks_in_background(true)
        .hook_retries(1, Duration::from_millis(10))
        .hook_poll_interval(Duration::from_millis(50));
    spawn_with(os, mock, hooks).await
}

/// Serves `os` (whose db is set here to a fresh temp file) on a loopback port.
pub async fn spawn_with(os: AgentOs, mock: Arc<MockOpenAi>, hooks: HookLog) -> TestApp {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let db_path = dir.path().join("agentos.db");
    serve_on(os.db(SqliteDb::new(&db_path)), mock, hooks, dir, db_path).await
}

/// Serves `os` on `db` (a Postgres schema, say) instead of a temp SQLite file.
pub async fn spawn_on_db(
    os: AgentOs,
    db: agentos::DbConfig,
    mock: Arc<MockOpenAi>,
    hooks: HookLog,
) -> TestApp {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let unused = dir.path().join("unused.db");
    serve_on(os.db(db), mock, hooks, dir, unused).await
}

/// Serves `os` on the database file of `previous` (a restart on the same file).
pub async fn restart_on(previous: &TestApp, os: AgentOs) -> TestApp {
    serve_on(
        os.db(SqliteDb::new(&previous.db_path)),
        previous.mock.clone(),
        previous.hooks.clone(),
        previous._dir.clone(),
        previous.db_path.clone(),
    )
    .await
}

/// While set, every agentos log line at any level is also appended to [`CAPTURED`].
pub static CAPTURE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
/// agentos's log lines written while [`CAPTURE`] was set.
pub static CAPTURED: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// Appends to [`CAPTURED`].
struct CaptureWriter;

impl std::io::Write for CaptureWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURED
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The test process's subscriber: agentos's span layer (tracing tests turn it on), logs
/// (`RUST_LOG`, default `warn`) captured with each test's output, and, while [`CAPTURE`] is
/// set, every agentos line in [`CAPTURED`] (a test of what the logs say).
pub fn init_tracing() {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
        let _ = tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_test_writer()
                    .with_filter(filter),
            )
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(|| CaptureWriter)
                    .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
                        CAPTURE.load(std::sync::atomic::Ordering::Relaxed)
                            && meta.target().starts_with("agentos")
                    })),
            )
            .with(agentos::telemetry::layer())
            .try_init();
    });
}

async fn serve_on(
    os: AgentOs,
    mock: Arc<MockOpenAi>,
    hooks: HookLog,
    dir: Arc<tempfile::TempDir>,
    db_path: PathBuf,
) -> TestApp {
    init_tracing();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(os.serve_with_shutdown(listener, async {
        let _ = rx.await;
    }));
    TestApp {
        base,
        client: reqwest::Client::new(),
        db_path,
        mock,
        hooks,
        shutdown: Some(tx),
        server: Some(server),
        _dir: dir,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// `POST /workflows/{WF}/runs` as multipart with these fields.
    pub async fn post_run(&self, fields: &[(&str, &str)]) -> reqwest::Response {
        let form = fields
            .iter()
            .fold(reqwest::multipart::Form::new(), |f, (k, v)| {
                f.text(k.to_string(), v.to_string())
            });
        self.client
            .post(self.url(&format!("/workflows/{WF}/runs")))
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    /// A non-streamed run; returns the status and JSON body.
    pub async fn run_json(&self, fields: &[(&str, &str)]) -> (u16, Value) {
        let mut all = vec![("stream", "false")];
        all.extend_from_slice(fields);
        let res = self.post_run(&all).await;
        let status = res.status().as_u16();
        (status, res.json().await.unwrap())
    }

    /// A non-streamed run of the agent `agent_id`; returns the status and JSON body.
    pub async fn agent_run(&self, agent_id: &str, fields: &[(&str, &str)]) -> (u16, Value) {
        let form = fields
            .iter()
            .chain(&[("stream", "false")])
            .fold(reqwest::multipart::Form::new(), |f, (k, v)| {
                f.text(k.to_string(), v.to_string())
            });
        let res = self
            .client
            .post(self.url(&format!("/agents/{agent_id}/runs")))
            .multipart(form)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap())
    }

    /// `method path` with a JSON body (or none); the status and the JSON answer (`Null` when
    /// there is none).
    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.client.request(method, self.url(path));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let res = self.client.get(self.url(path)).send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap())
    }

    /// Stops accepting, finishes runs, drains hooks, closes the pool; returns when done.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
    }

    /// The hook jobs as stored.
    pub async fn hook_jobs(&self) -> Vec<JobRecord> {
        stored_jobs(&self.db_path).await
    }
}

/// Waits (polling every 20 ms, up to `limit`) until `check` gives `Some`.
pub async fn wait_for<T, F, Fut>(limit: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(found) = check().await {
            return Some(found);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The hook jobs in the database file at `db`, read through a fresh connection.
pub async fn stored_jobs(db: &std::path::Path) -> Vec<JobRecord> {
    let store = SqliteStore::open(db).await.unwrap();
    let filter = JobFilter {
        limit: 10_000,
        ..JobFilter::default()
    };
    let (jobs, _) = store.list_jobs(&filter).await.unwrap();
    store.close().await;
    jobs
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Parses an SSE body into `(event name, data JSON)` pairs.
pub fn parse_sse(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let mut name = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = n.to_owned();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            (name, serde_json::from_str(&data).unwrap_or(Value::Null))
        })
        .collect()
}
