//! Process-level: `agent_os` and `personal_assistant` as a user runs them, offline (the
//! `ScriptedModel` plays the memory manager too), learning about a user in one session and
//! remembering them in another.

use crate::example::free_port;
use crate::helpers::wait_for;
use serde_json::Value;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// An example binary built by `cargo test`, serving offline in a temp directory.
struct Served {
    _child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

async fn serve(example: &str) -> Served {
    let exe = std::env::current_exe().unwrap(); // target/<profile>/deps/api-<hash>
    let binary = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(example);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = Command::new(binary)
        .current_dir(dir.path())
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .env_remove("DATABASE_URL")
        .env("AGENT_OS_PORT", port.to_string())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("cargo test builds the examples");
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !reqwest::get(format!("{base}/health"))
        .await
        .is_ok_and(|r| r.status() == 200)
    {
        assert!(Instant::now() < deadline, "{example} did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Served {
        _child: child,
        base,
        _dir: dir,
    }
}

impl Served {
    async fn run(&self, agent: &str, fields: &[(&str, &str)]) -> Value {
        let form = fields
            .iter()
            .chain(&[("stream", "false")])
            .fold(reqwest::multipart::Form::new(), |f, (k, v)| {
                f.text(k.to_string(), v.to_string())
            });
        reqwest::Client::new()
            .post(format!("{}/agents/{agent}/runs", self.base))
            .multipart(form)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn get(&self, path: &str) -> Value {
        reqwest::get(format!("{}{path}", self.base))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The user's memories once they have one (up to 10 s).
    async fn memories(&self, user: &str) -> Vec<Value> {
        let path = format!("/memories?user_id={user}");
        wait_for(Duration::from_secs(10), || async {
            let data = self.get(&path).await["data"].as_array().cloned()?;
            (!data.is_empty()).then_some(data)
        })
        .await
        .unwrap_or_else(|| panic!("{user} has no memory"))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn agent_os_remembers_a_user_offline() {
    let os = serve("agent_os").await;
    // The tool still works.
    let sum = os.run("assistant", &[("message", "What is 2 + 3?")]).await;
    assert_eq!(sum["content"], "The sum is 5.0.", "{sum}");
    let first = os
        .run(
            "assistant",
            &[
                ("message", "My name is Ana"),
                ("user_id", "ana"),
                ("session_id", "ana-1"),
            ],
        )
        .await;
    assert_eq!(first["status"], "COMPLETED", "{first}");
    let memories = os.memories("ana").await;
    assert_eq!(memories[0]["memory"], "The user said: My name is Ana");
    assert_eq!(memories[0]["topics"][0], "name");
    let later = os
        .run(
            "assistant",
            &[
                ("message", "Who am I?"),
                ("user_id", "ana"),
                ("session_id", "ana-2"),
            ],
        )
        .await;
    assert_eq!(
        later["content"],
        "Scripted reply to: Who am I? (I remember: The user said: My name is Ana)"
    );
    let stranger = os
        .run("assistant", &[("message", "Who am I?"), ("user_id", "bo")])
        .await;
    assert_eq!(stranger["content"], "Scripted reply to: Who am I?");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_personal_assistant_runs_its_whole_flow_offline() {
    let pa = serve("personal_assistant").await;
    let agent = "personal-assistant";
    let first = pa
        .run(
            agent,
            &[
                ("message", "My name is Ana and I love jazz"),
                ("user_id", "ana"),
                ("session_id", "ana-1"),
                ("session_state", r#"{"user_name": "Ana"}"#),
            ],
        )
        .await;
    assert_eq!(
        first["content"],
        "You are Ana's personal assistant. You said: My name is Ana and I love jazz"
    );
    let added = pa
        .run(
            agent,
            &[
                ("message", "Add milk to my list"),
                ("user_id", "ana"),
                ("session_id", "ana-1"),
            ],
        )
        .await;
    assert_eq!(
        added["content"],
        r#"Done. Added milk to ana's list: ["milk"]"#
    );
    let session = wait_for(Duration::from_secs(10), || async {
        let session = pa.get("/sessions/ana-1").await;
        let summary = session["session_summary"]["summary"].as_str()?;
        summary.contains("milk").then_some(session)
    })
    .await
    .expect("the session's summary covers both runs");
    assert_eq!(session["session_state"]["shopping_list"][0], "milk");
    assert_eq!(
        session["session_state"]["visits"], 2,
        "the pre-hook counted"
    );
    pa.memories("ana").await;
    let later = pa
        .run(
            agent,
            &[
                ("message", "What do you know about me?"),
                ("user_id", "ana"),
                ("session_id", "ana-2"),
            ],
        )
        .await;
    assert!(
        later["content"]
            .as_str()
            .unwrap()
            .ends_with("(I remember: The user said: My name is Ana and I love jazz)"),
        "{later}"
    );
}
