//! `/`, `/health`, `/config` and `/models`.

use super::AppState;
use super::auth::Access;
use super::info::McpInfo;
use super::mcp::McpOn;
use super::workflows::WorkflowSummary;
use crate::http::api::{Api, routes};
use crate::kind::ComponentKind;
use crate::runtime::Runtime;
use axum::extract::State;
use axum::{Extension, Json};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

pub(crate) fn router() -> Api {
    [
        routes!(home),
        routes!(health),
        routes!(config),
        routes!(models),
    ]
    .into_iter()
    .fold(Api::default(), Api::routes)
}

/// The table of knowledge content items.
const KNOWLEDGE_TABLE: &str = "knowledge_contents";

/// The OpenAPI tag of these routes.
const TAG: &str = "Core";

/// `GET /`.
#[derive(Debug, Serialize, ToSchema)]
struct Home {
    /// `AgentOS API`.
    name: &'static str,
    /// The OS id.
    id: String,
    /// This server's version.
    version: &'static str,
}

/// `GET /health`.
#[derive(Debug, Serialize, ToSchema)]
struct Health {
    /// `ok`.
    status: &'static str,
    /// When this server started (ISO-8601 UTC).
    instantiated_at: String,
}

/// agno's `Model`: a model in use.
#[derive(Debug, Serialize, ToSchema)]
struct Model {
    id: String,
    provider: String,
}

/// agno's `ConfigResponse` (wire spec §6.1), for the parts this server has.
#[derive(Debug, Serialize, ToSchema)]
struct ConfigResponse {
    os_id: String,
    /// Every model in use, once each.
    available_models: Vec<Model>,
    os_database: String,
    databases: Vec<String>,
    session: SessionConfig,
    /// The memory domain: where user memories are kept.
    memory: SessionConfig,
    /// The knowledge bases and where they are stored.
    knowledge: KnowledgeConfig,
    /// agno's usage metrics domain (`/metrics`).
    metrics: SessionConfig,
    /// agno's traces domain (`/traces`).
    traces: TracesConfig,
    agents: Vec<ConfigAgent>,
    teams: Vec<ConfigTeam>,
    workflows: Vec<WorkflowSummary>,
    /// None.
    #[schema(value_type = Vec<Object>)]
    interfaces: [Value; 0],
    /// Whether `/mcp` is served, as `/info` says (an agentos addition: agno's `/config` does not
    /// say).
    mcp: McpInfo,
}

/// agno's `KnowledgeConfig`: the knowledge domain of `/config`.
#[derive(Debug, Serialize, ToSchema)]
struct KnowledgeConfig {
    dbs: Vec<DatabaseConfig>,
    knowledge_instances: Vec<KnowledgeInstance>,
}

/// agno's `KnowledgeInstanceConfig`.
#[derive(Debug, Serialize, ToSchema)]
struct KnowledgeInstance {
    id: String,
    name: String,
    description: Option<String>,
    db_id: String,
    table: &'static str,
}

/// A domain's databases (sessions, memory).
#[derive(Debug, Serialize, ToSchema)]
struct SessionConfig {
    dbs: Vec<DatabaseConfig>,
}

/// The traces domain's databases (agno lists no tables for it).
#[derive(Debug, Serialize, ToSchema)]
struct TracesConfig {
    dbs: Vec<TracesDatabase>,
}

/// A database of the traces domain.
#[derive(Debug, Serialize, ToSchema)]
struct TracesDatabase {
    db_id: String,
    domain_config: DomainConfig,
}

/// agno's `DatabaseConfig`.
#[derive(Debug, Clone, Serialize, ToSchema)]
struct DatabaseConfig {
    db_id: String,
    domain_config: DomainConfig,
    tables: Vec<&'static str>,
}

/// How agno's UI names a database.
#[derive(Debug, Clone, Serialize, ToSchema)]
struct DomainConfig {
    display_name: String,
}

/// An agent in `/config`.
#[derive(Debug, Serialize, ToSchema)]
struct ConfigAgent {
    id: String,
    name: String,
    db_id: String,
    model: Option<Model>,
}

/// A team in `/config` (agno's `TeamSummaryResponse`).
#[derive(Debug, Serialize, ToSchema)]
struct ConfigTeam {
    id: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    db_id: String,
    /// `coordinate`, `route`, `broadcast` or `tasks`.
    mode: &'static str,
    model: Option<Model>,
}

/// Every model in use (by agents served on their own, teams' leaders and members, and
/// workflow steps), once each.
fn available_models(rt: &Runtime) -> Vec<Model> {
    let mut seen = std::collections::HashSet::new();
    let teams = rt.teams.iter().flat_map(|t| t.teams()).chain(
        rt.workflows
            .iter()
            .flat_map(|w| w.teams())
            .flat_map(|t| t.teams()),
    );
    let leaders = teams.filter_map(|t| t.get_model());
    let agents = rt
        .agents
        .iter()
        .map(|a| a.as_ref())
        .chain(rt.teams.iter().flat_map(|t| t.agents()))
        .chain(rt.workflows.iter().flat_map(|w| w.agents()));
    agents
        .filter_map(|a| a.get_model())
        .chain(leaders)
        .filter(|m| seen.insert((m.id().to_owned(), m.provider().to_owned())))
        .map(|m| Model {
            id: m.id().to_owned(),
            provider: m.provider().to_owned(),
        })
        .collect()
}

/// The models used by the agents
#[utoipa::path(
    get, path = "/models", tag = TAG,
    responses((status = 200, description = "Each model in use, once", body = Vec<Model>))
)]
async fn models(State(rt): State<AppState>) -> Json<Vec<Model>> {
    Json(available_models(&rt))
}

/// API home: name, OS id and version
#[utoipa::path(
    get, path = "/", tag = TAG,
    responses((status = 200, description = "This server", body = Home))
)]
async fn home(State(rt): State<AppState>) -> Json<Home> {
    Json(Home {
        name: "AgentOS API",
        id: rt.os_id.clone(),
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// Health check
#[utoipa::path(
    get, path = "/health", tag = TAG,
    responses((status = 200, description = "The server is up", body = Health))
)]
async fn health(State(rt): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok",
        instantiated_at: rt.instantiated_at.clone(),
    })
}

/// OS configuration: agents, teams, workflows, databases
#[utoipa::path(
    get, path = "/config", tag = TAG,
    responses((status = 200, description = "What this OS serves", body = ConfigResponse))
)]
async fn config(
    State(rt): State<AppState>,
    access: Access,
    mcp: Option<Extension<McpOn>>,
) -> Json<ConfigResponse> {
    // The roster shows what the token may read, as agno's /config and the list routes do.
    let (visible_agents, visible_workflows) = (
        access.visible(ComponentKind::Agent),
        access.visible(ComponentKind::Workflow),
    );
    let db = DatabaseConfig {
        db_id: rt.db_id.clone(),
        domain_config: DomainConfig {
            display_name: rt.db_id.clone(),
        },
        tables: vec!["sessions"],
    };
    let workflows = rt
        .workflows
        .iter()
        .filter(|wf| visible_workflows.allows(wf.id()))
        .map(|wf| WorkflowSummary {
            // `/config` keeps its keys: no description.
            description: None,
            ..WorkflowSummary::of(&rt, wf)
        })
        .collect();
    let agents = rt
        .agents
        .iter()
        .filter(|a| visible_agents.allows(a.id()))
        .map(|a| ConfigAgent {
            id: a.id().to_owned(),
            name: a.name().to_owned(),
            db_id: rt.db_id.clone(),
            model: a.get_model().map(|m| Model {
                id: m.id().to_owned(),
                provider: m.provider().to_owned(),
            }),
        })
        .collect();
    let knowledge = KnowledgeConfig {
        dbs: match rt.knowledge.is_empty() {
            true => Vec::new(),
            false => vec![DatabaseConfig {
                db_id: rt.db_id.clone(),
                domain_config: DomainConfig {
                    display_name: rt.db_id.clone(),
                },
                tables: vec![KNOWLEDGE_TABLE],
            }],
        },
        knowledge_instances: rt
            .knowledge
            .iter()
            .map(|k| KnowledgeInstance {
                id: k.id().to_owned(),
                name: k.name().to_owned(),
                description: k.get_description().map(str::to_owned),
                db_id: rt.db_id.clone(),
                table: KNOWLEDGE_TABLE,
            })
            .collect(),
    };
    Json(ConfigResponse {
        os_id: rt.os_id.clone(),
        knowledge,
        available_models: available_models(&rt),
        os_database: rt.db_id.clone(),
        databases: vec![rt.db_id.clone()],
        memory: SessionConfig {
            dbs: vec![DatabaseConfig {
                tables: vec!["memories"],
                ..db.clone()
            }],
        },
        session: SessionConfig { dbs: vec![db] },
        metrics: SessionConfig {
            dbs: vec![DatabaseConfig {
                db_id: rt.db_id.clone(),
                domain_config: DomainConfig {
                    display_name: rt.db_id.clone(),
                },
                tables: vec!["usage_metrics"],
            }],
        },
        traces: TracesConfig {
            dbs: vec![TracesDatabase {
                db_id: rt.db_id.clone(),
                domain_config: DomainConfig {
                    display_name: rt.db_id.clone(),
                },
            }],
        },
        agents,
        teams: rt
            .teams
            .iter()
            .map(|t| ConfigTeam {
                id: t.get_id().to_owned(),
                name: t.get_name().to_owned(),
                description: t.get_description().map(str::to_owned),
                db_id: rt.db_id.clone(),
                mode: t.get_mode().as_str(),
                model: t.get_model().map(|m| Model {
                    id: m.id().to_owned(),
                    provider: m.provider().to_owned(),
                }),
            })
            .collect(),
        workflows,
        interfaces: [],
        mcp: McpInfo::of(mcp),
    })
}
