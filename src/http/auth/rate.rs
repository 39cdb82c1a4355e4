//! The per-principal rate limit: a `governor` keyed GCRA limiter, answered with 429 and
//! `Retry-After`. The key is the verified user (or service account), else the client address.

use super::Caller;
use crate::http::error::ApiError;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

/// A rate limit per principal: `per_minute` requests a minute on average, with bursts of up
/// to `burst`. Requests past it get 429 with `Retry-After` (seconds).
///
/// ```
/// use agentos::{AgentOs, RateLimit};
/// let os = AgentOs::new().rate_limit(RateLimit::per_minute(600).burst(50));
/// # let _ = os;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    per_minute: NonZeroU32,
    burst: NonZeroU32,
}

impl RateLimit {
    /// `n` requests a minute per principal (at least 1), in bursts of up to `n`.
    pub fn per_minute(n: u32) -> RateLimit {
        let n = NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        RateLimit {
            per_minute: n,
            burst: n,
        }
    }

    /// Up to `n` requests at once (at least 1).
    pub fn burst(mut self, n: u32) -> RateLimit {
        self.burst = NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        self
    }
}

/// The client's address, put into each request by the accept loop when a rate limit or auth
/// needs it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PeerAddr(pub SocketAddr);

/// The limiter shared by every request.
pub(crate) struct RateLimiter {
    limiter: DefaultKeyedRateLimiter<String>,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter").finish_non_exhaustive()
    }
}

impl RateLimiter {
    pub(crate) fn new(limit: RateLimit) -> RateLimiter {
        let period = Duration::from_secs(60) / limit.per_minute.get();
        let quota = Quota::with_period(period.max(Duration::from_nanos(1)))
            .unwrap_or_else(|| Quota::per_minute(limit.per_minute))
            .allow_burst(limit.burst);
        RateLimiter {
            limiter: DefaultKeyedRateLimiter::keyed(quota),
        }
    }

    /// `Err(wait)` when `key` is over its limit.
    fn check(&self, key: &str) -> Result<(), Duration> {
        if self.limiter.len() > 100_000 {
            self.limiter.retain_recent();
        }
        let key = key.to_owned();
        self.limiter
            .check_key(&key)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// The layer: 429 with `Retry-After` past the caller's limit.
pub(crate) async fn limit(limiter: Arc<RateLimiter>, request: Request, next: Next) -> Response {
    let caller = request.extensions().get::<Arc<Caller>>();
    let key = match caller.and_then(|c| c.principal.user_id.as_deref()) {
        Some(user) => format!("user:{user}"),
        None => match request.extensions().get::<PeerAddr>() {
            Some(PeerAddr(addr)) => format!("ip:{}", addr.ip()),
            None => "anonymous".to_owned(),
        },
    };
    match limiter.check(&key) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let secs = secs.max(1);
            let mut response = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("Rate limit exceeded: retry after {secs} seconds"),
            )
            .into_response();
            if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
    }
}
