//! The accept loop: HTTP/1.1 over hyper, with graceful shutdown.
//!
//! `axum::serve` does the same but cannot configure hyper's connection. We need one setting
//! from it: `half_close`. By default hyper reads from a connection while it answers a request,
//! to notice a client that has gone away. That read reserves a new 8 KiB buffer, because the
//! request's headers and body still point into the old one, so every request in flight held
//! two read buffers. Our runs never depend on the client staying: a run belongs to the runtime
//! from its first write (docs/compatibility.md §9). With `half_close` a client that leaves is
//! noticed at the next write instead, each connection keeps one buffer (BENCHMARKS.md), and a
//! client that shuts its write side after sending the request (`nc -N`) still gets the answer.

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::io;
use std::pin::pin;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::Service;

/// Serves `router` on `listener` until `signal` completes. Then it stops accepting, lets
/// every connection finish the request it is answering, and returns when all have closed.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    signal: impl Future<Output = ()> + Send + 'static,
) {
    // Every route becomes a `Route` once, here, instead of on each connection.
    let router = router.with_state::<()>(());
    // Every connection's task: the loop's end waits for all of them.
    let connections = TaskTracker::new();
    let closing = CancellationToken::new();
    let mut signal = pin!(signal);
    loop {
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
            () = &mut signal => break,
        };
        // Small SSE writes must go out at once, not wait for Nagle's algorithm.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!("cannot set TCP_NODELAY: {e}");
        }
        let router = router.clone();
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            router.clone().call(request.map(Body::new))
        });
        let closing = closing.clone();
        connections.spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.half_close(true);
            let mut connection = pin!(builder.serve_connection(TokioIo::new(tcp), service));
            let mut shutdown = pin!(closing.cancelled());
            let mut shutting_down = false;
            loop {
                tokio::select! {
                    result = connection.as_mut() => {
                        if let Err(e) = result {
                            tracing::trace!("connection ended: {e}");
                        }
                        break;
                    }
                    // Once: finish the request in flight, then close.
                    () = &mut shutdown, if !shutting_down => {
                        shutting_down = true;
                        connection.as_mut().graceful_shutdown();
                    }
                }
            }
        });
    }
    drop(listener);
    closing.cancel();
    connections.close();
    connections.wait().await;
}

/// Connection-level errors (the peer reset before we accepted) are routine. Anything else,
/// most often too many open files, is logged and retried after a pause, as hyper and axum do.
async fn accept_error(e: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        return;
    }
    tracing::error!("accept error: {e}");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
