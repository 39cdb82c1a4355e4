//! [`Caller`]: a request's verified identity and what it may do; [`Access`]: how handlers ask.
//!
//! # The isolation rule (for every store of user data: sessions, runs, memories, traces, ...)
//!
//! A handler that reads or writes user-owned rows asks [`Access::scoped_user_id`]:
//! - `Some(user)`: filter every read by `user` and stamp every write with it. A row of another
//!   user is answered as if it did not exist (404 with the route's usual not-found detail,
//!   never 403), in lists and in direct fetches by id alike.
//! - `None`: no filter (auth off, the security key, isolation off, or the admin scope); the
//!   request's own `user_id` filter applies as before.
//!
//! The scoped user comes from the token, never from the request: it overrides a `user_id` in a
//! form, body or query. A service account (`sa:<name>`) is always scoped to itself unless it
//! holds the admin scope, as in agno.

use super::{Auth, deny, routes, scopes};
use crate::context::Principal;
use crate::http::error::ApiError;
use crate::kind::ComponentKind;
use crate::store::ServiceAccountRecord;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use std::collections::BTreeSet;
use std::convert::Infallible;
use std::sync::Arc;

/// What authenticated the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallerKind {
    /// A verified JWT.
    Jwt,
    /// A service account token.
    ServiceAccount,
}

/// A verified caller (JWT or service account). The security key makes none: it is the root.
#[derive(Debug)]
pub(crate) struct Caller {
    auth: Arc<Auth>,
    pub(crate) principal: Arc<Principal>,
    pub(crate) kind: CallerKind,
    /// agno's `authorization_enabled`: scopes are checked on routes and resources.
    pub(crate) enforce: bool,
    /// The token's `session_id` claim: a run goes to that session.
    pub(crate) session_id: Option<String>,
}

impl Caller {
    pub(crate) fn jwt(
        auth: Arc<Auth>,
        principal: Principal,
        session_id: Option<String>,
        enforce: bool,
    ) -> Caller {
        Caller {
            auth,
            principal: Arc::new(principal),
            kind: CallerKind::Jwt,
            enforce,
            session_id,
        }
    }

    pub(crate) fn service_account(auth: Arc<Auth>, account: &ServiceAccountRecord) -> Caller {
        let mut principal =
            Principal::new(Some(format!("sa:{}", account.name)), account.scope_list());
        principal.service_account = Some(account.name.clone());
        Caller {
            auth,
            principal: Arc::new(principal),
            kind: CallerKind::ServiceAccount,
            // A service account's scopes are this server's ACL: always enforced.
            enforce: true,
            session_id: None,
        }
    }

    fn admin_scope(&self) -> &str {
        &self.auth.admin_scope
    }

    /// Holds the admin scope.
    pub(crate) fn is_admin(&self) -> bool {
        self.principal
            .scopes
            .iter()
            .any(|s| s == self.admin_scope())
    }

    /// agno's route gate (scope map, listing escape hatch) and per-resource gate.
    #[allow(clippy::result_large_err)]
    pub(crate) fn check_route(&self, method: &str, path: &str) -> Result<(), Response> {
        if !self.enforce {
            return Ok(());
        }
        let scopes = &self.principal.scopes;
        let admin = self.admin_scope();
        let required = routes::required_scopes(method, path);
        if !required.is_empty() {
            let (kind, id) = routes::resource_of(path);
            let allowed = scopes::has_required(scopes, required, kind, id, admin);
            // A listing of the path's own kind lets a caller with per-resource scopes through;
            // the handler shows only those (and 403s when there are none).
            let family = required[0].split(':').next();
            let listing = method == "GET" && id.is_none() && kind.is_some() && family == kind;
            if !allowed && !listing {
                tracing::warn!(
                    "Insufficient scopes for {method} {path}. Required: {required:?}, User has: {scopes:?}"
                );
                return Err(deny(StatusCode::FORBIDDEN, scopes::insufficient(required)));
            }
        }
        if let Some((kind, id, action)) = routes::resource_action(method, path) {
            let required = format!("{kind}:{action}");
            if !scopes::has_required(scopes, &[&required], Some(kind), Some(id), admin) {
                let singular = kind.trim_end_matches('s');
                return Err(deny(
                    StatusCode::FORBIDDEN,
                    format!("Access denied to {action} this {singular}"),
                ));
            }
        }
        Ok(())
    }
}

/// The caller as a handler sees it: `None` when nobody was verified (auth off, or the
/// security key, agno's unscoped root).
#[derive(Debug, Clone, Default)]
pub(crate) struct Access(pub Option<Arc<Caller>>);

impl<S: Send + Sync> FromRequestParts<S> for Access {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Access, Infallible> {
        Ok(Access(parts.extensions.get::<Arc<Caller>>().cloned()))
    }
}

/// agno's 403 when isolation is on and a verified token names no user.
const MISSING_USER_IDENTITY: &str = "Authenticated request is missing a user identity";

/// Which components of a kind a caller may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Visible {
    All,
    Only(BTreeSet<String>),
}

impl Visible {
    pub(crate) fn allows(&self, id: &str) -> bool {
        match self {
            Visible::All => true,
            Visible::Only(ids) => ids.contains(id),
        }
    }
}

impl Access {
    /// The verified principal, for the run's context.
    pub(crate) fn principal(&self) -> Option<Arc<Principal>> {
        self.0.as_ref().map(|c| c.principal.clone())
    }

    /// The user every read and write of user data is scoped to (the isolation rule in this
    /// module's docs), or `None` for no scoping. 403 when isolation is on and the token has no
    /// user.
    pub(crate) fn scoped_user_id(&self) -> Result<Option<&str>, ApiError> {
        let Some(caller) = &self.0 else {
            return Ok(None);
        };
        if caller.is_admin() {
            return Ok(None);
        }
        let user = caller.principal.user_id.as_deref();
        if caller.kind == CallerKind::ServiceAccount {
            return Ok(user);
        }
        if !caller.auth.user_isolation {
            return Ok(None);
        }
        match user {
            Some(user) if !user.is_empty() => Ok(Some(user)),
            _ => Err(ApiError::new(StatusCode::FORBIDDEN, MISSING_USER_IDENTITY)),
        }
    }

    /// The user a new run belongs to: the scoped user, else the token's user, else the form's
    /// `user_id` (agno's run routes).
    pub(crate) fn run_user_id(&self, form: Option<String>) -> Result<Option<String>, ApiError> {
        if let Some(user) = self.scoped_user_id()? {
            return Ok(Some(user.to_owned()));
        }
        match self.0.as_ref().and_then(|c| c.principal.user_id.clone()) {
            Some(user) if !user.is_empty() => Ok(Some(user)),
            _ => Ok(form),
        }
    }

    /// The token's `session_id` claim, which a run's session follows.
    pub(crate) fn session_id(&self) -> Option<&str> {
        self.0.as_ref().and_then(|c| c.session_id.as_deref())
    }

    /// The caller holds the admin scope (may enter any user's session).
    pub(crate) fn is_admin(&self) -> bool {
        self.0.as_ref().is_some_and(|c| c.is_admin())
    }

    /// The components of `kind` the caller may read (agno's `filter_resources_by_access`).
    pub(crate) fn visible(&self, kind: ComponentKind) -> Visible {
        let Some(caller) = self.0.as_ref().filter(|c| c.enforce) else {
            return Visible::All;
        };
        let family = kind_family(kind);
        let ids = scopes::accessible_ids(
            &caller.principal.scopes,
            family,
            Some("read"),
            caller.admin_scope(),
        );
        if ids.contains("*") {
            Visible::All
        } else {
            Visible::Only(ids)
        }
    }

    /// `GET /agents` (and teams, workflows): the visible components, or agno's 403 when the
    /// caller may see none of them.
    pub(crate) fn listing(&self, kind: ComponentKind) -> Result<Visible, ApiError> {
        let visible = self.visible(kind);
        if matches!(&visible, Visible::Only(ids) if ids.is_empty()) {
            let required = format!("{}:read", kind_family(kind));
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                scopes::insufficient(&[&required]),
            ));
        }
        Ok(visible)
    }

    /// The scopes a new service account may be granted by this caller: `None` for the root
    /// (the security key), else the caller's own.
    pub(crate) fn grantor_scopes(&self) -> Option<&[String]> {
        self.0.as_ref().map(|c| c.principal.scopes.as_slice())
    }

    /// The configured admin scope.
    pub(crate) fn admin_scope(&self) -> &str {
        self.0
            .as_ref()
            .map_or(scopes::DEFAULT_ADMIN_SCOPE, |c| c.admin_scope())
    }
}

fn kind_family(kind: ComponentKind) -> &'static str {
    match kind {
        ComponentKind::Agent => "agents",
        ComponentKind::Team => "teams",
        ComponentKind::Workflow => "workflows",
    }
}
