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

use std::{future::Future, path::Path, pin::Pin, sync::Arc, time::Duration};

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
use tokio_util::task::TaskTracker;

use crate::{config::Config, keyed_queue::KeyedQueue, metrics, texts};

mod turns;
use turns::Turns;

/// Sends waiting in one lane of a chat's outbox; past this, new ones are
/// dropped. Most of a chat's update backlog may each want an answer, so this
/// is of the order of `dispatch`'s per-chat bound; a waiting send is a small
/// future (its text and ids).
pub const OUTBOX_PER_CHAT: usize = 512;

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

/// Per-chat, per-lane queues of Telegram calls, each drained in order by one
/// sender task that exists only while its lane has something to send; and
/// the calls made beside them, which shutdown waits for too.
struct Outbox {
    lanes: Arc<KeyedQueue<(i64, Lane), Queued>>,
    beside: TaskTracker,
}

impl Default for Outbox {
    fn default() -> Self {
        // Bounded per lane only: every waiting send is an answer to an update
        // that the dispatcher's own bounds already let in.
        Outbox { lanes: Arc::new(KeyedQueue::new(OUTBOX_PER_CHAT, usize::MAX)), beside: TaskTracker::new() }
    }
}

/// New messages wait for the chat's send budget; edits are not counted by it
/// (see `edit`), so a menu redrawn under a press does not wait behind them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lane {
    Sends,
    Edits,
}

/// One queued call, run by its lane's sender; it logs its own failure.
type Queued = Pin<Box<dyn Future<Output = ()> + Send>>;

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

    /// Queues a plain-text reply to `reply_to` in its chat's outbox and returns
    /// at once; replies to one chat go out in the order they were queued.
    /// A failed send is logged. Dropped (and logged) if the outbox is full.
    pub fn queue_reply(&self, chat_id: i64, reply_to: i32, text: impl Into<String>) {
        let (telegram, text) = (self.clone(), text.into());
        self.queue(chat_id, Lane::Sends, async move {
            if let Err(error) = telegram.reply(chat_id, reply_to, &text).await {
                tracing::warn!(chat_id, %error, "could not send an answer");
            }
        });
    }

    /// `queue_reply` with buttons; `then` gets the sent message's id (to record
    /// a question, say) and runs in the outbox too.
    pub fn queue_reply_with_keyboard<F, Fut>(
        &self,
        chat_id: i64,
        reply_to: i32,
        text: impl Into<String>,
        markup: impl Into<ReplyMarkup>,
        then: F,
    ) where
        F: FnOnce(MessageId) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (telegram, text, markup) = (self.clone(), text.into(), markup.into());
        self.queue(chat_id, Lane::Sends, async move {
            match telegram.reply_with_keyboard(chat_id, reply_to, &text, markup).await {
                Ok(sent) => then(sent).await,
                Err(error) => tracing::warn!(chat_id, %error, "could not send an answer with buttons"),
            }
        });
    }

    /// Queues an edit of a message's text and buttons (`None`: no buttons).
    pub fn queue_edit(
        &self,
        chat_id: i64,
        message_id: i32,
        text: impl Into<String>,
        markup: Option<InlineKeyboardMarkup>,
    ) {
        let (telegram, text) = (self.clone(), text.into());
        self.queue(chat_id, Lane::Edits, async move {
            if let Err(error) = telegram.edit_with_keyboard(chat_id, message_id, &text, markup).await {
                tracing::info!(chat_id, message_id, %error, "could not edit a message");
            }
        });
    }

    /// Queues a change of a message's buttons only.
    pub fn queue_edit_keyboard(&self, chat_id: i64, message_id: i32, markup: InlineKeyboardMarkup) {
        let telegram = self.clone();
        self.queue(chat_id, Lane::Edits, async move {
            if let Err(error) = telegram.edit_keyboard(chat_id, message_id, markup).await {
                tracing::info!(chat_id, message_id, %error, "could not change a message's buttons");
            }
        });
    }

    /// Queues any call into `chat_id`'s `lane`; calls of one lane run in order.
    /// Dropped (and logged) if the lane is full.
    pub fn queue(&self, chat_id: i64, lane: Lane, call: impl Future<Output = ()> + Send + 'static) {
        if self.outbox.lanes.push((chat_id, lane), Box::pin(call), |call: Queued| call).is_err() {
            tracing::warn!(chat_id, ?lane, "outbox full; an answer was dropped");
            metrics::dropped("answer");
        }
    }

    /// Answers a press beside the outbox: Telegram shows a spinner until then,
    /// and the answer is not counted against the chat's send budget.
    pub fn queue_press_answer(&self, callback_id: &str, notice: Option<String>) {
        let (telegram, callback_id) = (self.clone(), callback_id.to_owned());
        self.outbox.beside.spawn(async move {
            if let Err(error) = telegram.answer_press(&callback_id, notice.as_deref()).await {
                tracing::info!(%error, "press not answered");
            }
        });
    }

    /// Runs `call` beside the outbox (shutdown still waits for it): Telegram
    /// calls whose answer decides what to do next, such as `getChatMember`.
    pub fn spawn(&self, call: impl Future<Output = ()> + Send + 'static) {
        self.outbox.beside.spawn(call);
    }

    /// At shutdown: waits up to `limit` for every outbox to be sent.
    pub async fn flush_outbox(&self, limit: Duration) {
        let (lanes, beside) = (self.outbox.lanes.tasks(), &self.outbox.beside);
        lanes.close();
        beside.close();
        if tokio::time::timeout(limit, async { tokio::join!(lanes.wait(), beside.wait()) }).await.is_err() {
            tracing::warn!("stopping with answers still unsent");
        }
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
