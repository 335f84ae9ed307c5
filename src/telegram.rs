//! Talking to the Bot API: the bot handles and the few outbound calls every
//! part of the bot makes (reply, edit, send a video), each waiting out `retry_after`.

use std::{future::Future, path::Path, time::Duration};

use reqwest::Url;
use secrecy::ExposeSecret;
use teloxide::{
    ApiError, Bot, RequestError,
    adaptors::{Throttle, throttle::Limits},
    prelude::*,
    types::{CallbackQueryId, ChatAction, InlineKeyboardMarkup, InputFile, MessageId, ReplyMarkup, ReplyParameters},
};

use crate::{config::Config, metrics};

#[derive(Clone)]
pub struct Telegram {
    /// Plain bot: the dispatcher (getUpdates, getMe) and unthrottled calls.
    pub bot: Bot,
    /// Sends through Telegram's published limits, unless `TELEGRAM_SEND_LIMITS=off`
    /// (Throttle's worker adds up to 250 ms, which a local benchmark must not measure).
    throttled: Option<Throttle<Bot>>,
    /// For file downloads and video uploads: a client whose timeout suits
    /// large transfers (teloxide's default gives up after 17 s, PITFALLS 4).
    pub files: Bot,
}

/// Evaluates `$call` with `$bot` bound to the throttled bot when there is one.
macro_rules! sending {
    ($self:ident, $bot:ident => $call:expr) => {
        match &$self.throttled {
            Some($bot) => $call,
            None => {
                let $bot = &$self.bot;
                $call
            }
        }
    };
}

impl Telegram {
    pub fn new(config: &Config) -> Self {
        let token = config.telegram_token.expose_secret();
        let api_url = config.telegram_api_url.clone();
        let client = teloxide::net::default_reqwest_settings().build().expect("TLS backend available");
        let bot = Bot::with_client(token, client).set_api_url(api_url.clone());
        let throttled = config.telegram_send_limits.then(|| bot.clone().throttle(Limits::default()));
        let long_client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(600))
            .tcp_nodelay(true)
            .build()
            .expect("TLS backend available");
        let files = Bot::with_client(token, long_client).set_api_url(api_url);
        Telegram { bot, throttled, files }
    }

    /// Plain-text reply to `reply_to` (still sent if that message was deleted).
    pub async fn reply(&self, chat_id: i64, reply_to: i32, text: &str) -> Result<MessageId, RequestError> {
        let message = with_retry("sendMessage", || async {
            sending!(self, bot => bot.send_message(ChatId(chat_id), text).reply_parameters(reply_to_command(reply_to)).await)
        })
        .await?;
        Ok(message.id)
    }

    /// Edits a status message; "message is not modified" is success (PITFALLS 5).
    /// Throttle does not cover edits: the watcher spaces them itself.
    pub async fn edit(&self, chat_id: i64, message_id: i32, text: &str) -> Result<(), RequestError> {
        let result =
            with_retry("editMessageText", || self.bot.edit_message_text(ChatId(chat_id), MessageId(message_id), text).send()).await;
        match result {
            Ok(_) | Err(RequestError::Api(ApiError::MessageNotModified)) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// `reply` with buttons: an inline keyboard, or a ForceReply that opens
    /// the user's keyboard as a reply to this message.
    pub async fn reply_with_keyboard(&self, chat_id: i64, reply_to: i32, text: &str, markup: impl Into<ReplyMarkup>) -> Result<MessageId, RequestError> {
        let markup = markup.into();
        let message = with_retry("sendMessage", || async {
            sending!(self, bot => bot
                .send_message(ChatId(chat_id), text)
                .reply_parameters(reply_to_command(reply_to))
                .reply_markup(markup.clone())
                .await)
        })
        .await?;
        Ok(message.id)
    }

    /// `edit` that also sets the message's buttons: an edit without a markup
    /// removes them, so `None` leaves the message without buttons.
    pub async fn edit_with_keyboard(&self, chat_id: i64, message_id: i32, text: &str, markup: Option<InlineKeyboardMarkup>) -> Result<(), RequestError> {
        let result = with_retry("editMessageText", || {
            let edit = self.bot.edit_message_text(ChatId(chat_id), MessageId(message_id), text);
            match markup.clone() {
                Some(markup) => edit.reply_markup(markup).send(),
                None => edit.send(),
            }
        })
        .await;
        match result {
            Ok(_) | Err(RequestError::Api(ApiError::MessageNotModified)) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Answers a button press (Telegram shows a spinner until then); `notice`
    /// appears briefly at the top of the chat.
    pub async fn answer_press(&self, callback_id: &str, notice: Option<&str>) -> Result<(), RequestError> {
        let id = CallbackQueryId(callback_id.to_owned());
        with_retry("answerCallbackQuery", || {
            let answer = self.bot.answer_callback_query(id.clone());
            match notice {
                Some(text) => answer.text(text).send(),
                None => answer.send(),
            }
        })
        .await?;
        Ok(())
    }

    /// Sends a video by URL as a reply, playable inline; Telegram fetches it.
    /// Returns the sent message (its video's file id can be shared later).
    pub async fn send_video_url(&self, chat_id: i64, reply_to: i32, url: Url, caption: &str, buttons: &InlineKeyboardMarkup) -> Result<Message, RequestError> {
        with_retry("sendVideo", || async {
            sending!(self, bot => bot
                .send_video(ChatId(chat_id), InputFile::url(url.clone()))
                .caption(caption)
                .supports_streaming(true)
                .reply_parameters(reply_to_command(reply_to))
                .reply_markup(buttons.clone())
                .await)
        })
        .await
    }

    /// Uploads a video file as a reply, through the long-timeout client.
    pub async fn upload_video(&self, chat_id: i64, reply_to: i32, path: &Path, caption: &str, buttons: &InlineKeyboardMarkup) -> Result<Message, RequestError> {
        with_retry("sendVideo", || {
            self.files
                .send_video(ChatId(chat_id), InputFile::file(path.to_owned()))
                .caption(caption)
                .supports_streaming(true)
                .reply_parameters(reply_to_command(reply_to))
                .reply_markup(buttons.clone())
                .send()
        })
        .await
    }

    /// "uploading video…" in the chat header while a large upload runs.
    pub async fn uploading_video(&self, chat_id: i64) {
        if let Err(error) = self.bot.send_chat_action(ChatId(chat_id), ChatAction::UploadVideo).await {
            tracing::debug!(%error, "chat action failed");
        }
    }
}

fn reply_to_command(message_id: i32) -> ReplyParameters {
    ReplyParameters::new(MessageId(message_id)).allow_sending_without_reply()
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
