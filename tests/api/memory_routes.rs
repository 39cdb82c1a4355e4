//! agno's memory routes: create, list (filters, sorts, pages), get, update, delete one or
//! many, topics, per-user stats, optimization, and their answers to bad input.

use crate::memory::{memories_list, remembering, spawn};
use crate::mock_openai::MockOpenAi;
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread")]
async fn memories_are_created_listed_updated_and_deleted_per_user() {
    let mock = Arc::new(MockOpenAi::start().await);
    let app = spawn(remembering(&mock), mock).await;
    let post = |memory: &str, user: &str, topics: Value| {
        let body = json!({"memory": memory, "user_id": user, "topics": topics});
        let app = &app;
        async move { app.send_json(Method::POST, "/memories", Some(body)).await }
    };
    let (status, tea) = post("Likes tea", "u1", json!(["drinks"])).await;
    assert_eq!(status, 200, "{tea}");
    let mut keys: Vec<&str> = tea
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    let agnos = [
        "agent_id",
        "memory",
        "memory_id",
        "team_id",
        "topics",
        "updated_at",
        "user_id",
    ];
    assert_eq!(keys, agnos, "agno's UserMemorySchema");
    assert!(tea["updated_at"].as_str().unwrap().ends_with('Z'));
    let id = tea["memory_id"].as_str().unwrap().to_owned();
    post("Lives in Oslo", "u1", json!(["location"])).await;
    post("Likes coffee", "u2", json!(["drinks"])).await;

    let (_, page) = app.get_json("/memories?user_id=u1&limit=1&page=2").await;
    assert_eq!(page["meta"]["total_count"], 2);
    assert_eq!(page["meta"]["total_pages"], 2);
    assert_eq!(page["data"][0]["memory"], "Likes tea", "newest first");
    let (_, drinks) = app
        .get_json("/memories?topics=drinks&sort_by=memory&sort_order=asc")
        .await;
    let texts: Vec<&str> = drinks["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["memory"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["Likes coffee", "Likes tea"]);
    let (_, found) = app.get_json("/memories?search_content=OSLO").await;
    assert_eq!(found["data"][0]["memory"], "Lives in Oslo");
    let (_, topics) = app.get_json("/memory_topics").await;
    assert_eq!(topics, json!(["drinks", "location"]));
    let (_, topics) = app.get_json("/memory_topics?user_id=u2").await;
    assert_eq!(topics, json!(["drinks"]));
    let (_, stats) = app.get_json("/user_memory_stats").await;
    assert_eq!(stats["meta"]["total_count"], 2);
    let u1 = stats["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["user_id"] == "u1")
        .unwrap();
    assert_eq!(u1["total_memories"], 2);

    // Another user cannot see, change or delete it: 404, as for a memory that does not exist.
    let path = format!("/memories/{id}");
    assert_eq!(app.get_json(&format!("{path}?user_id=u2")).await.0, 404);
    let patch = json!({"memory": "Likes green tea", "user_id": "u2"});
    let (status, body) = app.send_json(Method::PATCH, &path, Some(patch)).await;
    assert_eq!(status, 404);
    assert_eq!(body["detail"], format!("Memory with ID {id} not found"));
    let (status, _) = app
        .send_json(Method::DELETE, &format!("{path}?user_id=u2"), None)
        .await;
    assert_eq!(status, 404);

    // Its owner can.
    let patch = json!({"memory": "Likes green tea", "user_id": "u1", "topics": ["drinks", "tea"]});
    let (status, updated) = app.send_json(Method::PATCH, &path, Some(patch)).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["memory"], "Likes green tea");
    assert_eq!(updated["topics"], json!(["drinks", "tea"]));
    let (_, got) = app.get_json(&format!("{path}?user_id=u1")).await;
    assert_eq!(got["memory"], "Likes green tea");
    let (status, _) = app.send_json(Method::DELETE, &path, None).await;
    assert_eq!(status, 204);
    assert_eq!(app.get_json(&path).await.0, 404);

    // Bulk delete takes only the named user's.
    let others: Vec<String> = memories_list(&app, "u2")
        .await
        .iter()
        .chain(memories_list(&app, "u1").await.iter())
        .map(|m| m["memory_id"].as_str().unwrap().to_owned())
        .collect();
    let body = json!({"memory_ids": others, "user_id": "u1"});
    let (status, _) = app.send_json(Method::DELETE, "/memories", Some(body)).await;
    assert_eq!(status, 204);
    assert!(memories_list(&app, "u1").await.is_empty());
    assert_eq!(memories_list(&app, "u2").await.len(), 1);

    // /config names the memory domain's database.
    let (_, config) = app.get_json("/config").await;
    assert_eq!(config["memory"]["dbs"][0]["tables"], json!(["memories"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn optimizing_a_users_memories_merges_them_into_one() {
    let mock = Arc::new(MockOpenAi::start().await);
    let app = spawn(remembering(&mock), mock.clone()).await;
    for (memory, user) in [
        ("Likes tea", "u1"),
        ("Lives in Oslo", "u1"),
        ("Likes coffee", "u2"),
    ] {
        let body = json!({"memory": memory, "user_id": user, "topics": [user]});
        app.send_json(Method::POST, "/memories", Some(body)).await;
    }
    let preview = json!({"user_id": "u1", "apply": false});
    let (status, body) = app
        .send_json(Method::POST, "/optimize-memories", Some(preview))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["memories_before"], 2);
    assert_eq!(body["memories_after"], 1);
    let merged = body["memories"][0]["memory"].as_str().unwrap().to_owned();
    assert!(
        merged.starts_with("reply to: Summarize these memories into a single summary:"),
        "{merged}"
    );
    assert!(merged.contains("Memory 1: Likes tea"), "{merged}");
    assert_eq!(
        memories_list(&app, "u1").await.len(),
        2,
        "a preview saves nothing"
    );

    let apply = json!({"user_id": "u1"});
    let (status, body) = app
        .send_json(Method::POST, "/optimize-memories", Some(apply))
        .await;
    assert_eq!(status, 200, "{body}");
    let now = memories_list(&app, "u1").await;
    assert_eq!(now.len(), 1);
    assert_eq!(now[0]["memory_id"], body["memories"][0]["memory_id"]);
    assert_eq!(now[0]["topics"], json!(["u1"]));
    assert_eq!(memories_list(&app, "u2").await.len(), 1, "u2 untouched");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_memory_requests_get_clear_errors() {
    let mock = Arc::new(MockOpenAi::start().await);
    let app = spawn(remembering(&mock), mock).await;
    let post = |body: Value| {
        let app = &app;
        async move { app.send_json(Method::POST, "/memories", Some(body)).await }
    };
    let (status, body) = post(json!({"user_id": "u1"})).await;
    assert_eq!(status, 422);
    assert_eq!(body["detail"][0]["type"], "missing");
    assert_eq!(body["detail"][0]["loc"], json!(["body", "memory"]));
    let (status, body) = post(json!({"memory": "", "user_id": "u1"})).await;
    assert_eq!(
        (status, body["detail"][0]["type"].clone()),
        (422, json!("string_too_short"))
    );
    let long = "x".repeat(5001);
    let (status, body) = post(json!({"memory": long, "user_id": "u1"})).await;
    assert_eq!(
        (status, body["detail"][0]["type"].clone()),
        (422, json!("string_too_long"))
    );
    let (status, body) = post(json!({"memory": "m", "user_id": "u1", "topics": "food"})).await;
    assert_eq!(
        (status, body["detail"][0]["type"].clone()),
        (422, json!("list_type"))
    );
    let (status, body) = post(json!({"memory": "m"})).await;
    assert_eq!(status, 400);
    assert_eq!(body["detail"], "User ID is required");
    let res = app
        .client
        .post(app.url("/memories"))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);

    let (status, body) = app.get_json("/memories/nope").await;
    assert_eq!(status, 404);
    assert_eq!(body["detail"], "Memory with ID nope not found");
    let patch = json!({"memory": "m", "user_id": "u1"});
    assert_eq!(
        app.send_json(Method::PATCH, "/memories/nope", Some(patch))
            .await
            .0,
        404
    );
    assert_eq!(
        app.send_json(Method::DELETE, "/memories/nope", None)
            .await
            .0,
        404
    );
    let (status, body) = app
        .send_json(Method::DELETE, "/memories", Some(json!({"memory_ids": []})))
        .await;
    assert_eq!(
        (status, body["detail"][0]["type"].clone()),
        (422, json!("too_short"))
    );
    let (status, body) = app.get_json("/memories?sort_by=mood").await;
    assert_eq!(status, 422);
    assert_eq!(body["detail"][0]["loc"], json!(["query", "sort_by"]));
    let (status, _) = app.get_json("/memories?limit=0").await;
    assert_eq!(status, 422);
    let (status, body) = app
        .send_json(
            Method::POST,
            "/optimize-memories",
            Some(json!({"user_id": "nobody"})),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(body["detail"], "No memories found for user nobody");
    let (status, body) = app
        .send_json(
            Method::POST,
            "/optimize-memories",
            Some(json!({"user_id": "u1", "model": "gpt-4o"})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = app
        .send_json(Method::POST, "/optimize-memories", Some(json!({})))
        .await;
    assert_eq!(status, 422);
}
