//! The bot's own HTTP server: `/healthz`, `/metrics`, the media proxy and,
//! in webhook mode, the Telegram webhook (merged in by `main`).
//!
//! The port faces the internet, so the server is our own accept loop over
//! hyper rather than `axum::serve` (which has no limits to set):
//! - at most `max_connections` sockets at once, so idle clients cannot use up
//!   the file descriptors the bot needs for its own outbound calls; when full,
//!   the longest-open connection that is between requests is closed to make
//!   room, and only if every connection is busy is the newcomer turned away;
//! - a request head (or, on a kept-alive connection, the next one) must arrive
//!   within `HEADER_TIMEOUT`, so silent and slow-header clients are closed;
//! - small read buffers, so a thousand half-sent heads cost little memory;
//! - request bodies are read only by the webhook, after its secret, capped in
//!   size and time; a response never waits for an unread body (hyper closes
//!   such a connection after answering);
//! - a client that stops reading our answer is dropped after `WRITE_STALL`.

use std::{
    collections::VecDeque,
    convert::Infallible,
    future::Future,
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::{ConnectInfo, Path, State},
    http::{HeaderMap, HeaderValue, Request, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use metrics_exporter_prometheus::PrometheusHandle;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{media_proxy::MediaProxy, store::Store};

/// A request head must be complete this long after the connection opened or
/// the previous response was sent; Telegram and the video API send theirs at once.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Per-connection read buffer; request heads larger than this are refused.
/// Ours are a few hundred bytes, and hyper's default (about 400 KB) times a
/// thousand slow clients would be 400 MB.
const READ_BUFFER_BYTES: usize = 16 * 1024;
/// A client that reads none of our answer for this long is dropped (it would
/// hold its connection, and a media download, forever).
const WRITE_STALL: Duration = Duration::from_secs(30);
/// On shutdown, requests in progress get this long to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

pub struct HttpState {
    pub store: Store,
    pub media: MediaProxy,
    pub metrics: Option<PrometheusHandle>,
    /// `None`: `/metrics` answers loopback clients only.
    pub metrics_token: Option<SecretString>,
}

pub fn router(state: Arc<HttpState>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/media/{name}", get(media))
        .with_state(state)
}

async fn healthz(State(state): State<Arc<HttpState>>) -> Response {
    // A database that answers reads but refuses writes (full disk) cannot
    // take a single request: that is unhealthy too.
    match state.store.check_writable().await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(error) => {
            tracing::warn!(%error, "health check: database unreachable or not writable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable or not writable\n").into_response()
        }
    }
}

async fn metrics(
    State(state): State<Arc<HttpState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    match metrics_access(state.metrics_token.as_ref(), peer, &headers) {
        Ok(()) => {}
        Err(StatusCode::UNAUTHORIZED) => {
            return (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))])
                .into_response();
        }
        Err(status) => return status.into_response(),
    }
    if let Ok(open) = state.store.count_open().await {
        crate::metrics::open_tasks(open);
    }
    match &state.metrics {
        Some(handle) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle.render()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Without a token only the host itself may read the metrics (they tell how
/// busy the bot is and how much it spends); with one, whoever presents it.
/// Behind a reverse proxy on the same host every client looks local: set a token there.
fn metrics_access(token: Option<&SecretString>, peer: SocketAddr, headers: &HeaderMap) -> Result<(), StatusCode> {
    let Some(token) = token else {
        return if peer.ip().to_canonical().is_loopback() { Ok(()) } else { Err(StatusCode::FORBIDDEN) };
    };
    let presented = headers.get(header::AUTHORIZATION).and_then(|v| v.as_bytes().strip_prefix(b"Bearer "));
    match presented {
        Some(given) if bool::from(given.ct_eq(token.expose_secret().as_bytes())) => Ok(()),
        _ => Err(StatusCode::UNAUTHORIZED),
    }
}

/// Serves a photo to the video API while its token lives; everything else is 404.
async fn media(State(state): State<Arc<HttpState>>, Path(name): Path<String>) -> Response {
    state.media.respond(&state.store, &name).await
}

/// Binds first (so the address is known and logged), then serves until `shutdown`.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let listener = TcpListener::bind(addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "http server listening");
    Ok(listener)
}

/// Accepts until `shutdown`, then lets requests in progress finish (up to a grace period).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    max_connections: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let connections = Arc::new(Connections::new(max_connections));
    let tasks = TaskTracker::new();
    let stopping = CancellationToken::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors or similar: wait for some to be freed.
                    tracing::warn!(%error, "http accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Some(slot) = connections.admit() else {
            metrics::counter!("sora_http_connections_refused_total").increment(1);
            tracing::debug!(%peer, "http connection refused: every connection is busy");
            continue;
        };
        tasks.spawn(serve_connection(stream, peer, app.clone(), slot, stopping.clone()));
    }
    drop(listener);
    stopping.cancel();
    tasks.close();
    tasks.wait().await;
}

async fn serve_connection(stream: TcpStream, peer: SocketAddr, app: Router, slot: Slot, stopping: CancellationToken) {
    let _ = stream.set_nodelay(true);
    let evicted = slot.conn.evict.clone();
    let service = PerConnection { app, peer, conn: slot.conn.clone() };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(HEADER_TIMEOUT).max_buf_size(READ_BUFFER_BYTES);
    let connection = builder.serve_connection(TokioIo::new(StallGuard { stream, stalled_since: None }), service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(%peer, %error, "http connection ended");
            }
        }
        // Dropping the connection closes the socket.
        () = evicted.cancelled() => tracing::debug!(%peer, "idle http connection closed to make room"),
        () = stopping.cancelled() => {
            connection.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, connection).await;
        }
    }
    drop(slot);
}

/// The open connections, oldest first.
struct Connections {
    max: usize,
    open: Mutex<VecDeque<Arc<Conn>>>,
    next_id: AtomicU64,
}

struct Conn {
    id: u64,
    /// Requests whose response is not yet fully sent.
    busy: AtomicUsize,
    evict: CancellationToken,
}

/// A place among the open connections, given back on drop.
struct Slot {
    connections: Arc<Connections>,
    conn: Arc<Conn>,
}

impl Connections {
    fn new(max: usize) -> Self {
        Connections { max, open: Mutex::new(VecDeque::with_capacity(max)), next_id: AtomicU64::new(0) }
    }

    /// Room for one more connection; when full, the longest-open idle one is
    /// closed for it (a client that never sends leaves first). `None` if all are busy.
    fn admit(self: &Arc<Self>) -> Option<Slot> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if open.len() >= self.max {
            let idle = open.iter().position(|c| c.busy.load(Ordering::Acquire) == 0)?;
            if let Some(victim) = open.remove(idle) {
                victim.evict.cancel();
                metrics::counter!("sora_http_connections_evicted_total").increment(1);
            }
        }
        let conn = Arc::new(Conn {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            busy: AtomicUsize::new(0),
            evict: CancellationToken::new(),
        });
        open.push_back(conn.clone());
        Some(Slot { connections: self.clone(), conn })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.connections.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(at) = open.iter().position(|c| c.id == self.conn.id) {
            open.remove(at);
        }
    }
}

/// Marks a connection busy from the request head until its response body is dropped.
struct Busy(Arc<Conn>);

impl Busy {
    fn start(conn: Arc<Conn>) -> Self {
        conn.busy.fetch_add(1, Ordering::AcqRel);
        Busy(conn)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The router for one connection: adds the peer address (for `/metrics`) and
/// keeps the connection marked busy while a response is being sent.
#[derive(Clone)]
struct PerConnection {
    app: Router,
    peer: SocketAddr,
    conn: Arc<Conn>,
}

impl hyper::service::Service<Request<Incoming>> for PerConnection {
    type Response = Response<TrackedBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let busy = Busy::start(self.conn.clone());
        let mut app = self.app.clone();
        Box::pin(async move {
            // A Router is always ready; `call` needs no `poll_ready` first.
            let response = tower_service::Service::call(&mut app, request).await?;
            Ok(response.map(|body| TrackedBody { body, _busy: busy }))
        })
    }
}

struct TrackedBody {
    body: Body,
    _busy: Busy,
}

impl http_body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// The socket, failing a write that has made no progress for `WRITE_STALL`.
struct StallGuard {
    stream: TcpStream,
    stalled_since: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl StallGuard {
    fn progress<T>(&mut self, cx: &mut Context<'_>, poll: Poll<std::io::Result<T>>) -> Poll<std::io::Result<T>> {
        if poll.is_ready() {
            self.stalled_since = None;
            return poll;
        }
        let deadline = self.stalled_since.get_or_insert_with(|| Box::pin(tokio::time::sleep(WRITE_STALL)));
        match deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(std::io::ErrorKind::TimedOut.into())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl tokio::io::AsyncRead for StallGuard {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for StallGuard {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.progress(cx, poll)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.progress(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.stream).poll_flush(cx);
        this.progress(cx, poll)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests;
