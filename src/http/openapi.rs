//! The OpenAPI document at `/openapi.json`. It is generated: each handler's `#[utoipa::path]`
//! annotation (beside the handler) gives its path, parameters, body and responses, the wire
//! types' `ToSchema` derives give the schemas, and utoipa-axum collects both as the routes are
//! registered ([`super::routes`]), so a route cannot be served undocumented. This module adds
//! what is the same for every route: the title, the tag order, and the security-key scheme
//! with its 401 (the open routes are those `auth` lets through).
//!
//! A router nested in a host application (`Router::new().nest("/ai", os.router())`) serves its
//! document with `"servers": [{"url": "/ai"}]`, so Swagger's "Try it out" calls `/ai/...`.

use super::AppState;
use super::api::DocFn;
use super::auth::is_open;
use super::error::ErrorBody;
use axum::Router;
use axum::body::Bytes;
use axum::extract::OriginalUri;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::{Arc, OnceLock};
use utoipa::ToSchema;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::server::Server;
use utoipa::openapi::tag::Tag;
use utoipa::openapi::{Components, Content, OpenApi, Ref, RefOr, Response as ApiResponse};

/// The order of the sections on the docs page.
const TAGS: [&str; 6] = ["Core", "Agents", "Teams", "Workflows", "Sessions", "Hooks"];

/// The name of the security-key scheme.
const BEARER: &str = "HTTPBearer";

/// The document, generated from the routes' documentation functions on the first request for
/// it, and kept as JSON (the document itself, utoipa's tree of every route and schema, is
/// several times its size, and is dropped once serialized).
struct Document {
    docs: Vec<DocFn>,
    root: OnceLock<Bytes>,
}

/// `/openapi.json` (and with a trailing slash), generated from `docs` when first asked for.
pub(crate) fn router(docs: Vec<DocFn>) -> Router<AppState> {
    let doc = Arc::new(Document {
        docs,
        root: OnceLock::new(),
    });
    let handler = get(move |OriginalUri(uri): OriginalUri| {
        let doc = doc.clone();
        async move { doc.serve(uri.path()) }
    });
    Router::new()
        .route("/openapi.json", handler.clone())
        .route("/openapi.json/", handler)
}

impl Document {
    /// The document as served at the root, generated on first use.
    fn root(&self) -> &Bytes {
        self.root.get_or_init(|| {
            let mut doc = utoipa::openapi::OpenApiBuilder::new().build();
            for add in &self.docs {
                add(&mut doc);
            }
            Bytes::from(serde_json::to_vec(&complete(doc)).unwrap_or_default())
        })
    }

    /// The document with `"servers": [{"url": prefix}]` as its first key (the generated one
    /// has no `servers`, and a JSON object's keys are unordered).
    fn with_server(&self, prefix: &str) -> Bytes {
        let servers = serde_json::to_vec(&[Server::new(prefix)]).unwrap_or_default();
        let root = self.root();
        let rest = root.strip_prefix(b"{").unwrap_or(root);
        let mut body = Vec::with_capacity(root.len() + servers.len() + 16);
        body.extend_from_slice(b"{\"servers\":");
        body.extend_from_slice(&servers);
        body.push(b',');
        body.extend_from_slice(rest);
        Bytes::from(body)
    }

    /// The document for a request at `path`: with a `servers` entry naming the prefix the
    /// router is nested under, if any.
    fn serve(&self, path: &str) -> Response {
        let path = path.trim_end_matches('/');
        let prefix = path.strip_suffix("/openapi.json").unwrap_or("");
        let body = match prefix {
            "" => self.root().clone(),
            prefix => self.with_server(prefix),
        };
        let mut response = body.into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        response
    }
}

/// Adds to the generated document what every route shares.
fn complete(mut doc: OpenApi) -> OpenApi {
    doc.info.title = "agentos".to_owned();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc.info.description = Some(
        "agno AgentOS's HTTP protocol, served by agentos. When `OS_SECURITY_KEY` (or \
         `AgentOs::security_key`) is set, every operation except `/`, `/health`, `/info` and \
         the docs needs `Authorization: Bearer <key>`; otherwise none does."
            .to_owned(),
    );
    doc.info.license = None;
    doc.info.contact = None;
    doc.tags = Some(TAGS.iter().map(|name| Tag::new(*name)).collect());
    doc.security = Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);

    let components = doc.components.get_or_insert_with(Components::new);
    components.security_schemes.insert(
        BEARER.to_owned(),
        RefOr::T(SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer))),
    );
    let mut unauthorized =
        ApiResponse::new("`Authorization header required` or `Invalid authentication token`");
    unauthorized.content.insert(
        "application/json".to_owned(),
        RefOr::T(Content::new(Some(Ref::from_schema_name(ErrorBody::name())))),
    );
    components
        .responses
        .insert("Unauthorized".to_owned(), RefOr::T(unauthorized));
    components.schemas.insert(
        ErrorBody::name().into_owned(),
        <ErrorBody as utoipa::PartialSchema>::schema(),
    );

    for (path, item) in doc.paths.paths.iter_mut() {
        let open = is_open(path);
        let operations = [
            ("get", &mut item.get),
            ("post", &mut item.post),
            ("put", &mut item.put),
            ("patch", &mut item.patch),
            ("delete", &mut item.delete),
        ];
        for (method, op) in operations {
            let Some(op) = op else { continue };
            secure(op, open);
            op.operation_id = Some(operation_id(op.operation_id.as_deref(), path, method));
        }
    }
    doc
}

/// FastAPI's unique operation id: the handler's name, the path, the method
/// (`create_run_workflows__workflow_id__runs_post`). Handlers of different resources share
/// names (`create_run`), and Swagger UI links operations by id.
fn operation_id(handler: Option<&str>, path: &str, method: &str) -> String {
    let path: String = path
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{}{path}_{method}", handler.unwrap_or(""))
}

/// An open operation needs no key; any other answers 401 without it.
fn secure(op: &mut Operation, open: bool) {
    if open {
        op.security = Some(Vec::new());
        return;
    }
    op.responses.responses.insert(
        "401".to_owned(),
        RefOr::Ref(Ref::from_response_name("Unauthorized")),
    );
}
