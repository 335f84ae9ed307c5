//! What every handler works with: the shared state, who wrote or pressed
//! where, and the two ways of answering them without waiting for Telegram
//! (a queued reply, a press's notice).

use std::sync::Arc;

use teloxide::types::Message;
use tokio_util::task::TaskTracker;

use super::error::HandlerResult;
use crate::{
    command::VideoRequest,
    config::Config,
    images::ImageUrls,
    store::{Store, is_group_chat},
    task::NewTask,
    telegram::Telegram,
    texts::{self, Lang},
    video_api::VideoApi,
};

/// Telegram shows at most this many characters of a press's notice.
const NOTICE_LIMIT: usize = 200;

/// Submissions that hold their photos in memory and wait on the create call
/// at once. A burst of `/video` waits its turn there, stored and small, not
/// as hundreds of open connections to the video API with their buffers (500
/// at once opened 380 connections and peaked at 30 MB). Telegram sends are
/// outside it: a group out of its send budget holds no turn.
pub const SUBMISSIONS_AT_ONCE: usize = 32;

/// Everything the handlers share.
pub struct AppState {
    pub config: Arc<Config>,
    /// The model catalog with what the video API lists now.
    pub models: Arc<crate::models::live::Models>,
    pub store: Store,
    pub api: VideoApi,
    pub telegram: Telegram,
    pub images: ImageUrls,
    /// Submissions run here, off the dispatcher, so shutdown can wait for them.
    pub tracker: TaskTracker,
    /// Turns of `SUBMISSIONS_AT_ONCE` for the photos and the create call.
    pub submissions: tokio::sync::Semaphore,
    /// This replica's id, the lease owner of the tasks it creates (see `store::Lease`).
    pub owner: String,
    /// This replica's task queries per second, shared with the watcher.
    pub queries: crate::watcher::QueryBudget,
}

/// Who wrote, where, in which language.
#[derive(Debug, Clone)]
pub(super) struct Sender {
    pub(super) chat_id: i64,
    pub(super) user_id: i64,
    /// The command message: replies answer it, and with the chat it keys the task.
    pub(super) message_id: i32,
    pub(super) lang: Lang,
    pub(super) in_group: bool,
}

impl Sender {
    pub(super) fn of(message: &Message) -> Option<Sender> {
        let user = message.from.as_ref()?;
        Some(Sender {
            chat_id: message.chat.id.0,
            user_id: user.id.0 as i64,
            message_id: message.id.0,
            lang: Lang::from_code(user.language_code.as_deref()),
            in_group: message.chat.is_group() || message.chat.is_supergroup(),
        })
    }

    /// The sender of a request made earlier (an album's caption).
    pub(super) fn of_task(task: &NewTask) -> Sender {
        Sender {
            chat_id: task.chat_id,
            user_id: task.user_id,
            message_id: task.command_msg_id,
            lang: task.lang,
            in_group: is_group_chat(task.chat_id),
        }
    }

    /// The request this sender makes.
    pub(super) fn task(&self, request: VideoRequest, image_file_ids: Vec<String>) -> NewTask {
        NewTask {
            chat_id: self.chat_id,
            user_id: self.user_id,
            command_msg_id: self.message_id,
            lang: self.lang,
            prompt: request.prompt,
            options: request.options,
            image_file_ids,
        }
    }
}

/// Where the pressed button is and who pressed it.
#[derive(Debug, Clone)]
pub(super) struct Pressed {
    pub(super) callback_id: String,
    pub(super) chat_id: i64,
    /// The message the button is under.
    pub(super) message_id: i32,
    pub(super) in_group: bool,
    pub(super) user_id: i64,
    pub(super) name: String,
    pub(super) lang: Lang,
}

impl Pressed {
    /// The presser as the sender of `message_id` (the pressed message, or a
    /// request's "requested by" post).
    pub(super) fn sender(&self, message_id: i32) -> Sender {
        Sender { chat_id: self.chat_id, user_id: self.user_id, message_id, lang: self.lang, in_group: self.in_group }
    }
}

/// Queues the reply and returns: waiting for Telegram's per-chat send limit
/// here would hold up every later update of this chat.
pub(super) async fn queue_reply(state: &AppState, sender: &Sender, text: &str) -> HandlerResult {
    state.telegram.queue_reply(sender.chat_id, sender.message_id, text);
    Ok(())
}

/// Answers the press without waiting for Telegram; a failed answer only
/// leaves the spinner a little longer.
pub(super) async fn notice(state: &AppState, callback_id: &str, text: Option<&str>) -> HandlerResult {
    let text = text.map(|text| texts::cut(text, NOTICE_LIMIT));
    state.telegram.queue_press_answer(callback_id, text);
    Ok(())
}
