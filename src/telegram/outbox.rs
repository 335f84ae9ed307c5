//! The per-chat outbox: handlers queue their replies, keyboards and edits
//! here and return at once; one sender per chat and lane sends them in order.

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

use teloxide::types::{InlineKeyboardMarkup, MessageId, ReplyMarkup};
use tokio_util::task::TaskTracker;

use super::Telegram;
use crate::{keyed_queue::KeyedQueue, metrics};

/// Sends waiting in one lane of a chat's outbox; past this, new ones are
/// dropped. Most of a chat's update backlog may each want an answer, so this
/// is of the order of `dispatch`'s per-chat bound; a waiting send is a small
/// future (its text and ids).
pub const OUTBOX_PER_CHAT: usize = 512;

/// Per-chat, per-lane queues of Telegram calls, each drained in order by one
/// sender task that exists only while its lane has something to send; and
/// the calls made beside them, which shutdown waits for too.
pub(super) struct Outbox {
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

impl Telegram {
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
}
