//! `POST /telegram/webhook`: updates pushed by Telegram, fed to the dispatcher
//! through an update listener.
//!
//! teloxide's own webhook route reads the whole body before it looks at the
//! secret, so anyone can make the bot buffer megabytes. Here the secret header
//! is checked first (in constant time); only then is a capped body read, within
//! a time limit.

use std::{
    convert::Infallible,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::{Request, State},
    http::{StatusCode, header},
    routing::post,
};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;
use teloxide::{
    requests::{Request as _, Requester},
    stop::{StopToken, mk_stop_token},
    types::{AllowedUpdate, Update, UpdateKind},
    update_listeners::{StatefulListener, UpdateListener},
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;

/// Largest update body accepted. Real updates are a few KB; the largest the Bot
/// API can build (a 4096-character message with entities, quoting another such
/// message, plus reply markup) stays well below 1 MiB. Only the holder of the
/// secret gets this far, so the cap bounds what Telegram's own connections
/// (at most 100 at once) can make us hold, not what strangers can.
pub const MAX_UPDATE_BYTES: usize = 1024 * 1024;
/// Telegram sends an update in one go; a body trickling in longer is dropped.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);
const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

type Sender = mpsc::UnboundedSender<Result<Update, Infallible>>;

struct Hook {
    secret: SecretString,
    /// Taken when the dispatcher stops: later updates are answered 503 and
    /// Telegram delivers them again (to another replica or after the restart).
    updates: Mutex<Option<Sender>>,
}

impl Hook {
    fn sender(&self) -> Option<Sender> {
        self.updates.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Sets the webhook (with the secret) as teloxide would. It is never deleted on
/// stop: other replicas sharing the token still receive updates through it.
pub async fn register<R: Requester>(
    bot: &R,
    url: reqwest::Url,
    secret: &SecretString,
    allowed: Vec<AllowedUpdate>,
) -> Result<(), R::Err> {
    let mut request = bot.set_webhook(url);
    let payload = teloxide::requests::HasPayload::payload_mut(&mut request);
    payload.secret_token = Some(secret.expose_secret().to_owned());
    payload.drop_pending_updates = Some(false);
    // Telegram keeps an earlier setWebhook's list when none is given: name
    // every kind the bot handles, so presses and inline queries always arrive.
    payload.allowed_updates = Some(allowed);
    request.send().await?;
    Ok(())
}

/// The route at `path` and the listener to give the dispatcher.
pub fn listener(path: &str, secret: SecretString) -> (Router, impl UpdateListener<Err = Infallible>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let hook = Arc::new(Hook { secret, updates: Mutex::new(Some(tx)) });
    let (stop_token, stop_flag) = mk_stop_token();
    let on_stop = hook.clone();
    tokio::spawn(async move {
        stop_flag.await;
        // Ends the stream, which lets the dispatcher finish.
        on_stop.updates.lock().unwrap_or_else(|e| e.into_inner()).take();
    });
    let listener = StatefulListener::new(
        (UnboundedReceiverStream::new(rx), stop_token),
        updates_of,
        |state: &mut ListenerState| state.1.clone(),
    );
    (Router::new().route(path, post(receive)).with_state(hook), listener)
}

type ListenerState = (UnboundedReceiverStream<Result<Update, Infallible>>, StopToken);

fn updates_of(state: &mut ListenerState) -> &mut UnboundedReceiverStream<Result<Update, Infallible>> {
    &mut state.0
}

async fn receive(State(hook): State<Arc<Hook>>, request: Request) -> StatusCode {
    let (parts, body) = request.into_parts();
    let given = parts.headers.get(SECRET_HEADER).map(|v| v.as_bytes()).unwrap_or_default();
    if !bool::from(given.ct_eq(hook.secret.expose_secret().as_bytes())) {
        return StatusCode::UNAUTHORIZED;
    }
    let declared = parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_UPDATE_BYTES as u64) {
        tracing::warn!(bytes = declared, "webhook update over the size limit refused");
        return StatusCode::PAYLOAD_TOO_LARGE;
    }
    let bytes = match read_body(body).await {
        Ok(bytes) => bytes,
        Err(status) => return status,
    };
    let Some(updates) = hook.sender() else { return StatusCode::SERVICE_UNAVAILABLE };
    // An unparseable update is answered 200 all the same: Telegram would otherwise resend it forever.
    if let Some(update) = parse(&bytes) {
        let _ = updates.send(Ok(update));
    }
    StatusCode::OK
}

async fn read_body(body: Body) -> Result<Bytes, StatusCode> {
    let limited = http_body_util::BodyExt::collect(http_body_util::Limited::new(body, MAX_UPDATE_BYTES));
    match tokio::time::timeout(BODY_TIMEOUT, limited).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(error)) => {
            if error.is::<http_body_util::LengthLimitError>() {
                tracing::warn!(limit = MAX_UPDATE_BYTES, "webhook update over the size limit refused");
                Err(StatusCode::PAYLOAD_TOO_LARGE)
            } else {
                Err(StatusCode::BAD_REQUEST)
            }
        }
        Err(_) => {
            tracing::warn!("webhook body not received in time; connection closed");
            Err(StatusCode::REQUEST_TIMEOUT)
        }
    }
}

/// The update, or `None` if teloxide cannot read it, logged by size and id
/// only (its content may be private). teloxide turns a malformed or unknown
/// update into `UpdateKind::Error`, which its dispatcher would log in full and
/// drop: it stops here instead.
fn parse(bytes: &[u8]) -> Option<Update> {
    #[derive(serde::Deserialize)]
    struct IdOnly {
        update_id: i64,
    }
    let kind = match serde_json::from_slice::<Update>(bytes) {
        Ok(update) if !matches!(update.kind, UpdateKind::Error(_)) => return Some(update),
        Ok(_) => "unknown or malformed kind".to_owned(),
        // serde's message can quote the input, so only its category.
        Err(error) => format!("{:?}", error.classify()),
    };
    let update_id = serde_json::from_slice::<IdOnly>(bytes).ok().map(|u| u.update_id);
    tracing::warn!(bytes = bytes.len(), update_id, kind, "unparseable webhook update ignored");
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_updates_and_drops_garbage_quietly() {
        let update = br#"{"update_id": 7, "message": {"message_id": 1, "date": 0, "chat": {"id": 5, "type": "private", "first_name": "A"}, "text": "hi"}}"#;
        assert_eq!(parse(update).map(|u| u.id.0), Some(7));
        assert!(parse(br#"{"update_id": 8, "message": "secret words"}"#).is_none());
        assert!(parse(b"not json").is_none());
        assert!(parse(br#"{"update_id": 9, "brand_new_kind": {"x": 1}}"#).is_none());
    }
}
