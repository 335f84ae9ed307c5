//! Talking to the Bot API: the bot handles and the few outbound calls every
//! part of the bot makes (reply, edit, send a video), each waiting out `retry_after`.
//!
//! Telegram lets a bot send about one message a second into a chat (20 a
//! minute into a group). Two things keep one busy chat from slowing the rest:
//! - Sends into a chat take turns: at most one of them is inside Throttle at a
//!   time. Throttle queues at most 30 requests for all chats together, so a
//!   chat with hundreds of waiting messages would otherwise fill that queue and
//!   every other chat would wait behind it.
//! - Handlers never wait for Telegram: replies, keyboards and edits go through a
//!   per-chat outbox (a [`KeyedQueue`] keyed by chat and lane), and press
//!   answers are sent beside it. `dispatch` hands a chat's updates to the
//!   handlers one at a time, so a handler that waited for its send would hold
//!   up its chat for as long as the chat's send budget is used up (minutes in
//!   a busy group), and every later update of that chat (other members'
//!   `/video`) would wait behind it.
//!
//! Updates come in elsewhere (`updates`, `webhook`, `dispatch`); this module
//! only sends.

use std::{path::Path, sync::Arc, time::Duration};

use crate::{config::Config, metrics, texts};
use reqwest::Url;
use secrecy::ExposeSecret;
use teloxide::{
    ApiError, Bot, RequestError,
    adaptors::{Throttle, throttle::Limits},
    prelude::*,
    types::{
        CallbackQueryId, ChatAction, InlineKeyboardMarkup, InputFile, LabeledPrice, Me, MessageId, PreCheckoutQueryId,
        ReplyMarkup, ReplyParameters, TelegramTransactionId, UserId,
    },
};

mod outbox;
mod turns;
use outbox::Outbox;
pub use outbox::{Lane, OUTBOX_PER_CHAT};
use turns::Turns;

#[derive(Clone)]
pub struct Telegram {
    /// Plain bot: receiving updates (getUpdates, setWebhook), getMe and unthrottled calls.
    pub bot: Bot,
    /// Sends through Telegram's published limits, unless `TELEGRAM_SEND_LIMITS=off`
    /// (Throttle's worker adds up to 250 ms, which a local benchmark must not measure).
    throttled: Option<Throttle<Bot>>,
    /// For file downloads and video uploads: a client whose timeout suits
    /// large transfers (teloxide's default gives up after 17 s, total).
    pub files: Bot,
    outbox: Arc<Outbox>,
    turns: Arc<Turns>,
}

/// Evaluates `$call` with `$bot` bound to the throttled bot when there is one.
/// `Bot` and `Throttle<Bot>` are two types; teloxide's `ErasedRequester` would
/// make them one, but it is neither `Send` nor `Sync` (an `Arc<dyn …>` without
/// those bounds), so it cannot be shared by the bot's tasks.
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
        Telegram { bot, throttled, files, outbox: Arc::default(), turns: Arc::default() }
    }

    /// The bot's own account (`getMe`).
    pub async fn me(&self) -> Result<Me, RequestError> {
        with_retry("getMe", || self.bot.get_me().send()).await
    }

    /// Plain-text reply to `reply_to` (still sent if that message was deleted).
    pub async fn reply(&self, chat_id: i64, reply_to: i32, text: &str) -> Result<MessageId, RequestError> {
        let text = &texts::cut(text, texts::MESSAGE_LIMIT);
        let send = with_retry("sendMessage", || async {
            sending!(self, bot => bot.send_message(ChatId(chat_id), text).reply_parameters(reply_to_command(reply_to)).await)
        });
        let message = self.turns.in_turn(chat_id, send).await?;
        Ok(message.id)
    }

    /// Edits a status message; "message is not modified" (same text) is success.
    /// Throttle does not cover edits: the watcher spaces them itself.
    pub async fn edit(&self, chat_id: i64, message_id: i32, text: &str) -> Result<(), RequestError> {
        let result = with_retry("editMessageText", || {
            self.bot.edit_message_text(ChatId(chat_id), MessageId(message_id), text).send()
        })
        .await;
        match result {
            Ok(_) | Err(RequestError::Api(ApiError::MessageNotModified)) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// `reply` with buttons: an inline keyboard, or a ForceReply that opens
    /// the user's keyboard as a reply to this message.
    pub async fn reply_with_keyboard(
        &self,
        chat_id: i64,
        reply_to: i32,
        text: &str,
        markup: impl Into<ReplyMarkup>,
    ) -> Result<MessageId, RequestError> {
        let markup = markup.into();
        let text = &texts::cut(text, texts::MESSAGE_LIMIT);
        let send = with_retry("sendMessage", || async {
            sending!(self, bot => bot
                .send_message(ChatId(chat_id), text)
                .reply_parameters(reply_to_command(reply_to))
                .reply_markup(markup.clone())
                .await)
        });
        let message = self.turns.in_turn(chat_id, send).await?;
        Ok(message.id)
    }

    /// `edit` that also sets the message's buttons: an edit without a markup
    /// removes them, so `None` leaves the message without buttons.
    pub async fn edit_with_keyboard(
        &self,
        chat_id: i64,
        message_id: i32,
        text: &str,
        markup: Option<InlineKeyboardMarkup>,
    ) -> Result<(), RequestError> {
        let text = &texts::cut(text, texts::MESSAGE_LIMIT);
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

    /// Replaces only a message's buttons (a menu opened or closed under it).
    pub async fn edit_keyboard(
        &self,
        chat_id: i64,
        message_id: i32,
        markup: InlineKeyboardMarkup,
    ) -> Result<(), RequestError> {
        let result = with_retry("editMessageReplyMarkup", || {
            self.bot
                .edit_message_reply_markup(ChatId(chat_id), MessageId(message_id))
                .reply_markup(markup.clone())
                .send()
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
    pub async fn send_video_url(
        &self,
        chat_id: i64,
        reply_to: i32,
        url: Url,
        caption: &str,
        buttons: &InlineKeyboardMarkup,
    ) -> Result<Message, RequestError> {
        // Over the limit, Telegram refuses the whole video.
        let caption = &texts::cut(caption, texts::CAPTION_LIMIT);
        let send = with_retry("sendVideo", || async {
            sending!(self, bot => bot
                .send_video(ChatId(chat_id), InputFile::url(url.clone()))
                .caption(caption)
                .supports_streaming(true)
                .reply_parameters(reply_to_command(reply_to))
                .reply_markup(buttons.clone())
                .await)
        });
        self.turns.in_turn(chat_id, send).await
    }

    /// Uploads a video file as a reply, through the long-timeout client.
    pub async fn upload_video(
        &self,
        chat_id: i64,
        reply_to: i32,
        path: &Path,
        caption: &str,
        buttons: &InlineKeyboardMarkup,
    ) -> Result<Message, RequestError> {
        let caption = &texts::cut(caption, texts::CAPTION_LIMIT);
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

    /// A Stars invoice (`XTR`, no provider, one price), optionally as a reply.
    pub async fn send_invoice(
        &self,
        chat_id: i64,
        reply_to: Option<i32>,
        invoice: &StarsInvoice,
    ) -> Result<Message, RequestError> {
        let send = with_retry("sendInvoice", || async {
            sending!(self, bot => {
                let request = bot
                    .send_invoice(
                        ChatId(chat_id),
                        invoice.title.clone(),
                        invoice.description.clone(),
                        invoice.payload.clone(),
                        crate::payments::CURRENCY,
                        [LabeledPrice::new(invoice.label.clone(), invoice.stars)],
                    )
                    // Forwarded copies get a link to the bot instead of a Pay
                    // button: the invoice is for one buyer.
                    .start_parameter("buy");
                match reply_to {
                    Some(message_id) => request.reply_parameters(reply_to_command(message_id)).await,
                    None => request.await,
                }
            })
        });
        self.turns.in_turn(chat_id, send).await
    }

    /// Telegram waits at most 10 s for this answer; `error` is shown to the
    /// payer when refusing. Unthrottled: it is not a message in any chat.
    pub async fn answer_pre_checkout(&self, query_id: &str, error: Option<&str>) -> Result<(), RequestError> {
        let id = PreCheckoutQueryId(query_id.to_owned());
        with_retry("answerPreCheckoutQuery", || {
            let answer = self.bot.answer_pre_checkout_query(id.clone(), error.is_none());
            match error {
                Some(text) => answer.error_message(text).send(),
                None => answer.send(),
            }
        })
        .await?;
        Ok(())
    }

    /// Returns a charge's Stars to its payer.
    pub async fn refund_stars(&self, user_id: i64, charge_id: &str) -> Result<(), RequestError> {
        let charge = TelegramTransactionId(charge_id.to_owned());
        with_retry("refundStarPayment", || self.bot.refund_star_payment(UserId(user_id as u64), charge.clone()).send())
            .await?;
        Ok(())
    }

    /// "uploading video…" in the chat header while a large upload runs.
    pub async fn uploading_video(&self, chat_id: i64) {
        if let Err(error) = self.bot.send_chat_action(ChatId(chat_id), ChatAction::UploadVideo).await {
            tracing::debug!(%error, "chat action failed");
        }
    }
}

/// What `send_invoice` sends, in the buyer's language.
#[derive(Debug, Clone)]
pub struct StarsInvoice {
    pub title: String,
    pub description: String,
    pub payload: String,
    pub label: String,
    pub stars: u32,
}

fn reply_to_command(message_id: i32) -> ReplyParameters {
    ReplyParameters::new(MessageId(message_id)).allow_sending_without_reply()
}

/// Attempts before a call that keeps answering 429 is given up.
const RETRY_ATTEMPTS: u32 = 6;

/// Runs `call` again after each 429 for as long as Telegram asks: a message is
/// delayed, never dropped, by Telegram's rate limit.
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
