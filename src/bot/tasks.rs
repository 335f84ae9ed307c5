//! A user's tasks as the handlers reach them: finding one they may see,
//! stopping one.

use super::context::{AppState, Pressed, Sender};
use crate::{status_message, store::StoreError, task::Task};

/// A task the sender may see: one of theirs, or one of this chat's; admins see any.
pub(super) async fn find_task(state: &AppState, sender: &Sender, arg: &str) -> Result<Option<Task>, StoreError> {
    let arg = arg.trim().trim_start_matches('#');
    let task = if arg.is_empty() {
        state.store.recent_for_user(sender.user_id, 1).await?.into_iter().next()
    } else if let Ok(id) = arg.parse::<i64>() {
        super::error::record_task(id);
        state.store.task(id).await?
    } else {
        state.store.task_by_upstream_id(arg).await?
    };
    let admin = state.config.access.is_admin(sender.user_id);
    let task = task.filter(|task| admin || task.user_id == sender.user_id || task.chat_id == sender.chat_id);
    if let Some(task) = &task {
        super::error::record_task(task.id);
    }
    Ok(task)
}

/// The task a button names, if it belongs to the chat the button is in.
pub(super) async fn task_here(state: &AppState, pressed: &Pressed, id: i64) -> Result<Option<Task>, StoreError> {
    Ok(state.store.task(id).await?.filter(|task| task.chat_id == pressed.chat_id))
}

/// Stops following an open task and shows that in its status message (whose
/// buttons go with it). The job goes on upstream, so the task stays open,
/// silenced, and keeps its slot until it ends there. `false` if it had
/// already ended or been stopped.
pub(super) async fn stop_task(state: &AppState, task: &Task) -> Result<bool, StoreError> {
    if !state.store.cancel(task.id).await? {
        return Ok(false);
    }
    if let (Some(message_id), Some(cancelled)) = (task.status_msg_id, state.store.task(task.id).await?) {
        status_message::queue_stopped(&state.telegram, &cancelled, task.chat_id, message_id);
    }
    Ok(true)
}
