//! Agent tools, structured output and model settings, through HTTP (JSON and SSE), with the
//! local OpenAI mock and with `ScriptedModel`.

use crate::helpers::*;
use crate::mock_openai::MockOpenAi;
use agentos::{
    Agent, AgentOs, OpenAIChat, ScriptedModel, ScriptedReply, Tool, ToolError, Workflow, tool_fn,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The city to look up.
#[derive(Deserialize, JsonSchema)]
struct CityArgs {
    /// The city's name.
    city: String,
}

/// A typed tool.
struct GetWeather;

#[async_trait::async_trait]
impl Tool for GetWeather {
    type Args = CityArgs;
    type Output = String;
    fn name(&self) -> &str {
        "get_weather"
    }
    fn description(&self) -> &str {
        "Get the current weather for a city."
    }
    async fn call(&self, args: CityArgs) -> Result<String, ToolError> {
        Ok(format!("Sunny in {}", args.city))
    }
}

#[derive(Deserialize, JsonSchema)]
struct AddArgs {
    a: i64,
    b: i64,
}

/// `add` as a plain closure.
fn add_tool() -> impl agentos::IntoTool {
    tool_fn("add", "Add two numbers.", |args: AddArgs| async move {
        Ok::<_, String>(args.a + args.b)
    })
}

/// A weather report: the structured output type.
#[derive(Deserialize, JsonSchema)]
#[allow(dead_code)]
struct Forecast {
    city: String,
    high: i64,
    summary: String,
}

fn mock_model(mock: &MockOpenAi) -> OpenAIChat {
    OpenAIChat::new("gpt-5.2")
        .base_url(mock.base_url())
        .api_key("test-key")
        .timeout(Duration::from_secs(5))
        .retry_policy(fast_retries())
}

/// Serves one workflow (id `WF`) whose single step is `agent`.
async fn serve_agent(agent: Agent, mock: Arc<MockOpenAi>) -> TestApp {
    let wf = Workflow::new(WF).name("Tools").steps([agent]);
    spawn_with(AgentOs::new().workflow(wf), mock, HookLog::default()).await
}

/// A streamed run's events.
async fn run_sse(app: &TestApp, message: &str) -> Vec<(String, Value)> {
    let res = app
        .post_run(&[("message", message), ("stream", "true")])
        .await;
    assert_eq!(res.status(), 200);
    parse_sse(&res.text().await.unwrap())
}

/// The event names, consecutive `RunContent`s collapsed into one.
fn names(events: &[(String, Value)]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for (name, _) in events {
        if !(name == "RunContent" && out.last() == Some(&"RunContent")) {
            out.push(name);
        }
    }
    out
}

#[tokio::test]
async fn tool_calls_run_and_their_results_go_back_to_the_model() {
    let mock = Arc::new(MockOpenAi::start().await);
    mock.push_tool_calls(&[
        ("get_weather", json!({"city": "Paris"})),
        ("add", json!({"a": 2, "b": 3})),
    ]);
    let agent = Agent::new("Assistant")
        .model(mock_model(&mock))
        .instructions("Use your tools.")
        .tool(GetWeather)
        .tool(add_tool());
    let app = serve_agent(agent, mock.clone()).await;

    let (status, body) = app.run_json(&[("message", "Weather in Paris?")]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "COMPLETED", "{body}");
    assert_eq!(body["content"], "reply to: Weather in Paris?");

    // The model was told about both tools, with schemas derived from the Rust types.
    let requests = mock.requests();
    assert_eq!(
        requests.len(),
        2,
        "one call with tools, one after their results"
    );
    let tools = requests[0]["tools"].as_array().unwrap();
    let weather = tools
        .iter()
        .find(|t| t["function"]["name"] == "get_weather")
        .unwrap();
    assert_eq!(weather["type"], "function");
    assert_eq!(
        weather["function"]["description"],
        "Get the current weather for a city."
    );
    let params = &weather["function"]["parameters"];
    assert_eq!(params["type"], "object");
    assert_eq!(params["properties"]["city"]["type"], "string");
    assert_eq!(
        params["properties"]["city"]["description"],
        "The city's name."
    );
    assert_eq!(params["required"], json!(["city"]));
    assert!(tools.iter().any(|t| t["function"]["name"] == "add"));

    // The second call carries the assistant's tool calls and one result per call.
    let msgs = requests[1]["messages"].as_array().unwrap();
    let roles: Vec<&str> = msgs.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["system", "user", "assistant", "tool", "tool"]);
    assert_eq!(msgs[2]["tool_calls"][0]["function"]["name"], "get_weather");
    assert_eq!(msgs[3]["tool_call_id"], "call_1");
    assert_eq!(msgs[3]["content"], "Sunny in Paris");
    assert_eq!(msgs[4]["tool_call_id"], "call_2");
    assert_eq!(msgs[4]["content"], "5");

    // The run records the executions (agno's ToolExecution) and every message.
    let run = &body["step_executor_runs"][0];
    let tools = run["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 2);
    assert_eq!(tools[0]["tool_call_id"], "call_1");
    assert_eq!(tools[0]["tool_name"], "get_weather");
    assert_eq!(tools[0]["tool_args"], json!({"city": "Paris"}));
    assert_eq!(tools[0]["tool_call_error"], false);
    assert_eq!(tools[0]["result"], "Sunny in Paris");
    assert!(tools[0]["metrics"]["duration"].as_f64().is_some());
    assert!(tools[0]["created_at"].as_i64().is_some());
    assert_eq!(tools[1]["result"], "5");
    let roles: Vec<&str> = run["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        ["system", "user", "assistant", "tool", "tool", "assistant"]
    );
    assert!(run["messages"][2].get("content").is_none());
    assert_eq!(run["messages"][2]["tool_calls"][1]["id"], "call_2");
    assert_eq!(run["messages"][3]["tool_name"], "get_weather");
    assert_eq!(run["messages"][3]["tool_call_error"], false);
    // Usage is summed over both model calls.
    let details = &run["metrics"]["details"]["model"][0];
    assert_eq!(run["metrics"]["total_tokens"], details["total_tokens"]);

    // And the stored run is the same.
    let run_id = body["run_id"].as_str().unwrap();
    let session = body["session_id"].as_str().unwrap();
    let (_, stored) = app
        .get_json(&format!(
            "/workflows/{WF}/runs/{run_id}?session_id={session}"
        ))
        .await;
    assert_eq!(stored["step_executor_runs"][0]["tools"], run["tools"]);
}

#[tokio::test]
async fn streamed_tool_calls_are_put_together_and_reported_as_events() {
    let mock = Arc::new(MockOpenAi::start().await);
    mock.push_tool_calls(&[
        ("get_weather", json!({"city": "Paris"})),
        ("add", json!({"a": 2, "b": 3})),
    ]);
    let agent = Agent::new("Assistant")
        .model(mock_model(&mock))
        .tool(GetWeather)
        .tool(add_tool());
    let app = serve_agent(agent, mock.clone()).await;

    let events = run_sse(&app, "Weather in Paris?").await;
    let order = names(&events);
    let tools_at = order.iter().position(|n| *n == "ToolCallStarted").unwrap();
    assert_eq!(
        &order[tools_at - 2..],
        [
            "ModelRequestStarted",
            "ModelRequestCompleted",
            "ToolCallStarted",
            "ToolCallStarted",
            "ToolCallCompleted",
            "ToolCallCompleted",
            "ModelRequestStarted",
            "RunContent",
            "ModelRequestCompleted",
            "RunContentCompleted",
            "RunCompleted",
            "StepCompleted",
            "WorkflowCompleted",
        ]
    );

    // The interleaved argument pieces were put back together per call.
    let started: Vec<&Value> = events
        .iter()
        .filter(|(n, _)| n == "ToolCallStarted")
        .map(|(_, d)| &d["tool"])
        .collect();
    assert_eq!(started[0]["tool_name"], "get_weather");
    assert_eq!(started[0]["tool_args"], json!({"city": "Paris"}));
    assert_eq!(started[1]["tool_args"], json!({"a": 2, "b": 3}));
    assert!(started[0]["result"].is_null() && started[0]["tool_call_error"].is_null());

    let completed: Vec<&Value> = events
        .iter()
        .filter(|(n, _)| n == "ToolCallCompleted")
        .map(|(_, d)| d)
        .collect();
    let weather = completed
        .iter()
        .find(|d| d["tool"]["tool_name"] == "get_weather")
        .unwrap();
    assert_eq!(weather["tool"]["result"], "Sunny in Paris");
    assert_eq!(weather["tool"]["tool_call_id"], "call_1");
    let summary = weather["content"].as_str().unwrap();
    assert!(
        summary.starts_with("get_weather(city=Paris) completed in "),
        "{summary}"
    );
    // Tool events carry the agent's context.
    assert_eq!(weather["agent_name"], "Assistant");
    assert!(weather["workflow_run_id"].is_string());

    // The second model call got both results.
    let msgs = mock.requests()[1]["messages"].as_array().unwrap().clone();
    let results: Vec<&str> = msgs
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(results, ["Sunny in Paris", "5"]);

    let done = &events.iter().find(|(n, _)| n == "RunCompleted").unwrap().1;
    assert_eq!(done["content"], "reply to: Weather in Paris?");
}

#[tokio::test]
async fn failing_tools_and_bad_arguments_go_back_to_the_model_as_errors() {
    let mock = Arc::new(MockOpenAi::start().await);
    mock.push_raw_tool_calls(&[
        ("add", "{not json".to_owned()),
        ("add", json!({"a": "two", "b": 3}).to_string()),
        ("fails", "{}".to_owned()),
        ("panics", "{}".to_owned()),
        ("no_such_tool", "{}".to_owned()),
    ]);
    let fails = tool_fn("fails", "Always fails.", |_: agentos::NoArgs| async {
        Err::<String, _>("the database is down")
    });
    let panics = tool_fn("panics", "Always panics.", |_: agentos::NoArgs| async {
        if true {
            panic!("tool bug");
        }
        Ok::<String, String>(String::new())
    });
    let agent = Agent::new("Assistant")
        .model(mock_model(&mock))
        .tool(add_tool())
        .tool(fails)
        .tool(panics);
    let app = serve_agent(agent, mock.clone()).await;

    let events = run_sse(&app, "Try your tools").await;
    let (last, end) = events.last().unwrap();
    assert_eq!(last, "WorkflowCompleted", "the run goes on: {end}");

    let errors: Vec<(&str, &str)> = events
        .iter()
        .filter(|(n, _)| n == "ToolCallError")
        .map(|(_, d)| {
            (
                d["tool"]["tool_call_id"].as_str().unwrap(),
                d["error"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(errors.len(), 5, "{errors:?}");
    let error_of = |id: &str| errors.iter().find(|(i, _)| *i == id).unwrap().1;
    assert!(error_of("call_1").contains("not valid JSON"));
    assert!(error_of("call_2").contains("invalid arguments"));
    assert_eq!(error_of("call_3"), "the database is down");
    assert!(error_of("call_4").contains("panicked: tool bug"));
    assert!(error_of("call_5").contains("tool no_such_tool not found"));

    // The model saw each error as the call's result.
    let msgs = mock.requests()[1]["messages"].as_array().unwrap().clone();
    let tool_msgs: Vec<&Value> = msgs.iter().filter(|m| m["role"] == "tool").collect();
    assert_eq!(tool_msgs.len(), 5);
    assert_eq!(tool_msgs[2]["content"], "the database is down");

    // The stored run records them as failed executions.
    let done = &events
        .iter()
        .find(|(n, _)| n == "WorkflowCompleted")
        .unwrap()
        .1;
    let tools = done["step_executor_runs"][0]["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 5);
    assert!(tools.iter().all(|t| t["tool_call_error"] == true));
    assert!(tools[0]["tool_args"].is_null());
    assert_eq!(tools[2]["result"], "the database is down");
}

#[tokio::test]
async fn calls_in_one_reply_run_concurrently() {
    // Each tool waits until the other one has started: run one after the other, the first
    // would time out.
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let meet = |name: &'static str| {
        let barrier = barrier.clone();
        tool_fn(name, "Waits for its partner.", move |_: agentos::NoArgs| {
            let barrier = barrier.clone();
            async move {
                barrier.wait().await;
                Ok::<_, String>(format!("{name} met its partner"))
            }
        })
    };
    let model = ScriptedModel::script([
        ScriptedReply::tool_call("left", json!({})).and_tool_call("right", json!({})),
        ScriptedReply::text("done"),
    ]);
    let agent = Agent::new("Assistant")
        .model(model)
        .tool(meet("left"))
        .tool(meet("right"))
        .tool_timeout(Duration::from_secs(10));
    let mock = Arc::new(MockOpenAi::start().await);
    let app = serve_agent(agent, mock).await;

    let (status, body) = app.run_json(&[("message", "go")]).await;
    assert_eq!(status, 200);
    let tools = body["step_executor_runs"][0]["tools"].as_array().unwrap();
    let results: Vec<&str> = tools
        .iter()
        .map(|t| t["result"].as_str().unwrap())
        .collect();
    assert_eq!(results, ["left met its partner", "right met its partner"]);
    assert_eq!(body["content"], "done");
}

#[tokio::test]
async fn after_max_tool_rounds_the_model_must_answer_without_tools() {
    // The model calls `add` until told `tool_choice: "none"`; a stubborn one never stops.
    let choices = Arc::new(Mutex::new(Vec::new()));
    let seen = choices.clone();
    let model = ScriptedModel::respond(move |req| {
        seen.lock().unwrap().push(req.tool_choice.clone());
        let told_to_stop = req.tool_choice == Some(json!("none"));
        Ok(match req.last_user_message() {
            "polite" if told_to_stop => ScriptedReply::text("the sum is 5"),
            _ => ScriptedReply::tool_call("add", json!({"a": 2, "b": 3})),
        })
    });
    let agent = Agent::new("Assistant")
        .model(model)
        .tool(add_tool())
        .max_tool_rounds(2);
    let mock = Arc::new(MockOpenAi::start().await);
    let app = serve_agent(agent, mock).await;

    let (_, body) = app.run_json(&[("message", "polite")]).await;
    assert_eq!(body["status"], "COMPLETED", "{body}");
    assert_eq!(body["content"], "the sum is 5");
    assert_eq!(
        body["step_executor_runs"][0]["tools"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        *choices.lock().unwrap(),
        [None, None, Some(json!("none"))],
        "two rounds with tools, then one told not to call them"
    );

    let (status, body) = app.run_json(&[("message", "stubborn")]).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ERROR", "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("after 2 rounds"), "{error}");
    assert_eq!(body["step_results"][0]["success"], false);
}

#[tokio::test]
async fn structured_output_and_model_settings_reach_the_model_and_the_output() {
    let mock = Arc::new(MockOpenAi::start().await);
    let reply = json!({"city": "Paris", "high": 21, "summary": "Sunny"});
    mock.push_reply(&reply.to_string());
    mock.push_reply(&reply.to_string());
    let agent = Agent::new("Forecaster")
        .model(mock_model(&mock))
        .output_schema::<Forecast>()
        .temperature(0.2)
        .max_tokens(300)
        .request_field("seed", json!(7));
    let app = serve_agent(agent, mock.clone()).await;

    let (status, body) = app.run_json(&[("message", "Paris?")]).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "COMPLETED", "{body}");
    let run = &body["step_executor_runs"][0];
    assert_eq!(run["content"], reply, "content is the JSON object");
    assert_eq!(run["content_type"], "Forecast");

    let request = &mock.requests()[0];
    assert_eq!(request["temperature"], 0.2);
    assert_eq!(request["max_completion_tokens"], 300);
    assert_eq!(request["seed"], 7);
    let format = &request["response_format"];
    assert_eq!(format["type"], "json_schema");
    assert_eq!(format["json_schema"]["name"], "Forecast");
    assert_eq!(format["json_schema"]["strict"], true);
    let schema = &format["json_schema"]["schema"];
    assert_eq!(schema["required"], json!(["city", "high", "summary"]));
    assert_eq!(schema["additionalProperties"], false);
    assert!(request.get("tools").is_none(), "no tools, no tools key");

    // Streamed: one RunContent with the whole object, and the object in RunCompleted.
    let events = run_sse(&app, "Paris?").await;
    let contents: Vec<&Value> = events
        .iter()
        .filter(|(n, _)| n == "RunContent")
        .map(|(_, d)| d)
        .collect();
    assert_eq!(contents.len(), 1);
    assert_eq!(contents[0]["content"], reply);
    assert_eq!(contents[0]["content_type"], "Forecast");
    let done = &events.iter().find(|(n, _)| n == "RunCompleted").unwrap().1;
    assert_eq!(done["content"], reply);
    assert_eq!(done["content_type"], "Forecast");
}

#[tokio::test]
async fn structured_output_that_does_not_match_fails_the_run() {
    let mock = Arc::new(MockOpenAi::start().await);
    mock.push_reply("It will be sunny.");
    mock.push_reply(r#"{"city": "Paris"}"#);
    let agent = Agent::new("Forecaster")
        .model(mock_model(&mock))
        .output_schema::<Forecast>();
    let app = serve_agent(agent, mock.clone()).await;

    let (status, body) = app.run_json(&[("message", "Paris?")]).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ERROR");
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("not valid JSON for Forecast"), "{error}");

    let events = run_sse(&app, "Paris?").await;
    let run_error = &events.iter().find(|(n, _)| n == "RunError").unwrap().1;
    assert_eq!(run_error["error_type"], "output_schema_error");
    let content = run_error["content"].as_str().unwrap();
    assert!(content.contains("missing field `high`"), "{content}");
    let order = names(&events);
    assert_eq!(
        &order[order.len() - 5..],
        [
            "ModelRequestStarted",
            "ModelRequestCompleted",
            "RunError",
            "StepError",
            "WorkflowError"
        ]
    );
}

#[tokio::test]
async fn scripted_model_scripts_tool_calls_and_structured_replies_offline() {
    // What a user's own test looks like: no network at all.
    let model = ScriptedModel::respond(|req| {
        Ok(match req.tool_results() {
            [] => ScriptedReply::tool_call("get_weather", json!({"city": "Oslo"})),
            [weather] => ScriptedReply::json(json!({
                "city": "Oslo", "high": 4, "summary": weather.content,
            })),
            _ => ScriptedReply::text("unexpected"),
        })
    });
    let agent = Agent::new("Forecaster")
        .model(model)
        .tool(GetWeather)
        .output_schema::<Forecast>();
    let mock = Arc::new(MockOpenAi::start().await);
    let app = serve_agent(agent, mock.clone()).await;

    let events = run_sse(&app, "Oslo?").await;
    let done = &events.iter().find(|(n, _)| n == "RunCompleted").unwrap().1;
    assert_eq!(
        done["content"],
        json!({"city": "Oslo", "high": 4, "summary": "Sunny in Oslo"})
    );
    assert!(names(&events).contains(&"ToolCallCompleted"));
    assert!(
        mock.requests().is_empty(),
        "the scripted model needs no server"
    );
}

/// Starts `examples/city_report_workflow` (built by `cargo test`) on a free port, in a temp
/// directory, with these environment variables; returns its base URL and the process.
async fn start_city_report(
    dir: &tempfile::TempDir,
    envs: &[(&str, String)],
) -> (String, tokio::process::Child) {
    let exe = std::env::current_exe().unwrap(); // target/<profile>/deps/api-<hash>
    let binary = exe
        .parent()
        .and_then(|p| p.parent())
        .unwrap()
        .join("examples")
        .join("city_report_workflow");
    let port = crate::example::free_port();
    let mut cmd = tokio::process::Command::new(binary);
    cmd.current_dir(dir.path())
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .env("AGENT_OS_PORT", port.to_string())
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("cargo test builds the examples");
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..400 {
        if reqwest::get(format!("{base}/health"))
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            return (base, child);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the example did not start");
}

/// A non-streamed run of the example's workflow for `city`.
async fn city_report(base: &str, city: &str) -> Value {
    let form = reqwest::multipart::Form::new()
        .text("message", city.to_owned())
        .text("stream", "false");
    let res = reqwest::Client::new()
        .post(format!("{base}/workflows/city-report/runs"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

#[tokio::test]
async fn the_city_report_example_answers_offline_and_with_a_real_model_server() {
    // Offline: the scripted model calls both tools, then reports.
    let dir = tempfile::tempdir().unwrap();
    let (base, _child) = start_city_report(&dir, &[]).await;
    let body = city_report(&base, "Cairo").await;
    let run = &body["step_executor_runs"][0];
    assert_eq!(run["status"], "COMPLETED", "{body}");
    assert_eq!(run["content_type"], "CityReport");
    assert_eq!(run["content"]["temperature_c"], 31);
    assert_eq!(run["content"]["air_quality_index"], 97);
    let names: Vec<&str> = run["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tool_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["get_weather", "get_air_quality"]);

    // Against an OpenAI-compatible server (the mock, scripted like a real model would answer).
    let mock = MockOpenAi::start().await;
    mock.push_tool_calls(&[
        ("get_weather", json!({"city": "Oslo"})),
        ("get_air_quality", json!({"city": "Oslo"})),
    ]);
    let report = json!({"city": "Oslo", "temperature_c": 4, "conditions": "snow showers",
                        "air_quality_index": 18, "advice": "Wrap up warm."});
    mock.push_reply(&report.to_string());
    let dir = tempfile::tempdir().unwrap();
    let (base, _child) = start_city_report(&dir, &[("OPENAI_BASE_URL", mock.base_url())]).await;
    let body = city_report(&base, "Oslo").await;
    let run = &body["step_executor_runs"][0];
    assert_eq!(run["content"], report, "{body}");
    assert_eq!(run["model"], "gpt-5.2");
    // The tools really ran: their results went back to the model.
    let requests = mock.requests();
    assert_eq!(
        requests[0]["response_format"]["json_schema"]["name"],
        "CityReport"
    );
    let results: Vec<Value> = requests[1]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| serde_json::from_str(m["content"].as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(results[0]["conditions"], "snow showers");
    assert_eq!(results[1]["air_quality_index"], 18);
}

#[tokio::test]
async fn a_tool_name_openai_would_refuse_is_refused_at_startup() {
    let bad = tool_fn(
        "get weather!",
        "Spaces are not allowed.",
        |_: agentos::NoArgs| async { Ok::<_, String>("sunny") },
    );
    let agent = Agent::new("Assistant")
        .model(ScriptedModel::new())
        .tool(bad);
    let dir = tempfile::tempdir().unwrap();
    let os = AgentOs::new()
        .workflow(Workflow::new(WF).steps([agent]))
        .db(agentos::SqliteDb::new(dir.path().join("a.db")));
    let err = os.router().await.unwrap_err().to_string();
    assert!(err.contains("\"get weather!\""), "{err}");
    assert!(err.contains("1 to 64 letters, digits"), "{err}");
}

#[tokio::test]
async fn an_agent_served_alone_runs_tools_and_a_cancel_stops_a_hanging_tool() {
    let model = ScriptedModel::respond(|req| {
        Ok(match (req.last_user_message(), req.tool_results()) {
            ("hang", []) => ScriptedReply::tool_call("hang", json!({})),
            (_, []) => ScriptedReply::tool_call("get_weather", json!({"city": "Rome"})),
            (_, [weather]) => ScriptedReply::text(format!("Report: {}", weather.content)),
            _ => ScriptedReply::text("unexpected"),
        })
    });
    let hang = tool_fn("hang", "Never returns.", |_: agentos::NoArgs| async {
        std::future::pending::<Result<String, String>>().await
    });
    let agent = Agent::new("Assistant")
        .model(model)
        .tool(GetWeather)
        .tool(hang);
    let mock = Arc::new(MockOpenAi::start().await);
    let app = spawn_with(AgentOs::new().agent(agent), mock, HookLog::default()).await;
    let form = |message: &str, stream: &str| {
        reqwest::multipart::Form::new()
            .text("message", message.to_owned())
            .text("stream", stream.to_owned())
    };

    // GET /agents/{id} lists the tools as agno does.
    let (status, detail) = app.get_json("/agents/assistant").await;
    assert_eq!(status, 200);
    let listed = detail["tools"]["tools"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["name"], "get_weather");
    assert_eq!(
        listed[0]["parameters"]["properties"]["city"]["type"],
        "string"
    );

    // A JSON run: the agent's own RunOutput records the call.
    let body: Value = app
        .client
        .post(app.url("/agents/assistant/runs"))
        .multipart(form("Rome?", "false"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "COMPLETED", "{body}");
    assert_eq!(body["content"], "Report: Sunny in Rome");
    assert_eq!(body["tools"][0]["tool_name"], "get_weather");
    assert_eq!(body["tools"][0]["result"], "Sunny in Rome");

    // A streamed run whose tool never returns: cancel it once the tool has started.
    let mut res = app
        .client
        .post(app.url("/agents/assistant/runs"))
        .multipart(form("hang", "true"))
        .send()
        .await
        .unwrap();
    let mut text = String::new();
    while !text.contains("ToolCallStarted") {
        let chunk = res.chunk().await.unwrap().expect("stream ended early");
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let started = &parse_sse(&text)[0].1;
    let run_id = started["run_id"].as_str().unwrap().to_owned();
    let session = started["session_id"].as_str().unwrap().to_owned();
    let cancel = app
        .client
        .post(app.url(&format!(
            "/agents/assistant/runs/{run_id}/cancel?session_id={session}"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.status(), 200);
    let rest = tokio::time::timeout(Duration::from_secs(10), res.text())
        .await
        .expect("the stream did not end after cancel")
        .unwrap();
    let events = parse_sse(&format!("{text}{rest}"));
    assert_eq!(events.last().unwrap().0, "RunCancelled");
    assert!(!names(&events).contains(&"ToolCallCompleted"));
    let (_, polled) = app
        .get_json(&format!(
            "/agents/assistant/runs/{run_id}?session_id={session}"
        ))
        .await;
    assert_eq!(polled["status"], "CANCELLED");
}

#[derive(Deserialize, JsonSchema)]
struct Item {
    /// What to add to the cart.
    item: String,
}

#[tokio::test]
async fn a_tool_reads_and_writes_the_session_state_through_its_context() {
    let add_to_cart = tool_fn(
        "add_to_cart",
        "Add an item to the user's cart.",
        |ctx: agentos::ToolContext, args: Item| async move {
            let user = ctx.user_id.clone().unwrap_or_default();
            ctx.session_state.update(|state| {
                let cart = state.entry("cart").or_insert_with(|| json!([]));
                cart.as_array_mut().unwrap().push(json!(args.item));
            });
            Ok::<_, String>(format!("added for {user}"))
        },
    );
    let model = ScriptedModel::script([
        ScriptedReply::tool_call("add_to_cart", json!({"item": "apple"})),
        ScriptedReply::text("done"),
    ]);
    let agent = Agent::new("Shop").model(model).tool(add_to_cart);
    let mock = Arc::new(MockOpenAi::start().await);
    let app = serve_agent(agent, mock).await;

    let fields = [
        ("message", "an apple"),
        ("session_id", "s1"),
        ("user_id", "ann"),
    ];
    let (_, body) = app.run_json(&fields).await;
    let tools = body["step_executor_runs"][0]["tools"].as_array().unwrap();
    assert_eq!(tools[0]["result"], "added for ann", "{body}");
    // The parameters the model sees do not include the context.
    let (_, second) = app
        .run_json(&[
            ("message", "again"),
            ("session_id", "s1"),
            ("user_id", "ann"),
        ])
        .await;
    assert_eq!(second["status"], "COMPLETED");
    let (_, session) = app.get_json("/sessions/s1?type=workflow").await;
    assert_eq!(
        session["session_state"]["cart"],
        json!(["apple", "apple"]),
        "{session}"
    );
}
