//! Command endpoints. Each answers as a reply and returns quickly: anything
//! slow (the create call) runs on the tracker, never in the dispatcher.

use std::sync::Arc;

use teloxide::prelude::*;

use super::{
    albums,
    context::{AppState, Sender, queue_reply},
    error::HandlerResult,
    fixes, guided,
    menu::Command,
    payments, settings,
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

pub async fn help(message: Message, command: Command, state: Arc<AppState>) -> HandlerResult {
    let Some(sender) = Sender::of(&message) else { return Ok(()) };
    if let Command::Paysupport(_) = command {
        return payments::paysupport(&state, &sender).await;
    }
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

pub async fn not_allowed(message: Message, state: Arc<AppState>) -> HandlerResult {
    let Some(sender) = Sender::of(&message) else { return Ok(()) };
    tracing::info!(user_id = sender.user_id, chat_id = sender.chat_id, "refused a user who is not allowed");
    queue_reply(&state, &sender, &texts::not_allowed(sender.lang, sender.user_id)).await
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
        Command::Settings(_) => settings::show(&state, &sender).await,
        Command::Models(_) => models(&sender, &state).await,
        Command::Buy(_) => payments::buy(&state, &sender).await,
        Command::Balance(_) => payments::balance(&state, &sender).await,
        Command::Paysupport(_) => payments::paysupport(&state, &sender).await,
        Command::Grant(args) => payments::grant(&state, &sender, &args).await,
        Command::Refund(args) => payments::refund(state, &sender, &args).await,
        Command::Start(_) | Command::Help(_) => queue_reply(&state, &sender, &help_for(&state, &sender)).await,
    }
}

async fn video(message: &Message, sender: &Sender, args: &str, state: Arc<AppState>) -> HandlerResult {
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

async fn status(sender: &Sender, arg: &str, state: &AppState) -> HandlerResult {
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

async fn tasks(sender: &Sender, state: &AppState) -> HandlerResult {
    let tasks = if sender.in_group {
        state.store.recent_for_chat(sender.chat_id, RECENT_TASKS).await?
    } else {
        state.store.recent_for_user(sender.user_id, RECENT_TASKS).await?
    };
    queue_reply(state, sender, &texts::tasks_list(sender.lang, &tasks)).await
}

async fn cancel(sender: &Sender, arg: &str, state: &AppState) -> HandlerResult {
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

async fn again(sender: &Sender, state: Arc<AppState>) -> HandlerResult {
    let last = state.store.recent_for_user(sender.user_id, 1).await?.into_iter().next();
    let Some(last) = last else { return queue_reply(&state, sender, &texts::nothing_to_repeat(sender.lang)).await };
    let request = VideoRequest { options: last.options, prompt: last.prompt };
    start_submission(sender, request, last.image_file_ids, state).await
}

/// `/models`: what can be asked for, what it costs, and whether it is served now.
async fn models(sender: &Sender, state: &AppState) -> HandlerResult {
    let models = &state.models;
    let lines: Vec<_> = models
        .catalog()
        .offered()
        .iter()
        .map(|spec| (spec, models.availability(spec.name), spec.max_images(state.config.max_images)))
        .collect();
    queue_reply(state, sender, &texts::models(sender.lang, &lines, models.default_model())).await
}

async fn quota(sender: &Sender, state: &AppState) -> HandlerResult {
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
