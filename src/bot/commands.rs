//! Command endpoints. Each answers as a reply and returns quickly: anything
//! slow (the create call) runs on the tracker, never in the dispatcher.

use std::sync::Arc;

use teloxide::prelude::*;

use super::{
    albums,
    context::{AppState, Sender, queue_reply},
    error::HandlerResult,
    fixes, guided, payments, settings,
    submit::start_submission,
    tasks::{find_task, stop_task},
};
use crate::{
    command::{VideoRequest, parse_video_args},
    status_message,
    store::{AlbumCommand, unknown_active_since},
    texts,
};

/// How many tasks `/tasks` lists.
const RECENT_TASKS: i64 = 10;

/// `/start`, `/help`: for anyone, with the admins' part for admins.
pub(super) async fn help(sender: Sender, state: Arc<AppState>) -> HandlerResult {
    queue_reply(&state, &sender, &help_for(&state, &sender)).await
}

/// The help, with the admin section for admins.
fn help_for(state: &AppState, sender: &Sender) -> String {
    let help = texts::help(sender.lang);
    if state.config.access.is_admin(sender.user_id) {
        format!("{help}\n\n{}", texts::admin_help(sender.lang))
    } else {
        help
    }
}

pub(super) async fn not_allowed(sender: Sender, state: Arc<AppState>) -> HandlerResult {
    tracing::info!(user_id = sender.user_id, chat_id = sender.chat_id, "refused a user who is not allowed");
    queue_reply(&state, &sender, &texts::not_allowed(sender.lang, sender.user_id)).await
}

pub(super) async fn video(message: Arc<Message>, sender: Sender, args: String, state: Arc<AppState>) -> HandlerResult {
    let (message, sender, args) = (&message, &sender, args.as_str());
    if args.trim().is_empty() && message.caption().is_none() && message.reply_to_message().is_none() {
        return guided::ask(&state, sender).await;
    }
    let defaults = settings::defaults(&state, sender.chat_id).await?;
    let request = match parse_video_args(args, &defaults, state.models.catalog()) {
        Ok(request) => request,
        Err(error) => {
            let images = albums::command_images(message, &state).await;
            return fixes::refuse_with_fix(&state, sender, args, &images, &error).await;
        }
    };
    if let Some(group) = message.media_group_id() {
        // The caption of an album: the images come from all of its messages.
        // Its images are added when the album closes.
        let command = AlbumCommand {
            task: sender.task(request, Vec::new()),
            replied_images: albums::replied_images(message, &state).await,
        };
        albums::collect(message, &group.0, Some(command), state);
        return Ok(());
    }
    let images = albums::command_images(message, &state).await;
    start_submission(sender, request, images, state).await
}

pub(super) async fn status(sender: Sender, arg: String, state: Arc<AppState>) -> HandlerResult {
    let (sender, arg, state) = (&sender, arg.as_str(), &*state);
    let text = match find_task(state, sender, arg).await? {
        Some(task) => {
            status_message::queue_copy(&state.telegram, sender.lang, &task, sender.chat_id, sender.message_id);
            return Ok(());
        }
        None if arg.trim().is_empty() => texts::no_tasks_yet(sender.lang),
        None => texts::task_not_found(sender.lang),
    };
    queue_reply(state, sender, &text).await
}

pub(super) async fn tasks(sender: Sender, state: Arc<AppState>) -> HandlerResult {
    let (sender, state) = (&sender, &*state);
    let tasks = if sender.in_group {
        state.store.recent_for_chat(sender.chat_id, RECENT_TASKS).await?
    } else {
        state.store.recent_for_user(sender.user_id, RECENT_TASKS).await?
    };
    queue_reply(state, sender, &texts::tasks_list(sender.lang, &tasks)).await
}

pub(super) async fn cancel(sender: Sender, arg: String, state: Arc<AppState>) -> HandlerResult {
    let (sender, arg, state) = (&sender, arg.as_str(), &*state);
    if arg.trim().is_empty() {
        return queue_reply(state, sender, &texts::cancel_usage(sender.lang)).await;
    }
    let task = find_task(state, sender, arg)
        .await?
        .filter(|task| task.user_id == sender.user_id || state.config.access.is_admin(sender.user_id));
    let Some(task) = task else { return queue_reply(state, sender, &texts::task_not_found(sender.lang)).await };
    if !stop_task(state, &task).await? {
        return queue_reply(state, sender, &texts::not_cancellable(sender.lang, &task)).await;
    }
    tracing::info!(task = task.id, user_id = sender.user_id, "task cancelled by its user");
    queue_reply(state, sender, &texts::cancelled(sender.lang, task.id)).await
}

pub(super) async fn again(sender: Sender, state: Arc<AppState>) -> HandlerResult {
    let sender = &sender;
    let last = state.store.recent_for_user(sender.user_id, 1).await?.into_iter().next();
    let Some(last) = last else { return queue_reply(&state, sender, &texts::nothing_to_repeat(sender.lang)).await };
    let request = VideoRequest { options: last.options, prompt: last.prompt };
    start_submission(sender, request, last.image_file_ids, state).await
}

/// `/models`: what can be asked for, what it costs, and whether it is served now.
pub(super) async fn models(sender: Sender, state: Arc<AppState>) -> HandlerResult {
    let (sender, state) = (&sender, &*state);
    let models = &state.models;
    let lines: Vec<_> = models
        .catalog()
        .offered()
        .iter()
        .map(|spec| (spec, models.availability(spec.name), spec.max_images(state.config.max_images)))
        .collect();
    queue_reply(state, sender, &texts::models(sender.lang, &lines, models.default_model())).await
}

pub(super) async fn quota(sender: Sender, state: Arc<AppState>) -> HandlerResult {
    let (sender, state) = (&sender, &*state);
    let usage =
        state.store.usage(sender.user_id, sender.chat_id, unknown_active_since(state.config.unknown_hold)).await?;
    let admin = state.config.access.is_admin(sender.user_id);
    let limits = texts::quota(sender.lang, &usage, &state.config.limits, admin, sender.in_group);
    // With payments on, what the user has to spend comes first.
    let text = match state.config.payments {
        Some(_) => format!("{}\n\n{limits}", payments::quota_block(state, sender).await?),
        None => limits,
    };
    queue_reply(state, sender, &text).await
}
