//! `/service-accounts` with the security key (agno's root credential): tokens minted once,
//! stored hashed, scoped, revoked; agno's refusals; the key keeps working beside them.

use crate::auth_support::*;
use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};

const KEY: &str = "the-security-key";

async fn mint_account(app: &TestApp, body: Value) -> (u16, Value) {
    call(request(app, Method::POST, "/service-accounts", Some(KEY)).json(&body)).await
}

#[tokio::test(flavor = "multi_thread")]
async fn service_account_tokens_are_shown_once_scoped_and_revocable() {
    let app = spawn_auth(|os| os.security_key(KEY)).await;
    let (status, created) = mint_account(
        &app,
        json!({"name": "ci-bot", "scopes": [{"scope": "agents:*:run"}, {"scope": "sessions:read"}]}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("agno_pat_"));
    assert_eq!(created["principal"], "sa:ci-bot");
    assert_eq!(created["token_prefix"], token[..16]);
    assert_eq!(
        created["user_id"],
        Value::Null,
        "minted by the root: workspace-level"
    );
    assert_eq!(
        created["scopes"][0],
        json!({"id": null, "raw": "agents:*:run", "namespace": "agents", "sub_namespace": "*",
               "permission": "run", "value": "allow"})
    );
    let expires = created["expires_at"].as_i64().unwrap() - created["created_at"].as_i64().unwrap();
    assert_eq!(expires, 90 * 86_400, "agno's default expiry");

    // Listed without the token or its hash; the database keeps only the hash.
    let (status, list) = call(request(&app, Method::GET, "/service-accounts", Some(KEY))).await;
    assert_eq!(status, 200);
    assert_eq!(list["meta"]["total_count"], 1);
    let listed = list["data"][0].as_object().unwrap();
    assert!(
        !listed.contains_key("token") && !listed.contains_key("token_hash"),
        "{list}"
    );
    app.hook_jobs().await; // a read of the database file through a fresh connection
    let mut stored = std::fs::read(&app.db_path).unwrap();
    stored.extend(std::fs::read(app.db_path.with_extension("db-wal")).unwrap_or_default());
    let secret_part = &token["agno_pat_".len()..];
    assert!(
        !String::from_utf8_lossy(&stored).contains(secret_part),
        "the token is stored in plain text"
    );

    // The token authenticates with its scopes: runs allowed, other routes refused.
    let (status, run) = run_agent(&app, &token, None).await;
    assert_eq!(
        (status, run["user_id"].as_str()),
        (200, Some("sa:ci-bot")),
        "{run}"
    );
    let (status, body) = call(request(&app, Method::GET, "/config", Some(&token))).await;
    assert_eq!(
        (status, body),
        (
            403,
            json!({"detail": "Insufficient permissions. Required scope(s): config:read"})
        )
    );
    // The security key still works alone.
    assert_eq!(
        call(request(&app, Method::GET, "/config", Some(KEY)))
            .await
            .0,
        200
    );

    // Revoked: refused at once, with agno's one detail for every failure.
    let id = created["id"].as_str().unwrap();
    let path = format!("/service-accounts/{id}");
    assert_eq!(
        call(request(&app, Method::DELETE, &path, Some(KEY)))
            .await
            .0,
        204
    );
    assert_eq!(
        call(request(&app, Method::DELETE, &path, Some(KEY)))
            .await
            .0,
        204,
        "idempotent"
    );
    let invalid = json!({"detail": "Invalid or expired service account token"});
    assert_eq!(
        call(request(&app, Method::GET, "/sessions", Some(&token))).await,
        (401, invalid.clone())
    );
    assert_eq!(
        call(request(
            &app,
            Method::GET,
            "/sessions",
            Some("agno_pat_guessed")
        ))
        .await,
        (401, invalid)
    );
    let missing = format!("/service-accounts/{}", uuid_like());
    let (status, body) = call(request(&app, Method::DELETE, &missing, Some(KEY))).await;
    assert_eq!(status, 404, "{body}");
    // The name is free again once revoked.
    assert_eq!(mint_account(&app, json!({"name": "ci-bot"})).await.0, 201);
}

fn uuid_like() -> String {
    "00000000-0000-4000-8000-000000000000".to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_service_account_requests_get_agnos_answers() {
    let app = spawn_auth(|os| os.security_key(KEY)).await;
    assert_eq!(mint_account(&app, json!({"name": "twice"})).await.0, 201);
    let (status, body) = mint_account(&app, json!({"name": "twice"})).await;
    assert_eq!(
        (status, body),
        (
            409,
            json!({"detail": "An active service account named 'twice' already exists. Revoke it first to rotate."})
        )
    );
    let (status, body) = mint_account(
        &app,
        json!({"name": "w", "scopes": [{"scope": "agents:write"}]}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .starts_with("Privileged scope(s) require allow_privileged_scopes=true: agents:write.")
    );
    let body = json!({"name": "w", "scopes": [{"scope": "agents:write"}], "allow_privileged_scopes": true});
    assert_eq!(mint_account(&app, body).await.0, 201);
    let (status, body) =
        mint_account(&app, json!({"name": "x", "scopes": [{"scope": "a:b:c:d"}]})).await;
    assert_eq!(
        (status, body),
        (400, json!({"detail": "Invalid scope(s): a:b:c:d"}))
    );
    let (status, body) = mint_account(&app, json!({"name": "Not A Slug"})).await;
    assert_eq!(status, 422);
    assert_eq!(body["detail"][0]["loc"], json!(["body", "name"]));
    let (status, _) = mint_account(&app, json!({"name": "n", "expires_in_days": 0})).await;
    assert_eq!(status, 422);
    let (status, body) = mint_account(
        &app,
        json!({"name": "n", "scopes": [{"scope": "agents:run", "effect": "deny"}]}),
    )
    .await;
    assert_eq!(status, 422, "{body}");

    // Guessing tokens: after twenty failures from one address, 429.
    let mut last = 0;
    for i in 0..25 {
        let guess = format!("agno_pat_guess{i}");
        last = call(request(&app, Method::GET, "/sessions", Some(&guess)))
            .await
            .0;
    }
    assert_eq!(last, 429);

    // An open server mints nothing.
    let open = spawn_auth(|os| os).await;
    let (status, body) =
        call(request(&open, Method::POST, "/service-accounts", None).json(&json!({"name": "x"})))
            .await;
    assert_eq!(
        (status, body),
        (
            401,
            json!({"detail": "JWT authentication is required to mint a service account."})
        )
    );
}
