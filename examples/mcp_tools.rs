//! MCP both ways, offline: an agent that uses an MCP server's tools, served by an AgentOS that is
//! itself an MCP server.
//!
//! The tool server is written here too, with `rmcp` (the official Rust SDK) and its `#[tool]`
//! macros, so the example needs nothing but Rust: a small weather service served over MCP's
//! streamable HTTP on a port of its own. The agent reaches it through `McpTools` as it would any
//! MCP server (`McpTools::stdio("npx", [...])` for one run as a command). With neither
//! `OPENAI_API_KEY` nor `OPENAI_BASE_URL` set, the offline `ScriptedModel` calls the tool.
//!
//! ```text
//! cargo run --example mcp_tools
//! curl -X POST http://localhost:7777/agents/weather-agent/runs -F "message=Weather in Paris?" -F "stream=false"
//! ```
//!
//! The OS serves MCP at `http://localhost:7777/mcp` too (`mcp_server(true)`): any MCP client
//! (Claude, an IDE, the Python SDK) can list its tools and call `run_agent` with
//! `{"agent_id": "weather-agent", "message": "Weather in Oslo?"}`.

use agentos::{Agent, AgentOs, McpTools, Model, OpenAIChat, ScriptedModel, ScriptedReply};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{ServerCapabilities, ServerConfig};
use rmcp::transport::StreamableHttpService;
use rmcp::transport::streamable_http_server::StreamableHttpServerConfig;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::{ServerHandler, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use tracing_subscriber::EnvFilter;

/// The arguments of `get_forecast`.
#[derive(Debug, Deserialize, JsonSchema)]
struct ForecastArgs {
    /// The city, e.g. "Paris".
    city: String,
}

/// The MCP tool server: a weather service with made-up forecasts.
#[derive(Clone)]
struct WeatherServer {
    tool_router: ToolRouter<WeatherServer>,
}

#[tool_router]
impl WeatherServer {
    fn new() -> WeatherServer {
        WeatherServer {
            tool_router: Self::tool_router(),
        }
    }

    #[tool(description = "Tomorrow's forecast for a city.")]
    async fn get_forecast(&self, Parameters(args): Parameters<ForecastArgs>) -> String {
        let degrees = 12 + args.city.len() % 10;
        format!("{}: sunny, {degrees} °C, light wind", args.city)
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for WeatherServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

/// Serves the weather tools over MCP's streamable HTTP on a free loopback port; returns the URL.
async fn start_weather_server() -> std::io::Result<String> {
    let service = StreamableHttpService::new(
        || Ok(WeatherServer::new()),
        Arc::new(NeverSessionManager::default()),
        StreamableHttpServerConfig::default().with_legacy_session_mode(false),
    );
    let app = axum::Router::new().nest_service("/mcp", service);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/mcp", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

/// Offline: asks for the forecast of the city named in the message, then reports it.
fn offline_model() -> ScriptedModel {
    ScriptedModel::respond(|req| {
        if let Some(result) = req.tool_results().first() {
            return Ok(ScriptedReply::text(format!(
                "Here is the forecast. {}",
                result.content
            )));
        }
        let city = req
            .last_user_message()
            .rsplit(|c: char| !c.is_alphabetic())
            .find(|w| w.chars().next().is_some_and(char::is_uppercase))
            .unwrap_or("Paris")
            .to_owned();
        Ok(ScriptedReply::tool_call(
            "weather_get_forecast",
            json!({ "city": city }),
        ))
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let _ = dotenvy::dotenv();
    tracing_subscriber::fmt()
        .with_env_filter(
            // rmcp logs every MCP connection at `info`.
            EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,rmcp=warn".into()),
        )
        .init();
    let weather_url = start_weather_server().await?;
    println!("MCP tool server at {weather_url}");

    let model: Arc<dyn Model> = if OpenAIChat::configured_from_env() {
        Arc::new(OpenAIChat::new("gpt-5.2"))
    } else {
        println!(
            "OPENAI_API_KEY and OPENAI_BASE_URL are not set: answering with the offline ScriptedModel"
        );
        Arc::new(offline_model())
    };
    let agent = Agent::new("Weather Agent")
        .shared_model(model)
        .instructions("Answer weather questions with the weather tools.")
        // The server's `get_forecast`, offered to the model as `weather_get_forecast`.
        .toolkit(
            McpTools::streamable_http(weather_url)
                .name("weather")
                .prefix("weather"),
        );
    AgentOs::new()
        .agent(agent)
        .mcp_server(true)
        .serve("127.0.0.1:7777")
        .await?;
    Ok(())
}
