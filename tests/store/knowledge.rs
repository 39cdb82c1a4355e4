//! The knowledge domain's contract (`KnowledgeStore`), on SQLite (sqlite-vec, FTS5), on
//! Postgres as CI's Debian package has it (cosine in SQL) and on Postgres with pgvector.

use crate::backend::TestDb;
use agentos::MetadataFilter;
use agentos::model::HashEmbedder;
use agentos::store::{
    ContentAdded, ContentPage, ContentSort, ContentUpdate, KeywordQuery, NewChunk, NewContent,
    Store, VectorQuery, content_status,
};
use serde_json::json;
use std::sync::Arc;

const KB: &str = "docs";
const EMBEDDER: &str = "hash:64";

fn content(id: &str, metadata: Option<serde_json::Value>) -> NewContent {
    NewContent {
        id: id.into(),
        knowledge_id: KB.into(),
        name: Some(format!("{id}.txt")),
        description: None,
        metadata: metadata.map(|m| m.to_string()),
        file_type: Some("text/plain".into()),
        reader: "text".into(),
        source_url: None,
        source_name: Some(format!("{id}.txt")),
        size: 3,
        raw: Some(b"raw".to_vec()),
        content_hash: format!("hash-{id}"),
        job_id: format!("job-{id}"),
        now: 1_000,
    }
}

fn chunk(content_id: &str, index: u32, text: &str) -> NewChunk {
    let embedder = HashEmbedder::new(64);
    NewChunk {
        id: format!("{content_id}-{index}"),
        content_id: content_id.into(),
        knowledge_id: KB.into(),
        chunk_index: index,
        embedder: EMBEDDER.into(),
        text_hash: format!("h:{text}"),
        embedding: embedder.vector(text),
        meta: json!({"chunk": index + 1}).to_string(),
        text: text.into(),
    }
}

/// Adds a content item with these chunks and completes it.
async fn indexed(store: &Arc<dyn Store>, id: &str, meta: serde_json::Value, texts: &[&str]) {
    store.add_content(content(id, Some(meta))).await.unwrap();
    let chunks = texts
        .iter()
        .enumerate()
        .map(|(i, t)| chunk(id, i as u32, t))
        .collect();
    store.insert_chunks(chunks).await.unwrap();
    assert!(
        store
            .set_content_status(id, content_status::COMPLETED, "")
            .await
            .unwrap()
    );
}

fn vector_query<'a>(
    embedding: &'a [f32],
    filter: &'a MetadataFilter,
    limit: u32,
) -> VectorQuery<'a> {
    VectorQuery {
        knowledge_id: KB,
        embedder: EMBEDDER,
        embedding,
        filter,
        limit,
    }
}

pub async fn content_items_are_added_once_listed_updated_and_deleted(db: &TestDb) {
    let store = db.open().await;
    let added = store.add_content(content("a", None)).await.unwrap();
    let ContentAdded::Queued(a) = added else {
        panic!("new content must be queued: {added:?}")
    };
    assert_eq!(a.status, content_status::PROCESSING);
    assert_eq!(a.job_id.as_deref(), Some("job-a"));
    assert_eq!(store.content_raw("a").await.unwrap(), Some(b"raw".to_vec()));
    // The same content while it is processing: left alone, still owned by its first job.
    let mut again = content("a", None);
    again.job_id = "job-a2".into();
    let ContentAdded::Exists(same) = store.add_content(again.clone()).await.unwrap() else {
        panic!("the same content must not be queued twice")
    };
    assert_eq!(same.job_id.as_deref(), Some("job-a"));
    // Failed: a new upload starts it over, its chunks gone, owned by the new job.
    store.insert_chunks(vec![chunk("a", 0, "x")]).await.unwrap();
    store
        .set_content_status("a", content_status::FAILED, "bad pdf")
        .await
        .unwrap();
    let failed = store.get_content(KB, "a").await.unwrap().unwrap();
    assert_eq!(
        (failed.status.as_str(), failed.status_message.as_str()),
        ("failed", "bad pdf")
    );
    assert!(store.stored_chunks("a").await.unwrap().is_empty());
    let ContentAdded::Queued(restarted) = store.add_content(again).await.unwrap() else {
        panic!("a failed content starts over")
    };
    assert_eq!(restarted.job_id.as_deref(), Some("job-a2"));

    let mut b = content("b", Some(json!({"k": 1})));
    b.now = 2_000;
    store.add_content(b).await.unwrap();
    let page = ContentPage {
        limit: 1,
        offset: 0,
        sort: ContentSort::CreatedAt,
        ascending: false,
    };
    let (rows, total) = store.list_contents(KB, &page).await.unwrap();
    assert_eq!(total, 2);
    assert_eq!(rows[0].id, "b");
    assert!(
        store
            .list_contents("other", &page)
            .await
            .unwrap()
            .0
            .is_empty()
    );

    let update = ContentUpdate {
        name: Some("renamed".into()),
        description: None,
        metadata: Some(json!({"k": 2}).to_string()),
    };
    let updated = store
        .update_content(KB, "b", &update)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.name.as_deref(), Some("renamed"));
    assert_eq!(updated.metadata_map()["k"], 2);
    assert!(
        store
            .update_content("other", "b", &update)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.metadata_keys(KB).await.unwrap(), ["k"]);

    assert!(store.delete_content(KB, "a").await.unwrap());
    assert!(!store.delete_content(KB, "a").await.unwrap());
    assert_eq!(store.delete_all_contents(KB).await.unwrap(), 1);
    assert!(store.get_content(KB, "b").await.unwrap().is_none());
}

pub async fn chunks_are_stored_once_and_their_vectors_reused(db: &TestDb) {
    let store = db.open().await;
    store.add_content(content("a", None)).await.unwrap();
    let batch = vec![chunk("a", 0, "one"), chunk("a", 1, "two")];
    store.insert_chunks(batch.clone()).await.unwrap();
    // A retried attempt writes the same positions again: nothing doubles.
    let mut retried = batch.clone();
    retried.push(chunk("a", 2, "three"));
    for c in &mut retried {
        c.id = format!("{}-again", c.id);
    }
    store.insert_chunks(retried).await.unwrap();
    assert_eq!(store.stored_chunks("a").await.unwrap(), [0, 1, 2]);
    let hashes = vec!["h:one".to_owned(), "h:nope".to_owned()];
    let cached = store.cached_embeddings(EMBEDDER, &hashes).await.unwrap();
    assert_eq!(cached.len(), 1);
    assert_eq!(cached[0].0, "h:one");
    let expected = HashEmbedder::new(64).vector("one");
    assert!(
        cached[0]
            .1
            .iter()
            .zip(&expected)
            .all(|(a, b)| (a - b).abs() < 1e-6)
    );
    assert!(
        store
            .cached_embeddings("other", &hashes)
            .await
            .unwrap()
            .is_empty()
    );
    // Completing counts the chunks and lets the raw bytes go.
    store
        .set_content_status("a", content_status::COMPLETED, "")
        .await
        .unwrap();
    let a = store.get_content(KB, "a").await.unwrap().unwrap();
    assert_eq!(a.chunk_count, 3);
    assert_eq!(store.content_raw("a").await.unwrap(), None);
}

pub async fn vector_and_keyword_search_rank_filter_and_skip_unfinished_content(db: &TestDb) {
    let store = db.open().await;
    indexed(
        &store,
        "billing",
        json!({"team": "billing", "year": 2024}),
        &[
            "refunds are paid within fourteen days",
            "invoices list every order",
        ],
    )
    .await;
    indexed(
        &store,
        "shipping",
        json!({"team": "logistics", "urgent": true}),
        &["parcels ship from the Rotterdam warehouse"],
    )
    .await;
    // Processing: its chunks exist but are never found.
    store.add_content(content("draft", None)).await.unwrap();
    store
        .insert_chunks(vec![chunk("draft", 0, "refunds refunds refunds")])
        .await
        .unwrap();

    let none = MetadataFilter::none();
    let q = HashEmbedder::new(64).vector("when are refunds paid");
    let hits = store
        .vector_search(&vector_query(&q, &none, 10))
        .await
        .unwrap();
    assert_eq!(hits.len(), 3, "{hits:?}");
    assert_eq!(hits[0].chunk_id, "billing-0");
    assert_eq!(hits[0].chunk, 1);
    assert_eq!(hits[0].source.as_deref(), Some("billing.txt"));
    assert_eq!(hits[0].meta["team"], "billing");
    assert!(hits[0].score > hits[1].score, "{hits:?}");
    assert!((hits[0].score - cosine(&q, "refunds are paid within fourteen days")).abs() < 1e-4);

    let urgent = MetadataFilter::from_json(&json!({"urgent": true})).unwrap();
    let hits = store
        .vector_search(&vector_query(&q, &urgent, 10))
        .await
        .unwrap();
    assert_eq!(ids(&hits), ["shipping-0"]);
    let year =
        MetadataFilter::from_json(&json!({"year": [2023, 2024.0], "team": "billing"})).unwrap();
    let hits = store
        .vector_search(&vector_query(&q, &year, 10))
        .await
        .unwrap();
    assert_eq!(hits.len(), 2);
    let wrong_type = MetadataFilter::from_json(&json!({"year": "2024"})).unwrap();
    assert!(
        store
            .vector_search(&vector_query(&q, &wrong_type, 10))
            .await
            .unwrap()
            .is_empty()
    );
    let mut other = vector_query(&q, &none, 10);
    other.embedder = "another";
    assert!(store.vector_search(&other).await.unwrap().is_empty());

    let words = agentos::query_words("Rotterdam parcels?");
    let keyword = KeywordQuery {
        knowledge_id: KB,
        words: &words,
        filter: &none,
        limit: 10,
    };
    let hits = store.keyword_search(&keyword).await.unwrap();
    assert_eq!(ids(&hits), ["shipping-0"], "{hits:?}");
    // Stemmed: "refund" finds "refunds"; words are never syntax.
    let words = agentos::query_words("refund \" OR * NEAR(");
    let keyword = KeywordQuery {
        words: &words,
        ..keyword
    };
    let hits = store.keyword_search(&keyword).await.unwrap();
    assert_eq!(ids(&hits), ["billing-0"], "{hits:?}");
    let billing = MetadataFilter::from_json(&json!({"team": "logistics"})).unwrap();
    let filtered = KeywordQuery {
        filter: &billing,
        ..keyword
    };
    assert!(store.keyword_search(&filtered).await.unwrap().is_empty());
}

pub async fn the_vector_backend_is_named(db: &TestDb) {
    let store = db.open().await;
    let backend = store.vector_backend();
    assert!(
        ["sqlite-vec", "pgvector", "sql"].contains(&backend),
        "{backend}"
    );
}

pub async fn pgvector_ranks_when_the_extension_is_there(db: &TestDb) {
    let store = db.open().await;
    assert_eq!(store.vector_backend(), "pgvector");
    vector_and_keyword_search_rank_filter_and_skip_unfinished_content(db).await;
}

fn cosine(query: &[f32], text: &str) -> f64 {
    let v = HashEmbedder::new(64).vector(text);
    query.iter().zip(&v).map(|(a, b)| f64::from(a * b)).sum()
}

fn ids(hits: &[agentos::SearchHit]) -> Vec<&str> {
    hits.iter().map(|h| h.chunk_id.as_str()).collect()
}
