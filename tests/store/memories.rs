//! The memories domain's contract: what every backend must do with user memories.

use crate::backend::TestDb;
use agentos::store::{MemoryFilter, MemoryRecord, MemorySort, MemoryUpdate};

fn memory(user: &str, text: &str, topics: &[&str], at: i64) -> MemoryRecord {
    let topics: Vec<String> = topics.iter().map(|t| t.to_string()).collect();
    let mut m = MemoryRecord::new(user, text, &topics);
    m.created_at = at;
    m.updated_at = at;
    m
}

fn texts(memories: &[MemoryRecord]) -> Vec<&str> {
    memories.iter().map(|m| m.memory.as_str()).collect()
}

pub async fn memories_are_written_read_and_listed_per_user(db: &TestDb) {
    let store = db.open().await;
    let mut alice = memory("alice", "Alice likes tea", &["drinks"], 1_000);
    alice.agent_id = Some("assistant".into());
    alice.input = Some("I like tea".into());
    store.insert_memory(&alice).await.unwrap();
    store
        .insert_memory(&memory(
            "alice",
            "Alice lives in Lyon",
            &["location"],
            2_000,
        ))
        .await
        .unwrap();
    store
        .insert_memory(&memory("bob", "Bob likes coffee", &["drinks"], 1_500))
        .await
        .unwrap();

    // Read back as written, by id, and only as its owner when a user is named.
    let got = store.get_memory(&alice.memory_id, None).await.unwrap();
    assert_eq!(got.as_ref(), Some(&alice));
    assert_eq!(got.unwrap().topic_list(), vec!["drinks".to_owned()]);
    assert!(
        store
            .get_memory(&alice.memory_id, Some("bob"))
            .await
            .unwrap()
            .is_none(),
        "bob must not read alice's memory"
    );
    assert_eq!(
        texts(&store.user_memories("alice").await.unwrap()),
        ["Alice likes tea", "Alice lives in Lyon"],
        "a user's memories, oldest first"
    );
    assert_eq!(
        texts(&store.user_memories("bob").await.unwrap()),
        ["Bob likes coffee"]
    );

    // An update by another user changes nothing; by the owner it changes the text and topics
    // and stamps updated_at, keeping created_at.
    let update = MemoryUpdate {
        memory: "Alice loves green tea".into(),
        topics: Some("[\"drinks\",\"preferences\"]".into()),
        input: None,
    };
    assert!(
        store
            .update_memory(&alice.memory_id, Some("bob"), &update)
            .await
            .unwrap()
            .is_none()
    );
    let updated = store
        .update_memory(&alice.memory_id, Some("alice"), &update)
        .await
        .unwrap()
        .expect("the owner updates her memory");
    assert_eq!(updated.memory, "Alice loves green tea");
    assert_eq!(updated.topic_list(), ["drinks", "preferences"]);
    assert_eq!(updated.input.as_deref(), Some("I like tea"), "input kept");
    assert_eq!(updated.created_at, 1_000);
    assert!(updated.updated_at > 1_000);
    assert!(
        store
            .update_memory("no-such-memory", None, &update)
            .await
            .unwrap()
            .is_none()
    );

    // Deletes are per user too.
    let ids = vec![alice.memory_id.clone()];
    assert_eq!(store.delete_memories(&ids, Some("bob")).await.unwrap(), 0);
    assert_eq!(store.delete_memories(&ids, Some("alice")).await.unwrap(), 1);
    assert_eq!(store.delete_memories(&ids, None).await.unwrap(), 0);
    assert_eq!(
        texts(&store.user_memories("alice").await.unwrap()),
        ["Alice lives in Lyon"]
    );
}

pub async fn memories_are_filtered_sorted_and_paged(db: &TestDb) {
    let store = db.open().await;
    let mut rows = vec![
        memory("u1", "Likes Jazz", &["music", "preferences"], 1_000),
        memory("u1", "Plays the piano", &["music", "hobbies"], 3_000),
        memory("u1", "Works as a nurse", &["work"], 2_000),
        memory("u2", "Likes jazz too", &["music"], 4_000),
    ];
    rows[1].agent_id = Some("assistant".into());
    for row in &rows {
        store.insert_memory(row).await.unwrap();
    }
    let list = |filter: MemoryFilter| {
        let store = store.clone();
        async move {
            let (page, total) = store.list_memories(&filter).await.unwrap();
            (
                page.iter().map(|m| m.memory.clone()).collect::<Vec<_>>(),
                total,
            )
        }
    };
    // Default: newest update first, everyone's.
    let (all, total) = list(MemoryFilter::default()).await;
    assert_eq!(
        all,
        [
            "Likes jazz too",
            "Plays the piano",
            "Works as a nurse",
            "Likes Jazz"
        ]
    );
    assert_eq!(total, 4);
    // By topic (every topic named must be there), by user, by agent.
    let (music, _) = list(MemoryFilter {
        topics: vec!["music".into()],
        user_id: Some("u1".into()),
        ..MemoryFilter::default()
    })
    .await;
    assert_eq!(music, ["Plays the piano", "Likes Jazz"]);
    let (both, _) = list(MemoryFilter {
        topics: vec!["music".into(), "hobbies".into()],
        ..MemoryFilter::default()
    })
    .await;
    assert_eq!(both, ["Plays the piano"]);
    // A topic is matched whole, not as a part of another.
    let (none, total) = list(MemoryFilter {
        topics: vec!["musi".into()],
        ..MemoryFilter::default()
    })
    .await;
    assert!(none.is_empty() && total == 0, "{none:?}");
    let (by_agent, _) = list(MemoryFilter {
        agent_id: Some("assistant".into()),
        ..MemoryFilter::default()
    })
    .await;
    assert_eq!(by_agent, ["Plays the piano"]);
    // Content search ignores case.
    let (jazz, total) = list(MemoryFilter {
        search_content: Some("JAZZ".into()),
        ..MemoryFilter::default()
    })
    .await;
    assert_eq!(jazz, ["Likes jazz too", "Likes Jazz"]);
    assert_eq!(total, 2);
    // Sorted by text ascending, second page of two.
    let (page, total) = list(MemoryFilter {
        sort_by: MemorySort::Memory,
        ascending: true,
        limit: 2,
        offset: 2,
        ..MemoryFilter::default()
    })
    .await;
    assert_eq!(page, ["Plays the piano", "Works as a nurse"]);
    assert_eq!(total, 4, "the count ignores the page");

    // Topics, each once, sorted; per user when asked.
    assert_eq!(
        store.memory_topics(None).await.unwrap(),
        ["hobbies", "music", "preferences", "work"]
    );
    assert_eq!(store.memory_topics(Some("u2")).await.unwrap(), ["music"]);
    assert!(
        store
            .memory_topics(Some("nobody"))
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn a_users_memories_are_replaced_at_once_and_counted(db: &TestDb) {
    let store = db.open().await;
    for (user, text, at) in [
        ("u1", "one", 1_000),
        ("u1", "two", 5_000),
        ("u2", "three", 3_000),
        ("u3", "four", 2_000),
    ] {
        store
            .insert_memory(&memory(user, text, &[], at))
            .await
            .unwrap();
    }
    // Counts per user, the most recently updated first, paged.
    let (stats, total) = store.user_memory_stats(None, 2, 0).await.unwrap();
    assert_eq!(total, 3);
    let summary: Vec<(&str, i64, i64)> = stats
        .iter()
        .map(|s| {
            (
                s.user_id.as_str(),
                s.total_memories,
                s.last_memory_updated_at,
            )
        })
        .collect();
    assert_eq!(summary, [("u1", 2, 5_000), ("u2", 1, 3_000)]);
    let (stats, _) = store.user_memory_stats(None, 2, 2).await.unwrap();
    assert_eq!(stats[0].user_id, "u3");
    let (stats, total) = store.user_memory_stats(Some("u2"), 20, 0).await.unwrap();
    assert_eq!((stats.len(), total), (1, 1));

    // A user's memories replaced by one summary; nobody else's touched.
    let summary = memory("u1", "one and two", &["summary"], 6_000);
    let deleted = store
        .replace_user_memories("u1", std::slice::from_ref(&summary))
        .await
        .unwrap();
    assert_eq!(deleted, 2);
    assert_eq!(store.user_memories("u1").await.unwrap(), [summary]);
    assert_eq!(store.user_memories("u2").await.unwrap().len(), 1);
    assert_eq!(store.clear_user_memories("u1").await.unwrap(), 1);
    assert!(store.user_memories("u1").await.unwrap().is_empty());
    assert_eq!(store.user_memories("u3").await.unwrap().len(), 1);
}
