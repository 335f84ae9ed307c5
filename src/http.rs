//! The bot's own HTTP server: `/healthz`, `/metrics`, the media proxy and,
//! in webhook mode, the Telegram webhook (merged in by `main`).

use std::{future::Future, net::SocketAddr, sync::Arc};

use axum::{
    Router,
    extract::{Path, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;

use crate::{
    images::{ImageUrls, media_token},
    store::Store,
};

pub struct HttpState {
    pub store: Store,
    pub images: ImageUrls,
    pub metrics: Option<PrometheusHandle>,
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

async fn metrics(State(state): State<Arc<HttpState>>) -> Response {
    if let Ok(open) = state.store.count_open().await {
        crate::metrics::open_tasks(open);
    }
    match &state.metrics {
        Some(handle) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle.render()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Serves a photo to the video API while its token lives; everything else is 404.
async fn media(State(state): State<Arc<HttpState>>, Path(name): Path<String>) -> Response {
    let Some(token) = media_token(&name) else { return StatusCode::NOT_FOUND.into_response() };
    let file_id = match state.store.media_file(token).await {
        Ok(Some(file_id)) => file_id,
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(error) => {
            tracing::warn!(%error, "media lookup failed");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    match state.images.fetch(&file_id).await {
        Ok(image) => ([(header::CONTENT_TYPE, image.content_type), (header::CACHE_CONTROL, "private, max-age=600")], image.bytes)
            .into_response(),
        Err(error) => {
            tracing::warn!(%error, "media proxy could not fetch a photo");
            StatusCode::BAD_GATEWAY.into_response()
        }
    }
}

/// Binds first (so the address is known and logged), then serves until `shutdown`.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let listener = TcpListener::bind(addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "http server listening");
    Ok(listener)
}

pub async fn serve(listener: TcpListener, app: Router, shutdown: impl Future<Output = ()> + Send + 'static) {
    if let Err(error) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
        tracing::error!(%error, "http server stopped");
    }
}
