//! Service account tokens (agno's `service_accounts.py`): `agno_pat_` + 32 random bytes in
//! base62, stored as their SHA-256 only, shown once. A verified token is cached for 30 s (a
//! revoke on this process evicts it at once; other replicas within the 30 s), its use recorded
//! at most once a minute, and failed lookups from one client address are throttled (20 a
//! minute) so a flood of guesses gets 429 without ever blocking a valid token.

use crate::store::{ServiceAccountRecord, Store};
use axum::http::StatusCode;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Makes tokens greppable for secret scanners.
pub(crate) const TOKEN_PREFIX: &str = "agno_pat_";
/// How much of the token is kept for display.
const DISPLAY_PREFIX: usize = 16;
/// agno's 401 for any token that does not verify (the reason is logged only).
pub(crate) const INVALID: &str = "Invalid or expired service account token";

const CACHE_TTL: Duration = Duration::from_secs(30);
const CACHE_MAX: usize = 2048;
const TOUCH_EVERY: Duration = Duration::from_secs(60);
const MAX_FAILURES: usize = 20;
const FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// SHA-256 of a token, hex: the only form stored.
pub(crate) fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn base62(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut number: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    let mut out = Vec::new();
    while !number.is_empty() {
        let mut rest = Vec::with_capacity(number.len());
        let mut remainder: u32 = 0;
        for byte in &number {
            let acc = (remainder << 8) | u32::from(*byte);
            let digit = acc / 62;
            remainder = acc % 62;
            if !(rest.is_empty() && digit == 0) {
                rest.push(digit as u8);
            }
        }
        out.push(ALPHABET[remainder as usize]);
        number = rest;
    }
    if out.is_empty() {
        out.push(b'0');
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// A new token: `(plaintext, hash, display prefix)`. The plaintext is returned once and never
/// stored.
pub(crate) fn generate_token() -> Result<(String, String, String), getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    let token = format!("{TOKEN_PREFIX}{}", base62(&bytes));
    let hash = hash_token(&token);
    let prefix = token.chars().take(DISPLAY_PREFIX).collect();
    Ok((token, hash, prefix))
}

/// Verifies service account tokens against the store.
pub(crate) struct ServiceAccounts {
    store: Arc<dyn Store>,
    cache: Mutex<HashMap<String, (Arc<ServiceAccountRecord>, Instant)>>,
    touched: Mutex<HashMap<String, Instant>>,
    failures: Mutex<HashMap<Option<IpAddr>, Vec<Instant>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Keeps a map under `max` entries by dropping the oldest.
fn bound<K: Clone + Eq + std::hash::Hash, V>(
    map: &mut HashMap<K, V>,
    max: usize,
    at: impl Fn(&V) -> Instant,
) {
    while map.len() > max {
        let Some(oldest) = map
            .iter()
            .min_by_key(|(_, v)| at(v))
            .map(|(k, _)| k.clone())
        else {
            break;
        };
        map.remove(&oldest);
    }
}

impl ServiceAccounts {
    pub(crate) fn new(store: Arc<dyn Store>) -> ServiceAccounts {
        ServiceAccounts {
            store,
            cache: Mutex::default(),
            touched: Mutex::default(),
            failures: Mutex::default(),
        }
    }

    /// Forgets a cached verification (on revoke).
    pub(crate) fn invalidate(&self, token_hash: &str) {
        lock(&self.cache).remove(token_hash);
    }

    /// The account the token belongs to, if it is valid; else agno's status and detail.
    pub(crate) async fn verify(
        &self,
        token: &str,
        client: Option<IpAddr>,
    ) -> Result<Arc<ServiceAccountRecord>, (StatusCode, &'static str)> {
        let hash = hash_token(token);
        let now = chrono::Utc::now().timestamp();
        let expired = |a: &ServiceAccountRecord| a.expires_at.is_some_and(|e| e <= now);
        let cached = lock(&self.cache).get(&hash).cloned();
        if let Some((account, at)) = cached {
            if at.elapsed() <= CACHE_TTL && !expired(&account) {
                self.touch(&account).await;
                return Ok(account);
            }
            self.invalidate(&hash);
        }
        let row = match self.store.service_account_by_token_hash(&hash).await {
            Ok(row) => row,
            Err(e) => {
                tracing::error!("Service account lookup failed: {e}");
                return Err((
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Authentication is temporarily unavailable",
                ));
            }
        };
        match row {
            Some(account) if account.revoked_at.is_none() && !expired(&account) => {
                let account = Arc::new(account);
                {
                    let mut cache = lock(&self.cache);
                    cache.insert(hash, (account.clone(), Instant::now()));
                    bound(&mut cache, CACHE_MAX, |(_, at)| *at);
                }
                self.touch(&account).await;
                Ok(account)
            }
            Some(_) => {
                tracing::debug!("Service account verification failed: token is revoked or expired");
                self.failed(client)
            }
            None => {
                tracing::debug!("Service account verification failed: unknown token");
                self.failed(client)
            }
        }
    }

    /// Counts a failed lookup; 429 once the client has failed too often recently.
    fn failed(
        &self,
        client: Option<IpAddr>,
    ) -> Result<Arc<ServiceAccountRecord>, (StatusCode, &'static str)> {
        let mut failures = lock(&self.failures);
        let times = failures.entry(client).or_default();
        times.retain(|t| t.elapsed() < FAILURE_WINDOW);
        if times.len() >= MAX_FAILURES {
            tracing::warn!("Service account verification throttled: too many failed lookups");
            return Err((
                StatusCode::TOO_MANY_REQUESTS,
                "Too many failed authentication attempts",
            ));
        }
        times.push(Instant::now());
        bound(&mut failures, 1024, |t| {
            t.last().copied().unwrap_or_else(Instant::now)
        });
        Err((StatusCode::UNAUTHORIZED, INVALID))
    }

    /// Records the token's use, at most once a minute per account.
    async fn touch(&self, account: &ServiceAccountRecord) {
        {
            let mut touched = lock(&self.touched);
            if touched
                .get(&account.id)
                .is_some_and(|at| at.elapsed() < TOUCH_EVERY)
            {
                return;
            }
            touched.insert(account.id.clone(), Instant::now());
            bound(&mut touched, CACHE_MAX, |at| *at);
        }
        let now = chrono::Utc::now().timestamp();
        if let Err(e) = self.store.touch_service_account(&account.id, now).await {
            tracing::warn!(
                "Could not update last_used_at for service account '{}': {e}",
                account.name
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_base62_and_hashed() {
        let (token, hash, prefix) = generate_token().unwrap();
        assert!(token.starts_with(TOKEN_PREFIX));
        assert!(
            token[TOKEN_PREFIX.len()..]
                .chars()
                .all(|c| c.is_ascii_alphanumeric())
        );
        assert!(token.len() > TOKEN_PREFIX.len() + 38, "{token}");
        assert_eq!(hash, hash_token(&token));
        assert_eq!(hash.len(), 64);
        assert_eq!(prefix, &token[..16]);
        assert_ne!(generate_token().unwrap().0, token);
    }

    #[test]
    fn base62_matches_pythons_big_integer_encoding() {
        assert_eq!(base62(&[0]), "0");
        assert_eq!(base62(&[61]), "z");
        assert_eq!(base62(&[62]), "10");
        assert_eq!(base62(&[1, 0]), "48");
    }
}
