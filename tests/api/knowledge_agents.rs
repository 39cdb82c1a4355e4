//! Agents with a knowledge base: the `search_knowledge_base` tool finds the uploaded text, a
//! request's and an agent's filters narrow it, references reach the model's message; and the
//! whole path on Postgres, with and without pgvector.

use crate::helpers::{HookLog, spawn_with};
use crate::knowledge::{REFUNDS, SHIPPING, add_text, docs, search, serve};
use crate::mock_openai::MockOpenAi;
use agentos::{Agent, AgentOs, MetadataFilter, ScriptedModel, ScriptedReply};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// Asks `search_knowledge_base` with the user's message, then answers with the tool's result.
fn searching_model() -> ScriptedModel {
    ScriptedModel::respond(|req| {
        if let Some(result) = req.tool_results().first() {
            return Ok(ScriptedReply::text(format!(
                "From the docs: {}",
                result.content
            )));
        }
        Ok(ScriptedReply::tool_call(
            "search_knowledge_base",
            json!({"query": req.last_user_message()}),
        ))
    })
}

#[tokio::test]
async fn an_agent_searching_its_knowledge_gets_the_uploaded_text() {
    let kb = docs();
    let agent = Agent::new("Support").model(searching_model()).knowledge(kb);
    let app = serve(AgentOs::new().agent(agent)).await;
    add_text(&app, "refunds", REFUNDS, Some(json!({"team": "billing"}))).await;
    add_text(
        &app,
        "shipping",
        SHIPPING,
        Some(json!({"team": "logistics"})),
    )
    .await;

    let (_, agent) = app.get_json("/agents/support").await;
    let tools = agent["tools"]["tools"].as_array().unwrap();
    assert_eq!(tools[0]["name"], "search_knowledge_base", "{agent}");
    assert_eq!(tools[0]["parameters"]["required"], json!(["query"]));
    assert_eq!(agent["knowledge"]["id"], "docs");

    let form = [("message", "when are refunds issued?"), ("stream", "false")];
    let response = app
        .client
        .post(app.url("/agents/support/runs"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let run: Value = response.json().await.unwrap();
    assert_eq!(run["status"], "COMPLETED", "{run}");
    let result = run["tools"][0]["result"].as_str().unwrap();
    assert!(result.contains(REFUNDS), "{result}");
    let docs: Value = serde_json::from_str(result).unwrap();
    assert_eq!(docs[0]["name"], "refunds");
    assert_eq!(docs[0]["meta_data"]["chunk"], 1);
    assert!(run["content"].as_str().unwrap().contains(REFUNDS));
    // The system message tells the model about the tool, as agno's does.
    let system = &run["messages"][0];
    assert_eq!(system["role"], "system");
    assert!(
        system["content"]
            .as_str()
            .unwrap()
            .contains("<knowledge_base>"),
        "{system}"
    );

    // The request's knowledge_filters limit the search.
    let form = [
        ("message", "when are refunds issued?"),
        ("stream", "false"),
        ("knowledge_filters", r#"{"team": "logistics"}"#),
    ];
    let run: Value = app
        .client
        .post(app.url("/agents/support/runs"))
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let result = run["tools"][0]["result"].as_str().unwrap();
    assert!(
        result.contains(SHIPPING) && !result.contains(REFUNDS),
        "{result}"
    );
    let bad = [("message", "x"), ("knowledge_filters", "[1]")];
    let response = app
        .client
        .post(app.url("/agents/support/runs"))
        .form(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn references_in_the_context_and_agent_filters_reach_the_model() {
    let mock = Arc::new(MockOpenAi::start().await);
    let kb = docs();
    let model = agentos::OpenAIChat::new("gpt-test")
        .base_url(mock.base_url())
        .api_key("k");
    let agent = Agent::new("Referee")
        .model(model)
        .knowledge(kb)
        .search_knowledge(false)
        .add_knowledge_to_context(true)
        .knowledge_filters(MetadataFilter::from_json(&json!({"team": "logistics"})).unwrap());
    let app = spawn_with(
        AgentOs::new().agent(agent),
        mock.clone(),
        HookLog::default(),
    )
    .await;
    add_text(&app, "refunds", REFUNDS, Some(json!({"team": "billing"}))).await;
    add_text(
        &app,
        "shipping",
        SHIPPING,
        Some(json!({"team": "logistics"})),
    )
    .await;

    let form = [("message", "refunds and delivery"), ("stream", "false")];
    let run: Value = app
        .client
        .post(app.url("/agents/referee/runs"))
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(run["status"], "COMPLETED", "{run}");
    let sent = mock.requests();
    let user = sent[0]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "user")
        .unwrap()["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(user.starts_with("refunds and delivery"), "{user}");
    assert!(
        user.contains("<references>") && user.contains(SHIPPING),
        "{user}"
    );
    assert!(
        !user.contains(REFUNDS),
        "the agent's filter let another team's text in: {user}"
    );
    // No tool: search_knowledge(false).
    assert!(
        sent[0]
            .get("tools")
            .is_none_or(|t| t.as_array().is_none_or(|t| t.is_empty()))
    );
}

/// The whole path on a Postgres database: upload, ingestion job, search, the agent's tool.
async fn knowledge_on(db: crate::pg_backend::TestDb) {
    let agent = Agent::new("Support")
        .model(searching_model())
        .knowledge(docs());
    let mock = Arc::new(MockOpenAi::start().await);
    let os = AgentOs::new()
        .agent(agent)
        .hook_poll_interval(Duration::from_millis(20));
    let app = crate::helpers::spawn_on_db(os, db.config(), mock, HookLog::default()).await;
    let id = add_text(&app, "refunds", REFUNDS, Some(json!({"team": "billing"}))).await;
    add_text(
        &app,
        "shipping",
        SHIPPING,
        Some(json!({"team": "logistics"})),
    )
    .await;
    for search_type in ["vector", "keyword", "hybrid"] {
        let (_, found) = search(
            &app,
            json!({"query": "when are refunds issued", "search_type": search_type,
                   "filters": {"team": "billing"}}),
        )
        .await;
        assert_eq!(
            found["data"][0]["content_id"],
            id.as_str(),
            "{search_type}: {found}"
        );
        assert_eq!(found["meta"]["total_count"], 1, "{found}");
    }
    let run: Value = app
        .client
        .post(app.url("/agents/support/runs"))
        .form(&[("message", "refunds issued"), ("stream", "false")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        run["tools"][0]["result"]
            .as_str()
            .unwrap()
            .contains(REFUNDS),
        "{run}"
    );
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn knowledge_works_on_postgres() {
    if let Some(db) = crate::pg_backend::TestDb::postgres().await {
        knowledge_on(db).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn knowledge_works_on_postgres_with_pgvector() {
    if let Some(db) = crate::pg_backend::TestDb::pgvector().await {
        knowledge_on(db).await;
    }
}
