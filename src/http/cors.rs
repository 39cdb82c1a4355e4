//! CORS as agno configures it (wire spec §6.3): a list of allowed origins (agno's defaults plus
//! `CORS_ORIGIN_LIST`, or the builder's list instead), credentials allowed, never `*`, and a
//! preflight from an unlisted origin answered 400 `Disallowed CORS origin`.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Duration;
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

/// The origins agno allows by default (`AgnoAPISettings.cors_origin_list`).
pub(crate) const DEFAULT_ORIGINS: [&str; 6] = [
    "http://localhost:3000",
    "https://agno.com",
    "https://www.agno.com",
    "https://app.agno.com",
    "https://os-stg.agno.com",
    "https://os.agno.com",
];

/// The allowed origins: the builder's list if it has any entry (it replaces the defaults, as
/// agno's `cors_allowed_origins` does), else `CORS_ORIGIN_LIST` (the value given in `env`) followed by agno's defaults. `*` and blanks are dropped, duplicates removed, order kept.
pub(crate) fn resolve_origins(configured: Option<&[String]>, env: Option<&str>) -> Vec<String> {
    let chosen: Vec<String> = match configured {
        Some(list) if !list.is_empty() => list.to_vec(),
        _ => env_list(env.unwrap_or_default())
            .into_iter()
            .chain(DEFAULT_ORIGINS.iter().map(|o| (*o).to_owned()))
            .collect(),
    };
    let mut origins: Vec<String> = Vec::new();
    for origin in chosen {
        let origin = origin.trim().trim_end_matches('/');
        if origin.is_empty() || origin == "*" || origins.iter().any(|o| o == origin) {
            continue;
        }
        origins.push(origin.to_owned());
    }
    origins
}

/// `CORS_ORIGIN_LIST`: comma-separated, or a JSON array of strings (the form agno's
/// pydantic-settings reads).
fn env_list(value: &str) -> Vec<String> {
    if value.trim_start().starts_with('[')
        && let Ok(list) = serde_json::from_str::<Vec<String>>(value)
    {
        return list;
    }
    value.split(',').map(str::to_owned).collect()
}

/// The allowed origins as header values; an origin that cannot be a header value is an error.
pub(crate) fn header_values(origins: &[String]) -> Result<Arc<[HeaderValue]>, String> {
    origins
        .iter()
        .map(|o| HeaderValue::from_str(o).map_err(|_| format!("invalid CORS origin {o:?}")))
        .collect()
}

/// Starlette's answer to `allow_methods=["*"]`: every method, listed (credentials forbid `*`).
const METHODS: [Method; 7] = [
    Method::DELETE,
    Method::GET,
    Method::HEAD,
    Method::OPTIONS,
    Method::PATCH,
    Method::POST,
    Method::PUT,
];

/// tower-http's CORS layer with agno's policy: listed origins echoed back, credentials allowed,
/// requested headers mirrored (agno allows any), every method listed, preflights cached 600 s.
pub(crate) fn layer(origins: Arc<[HeaderValue]>) -> CorsLayer {
    // A predicate over the shared list rather than `AllowOrigin::list`: the layer is cloned
    // for every request, and a predicate clones as one `Arc` where a list clones every origin.
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            origins.contains(origin)
        }))
        .allow_credentials(true)
        .allow_methods(METHODS)
        .allow_headers(AllowHeaders::mirror_request())
        .max_age(Duration::from_secs(600))
}

/// Runs before [`layer`]: a preflight (`OPTIONS` with `Origin` and
/// `Access-Control-Request-Method`) from an origin that is not allowed gets agno's (Starlette's)
/// plain-text 400 `Disallowed CORS origin` instead of a 200 without CORS headers.
pub(crate) async fn reject_unlisted_preflight(
    origins: Arc<[HeaderValue]>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let is_preflight = request.method() == Method::OPTIONS
        && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if let (true, Some(origin)) = (is_preflight, headers.get(header::ORIGIN))
        && !origins.contains(origin)
    {
        return (
            StatusCode::BAD_REQUEST,
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::VARY, "Origin"),
            ],
            Body::from("Disallowed CORS origin"),
        )
            .into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_origins_come_before_agnos_defaults_and_star_is_dropped() {
        let origins = resolve_origins(None, Some(" https://a.example , *,https://b.example/,"));
        assert_eq!(&origins[..2], ["https://a.example", "https://b.example"]);
        assert_eq!(origins[2..], DEFAULT_ORIGINS.map(String::from));
        let json = resolve_origins(None, Some(r#"["https://j.example", "https://k.example"]"#));
        assert_eq!(&json[..2], ["https://j.example", "https://k.example"]);
        assert_eq!(
            resolve_origins(None, None),
            DEFAULT_ORIGINS.map(String::from)
        );
    }

    #[test]
    fn a_configured_list_replaces_the_defaults_and_an_empty_one_does_not() {
        let list = vec!["https://app.example".to_owned(), "*".to_owned()];
        assert_eq!(
            resolve_origins(Some(&list), Some("https://env.example")),
            ["https://app.example"]
        );
        assert_eq!(
            resolve_origins(Some(&[]), None),
            DEFAULT_ORIGINS.map(String::from)
        );
    }

    #[test]
    fn an_origin_that_is_not_a_header_value_is_refused() {
        assert!(header_values(&["https://ok.example".to_owned()]).is_ok());
        assert!(header_values(&["bad\norigin".to_owned()]).is_err());
    }
}
