//! Command endpoints. Each answers as a reply and returns quickly: anything
//! slow (the create call) runs on the tracker, never in the dispatcher.

use std::sync::Arc;

use teloxide::prelude::*;
use tracing::Instrument;

use super::{
    AppState, Command, HandlerResult,
    albums::{ALBUM_MAX_WAIT, ALBUM_POLL_EVERY, ALBUM_WINDOW, Album, AlbumCommand, AlbumKey, PHOTOS_PER_ALBUM},
    photos,
    submit::submit,
};
use crate::{
    command::{VideoRequest, parse_video_args},
    task::{NewTask, Task},
    texts::{self, Lang},
};

/// How many tasks `/tasks` lists.
const RECENT_TASKS: i64 = 10;

/// Who wrote, where, in which language.
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
            // Group and supergroup chat ids are negative.
            in_group: task.chat_id < 0,
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

/// Queues the reply and returns: waiting for Telegram's per-chat send limit
/// here would hold up every later update of this chat.
pub(super) async fn queue_reply(state: &AppState, sender: &Sender, text: &str) -> HandlerResult {
    state.telegram.queue_reply(sender.chat_id, sender.message_id, text);
    Ok(())
}

pub async fn help(message: Message, command: Command, state: Arc<AppState>) -> HandlerResult {
    let Some(sender) = Sender::of(&message) else { return Ok(()) };
    if let Command::Paysupport(_) = command {
        return super::payments::paysupport(&state, &sender).await;
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
        Command::Settings(_) => super::settings::show(&state, &sender).await,
        Command::Models(_) => models(&sender, &state).await,
        Command::Buy(_) => super::payments::buy(&state, &sender).await,
        Command::Balance(_) => super::payments::balance(&state, &sender).await,
        Command::Paysupport(_) => super::payments::paysupport(&state, &sender).await,
        Command::Grant(args) => super::payments::grant(&state, &sender, &args).await,
        Command::Refund(args) => super::payments::refund(state, &sender, &args).await,
        Command::Start(_) | Command::Help(_) => queue_reply(&state, &sender, &help_for(&state, &sender)).await,
    }
}

async fn video(message: &Message, sender: &Sender, args: &str, state: Arc<AppState>) -> HandlerResult {
    if args.trim().is_empty() && message.caption().is_none() && message.reply_to_message().is_none() {
        return super::guided::ask(&state, sender).await;
    }
    let defaults = super::settings::defaults(&state, sender.chat_id).await?;
    let request = match parse_video_args(args, &defaults, state.models.catalog()) {
        Ok(request) => request,
        Err(error) => {
            let images = photos::command_images(message, &state).await;
            return super::buttons::refuse_with_fix(&state, sender, args, &images, &error).await;
        }
    };
    if let Some(group) = message.media_group_id() {
        // The caption of an album: the images come from all of its messages.
        // Its images are added when the album closes.
        let command = AlbumCommand {
            task: sender.task(request, Vec::new()),
            replied_images: photos::replied_images(message, &state).await,
        };
        collect_album_message(message, &group.0, Some(command), state);
        return Ok(());
    }
    let images = photos::command_images(message, &state).await;
    start_submission(sender, request, images, state).await
}

/// Checks the model and the image count, then hands the request to the tracker.
pub(super) async fn start_submission(
    sender: &Sender,
    mut request: VideoRequest,
    images: Vec<String>,
    state: Arc<AppState>,
) -> HandlerResult {
    let catalog = state.models.catalog();
    // A stored request (`/again`, a button) may name a model no longer offered.
    if !catalog.is_offered(request.options.model)
        && let Some(spec) = catalog.get(state.models.default_model())
    {
        request.options = request.options.moved_to(spec);
    }
    let max = catalog
        .get(request.options.model)
        .map_or(state.config.max_images, |spec| spec.max_images(state.config.max_images));
    if images.len() > max {
        let text = texts::too_many_images(sender.lang, images.len(), max, request.options.model);
        return queue_reply(&state, sender, &text).await;
    }
    let new = sender.task(request, images);
    let tracker = state.tracker.clone();
    // In the update's span: its log lines name the update.
    tracker.spawn(async move { submit(&state, new).await }.in_current_span());
    Ok(())
}

/// An album photo without a command: remember it for its album.
pub async fn album_photo(message: Message, state: Arc<AppState>) -> HandlerResult {
    if let Some(group) = message.media_group_id() {
        collect_album_message(&message, &group.0, None, state);
    }
    Ok(())
}

pub(super) fn collect_album_message(
    message: &Message,
    group_id: &str,
    command: Option<AlbumCommand>,
    state: Arc<AppState>,
) {
    let key = AlbumKey::new(message.chat.id.0, group_id);
    let file_id = photos::image_of(message);
    let tracker = state.tracker.clone();
    if state.store.is_shared() {
        // Other replicas may hold some of this album's photos: collect it in
        // the database.
        tracker.spawn(collect_shared_album(key, message.id.0, file_id, command, state));
        return;
    }
    let first = state.albums.add(&key, message.id.0, file_id, command);
    if first {
        tracker.spawn(async move {
            tokio::time::sleep(ALBUM_WINDOW).await;
            close_album(key, state).await;
        });
    }
}

/// Stores this replica's album message; the replica holding the caption then
/// waits for the album to go quiet and closes it.
async fn collect_shared_album(
    key: AlbumKey,
    message_id: i32,
    file_id: Option<String>,
    command: Option<AlbumCommand>,
    state: Arc<AppState>,
) {
    let chat_id = key.chat_id;
    if let Some(file_id) = file_id
        && let Err(error) = state.store.add_album_photo(chat_id, &key.group_id, message_id, &file_id).await
    {
        tracing::warn!(chat_id, %error, "could not store an album photo");
    }
    let Some(command) = command else { return };
    // A caption delivered twice (or two captions in one album) is offered
    // twice; the first one stays and is claimed once. Every replica holding
    // a caption waits and tries, so the album survives one of them dying.
    if let Err(error) = state.store.offer_album_command(chat_id, &key.group_id, &command.to_json()).await {
        tracing::warn!(chat_id, %error, "could not store an album command");
        return album_failed(&state, chat_id, &command).await;
    }
    wait_until_album_is_quiet(&key, &state).await;
    close_album(key, state).await;
}

/// Waits until no new photo of the album was stored for `ALBUM_WINDOW` (counted
/// from the caption at the earliest), at most `ALBUM_MAX_WAIT` in all. Photos
/// are counted rather than timed, so replicas' clocks need not agree.
async fn wait_until_album_is_quiet(key: &AlbumKey, state: &AppState) {
    let count = || state.store.album_photo_count(key.chat_id, &key.group_id);
    let started = tokio::time::Instant::now();
    let mut quiet_since = started;
    let mut known = count().await.ok();
    loop {
        let until = (quiet_since + ALBUM_WINDOW).min(started + ALBUM_MAX_WAIT);
        let now = tokio::time::Instant::now();
        if now >= until {
            return;
        }
        tokio::time::sleep(ALBUM_POLL_EVERY.min(until - now)).await;
        match count().await {
            Ok(n) if known != Some(n) => {
                known = Some(n);
                quiet_since = tokio::time::Instant::now();
            }
            Ok(_) => {}
            Err(error) => tracing::debug!(chat_id = key.chat_id, %error, "could not count album photos; waiting on"),
        }
    }
}

/// The album once collected: from memory, or claimed from the database by
/// exactly one replica.
async fn collected_album(key: &AlbumKey, state: &AppState) -> Option<Album> {
    if !state.store.is_shared() {
        return state.albums.close(key);
    }
    let claimed = state.store.claim_album_command(key.chat_id, &key.group_id, &state.owner).await;
    let json = match claimed {
        Ok(json) => json?,
        Err(error) => {
            tracing::warn!(chat_id = key.chat_id, %error, "could not claim an album command");
            return None;
        }
    };
    let Some(command) = AlbumCommand::from_json(&json) else {
        tracing::warn!(chat_id = key.chat_id, "unreadable album command in the database");
        return None;
    };
    let images = match state.store.album_photos(key.chat_id, &key.group_id, PHOTOS_PER_ALBUM).await {
        Ok(images) => images,
        Err(error) => {
            tracing::warn!(chat_id = key.chat_id, %error, "could not read an album's photos");
            album_failed(state, key.chat_id, &command).await;
            return None;
        }
    };
    Some(Album { command: Some(command), images })
}

/// Tells the album's sender that its command was lost to a database error.
async fn album_failed(state: &AppState, chat_id: i64, command: &AlbumCommand) {
    let sender = Sender::of_task(&command.task);
    if let Err(error) = queue_reply(state, &sender, &texts::inside_failure(sender.lang)).await {
        tracing::warn!(chat_id, %error, "could not answer an album command");
    }
}

async fn close_album(key: AlbumKey, state: Arc<AppState>) {
    let chat_id = key.chat_id;
    let Some(album) = collected_album(&key, &state).await else { return };
    let Some(command) = album.command else { return };
    let sender = Sender::of_task(&command.task);
    let mut images = album.images;
    photos::add_unique(&mut images, command.replied_images);
    let request = VideoRequest { options: command.task.options, prompt: command.task.prompt };
    if let Err(error) = start_submission(&sender, request, images, state).await {
        tracing::warn!(chat_id, %error, "could not answer an album command");
    }
}

/// A task the sender may see: one of theirs, or one of this chat's; admins see any.
async fn find_task(state: &AppState, sender: &Sender, arg: &str) -> Result<Option<Task>, crate::store::StoreError> {
    let arg = arg.trim().trim_start_matches('#');
    let task = if arg.is_empty() {
        state.store.recent_for_user(sender.user_id, 1).await?.into_iter().next()
    } else if let Ok(id) = arg.parse::<i64>() {
        super::record_task(id);
        state.store.task(id).await?
    } else {
        state.store.task_by_upstream_id(arg).await?
    };
    let admin = state.config.access.is_admin(sender.user_id);
    let task = task.filter(|task| admin || task.user_id == sender.user_id || task.chat_id == sender.chat_id);
    if let Some(task) = &task {
        super::record_task(task.id);
    }
    Ok(task)
}

async fn status(sender: &Sender, arg: &str, state: &AppState) -> HandlerResult {
    let text = match find_task(state, sender, arg).await? {
        Some(task) => {
            let text = texts::task_status(sender.lang, &task);
            if let Some(buttons) = crate::keyboards::status(sender.lang, &task) {
                state
                    .telegram
                    .queue_reply_with_keyboard(sender.chat_id, sender.message_id, text, buttons, |_| async {});
                return Ok(());
            }
            text
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
    if !super::buttons::stop_task(state, &task).await? {
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
    let usage = state.store.usage(sender.user_id, sender.chat_id, state.unknown_active_since()).await?;
    let admin = state.config.access.is_admin(sender.user_id);
    let limits = texts::quota(sender.lang, &usage, &state.config.limits, admin, sender.in_group);
    // With payments on, what the user has to spend comes first.
    let text = match state.config.payments {
        Some(_) => format!("{}\n\n{limits}", super::payments::quota_block(state, sender).await?),
        None => limits,
    };
    queue_reply(state, sender, &text).await
}
