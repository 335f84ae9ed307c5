//! Client for the yunwu.ai video API (create and query a Sora-2 task) and the pure mapping of
//! its task answers to [`TaskReport`]s.
//!
//! * `create` posts one generation request. It is never retried here: a
//!   request that timed out after it was sent may already have cost money
//!   ([`ApiError::Timeout`] with `request_sent: true`).
//! * `query` fetches the state of one task; the caller decides whether and when
//!   to ask again ([`ApiError::is_transient`]).
//! * `list_models` asks which models the key may use (free of charge).
//!
//! Secrets: the API key is only ever put into the `Authorization` header
//! (marked sensitive). Every answer body is scrubbed (the key, `Bearer …`,
//! `sk-…` and Telegram `/file/bot<token>` URLs are replaced by `[REDACTED]`)
//! before anything from it is parsed, stored in an error or logged, and
//! reqwest errors are formatted only after `without_url()`.

use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::Value;

use crate::{
    command::VideoOptions,
    models::{Family, ModelName, Shape, ShapeClass, Size},
};

mod error;
mod status;

pub use error::ApiError;
use error::{error_fields, map_reqwest_error, scrub_secrets};
pub use status::{Stage, TaskPhase, TaskReport, interpret_query};

/// Default timeout of a create request (connect + send + whole answer).
pub const DEFAULT_CREATE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default timeout of a query request.
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(20);
/// Default timeout of a model listing: it runs in the background and the
/// next one comes minutes later, so a slow relay is better given up on.
pub const DEFAULT_MODELS_TIMEOUT: Duration = Duration::from_secs(10);
/// Timeout of establishing the TCP/TLS connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest successful answer body read; anything longer is a bad response.
const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Largest model listing read. A relay may list hundreds of models, each
/// with permission records, and a listing cut short would fail on every try.
const MAX_LISTING_BYTES: usize = 4 * 1024 * 1024;
/// Largest error answer body read; anything longer yields no message.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;
/// Longest upstream message kept in an [`ApiError`] / shown to a user.
const MAX_MESSAGE_CHARS: usize = 300;
/// Longest `detail` of [`ApiError::BadResponse`] / [`ApiError::Network`].
const MAX_DETAIL_CHARS: usize = 200;
/// What secrets found in upstream text are replaced with.
const REDACTED: &str = "[REDACTED]";

// ---------------------------------------------------------------------------
// Request / answer types
// ---------------------------------------------------------------------------

/// Body of `POST /v1/video/create`: `images`, `model` and `prompt`, plus
/// the fields of the model's family and nothing else. Sora's body keeps the
/// exact shape and order it always had:
/// `{"images": [...], "model": "...", "orientation": "...", "prompt": "...",
/// "size": "...", "duration": 15}`.
#[derive(Serialize)]
#[serde(untagged)]
pub enum CreateRequest<'a> {
    Sora {
        images: &'a [String],
        model: ModelName,
        orientation: &'static str,
        prompt: &'a str,
        size: &'static str,
        duration: u32,
    },
    Veo {
        images: &'a [String],
        model: ModelName,
        prompt: &'a str,
        #[serde(serialize_with = "ratio")]
        aspect_ratio: Shape,
        enhance_prompt: bool,
        enable_upsample: bool,
    },
    /// Jimeng and Grok: a ratio and a size word of their own.
    Sized {
        images: &'a [String],
        model: ModelName,
        prompt: &'a str,
        #[serde(serialize_with = "ratio")]
        aspect_ratio: Shape,
        size: &'static str,
    },
}

/// `9:16`: the families with an aspect ratio take it as written so.
fn ratio<S: serde::Serializer>(shape: &Shape, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(shape)
}

impl<'a> CreateRequest<'a> {
    /// `options` must be valid for a model of `family` (as parsing makes them).
    pub fn new(images: &'a [String], prompt: &'a str, options: &VideoOptions, family: Family) -> Self {
        let VideoOptions { model, shape, size, duration } = *options;
        let wide = shape.class() == ShapeClass::Wide;
        match family {
            Family::Sora => CreateRequest::Sora {
                images,
                model,
                orientation: if wide { "landscape" } else { "portrait" },
                prompt,
                size: size.unwrap_or(Size::Large).as_str(),
                duration: duration.unwrap_or(15),
            },
            Family::Veo => CreateRequest::Veo {
                images,
                model,
                prompt,
                aspect_ratio: shape,
                enhance_prompt: true,
                enable_upsample: size == Some(Size::Large),
            },
            Family::Jimeng => CreateRequest::Sized {
                images,
                model,
                prompt,
                aspect_ratio: shape,
                size: match (size, wide) {
                    (Some(Size::Small), true) => "1280x720",
                    (Some(Size::Small), false) => "720x1280",
                    _ => "1080P",
                },
            },
            Family::Grok => CreateRequest::Sized { images, model, prompt, aspect_ratio: shape, size: "720P" },
        }
    }

    fn parts(&self) -> (&[String], ModelName, &str) {
        match *self {
            CreateRequest::Sora { images, model, prompt, .. }
            | CreateRequest::Veo { images, model, prompt, .. }
            | CreateRequest::Sized { images, model, prompt, .. } => (images, model, prompt),
        }
    }
}

impl fmt::Debug for CreateRequest<'_> {
    // Image URLs can be megabyte-long data: URLs or carry secrets, and the
    // prompt is user content: only their sizes are shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (images, model, prompt) = self.parts();
        f.debug_struct("CreateRequest")
            .field("model", &model)
            .field("images", &format_args!("<{} image(s)>", images.len()))
            .field("prompt", &format_args!("<{} chars>", prompt.chars().count()))
            .finish_non_exhaustive()
    }
}

/// Answer of a successful create.
#[derive(Debug, Clone, PartialEq)]
pub struct Created {
    pub id: String,
    /// Upstream status as given; `"pending"` when the answer had none.
    pub status: String,
}

// ---------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------

/// Client of the yunwu.ai video API. Cheap to clone (shares one connection
/// pool).
#[derive(Clone)]
pub struct VideoApi {
    http: reqwest::Client,
    base_url: String,
    create_url: Endpoint,
    query_url: Endpoint,
    models_url: Endpoint,
    api_key: SecretString,
    create_timeout: Duration,
    query_timeout: Duration,
    models_timeout: Duration,
}

impl fmt::Debug for VideoApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VideoApi")
            .field("base_url", &self.base_url)
            .field("api_key", &REDACTED)
            .field("create_timeout", &self.create_timeout)
            .field("query_timeout", &self.query_timeout)
            .field("models_timeout", &self.models_timeout)
            .finish()
    }
}

/// One of the API's URLs, parsed once: given as text, reqwest parses it again
/// on every request. A base that does not parse stays text, and its requests
/// fail as reqwest reports such a URL.
#[derive(Clone)]
struct Endpoint(Result<reqwest::Url, String>);

impl Endpoint {
    fn new(base_url: &str, path: &str) -> Self {
        let raw = format!("{base_url}{path}");
        Endpoint(reqwest::Url::parse(&raw).map_err(|_| raw))
    }
}

/// A failed call: the error plus the HTTP status, when there was one, for the
/// operator's log line.
struct Failure {
    http_status: Option<u16>,
    error: ApiError,
}

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Self {
        Failure { http_status: None, error }
    }
}

/// Named in logs as `create` / `query` / `models`.
#[derive(Clone, Copy, strum::IntoStaticStr)]
#[strum(serialize_all = "lowercase")]
enum Op {
    Create,
    Query,
    Models,
}

impl VideoApi {
    /// `base_url` like `"https://yunwu.ai"` or `"http://127.0.0.1:1234"`
    /// (trailing slashes tolerated). Timeouts: create 60 s, query 20 s,
    /// model listing 10 s, connect 10 s.
    pub fn new(base_url: &str, api_key: SecretString) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            // The API does not redirect; following one could turn the POST
            // into a GET or leave the configured host.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("sora-bot/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client (rustls) could not be initialised");
        let base_url = base_url.trim().trim_end_matches('/').to_owned();
        VideoApi {
            http,
            create_url: Endpoint::new(&base_url, "/v1/video/create"),
            query_url: Endpoint::new(&base_url, "/v1/video/query"),
            models_url: Endpoint::new(&base_url, "/v1/models"),
            base_url,
            api_key,
            create_timeout: DEFAULT_CREATE_TIMEOUT,
            query_timeout: DEFAULT_QUERY_TIMEOUT,
            models_timeout: DEFAULT_MODELS_TIMEOUT,
        }
    }

    fn request(&self, method: Method, endpoint: &Endpoint) -> reqwest::RequestBuilder {
        match &endpoint.0 {
            Ok(url) => self.http.request(method, url.clone()),
            Err(raw) => self.http.request(method, raw.as_str()),
        }
    }

    /// Replaces the whole-request timeouts of create and query.
    pub fn with_timeouts(mut self, create: Duration, query: Duration) -> Self {
        self.create_timeout = create;
        self.query_timeout = query;
        self
    }

    /// Replaces the whole-request timeout of `list_models`.
    pub fn with_models_timeout(mut self, timeout: Duration) -> Self {
        self.models_timeout = timeout;
        self
    }

    /// `POST {base}/v1/video/create`. Not retried: on
    /// `Timeout { request_sent: true }` the task may exist upstream.
    pub async fn create(&self, req: &CreateRequest<'_>) -> Result<Created, ApiError> {
        let result = async {
            let builder = self.request(Method::POST, &self.create_url).timeout(self.create_timeout).json(req);
            let body = self.send(builder, MAX_BODY_BYTES).await?;
            parse_created(&body).map_err(Failure::from)
        }
        .await;
        self.log_failure(Op::Create, None, result)
    }

    /// `GET {base}/v1/video/query?id={id}`. Not retried here.
    pub async fn query(&self, id: &str) -> Result<TaskReport, ApiError> {
        let result = async {
            let builder = self.request(Method::GET, &self.query_url).query(&[("id", id)]).timeout(self.query_timeout);
            let body = self.send(builder, MAX_BODY_BYTES).await?;
            let value = parse_json(&body).map_err(Failure::from)?;
            interpret_query(&value).map_err(Failure::from)
        }
        .await;
        self.log_failure(Op::Query, Some(id), result)
    }

    /// `GET {base}/v1/models`: the model ids the key may use, in the order
    /// given, without duplicates. OneAPI-style relays answer
    /// `{"data": [{"id": "veo3.1-fast", …}, …]}`; entries without a string
    /// id are skipped, an answer without a `data` list is a bad response.
    pub async fn list_models(&self) -> Result<Vec<String>, ApiError> {
        let result = async {
            let builder = self.request(Method::GET, &self.models_url).timeout(self.models_timeout);
            let body = self.send(builder, MAX_LISTING_BYTES).await?;
            parse_models(&body).map_err(Failure::from)
        }
        .await;
        self.log_failure(Op::Models, None, result)
    }

    /// Logs one line for a failed call and drops the HTTP status. A failed
    /// listing is only a debug line: it is retried every few minutes, and
    /// its caller warns once per run of failures.
    fn log_failure<T>(&self, op: Op, task_id: Option<&str>, result: Result<T, Failure>) -> Result<T, ApiError> {
        result.map_err(|failure| {
            let err = failure.error;
            let listing = matches!(op, Op::Models);
            let (op, task_id, http_status, kind) =
                (<&str>::from(op), task_id.unwrap_or("-"), failure.http_status, err.kind());
            if listing {
                tracing::debug!(op, task_id, http_status, kind, error = %err, "video API call failed");
            } else {
                tracing::warn!(op, task_id, http_status, kind, error = %err, "video API call failed");
            }
            err
        })
    }

    /// Sends with auth and `Accept`, reads a capped body and classifies
    /// non-2xx answers. Returns the scrubbed body text of a 2xx answer of at
    /// most `cap` bytes.
    async fn send(&self, builder: reqwest::RequestBuilder, cap: usize) -> Result<String, Failure> {
        let response = builder
            .bearer_auth(self.api_key.expose_secret())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| Failure::from(map_reqwest_error(e)))?;
        let status = response.status();
        let code = status.as_u16();

        if !status.is_success() {
            // A 4xx is a refusal by whoever answered (gateways report their
            // trouble with 5xx), so nothing was made. A 5xx is the API's own
            // refusal only with its JSON error; a gateway's page (502, 504,
            // 52x, HTML, an unreadable body) may come after the job was taken.
            let body = match read_capped(response, MAX_ERROR_BODY_BYTES).await {
                Ok(Some(bytes)) => serde_json::from_str::<Value>(&self.scrub(&String::from_utf8_lossy(&bytes)))
                    .ok()
                    .filter(Value::is_object),
                _ => None,
            };
            let refused_by_api = match code {
                400..=499 => true,
                500..=599 => body.is_some() && !matches!(code, 502 | 504 | 520..=527),
                _ => false,
            };
            let fields = body.as_ref().map(error_fields);
            let quota = fields.as_ref().is_some_and(|f| f.mentions_quota());
            // Checked before the gateway rule: whatever the status (relays
            // send 503 for a retired model), a gateway that lost the API's
            // answer does not make up a JSON error naming the model, so this
            // is the API's own definite refusal.
            let model_unavailable =
                (400..=599).contains(&code) && fields.as_ref().is_some_and(|f| f.says_model_unavailable());
            let message = fields.and_then(|f| f.message);
            let error = match code {
                _ if model_unavailable => ApiError::ModelUnavailable { message },
                _ if !refused_by_api => ApiError::Gateway { status: code },
                401 | 403 if quota => ApiError::QuotaExhausted { message },
                401 | 403 => ApiError::Unauthorized { message },
                402 => ApiError::QuotaExhausted { message },
                429 => ApiError::RateLimited { message },
                _ => ApiError::Upstream { status: code, message },
            };
            return Err(Failure { http_status: Some(code), error });
        }

        match read_capped(response, cap).await {
            Ok(Some(bytes)) => Ok(self.scrub(&String::from_utf8_lossy(&bytes))),
            Ok(None) => Err(Failure {
                http_status: Some(code),
                error: ApiError::BadResponse { detail: format!("answer body larger than {cap} bytes") },
            }),
            Err(e) => Err(Failure { http_status: Some(code), error: map_reqwest_error(e) }),
        }
    }

    /// Removes the API key and other secrets from upstream text.
    fn scrub(&self, text: &str) -> String {
        scrub_secrets(text, self.api_key.expose_secret())
    }
}

/// Reads at most `cap` bytes of body; `Ok(None)` when it is longer.
async fn read_capped(mut response: reqwest::Response, cap: usize) -> Result<Option<Vec<u8>>, reqwest::Error> {
    if response.content_length().is_some_and(|len| len > cap as u64) {
        return Ok(None);
    }
    let mut buf = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if buf.len() + chunk.len() > cap {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Some(buf))
}

// ---------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------

fn parse_json(body: &str) -> Result<Value, ApiError> {
    serde_json::from_str(body)
        .map_err(|_| ApiError::BadResponse { detail: format!("answer is not JSON: {}", excerpt(body)) })
}

fn parse_created(body: &str) -> Result<Created, ApiError> {
    let value = parse_json(body)?;
    let id = match value.get("id") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
        Some(Value::Number(n)) => n.to_string(),
        _ => {
            return Err(ApiError::BadResponse { detail: format!("create answer has no task id: {}", excerpt(body)) });
        }
    };
    let status = non_empty_str(value.get("status")).unwrap_or_else(|| "pending".to_owned());
    Ok(Created { id, status })
}

fn parse_models(body: &str) -> Result<Vec<String>, ApiError> {
    let value = parse_json(body)?;
    let Some(Value::Array(entries)) = value.get("data") else {
        return Err(ApiError::BadResponse { detail: format!("model listing has no data list: {}", excerpt(body)) });
    };
    let mut seen = HashSet::new();
    Ok(entries.iter().filter_map(|entry| non_empty_str(entry.get("id"))).filter(|id| seen.insert(id.clone())).collect())
}

/// A non-blank string, trimmed.
fn non_empty_str(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// Text helpers
// ---------------------------------------------------------------------------

/// At most `max` chars of `s` (on a char boundary).
fn truncate_chars(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((idx, _)) => &s[..idx],
        None => s,
    }
}

/// A short, single-line excerpt of an (already scrubbed) body.
fn excerpt(body: &str) -> String {
    let flat: String =
        body.trim().chars().take(MAX_DETAIL_CHARS + 1).map(|c| if c.is_control() { ' ' } else { c }).collect();
    if flat.chars().count() > MAX_DETAIL_CHARS {
        format!("{}…", truncate_chars(&flat, MAX_DETAIL_CHARS))
    } else if flat.is_empty() {
        "(empty)".to_owned()
    } else {
        flat
    }
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests;
