//! Talking to the Bot API: the bot handles and the few outbound calls every
//! part of the bot makes (reply, edit), each waiting out `retry_after`.

use std::{future::Future, time::Duration};

use secrecy::ExposeSecret;
use teloxide::{
    ApiError, Bot, RequestError,
    adaptors::{ErasedRequester, throttle::Limits},
    prelude::*,
    types::{MessageId, ReplyParameters},
};

use crate::{config::Config, metrics};

/// The bot as handlers and the watcher use it: throttled to Telegram's send
/// limits unless `TELEGRAM_SEND_LIMITS=off` (erased so both are one type).
pub type AppBot = ErasedRequester<'static, RequestError>;

#[derive(Clone)]
pub struct Telegram {
    pub bot: AppBot,
    /// For file downloads and video uploads: a client whose timeout suits
    /// large transfers (teloxide's default gives up after 17 s, PITFALLS 4).
    pub files: Bot,
}

impl Telegram {
    pub fn new(config: &Config) -> Self {
        let token = config.telegram_token.expose_secret();
        let api_url = config.telegram_api_url.clone();
        let client = teloxide::net::default_reqwest_settings().build().expect("TLS backend available");
        let plain = Bot::with_client(token, client).set_api_url(api_url.clone());
        let bot = if config.telegram_send_limits { plain.throttle(Limits::default()).erase() } else { plain.erase() };
        let long_client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(600))
            .tcp_nodelay(true)
            .build()
            .expect("TLS backend available");
        let files = Bot::with_client(token, long_client).set_api_url(api_url);
        Telegram { bot, files }
    }
}

/// Attempts before a call that keeps answering 429 is given up.
const RETRY_ATTEMPTS: u32 = 6;

/// Runs `call` again after each 429 for as long as Telegram asks (PITFALLS 6).
pub async fn with_retry<T, F, Fut>(method: &'static str, mut call: F) -> Result<T, RequestError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, RequestError>>,
{
    let mut attempt = 1;
    loop {
        match call().await {
            Err(RequestError::RetryAfter(wait)) if attempt < RETRY_ATTEMPTS => {
                tracing::warn!(method, retry_after_secs = wait.seconds(), "telegram rate limit, waiting");
                metrics::telegram_error(method, "retry_after");
                tokio::time::sleep(wait.duration()).await;
                attempt += 1;
            }
            Err(error) => {
                metrics::telegram_error(method, error_kind(&error));
                return Err(error);
            }
            ok => return ok,
        }
    }
}

fn error_kind(error: &RequestError) -> &'static str {
    match error {
        RequestError::Api(_) => "api",
        RequestError::RetryAfter(_) => "retry_after",
        RequestError::Network(_) => "network",
        RequestError::Io(_) => "io",
        RequestError::InvalidJson { .. } => "invalid_json",
        _ => "other",
    }
}

/// Plain-text reply to `reply_to` (still sent if that message was deleted).
pub async fn reply(bot: &AppBot, chat_id: i64, reply_to: i32, text: &str) -> Result<MessageId, RequestError> {
    let message = with_retry("sendMessage", || {
        bot.send_message(ChatId(chat_id), text)
            .reply_parameters(ReplyParameters::new(MessageId(reply_to)).allow_sending_without_reply())
            .send()
    })
    .await?;
    Ok(message.id)
}

/// Edits a status message; "message is not modified" is success (PITFALLS 5).
pub async fn edit(bot: &AppBot, chat_id: i64, message_id: i32, text: &str) -> Result<(), RequestError> {
    let result = with_retry("editMessageText", || bot.edit_message_text(ChatId(chat_id), MessageId(message_id), text).send()).await;
    match result {
        Ok(_) | Err(RequestError::Api(ApiError::MessageNotModified)) => Ok(()),
        Err(error) => Err(error),
    }
}
