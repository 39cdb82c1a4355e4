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
//!
//! Facing the internet, the loop also bounds what a client can hold: at most
//! [`ServeOptions::max_connections`] connections at once (past it, new connections wait in the
//! listen backlog), a request head over [`ServeOptions::max_header_bytes`] gets 431 (hyper), and
//! a request whose head or body does not arrive within its read timeout is cut off (`guard.rs`:
//! no timer is armed for a request that arrives whole, so a run pays nothing for it).

use super::auth::PeerAddr;
use super::guard::{Deadlines, Guarded, Phase};
use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::io;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::Service;

/// The limits of the accept loop.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ServeOptions {
    /// How long a request's head may take to arrive (from its first wait).
    pub header_read_timeout: Duration,
    /// How long a request's body may take to arrive (from its first wait).
    pub body_read_timeout: Duration,
    /// Connections served at once; `None`: no cap.
    pub max_connections: Option<usize>,
    /// The largest request head (431 past it).
    pub max_header_bytes: usize,
    /// Put each client's address into its requests ([`PeerAddr`]): auth and the rate limit
    /// key by it.
    pub peer_addr: bool,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            header_read_timeout: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(60),
            max_connections: Some(10_000),
            max_header_bytes: 64 * 1024,
            peer_addr: false,
        }
    }
}

/// Serves `router` on `listener` until `signal` completes. Then it stops accepting, lets
/// every connection finish the request it is answering, and returns when all have closed.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    signal: impl Future<Output = ()> + Send + 'static,
    options: ServeOptions,
) {
    // Every route becomes a `Route` once, here, instead of on each connection.
    let router = router.with_state::<()>(());
    // Every connection's task: the loop's end waits for all of them.
    let connections = TaskTracker::new();
    let closing = CancellationToken::new();
    let slots = options
        .max_connections
        .map(|n| Arc::new(Semaphore::new(n.max(1))));
    let deadlines = Deadlines {
        header: options.header_read_timeout,
        body: options.body_read_timeout,
    };
    let mut signal = pin!(signal);
    loop {
        // At the cap, wait for a connection to close before accepting the next.
        let slot = match &slots {
            None => None,
            Some(slots) => tokio::select! {
                slot = slots.clone().acquire_owned() => slot.ok(),
                () = &mut signal => break,
            },
        };
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
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
        let phase = Phase::new();
        let io = Guarded::new(tcp, phase.clone(), deadlines);
        let peer = options.peer_addr.then_some(PeerAddr(peer));
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            phase.body();
            let mut request = request.map(Body::new);
            if let Some(peer) = peer {
                request.extensions_mut().insert(peer);
            }
            router.clone().call(request)
        });
        let closing = closing.clone();
        let max_header_bytes = options.max_header_bytes;
        connections.spawn(async move {
            let _slot = slot;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.half_close(true);
            builder.max_header_size(max_header_bytes.max(1024));
            let mut connection = pin!(builder.serve_connection(TokioIo::new(io), service));
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
