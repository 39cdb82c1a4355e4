//! Process-level: `cargo run --example knowledge_agent` as a user runs it, offline: it ingests
//! the files of `examples/knowledge/` and answers from them.

use crate::example::{free_port, named_example_binary};
use serde_json::Value;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::Command;

#[tokio::test]
async fn the_knowledge_agent_example_answers_from_its_folder() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let binary = named_example_binary("knowledge_agent");
    let _child = Command::new(binary)
        .current_dir(dir.path())
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .env_remove("DATABASE_URL")
        .env_remove("KNOWLEDGE_DIR")
        .env("AGENT_OS_PORT", port.to_string())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("cargo test builds the examples");
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let get = |path: &str| {
        let request = client.get(format!("{base}{path}"));
        async move { request.send().await.ok()?.json::<Value>().await.ok() }
    };
    // Every file of the folder indexed.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(list) = get("/knowledge/content").await {
            let items = list["data"].as_array().cloned().unwrap_or_default();
            if items.len() == 3 && items.iter().all(|i| i["status"] == "completed") {
                break;
            }
            assert!(
                items.iter().all(|i| i["status"] != "failed"),
                "a file failed: {list}"
            );
        }
        assert!(
            Instant::now() < deadline,
            "the example did not index its folder"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ask = |question: &'static str| {
        let request = client
            .post(format!("{base}/agents/support/runs"))
            .form(&[("message", question), ("stream", "false")]);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let run = ask("How long do refunds take?").await;
    let answer = run["content"].as_str().unwrap();
    assert!(
        answer.contains("14 days") && answer.contains("returns.md"),
        "{answer}"
    );
    let run = ask("Is express delivery available?").await;
    let answer = run["content"].as_str().unwrap();
    assert!(answer.contains("Express delivery"), "{answer}");
    assert_eq!(run["tools"][0]["tool_name"], "search_knowledge_base");
}
