//! The keys a token may be signed with: static keys (a secret or PEM keys), and a JWKS from a
//! file (read once) or a URL (fetched, cached, fetched again after its time to live or when a
//! token names a `kid` it does not have, at most once per refresh interval).

use super::config::JwtConfig;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// The JWKS URL could not be fetched and nothing is cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unavailable;

/// A JWKS's keys by `kid` (`None`: the key without one, agno's `_default`).
#[derive(Default)]
struct KeySet {
    by_kid: HashMap<String, Arc<DecodingKey>>,
    default: Option<Arc<DecodingKey>>,
}

impl KeySet {
    fn get(&self, kid: Option<&str>) -> Option<Arc<DecodingKey>> {
        kid.and_then(|k| self.by_kid.get(k))
            .or(self.default.as_ref())
            .cloned()
    }

    fn has(&self, kid: &str) -> bool {
        self.by_kid.contains_key(kid)
    }

    /// The keys of a JWKS document; keys that cannot be read are skipped with a warning.
    fn parse(doc: &Value) -> KeySet {
        let mut set = KeySet::default();
        let keys = doc.get("keys").and_then(Value::as_array);
        if keys.is_none_or(|k| k.is_empty()) {
            tracing::warn!("JWKS contains no keys");
        }
        for key in keys.into_iter().flatten() {
            let parsed = serde_json::from_value::<Jwk>(key.clone())
                .map_err(|e| e.to_string())
                .and_then(|jwk| {
                    let decoding = DecodingKey::from_jwk(&jwk).map_err(|e| e.to_string())?;
                    Ok((jwk.common.key_id.clone(), Arc::new(decoding)))
                });
            match parsed {
                Ok((Some(kid), key)) => {
                    set.by_kid.insert(kid, key);
                }
                Ok((None, key)) => set.default = Some(key),
                Err(e) => tracing::warn!("Failed to parse JWKS key: {e}"),
            }
        }
        set
    }
}

/// A JWKS fetched from a URL.
struct Remote {
    url: String,
    client: reqwest::Client,
    ttl: Duration,
    refresh_interval: Duration,
    state: RwLock<(Arc<KeySet>, Option<Instant>)>,
    /// One fetch at a time; the others wait for its result.
    fetching: tokio::sync::Mutex<()>,
}

impl Remote {
    fn cached(&self) -> (Arc<KeySet>, Option<Instant>) {
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        (state.0.clone(), state.1)
    }

    /// Fetches the JWKS unless another fetch finished after `seen` (then uses that one).
    async fn refresh(&self, seen: Option<Instant>) -> Result<Arc<KeySet>, Unavailable> {
        let _one = self.fetching.lock().await;
        let (keys, fetched) = self.cached();
        if fetched != seen {
            return Ok(keys);
        }
        let fetched = async {
            let response = self.client.get(&self.url).send().await?;
            response.error_for_status()?.json::<Value>().await
        }
        .await;
        match fetched {
            Ok(doc) => {
                let keys = Arc::new(KeySet::parse(&doc));
                tracing::debug!(url = %self.url, keys = keys.by_kid.len(), "JWKS fetched");
                *self.state.write().unwrap_or_else(|p| p.into_inner()) =
                    (keys.clone(), Some(Instant::now()));
                Ok(keys)
            }
            Err(e) => {
                tracing::warn!(url = %self.url, "cannot fetch the JWKS: {e}");
                match seen {
                    // Keep using the keys we have; try again after the refresh interval.
                    Some(_) => {
                        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
                        state.1 = Some(Instant::now());
                        Ok(state.0.clone())
                    }
                    None => Err(Unavailable),
                }
            }
        }
    }

    async fn key(&self, kid: Option<&str>) -> Result<Option<Arc<DecodingKey>>, Unavailable> {
        let (mut keys, mut fetched) = self.cached();
        if fetched.is_none_or(|at| at.elapsed() >= self.ttl) {
            keys = self.refresh(fetched).await?;
            fetched = self.cached().1;
        }
        if let Some(kid) = kid
            && !keys.has(kid)
            && fetched.is_some_and(|at| at.elapsed() >= self.refresh_interval)
        {
            keys = self.refresh(fetched).await?;
        }
        Ok(keys.get(kid))
    }
}

/// Every key a token may be checked against.
pub(crate) struct KeySource {
    fixed: Vec<Arc<DecodingKey>>,
    file: Option<KeySet>,
    remote: Option<Remote>,
}

/// A static key for `alg`: the secret itself (HS*), else a PEM public key.
fn static_key(key: &str, alg: Algorithm) -> Result<DecodingKey, String> {
    use Algorithm::*;
    let pem = key.as_bytes();
    let key = match alg {
        HS256 | HS384 | HS512 => DecodingKey::from_secret(pem),
        RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => DecodingKey::from_rsa_pem(pem),
        ES256 | ES384 => DecodingKey::from_ec_pem(pem),
        EdDSA => DecodingKey::from_ed_pem(pem),
        other => return Err(format!("JWT algorithm {other:?} is not supported")),
    };
    key.map_err(|e| format!("a JWT verification key is not a PEM public key for {alg:?}: {e}"))
}

impl KeySource {
    /// The keys `config` names, for tokens signed with `alg`.
    pub(crate) fn new(config: &JwtConfig, alg: Algorithm) -> Result<KeySource, String> {
        let fixed = config
            .keys
            .iter()
            .map(|k| static_key(k, alg).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        let file = match &config.jwks_file {
            None => None,
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("JWKS file not found: {} ({e})", path.display()))?;
                let doc: Value = serde_json::from_str(&text)
                    .map_err(|e| format!("Invalid JSON in JWKS file {}: {e}", path.display()))?;
                Some(KeySet::parse(&doc))
            }
        };
        let remote = match &config.jwks_url {
            None => None,
            Some(url) => Some(Remote {
                url: url.clone(),
                client: reqwest::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .map_err(|e| format!("JWKS client: {e}"))?,
                ttl: config.jwks_ttl,
                refresh_interval: config.jwks_refresh_interval,
                state: RwLock::new((Arc::new(KeySet::default()), None)),
                fetching: tokio::sync::Mutex::new(()),
            }),
        };
        if fixed_is_empty(&fixed) && file.is_none() && remote.is_none() {
            return Err(
                "At least one JWT verification key or JWKS is required: set \
                        JWT_VERIFICATION_KEY, JWT_JWKS_FILE or JWT_JWKS_URL, or give \
                        JwtConfig a verification_key, jwks_file or jwks_url"
                    .to_owned(),
            );
        }
        Ok(KeySource {
            fixed,
            file,
            remote,
        })
    }

    /// The keys to try for a token with this `kid`: the JWKS's key first (by `kid`, else its
    /// key without one), then the static keys, as agno tries them.
    pub(crate) async fn keys_for(
        &self,
        kid: Option<&str>,
    ) -> Result<Vec<Arc<DecodingKey>>, Unavailable> {
        let mut keys = Vec::with_capacity(self.fixed.len() + 1);
        if let Some(set) = &self.file {
            keys.extend(set.get(kid));
        }
        if let Some(remote) = &self.remote {
            match remote.key(kid).await {
                Ok(key) => keys.extend(key),
                Err(e) if self.fixed.is_empty() && keys.is_empty() => return Err(e),
                Err(_) => {}
            }
        }
        keys.extend(self.fixed.iter().cloned());
        Ok(keys)
    }
}

fn fixed_is_empty(fixed: &[Arc<DecodingKey>]) -> bool {
    fixed.is_empty()
}
