use super::*;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, Request};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

const KEY: &str = "sk-test-9f8e7d6c5b4a";

// ---- against a fake server -------------------------------------------

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    raw_query: Option<String>,
    params: HashMap<String, String>,
    headers: HeaderMap,
    body: String,
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// Serves `status` + `body` for every request, recording the requests.
async fn fake(status: u16, body: impl Into<String>) -> (String, Log) {
    let body: String = body.into();
    let log: Log = Arc::default();
    let seen = log.clone();
    let app = Router::new().fallback(move |req: Request| {
        let body = body.clone();
        let seen = seen.clone();
        async move {
            let (parts, req_body) = req.into_parts();
            let bytes = axum::body::to_bytes(req_body, usize::MAX).await.unwrap();
            let params = Query::<HashMap<String, String>>::try_from_uri(&parts.uri).map(|q| q.0).unwrap_or_default();
            seen.lock().unwrap().push(Seen {
                method: parts.method.to_string(),
                path: parts.uri.path().to_owned(),
                raw_query: parts.uri.query().map(str::to_owned),
                params,
                headers: parts.headers,
                body: String::from_utf8_lossy(&bytes).into_owned(),
            });
            Response::builder()
                .status(StatusCode::from_u16(status).unwrap())
                .header("content-type", "application/json")
                .body(Body::from(body))
                .unwrap()
        }
    });
    (serve(app).await, log)
}

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    format!("http://{addr}")
}

fn api(base: &str) -> VideoApi {
    VideoApi::new(base, SecretString::from(KEY))
}

fn sample_images() -> Vec<String> {
    vec!["https://img.example/a.jpg".to_owned(), "data:image/png;base64,iVBOR".to_owned()]
}

async fn create_with(api: &VideoApi) -> Result<Created, ApiError> {
    let images = sample_images();
    api.create(&CreateRequest {
        images: &images,
        model: Model::Sora2,
        orientation: Orientation::Portrait,
        prompt: "a red fox in snow",
        size: Size::Large,
        duration: 15,
    })
    .await
}

mod client;
mod errors;
mod status;
