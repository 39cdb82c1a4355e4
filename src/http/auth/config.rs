//! [`JwtConfig`]: how tokens are verified and what they grant, from the builder and agno's
//! environment variables.

use jsonwebtoken::Algorithm;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// JWT verification and authorization, as agno's `AgentOS(authorization=True,
/// authorization_config=...)`: tokens signed with HS256/384/512 (a shared secret), RS*/PS*
/// (an RSA public key in PEM), ES256/384 (an EC public key in PEM) or EdDSA, or with a key from
/// a JWKS (a file, or a URL fetched and cached, fetched again when a token names an unknown
/// `kid`).
///
/// Each request's token becomes its principal: the user (claim `sub`) and the scopes (claim
/// `scopes`); the routes check agno's scopes (`agents:read`, `agents:<id>:run`,
/// `sessions:write`, `agent_os:admin`, ...). With [`JwtConfig::user_isolation`], each user sees
/// only their own sessions and runs.
///
/// [`JwtConfig::from_env`] reads agno's variables: `JWT_VERIFICATION_KEY` (a secret or a PEM
/// key), `JWT_JWKS_FILE` (a JWKS file), and agentos's `JWT_JWKS_URL`, `JWT_ALGORITHM` (default
/// `RS256`, as agno), `JWT_AUDIENCE` and `JWT_ISSUER` (checked when set).
///
/// ```
/// use agentos::{AgentOs, JwtConfig};
/// let os = AgentOs::new().authorization(
///     JwtConfig::new()
///         .verification_key("a-shared-secret-of-at-least-32-bytes!")
///         .algorithm("HS256")
///         .audience("my-os")
///         .user_isolation(true),
/// );
/// # let _ = os;
/// ```
#[derive(Debug, Clone)]
pub struct JwtConfig {
    pub(crate) keys: Vec<String>,
    pub(crate) jwks_file: Option<PathBuf>,
    pub(crate) jwks_url: Option<String>,
    pub(crate) algorithm: Option<String>,
    pub(crate) audience: Option<String>,
    pub(crate) verify_audience: bool,
    pub(crate) issuer: Option<String>,
    pub(crate) leeway: Duration,
    pub(crate) scopes_claim: String,
    pub(crate) user_id_claim: String,
    pub(crate) session_id_claim: String,
    pub(crate) admin_scope: Option<String>,
    pub(crate) user_isolation: bool,
    pub(crate) enforce_scopes: bool,
    pub(crate) jwks_refresh_interval: Duration,
    pub(crate) jwks_ttl: Duration,
}

impl Default for JwtConfig {
    fn default() -> Self {
        JwtConfig::new()
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl JwtConfig {
    /// Nothing configured yet: RS256, a 10 s leeway, claims `sub` and `scopes`, scopes
    /// enforced, no user isolation. The environment's key and JWKS file are still added when
    /// the OS starts, as agno adds them.
    pub fn new() -> JwtConfig {
        JwtConfig {
            keys: Vec::new(),
            jwks_file: None,
            jwks_url: None,
            algorithm: None,
            audience: None,
            verify_audience: false,
            issuer: None,
            leeway: Duration::from_secs(10),
            scopes_claim: "scopes".to_owned(),
            user_id_claim: "sub".to_owned(),
            session_id_claim: "session_id".to_owned(),
            admin_scope: None,
            user_isolation: false,
            enforce_scopes: true,
            jwks_refresh_interval: Duration::from_secs(10),
            jwks_ttl: Duration::from_secs(300),
        }
    }

    /// A config from the environment: `JWT_VERIFICATION_KEY`, `JWT_JWKS_FILE`,
    /// `JWT_JWKS_URL`, `JWT_ALGORITHM`, `JWT_AUDIENCE`, `JWT_ISSUER`.
    pub fn from_env() -> JwtConfig {
        let mut config = JwtConfig::new();
        config.apply_env();
        config
    }

    /// True when the environment names a key, a JWKS file or a JWKS URL.
    pub fn configured_in_env() -> bool {
        ["JWT_VERIFICATION_KEY", "JWT_JWKS_FILE", "JWT_JWKS_URL"]
            .iter()
            .any(|v| env(v).is_some())
    }

    /// Fills what the builder left unset from the environment (the key is added to the
    /// builder's keys, as agno does).
    pub(crate) fn apply_env(&mut self) {
        if let Some(key) = env("JWT_VERIFICATION_KEY")
            && !self.keys.contains(&key)
        {
            self.keys.push(key);
        }
        if self.jwks_file.is_none() {
            self.jwks_file = env("JWT_JWKS_FILE").map(PathBuf::from);
        }
        if self.jwks_url.is_none() {
            self.jwks_url = env("JWT_JWKS_URL");
        }
        if self.algorithm.is_none() {
            self.algorithm = env("JWT_ALGORITHM");
        }
        if self.audience.is_none() {
            self.audience = env("JWT_AUDIENCE");
        }
        if self.issuer.is_none() {
            self.issuer = env("JWT_ISSUER");
        }
    }

    /// A key that verifies signatures: the shared secret (HS*) or a public key in PEM (RS*,
    /// PS*, ES*, EdDSA). Several keys are tried in order.
    pub fn verification_key(mut self, key: impl Into<String>) -> JwtConfig {
        self.keys.push(key.into());
        self
    }

    /// A JWKS file (`{"keys": [...]}`); keys are chosen by the token's `kid`.
    pub fn jwks_file(mut self, path: impl Into<PathBuf>) -> JwtConfig {
        self.jwks_file = Some(path.into());
        self
    }

    /// A JWKS URL (an identity provider's `jwks_uri`): fetched at the first request, cached,
    /// fetched again after [`JwtConfig::jwks_ttl`] or when a token names an unknown `kid`, so a
    /// rotated key works without a restart.
    pub fn jwks_url(mut self, url: impl Into<String>) -> JwtConfig {
        self.jwks_url = Some(url.into());
        self
    }

    /// The signing algorithm tokens must use (default `RS256`, as agno): `HS256`, `RS256`,
    /// `ES256`, ... A token with another `alg` (`none` included) is refused.
    pub fn algorithm(mut self, algorithm: impl Into<String>) -> JwtConfig {
        self.algorithm = Some(algorithm.into());
        self
    }

    /// Requires the `aud` claim to name this audience.
    pub fn audience(mut self, audience: impl Into<String>) -> JwtConfig {
        self.audience = Some(audience.into());
        self.verify_audience = true;
        self
    }

    /// agno's `verify_audience=True` without an audience: `aud` must name the OS id.
    pub fn verify_audience(mut self, on: bool) -> JwtConfig {
        self.verify_audience = on;
        self
    }

    /// Requires the `iss` claim to be exactly this issuer.
    pub fn issuer(mut self, issuer: impl Into<String>) -> JwtConfig {
        self.issuer = Some(issuer.into());
        self
    }

    /// The clock skew tolerated on `exp`, `nbf` and `iat` (default 10 s, as agno).
    pub fn leeway(mut self, leeway: Duration) -> JwtConfig {
        self.leeway = leeway;
        self
    }

    /// The claim holding the scopes (default `scopes`; a string is one scope).
    pub fn scopes_claim(mut self, claim: impl Into<String>) -> JwtConfig {
        self.scopes_claim = claim.into();
        self
    }

    /// The claim holding the user id (default `sub`).
    pub fn user_id_claim(mut self, claim: impl Into<String>) -> JwtConfig {
        self.user_id_claim = claim.into();
        self
    }

    /// The scope that grants everything (default `agent_os:admin`).
    pub fn admin_scope(mut self, scope: impl Into<String>) -> JwtConfig {
        self.admin_scope = Some(scope.into());
        self
    }

    /// Each user sees only their own sessions and runs (agno's `user_isolation=True`): lists
    /// are filtered by the token's user, another user's session or run answers 404, and a run's
    /// `user_id` is the token's. The admin scope sees everything.
    pub fn user_isolation(mut self, on: bool) -> JwtConfig {
        self.user_isolation = on;
        self
    }

    /// Whether routes check scopes (default true, agno's `authorization=True`); without, any
    /// valid token may call any route (agno with `JWT_VERIFICATION_KEY` alone).
    pub fn enforce_scopes(mut self, on: bool) -> JwtConfig {
        self.enforce_scopes = on;
        self
    }

    /// The shortest time between two fetches of the JWKS URL caused by unknown `kid`s
    /// (default 10 s), so a flood of bad tokens cannot hammer the identity provider.
    pub fn jwks_refresh_interval(mut self, interval: Duration) -> JwtConfig {
        self.jwks_refresh_interval = interval;
        self
    }

    /// How long a fetched JWKS is used before it is fetched again (default 5 minutes).
    pub fn jwks_ttl(mut self, ttl: Duration) -> JwtConfig {
        self.jwks_ttl = ttl;
        self
    }
}

/// What verifying a token needs, resolved.
#[derive(Debug, Clone)]
pub(crate) struct JwtSettings {
    pub algorithm: Algorithm,
    pub algorithm_name: String,
    pub audience: Option<String>,
    pub audience_claim: String,
    pub issuer: Option<String>,
    pub issuer_claim: String,
    pub leeway_secs: i64,
    pub scopes_claim: String,
    pub user_id_claim: String,
    pub session_id_claim: String,
}

impl JwtSettings {
    /// `os_id` is the expected audience when verification is on without one (agno).
    pub(crate) fn resolve(config: &JwtConfig, os_id: &str) -> Result<JwtSettings, String> {
        let name = config
            .algorithm
            .clone()
            .unwrap_or_else(|| "RS256".to_owned());
        let algorithm = Algorithm::from_str(&name).map_err(|_| {
            format!(
                "JWT algorithm {name:?} is not supported: use HS256, HS384, HS512, RS256, RS384, \
                 RS512, PS256, PS384, PS512, ES256, ES384 or EdDSA"
            )
        })?;
        let audience = match (&config.audience, config.verify_audience) {
            (Some(aud), _) => Some(aud.clone()),
            (None, true) => Some(os_id.to_owned()),
            (None, false) => None,
        };
        Ok(JwtSettings {
            algorithm,
            algorithm_name: name,
            audience,
            audience_claim: "aud".to_owned(),
            issuer: config.issuer.clone(),
            issuer_claim: "iss".to_owned(),
            leeway_secs: config.leeway.as_secs() as i64,
            scopes_claim: config.scopes_claim.clone(),
            user_id_claim: config.user_id_claim.clone(),
            session_id_claim: config.session_id_claim.clone(),
        })
    }
}
