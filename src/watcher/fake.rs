//! Test doubles on one local HTTP server: a Bot API that records calls and can
//! be told to refuse some, a video API answering scripted queries, and video files.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::State,
    http::{StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use crate::{config::Config, net_guard::GuardedClient, telegram::Telegram, video_api::VideoApi};

/// Shaped like a bot token, but not like a real one (no secret-scan false alarm).
pub const TOKEN: &str = "123456789:test-token-for-the-watcher-fake-api";

#[derive(Debug, Clone)]
pub struct Call {
    /// Lowercase, e.g. `sendvideo`.
    pub method: String,
    /// JSON body, or the text fields of a multipart body (JSON-looking ones parsed).
    pub json: Value,
    /// Contents of an uploaded file.
    pub upload: Option<Bytes>,
}

#[derive(Default)]
struct Inner {
    calls: Vec<Call>,
    /// Method (lowercase) → descriptions of errors to answer next.
    refusals: HashMap<String, VecDeque<String>>,
    /// Path → (bytes, send without Content-Length).
    files: HashMap<String, (Bytes, bool)>,
    /// Path → Location of a 302 answer.
    redirects: HashMap<String, String>,
    /// GETs of served files and redirects.
    file_requests: usize,
    /// Query answers; the last one repeats.
    answers: VecDeque<Value>,
    queries: usize,
}

#[derive(Clone)]
pub struct Fake {
    pub base: String,
    inner: Arc<Mutex<Inner>>,
}

impl Fake {
    pub async fn start() -> Fake {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new().fallback(handle).with_state(inner.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Fake { base, inner }
    }

    pub fn telegram(&self) -> Telegram {
        let vars = HashMap::from([
            ("TELOXIDE_TOKEN", TOKEN.to_owned()),
            ("TELOXIDE_API_URL", self.base.clone()),
            ("VIDEO_API_KEY", "test-key".to_owned()),
            ("TELEGRAM_SEND_LIMITS", "off".to_owned()),
        ]);
        let config = Config::from_lookup(|name| vars.get(name).cloned()).unwrap();
        Telegram::new(&config)
    }

    pub fn video_api(&self) -> VideoApi {
        VideoApi::new(&self.base, "test-key".to_owned().into())
            .with_timeouts(Duration::from_secs(5), Duration::from_secs(5))
    }

    /// A download client trusting this fake's origin, as the bot trusts `VIDEO_API_BASE_URL`.
    pub fn downloads(&self) -> GuardedClient {
        GuardedClient::new(Some(&self.base.parse().unwrap()))
    }

    /// Serves `bytes` at `{base}{path}`, with or without Content-Length.
    pub fn serve(&self, path: &str, bytes: Vec<u8>, chunked: bool) -> String {
        self.lock().files.insert(path.to_owned(), (bytes.into(), chunked));
        format!("{}{path}", self.base)
    }

    /// Answers `{base}{path}` with a redirect to `location`.
    pub fn redirect(&self, path: &str, location: &str) -> String {
        self.lock().redirects.insert(path.to_owned(), location.to_owned());
        format!("{}{path}", self.base)
    }

    /// How many times a served file or redirect was asked for.
    pub fn file_requests(&self) -> usize {
        self.lock().file_requests
    }

    pub fn refuse_next(&self, method: &str, description: &str) {
        self.lock().refusals.entry(method.to_ascii_lowercase()).or_default().push_back(description.to_owned());
    }

    pub fn answer_queries(&self, answers: impl IntoIterator<Item = Value>) {
        self.lock().answers.extend(answers);
    }

    pub fn queries(&self) -> usize {
        self.lock().queries
    }

    /// Successful calls of `method`.
    pub fn calls(&self, method: &str) -> Vec<Call> {
        let method = method.to_ascii_lowercase();
        self.lock().calls.iter().filter(|c| c.method == method).cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap()
    }
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    uri: Uri,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path();
    if path == "/v1/video/query" {
        let mut inner = inner.lock().unwrap();
        inner.queries += 1;
        let answer = if inner.answers.len() > 1 { inner.answers.pop_front() } else { inner.answers.front().cloned() };
        return axum::Json(answer.unwrap_or_else(|| json!({"status": "queued"}))).into_response();
    }
    if let Some(method) = path.strip_prefix(&format!("/bot{TOKEN}/")) {
        let method = method.to_ascii_lowercase();
        let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let mut inner = inner.lock().unwrap();
        if let Some(description) = inner.refusals.get_mut(&method).and_then(VecDeque::pop_front) {
            let refusal = json!({"ok": false, "error_code": 400, "description": description});
            return (StatusCode::BAD_REQUEST, axum::Json(refusal)).into_response();
        }
        let (json, upload) = match content_type.split_once("boundary=") {
            Some((_, boundary)) => parse_multipart(&body, boundary.trim_matches('"')),
            None => (serde_json::from_slice(&body).unwrap_or(Value::Null), None),
        };
        inner.calls.push(Call { method: method.clone(), json, upload });
        let message_id = inner.calls.len() as i64 + 1000;
        let result = match method.as_str() {
            "sendchataction" => json!(true),
            _ => {
                json!({"message_id": message_id, "date": 0, "chat": {"id": 1, "type": "private", "first_name": "T"}, "text": "ok"})
            }
        };
        return axum::Json(json!({"ok": true, "result": result})).into_response();
    }
    let (file, redirect) = {
        let mut inner = inner.lock().unwrap();
        inner.file_requests += 1;
        (inner.files.get(path).cloned(), inner.redirects.get(path).cloned())
    };
    if let Some(location) = redirect {
        return (StatusCode::FOUND, [(header::LOCATION, location)]).into_response();
    }
    match file {
        Some((bytes, false)) => bytes.into_response(),
        Some((bytes, true)) => {
            let chunks: Vec<Result<Bytes, std::io::Error>> =
                bytes.chunks(1000).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
            Body::from_stream(futures_util::stream::iter(chunks)).into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Just enough multipart/form-data for teloxide's requests.
fn parse_multipart(body: &[u8], boundary: &str) -> (Value, Option<Bytes>) {
    let delimiter = format!("--{boundary}");
    let mut fields = serde_json::Map::new();
    let mut upload = None;
    for part in split(body, delimiter.as_bytes()).into_iter().skip(1) {
        let Some(split_at) = part.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
        let head = String::from_utf8_lossy(&part[..split_at]);
        let content = part[split_at + 4..].strip_suffix(b"\r\n").unwrap_or(&part[split_at + 4..]);
        let Some(name) = head.split("name=\"").nth(1).and_then(|rest| rest.split('"').next()) else { continue };
        if head.contains("filename=") {
            upload = Some(Bytes::copy_from_slice(content));
        } else {
            let text = String::from_utf8_lossy(content).into_owned();
            fields.insert(name.to_owned(), serde_json::from_str(&text).unwrap_or(Value::String(text)));
        }
    }
    (Value::Object(fields), upload)
}

fn split<'a>(mut haystack: &'a [u8], needle: &[u8]) -> Vec<&'a [u8]> {
    let mut parts = Vec::new();
    while let Some(at) = haystack.windows(needle.len()).position(|w| w == needle) {
        parts.push(&haystack[..at]);
        haystack = &haystack[at + needle.len()..];
    }
    parts.push(haystack);
    parts
}
