//! Process-level: the seed example as a user runs it, its output read from its stdout.

use crate::helpers::{WF, stored_jobs};
use crate::mock_openai::MockOpenAi;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// `target/<profile>/examples/<name>`, built by `cargo test`.
pub(crate) fn named_example_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap(); // target/<profile>/deps/api-<hash>
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name)
}

pub(crate) struct Example {
    child: Child,
    pub(crate) base: String,
    stdout: Arc<Mutex<String>>,
    dir: tempfile::TempDir,
}

async fn start_example(envs: &[(&str, String)]) -> Example {
    start_example_in(tempfile::tempdir().unwrap(), envs).await
}

/// A free loopback port below the kernel's ephemeral range (32768-60999 on Linux). The port is
/// free now and bound by the example later: a port from the ephemeral range could meanwhile be
/// handed to another test's listener on port 0 (which would then answer the example's health
/// check) or to an outgoing connection, and the example would fail to bind it.
pub(crate) fn free_port() -> u16 {
    loop {
        let port = fastrand::u16(20_000..32_000);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Starts the example with `dir` as its working directory (its database is `dir/tmp/workflow.db`).
pub(crate) async fn start_example_in(dir: tempfile::TempDir, envs: &[(&str, String)]) -> Example {
    start_named_example_in("background_hooks_workflow", dir, envs).await
}

/// Starts the example `name` with `dir` as its working directory.
pub(crate) async fn start_named_example_in(
    name: &str,
    dir: tempfile::TempDir,
    envs: &[(&str, String)],
) -> Example {
    let port = free_port();
    let mut cmd = Command::new(named_example_binary(name));
    cmd.current_dir(dir.path())
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .env_remove("DATABASE_URL")
        .env("AGENT_OS_PORT", port.to_string())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("cargo test builds the examples");
    let stdout = Arc::new(Mutex::new(String::new()));
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let sink = stdout.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            let mut out = sink.lock().unwrap();
            out.push_str(&line);
            out.push('\n');
        }
    });
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if reqwest::get(format!("{base}/health"))
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            break;
        }
        assert!(Instant::now() < deadline, "the example did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Example {
        child,
        base,
        stdout,
        dir,
    }
}

impl Example {
    fn output(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    async fn wait_for_output(&self, text: &str, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.output().contains(text) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    async fn run(&self, message: &str) -> Value {
        let form = reqwest::multipart::Form::new()
            .text("message", message.to_owned())
            .text("stream", "false");
        self.post(form).await
    }

    /// A non-streamed run in `session`, as a future that owns what it needs.
    fn run_in(
        &self,
        session: &str,
        message: String,
    ) -> impl std::future::Future<Output = Value> + Send + 'static {
        let form = reqwest::multipart::Form::new()
            .text("message", message)
            .text("stream", "false")
            .text("session_id", session.to_owned());
        post_form(self.base.clone(), form)
    }

    async fn post(&self, form: reqwest::multipart::Form) -> Value {
        post_form(self.base.clone(), form).await
    }

    /// SIGKILL: no shutdown, no drain; returns the working directory for a restart.
    pub(crate) async fn kill_9(mut self) -> tempfile::TempDir {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
        self.dir
    }

    /// SIGTERM, then the exit status.
    pub(crate) async fn terminate(mut self) -> (std::process::ExitStatus, tempfile::TempDir) {
        let pid = self.child.id().unwrap().to_string();
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        let status = tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("the example exits after SIGTERM")
            .unwrap();
        (status, self.dir)
    }
}

/// Posts a run form to the example at `base` and returns the JSON answer.
async fn post_form(base: String, form: reqwest::multipart::Form) -> Value {
    reqwest::Client::new()
        .post(format!("{base}/workflows/{WF}/runs"))
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_seed_example_answers_then_prints_its_hooks() {
    let mock = MockOpenAi::start().await;
    let example = start_example(&[("OPENAI_BASE_URL", mock.base_url())]).await;
    let body = example.run("Explain the benefits of exercise").await;
    let at_response = example.output();
    assert_eq!(body["status"], "COMPLETED");
    assert_eq!(
        body["content"],
        "reply to: reply to: Explain the benefits of exercise"
    );
    assert_eq!(body["step_executor_runs"][0]["model"], "gpt-5.2");
    assert!(
        !at_response.contains("Logged metrics"),
        "the response waited for the hooks:\n{at_response}"
    );

    for agent in ["Analyzer", "Summarizer"] {
        let line = format!("[Background Hook] Logged metrics for {agent}");
        assert!(
            example.wait_for_output(&line, Duration::from_secs(5)).await,
            "{}",
            example.output()
        );
        assert!(
            example
                .output()
                .contains(&format!("[Background Hook] Agent '{agent}' completed step"))
        );
    }
    let out = example.output();
    for run in body["step_executor_runs"].as_array().unwrap() {
        assert!(out.contains(&format!(
            "[Background Hook] Run ID: {}",
            run["run_id"].as_str().unwrap()
        )));
    }
    let (status, dir) = example.terminate().await;
    assert!(status.success(), "graceful exit on SIGTERM: {status:?}");
    assert!(dir.path().join("tmp/workflow.db").exists());
}

#[tokio::test]
async fn without_a_model_server_the_example_says_so_and_answers_offline() {
    let example = start_example(&[]).await;
    assert!(
        example
            .output()
            .contains("answering with the offline ScriptedModel"),
        "{}",
        example.output()
    );
    let body = example.run("hello").await;
    assert_eq!(body["status"], "COMPLETED");
    assert_eq!(body["step_executor_runs"][1]["model"], "scripted");
    // SIGTERM with hooks still sleeping: they drain before the process exits.
    assert!(!example.output().contains("Logged metrics"));
    let out = example.stdout.clone();
    let (status, _dir) = example.terminate().await;
    assert!(status.success());
    // The process has exited; give the reader task a moment to take the last lines.
    let deadline = Instant::now() + Duration::from_secs(2);
    while !out
        .lock()
        .unwrap()
        .contains("Logged metrics for Summarizer")
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let out = out.lock().unwrap().clone();
    assert!(
        out.contains("Logged metrics for Analyzer")
            && out.contains("Logged metrics for Summarizer"),
        "hooks drained on SIGTERM:\n{out}"
    );
}

#[tokio::test]
async fn kill_9_with_hooks_pending_loses_nothing_after_a_restart() {
    // 80 hook jobs: more than the example's 64 hook slots, so some wait for a later sweep.
    const ANSWERED: usize = 40;
    let mock = MockOpenAi::start().await;
    let envs = [("OPENAI_BASE_URL", mock.base_url())];
    let example = start_example(&envs).await;

    // Dozens of answered runs, each leaving two 1 s background hooks.
    let answered = futures::future::join_all(
        (0..ANSWERED).map(|i| example.run_in("s-kill", format!("run {i}"))),
    )
    .await;
    assert!(answered.iter().all(|b| b["status"] == "COMPLETED"));
    // And a few runs still in flight (the model now takes 5 s), never answered.
    mock.set_delay(Duration::from_secs(5));
    let in_flight: Vec<_> = (0..4)
        .map(|i| tokio::spawn(example.run_in("s-kill", format!("in flight {i}"))))
        .collect();
    // Wait until the four runs are under way (their model calls reached the mock).
    let deadline = Instant::now() + Duration::from_secs(10);
    while mock.requests().len() < 2 * ANSWERED + 4 {
        assert!(
            Instant::now() < deadline,
            "the in-flight runs did not start"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let output = example.output();
    assert!(
        !output.contains("Logged metrics"),
        "killed before any hook finished"
    );
    let dir = example.kill_9().await;
    for pending in in_flight {
        assert!(
            pending.await.is_err(),
            "an in-flight request never got an answer"
        );
    }

    mock.set_delay(Duration::ZERO);
    let db = dir.path().join("tmp/workflow.db");
    let again = start_example_in(dir, &envs).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let jobs = loop {
        let jobs = stored_jobs(&db).await;
        if jobs.len() == 2 * ANSWERED && jobs.iter().all(|j| j.status == "done") {
            break jobs;
        }
        assert!(
            Instant::now() < deadline,
            "hooks not all done after the restart: {jobs:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(jobs.iter().all(|j| j.outcome.as_deref() == Some("ok")));
    assert!(
        again
            .output()
            .matches("[Background Hook] Logged metrics")
            .count()
            >= 2 * ANSWERED
    );

    // Every answered run is stored COMPLETED; the unanswered ones are ERROR, not RUNNING.
    let runs: Value = reqwest::get(format!(
        "{}/workflows/{WF}/runs?session_id=s-kill",
        again.base
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), ANSWERED + 4);
    for body in &answered {
        let row = runs.iter().find(|r| r["run_id"] == body["run_id"]).unwrap();
        assert_eq!(row["status"], "COMPLETED");
    }
    let interrupted: Vec<&Value> = runs.iter().filter(|r| r["status"] == "ERROR").collect();
    assert_eq!(interrupted.len(), 4);
    assert!(
        interrupted
            .iter()
            .all(|r| r["error"] == "interrupted: server restarted")
    );
    let (status, _) = again.terminate().await;
    assert!(status.success());
}

#[tokio::test]
async fn a_background_run_killed_mid_way_resumes_from_its_last_completed_step() {
    let mock = MockOpenAi::start().await;
    // The first model call answers at once; later ones take 10 s (until healed).
    mock.slow_after(1, Duration::from_secs(10));
    let envs = [("OPENAI_BASE_URL", mock.base_url())];
    let example = start_example(&envs).await;
    let form = reqwest::multipart::Form::new()
        .text("message", "resume me")
        .text("stream", "false")
        .text("background", "true");
    let accepted = example.post(form).await;
    assert_eq!(accepted["status"], "PENDING");
    let run_id = accepted["run_id"].as_str().unwrap().to_owned();
    let session = accepted["session_id"].as_str().unwrap().to_owned();
    // The second step's model call is under way: the first step is done (and checkpointed).
    let deadline = Instant::now() + Duration::from_secs(10);
    while mock.requests().len() < 2 {
        assert!(Instant::now() < deadline, "the second step did not start");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let dir = example.kill_9().await;

    mock.slow_after(usize::MAX, Duration::ZERO);
    let db = dir.path().join("tmp/workflow.db");
    let again = start_example_in(dir, &envs).await;
    let url = format!(
        "{}/workflows/{WF}/runs/{run_id}?session_id={session}",
        again.base
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let done = loop {
        let body: Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
        if body["status"] != "RUNNING" && body["status"] != "PENDING" {
            break body;
        }
        assert!(Instant::now() < deadline, "the run was not resumed: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(done["status"], "COMPLETED", "{done}");
    let steps = done["step_results"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0]["content"], "reply to: resume me");
    assert_eq!(steps[1]["content"], "reply to: reply to: resume me");
    // The first step was not paid for twice: one call for it, one cut by the kill, one resumed.
    let calls = mock.requests();
    assert_eq!(calls.len(), 3);
    let last_user =
        |r: &Value| r["messages"].as_array().unwrap().last().unwrap()["content"].clone();
    assert_eq!(last_user(&calls[2]), "reply to: resume me");
    // Both steps' background hooks ran: the first's was owed by the checkpoint.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let jobs: Vec<_> = stored_jobs(&db)
            .await
            .into_iter()
            .filter(|j| j.run_id.as_deref() == Some(run_id.as_str()))
            .collect();
        if jobs.len() == 2 && jobs.iter().all(|j| j.status == "done") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "hooks of the resumed run: {jobs:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, _) = again.terminate().await;
    assert!(status.success());
}

#[tokio::test]
async fn the_team_examples_answer_offline_with_scripted_delegations() {
    let client = reqwest::Client::new();
    let run = |base: &str, team: &str, message: &str| {
        let form = reqwest::multipart::Form::new()
            .text("message", message.to_owned())
            .text("stream", "false");
        client
            .post(format!("{base}/teams/{team}/runs"))
            .multipart(form)
            .send()
    };
    let agent_os = start_named_example_in("agent_os", tempfile::tempdir().unwrap(), &[]).await;
    let body: Value = run(&agent_os.base, "research-team", "Tides")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "COMPLETED", "{body}");
    assert_eq!(body["team_name"], "Research Team");
    assert_eq!(
        body["content"],
        "Here is the team's report. Scripted reply to: Write a short report from these findings: Scripted reply to: Research this topic: Tides"
    );
    let members: Vec<&str> = body["member_responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["agent_name"].as_str().unwrap())
        .collect();
    assert_eq!(members, ["Researcher", "Writer"]);
    let _ = agent_os.terminate().await;

    let team = start_named_example_in("team", tempfile::tempdir().unwrap(), &[]).await;
    let body: Value = run(&team.base, "research-writing-team", "How are LLMs trained?")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "COMPLETED", "{body}");
    let content = body["content"].as_str().unwrap();
    assert!(
        content.starts_with("## Overview\n\nScripted reply to: Polish these findings"),
        "{content}"
    );
    let system = body["messages"][0]["content"].as_str().unwrap();
    assert!(
        system.starts_with("- You lead a research and writing team."),
        "{system}"
    );
    assert!(
        system.ends_with("- Use markdown to format your answers.\n</additional_information>"),
        "{system}"
    );
    let _ = team.terminate().await;
}
