//! Authentication and authorization, as agno 3.1.10's `AuthMiddleware`: one layer that turns a
//! request's bearer credential into a principal, and checks the route's scopes.
//!
//! - A JWT (when configured: [`JwtConfig`]) is verified (`jwt.rs`, keys in `jwks.rs`); its
//!   `sub` and `scopes` become the principal. With scopes enforced, each route needs the scopes
//!   the one table in `routes.rs` names, and the agent, team or workflow in the path the
//!   action its per-resource gate names.
//! - A service account token (`agno_pat_...`, `service.rs`) is looked up by its hash; its
//!   principal is `sa:<name>` and its scopes are always enforced.
//! - Without JWT, the security key (`OS_SECURITY_KEY`) is the unscoped root credential. With
//!   JWT configured the key is not accepted (agno: JWT takes precedence).
//!
//! Handlers never see tokens: they take [`Access`], the verified caller, and ask it which user
//! to scope to (user isolation), which components to list, and who a run is for. The errors
//! are agno's bodies; no token is ever logged.

mod caller;
mod config;
mod jwks;
mod jwt;
pub(crate) mod rate;
pub(crate) mod routes;
pub(crate) mod scopes;
pub(crate) mod service;

pub(crate) use caller::{Access, Caller};
pub use config::JwtConfig;
pub use rate::RateLimit;
pub(crate) use rate::{PeerAddr, RateLimiter};

use super::error::ApiError;
use crate::context::Principal;
use crate::store::Store;
use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use config::JwtSettings;
use jwt::{JwtVerifier, TokenError};
use serde_json::Value;
use std::borrow::Cow;
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

/// Identities the server assigns, which no JWT subject may claim (agno's reserved principals).
const RESERVED_PREFIXES: [&str; 2] = ["sa:", "__oauth__:"];

/// Whether `path` is served without a credential.
pub(crate) fn is_open(path: &str) -> bool {
    let path = match path.strip_suffix('/') {
        Some(p) if !p.is_empty() => p,
        _ => path,
    };
    OPEN_PATHS.contains(&path) || path.starts_with("/docs/")
}

/// How requests are authenticated, resolved once when the router is built.
pub(crate) struct Auth {
    jwt: Option<JwtVerifier>,
    /// The security key; `None` when JWT is configured (it takes precedence, as in agno).
    key: Option<Arc<str>>,
    /// JWT scopes are checked (agno's `authorization=True`).
    enforce_scopes: bool,
    /// Per-user isolation (agno's `user_isolation=True`).
    pub(crate) user_isolation: bool,
    pub(crate) admin_scope: String,
    pub(crate) accounts: service::ServiceAccounts,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("jwt", &self.jwt.is_some())
            .field("key", &self.key.is_some())
            .field("enforce_scopes", &self.enforce_scopes)
            .field("user_isolation", &self.user_isolation)
            .finish_non_exhaustive()
    }
}

impl Auth {
    /// `None` when no credential is configured (an open server: no layer at all).
    pub(crate) fn new(
        jwt: Option<&JwtConfig>,
        key: Option<Arc<str>>,
        os_id: &str,
        store: Arc<dyn Store>,
    ) -> Result<Option<Auth>, String> {
        let (verifier, enforce, isolation, admin) = match jwt {
            None => (None, false, false, None),
            Some(config) => {
                let settings = JwtSettings::resolve(config, os_id)?;
                let keys = jwks::KeySource::new(config, settings.algorithm)?;
                let verifier = JwtVerifier { settings, keys };
                (
                    Some(verifier),
                    config.enforce_scopes,
                    config.user_isolation,
                    config.admin_scope.clone(),
                )
            }
        };
        if verifier.is_none() && key.is_none() {
            return Ok(None);
        }
        if verifier.is_some() && key.is_some() {
            tracing::warn!(
                "Both JWT configuration and OS_SECURITY_KEY are set: only JWT authorization \
                 will be used. Consider removing OS_SECURITY_KEY from your environment."
            );
        }
        Ok(Some(Auth {
            key: if verifier.is_some() { None } else { key },
            jwt: verifier,
            enforce_scopes: enforce,
            user_isolation: isolation,
            admin_scope: admin.unwrap_or_else(|| scopes::DEFAULT_ADMIN_SCOPE.to_owned()),
            accounts: service::ServiceAccounts::new(store),
        }))
    }

    /// agno's `auth_mode` for `/info`.
    pub(crate) fn mode(&self) -> &'static str {
        if self.jwt.is_some() {
            "jwt"
        } else {
            "security_key"
        }
    }
}

/// An error answer with agno's body.
pub(crate) fn deny(status: StatusCode, detail: impl Into<String>) -> Response {
    ApiError::new(status, detail).into_response()
}

/// The path as agno's scope map sees it: percent-decoded, without trailing slashes.
fn route_path(raw: &str) -> Cow<'_, str> {
    let trimmed = match raw.trim_end_matches('/') {
        "" => "/",
        p => p,
    };
    percent_encoding::percent_decode_str(trimmed).decode_utf8_lossy()
}

/// The layer: authenticates, checks the route, puts the [`Caller`] into the request.
pub(crate) async fn authenticate(auth: Arc<Auth>, mut request: Request, next: Next) -> Response {
    if request.method() == Method::OPTIONS || is_open(request.uri().path()) {
        return next.run(request).await;
    }
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|value| bearer_token(value.as_bytes()))
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        let detail = match auth.jwt.is_some() {
            true => "Authorization header missing",
            false => "Authorization header required",
        };
        return deny(StatusCode::UNAUTHORIZED, detail);
    };
    let caller = if token.starts_with(service::TOKEN_PREFIX.as_bytes()) {
        let Ok(token) = std::str::from_utf8(token) else {
            return deny(StatusCode::UNAUTHORIZED, service::INVALID);
        };
        let peer = request.extensions().get::<PeerAddr>().map(|p| p.0.ip());
        match auth.accounts.verify(token, peer).await {
            Ok(account) => Caller::service_account(auth.clone(), &account),
            Err((status, detail)) => return deny(status, detail),
        }
    } else if let Some(verifier) = &auth.jwt {
        let Ok(token) = std::str::from_utf8(token) else {
            return deny(
                StatusCode::UNAUTHORIZED,
                "Invalid token: Invalid header padding",
            );
        };
        match verifier.verify(token).await {
            Ok(claims) => match principal_of(&verifier.settings, &claims) {
                Ok((principal, session_id)) => {
                    Caller::jwt(auth.clone(), principal, session_id, auth.enforce_scopes)
                }
                Err(response) => return response,
            },
            Err(e) => return token_error(e),
        }
    } else {
        // Security-key mode: the key is the unscoped root, with no principal (agno).
        let key = auth.key.as_deref().unwrap_or_default();
        if bool::from(token.ct_eq(key.as_bytes())) {
            return next.run(request).await;
        }
        return deny(StatusCode::UNAUTHORIZED, "Invalid authentication token");
    };
    let path = route_path(request.uri().path());
    if let Err(response) = caller.check_route(request.method().as_str(), &path) {
        return response;
    }
    request.extensions_mut().insert(Arc::new(caller));
    next.run(request).await
}

/// agno's 401s for a token that does not verify (PyJWT's message after `Invalid token: `).
fn token_error(e: TokenError) -> Response {
    match e {
        TokenError::Expired => deny(StatusCode::UNAUTHORIZED, "Token has expired"),
        TokenError::Audience(why) => {
            tracing::warn!("Invalid token audience: {why}");
            deny(
                StatusCode::UNAUTHORIZED,
                "Invalid token audience - token not valid for this AgentOS instance",
            )
        }
        TokenError::Invalid(why) => {
            tracing::warn!("Invalid token: {why}");
            deny(StatusCode::UNAUTHORIZED, format!("Invalid token: {why}"))
        }
        TokenError::Unavailable => deny(
            StatusCode::SERVICE_UNAVAILABLE,
            "Authentication is temporarily unavailable",
        ),
    }
}

/// The principal a verified token names, and its `session_id` claim.
#[allow(clippy::result_large_err)]
fn principal_of(
    settings: &JwtSettings,
    claims: &jwt::Claims,
) -> Result<(Principal, Option<String>), Response> {
    let user_id = match claims.get(&settings.user_id_claim) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    };
    if let Some(user) = &user_id
        && (RESERVED_PREFIXES.iter().any(|p| user.starts_with(p)) || user == "__scheduler__")
    {
        tracing::warn!(
            "Rejected a JWT claiming a reserved principal via {}",
            settings.user_id_claim
        );
        return Err(deny(StatusCode::UNAUTHORIZED, "Invalid token subject"));
    }
    let scopes = match claims.get(&settings.scopes_claim) {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    let session_id = claims
        .get(&settings.session_id_claim)
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok((Principal::new(user_id, scopes), session_id))
}

/// The credential in an `Authorization` value: after `Bearer ` (any case), trimmed.
fn bearer_token(value: &[u8]) -> &[u8] {
    let rest = match value.get(..7) {
        Some(prefix) if prefix.eq_ignore_ascii_case(b"bearer ") => &value[7..],
        _ => value,
    };
    rest.trim_ascii()
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

    #[test]
    fn paths_are_matched_decoded_and_without_trailing_slashes() {
        assert_eq!(route_path("/agents/"), "/agents");
        assert_eq!(route_path("/agents/a%20b/runs"), "/agents/a b/runs");
        assert_eq!(route_path("/"), "/");
    }
}
