//! The one retry policy for model calls: exponential backoff with jitter, `Retry-After`
//! honoured, bounded attempts and total time, a timeout per attempt. It runs as the HTTP
//! service under async-openai (replacing async-openai's own retries), so it sees status codes
//! and headers before async-openai parses anything.

use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;
use futures::future::BoxFuture;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// How model calls are retried. Configure per model with `OpenAIChat::retry_policy`.
///
/// Retried: connection failures, a timed-out attempt, HTTP 408, 429 and 5xx (except 501).
/// Never retried: a stream that already started (its content has gone to the client).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (default 3).
    pub max_attempts: u32,
    /// The wait before the first retry (default 500 ms); doubled each time, ±25 % jitter.
    pub initial_backoff: Duration,
    /// The longest wait between attempts, `Retry-After` included (default 8 s). A server
    /// asking for a longer wait gets its error passed on instead.
    pub max_backoff: Duration,
    /// No retry starts after this much time since the first attempt (default 60 s).
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
            max_elapsed: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retry.
    pub fn none() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    fn backoff(&self, retry: u32) -> Duration {
        let base = self.initial_backoff.as_secs_f64() * 2f64.powi(retry.min(16) as i32);
        let jitter = 0.75 + fastrand::f64() * 0.5;
        Duration::from_secs_f64(base * jitter).min(self.max_backoff)
    }
}

/// An attempt that got no response headers in time.
#[derive(Debug, thiserror::Error)]
#[error("no response within {0:?}")]
pub(crate) struct AttemptTimeout(pub Duration);

/// The HTTP service async-openai calls: reqwest plus [`RetryPolicy`].
#[derive(Clone)]
pub(crate) struct RetryService {
    pub http: reqwest::Client,
    pub policy: RetryPolicy,
    /// Each attempt must produce response headers within this.
    pub attempt_timeout: Duration,
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?;
    let secs: f64 = value.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

fn retryable_status(status: reqwest::StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429) || (status.is_server_error() && status.as_u16() != 501)
}

impl tower::Service<HttpRequestFactory> for RetryService {
    type Response = reqwest::Response;
    type Error = OpenAIError;
    type Future = BoxFuture<'static, Result<reqwest::Response, OpenAIError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), OpenAIError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, factory: HttpRequestFactory) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let started = Instant::now();
            let mut attempt = 1;
            loop {
                let request = factory.build().await?;
                let result = match tokio::time::timeout(
                    this.attempt_timeout,
                    super::connect::in_call(this.http.execute(request)),
                )
                .await
                {
                    Err(_) => Err(OpenAIError::Boxed(Box::new(AttemptTimeout(
                        this.attempt_timeout,
                    )))),
                    Ok(result) => result.map_err(OpenAIError::Reqwest),
                };
                let (retry, asked_wait) = match &result {
                    Ok(response) => (retryable_status(response.status()), retry_after(response)),
                    Err(OpenAIError::Reqwest(e)) => {
                        (e.is_connect() || e.is_timeout() || e.is_request(), None)
                    }
                    Err(OpenAIError::Boxed(_)) => (true, None),
                    Err(_) => (false, None),
                };
                if !retry || attempt >= this.policy.max_attempts {
                    return result;
                }
                let wait = asked_wait.unwrap_or_else(|| this.policy.backoff(attempt - 1));
                if wait > this.policy.max_backoff
                    || started.elapsed() + wait > this.policy.max_elapsed
                {
                    return result;
                }
                tracing::warn!(attempt, ?wait, "model call failed; retrying");
                drop(result);
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
        })
    }
}
