//! The service accounts domain of the store contract: tokens found by their hash, names unique
//! among active accounts, scoped reads and lists, revocation.

use crate::backend::TestDb;
use agentos::store::{ServiceAccountFilter, ServiceAccountRecord, ServiceAccountSort};

fn account(id: &str, name: &str, user: Option<&str>, created_at: i64) -> ServiceAccountRecord {
    ServiceAccountRecord {
        id: id.to_owned(),
        name: name.to_owned(),
        user_id: user.map(str::to_owned),
        token_hash: format!("hash-{id}"),
        token_prefix: "agno_pat_abcdefg".to_owned(),
        scopes: r#"["agents:run","sessions:read"]"#.to_owned(),
        created_at,
        expires_at: Some(created_at + 90 * 86_400),
        last_used_at: None,
        revoked_at: None,
        created_by: user.map(str::to_owned),
    }
}

fn filter(user: Option<&str>, include_revoked: bool) -> ServiceAccountFilter {
    ServiceAccountFilter {
        include_revoked,
        user_id: user.map(str::to_owned),
        sort_by: ServiceAccountSort::CreatedAt,
        ascending: false,
        limit: 20,
        offset: 0,
    }
}

pub async fn service_accounts_are_found_by_token_hash_and_revoked(db: &TestDb) {
    let store = db.open().await;
    let a = account("a1", "ci-bot", Some("alice"), 100);
    assert!(store.create_service_account(&a).await.unwrap());
    let found = store
        .service_account_by_token_hash("hash-a1")
        .await
        .unwrap();
    assert_eq!(found.as_ref(), Some(&a));
    assert_eq!(found.unwrap().scope_list(), ["agents:run", "sessions:read"]);
    assert!(
        store
            .service_account_by_token_hash("hash-zz")
            .await
            .unwrap()
            .is_none()
    );

    // An active name is unique; once revoked it can be minted again (rotation).
    let twin = account("a2", "ci-bot", Some("alice"), 200);
    assert!(!store.create_service_account(&twin).await.unwrap());
    assert!(store.revoke_service_account("a1", 150).await.unwrap());
    assert!(
        store.revoke_service_account("a1", 999).await.unwrap(),
        "idempotent"
    );
    let revoked = store
        .get_service_account("a1", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(150), "the first revocation stands");
    assert!(store.create_service_account(&twin).await.unwrap());
    assert!(!store.revoke_service_account("nope", 1).await.unwrap());

    store.touch_service_account("a2", 300).await.unwrap();
    let used = store
        .get_service_account("a2", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(used.last_used_at, Some(300));
    store.close().await;
}

pub async fn service_accounts_are_scoped_to_their_user_and_paged(db: &TestDb) {
    let store = db.open().await;
    for a in [
        account("1", "alice-one", Some("alice"), 1),
        account("2", "alice-two", Some("alice"), 2),
        account("3", "bob-one", Some("bob"), 3),
        account("4", "workspace", None, 4),
    ] {
        assert!(store.create_service_account(&a).await.unwrap());
    }
    store.revoke_service_account("2", 10).await.unwrap();
    let ids = |rows: &[ServiceAccountRecord]| rows.iter().map(|a| a.id.clone()).collect::<Vec<_>>();

    let (all, total) = store
        .list_service_accounts(&filter(None, true))
        .await
        .unwrap();
    assert_eq!(
        (ids(&all), total),
        (vec!["4".into(), "3".into(), "2".into(), "1".into()], 4)
    );
    let (alices, total) = store
        .list_service_accounts(&filter(Some("alice"), true))
        .await
        .unwrap();
    assert_eq!(
        (ids(&alices), total),
        (vec!["4".into(), "2".into(), "1".into()], 3)
    );
    let (active, _) = store
        .list_service_accounts(&filter(Some("alice"), false))
        .await
        .unwrap();
    assert_eq!(ids(&active), ["4", "1"]);
    let page = ServiceAccountFilter {
        limit: 1,
        offset: 1,
        ascending: true,
        sort_by: ServiceAccountSort::Name,
        ..filter(None, true)
    };
    let (second, total) = store.list_service_accounts(&page).await.unwrap();
    assert_eq!(
        (ids(&second), total),
        (vec!["2".into()], 4),
        "by name: alice-one, alice-two, ..."
    );

    // Direct reads by id: a user sees their own and the workspace's, never another's.
    assert!(
        store
            .get_service_account("3", Some("alice"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .get_service_account("4", Some("alice"))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .get_service_account("1", Some("alice"))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .get_service_account("3", None)
            .await
            .unwrap()
            .is_some()
    );
    store.close().await;
}
