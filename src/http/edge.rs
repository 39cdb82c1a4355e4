//! The layers around every route: CORS outermost, then security-key auth.
//!
//! Order (outermost first): the unlisted-origin preflight check, tower-http's CORS layer, auth,
//! the routes. CORS sits outside auth so that preflights never need the key and every answer,
//! a 401 included, carries the CORS headers a browser needs to read it (agno 3.1.10 moves its
//! CORS middleware to the outside for the same reason).

use super::info::AuthMode;
use super::{auth, cors};
use axum::http::HeaderValue;
use axum::{Extension, Router, middleware};
use std::sync::Arc;

/// Auth and CORS settings, resolved from the builder and the environment.
#[derive(Debug, Clone)]
pub(crate) struct Edge {
    key: Option<Arc<str>>,
    origins: Arc<[HeaderValue]>,
}

impl Edge {
    /// `key`: the builder's key, else `OS_SECURITY_KEY` (empty means no auth). `origins`: the
    /// builder's list, else `CORS_ORIGIN_LIST` plus agno's defaults.
    pub(crate) fn from_config(
        key: Option<&str>,
        origins: Option<&[String]>,
    ) -> Result<Edge, String> {
        let key = match key {
            Some(k) => Some(k.to_owned()),
            None => std::env::var("OS_SECURITY_KEY").ok(),
        }
        .filter(|k| !k.is_empty())
        .map(Arc::from);
        let env_origins = std::env::var("CORS_ORIGIN_LIST").ok();
        let origins = cors::resolve_origins(origins, env_origins.as_deref());
        Ok(Edge {
            key,
            origins: cors::header_values(&origins)?,
        })
    }

    /// Whether the security key guards the routes.
    pub(crate) fn keyed(&self) -> bool {
        self.key.is_some()
    }

    fn auth_mode(&self) -> &'static str {
        if self.key.is_some() {
            "security_key"
        } else {
            "none"
        }
    }
}

/// Wraps every route of `router` (its fallbacks included) in the edge layers.
pub(crate) fn apply(router: Router, edge: &Edge) -> Router {
    let mut router = router.layer(Extension(AuthMode(edge.auth_mode())));
    if let Some(key) = edge.key.clone() {
        router = router.layer(middleware::from_fn(move |req, next| {
            auth::require_key(key.clone(), req, next)
        }));
    }
    let origins = edge.origins.clone();
    router
        .layer(cors::layer(edge.origins.clone()))
        .layer(middleware::from_fn(move |req, next| {
            cors::reject_unlisted_preflight(origins.clone(), req, next)
        }))
}
