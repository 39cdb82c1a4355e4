//! The edge layer: security-key auth, CORS as agno's Agent UI meets it, `/info`, `/teams`,
//! `/openapi.json` and `/docs`.

use crate::helpers::*;
use crate::mock_openai::MockOpenAi;
use agentos::AgentOs;
use reqwest::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, CONTENT_TYPE, HeaderMap,
};
use reqwest::{Method, Response};
use serde_json::{Value, json};
use std::sync::Arc;

const KEY: &str = "s3cret-key";
const UI: &str = "http://localhost:3000";
const MISSING: &str = "Authorization header required";
const INVALID: &str = "Invalid authentication token";

/// The seed workflow (no hooks) behind `configure(AgentOs)`.
async fn spawn_edge(configure: impl FnOnce(AgentOs) -> AgentOs) -> TestApp {
    let mock = Arc::new(MockOpenAi::start().await);
    let os = configure(AgentOs::new().workflow(seed_workflow(&mock.base_url(), &[])));
    spawn_with(os, mock, HookLog::default()).await
}

async fn send(app: &TestApp, method: Method, path: &str, token: Option<&str>) -> Response {
    let mut req = app.client.request(method, app.url(path));
    if let Some(token) = token {
        req = req.header("Authorization", format!("Bearer {token}"));
    }
    req.send().await.unwrap()
}

async fn status_and_json(res: Response) -> (u16, Value) {
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A browser's preflight from `origin` for `method` with these request headers.
async fn preflight(
    app: &TestApp,
    path: &str,
    origin: &str,
    method: &str,
    headers: &str,
) -> Response {
    app.client
        .request(Method::OPTIONS, app.url(path))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", method)
        .header("Access-Control-Request-Headers", headers)
        .send()
        .await
        .unwrap()
}

fn header(headers: &HeaderMap, name: impl reqwest::header::AsHeaderName) -> &str {
    headers
        .get(name)
        .map_or("", |v| v.to_str().unwrap_or_default())
}

#[tokio::test]
async fn with_a_key_every_protected_route_answers_agnos_401_bodies() {
    let app = spawn_edge(|os| os.security_key(KEY)).await;
    for (method, path) in [
        (Method::GET, "/config"),
        (Method::GET, "/teams"),
        (Method::GET, "/workflows"),
        (Method::GET, "/hooks/jobs"),
        (Method::POST, "/workflows/analysis-workflow/runs"),
        (Method::GET, "/no/such/route"),
    ] {
        let (status, body) = status_and_json(send(&app, method.clone(), path, None).await).await;
        assert_eq!(
            (status, body),
            (401, json!({"detail": MISSING})),
            "{method} {path}"
        );
        let wrong = send(&app, method.clone(), path, Some("not-the-key")).await;
        let (status, body) = status_and_json(wrong).await;
        assert_eq!(
            (status, body),
            (401, json!({"detail": INVALID})),
            "{method} {path}"
        );
    }
    assert!(app.mock.requests().is_empty(), "a refused run never ran");

    // The right key opens them; a lower-case scheme and a bare token work too, as in agno.
    let (status, body) = status_and_json(send(&app, Method::GET, "/teams", Some(KEY)).await).await;
    assert_eq!((status, body), (200, json!([])));
    for value in [format!("bearer {KEY}"), KEY.to_owned()] {
        let res = app
            .client
            .get(app.url("/config"))
            .header("Authorization", value)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    let res = send(&app, Method::GET, "/no/such/route", Some(KEY)).await;
    assert_eq!(
        status_and_json(res).await,
        (404, json!({"detail": "Not Found"}))
    );
    // A key that only shares a prefix with the real one is refused.
    let res = send(&app, Method::GET, "/config", Some(&KEY[..4])).await;
    assert_eq!(
        status_and_json(res).await,
        (401, json!({"detail": INVALID}))
    );
}

#[tokio::test]
async fn open_routes_and_options_need_no_key() {
    let app = spawn_edge(|os| os.security_key(KEY)).await;
    for path in [
        "/",
        "/health",
        "/health/",
        "/info",
        "/docs",
        "/openapi.json",
        "/docs/swagger-ui.css",
    ] {
        let res = send(&app, Method::GET, path, None).await;
        assert_eq!(res.status(), 200, "{path}");
    }
    let res = preflight(&app, "/config", UI, "GET", "content-type").await;
    assert_eq!(res.status(), 200);
    // An OPTIONS that is not a preflight is not refused for a missing key either.
    let res = send(&app, Method::OPTIONS, "/config", None).await;
    assert_ne!(res.status(), 401);
}

#[tokio::test]
async fn without_a_key_nothing_asks_for_one() {
    let app = spawn_edge(|os| os).await;
    let res = send(&app, Method::GET, "/config", None).await;
    assert_eq!(res.status(), 200);
    let (status, info) = app.get_json("/info").await;
    assert_eq!(status, 200);
    assert_eq!(info["auth_mode"], "none");
    // An empty key is no key.
    let app = spawn_edge(|os| os.security_key("")).await;
    let res = send(&app, Method::GET, "/config", None).await;
    assert_eq!(res.status(), 200);
}

/// Agent UI's calls (agent-ui contract §0): every GET/DELETE sends `Content-Type:
/// application/json` (so it is preflighted) and, with a token, `Authorization`.
const UI_CALLS: [(&str, &str); 8] = [
    ("GET", "/health"),
    ("GET", "/teams"),
    ("GET", "/agents"),
    ("GET", "/sessions?type=agent&component_id=a&db_id=d"),
    ("POST", "/agents/a/runs"),
    ("GET", "/sessions/s/runs?type=agent&db_id=d"),
    ("DELETE", "/sessions/s?db_id=d"),
    ("GET", "/sessions/s"),
];

/// The paths Agent UI calls, each preflighted for GET, POST and DELETE.
const UI_PATHS: [&str; 6] = [
    "/health",
    "/teams",
    "/agents",
    "/sessions",
    "/agents/a/runs",
    "/sessions/s",
];

#[tokio::test]
async fn agent_ui_preflights_from_localhost_3000_pass_with_and_without_a_token() {
    let app = spawn_edge(|os| os.security_key(KEY)).await;
    for path in UI_PATHS {
        for method in ["GET", "POST", "DELETE"] {
            for requested in ["content-type", "content-type,authorization"] {
                let res = preflight(&app, path, UI, method, requested).await;
                let h = res.headers();
                assert_eq!(res.status(), 200, "{method} {path} {requested}");
                assert_eq!(header(h, ACCESS_CONTROL_ALLOW_ORIGIN), UI);
                assert_eq!(header(h, ACCESS_CONTROL_ALLOW_CREDENTIALS), "true");
                let methods = header(h, ACCESS_CONTROL_ALLOW_METHODS);
                assert!(methods.split(',').any(|m| m == method), "{methods}");
                assert_eq!(header(h, ACCESS_CONTROL_ALLOW_HEADERS), requested);
                assert_eq!(header(h, "access-control-max-age"), "600");
                assert!(header(h, "vary").contains("origin"));
            }
        }
    }
}

#[tokio::test]
async fn agent_ui_calls_carry_cors_headers_and_a_readable_401_without_the_token() {
    let app = spawn_edge(|os| os.security_key(KEY)).await;
    for (method, path) in UI_CALLS {
        let method: Method = method.parse().unwrap();
        let call = |token: Option<&str>| {
            let mut req = app
                .client
                .request(method.clone(), app.url(path))
                .header("Origin", UI)
                .header(CONTENT_TYPE, "application/json");
            if let Some(token) = token {
                req = req.header("Authorization", format!("Bearer {token}"));
            }
            req.send()
        };
        let res = call(None).await.unwrap();
        assert_eq!(header(res.headers(), ACCESS_CONTROL_ALLOW_ORIGIN), UI);
        assert_eq!(
            header(res.headers(), ACCESS_CONTROL_ALLOW_CREDENTIALS),
            "true"
        );
        let (status, body) = status_and_json(res).await;
        if path == "/health" {
            assert_eq!(status, 200, "/health is open");
        } else {
            assert_eq!(
                (status, body),
                (401, json!({"detail": MISSING})),
                "{method} {path}"
            );
        }

        let res = call(Some(KEY)).await.unwrap();
        assert_eq!(header(res.headers(), ACCESS_CONTROL_ALLOW_ORIGIN), UI);
        assert_ne!(res.status(), 401, "{method} {path}");
    }
    // The call that decides whether the UI shows the endpoint as active.
    let res = app
        .client
        .get(app.url("/health"))
        .header("Origin", UI)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(header(res.headers(), ACCESS_CONTROL_ALLOW_ORIGIN), UI);
}

#[tokio::test]
async fn an_unlisted_origin_gets_400_on_preflight_and_no_cors_headers() {
    let app = spawn_edge(|os| os.security_key(KEY)).await;
    let res = preflight(
        &app,
        "/health",
        "https://evil.example",
        "GET",
        "content-type",
    )
    .await;
    assert_eq!(res.status(), 400);
    assert!(res.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    assert_eq!(res.text().await.unwrap(), "Disallowed CORS origin");

    let res = app
        .client
        .get(app.url("/health"))
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        200,
        "the server answers; the browser hides it"
    );
    assert!(res.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    // agno's own hosts are allowed by default.
    let res = preflight(
        &app,
        "/health",
        "https://os.agno.com",
        "GET",
        "content-type",
    )
    .await;
    assert_eq!(
        header(res.headers(), ACCESS_CONTROL_ALLOW_ORIGIN),
        "https://os.agno.com"
    );
}

#[tokio::test]
async fn the_builders_origins_replace_the_defaults_and_star_is_dropped() {
    let app = spawn_edge(|os| os.cors_allowed_origins(["https://app.example", "*"])).await;
    let res = preflight(
        &app,
        "/agents",
        "https://app.example",
        "GET",
        "content-type",
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        header(res.headers(), ACCESS_CONTROL_ALLOW_ORIGIN),
        "https://app.example"
    );
    for origin in [UI, "https://anything.example"] {
        let res = preflight(&app, "/agents", origin, "GET", "content-type").await;
        assert_eq!(res.status(), 400, "{origin}");
    }
}

/// Runs [`cors_origin_list_child`] in a child process with `CORS_ORIGIN_LIST` set, so that no
/// other test's server sees the variable.
#[test]
fn cors_origin_list_adds_origins_to_the_defaults() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["edge::cors_origin_list_child", "--exact", "--ignored"])
        .env(
            "CORS_ORIGIN_LIST",
            "https://env-one.example,https://env-two.example",
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 passed"), "{stdout}");
}

#[tokio::test]
#[ignore = "run by cors_origin_list_adds_origins_to_the_defaults, with CORS_ORIGIN_LIST set"]
async fn cors_origin_list_child() {
    assert!(
        std::env::var("CORS_ORIGIN_LIST").is_ok(),
        "run through cors_origin_list_adds_origins_to_the_defaults"
    );
    let app = spawn_edge(|os| os).await;
    for origin in ["https://env-one.example", "https://env-two.example", UI] {
        let res = preflight(&app, "/health", origin, "GET", "content-type").await;
        assert_eq!(res.status(), 200, "{origin}");
        assert_eq!(header(res.headers(), ACCESS_CONTROL_ALLOW_ORIGIN), origin);
    }
    let res = preflight(&app, "/health", "https://env-three.example", "GET", "x").await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn info_reports_counts_and_auth_mode_without_the_key() {
    let app = spawn_edge(|os| os.id("edge-os").security_key(KEY)).await;
    let (status, info) = app.get_json("/info").await;
    assert_eq!(status, 200);
    assert_eq!(info["os_id"], "edge-os");
    assert_eq!(info["auth_mode"], "security_key");
    assert_eq!(info["workflow_count"], 1);
    assert_eq!(info["agent_count"], 0);
    assert_eq!(info["team_count"], 0);
    assert_eq!(info["agno_version"], "3.1.10");
    assert_eq!(info["os_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(info["mcp"]["enabled"], false);
}

#[tokio::test]
async fn teams_is_an_empty_list_and_a_team_is_not_found() {
    let app = spawn_edge(|os| os).await;
    assert_eq!(app.get_json("/teams").await, (200, json!([])));
    assert_eq!(app.get_json("/teams/").await, (200, json!([])));
    assert_eq!(
        app.get_json("/teams/research").await,
        (
            404,
            json!({"detail": "Team not found: 'research'. Served teams: none"})
        )
    );
}
