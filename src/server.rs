//! The HTTP server: hyper's connection builder (hyper-util) under our accept loop, which bounds what
//! connections may cost.
//!
//! - A request's headers must arrive within the header read timeout: hyper's timer, from the first
//!   byte of a request (it also restarts when a kept-alive connection goes idle); a socket that never
//!   sends a byte is held to the same bound by the accept loop.
//! - A connection with no request in flight and no traffic for the idle timeout is closed.
//! - At most `max_connections` connections are served (by default derived from the process's
//!   file-descriptor limit, leaving room for the database, log and files). Admitting one more closes
//!   the connection idle longest first, as nginx reuses keep-alive connections under pressure; when
//!   every connection is busy, new ones wait in the listen backlog.
//! - On shutdown every connection is asked to finish its request and close; `drain` bounds the wait.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tower::Service;

/// File descriptors kept free for everything but client connections: the database pools, the
/// listener, log output, migrations and the odd file.
const RESERVED_FDS: u64 = 64;

/// Bounds on client connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    /// `None`: derived from the file-descriptor limit.
    pub max_connections: Option<usize>,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: None,
        }
    }
}

impl ConnectionLimits {
    /// The cap in force: the configured one, never more than the descriptors the process may open
    /// beyond [`RESERVED_FDS`].
    pub fn effective_max_connections(&self) -> usize {
        let by_fds = fd_limit().map(|n| n.saturating_sub(RESERVED_FDS).max(16) as usize);
        match (self.max_connections, by_fds) {
            (Some(max), Some(fds)) => max.min(fds),
            (Some(max), None) => max,
            (None, Some(fds)) => fds.min(10_000),
            (None, None) => 1_000,
        }
    }
}

/// The soft `RLIMIT_NOFILE`, if known.
fn fd_limit() -> Option<u64> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes the struct it is given and nothing else.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0;
    (ok && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur)
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets in-flight requests finish for
/// at most `drain`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain: Duration,
    limits: ConnectionLimits,
) -> std::io::Result<()> {
    let registry = Arc::new(Registry::new(limits.effective_max_connections()));
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
    let builder = Arc::new(builder);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        // Wait for room (evicting an idle connection if there is one) before accepting.
        tokio::select! {
            () = registry.wait_for_room() => {}
            () = &mut shutdown => break,
        }
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    // Out of descriptors or similar: back off briefly instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Responses go out as soon as they are written: no Nagle wait behind an unacknowledged segment.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "could not set TCP_NODELAY");
        }
        let conn = registry.admit();
        tokio::spawn(serve_connection(
            tcp,
            app.clone(),
            builder.clone(),
            conn,
            registry.clone(),
            limits,
            stop_rx.clone(),
        ));
    }
    drop(listener);
    let _ = stop_tx.send(true);
    if tokio::time::timeout(drain, registry.all_closed()).await.is_err() {
        tracing::warn!(?drain, "drain timeout reached; dropping remaining connections");
    }
    Ok(())
}

async fn serve_connection(
    tcp: TcpStream,
    app: Router,
    builder: Arc<Builder<TokioExecutor>>,
    conn: Arc<ConnState>,
    registry: Arc<Registry>,
    limits: ConnectionLimits,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let idle_timeout = limits.idle_timeout;
    let io = TokioIo::new(Tracked { inner: tcp, conn: conn.clone() });
    let service = hyper::service::service_fn({
        let conn = conn.clone();
        move |req: hyper::Request<hyper::body::Incoming>| {
            let mut app = app.clone();
            let busy = Busy::start(&conn);
            async move {
                let response = app.call(req.map(axum::body::Body::new)).await;
                drop(busy);
                response
            }
        }
    });
    let serving = builder.serve_connection_with_upgrades(io, service);
    tokio::pin!(serving);
    let mut ticker =
        tokio::time::interval(Duration::from_secs(1).min(idle_timeout).min(limits.header_read_timeout));
    let mut closing = false;
    loop {
        tokio::select! {
            result = serving.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended");
                }
                break;
            }
            () = conn.evict.notified(), if !closing => {
                closing = true;
                serving.as_mut().graceful_shutdown();
            }
            changed = stop.changed(), if !closing => {
                if changed.is_err() || *stop.borrow() {
                    closing = true;
                    serving.as_mut().graceful_shutdown();
                }
            }
            _ = ticker.tick(), if !closing => {
                // hyper's header timer starts with the first byte: a socket that never sends one is
                // held to the same bound here.
                let silent = conn.last_activity_ms.load(Ordering::Relaxed) == 0
                    && conn.started.elapsed() >= limits.header_read_timeout;
                if silent || conn.idle_for() >= idle_timeout {
                    closing = true;
                    serving.as_mut().graceful_shutdown();
                }
            }
        }
    }
    registry.remove(&conn);
}

/// One connection's activity, shared by its IO, its service and the registry.
struct ConnState {
    id: u64,
    started: Instant,
    /// Milliseconds after `started` of the last byte read or written.
    last_activity_ms: AtomicU64,
    in_flight: AtomicUsize,
    evict: Notify,
    /// Asked to close already (so admitting twice does not pick it twice).
    evicted: AtomicBool,
}

impl ConnState {
    fn touch(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_activity_ms.store(ms, Ordering::Relaxed);
    }

    /// How long it has had no request in flight and no traffic; zero while a request runs.
    fn idle_for(&self) -> Duration {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return Duration::ZERO;
        }
        let last = Duration::from_millis(self.last_activity_ms.load(Ordering::Relaxed));
        self.started.elapsed().saturating_sub(last)
    }
}

/// Counts a request in flight on its connection, however it ends.
struct Busy(Arc<ConnState>);

impl Busy {
    fn start(conn: &Arc<ConnState>) -> Self {
        conn.in_flight.fetch_add(1, Ordering::Relaxed);
        Busy(conn.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The open connections.
struct Registry {
    max: usize,
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Arc<ConnState>>>,
    /// Woken when a connection closes.
    closed: Notify,
}

impl Registry {
    fn new(max: usize) -> Self {
        Registry {
            max: max.max(1),
            next_id: AtomicU64::new(0),
            open: Mutex::new(HashMap::new()),
            closed: Notify::new(),
        }
    }

    fn admit(&self) -> Arc<ConnState> {
        let conn = Arc::new(ConnState {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            started: Instant::now(),
            last_activity_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            evict: Notify::new(),
            evicted: AtomicBool::new(false),
        });
        self.open.lock().expect("registry lock").insert(conn.id, conn.clone());
        conn
    }

    fn remove(&self, conn: &ConnState) {
        self.open.lock().expect("registry lock").remove(&conn.id);
        self.closed.notify_waiters();
    }

    /// Returns once another connection may be admitted: at once below the cap; at the cap, after
    /// asking the connection idle longest to close (it is admitted meanwhile: closing an idle
    /// connection is immediate), or once any connection closes when all are busy.
    async fn wait_for_room(&self) {
        loop {
            let closed = self.closed.notified();
            {
                let open = self.open.lock().expect("registry lock");
                if open.len() < self.max {
                    return;
                }
                let evicting = open.values().filter(|c| c.evicted.load(Ordering::Relaxed)).count();
                let idlest = open
                    .values()
                    .filter(|c| !c.evicted.load(Ordering::Relaxed) && c.idle_for() > Duration::ZERO)
                    .max_by_key(|c| c.idle_for());
                // Connections on their way out make room too, up to a burst as large as the cap.
                if let Some(conn) = idlest.filter(|_| evicting < self.max) {
                    conn.evicted.store(true, Ordering::Relaxed);
                    conn.evict.notify_one();
                    return;
                }
            }
            closed.await;
        }
    }

    async fn all_closed(&self) {
        loop {
            let closed = self.closed.notified();
            if self.open.lock().expect("registry lock").is_empty() {
                return;
            }
            closed.await;
        }
    }
}

/// The socket, recording traffic on its connection.
struct Tracked {
    inner: TcpStream,
    conn: Arc<ConnState>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.conn.touch();
        }
        poll
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.conn.touch();
        }
        poll
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.conn.touch();
        }
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
