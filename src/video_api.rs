//! Client for the yunwu.ai video API (SPEC section 3) and the pure mapping of
//! its task answers to [`TaskReport`]s.
//!
//! * `create` posts one generation request. It is never retried here: a
//!   request that timed out after it was sent may already have cost money
//!   ([`ApiError::Timeout`] with `request_sent: true`).
//! * `query` fetches the state of one task; the caller decides whether and when
//!   to ask again ([`ApiError::is_transient`]).
//!
//! Secrets: the API key is only ever put into the `Authorization` header
//! (marked sensitive). Every answer body is scrubbed (the key, `Bearer …`,
//! `sk-…` and Telegram `/file/bot<token>` URLs are replaced by `[REDACTED]`)
//! before anything from it is parsed, stored in an error or logged, and
//! reqwest errors are formatted only after `without_url()`.

use std::fmt;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::Value;

/// Default timeout of a create request (connect + send + whole answer).
pub const DEFAULT_CREATE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default timeout of a query request.
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(20);
/// Timeout of establishing the TCP/TLS connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest successful answer body read; anything longer is a bad response.
const MAX_BODY_BYTES: usize = 1024 * 1024;
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

/// Body of `POST /v1/video/create`. Serialised exactly as
/// `{"images": [...], "model": "...", "orientation": "...", "prompt": "...",
/// "size": "...", "duration": 15}`.
#[derive(Serialize)]
pub struct CreateRequest<'a> {
    pub images: &'a [String],
    pub model: &'a str,
    pub orientation: &'a str,
    pub prompt: &'a str,
    pub size: &'a str,
    pub duration: u32,
}

impl fmt::Debug for CreateRequest<'_> {
    // Image URLs can be megabyte-long data: URLs or carry secrets, and the
    // prompt is user content: only their sizes are shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreateRequest")
            .field("images", &format_args!("<{} image(s)>", self.images.len()))
            .field("model", &self.model)
            .field("orientation", &self.orientation)
            .field(
                "prompt",
                &format_args!("<{} chars>", self.prompt.chars().count()),
            )
            .field("size", &self.size)
            .field("duration", &self.duration)
            .finish()
    }
}

/// Answer of a successful create.
#[derive(Debug, Clone, PartialEq)]
pub struct Created {
    pub id: String,
    /// Upstream status as given; `"pending"` when the answer had none.
    pub status: String,
}

/// Where a task stands.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskPhase {
    /// Still being worked on (also: unknown statuses, and "completed" without
    /// a video URL yet).
    Running,
    Completed {
        video_url: String,
    },
    /// `reason` is the upstream reason when one was given.
    Failed {
        reason: Option<String>,
    },
}

/// One query answer, interpreted.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskReport {
    /// Raw upstream status, as given.
    pub status: String,
    pub phase: TaskPhase,
    /// 0..=100 when the answer carried a usable progress.
    pub progress_pct: Option<u8>,
    pub thumbnail_url: Option<String>,
    pub enhanced_prompt: Option<String>,
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Why a call to the video API failed. Messages are already scrubbed of
/// secrets and capped in length, so `Debug`/`Display` are safe to log.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// 401, or 403 that is not about quota: the key is wrong or not allowed.
    #[error("the video API rejected the API key{}", suffix(.message))]
    Unauthorized { message: Option<String> },
    /// 402, or 401/403 whose error code/type/message mentions quota.
    #[error("the video API quota is used up{}", suffix(.message))]
    QuotaExhausted { message: Option<String> },
    /// 429.
    #[error("the video API rate limit was hit{}", suffix(.message))]
    RateLimited { message: Option<String> },
    /// 5xx and any other non-2xx answer.
    #[error("the video API answered HTTP {status}{}", suffix(.message))]
    Upstream {
        status: u16,
        message: Option<String>,
    },
    /// 2xx but not the expected JSON.
    #[error("unexpected answer from the video API: {detail}")]
    BadResponse { detail: String },
    /// No (complete) answer in time. For create, `request_sent: true` means
    /// the task may exist and have been charged: never retry it blindly.
    #[error("the video API did not answer in time{}", sent_suffix(.request_sent))]
    Timeout { request_sent: bool },
    /// Could not connect, connection broke, etc.
    #[error("could not reach the video API: {detail}")]
    Network { detail: String },
}

fn sent_suffix(request_sent: &bool) -> &'static str {
    if *request_sent {
        " (the request was sent)"
    } else {
        ""
    }
}

fn suffix(message: &Option<String>) -> String {
    match message {
        Some(m) => format!(": {m}"),
        None => String::new(),
    }
}

impl ApiError {
    /// The upstream message when it is safe to show a user: trimmed, at most
    /// 300 chars, and `None` if it contains (a redacted) API key, "Bearer",
    /// an `sk-` token or a Telegram `/file/bot` URL.
    pub fn user_message(&self) -> Option<&str> {
        let message = match self {
            ApiError::Unauthorized { message }
            | ApiError::QuotaExhausted { message }
            | ApiError::RateLimited { message }
            | ApiError::Upstream { message, .. } => message.as_deref()?,
            ApiError::BadResponse { .. } | ApiError::Timeout { .. } | ApiError::Network { .. } => {
                return None;
            }
        };
        let message = message.trim();
        if message.is_empty()
            || message.contains(REDACTED)
            || message.contains("Bearer")
            || message.contains("/file/bot")
            || contains_sk_token(message)
        {
            return None;
        }
        Some(truncate_chars(message, MAX_MESSAGE_CHARS).trim_end())
    }

    /// Whether a later retry of a *query* makes sense. Never use this to
    /// retry a create.
    pub fn is_transient(&self) -> bool {
        match self {
            ApiError::RateLimited { .. } | ApiError::Timeout { .. } | ApiError::Network { .. } => {
                true
            }
            ApiError::Upstream { status, .. } => *status >= 500,
            ApiError::Unauthorized { .. }
            | ApiError::QuotaExhausted { .. }
            | ApiError::BadResponse { .. } => false,
        }
    }

    /// Short machine-friendly name of the error kind (logs, metrics).
    pub fn kind(&self) -> &'static str {
        match self {
            ApiError::Unauthorized { .. } => "unauthorized",
            ApiError::QuotaExhausted { .. } => "quota_exhausted",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Upstream { .. } => "upstream",
            ApiError::BadResponse { .. } => "bad_response",
            ApiError::Timeout { .. } => "timeout",
            ApiError::Network { .. } => "network",
        }
    }
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
    api_key: SecretString,
    create_timeout: Duration,
    query_timeout: Duration,
}

impl fmt::Debug for VideoApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VideoApi")
            .field("base_url", &self.base_url)
            .field("api_key", &REDACTED)
            .field("create_timeout", &self.create_timeout)
            .field("query_timeout", &self.query_timeout)
            .finish()
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
        Failure {
            http_status: None,
            error,
        }
    }
}

#[derive(Clone, Copy)]
enum Op {
    Create,
    Query,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::Query => "query",
        }
    }
}

impl VideoApi {
    /// `base_url` like `"https://yunwu.ai"` or `"http://127.0.0.1:1234"`
    /// (trailing slashes tolerated). Timeouts: create 60 s, query 20 s,
    /// connect 10 s.
    pub fn new(base_url: &str, api_key: SecretString) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            // The API does not redirect; following one could turn the POST
            // into a GET or leave the configured host.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("sora-bot/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client (rustls) could not be initialised");
        VideoApi {
            http,
            base_url: base_url.trim().trim_end_matches('/').to_owned(),
            api_key,
            create_timeout: DEFAULT_CREATE_TIMEOUT,
            query_timeout: DEFAULT_QUERY_TIMEOUT,
        }
    }

    /// Replaces the whole-request timeouts of create and query.
    pub fn with_timeouts(mut self, create: Duration, query: Duration) -> Self {
        self.create_timeout = create;
        self.query_timeout = query;
        self
    }

    /// `POST {base}/v1/video/create`. Not retried: on
    /// `Timeout { request_sent: true }` the task may exist upstream.
    pub async fn create(&self, req: &CreateRequest<'_>) -> Result<Created, ApiError> {
        let result = async {
            let builder = self
                .http
                .post(format!("{}/v1/video/create", self.base_url))
                .timeout(self.create_timeout)
                .json(req);
            let body = self.send(builder).await?;
            parse_created(&body).map_err(Failure::from)
        }
        .await;
        self.finish(Op::Create, None, result)
    }

    /// `GET {base}/v1/video/query?id={id}`. Not retried here.
    pub async fn query(&self, id: &str) -> Result<TaskReport, ApiError> {
        let result = async {
            let builder = self
                .http
                .get(format!("{}/v1/video/query", self.base_url))
                .query(&[("id", id)])
                .timeout(self.query_timeout);
            let body = self.send(builder).await?;
            let value = parse_json(&body).map_err(Failure::from)?;
            interpret_query(&value).map_err(Failure::from)
        }
        .await;
        self.finish(Op::Query, Some(id), result)
    }

    /// Logs one line for a failed call and drops the HTTP status.
    fn finish<T>(
        &self,
        op: Op,
        task_id: Option<&str>,
        result: Result<T, Failure>,
    ) -> Result<T, ApiError> {
        result.map_err(|failure| {
            let err = failure.error;
            tracing::warn!(
                op = op.name(),
                task_id = task_id.unwrap_or("-"),
                http_status = failure.http_status,
                kind = err.kind(),
                error = %err,
                "video API call failed"
            );
            err
        })
    }

    /// Sends with auth and `Accept`, reads a capped body and classifies
    /// non-2xx answers. Returns the scrubbed body text of a 2xx answer.
    async fn send(&self, builder: reqwest::RequestBuilder) -> Result<String, Failure> {
        let response = builder
            .bearer_auth(self.api_key.expose_secret())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| Failure::from(map_reqwest_error(e)))?;
        let status = response.status();
        let code = status.as_u16();

        if !status.is_success() {
            // A broken or oversized error body only costs us the message.
            let message = match read_capped(response, MAX_ERROR_BODY_BYTES).await {
                Ok(Some(bytes)) => {
                    let text = self.scrub(&String::from_utf8_lossy(&bytes));
                    serde_json::from_str::<Value>(&text)
                        .ok()
                        .map(|v| error_fields(&v))
                }
                _ => None,
            };
            let (message, quota) = match message {
                Some(fields) => {
                    let quota = fields.mentions_quota();
                    (fields.message, quota)
                }
                None => (None, false),
            };
            let error = match code {
                401 | 403 if quota => ApiError::QuotaExhausted { message },
                401 | 403 => ApiError::Unauthorized { message },
                402 => ApiError::QuotaExhausted { message },
                429 => ApiError::RateLimited { message },
                _ => ApiError::Upstream {
                    status: code,
                    message,
                },
            };
            return Err(Failure {
                http_status: Some(code),
                error,
            });
        }

        match read_capped(response, MAX_BODY_BYTES).await {
            Ok(Some(bytes)) => Ok(self.scrub(&String::from_utf8_lossy(&bytes))),
            Ok(None) => Err(Failure {
                http_status: Some(code),
                error: ApiError::BadResponse {
                    detail: format!("answer body larger than {MAX_BODY_BYTES} bytes"),
                },
            }),
            Err(e) => Err(Failure {
                http_status: Some(code),
                error: map_reqwest_error(e),
            }),
        }
    }

    /// Removes the API key and other secrets from upstream text.
    fn scrub(&self, text: &str) -> String {
        scrub_secrets(text, self.api_key.expose_secret())
    }
}

/// Reads at most `cap` bytes of body; `Ok(None)` when it is longer.
async fn read_capped(
    mut response: reqwest::Response,
    cap: usize,
) -> Result<Option<Vec<u8>>, reqwest::Error> {
    if response
        .content_length()
        .is_some_and(|len| len > cap as u64)
    {
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

/// Timeout after connecting → `Timeout { request_sent: true }` (conservative:
/// the request may have reached the API); connect failure and everything
/// else → `Network`.
fn map_reqwest_error(e: reqwest::Error) -> ApiError {
    let e = e.without_url();
    if e.is_connect() {
        ApiError::Network {
            detail: error_chain(&e),
        }
    } else if e.is_timeout() {
        ApiError::Timeout { request_sent: true }
    } else {
        ApiError::Network {
            detail: error_chain(&e),
        }
    }
}

/// `error: cause: cause`, capped. Only called on errors without URL.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    truncate_chars(&text, MAX_DETAIL_CHARS).to_owned()
}

// ---------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------

fn parse_json(body: &str) -> Result<Value, ApiError> {
    serde_json::from_str(body).map_err(|_| ApiError::BadResponse {
        detail: format!("answer is not JSON: {}", excerpt(body)),
    })
}

fn parse_created(body: &str) -> Result<Created, ApiError> {
    let value = parse_json(body)?;
    let id = match value.get("id") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
        Some(Value::Number(n)) => n.to_string(),
        _ => {
            return Err(ApiError::BadResponse {
                detail: format!("create answer has no task id: {}", excerpt(body)),
            });
        }
    };
    let status = non_empty_str(value.get("status")).unwrap_or_else(|| "pending".to_owned());
    Ok(Created { id, status })
}

/// Pure: maps a parsed query answer (any JSON) to a report.
/// `Err(ApiError::BadResponse)` if there is no string `status`.
pub fn interpret_query(body: &Value) -> Result<TaskReport, ApiError> {
    let Some(status) = body.get("status").and_then(Value::as_str) else {
        return Err(ApiError::BadResponse {
            detail: format!(
                "query answer has no string `status`: {}",
                excerpt(&body.to_string())
            ),
        });
    };
    let normalized = status.trim().to_lowercase();
    let phase = match normalized.as_str() {
        "completed" | "success" | "succeeded" => match non_empty_str(body.get("video_url")) {
            Some(video_url) => TaskPhase::Completed { video_url },
            // The URL may be filled in by a later answer.
            None => TaskPhase::Running,
        },
        "failed" | "error" => TaskPhase::Failed {
            reason: failure_reason(body),
        },
        s if s.ends_with("_failed") => TaskPhase::Failed {
            reason: failure_reason(body),
        },
        // pending, queued, processing, in_progress and anything unknown.
        _ => TaskPhase::Running,
    };
    Ok(TaskReport {
        status: status.to_owned(),
        phase,
        progress_pct: progress_pct(body),
        thumbnail_url: non_empty_str(body.get("thumbnail_url")),
        enhanced_prompt: non_empty_str(body.get("enhanced_prompt")),
    })
}

/// `detail.pending_info.progress_pct` (0–1), else top-level `progress`
/// (0–100); clamped to 0..=100, NaN/negative ignored.
fn progress_pct(body: &Value) -> Option<u8> {
    let fraction = loose_number(body.pointer("/detail/pending_info/progress_pct"))
        .and_then(|p| to_pct(p * 100.0));
    fraction.or_else(|| loose_number(body.get("progress")).and_then(to_pct))
}

fn to_pct(x: f64) -> Option<u8> {
    if !x.is_finite() || x < 0.0 {
        return None;
    }
    // The epsilon keeps 0.29 * 100 = 28.999… at 29; flooring keeps 99.6 from
    // looking finished.
    Some((x + 1e-9).floor().min(100.0) as u8)
}

/// A number, or a string holding one (optionally with a trailing `%`).
fn loose_number(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().trim_end_matches('%').trim().parse::<f64>().ok(),
        _ => None,
    }
}

/// `error` (string or `{message}`), `detail.pending_info.failure_reason`,
/// `detail.failure_reason`.
fn failure_reason(body: &Value) -> Option<String> {
    let from_error = match body.get("error") {
        Some(Value::String(_)) => non_empty_str(body.get("error")),
        Some(Value::Object(obj)) => non_empty_str(obj.get("message")),
        _ => None,
    };
    from_error
        .or_else(|| non_empty_str(body.pointer("/detail/pending_info/failure_reason")))
        .or_else(|| non_empty_str(body.pointer("/detail/failure_reason")))
}

/// A non-blank string, trimmed.
fn non_empty_str(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        _ => None,
    }
}

/// What an error answer says: its message and the code/type strings.
struct ErrorFields {
    message: Option<String>,
    codes: Vec<String>,
}

impl ErrorFields {
    fn mentions_quota(&self) -> bool {
        self.codes.iter().chain(self.message.iter()).any(|text| {
            let lower = text.to_lowercase();
            lower.contains("quota")
                || lower.contains("insufficient_balance")
                || lower.contains("insufficient balance")
                || lower.contains("额度")
                || lower.contains("余额")
        })
    }
}

/// `{"error": {"message", "type", "code"}}`, `{"error": "..."}` or
/// `{"message": ...}` (also `detail`, `msg`).
fn error_fields(v: &Value) -> ErrorFields {
    let error = v.get("error");
    let message = match error {
        Some(Value::Object(obj)) => {
            non_empty_str(obj.get("message")).or_else(|| non_empty_str(obj.get("msg")))
        }
        Some(Value::String(_)) => non_empty_str(error),
        _ => None,
    }
    .or_else(|| non_empty_str(v.get("message")))
    .or_else(|| non_empty_str(v.get("msg")))
    .or_else(|| non_empty_str(v.get("detail")))
    .map(|m| truncate_chars(&m, MAX_MESSAGE_CHARS).trim_end().to_owned());

    let mut codes = Vec::new();
    let scalar = |x: Option<&Value>| match x {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    for holder in [error, Some(v)].into_iter().flatten() {
        for key in ["code", "type"] {
            codes.extend(scalar(holder.get(key)));
        }
    }
    ErrorFields { message, codes }
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
    let flat: String = body
        .trim()
        .chars()
        .take(MAX_DETAIL_CHARS + 1)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() > MAX_DETAIL_CHARS {
        format!("{}…", truncate_chars(&flat, MAX_DETAIL_CHARS))
    } else if flat.is_empty() {
        "(empty)".to_owned()
    } else {
        flat
    }
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.' | '*' | '~' | '+' | '/' | '=')
}

/// Replaces the API key, `Bearer <token>`, `sk-<token>` and the bot token in
/// `/file/bot<token>` with `[REDACTED]`. Keeps JSON valid (the replacement has
/// no quotes or backslashes).
fn scrub_secrets(text: &str, api_key: &str) -> String {
    let mut out = if api_key.trim().is_empty() {
        text.to_owned()
    } else {
        text.replace(api_key, REDACTED)
    };
    out = redact_after(&out, "Bearer ", false, |c| {
        c != '"' && c != '\\' && !c.is_whitespace()
    });
    out = redact_after(&out, "sk-", true, is_token_char);
    redact_after(&out, "/file/bot", false, |c| {
        c.is_ascii_alphanumeric() || matches!(c, ':' | '-' | '_')
    })
}

/// Replaces the run of `keep`-chars following each `marker` with
/// `[REDACTED]` (keeps the marker). With `word_start`, the marker only counts
/// at the start of a word (so "disk-full" is left alone).
fn redact_after(text: &str, marker: &str, word_start: bool, keep: impl Fn(char) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find(marker) {
        let before = &rest[..pos];
        let at_word_start = !before
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        let after = &rest[pos + marker.len()..];
        let token_len: usize = after
            .chars()
            .take_while(|&c| keep(c))
            .map(char::len_utf8)
            .sum();
        out.push_str(before);
        out.push_str(marker);
        if token_len > 0 && (at_word_start || !word_start) && !after.starts_with(REDACTED) {
            out.push_str(REDACTED);
            rest = &after[token_len..];
        } else {
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// `sk-` at the start of a word.
fn contains_sk_token(text: &str) -> bool {
    text.match_indices("sk-").any(|(pos, _)| {
        !text[..pos]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests;
