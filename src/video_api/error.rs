//! [`ApiError`]: its classification, the message extracted from an error
//! answer, and the scrubbing of secrets from upstream text.

use serde_json::Value;

use super::{MAX_DETAIL_CHARS, MAX_MESSAGE_CHARS, REDACTED, non_empty_str, truncate_chars};

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
    /// Any other 4xx, or a 5xx carrying the API's own JSON error body.
    #[error("the video API answered HTTP {status}{}", suffix(.message))]
    Upstream { status: u16, message: Option<String> },
    /// An error answer (any 4xx or 5xx) whose JSON says the model asked for
    /// is not served: code `model_not_found`, or a message that the model has
    /// no channel or does not exist. Relays answer a retired model this way,
    /// often with 503, while other models go on working.
    #[error("the video API does not serve this model{}", suffix(.message))]
    ModelUnavailable { message: Option<String> },
    /// A 3xx, or a 5xx that is not the API's own JSON error: a gateway or
    /// proxy page (502, 504, 52x, HTML, an empty or unreadable body). The
    /// request may have reached the API behind it.
    #[error("a gateway in front of the video API answered HTTP {status}")]
    Gateway { status: u16 },
    /// 2xx but not the expected JSON.
    #[error("unexpected answer from the video API: {detail}")]
    BadResponse { detail: String },
    /// No (complete) answer in time. For create, `request_sent: true` means
    /// the task may exist and have been charged: never retry it blindly.
    #[error("the video API did not answer in time{}", sent_suffix(.request_sent))]
    Timeout { request_sent: bool },
    /// The connection could not be made: the request was never sent.
    #[error("could not connect to the video API: {detail}")]
    Unreachable { detail: String },
    /// The connection broke after it was made: the request may have arrived.
    #[error("the connection to the video API broke: {detail}")]
    Network { detail: String },
}

fn sent_suffix(request_sent: &bool) -> &'static str {
    if *request_sent { " (the request was sent)" } else { "" }
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
            | ApiError::Upstream { message, .. }
            | ApiError::ModelUnavailable { message } => message.as_deref()?,
            ApiError::Gateway { .. }
            | ApiError::BadResponse { .. }
            | ApiError::Timeout { .. }
            | ApiError::Unreachable { .. }
            | ApiError::Network { .. } => {
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
            ApiError::RateLimited { .. }
            | ApiError::Timeout { .. }
            | ApiError::Unreachable { .. }
            | ApiError::Network { .. }
            | ApiError::Gateway { .. } => true,
            ApiError::Upstream { status, .. } => *status >= 500,
            // Asking again does not bring a retired model back; the next
            // model listing may.
            ApiError::Unauthorized { .. }
            | ApiError::QuotaExhausted { .. }
            | ApiError::ModelUnavailable { .. }
            | ApiError::BadResponse { .. } => false,
        }
    }

    /// For a failed create: whether the job may exist upstream anyway. Only an
    /// answer that proves the API did not take it says no: no connection was
    /// made, a 4xx, a 5xx with the API's own JSON error that is not a
    /// gateway's, or any error answer saying the model is not served. Everything after the request may have
    /// arrived (time-out, broken connection, gateway page, unreadable 2xx) is
    /// maybe: never retried and counted as if it had been made.
    pub fn create_may_have_succeeded(&self) -> bool {
        match self {
            ApiError::Unauthorized { .. }
            | ApiError::QuotaExhausted { .. }
            | ApiError::RateLimited { .. }
            | ApiError::Upstream { .. }
            | ApiError::ModelUnavailable { .. }
            | ApiError::Unreachable { .. } => false,
            ApiError::Gateway { .. }
            | ApiError::BadResponse { .. }
            | ApiError::Timeout { .. }
            | ApiError::Network { .. } => true,
        }
    }

    /// Short machine-friendly name of the error kind (logs, metrics).
    pub fn kind(&self) -> &'static str {
        match self {
            ApiError::Unauthorized { .. } => "unauthorized",
            ApiError::QuotaExhausted { .. } => "quota_exhausted",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Upstream { .. } => "upstream",
            ApiError::ModelUnavailable { .. } => "model_unavailable",
            ApiError::Gateway { .. } => "gateway",
            ApiError::Unreachable { .. } => "unreachable",
            ApiError::BadResponse { .. } => "bad_response",
            ApiError::Timeout { .. } => "timeout",
            ApiError::Network { .. } => "network",
        }
    }
}

/// Connect failure → `Unreachable` (nothing was sent); timeout after
/// connecting → `Timeout { request_sent: true }` and anything else →
/// `Network` (conservative: the request may have reached the API).
pub(super) fn map_reqwest_error(e: reqwest::Error) -> ApiError {
    let e = e.without_url();
    if e.is_connect() || e.is_builder() {
        ApiError::Unreachable { detail: error_chain(&e) }
    } else if e.is_timeout() {
        ApiError::Timeout { request_sent: true }
    } else {
        ApiError::Network { detail: error_chain(&e) }
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

/// What an error answer says: its message and the code/type strings.
pub(super) struct ErrorFields {
    pub(super) message: Option<String>,
    codes: Vec<String>,
}

impl ErrorFields {
    pub(super) fn mentions_quota(&self) -> bool {
        self.codes.iter().chain(self.message.iter()).any(|text| {
            let lower = text.to_lowercase();
            lower.contains("quota")
                || lower.contains("insufficient_balance")
                || lower.contains("insufficient balance")
                || lower.contains("额度")
                || lower.contains("余额")
        })
    }

    /// Whether the answer says the requested model is not served (retired,
    /// no channel, unknown). "not found" and "does not exist" count only
    /// next to the word "model": relays say the same of tokens, tasks and
    /// routes ("token not found", "task not found"), which are other errors.
    pub(super) fn says_model_unavailable(&self) -> bool {
        let code_says = self.codes.iter().any(|code| code.trim().eq_ignore_ascii_case("model_not_found"));
        code_says
            || self.message.as_deref().is_some_and(|message| {
                let lower = message.to_lowercase();
                let about_model = lower.contains("model") || lower.contains("模型");
                // OneAPI/new-api's routing error: "当前分组 default 下对于模型 sora-2 无可用渠道".
                lower.contains("无可用渠道")
                    || (about_model
                        && ["not found", "does not exist", "no available channel", "不存在"]
                            .iter()
                            .any(|phrase| lower.contains(phrase)))
            })
    }
}

/// `{"error": {"message", "type", "code"}}`, `{"error": "..."}` or
/// `{"message": ...}` (also `detail`, `msg`).
pub(super) fn error_fields(v: &Value) -> ErrorFields {
    let error = v.get("error");
    let message = match error {
        Some(Value::Object(obj)) => non_empty_str(obj.get("message")).or_else(|| non_empty_str(obj.get("msg"))),
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

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.' | '*' | '~' | '+' | '/' | '=')
}

/// Replaces the API key, `Bearer <token>`, `sk-<token>` and the bot token in
/// `/file/bot<token>` with `[REDACTED]`. Keeps JSON valid (the replacement has
/// no quotes or backslashes).
pub(super) fn scrub_secrets(text: &str, api_key: &str) -> String {
    let mut out = if api_key.trim().is_empty() { text.to_owned() } else { text.replace(api_key, REDACTED) };
    out = redact_after(&out, "Bearer ", false, |c| c != '"' && c != '\\' && !c.is_whitespace());
    out = redact_after(&out, "sk-", true, is_token_char);
    redact_after(&out, "/file/bot", false, |c| c.is_ascii_alphanumeric() || matches!(c, ':' | '-' | '_'))
}

/// Replaces the run of `keep`-chars following each `marker` with
/// `[REDACTED]` (keeps the marker). With `word_start`, the marker only counts
/// at the start of a word (so "disk-full" is left alone).
fn redact_after(text: &str, marker: &str, word_start: bool, keep: impl Fn(char) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find(marker) {
        let before = &rest[..pos];
        let at_word_start = !before.chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_');
        let after = &rest[pos + marker.len()..];
        let token_len: usize = after.chars().take_while(|&c| keep(c)).map(char::len_utf8).sum();
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
    text.match_indices("sk-")
        .any(|(pos, _)| !text[..pos].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_'))
}
