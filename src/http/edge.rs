//! The layers around every route: CORS outermost, then authentication, then the rate limit.
//!
//! Order (outermost first): the unlisted-origin preflight check, tower-http's CORS layer, auth
//! (the security key, JWTs, service accounts: `auth/`), the per-principal rate limit, the
//! routes. CORS sits outside auth so that preflights never need a credential and every answer,
//! a 401 included, carries the CORS headers a browser needs to read it (agno 3.1.10 moves its
//! CORS middleware to the outside for the same reason). With no credential configured there is
//! no auth layer at all, and without a rate limit no limiter: nothing runs per request.

use super::auth::{self, Auth, JwtConfig, RateLimit, RateLimiter};
use super::cors;
use crate::store::Store;
use axum::http::HeaderValue;
use axum::{Extension, Router, middleware};
use std::sync::Arc;

/// What the routes know of how requests are authenticated (for `/info` and the service
/// accounts routes).
#[derive(Debug, Clone, Copy)]
pub(crate) struct AuthInfo {
    /// agno's `auth_mode`: `none`, `security_key` or `jwt`.
    pub mode: &'static str,
    /// agno's `user_isolation`.
    pub user_isolation: bool,
}

/// Auth, CORS and rate-limit settings, resolved from the builder and the environment.
#[derive(Debug, Clone)]
pub(crate) struct Edge {
    key: Option<Arc<str>>,
    origins: Arc<[HeaderValue]>,
    jwt: Option<JwtConfig>,
    rate: Option<RateLimit>,
}

impl Edge {
    /// `key`: the builder's key, else `OS_SECURITY_KEY` (empty means none). `origins`: the
    /// builder's list, else `CORS_ORIGIN_LIST` plus agno's defaults. `jwt`: the builder's
    /// config (with the environment's key and JWKS added), else JWT from the environment alone
    /// (`JWT_VERIFICATION_KEY`, ...), which verifies tokens without checking scopes, as agno
    /// does without `authorization=True`.
    pub(crate) fn from_config(
        key: Option<&str>,
        origins: Option<&[String]>,
        jwt: Option<&JwtConfig>,
        rate: Option<RateLimit>,
    ) -> Result<Edge, String> {
        let key = match key {
            Some(k) => Some(k.to_owned()),
            None => std::env::var("OS_SECURITY_KEY").ok(),
        }
        .filter(|k| !k.is_empty())
        .map(Arc::from);
        let env_origins = std::env::var("CORS_ORIGIN_LIST").ok();
        let origins = cors::resolve_origins(origins, env_origins.as_deref());
        let jwt = match jwt {
            Some(config) => {
                let mut config = config.clone();
                config.apply_env();
                Some(config)
            }
            None if JwtConfig::configured_in_env() => {
                Some(JwtConfig::from_env().enforce_scopes(false))
            }
            None => None,
        };
        Ok(Edge {
            key,
            origins: cors::header_values(&origins)?,
            jwt,
            rate,
        })
    }

    /// Whether a request needs its client's address (auth throttles failed lookups by it, the
    /// rate limit keys anonymous callers by it).
    pub(crate) fn needs_peer_addr(&self) -> bool {
        self.key.is_some() || self.jwt.is_some() || self.rate.is_some()
    }

    /// Whether requests are authenticated (a security key or JWT guards the routes).
    pub(crate) fn keyed(&self) -> bool {
        self.key.is_some() || self.jwt.is_some()
    }
}

/// Wraps every route of `router` (its fallbacks included) in the edge layers.
pub(crate) fn apply(
    router: Router,
    edge: &Edge,
    os_id: &str,
    store: Arc<dyn Store>,
) -> Result<Router, String> {
    let auth = Auth::new(edge.jwt.as_ref(), edge.key.clone(), os_id, store)?.map(Arc::new);
    let info = AuthInfo {
        mode: auth.as_ref().map_or("none", |a| a.mode()),
        user_isolation: auth.as_ref().is_some_and(|a| a.user_isolation),
    };
    let mut router = router.layer(Extension(info));
    if let Some(rate) = edge.rate {
        let limiter = Arc::new(RateLimiter::new(rate));
        router = router.layer(middleware::from_fn(move |req, next| {
            auth::rate::limit(limiter.clone(), req, next)
        }));
    }
    if let Some(auth) = auth {
        router = router.layer(Extension(auth.clone()));
        router = router.layer(middleware::from_fn(move |req, next| {
            auth::authenticate(auth.clone(), req, next)
        }));
    }
    let origins = edge.origins.clone();
    Ok(router
        .layer(cors::layer(edge.origins.clone()))
        .layer(middleware::from_fn(move |req, next| {
            cors::reject_unlisted_preflight(origins.clone(), req, next)
        })))
}
