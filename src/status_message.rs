//! A task's status message: the reply under its command that shows where the
//! task stands, with its buttons while there is something to press. This
//! module alone renders it, sends it, edits it and records it in the store,
//! for the submission, the buttons and the watcher alike. A `/status` reply
//! is a copy of it, rendered the same, that the store does not follow.

use teloxide::{RequestError, types::InlineKeyboardMarkup};

use crate::{
    keyboards,
    store::Store,
    task::Task,
    telegram::Telegram,
    texts::{self, Lang},
};

/// What a status message shows.
pub struct Shown {
    pub text: String,
    /// `🔄 Refresh` and `✖ Stop` while the task is open and followed; none
    /// once nothing is left to press (an edit without them removes them).
    pub buttons: Option<InlineKeyboardMarkup>,
}

/// The task as it stands, in `lang`.
pub fn render(lang: Lang, task: &Task) -> Shown {
    Shown { text: texts::task_status(lang, task), buttons: keyboards::status(lang, task) }
}

/// Sends the status message under the task's command and records its id and
/// text, so the watcher edits it from now on. A failure is logged: the task
/// goes on, followed, without one.
pub async fn send(telegram: &Telegram, store: &Store, task: &Task) {
    let Shown { text, buttons } = render(task.lang, task);
    match telegram.reply_with_keyboard(task.chat_id, task.command_msg_id, &text, buttons.unwrap_or_default()).await {
        Ok(message_id) => {
            if let Err(error) = store.set_status_message(task.id, message_id.0, &text).await {
                tracing::error!(task = task.id, %error, "could not store the status message id");
            }
        }
        Err(error) => {
            tracing::warn!(task = task.id, chat_id = task.chat_id, %error, "could not send the status message")
        }
    }
}

/// A copy under a `/status` command, in the asker's language, queued in the
/// chat's outbox. Its buttons act on the task like the status message's.
pub fn queue_copy(telegram: &Telegram, lang: Lang, task: &Task, chat_id: i64, reply_to: i32) {
    let Shown { text, buttons } = render(lang, task);
    match buttons {
        Some(buttons) => telegram.queue_reply_with_keyboard(chat_id, reply_to, text, buttons, |_| async {}),
        None => telegram.queue_reply(chat_id, reply_to, text),
    }
}

/// Edits `message_id` (the status message or a `/status` copy) to show the
/// task as it stands. The status message's text is recorded as shown (it is
/// edited again only when that changes, and not too often), also when
/// Telegram refused the edit for good (a deleted message, say), so the same
/// doomed edit is not repeated. `Err` only for an edit worth trying again.
pub async fn show(
    telegram: &Telegram,
    store: &Store,
    task: &Task,
    chat_id: i64,
    message_id: i32,
) -> Result<(), RequestError> {
    let Shown { text, buttons } = render(task.lang, task);
    match telegram.edit_with_keyboard(chat_id, message_id, &text, buttons).await {
        Ok(()) => {}
        Err(RequestError::Api(error)) => tracing::info!(task = task.id, %error, "status message not edited"),
        Err(error) => return Err(error),
    }
    if (chat_id, Some(message_id)) == (task.chat_id, task.status_msg_id)
        && let Err(error) = store.mark_shown(task.id, &text).await
    {
        tracing::warn!(task = task.id, %error, "could not record the shown status");
    }
    Ok(())
}

/// Shows an ended task in its status message, whatever the edit gap (a final
/// state is shown once). Not recorded: an ended task is not edited again.
pub async fn show_final(telegram: &Telegram, task: &Task) {
    let Some(message_id) = task.status_msg_id else { return };
    let Shown { text, buttons } = render(task.lang, task);
    if let Err(error) = telegram.edit_with_keyboard(task.chat_id, message_id, &text, buttons).await {
        tracing::info!(task = task.id, %error, "final status not shown");
    }
}

/// Queues an edit of `message_id` (the status message or a `/status` copy)
/// showing a stopped task, without buttons. Not recorded: a stopped task is
/// followed silently and its status message not edited again.
pub fn queue_stopped(telegram: &Telegram, task: &Task, chat_id: i64, message_id: i32) {
    let Shown { text, buttons } = render(task.lang, task);
    telegram.queue_edit(chat_id, message_id, text, buttons);
}
