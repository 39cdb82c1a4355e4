//! An agent with two tools and structured output, served in a workflow.
//!
//! The *Reporter* agent calls `get_weather` (a typed [`Tool`]) and `get_air_quality` (a plain
//! async closure, [`tool_fn`]) for the city it is given, both in one round, then answers with a
//! [`CityReport`] as JSON (its schema is sent as `response_format`).
//!
//! ```text
//! cargo run --example city_report_workflow
//! curl -X POST http://localhost:7777/workflows/city-report/runs \
//!   -F "message=Paris" -F "stream=false"
//! ```
//!
//! The run's `step_executor_runs[0]` has `content` (the report object), `content_type`
//! (`"CityReport"`), `tools` (both calls) and `messages`. With `-F stream=true`, the SSE stream
//! shows `ToolCallStarted`/`ToolCallCompleted` for each call.
//!
//! With neither `OPENAI_API_KEY` nor `OPENAI_BASE_URL` set, the agent runs on the offline
//! `ScriptedModel`, which calls the same tools and builds the report from their results.

use agentos::{
    Agent, AgentOs, Model, OpenAIChat, ScriptedModel, ScriptedReply, SqliteDb, Tool, ToolError,
    Workflow, tool_fn,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::Arc;

// ---------------------------------------------------------------------------
// Tools
// ---------------------------------------------------------------------------

/// The arguments of both tools.
#[derive(Deserialize, JsonSchema)]
struct CityArgs {
    /// The city's name, e.g. "Paris".
    city: String,
}

/// What `get_weather` returns.
#[derive(Serialize)]
struct Weather {
    city: String,
    temperature_c: i64,
    conditions: &'static str,
}

/// A typed tool: the current weather (made-up data, so the example needs no weather API).
struct GetWeather;

#[async_trait::async_trait]
impl Tool for GetWeather {
    type Args = CityArgs;
    type Output = Weather;

    fn name(&self) -> &str {
        "get_weather"
    }

    fn description(&self) -> &str {
        "Get the current temperature (Celsius) and conditions in a city."
    }

    async fn call(&self, args: CityArgs) -> Result<Weather, ToolError> {
        let city = args.city.trim();
        if city.is_empty() {
            return Err(ToolError::new("no city given"));
        }
        let (temperature_c, conditions) = match city.to_lowercase().as_str() {
            "paris" => (18, "light rain"),
            "oslo" => (4, "snow showers"),
            "cairo" => (31, "sunny"),
            other => (10 + (other.len() as i64 % 15), "cloudy"),
        };
        Ok(Weather {
            city: city.to_owned(),
            temperature_c,
            conditions,
        })
    }
}

/// A closure tool: the air quality index (made-up data too).
async fn air_quality(args: CityArgs) -> Result<Value, String> {
    let index = match args.city.trim().to_lowercase().as_str() {
        "paris" => 42,
        "oslo" => 18,
        "cairo" => 97,
        other => 20 + (other.len() as i64 * 7 % 60),
    };
    Ok(json!({"city": args.city.trim(), "air_quality_index": index}))
}

// ---------------------------------------------------------------------------
// Structured output
// ---------------------------------------------------------------------------

/// The report the agent must answer with.
#[derive(Deserialize, JsonSchema)]
#[allow(dead_code)] // the fields are read as JSON, by the client
struct CityReport {
    /// The city.
    city: String,
    /// The temperature in degrees Celsius.
    temperature_c: i64,
    /// The weather conditions.
    conditions: String,
    /// The air quality index (0-500, lower is better).
    air_quality_index: i64,
    /// One sentence of advice for someone going out today.
    advice: String,
}

// ---------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------

/// Offline: call both tools, then build the report from their results.
fn scripted_reporter() -> ScriptedModel {
    ScriptedModel::respond(|req| {
        let results = req.tool_results();
        if results.is_empty() {
            let args = json!({"city": req.last_user_message().trim()});
            return Ok(ScriptedReply::tool_call("get_weather", args.clone())
                .and_tool_call("get_air_quality", args));
        }
        // Each result is the tool's JSON (or an error message, which parses to nothing).
        let mut report = json!({"city": req.last_user_message().trim()});
        for result in results {
            if let (Some(report), Ok(Value::Object(fields))) = (
                report.as_object_mut(),
                serde_json::from_str(&result.content),
            ) {
                report.extend(fields);
            }
        }
        let temperature = report["temperature_c"].as_i64().unwrap_or(0);
        let aqi = report["air_quality_index"].as_i64().unwrap_or(0);
        report["advice"] = json!(match (temperature, aqi) {
            (_, 100..) => "Keep outdoor exercise short: the air is poor.",
            (..=5, _) => "Wrap up warm.",
            (25.., _) => "Bring water and sunscreen.",
            _ => "A light jacket will do.",
        });
        Ok(ScriptedReply::json(report))
    })
}

/// `OpenAIChat` when a server is configured, else the offline scripted model.
fn model() -> Arc<dyn Model> {
    if OpenAIChat::configured_from_env() {
        Arc::new(OpenAIChat::new("gpt-5.2"))
    } else {
        Arc::new(scripted_reporter())
    }
}

#[tokio::main]
async fn main() -> Result<(), agentos::OsError> {
    let _ = dotenvy::dotenv();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    if !OpenAIChat::configured_from_env() {
        println!(
            "OPENAI_API_KEY and OPENAI_BASE_URL are not set: answering with the offline ScriptedModel"
        );
    }

    let reporter = Agent::new("Reporter")
        .shared_model(model())
        .instructions(
            "You are given a city. Call get_weather and get_air_quality for it, then answer \
             with a CityReport built from their results.",
        )
        .tool(GetWeather)
        .tool(tool_fn(
            "get_air_quality",
            "Get the current air quality index of a city.",
            air_quality,
        ))
        .output_schema::<CityReport>();

    let workflow = Workflow::new("city-report")
        .name("CityReport")
        .description("Reports the weather and air quality of a city")
        .steps([reporter])
        .db(SqliteDb::new("tmp/city_report.db"));

    AgentOs::new()
        .workflow(workflow)
        .serve("127.0.0.1:7777")
        .await
}
