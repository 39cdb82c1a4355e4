//! Read deadlines for one connection, without a timer on the fast path.
//!
//! [`Guarded`] wraps a connection's socket and knows which phase the connection is in: reading a
//! request's head (a fresh connection, or once the first byte of the next request arrived),
//! reading its body (from when the service is called), or idle between requests (after the
//! response started). A read that would wait in the head or body phase arms one deadline for
//! that phase (the header or body read timeout); a read past it fails, and hyper closes the
//! connection. A request whose head and body arrive with it never waits, so it never arms a
//! timer; a client that trickles a body is closed when its body deadline passes, however often
//! it sends a byte. An idle keep-alive connection waits without a deadline (the connection cap
//! bounds those).
//!
//! Once the body is read the service runs without reading (hyper's `half_close`: see
//! `serve.rs`), so a run that takes longer than the body timeout is not affected.

use pin_project_lite::pin_project;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

const HEAD: u8 = 0;
const BODY: u8 = 1;
const IDLE: u8 = 2;

/// The phase of one connection, shared by its socket wrapper and its service.
#[derive(Debug)]
pub(crate) struct Phase(AtomicU8);

impl Phase {
    pub(crate) fn new() -> Arc<Phase> {
        Arc::new(Phase(AtomicU8::new(HEAD)))
    }

    /// The service was called: the head is read, the body is next.
    pub(crate) fn body(&self) {
        self.0.store(BODY, Ordering::Relaxed);
    }

    fn get(&self) -> u8 {
        self.0.load(Ordering::Relaxed)
    }

    fn set(&self, phase: u8) {
        self.0.store(phase, Ordering::Relaxed);
    }
}

/// The read timeouts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadlines {
    pub header: Duration,
    pub body: Duration,
}

pin_project! {
    /// A socket whose reads fail once the current request has taken too long to arrive.
    pub(crate) struct Guarded<T> {
        #[pin]
        inner: T,
        phase: Arc<Phase>,
        deadlines: Deadlines,
        // The phase the deadline was armed for, if armed.
        armed: Option<u8>,
        // Allocated the first time a read waits mid-request; reset after that.
        sleep: Option<Pin<Box<Sleep>>>,
    }
}

impl<T> Guarded<T> {
    pub(crate) fn new(inner: T, phase: Arc<Phase>, deadlines: Deadlines) -> Guarded<T> {
        Guarded {
            inner,
            phase,
            deadlines,
            armed: None,
            sleep: None,
        }
    }
}

impl<T: AsyncRead> AsyncRead for Guarded<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        let before = buf.filled().len();
        match this.inner.poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before && this.phase.get() == IDLE {
                    // The first bytes of the next request.
                    this.phase.set(HEAD);
                    *this.armed = None;
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                let phase = this.phase.get();
                let limit = match phase {
                    HEAD => this.deadlines.header,
                    BODY => this.deadlines.body,
                    _ => {
                        *this.armed = None;
                        return Poll::Pending;
                    }
                };
                if *this.armed != Some(phase) {
                    let deadline = Instant::now() + limit;
                    match this.sleep {
                        Some(sleep) => sleep.as_mut().reset(deadline),
                        None => *this.sleep = Some(Box::pin(tokio::time::sleep_until(deadline))),
                    }
                    *this.armed = Some(phase);
                }
                if let Some(sleep) = this.sleep.as_mut() {
                    ready!(sleep.as_mut().poll(cx));
                }
                let what = if phase == HEAD { "headers" } else { "body" };
                tracing::debug!("closing a connection: request {what} not received in time");
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("request {what} not received in time"),
                )))
            }
        }
    }
}

impl<T: AsyncWrite> AsyncWrite for Guarded<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        if this.phase.get() != IDLE {
            // The response has started: the request is read.
            this.phase.set(IDLE);
            *this.armed = None;
        }
        this.inner.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        if this.phase.get() != IDLE {
            this.phase.set(IDLE);
            *this.armed = None;
        }
        this.inner.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }
}
