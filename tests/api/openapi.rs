//! `/openapi.json` documents every route (each path the source registers, with each method
//! the router answers on it), every documented operation is routed, a nested router's document
//! names its prefix, and `/docs` renders it with assets served by this server only.

use crate::helpers::*;
use crate::mock_openai::MockOpenAi;
use agentos::{AgentOs, SqliteDb};
use reqwest::Method;
use serde_json::Value;
use std::sync::Arc;

/// Every operation of the API (the issue's list), as `(method, path)`.
const EXPECTED: [(&str, &str); 38] = [
    ("get", "/"),
    ("get", "/health"),
    ("get", "/info"),
    ("get", "/config"),
    ("get", "/models"),
    ("get", "/agents"),
    ("get", "/agents/{agent_id}"),
    ("post", "/agents/{agent_id}/runs"),
    ("get", "/agents/{agent_id}/runs"),
    ("get", "/agents/{agent_id}/runs/{run_id}"),
    ("post", "/agents/{agent_id}/runs/{run_id}/cancel"),
    ("post", "/agents/{agent_id}/runs/{run_id}/resume"),
    ("get", "/teams"),
    ("get", "/teams/{team_id}"),
    ("post", "/teams/{team_id}/runs"),
    ("get", "/teams/{team_id}/runs"),
    ("get", "/teams/{team_id}/runs/{run_id}"),
    ("post", "/teams/{team_id}/runs/{run_id}/cancel"),
    ("post", "/teams/{team_id}/runs/{run_id}/resume"),
    ("get", "/workflows"),
    ("get", "/workflows/{workflow_id}"),
    ("post", "/workflows/{workflow_id}/runs"),
    ("get", "/workflows/{workflow_id}/runs"),
    ("get", "/workflows/{workflow_id}/runs/{run_id}"),
    ("post", "/workflows/{workflow_id}/runs/{run_id}/cancel"),
    ("post", "/workflows/{workflow_id}/runs/{run_id}/resume"),
    ("get", "/sessions"),
    ("post", "/sessions"),
    ("delete", "/sessions"),
    ("get", "/sessions/{session_id}"),
    ("delete", "/sessions/{session_id}"),
    ("patch", "/sessions/{session_id}"),
    ("post", "/sessions/{session_id}/rename"),
    ("get", "/sessions/{session_id}/runs"),
    ("get", "/sessions/{session_id}/runs/{run_id}"),
    ("get", "/sessions/{session_id}/run-previews"),
    ("get", "/hooks/jobs"),
    ("post", "/hooks/jobs/{job_id}/retry"),
];

/// Documented operations not routed yet (none today). A route listed here that is routed
/// fails the test, so the list cannot hide a route that goes missing later.
const PENDING: [(&str, &str); 0] = [];

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// Routed paths left out of the document on purpose: the document and its docs page (agno's
/// FastAPI leaves them out of its schema too).
const UNDOCUMENTED: [&str; 2] = ["/openapi.json", "/docs"];

async fn document(app: &TestApp) -> Value {
    let (status, doc) = app.get_json("/openapi.json").await;
    assert_eq!(status, 200);
    doc
}

/// `schema`, or the component schema its `$ref` names.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.strip_prefix("#/components/schemas/").unwrap();
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

/// `(method, path)` of every operation in the document.
fn operations(doc: &Value) -> Vec<(String, String)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            if item.get(method).is_some() {
                ops.push((method.to_owned(), path.clone()));
            }
        }
    }
    ops
}

#[tokio::test]
async fn openapi_json_documents_every_route_with_its_parameters() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let ops = operations(&doc);
    for (method, path) in EXPECTED {
        assert!(
            ops.contains(&(method.to_owned(), path.to_owned())),
            "{method} {path} is not documented"
        );
    }
    for (method, path) in &ops {
        let op = &doc["paths"][path][method];
        assert!(op["summary"].is_string(), "{method} {path} has no summary");
        assert!(op["responses"].is_object(), "{method} {path}");
        // Every `{param}` of the path is declared as a path parameter.
        for segment in path.split('/').filter(|s| s.starts_with('{')) {
            let name = segment.trim_matches(|c| c == '{' || c == '}');
            let declared = op["parameters"].as_array().is_some_and(|ps| {
                ps.iter()
                    .any(|p| p["name"] == name && p["in"] == "path" && p["required"] == true)
            });
            assert!(declared, "{method} {path} does not declare {name}");
        }
    }
    // The run form and its fields, as clients send them.
    let run_body = &doc["paths"]["/workflows/{workflow_id}/runs"]["post"]["requestBody"]["content"];
    for media in ["multipart/form-data", "application/x-www-form-urlencoded"] {
        let props = &resolve(&doc, &run_body[media]["schema"])["properties"];
        for field in ["message", "stream", "session_id", "user_id", "background"] {
            assert!(props[field].is_object(), "{media} lacks {field}");
        }
    }
    let agent_form = &doc["paths"]["/agents/{agent_id}/runs"]["post"]["requestBody"]["content"]["multipart/form-data"]
        ["schema"];
    let agent_form = &resolve(&doc, agent_form)["properties"];
    assert_eq!(agent_form["files"]["items"]["format"], "binary");
    // Every error answer documents its `{"detail"}` body, and every `$ref` resolves.
    for (method, path) in &ops {
        for (status, response) in doc["paths"][path][method]["responses"].as_object().unwrap() {
            if status.starts_with('4') && status != "401" {
                let schema = &response["content"]["application/json"]["schema"];
                let body = resolve(&doc, schema);
                assert!(
                    body["properties"]["detail"].is_object(),
                    "{method} {path} {status} has no detail body"
                );
            }
        }
    }
    let text = doc.to_string();
    for reference in text.split("\"$ref\":\"#/components/").skip(1) {
        let name = &reference[..reference.find('"').unwrap()];
        let (kind, key) = name.split_once('/').unwrap();
        assert!(
            doc["components"][kind][key].is_object(),
            "dangling $ref {name}"
        );
    }
    let open = &doc["paths"]["/health"]["get"]["security"];
    assert_eq!(open, &serde_json::json!([]), "/health needs no key");
}

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let mut missing = Vec::new();
    let mut now_routed = Vec::new();
    for (method, path) in operations(&doc) {
        let concrete: String = path
            .split('/')
            .map(|s| if s.starts_with('{') { "x" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let verb: Method = method.to_uppercase().parse().unwrap();
        let res = app
            .client
            .request(verb, app.url(&concrete))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let body: Value = serde_json::from_str(&res.text().await.unwrap()).unwrap_or_default();
        // The router's own answers for an unknown path or method (handlers say more).
        let unrouted = (status == 404 && body["detail"] == "Not Found")
            || (status == 405 && body["detail"] == "Method Not Allowed");
        let pending = PENDING.contains(&(method.as_str(), path.as_str()));
        if unrouted && !pending {
            missing.push(format!("{method} {path}"));
        }
        if !unrouted && pending {
            now_routed.push(format!("{method} {path}"));
        }
    }
    assert!(missing.is_empty(), "documented but not routed: {missing:?}");
    assert!(
        now_routed.is_empty(),
        "routed now, remove from PENDING in tests/api/openapi.rs: {now_routed:?}"
    );
}

/// Every path the source registers: the path of each `#[utoipa::path(..., path = "/path")]`
/// handler (registered with `routes!`) and the path literal of each `.route("/path", ...)`
/// call under `src/`, without a trailing slash. Paths built at run time (the docs assets,
/// `route_service`) are not seen.
fn routed_paths() -> Vec<String> {
    fn scan(dir: &std::path::Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                scan(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                out.extend(route_literals(&text));
                out.extend(annotated_paths(&text));
            }
        }
    }
    let mut out = Vec::new();
    scan(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut out,
    );
    for path in &mut out {
        if path.len() > 1 && path.ends_with('/') {
            path.pop();
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The `path = "/..."` of each `#[utoipa::path(` attribute of `text`.
fn annotated_paths(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (at, _) in text.match_indices("#[utoipa::path(") {
        let attr = &text[at..];
        let attr = &attr[..attr.find(")]\n").unwrap_or(attr.len())];
        if let Some(start) = attr.find("path = \"") {
            let literal = &attr[start + "path = \"".len()..];
            out.push(literal[..literal.find('"').unwrap()].to_owned());
        }
    }
    out
}

/// The first string literal inside each `route(` call of `text`, when it is a path (`/...`).
fn route_literals(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (at, _) in text.match_indices("route(") {
        let before = text[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // another name ending in `route(`
        }
        let args = &text[at + "route(".len()..];
        let Some(open) = args.find('"') else { continue };
        let mut depth = 0;
        let closed = args[..open].chars().any(|c| {
            depth += match c {
                '(' => 1,
                ')' => -1,
                _ => 0,
            };
            depth < 0
        });
        if closed {
            continue; // the call ended before any literal
        }
        let literal = &args[open + 1..];
        let Some(close) = literal.find('"') else {
            continue;
        };
        if literal.starts_with('/') {
            out.push(literal[..close].to_owned());
        }
    }
    out
}

#[test]
fn the_route_scan_reads_each_way_routes_are_written() {
    let text = r#"
        let r = Router::new().route("/", get(home));
        let r = route(r, "/health", get(health));
        let r = route(Router::new(), "/info", get(info));
        let r = route(
            r,
            "/agents/{agent_id}/runs",
            post(create_run).get(list_runs),
        );
        router.route(path, handler.clone()).route(&format!("{path}/"), handler)
        r.route_service(&format!("/docs/{file}"), assets.clone())
        fn reroute(x: &str) {}
        let s = reroute("/not-a-route");
    "#;
    assert_eq!(
        route_literals(text),
        ["/", "/health", "/info", "/agents/{agent_id}/runs"]
    );
    let annotated = r#"
        /// Get an agent
        #[utoipa::path(
            get, path = "/agents/{agent_id}", tag = TAG,
            params(("agent_id" = String, Path, description = "The agent's id")),
        )]
        async fn get_agent() {}
        #[utoipa::path(post, path = "/hooks/jobs/{job_id}/retry", tag = TAG)]
        async fn retry_job() {}
    "#;
    assert_eq!(
        annotated_paths(annotated),
        ["/agents/{agent_id}", "/hooks/jobs/{job_id}/retry"]
    );
}

#[tokio::test]
async fn every_routed_path_and_method_is_documented() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let documented = operations(&doc);
    let paths = routed_paths();
    // The scan finds the routes the API is known to have, so an empty scan cannot pass.
    for (_, path) in EXPECTED {
        assert!(
            paths.iter().any(|p| p == path),
            "the source scan missed {path}: {paths:?}"
        );
    }
    let mut undocumented = Vec::new();
    for path in paths.iter().filter(|p| !UNDOCUMENTED.contains(&p.as_str())) {
        if doc["paths"].get(path).is_none() {
            undocumented.push(path.clone());
            continue;
        }
        // Every method the router answers on the path is documented there.
        let concrete: String = path
            .split('/')
            .map(|s| if s.starts_with('{') { "x" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        for method in METHODS {
            let verb: Method = method.to_uppercase().parse().unwrap();
            let res = app
                .client
                .request(verb, app.url(&concrete))
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let body: Value = serde_json::from_str(&res.text().await.unwrap()).unwrap_or_default();
            let unrouted = (status == 404 && body["detail"] == "Not Found")
                || (status == 405 && body["detail"] == "Method Not Allowed");
            if !unrouted && !documented.contains(&(method.to_owned(), path.clone())) {
                undocumented.push(format!("{method} {path}"));
            }
        }
    }
    assert!(
        undocumented.is_empty(),
        "routed but not in /openapi.json (annotate the handler with #[utoipa::path] and \
         register it with utoipa_axum::routes!): {undocumented:?}"
    );
}

/// The `src`/`href` values of a page.
fn links(page: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for part in page.split(attr).skip(1) {
            out.push(part[..part.find('"').unwrap()].to_owned());
        }
    }
    out
}

async fn assert_page_loads(app: &TestApp, page_path: &str, prefix: &str) {
    let res = app.client.get(app.url(page_path)).send().await.unwrap();
    assert_eq!(res.status(), 200, "{page_path}");
    assert!(
        res.headers()[reqwest::header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = res.text().await.unwrap();
    assert!(
        !page.contains("http://") && !page.contains("https://") && !page.contains("//cdn"),
        "the page names another host:\n{page}"
    );
    assert!(page.contains(&format!("data-spec=\"{prefix}/openapi.json\"")));
    let links = links(&page);
    assert_eq!(links.len(), 2, "{links:?}");
    for link in links {
        assert!(link.starts_with(&format!("{prefix}/docs/")), "{link}");
        let res = app.client.get(app.url(&link)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{link}");
        let ty = res.headers()[reqwest::header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        let body = res.bytes().await.unwrap();
        assert!(body.len() > 10_000, "{link} is only {} bytes", body.len());
        if link.ends_with(".css") {
            assert!(ty.starts_with("text/css"), "{link}: {ty}");
        } else {
            assert!(ty.contains("javascript"), "{link}: {ty}");
        }
    }
    let res = app
        .client
        .get(app.url(&format!("{prefix}/openapi.json")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.json::<Value>().await.unwrap()["paths"].is_object());
}

#[tokio::test]
async fn openapi_json_answers_with_a_trailing_slash_and_names_no_server_at_the_root() {
    let app = spawn_app().await;
    let (status, doc) = app.get_json("/openapi.json").await;
    assert_eq!(status, 200);
    assert!(doc.get("servers").is_none(), "{}", doc["servers"]);
    assert_eq!(app.get_json("/openapi.json/").await, (200, doc));
}

#[tokio::test]
async fn docs_page_and_its_assets_come_from_this_server() {
    let app = spawn_app().await;
    assert_page_loads(&app, "/docs", "").await;
    assert_page_loads(&app, "/docs/", "").await;
}

#[tokio::test]
async fn docs_auth_and_cors_work_when_nested_in_a_host_app() {
    let mock = Arc::new(MockOpenAi::start().await);
    let dir = tempfile::tempdir().unwrap();
    let os = AgentOs::new()
        .workflow(seed_workflow(&mock.base_url(), &[]))
        .db(SqliteDb::new(dir.path().join("nested.db")))
        .security_key("nested-key");
    let host = axum::Router::new()
        .route("/ping", axum::routing::get(|| async { "pong" }))
        .nest("/ai", os.router().await.unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, host).await });

    let app = TestAppLite { base };
    let client = reqwest::Client::new();
    let get = |path: &str, token: Option<&str>| {
        let mut req = client.get(app.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    assert_eq!(get("/ai/health", None).await.unwrap().status(), 200);
    assert_eq!(get("/ai/config", None).await.unwrap().status(), 401);
    assert_eq!(
        get("/ai/config", Some("nested-key"))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        get("/ping", None).await.unwrap().text().await.unwrap(),
        "pong"
    );
    let res = client
        .request(Method::OPTIONS, app.url("/ai/config"))
        .header("Origin", "http://localhost:3000")
        .header("Access-Control-Request-Method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );

    let page = get("/ai/docs", None).await.unwrap().text().await.unwrap();
    for link in links(&page) {
        assert!(link.starts_with("/ai/docs/"), "{link}");
        assert_eq!(get(&link, None).await.unwrap().status(), 200, "{link}");
    }
    assert!(page.contains("data-spec=\"/ai/openapi.json\""));
    assert_eq!(get("/ai/openapi.json", None).await.unwrap().status(), 200);
    // The document names its prefix, so Swagger's "Try it out" calls `/ai/...`.
    for path in ["/ai/openapi.json", "/ai/openapi.json/"] {
        let doc: Value = get(path, None).await.unwrap().json().await.unwrap();
        assert_eq!(
            doc["servers"],
            serde_json::json!([{"url": "/ai"}]),
            "{path}"
        );
        assert!(doc["paths"]["/workflows/{workflow_id}/runs"]["post"].is_object());
    }
    // And the 415 hint shows the path as the client sees it.
    let res = client
        .post(app.url(&format!("/ai/workflows/{WF}/runs")))
        .bearer_auth("nested-key")
        .json(&serde_json::json!({"message": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    let detail = res.json::<Value>().await.unwrap()["detail"].to_string();
    assert!(
        detail.contains(&format!(
            "curl -X POST {}/ai/workflows/{WF}/runs -F message=",
            app.base
        )),
        "{detail}"
    );
    server.abort();
    os.shutdown().await;
}

struct TestAppLite {
    base: String,
}

impl TestAppLite {
    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
}
