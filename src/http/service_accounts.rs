//! `/service-accounts`: mint, list and revoke machine tokens (agno 3.1.10's
//! `routers/service_accounts`, same shapes). The token is shown once, at creation; only its
//! SHA-256 is stored.

use super::auth::service::{ServiceAccounts, generate_token};
use super::auth::{Access, Auth, scopes};
use super::edge::AuthInfo;
use super::error::{ApiError, ErrorBody, ValidationErrorBody};
use super::page::PageMeta;
use super::validation::{Params, at, check, invalid, json_object};
use super::{AppState, Path};
use crate::http::api::{Api, routes};
use crate::store::{ServiceAccountFilter, ServiceAccountRecord, ServiceAccountSort};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;
use utoipa::ToSchema;

pub(crate) fn router() -> Api {
    [
        routes!(create_service_account, list_service_accounts),
        routes!(revoke_service_account),
    ]
    .into_iter()
    .fold(Api::default(), Api::routes)
}

const TAG: &str = "Service Accounts";

/// A token without explicit scopes may run and read, nothing else (agno's defaults).
const DEFAULT_SCOPES: [&str; 5] = [
    "agents:run",
    "teams:run",
    "workflows:run",
    "sessions:read",
    "config:read",
];
const DEFAULT_EXPIRY_DAYS: i64 = 90;

/// agno's `ScopeSchema`: one scope, parsed for display.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ScopeSchema {
    /// Always null (the cloud RBAC API's shape).
    id: Option<String>,
    /// The scope as granted, e.g. `agents:*:run`.
    raw: String,
    /// The resource, e.g. `agents`.
    namespace: String,
    /// The resource id or `*`.
    sub_namespace: Option<String>,
    /// The action, e.g. `run`.
    permission: String,
    /// `allow`.
    value: &'static str,
}

impl ScopeSchema {
    fn of(raw: &str) -> ScopeSchema {
        let (namespace, sub_namespace, permission) = scopes::split(raw);
        ScopeSchema {
            id: None,
            raw: raw.to_owned(),
            namespace,
            sub_namespace,
            permission,
            value: "allow",
        }
    }
}

/// agno's `ServiceAccountResponse`: never the token or its hash.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ServiceAccountResponse {
    id: String,
    name: String,
    /// The `user_id` runs made with the token get: `sa:<name>`.
    principal: String,
    /// The user the account belongs to; null for a workspace-level account.
    user_id: Option<String>,
    /// The token's first characters, for display.
    token_prefix: String,
    scopes: Vec<ScopeSchema>,
    /// Unix seconds.
    created_at: i64,
    expires_at: Option<i64>,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
    created_by: Option<String>,
}

impl ServiceAccountResponse {
    fn of(a: &ServiceAccountRecord) -> ServiceAccountResponse {
        ServiceAccountResponse {
            id: a.id.clone(),
            name: a.name.clone(),
            principal: format!("sa:{}", a.name),
            user_id: a.user_id.clone(),
            token_prefix: a.token_prefix.clone(),
            scopes: a.scope_list().iter().map(|s| ScopeSchema::of(s)).collect(),
            created_at: a.created_at,
            expires_at: a.expires_at,
            last_used_at: a.last_used_at,
            revoked_at: a.revoked_at,
            created_by: a.created_by.clone(),
        }
    }
}

/// agno's `ServiceAccountCreateResponse`: the account and, this once, its token.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ServiceAccountCreated {
    #[serde(flatten)]
    account: ServiceAccountResponse,
    /// The token. Shown exactly once: store it now.
    token: String,
}

/// agno's `ServiceAccountCreate`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub(crate) struct ServiceAccountCreate {
    /// A lowercase slug: a letter or digit, then letters, digits, `_` or `-` (63 at most).
    name: String,
    /// `[{"scope": "agents:*:run", "effect": "allow"}]`; default: run and read scopes.
    #[schema(value_type = Option<Vec<Object>>)]
    scopes: Option<Vec<Value>>,
    /// Days until the token expires (1 to 3650, default 90).
    expires_in_days: Option<i64>,
    /// A token that never expires.
    never_expires: Option<bool>,
    /// Required to grant write or delete actions, the admin scope or `service_accounts:*`.
    allow_privileged_scopes: Option<bool>,
}

/// One page of accounts.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ServiceAccountList {
    data: Vec<ServiceAccountResponse>,
    meta: PageMeta,
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first = chars.next();
    first.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.len() <= 63
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// The create body, checked as agno's pydantic model checks it.
struct CreateRequest {
    name: String,
    scopes: Option<Vec<String>>,
    expires_in_days: i64,
    never_expires: bool,
    allow_privileged: bool,
}

fn parse_create(body: serde_json::Map<String, Value>) -> Result<CreateRequest, ApiError> {
    let mut errors = Vec::new();
    let name = match body.get("name") {
        Some(Value::String(name)) if name.chars().count() > 63 => {
            errors.push(invalid(
                "string_too_long",
                at("body", "name"),
                "String should have at most 63 characters",
                Value::from(name.as_str()),
            ));
            None
        }
        Some(Value::String(name)) if !valid_name(name) => {
            errors.push(invalid(
                "value_error",
                at("body", "name"),
                "Value error, Name must be a lowercase slug: start with a letter or digit, then \
                 letters, digits, '_' or '-' (max 63 chars)",
                Value::from(name.as_str()),
            ));
            None
        }
        Some(Value::String(name)) => Some(name.clone()),
        None => {
            errors.push(invalid(
                "missing",
                at("body", "name"),
                "Field required",
                Value::Null,
            ));
            None
        }
        Some(other) => {
            errors.push(invalid(
                "string_type",
                at("body", "name"),
                "Input should be a valid string",
                other.clone(),
            ));
            None
        }
    };
    let scopes = match body.get("scopes") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let mut loc = at("body", "scopes");
                loc.push(i.into());
                let Value::Object(item) = item else {
                    errors.push(invalid(
                        "model_type",
                        loc,
                        "Input should be a valid dictionary or instance of ScopeItem",
                        item.clone(),
                    ));
                    continue;
                };
                let scope = match item.get("scope") {
                    Some(Value::String(s)) => s.clone(),
                    other => {
                        let mut loc = loc.clone();
                        loc.push("scope".into());
                        let (kind, msg) = match other {
                            None => ("missing", "Field required"),
                            Some(_) => ("string_type", "Input should be a valid string"),
                        };
                        errors.push(invalid(
                            kind,
                            loc,
                            msg,
                            other.cloned().unwrap_or(Value::Null),
                        ));
                        continue;
                    }
                };
                match item.get("effect") {
                    None | Some(Value::String(_))
                        if item.get("effect").is_none_or(|e| e == "allow") =>
                    {
                        out.push(scope)
                    }
                    Some(Value::String(e)) if e == "deny" => errors.push(invalid(
                        "value_error",
                        at("body", "scopes"),
                        &format!(
                            "Value error, Token scopes are grants: effect must be 'allow' (got \
                             'deny' for '{scope}')"
                        ),
                        Value::Array(items.clone()),
                    )),
                    other => {
                        let mut loc = loc.clone();
                        loc.push("effect".into());
                        errors.push(invalid(
                            "literal_error",
                            loc,
                            "Input should be 'allow' or 'deny'",
                            other.cloned().unwrap_or(Value::Null),
                        ));
                    }
                }
            }
            Some(out)
        }
        Some(other) => {
            errors.push(invalid(
                "list_type",
                at("body", "scopes"),
                "Input should be a valid list",
                other.clone(),
            ));
            None
        }
    };
    let expires_in_days = match body.get("expires_in_days") {
        None | Some(Value::Null) => DEFAULT_EXPIRY_DAYS,
        Some(v) => match v.as_i64() {
            Some(n) if !(1..=3650).contains(&n) => {
                let (kind, msg) = match n < 1 {
                    true => (
                        "greater_than_equal",
                        "Input should be greater than or equal to 1",
                    ),
                    false => (
                        "less_than_equal",
                        "Input should be less than or equal to 3650",
                    ),
                };
                errors.push(invalid(kind, at("body", "expires_in_days"), msg, v.clone()));
                DEFAULT_EXPIRY_DAYS
            }
            Some(n) => n,
            None => {
                errors.push(invalid(
                    "int_type",
                    at("body", "expires_in_days"),
                    "Input should be a valid integer",
                    v.clone(),
                ));
                DEFAULT_EXPIRY_DAYS
            }
        },
    };
    let mut flag = |name: &str| match body.get(name) {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            errors.push(invalid(
                "bool_type",
                at("body", name),
                "Input should be a valid boolean",
                other.clone(),
            ));
            false
        }
    };
    let never_expires = flag("never_expires");
    let allow_privileged = flag("allow_privileged_scopes");
    check(errors)?;
    Ok(CreateRequest {
        name: name.unwrap_or_default(),
        scopes,
        expires_in_days,
        never_expires,
        allow_privileged,
    })
}

/// Whether the grantor's scopes cover `scope` (per-resource scopes checked for their id).
fn holds(held: &[String], scope: &str, admin: &str) -> bool {
    match scopes::parse(scope, admin) {
        scopes::Scope::PerResource {
            resource,
            id,
            action,
        } => scopes::has_required(
            held,
            &[&format!("{resource}:{action}")],
            Some(resource),
            Some(id),
            admin,
        ),
        _ => scopes::has_required(held, &[scope], None, None, admin),
    }
}

/// agno's checks of the requested scopes: known, privileged only when asked for, and held.
fn check_scopes(
    access: &Access,
    anonymous: bool,
    req: &CreateRequest,
    scopes: &[String],
) -> Result<(), ApiError> {
    let admin = access.admin_scope();
    let unknown: Vec<&str> = scopes
        .iter()
        .filter(|s| matches!(scopes::parse(s, admin), scopes::Scope::Unknown))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::bad_request(format!(
            "Invalid scope(s): {}",
            unknown.join(", ")
        )));
    }
    let privileged: Vec<&str> = scopes
        .iter()
        .filter(|s| match scopes::parse(s, admin) {
            scopes::Scope::Admin => true,
            scopes::Scope::Global { resource, action }
            | scopes::Scope::PerResource {
                resource, action, ..
            } => matches!(action, "write" | "delete") || resource == "service_accounts",
            scopes::Scope::Unknown => false,
        } || s.as_str() == scopes::DEFAULT_ADMIN_SCOPE)
        .map(String::as_str)
        .collect();
    if !privileged.is_empty() && !req.allow_privileged {
        return Err(ApiError::bad_request(format!(
            "Privileged scope(s) require allow_privileged_scopes=true: {}. Privileged tokens \
             must be deliberate, never accidental.",
            privileged.join(", ")
        )));
    }
    match access.grantor_scopes() {
        // The security key: the unscoped root may grant anything. An open server may not.
        None if anonymous => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "JWT authentication is required to mint a service account.",
        )),
        None => Ok(()),
        Some(held) if held.iter().any(|s| s == admin) => Ok(()),
        Some(held) => {
            let missing: Vec<&str> = scopes
                .iter()
                .filter(|s| !holds(held, s, admin))
                .map(String::as_str)
                .collect();
            match missing.is_empty() {
                true => Ok(()),
                false => Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    format!(
                        "Cannot grant scope(s) you do not hold: {}",
                        missing.join(", ")
                    ),
                )),
            }
        }
    }
}

fn conflict(name: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        format!(
            "An active service account named '{name}' already exists. Revoke it first to rotate."
        ),
    )
}

/// Mint a service account token (201)
///
/// The plaintext token is in this answer only; it cannot be read again.
#[utoipa::path(
    post, path = "/service-accounts", tag = TAG,
    request_body = ServiceAccountCreate,
    responses(
        (status = 201, description = "The account, with its token (shown once)", body = ServiceAccountCreated),
        (status = 400, description = "An unknown scope, or a privileged one without `allow_privileged_scopes`", body = ErrorBody),
        (status = 401, description = "No credential: an open server cannot mint tokens", body = ErrorBody),
        (status = 403, description = "A scope the caller does not hold", body = ErrorBody),
        (status = 409, description = "An active account has this name", body = ErrorBody),
        (status = 422, description = "A bad name or field", body = ValidationErrorBody),
    )
)]
async fn create_service_account(
    State(rt): State<AppState>,
    access: Access,
    info: Option<Extension<AuthInfo>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let req = parse_create(json_object(body)?)?;
    let scopes: Vec<String> = match &req.scopes {
        Some(scopes) => scopes.clone(),
        None => DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect(),
    };
    let anonymous = info.is_none_or(|Extension(i)| i.mode == "none");
    check_scopes(&access, anonymous, &req, &scopes)?;
    let now = chrono::Utc::now().timestamp();
    let (token, hash, prefix) =
        generate_token().map_err(|e| ApiError::internal("Could not create service account", e))?;
    let owner = access.principal().and_then(|p| p.user_id.clone());
    let account = ServiceAccountRecord {
        id: uuid::Uuid::new_v4().to_string(),
        name: req.name.clone(),
        user_id: owner.clone(),
        token_hash: hash,
        token_prefix: prefix,
        scopes: serde_json::to_string(&scopes).unwrap_or_else(|_| "[]".to_owned()),
        created_at: now,
        expires_at: (!req.never_expires).then_some(now + req.expires_in_days * 86_400),
        last_used_at: None,
        revoked_at: None,
        created_by: owner,
    };
    if !rt.store.create_service_account(&account).await? {
        return Err(conflict(&req.name));
    }
    let created = ServiceAccountCreated {
        account: ServiceAccountResponse::of(&account),
        token,
    };
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// List service accounts
///
/// Metadata and display prefixes only, never tokens or hashes. A caller scoped to a user sees
/// that user's accounts and the workspace-level ones.
#[utoipa::path(
    get, path = "/service-accounts", tag = TAG,
    params(
        ("include_revoked" = Option<bool>, Query, description = "Revoked accounts too (default true)"),
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 100, description = "Per page (default 20)"),
        ("page" = Option<u64>, Query, minimum = 1, description = "Page, from 1"),
        ("sort_by" = Option<String>, Query, description = "`created_at` (default), `name`, `last_used_at`, `expires_at`"),
        ("sort_order" = Option<String>, Query, description = "`desc` (default) or `asc`"),
    ),
    responses(
        (status = 200, description = "One page of accounts", body = ServiceAccountList),
        (status = 422, description = "A parameter out of range", body = ValidationErrorBody),
    )
)]
async fn list_service_accounts(
    State(rt): State<AppState>,
    access: Access,
    RawQuery(raw): RawQuery,
) -> Result<Json<ServiceAccountList>, ApiError> {
    let q = Params::parse(raw)?;
    let mut errors = Vec::new();
    let limit = q.int("limit", Some(20), 1, Some(100), &mut errors);
    let page = q.int("page", Some(1), 1, None, &mut errors);
    let include_revoked = match q.get("include_revoked") {
        None => true,
        Some(v) => match v.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" | "t" | "y" => true,
            "false" | "0" | "no" | "off" | "f" | "n" => false,
            _ => {
                errors.push(invalid(
                    "bool_parsing",
                    at("query", "include_revoked"),
                    "Input should be a valid boolean, unable to interpret input",
                    Value::from(v),
                ));
                true
            }
        },
    };
    check(errors)?;
    let (limit, page) = (limit.unwrap_or(20) as u64, page.unwrap_or(1) as u64);
    let filter = ServiceAccountFilter {
        include_revoked,
        user_id: access.scoped_user_id()?.map(str::to_owned),
        sort_by: ServiceAccountSort::parse(q.get("sort_by").unwrap_or("created_at")),
        ascending: q.get("sort_order") == Some("asc"),
        limit: limit as u32,
        offset: ((page - 1) * limit).min(u32::MAX as u64) as u32,
    };
    let (accounts, total) = rt.store.list_service_accounts(&filter).await?;
    Ok(Json(ServiceAccountList {
        data: accounts.iter().map(ServiceAccountResponse::of).collect(),
        meta: PageMeta {
            page,
            limit,
            total_pages: total.div_ceil(limit),
            total_count: total,
            search_time_ms: Some(0.0),
        },
    }))
}

/// Revoke a service account (204)
///
/// Idempotent. Takes effect at once on this server, within 30 s on other replicas.
#[utoipa::path(
    delete, path = "/service-accounts/{service_account_id}", tag = TAG,
    params(("service_account_id" = String, Path, description = "The account's id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "A workspace-level account, which no single user may revoke", body = ErrorBody),
        (status = 404, description = "No such account (of this user)", body = ErrorBody),
    )
)]
async fn revoke_service_account(
    State(rt): State<AppState>,
    access: Access,
    auth: Option<Extension<Arc<Auth>>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let scoped = access.scoped_user_id()?;
    let not_found = || ApiError::not_found(format!("Service account '{id}' not found"));
    let existing = rt
        .store
        .get_service_account(&id, scoped)
        .await?
        .ok_or_else(not_found)?;
    if scoped.is_some() && existing.user_id.is_none() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "Cannot revoke a workspace-level service account",
        ));
    }
    if existing.revoked_at.is_none() {
        let now = chrono::Utc::now().timestamp();
        rt.store.revoke_service_account(&id, now).await?;
    }
    if let Some(Extension(auth)) = auth {
        let accounts: &ServiceAccounts = &auth.accounts;
        accounts.invalidate(&existing.token_hash);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
