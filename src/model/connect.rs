//! Connections to a model server are opened for the call that needs one, and kept only if it
//! still does.
//!
//! hyper-util's pool, when a request finds no idle connection, starts a connect and waits for
//! an idle connection at the same time. If a connection frees up first, the request takes it,
//! and the connect goes on in a task of its own, to be pooled when done. Under a burst that
//! leaves hundreds of connections nobody asked for, each with hyper's buffers: at 1,024 runs in
//! flight the benchmark's server kept 1,300-1,600 connections to the model server for at most
//! 1,024 calls. The shared client's connector runs under [`CallOnly`], which changes two things:
//!
//! - a connect polled outside the request that started it (one that lost its race and went on
//!   in the background) ends there, with an error hyper-util only logs;
//! - while other model requests are under way, a connect first waits [`GRACE`], so that a
//!   connection freed in the meantime serves the request before a socket is opened at all.
//!
//! Every model request runs inside [`in_call`] (the retry service does it), which is how a
//! connect knows whether its request still waits for it.

use futures::future::BoxFuture;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

tokio::task_local! {
    /// Set while a model request is polled: a connect polled without it has lost its race.
    static IN_CALL: ();
}

/// Model requests under way in the process.
static REQUESTS: AtomicUsize = AtomicUsize::new(0);

/// How long a connect waits, while other model requests are under way, before it opens a
/// socket. One of those requests may end and hand its connection over meanwhile. A lone
/// request connects at once.
const GRACE: Duration = Duration::from_millis(1);

/// Runs `request` (one HTTP attempt of a model call) as a request that may connect.
pub(crate) async fn in_call<F: Future>(request: F) -> F::Output {
    struct UnderWay;
    impl Drop for UnderWay {
        fn drop(&mut self) {
            REQUESTS.fetch_sub(1, Ordering::Relaxed);
        }
    }
    REQUESTS.fetch_add(1, Ordering::Relaxed);
    let _under_way = UnderWay;
    IN_CALL.scope((), request).await
}

/// The connector layer of the shared model client (see the module's documentation).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CallOnly;

impl<S> tower::Layer<S> for CallOnly {
    type Service = CallOnlyService<S>;

    fn layer(&self, inner: S) -> CallOnlyService<S> {
        CallOnlyService(inner)
    }
}

/// A connector under [`CallOnly`].
#[derive(Debug, Clone)]
pub(crate) struct CallOnlyService<S>(S);

/// What a connect ends with once nothing waits for it.
#[derive(Debug, thiserror::Error)]
#[error("connect abandoned: its request was served by a pooled connection")]
pub(crate) struct Abandoned;

impl<S, R> tower::Service<R> for CallOnlyService<S>
where
    S: tower::Service<R> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: From<Box<dyn std::error::Error + Send + Sync>>,
    R: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = CallOnlyFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, dst: R) -> Self::Future {
        // The connector was made ready for this call; the clone stays for the next one.
        let fresh = self.0.clone();
        let mut ready = std::mem::replace(&mut self.0, fresh);
        let others_under_way = REQUESTS.load(Ordering::Relaxed) > 1;
        CallOnlyFuture(Box::pin(async move {
            if others_under_way {
                tokio::time::sleep(GRACE).await;
            }
            ready.call(dst).await
        }))
    }
}

/// A connect that ends, unfinished, once polled outside its request.
pub(crate) struct CallOnlyFuture<T>(BoxFuture<'static, T>);

impl<T, E> Future for CallOnlyFuture<Result<T, E>>
where
    E: From<Box<dyn std::error::Error + Send + Sync>>,
{
    type Output = Result<T, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T, E>> {
        if IN_CALL.try_with(|_| ()).is_err() {
            return Poll::Ready(Err(E::from(Box::new(Abandoned))));
        }
        self.0.as_mut().poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    use tower::{Layer, Service, ServiceExt};

    type BoxError = Box<dyn std::error::Error + Send + Sync>;

    /// A connector whose connects take `takes`, recording that they began and finished.
    #[derive(Clone)]
    struct Connector {
        takes: Duration,
        began: Arc<AtomicBool>,
        finished: Arc<AtomicBool>,
    }

    impl Service<()> for Connector {
        type Response = &'static str;
        type Error = BoxError;
        type Future = BoxFuture<'static, Result<&'static str, BoxError>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, (): ()) -> Self::Future {
            let this = self.clone();
            Box::pin(async move {
                this.began.store(true, Ordering::SeqCst);
                tokio::time::sleep(this.takes).await;
                this.finished.store(true, Ordering::SeqCst);
                Ok("connection")
            })
        }
    }

    fn connector(takes: Duration) -> (Connector, Arc<AtomicBool>, Arc<AtomicBool>) {
        let connector = Connector {
            takes,
            began: Arc::default(),
            finished: Arc::default(),
        };
        let (began, finished) = (connector.began.clone(), connector.finished.clone());
        (connector, began, finished)
    }

    #[tokio::test]
    async fn a_connect_polled_by_its_request_connects() {
        let (inner, _, finished) = connector(Duration::from_millis(5));
        let mut service = CallOnly.layer(inner);
        let connect = service.ready().await.unwrap().call(());
        assert_eq!(in_call(connect).await.unwrap(), "connection");
        assert!(finished.load(Ordering::SeqCst));
    }

    #[tokio::test]
    async fn a_connect_that_goes_on_without_its_request_ends_unfinished() {
        let (inner, began, finished) = connector(Duration::from_millis(50));
        let mut service = CallOnly.layer(inner);
        let mut connect = service.ready().await.unwrap().call(());
        // The request polls it until the connect is under way...
        in_call(async {
            while !began.load(Ordering::SeqCst) {
                assert!(futures::poll!(&mut connect).is_pending());
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
        .await;
        // ...then takes a pooled connection, and the connect goes on alone.
        let error = tokio::spawn(connect).await.unwrap().unwrap_err();
        assert!(error.is::<Abandoned>(), "{error}");
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert!(
            !finished.load(Ordering::SeqCst),
            "the abandoned connect went on"
        );
    }

    #[tokio::test]
    async fn while_others_are_under_way_a_connect_waits_before_opening_a_socket() {
        let (inner, began, _) = connector(Duration::ZERO);
        let mut service = CallOnly.layer(inner);
        // Another request under way.
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let other = tokio::spawn(in_call(released));
        tokio::task::yield_now().await;
        let (connect, polled) = in_call(async {
            let mut connect = service.ready().await.unwrap().call(());
            let polled = futures::poll!(&mut connect);
            (connect, polled)
        })
        .await;
        assert!(polled.is_pending());
        assert!(!began.load(Ordering::SeqCst), "connected without waiting");
        // The request was served meanwhile: the connect never opens its socket.
        assert!(connect.await.unwrap_err().is::<Abandoned>());
        assert!(!began.load(Ordering::SeqCst));
        release.send(()).unwrap();
        other.await.unwrap().unwrap();
    }
}
