//! Knowledge bases over HTTP: content uploaded, listed, read, updated and deleted in agno's
//! shapes; vector, keyword and hybrid search with filters; `/config`. The helpers the other
//! knowledge tests share.

use crate::helpers::{HookLog, TestApp, spawn_with};
use crate::mock_openai::MockOpenAi;
use agentos::model::HashEmbedder;
use agentos::{Agent, AgentOs, Knowledge, ScriptedModel};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A knowledge base on the offline embedder.
pub fn docs() -> Knowledge {
    Knowledge::new("docs").embedder(HashEmbedder::new(256))
}

/// Serves `os` on a fresh SQLite file (the mock answers the chat models, if any).
pub async fn serve(os: AgentOs) -> TestApp {
    let mock = Arc::new(MockOpenAi::start().await);
    spawn_with(
        os.hook_retries(3, Duration::from_millis(50))
            .hook_poll_interval(Duration::from_millis(20)),
        mock,
        HookLog::default(),
    )
    .await
}

/// `POST /knowledge/content` with these form fields; the answer's status and body.
pub async fn upload(app: &TestApp, fields: &[(&str, &str)]) -> (u16, Value) {
    let form = fields
        .iter()
        .fold(reqwest::multipart::Form::new(), |f, (k, v)| {
            f.text(k.to_string(), v.to_string())
        });
    let response = app
        .client
        .post(app.url("/knowledge/content"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// Uploads a file part `file` (with these other fields).
pub async fn upload_file(
    app: &TestApp,
    file_name: &str,
    media_type: &str,
    bytes: Vec<u8>,
    fields: &[(&str, &str)],
) -> (u16, Value) {
    let part = reqwest::multipart::Part::bytes(bytes)
        .file_name(file_name.to_owned())
        .mime_str(media_type)
        .unwrap();
    let form = fields
        .iter()
        .fold(reqwest::multipart::Form::new(), |f, (k, v)| {
            f.text(k.to_string(), v.to_string())
        })
        .part("file", part);
    let response = app
        .client
        .post(app.url("/knowledge/content"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// Polls the content's status until it is `want` (or fails the test after `limit`).
pub async fn wait_status(app: &TestApp, id: &str, want: &str, limit: Duration) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let (code, body) = app
            .get_json(&format!("/knowledge/content/{id}/status"))
            .await;
        assert_eq!(code, 200, "{body}");
        if body["status"] == want {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "content {id} is still {body} after {limit:?}, expected {want}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Uploads text and waits until it is indexed; its id.
pub async fn add_text(app: &TestApp, name: &str, text: &str, metadata: Option<Value>) -> String {
    let metadata = metadata.map(|m| m.to_string());
    let mut fields = vec![("name", name), ("text_content", text)];
    if let Some(m) = &metadata {
        fields.push(("metadata", m));
    }
    let (code, body) = upload(app, &fields).await;
    assert_eq!(code, 202, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    wait_status(app, &id, "completed", Duration::from_secs(10)).await;
    id
}

/// `POST /knowledge/search` with this body.
pub async fn search(app: &TestApp, body: Value) -> (u16, Value) {
    let response = app
        .client
        .post(app.url("/knowledge/search"))
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

pub const REFUNDS: &str = "Refunds are issued within 14 days of the return reaching our warehouse.";
pub const SHIPPING: &str = "Orders ship from Rotterdam; delivery to Lisbon takes three days.";
const PASSWORDS: &str = "Reset a forgotten password from the login page with your email.";

#[tokio::test]
async fn content_is_uploaded_listed_updated_and_deleted_in_agnos_shapes() {
    let app = serve(AgentOs::new().knowledge(docs())).await;
    let (code, body) = upload(
        &app,
        &[
            ("name", "refunds"),
            ("description", "the refund policy"),
            ("text_content", REFUNDS),
            ("metadata", r#"{"topic": "billing"}"#),
        ],
    )
    .await;
    assert_eq!(code, 202, "{body}");
    assert_eq!(body["status"], "processing");
    assert_eq!(body["name"], "refunds");
    assert_eq!(body["metadata"], json!({"topic": "billing"}));
    let id = body["id"].as_str().unwrap().to_owned();
    let status = wait_status(&app, &id, "completed", Duration::from_secs(10)).await;
    assert_eq!(
        status,
        json!({"id": id, "status": "completed", "status_message": ""})
    );

    // The same content again: same id, nothing new.
    let (code, again) = upload(
        &app,
        &[
            ("name", "refunds"),
            ("description", "the refund policy"),
            ("text_content", REFUNDS),
            ("metadata", r#"{"topic": "billing"}"#),
        ],
    )
    .await;
    assert_eq!(code, 202);
    assert_eq!(again["id"], id.as_str());
    assert_eq!(again["status"], "completed");
    add_text(&app, "shipping", SHIPPING, None).await;

    let (code, list) = app
        .get_json("/knowledge/content?limit=1&sort_order=asc")
        .await;
    assert_eq!(code, 200, "{list}");
    assert_eq!(list["meta"]["total_count"], 2);
    assert_eq!(list["meta"]["total_pages"], 2);
    let item = &list["data"][0];
    assert_eq!(item["id"], id.as_str());
    assert_eq!(item["type"], "text");
    assert_eq!(item["size"], REFUNDS.len().to_string());
    assert_eq!(item["status"], "completed");
    assert!(
        item["created_at"].as_str().unwrap().ends_with('Z'),
        "{item}"
    );

    let response = app
        .client
        .patch(app.url(&format!("/knowledge/content/{id}")))
        .form(&[
            ("name", "refund policy"),
            ("metadata", r#"{"topic": "money"}"#),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let updated: Value = response.json().await.unwrap();
    assert_eq!(updated["name"], "refund policy");
    assert_eq!(updated["description"], "the refund policy");
    assert_eq!(updated["metadata"], json!({"topic": "money"}));
    let (_, got) = app.get_json(&format!("/knowledge/content/{id}")).await;
    assert_eq!(got["name"], "refund policy");
    // Searches filter on the new metadata.
    let (_, found) = search(
        &app,
        json!({"query": "refunds", "filters": {"topic": "money"}}),
    )
    .await;
    assert_eq!(found["data"][0]["content_id"], id.as_str(), "{found}");

    let response = app
        .client
        .delete(app.url(&format!("/knowledge/content/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap(), json!({"id": id}));
    let (code, _) = app.get_json(&format!("/knowledge/content/{id}")).await;
    assert_eq!(code, 404);
    let (_, found) = search(&app, json!({"query": "refunds issued warehouse"})).await;
    assert!(
        found["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["content_id"] != id.as_str()),
        "a deleted content's chunks are still found: {found}"
    );

    let response = app
        .client
        .delete(app.url("/knowledge/content"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap(), json!("success"));
    let (_, list) = app.get_json("/knowledge/content").await;
    assert_eq!(list["meta"]["total_count"], 0, "{list}");
}

#[tokio::test]
async fn every_search_type_finds_the_right_chunk_and_filters_narrow_it() {
    let app = serve(AgentOs::new().knowledge(docs())).await;
    let refunds = add_text(&app, "refunds", REFUNDS, Some(json!({"team": "billing"}))).await;
    let shipping = add_text(
        &app,
        "shipping",
        SHIPPING,
        Some(json!({"team": "logistics"})),
    )
    .await;
    add_text(
        &app,
        "passwords",
        PASSWORDS,
        Some(json!({"team": "support"})),
    )
    .await;

    for search_type in ["vector", "keyword", "hybrid"] {
        let (code, found) = search(
            &app,
            json!({"query": "when are refunds issued", "search_type": search_type}),
        )
        .await;
        assert_eq!(code, 200, "{found}");
        let top = &found["data"][0];
        assert_eq!(
            top["content_id"],
            refunds.as_str(),
            "{search_type}: {found}"
        );
        assert_eq!(top["content"], REFUNDS);
        assert_eq!(top["name"], "refunds");
        // Where it came from, and which chunk it is.
        assert_eq!(top["meta_data"]["chunk"], 1, "{top}");
        assert_eq!(top["meta_data"]["team"], "billing");
        assert_eq!(top["size"], REFUNDS.len());
        assert!(top["score"].as_f64().unwrap() > 0.0);
    }
    // A filter keeps only matching content, even when another ranks higher.
    let (_, found) = search(
        &app,
        json!({"query": "refunds", "filters": {"team": "logistics"}, "search_type": "vector"}),
    )
    .await;
    let ids: Vec<&str> = found["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["content_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [shipping.as_str()], "{found}");
    // A list is "any of"; max_results and pages.
    let (_, found) = search(
        &app,
        json!({"query": "days", "filters": {"team": ["billing", "logistics"]},
               "max_results": 5, "meta": {"limit": 1, "page": 2}}),
    )
    .await;
    assert_eq!(found["meta"]["total_count"], 2, "{found}");
    assert_eq!(found["meta"]["page"], 2);
    assert_eq!(found["data"].as_array().unwrap().len(), 1);
    let (_, config) = app.get_json("/knowledge/config").await;
    assert_eq!(config["filters"], json!(["team"]), "{config}");
    assert_eq!(
        config["vector_dbs"][0]["search_types"],
        json!(["vector", "keyword", "hybrid"])
    );
    assert!(
        config["readers"]["pdf"]["content_types"]
            .as_array()
            .unwrap()
            .contains(&json!(".pdf"))
    );
    assert_eq!(config["readersForType"][".docx"], json!(["docx"]));
}

#[tokio::test]
async fn search_refuses_bad_requests_with_reasons() {
    let app = serve(AgentOs::new().knowledge(docs())).await;
    let (code, body) = search(&app, json!({"search_type": "vector"})).await;
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["detail"][0]["loc"], json!(["body", "query"]));
    let (code, body) = search(&app, json!({"query": "x", "search_type": "semantic"})).await;
    assert_eq!(code, 400);
    assert!(
        body["detail"].as_str().unwrap().contains("semantic"),
        "{body}"
    );
    let (code, body) = search(&app, json!({"query": "x", "filters": {"a": {"b": 1}}})).await;
    assert_eq!(code, 400);
    assert!(body["detail"].as_str().unwrap().contains("\"a\""), "{body}");
    let (code, body) = search(&app, json!({"query": "x", "max_results": 0})).await;
    assert_eq!(code, 422, "{body}");
    let (code, body) = search(&app, json!({"query": "x", "knowledge_id": "nope"})).await;
    assert_eq!(code, 404);
    assert!(body["detail"].as_str().unwrap().contains("docs"), "{body}");
    let (code, _) = search(&app, json!({"query": "x", "vector_db_ids": ["other"]})).await;
    assert_eq!(code, 400);
    // Without any knowledge base: agno's 503.
    let bare = serve(AgentOs::new().agent(Agent::new("A").model(ScriptedModel::new()))).await;
    let (code, body) = bare.get_json("/knowledge/content").await;
    assert_eq!(code, 503, "{body}");
}

#[tokio::test]
async fn config_lists_the_knowledge_domain() {
    let kb = docs().description("Product docs");
    let agent = Agent::new("Support")
        .model(ScriptedModel::new())
        .knowledge(kb);
    let app = serve(AgentOs::new().agent(agent)).await;
    let (_, config) = app.get_json("/config").await;
    let knowledge = &config["knowledge"];
    assert_eq!(
        knowledge["knowledge_instances"][0]["id"], "docs",
        "{config}"
    );
    assert_eq!(
        knowledge["knowledge_instances"][0]["description"],
        "Product docs"
    );
    assert_eq!(
        knowledge["knowledge_instances"][0]["table"],
        "knowledge_contents"
    );
    assert_eq!(knowledge["dbs"][0]["tables"], json!(["knowledge_contents"]));
}
