//! Command endpoints. Each answers as a reply and returns quickly: anything
//! slow (the create call) runs on the tracker, never in the dispatcher.

use std::sync::Arc;

use teloxide::prelude::*;

use super::{
    AppState, Command, HandlerResult,
    albums::{ALBUM_WINDOW, AlbumCommand, AlbumKey},
    photos,
    submit::{Submission, submit},
};
use crate::{
    command::{VideoRequest, parse_video_args},
    task::{Task, TaskState},
    texts::{self, Lang},
};

/// How many tasks `/tasks` lists.
const RECENT_TASKS: i64 = 10;

/// Who wrote, where, in which language.
struct Sender {
    chat_id: i64,
    user_id: i64,
    message_id: i32,
    lang: Lang,
    in_group: bool,
}

impl Sender {
    fn of(message: &Message) -> Option<Sender> {
        let user = message.from.as_ref()?;
        Some(Sender {
            chat_id: message.chat.id.0,
            user_id: user.id.0 as i64,
            message_id: message.id.0,
            lang: Lang::from_code(user.language_code.as_deref()),
            in_group: message.chat.is_group() || message.chat.is_supergroup(),
        })
    }
}

/// Queues the answer and returns: waiting for Telegram's per-chat send limit
/// here would hold up every later update of this chat.
async fn answer(state: &AppState, sender: &Sender, text: &str) -> HandlerResult {
    state.telegram.post_reply(sender.chat_id, sender.message_id, text);
    Ok(())
}

pub async fn help(message: Message, state: Arc<AppState>) -> HandlerResult {
    let Some(sender) = Sender::of(&message) else { return Ok(()) };
    answer(&state, &sender, &texts::help(sender.lang)).await
}

pub async fn not_allowed(message: Message, state: Arc<AppState>) -> HandlerResult {
    let Some(sender) = Sender::of(&message) else { return Ok(()) };
    tracing::info!(user_id = sender.user_id, chat_id = sender.chat_id, "refused a user who is not allowed");
    answer(&state, &sender, &texts::not_allowed(sender.lang, sender.user_id)).await
}

pub async fn command(message: Message, command: Command, state: Arc<AppState>) -> HandlerResult {
    let Some(sender) = Sender::of(&message) else { return Ok(()) };
    match command {
        Command::Video(args) => video(&message, &sender, &args, state).await,
        Command::Status(arg) => status(&sender, &arg, &state).await,
        Command::Tasks(_) => tasks(&sender, &state).await,
        Command::Cancel(arg) => cancel(&sender, &arg, &state).await,
        Command::Again(_) => again(&sender, state).await,
        Command::Quota(_) => quota(&sender, &state).await,
        Command::Start(_) | Command::Help(_) => answer(&state, &sender, &texts::help(sender.lang)).await,
    }
}

async fn video(message: &Message, sender: &Sender, args: &str, state: Arc<AppState>) -> HandlerResult {
    let request = match parse_video_args(args, &state.config.defaults) {
        Ok(request) => request,
        Err(error) => return answer(&state, sender, &texts::parse_error(sender.lang, &error)).await,
    };
    if let Some(group) = message.media_group_id() {
        // The caption of an album: the images come from all of its messages.
        let command = AlbumCommand {
            command_msg_id: sender.message_id,
            user_id: sender.user_id,
            language_code: Some(sender.lang.code().to_owned()),
            request,
            replied_images: photos::replied_images(message, &state.albums),
        };
        collect_album_message(message, &group.0, Some(command), state);
        return Ok(());
    }
    let images = photos::command_images(message, &state.albums);
    start_submission(sender, request, images, state).await
}

/// Checks the image count, then hands the request to the tracker.
async fn start_submission(sender: &Sender, request: VideoRequest, images: Vec<String>, state: Arc<AppState>) -> HandlerResult {
    let max = state.config.max_images;
    if images.len() > max {
        return answer(&state, sender, &texts::too_many_images(sender.lang, images.len(), max)).await;
    }
    let submission = Submission {
        chat_id: sender.chat_id,
        user_id: sender.user_id,
        command_msg_id: sender.message_id,
        lang: sender.lang,
        request,
        image_file_ids: images,
    };
    let tracker = state.tracker.clone();
    tracker.spawn(async move { submit(&state, submission).await });
    Ok(())
}

/// An album photo without a command: remember it for its album.
pub async fn album_photo(message: Message, state: Arc<AppState>) -> HandlerResult {
    if let Some(group) = message.media_group_id() {
        collect_album_message(&message, &group.0, None, state);
    }
    Ok(())
}

fn collect_album_message(message: &Message, group_id: &str, command: Option<AlbumCommand>, state: Arc<AppState>) {
    let key = AlbumKey::new(message.chat.id.0, group_id);
    let first = state.albums.add(&key, message.id.0, photos::image_of(message), command);
    if first {
        let chat_id = message.chat.id.0;
        let tracker = state.tracker.clone();
        tracker.spawn(async move {
            tokio::time::sleep(ALBUM_WINDOW).await;
            close_album(chat_id, key, state).await;
        });
    }
}

async fn close_album(chat_id: i64, key: AlbumKey, state: Arc<AppState>) {
    let Some(album) = state.albums.close(&key) else { return };
    let Some(command) = album.command else { return };
    let mut images = album.images;
    photos::add_unique(&mut images, command.replied_images);
    let sender = Sender {
        chat_id,
        user_id: command.user_id,
        message_id: command.command_msg_id,
        lang: Lang::from_code(command.language_code.as_deref()),
        in_group: chat_id < 0,
    };
    if let Err(error) = start_submission(&sender, command.request, images, state).await {
        tracing::warn!(chat_id, %error, "could not answer an album command");
    }
}

/// A task the sender may see: one of theirs, or one of this chat's.
async fn find_task(state: &AppState, sender: &Sender, arg: &str) -> Result<Option<Task>, crate::store::StoreError> {
    let arg = arg.trim().trim_start_matches('#');
    let task = if arg.is_empty() {
        state.store.recent_for_user(sender.user_id, 1).await?.into_iter().next()
    } else if let Ok(id) = arg.parse::<i64>() {
        state.store.task(id).await?
    } else {
        state.store.task_by_upstream_id(arg).await?
    };
    Ok(task.filter(|task| task.user_id == sender.user_id || task.chat_id == sender.chat_id))
}

async fn status(sender: &Sender, arg: &str, state: &AppState) -> HandlerResult {
    let text = match find_task(state, sender, arg).await? {
        Some(task) => texts::task_status(sender.lang, &task),
        None if arg.trim().is_empty() => texts::no_tasks_yet(sender.lang),
        None => texts::task_not_found(sender.lang),
    };
    answer(state, sender, &text).await
}

async fn tasks(sender: &Sender, state: &AppState) -> HandlerResult {
    let tasks = if sender.in_group {
        state.store.recent_for_chat(sender.chat_id, RECENT_TASKS).await?
    } else {
        state.store.recent_for_user(sender.user_id, RECENT_TASKS).await?
    };
    answer(state, sender, &texts::tasks_list(sender.lang, &tasks)).await
}

async fn cancel(sender: &Sender, arg: &str, state: &AppState) -> HandlerResult {
    if arg.trim().is_empty() {
        return answer(state, sender, &texts::cancel_usage(sender.lang)).await;
    }
    let task = find_task(state, sender, arg)
        .await?
        .filter(|task| task.user_id == sender.user_id || state.config.access.is_admin(sender.user_id));
    let Some(task) = task else { return answer(state, sender, &texts::task_not_found(sender.lang)).await };
    if !state.store.finish(task.id, TaskState::Cancelled, None).await? {
        return answer(state, sender, &texts::not_cancellable(sender.lang, &task)).await;
    }
    tracing::info!(task = task.id, user_id = sender.user_id, "task cancelled by its user");
    if let (Some(message_id), Some(mut cancelled)) = (task.status_msg_id, state.store.task(task.id).await?) {
        cancelled.state = TaskState::Cancelled;
        let text = texts::task_status(Lang::from_code(Some(&task.lang)), &cancelled);
        if let Err(error) = state.telegram.edit(task.chat_id, message_id, &text).await {
            tracing::warn!(task = task.id, %error, "could not edit the status message");
        }
    }
    answer(state, sender, &texts::cancelled(sender.lang, task.id)).await
}

async fn again(sender: &Sender, state: Arc<AppState>) -> HandlerResult {
    let last = state.store.recent_for_user(sender.user_id, 1).await?.into_iter().next();
    let Some(last) = last else { return answer(&state, sender, &texts::nothing_to_repeat(sender.lang)).await };
    let request = VideoRequest { options: last.options, prompt: last.prompt };
    start_submission(sender, request, last.image_file_ids, state).await
}

async fn quota(sender: &Sender, state: &AppState) -> HandlerResult {
    let usage = state.store.usage(sender.user_id).await?;
    let admin = state.config.access.is_admin(sender.user_id);
    answer(state, sender, &texts::quota(sender.lang, &usage, &state.config.limits, admin)).await
}
