//! Hands each update to the handler tree: one chat's updates one at a time, in
//! the order they came, and different chats at the same time.
//!
//! This replaces teloxide's `Dispatcher` for memory and availability:
//! - Its worker per chat allocates a channel block for 32 updates (about 48 KB)
//!   on the chat's first update, and keeps it after the chat goes quiet until
//!   there are more workers than at the busiest moment so far: a burst from 500
//!   chats held 25 MB of them for good. Here a chat has a queue only while it
//!   has updates waiting, and the queue holds only those.
//! - When one chat's queue was full it stopped handing out updates to every
//!   chat. Here that chat's newest update is dropped, logged and handed to
//!   `on_overflow` (which tells the sender to send it again).
//! - At most `HANDLERS_AT_ONCE` updates are handled at once (a slow one
//!   stops counting after `TURN_LIMIT`), so a burst waits as small queued
//!   updates rather than as half-run handlers.
//! - A panicking handler killed its worker, and the next update for that chat
//!   panicked the dispatcher. Here the panic is logged and the chat goes on.

use std::{fmt::Display, panic::AssertUnwindSafe, pin::pin, sync::Arc, time::Duration};

use futures_util::{FutureExt, StreamExt};
use teloxide::{
    dispatching::UpdateHandler,
    dptree::di::DependencyMap,
    error_handlers::ErrorHandler,
    types::{AllowedUpdate, ChatId, Update, UpdateKind},
    update_listeners::UpdateListener,
};
use tokio::sync::Semaphore;
use tracing::Instrument;

use crate::keyed_queue::KeyedQueue;

/// Updates one chat may have waiting while its earlier one is handled: a
/// group's backlog after downtime (one getUpdates batch is 100) is a few
/// hundred. Handlers never wait for Telegram, so a queue this long drains in
/// seconds. The gate in front already limits each user's commands.
const QUEUE_PER_CHAT: usize = 1024;
/// Updates waiting over all chats: with `QUEUE_PER_CHAT` alone, many busy
/// chats could hold a queue each. An update is a few KB at most.
const WAITING_AT_MOST: usize = 16 * 1024;

/// Updates handled at once, over all chats. Handlers do short database and
/// Telegram work and hand anything slow (creates, album waits) to tasks of
/// their own, so more at once only queues on the one SQLite connection: a
/// burst from 500 chats held 500 handlers of about 20 KB each. A waiting chat
/// holds its update and a small task.
const HANDLERS_AT_ONCE: usize = 64;
/// A handler still running after this no longer counts against
/// `HANDLERS_AT_ONCE`: slow handlers cannot stall the others, and at most
/// `HANDLERS_AT_ONCE` of them start each `TURN_LIMIT`.
const TURN_LIMIT: Duration = Duration::from_secs(1);

/// The handler tree and what it is given besides the update (shared state,
/// the bot's own account). Cheap to clone: one per way of receiving updates.
/// `E` is the handlers' error, which is logged.
pub struct Dispatch<E> {
    handler: Arc<UpdateHandler<E>>,
    deps: DependencyMap,
    /// The update kinds asked of Telegram when polling.
    allowed: Vec<AllowedUpdate>,
    on_overflow: Arc<dyn Fn(&Update) + Send + Sync>,
    on_failure: Arc<dyn Fn(&UpdateContext) + Send + Sync>,
}

impl<E> Clone for Dispatch<E> {
    fn clone(&self) -> Self {
        Dispatch {
            handler: self.handler.clone(),
            deps: self.deps.clone(),
            allowed: self.allowed.clone(),
            on_overflow: self.on_overflow.clone(),
            on_failure: self.on_failure.clone(),
        }
    }
}

/// One run's chats with updates waiting, and its handlers in flight.
struct Chats<E> {
    dispatch: Dispatch<E>,
    /// Each chat's updates waiting behind the one being handled. Its tasks
    /// also run the updates that have no chat.
    queues: Arc<KeyedQueue<ChatId, Box<Update>>>,
    /// Handlers' turns, first come first served.
    turns: Semaphore,
}

impl<E: Display + Send + Sync + 'static> Dispatch<E> {
    /// `allowed`: the update kinds asked of Telegram.
    pub fn new(handler: UpdateHandler<E>, deps: DependencyMap, allowed: Vec<AllowedUpdate>) -> Self {
        Dispatch {
            handler: Arc::new(handler),
            deps,
            allowed,
            on_overflow: Arc::new(|_| {}),
            on_failure: Arc::new(|_| {}),
        }
    }

    /// Called for each update whose handler failed or panicked (after the
    /// log line): the person who sent it should hear that it did not work.
    pub fn on_failure(mut self, answer: impl Fn(&UpdateContext) + Send + Sync + 'static) -> Self {
        self.on_failure = Arc::new(answer);
        self
    }

    /// Called with each update dropped because too many were waiting.
    pub fn on_overflow(mut self, answer: impl Fn(&Update) + Send + Sync + 'static) -> Self {
        self.on_overflow = Arc::new(answer);
        self
    }

    /// Dispatches `listener`'s updates until `stop` resolves, then lets the
    /// listener finish (polling confirms what it handed out) and waits for
    /// every handler in flight. `stop`'s output (the poller lock, say) is held
    /// until then, and returned.
    pub async fn run<L, H, T>(&self, mut listener: L, errors: Arc<H>, stop: impl Future<Output = T>) -> Option<T>
    where
        L: UpdateListener,
        H: ErrorHandler<L::Err>,
    {
        listener.hint_allowed_updates(&mut self.allowed.iter().cloned());
        let stop_token = listener.stop_token();
        let chats = Arc::new(Chats {
            dispatch: self.clone(),
            queues: Arc::new(KeyedQueue::new(QUEUE_PER_CHAT, WAITING_AT_MOST)),
            turns: Semaphore::new(HANDLERS_AT_ONCE),
        });
        let mut stop = pin!(stop.fuse());
        let mut held = None;
        let mut updates = pin!(listener.as_stream());
        loop {
            tokio::select! {
                biased;
                output = &mut stop, if held.is_none() => {
                    held = Some(output);
                    stop_token.stop();
                }
                next = updates.next() => match next {
                    Some(Ok(update)) => chats.take(update),
                    Some(Err(error)) => errors.clone().handle_error(error).await,
                    None => break,
                },
            }
        }
        chats.queues.tasks().close();
        chats.queues.tasks().wait().await;
        held
    }

    async fn handle(&self, update: Update) {
        let context = UpdateContext::of(&update);
        let mut deps = self.deps.clone();
        deps.insert(update);
        // Every line logged while handling the update, or by work it hands
        // off in the same span, names the update; a handler that finds the
        // task records its id in the span's `task` field. At ERROR level, so
        // that the span is on whenever the failure line is, whatever RUST_LOG
        // says.
        let span = tracing::error_span!("update", update_id = context.update_id, task = tracing::field::Empty);
        let handling = self.handler.dispatch(deps).instrument(span.clone());
        let handled = AssertUnwindSafe(handling).catch_unwind().await;
        let _in_update = span.enter();
        let UpdateContext { chat_id, user_id, ref kind, .. } = context;
        match handled {
            // Continue: nothing in the tree wanted it (a plain chat message).
            Ok(std::ops::ControlFlow::Break(Ok(())) | std::ops::ControlFlow::Continue(_)) => return,
            Ok(std::ops::ControlFlow::Break(Err(error))) => {
                tracing::error!(chat_id, user_id, kind, %error, "an update's handler failed")
            }
            Err(_) => tracing::error!(
                chat_id,
                user_id,
                kind,
                "an update's handler panicked; the chat's next updates are still handled"
            ),
        }
        (self.on_failure)(&context);
    }
}

/// What a log line about an update needs to find it: its ids and what kind of
/// request it was (the command's name, never the user's text).
/// Also what an answer to a failed update needs: the message or press to answer, and in which language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateContext {
    pub update_id: u32,
    pub chat_id: Option<i64>,
    pub user_id: Option<u64>,
    pub kind: String,
    /// The message, for a message update.
    pub message_id: Option<i32>,
    /// The press, for a button press.
    pub callback_id: Option<String>,
    /// The sender's Telegram language code.
    pub lang: Option<String>,
}

/// A command's name is short; a longer "/word" is someone's text, not a command.
const COMMAND_NAME_MAX: usize = 32;

impl UpdateContext {
    fn of(update: &Update) -> UpdateContext {
        let kind = match &update.kind {
            UpdateKind::Message(message) if message.successful_payment().is_some() => "payment".to_owned(),
            UpdateKind::Message(message) => message
                .text()
                .or(message.caption())
                .and_then(command_name)
                .unwrap_or(if message.media_group_id().is_some() { "album photo" } else { "message" })
                .to_owned(),
            UpdateKind::CallbackQuery(_) => "button press".to_owned(),
            UpdateKind::InlineQuery(_) => "inline query".to_owned(),
            _ => "other".to_owned(),
        };
        let (message_id, callback_id) = match &update.kind {
            UpdateKind::Message(message) => (Some(message.id.0), None),
            UpdateKind::CallbackQuery(press) => (None, Some(press.id.0.clone())),
            _ => (None, None),
        };
        UpdateContext {
            update_id: update.id.0,
            chat_id: update.chat().map(|chat| chat.id.0),
            user_id: update.from().map(|user| user.id.0),
            kind,
            message_id,
            callback_id,
            lang: update.from().and_then(|user| user.language_code.clone()),
        }
    }
}

/// `/video@SoraBot a cat` → `/video`.
fn command_name(text: &str) -> Option<&str> {
    let word = text.split(|c: char| c.is_whitespace() || c == '@').next()?;
    let valid = word.len() > 1
        && word.len() <= COMMAND_NAME_MAX
        && word.starts_with('/')
        && word[1..].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    valid.then_some(word)
}

impl<E: Display + Send + Sync + 'static> Chats<E> {
    fn take(self: &Arc<Self>, update: Update) {
        if let UpdateKind::Error(_) = update.kind {
            // Its JSON did not match any update type teloxide knows; its text is the user's, so not logged.
            tracing::warn!(update_id = update.id.0, "an update could not be read; skipped");
            return;
        }
        // Boxed: an update is a kilobyte or two, and the task that handles it
        // holds it in several of its states, each copied as the task moves.
        let update = Box::new(update);
        // Inline queries have no chat: nothing to keep in order.
        let Some(chat) = update.chat().map(|chat| chat.id) else {
            let chats = self.clone();
            self.queues.tasks().spawn(async move { chats.handle(update).await });
            return;
        };
        let chats = self.clone();
        let handle = move |update| {
            let chats = chats.clone();
            async move { chats.handle(update).await }
        };
        if let Err(update) = self.queues.push(chat, update, handle) {
            tracing::warn!(chat_id = chat.0, update_id = update.id.0, "chat's update queue full; update dropped");
            crate::metrics::dropped("update");
            (self.dispatch.on_overflow)(&update);
        }
    }

    async fn handle(&self, update: Box<Update>) {
        let turn = self.turns.acquire().await.expect("never closed");
        // On the heap: the handler tree's future is about 10 KB, and the chat's
        // task (which holds this one) would otherwise be copied whole each time
        // it is spawned, moved and completed.
        let mut handling = Box::pin(self.dispatch.handle(*update));
        tokio::select! {
            () = &mut handling => return,
            () = tokio::time::sleep(TURN_LIMIT) => {}
        }
        // Still running (waiting out Telegram's rate limit, say): the next
        // update gets the turn rather than wait behind it with every other chat.
        drop(turn);
        handling.await;
    }
}

#[cfg(test)]
mod tests;
