//! Security-key auth (wire spec §6.2): with a key set, every request needs
//! `Authorization: Bearer <key>`, except `OPTIONS` and the open routes (`/`, `/health`, `/info`
//! and the docs). agno's 401 bodies; the key is compared in constant time.

use super::error::ApiError;
use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// Routes anyone may call (agno's `_get_default_excluded_routes`), after the trailing slash is
/// stripped. Everything under `/docs/` (the docs page's assets) is open too.
const OPEN_PATHS: [&str; 7] = [
    "/",
    "/health",
    "/info",
    "/docs",
    "/redoc",
    "/openapi.json",
    "/docs/oauth2-redirect",
];

/// Whether `path` is served without the key.
pub(crate) fn is_open(path: &str) -> bool {
    let path = match path.strip_suffix('/') {
        Some(p) if !p.is_empty() => p,
        _ => path,
    };
    OPEN_PATHS.contains(&path) || path.starts_with("/docs/")
}

/// The middleware: lets `OPTIONS` and open routes through, then checks the bearer token.
pub(crate) async fn require_key(key: Arc<str>, request: Request, next: Next) -> Response {
    if request.method() == Method::OPTIONS || is_open(request.uri().path()) {
        return next.run(request).await;
    }
    // agno takes the first `Authorization` header, strips a case-insensitive `Bearer ` prefix
    // (a bare token is accepted too) and surrounding blanks.
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|value| bearer_token(value.as_bytes()));
    match token {
        None | Some([]) => unauthorized("Authorization header required"),
        Some(token) if bool::from(token.ct_eq(key.as_bytes())) => next.run(request).await,
        Some(_) => unauthorized("Invalid authentication token"),
    }
}

/// The credential in an `Authorization` value: after `Bearer ` (any case), trimmed.
fn bearer_token(value: &[u8]) -> &[u8] {
    let rest = match value.get(..7) {
        Some(prefix) if prefix.eq_ignore_ascii_case(b"bearer ") => &value[7..],
        _ => value,
    };
    rest.trim_ascii()
}

fn unauthorized(detail: &str) -> Response {
    ApiError::new(StatusCode::UNAUTHORIZED, detail).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_routes_match_with_or_without_a_trailing_slash() {
        for path in [
            "/",
            "/health",
            "/health/",
            "/info",
            "/docs",
            "/docs/swagger-ui.css",
        ] {
            assert!(is_open(path), "{path}");
        }
        for path in [
            "/config",
            "/agents",
            "/healthz",
            "/docsx",
            "/openapi.json/x",
        ] {
            assert!(!is_open(path), "{path}");
        }
    }

    #[test]
    fn the_bearer_prefix_is_optional_and_case_insensitive() {
        assert_eq!(bearer_token(b"Bearer abc"), b"abc");
        assert_eq!(bearer_token(b"bearer  abc "), b"abc");
        assert_eq!(bearer_token(b"abc"), b"abc");
        assert_eq!(bearer_token(b"Bearer "), b"");
    }
}
