//! `cargo run --example mcp_tools` as a user runs it: offline, its agent calls the tool of the
//! MCP server the example serves itself, and the OS answers MCP at `/mcp`.

use crate::support::free_port;
use serde_json::{Value, json};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::Command;

#[tokio::test(flavor = "multi_thread")]
async fn the_mcp_tools_example_runs_offline_both_ways() {
    // target/<profile>/deps/mcp-<hash> → target/<profile>/examples/mcp_tools
    let exe = std::env::current_exe().unwrap();
    let binary = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/mcp_tools");
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _child = Command::new(binary)
        .current_dir(dir.path())
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .env_remove("DATABASE_URL")
        .env_remove("OS_SECURITY_KEY")
        .env("AGENT_OS_PORT", port.to_string())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("cargo test builds the examples");
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !client
        .get(format!("{base}/health"))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
    {
        assert!(Instant::now() < deadline, "the example did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Over REST: the agent called the MCP server's tool, offered under its prefix.
    let run: Value = client
        .post(format!("{base}/agents/weather-agent/runs"))
        .form(&[("message", "Weather in Oslo?"), ("stream", "false")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(run["status"], "COMPLETED", "{run}");
    assert_eq!(
        run["tools"][0]["tool_name"], "weather_get_forecast",
        "{run}"
    );
    assert_eq!(run["tools"][0]["result"], "Oslo: sunny, 16 °C, light wind");
    assert_eq!(
        run["content"],
        "Here is the forecast. Oslo: sunny, 16 °C, light wind"
    );

    // Over MCP: `run_agent` at /mcp (a stateless server answers a call without a handshake).
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "run_agent",
                   "arguments": {"agent_id": "weather-agent", "message": "Weather in Rome?"}}});
    let body = client
        .post(format!("{base}/mcp"))
        .header("accept", "application/json, text/event-stream")
        .json(&call)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let data = body
        .lines()
        .find_map(|l| {
            l.strip_prefix("data: ")
                .filter(|d| d.contains("\"result\""))
        })
        .unwrap_or_else(|| panic!("no result in {body}"));
    let message: Value = serde_json::from_str(data).unwrap();
    let result = &message["result"];
    assert_eq!(result["isError"], false, "{message}");
    assert_eq!(
        result["structuredContent"]["content"],
        "Here is the forecast. Rome: sunny, 16 °C, light wind"
    );
    assert_eq!(result["structuredContent"]["agent_id"], "weather-agent");
}
