//! Button presses (callback queries) and the buttons offered under mistakes.
//!
//! Every press is answered at once (Telegram shows a spinner until then),
//! without waiting for the answer to go out, and re-checked against the
//! message it came from (its data must be one of that message's buttons) and
//! the stored row it names: who pressed, in which chat. A mistake's fix
//! buttons are their asker's and act once.
//! A re-request press becomes the presser's own request through the same
//! submission path, access rules and cost guards as a typed `/video`.
//!
//! A press has no command message of its own, yet a request needs one: its
//! replies (status, video) answer it, and `(chat, command message)` is what
//! keeps one Telegram update from becoming two paid tasks. So a re-request
//! press first posts a short "requested by" message under the pressed one
//! and uses that new message as the command: its id is unique in the chat,
//! real (replies thread under it), and it says in a group who asked. The post
//! waits in the chat's outbox for the chat's send budget, and the request is
//! submitted from there, so the chat's next updates do not wait for it. The
//! press itself is recorded by its callback id before anything is posted,
//! so the same update delivered twice does nothing the second time.

use std::{
    collections::HashMap,
    sync::{Arc, LazyLock, Mutex},
    time::{Duration, Instant},
};

use teloxide::{
    prelude::*,
    types::{InlineKeyboardButtonKind, InlineKeyboardMarkup, MaybeInaccessibleMessage},
};

use super::{
    AppState, HandlerResult,
    handlers::{Sender, start_submission},
    payments, settings,
};
use crate::{
    command::{ParseError, VideoRequest, parse_video_args_with_duration},
    keyboards::{self, Press},
    store::{Refusal, now_ms},
    task::{Task, TaskState},
    telegram::Lane,
    texts::{self, Lang},
    video_api::TaskPhase,
};
use tracing::Instrument;

/// `🔄 Refresh` on a status message shown less than this long ago only says "Up to date".
const REFRESH_GAP: Duration = Duration::from_secs(3);

/// Telegram shows at most this many characters of a press's notice.
const NOTICE_LIMIT: usize = 200;

/// Where the pressed button is and who pressed it.
struct Pressed {
    callback_id: String,
    chat_id: i64,
    message_id: i32,
    in_group: bool,
    user_id: i64,
    name: String,
    lang: Lang,
}

impl Pressed {
    fn answerable(&self, state: &AppState) -> bool {
        state.config.access.may_create(self.user_id, self.chat_id)
    }

    fn sender(&self, message_id: i32) -> Sender {
        Sender { chat_id: self.chat_id, user_id: self.user_id, message_id, lang: self.lang, in_group: self.in_group }
    }
}

pub async fn press(query: CallbackQuery, state: Arc<AppState>) -> HandlerResult {
    let lang = Lang::from_code(query.from.language_code.as_deref());
    let press = query.data.as_deref().and_then(Press::parse);
    // Buttons of inline results have no message; we send none.
    let (Some(press), Some(message)) = (press, query.message.as_ref()) else {
        return notice(&state, &query.id.0, Some(texts::press_gone(lang))).await;
    };
    // A client may send any data with a press: only a button the pressed
    // message really carries may act (not, say, task 3's Refresh redrawing
    // task 4's status message).
    if !carries_button(message, query.data.as_deref().unwrap_or_default()) {
        tracing::info!(chat_id = message.chat().id.0, "press data not among the message's buttons; refused");
        return notice(&state, &query.id.0, Some(texts::press_gone(lang))).await;
    }
    let pressed = Pressed {
        callback_id: query.id.0.clone(),
        chat_id: message.chat().id.0,
        message_id: message.id().0,
        in_group: message.chat().is_group() || message.chat().is_supergroup(),
        user_id: query.from.id.0 as i64,
        name: query.from.full_name(),
        lang,
    };
    crate::metrics::command("button");
    if let Some(id) = press.task() {
        super::record_task(id);
    }
    if !pressed.answerable(&state) {
        tracing::info!(
            user_id = pressed.user_id,
            chat_id = pressed.chat_id,
            "refused a press by a user who is not allowed"
        );
        return notice(&state, &pressed.callback_id, Some(texts::press_not_allowed(lang))).await;
    }
    if !state.store.first_press(&pressed.callback_id).await? {
        tracing::info!(chat_id = pressed.chat_id, "press seen before, not acting on it again");
        return notice(&state, &pressed.callback_id, None).await;
    }
    match press {
        Press::Refresh(id) => refresh(state, &pressed, id).await,
        Press::Stop(id) => stop(&state, &pressed, id).await,
        Press::Again(id) | Press::Flip(id) | Press::Pro(id) | Press::Model { task: id, .. } => {
            rerequest(state, &pressed, press, id).await
        }
        Press::Models(id) | Press::Back(id) => model_menu(&state, &pressed, press, id).await,
        Press::Duration { pending, seconds } => fix(state, &pressed, pending, Some(seconds)).await,
        Press::AsPrompt(pending) => fix(state, &pressed, pending, None).await,
        Press::Setting(setting) => {
            settings::change(&state, pressed.sender(pressed.message_id), &pressed.callback_id, setting).await
        }
        Press::Buy(pack) => {
            let buyer = payments::Buyer {
                user_id: pressed.user_id,
                name: pressed.name.clone(),
                lang: pressed.lang,
                chat_id: pressed.chat_id,
                message_id: pressed.message_id,
                in_group: pressed.in_group,
            };
            payments::press_buy(state, buyer, &pressed.callback_id, pack).await
        }
    }
}

fn carries_button(message: &MaybeInaccessibleMessage, data: &str) -> bool {
    let MaybeInaccessibleMessage::Regular(message) = message else { return false };
    message.reply_markup().is_some_and(|markup| {
        markup
            .inline_keyboard
            .iter()
            .flatten()
            .any(|button| matches!(&button.kind, InlineKeyboardButtonKind::CallbackData(own) if own == data))
    })
}

/// Answers the press without waiting for Telegram; a failed answer only
/// leaves the spinner a little longer.
pub(super) async fn notice(state: &AppState, callback_id: &str, text: Option<&str>) -> HandlerResult {
    let text = text.map(|text| texts::cut(text, NOTICE_LIMIT));
    state.telegram.queue_press_answer(callback_id, text);
    Ok(())
}

/// The task the button names, if it belongs to the chat the button is in.
async fn task_here(state: &AppState, pressed: &Pressed, id: i64) -> Result<Option<Task>, crate::store::StoreError> {
    Ok(state.store.task(id).await?.filter(|task| task.chat_id == pressed.chat_id))
}

async fn refresh(state: Arc<AppState>, pressed: &Pressed, id: i64) -> HandlerResult {
    let Some(task) = task_here(&state, pressed, id).await? else {
        return notice(&state, &pressed.callback_id, Some(texts::press_gone(pressed.lang))).await;
    };
    let is_status_message = task.status_msg_id == Some(pressed.message_id);
    // Shown moments ago: a press then (or a finger tapping on) costs a query and
    // an edit for nothing new, and quick edits of one message draw 429s.
    let fresh = is_status_message
        && task.shown_at.is_some_and(|at| now_ms().saturating_sub(at) < REFRESH_GAP.as_millis() as i64);
    // Many members pressing one task's Refresh make one query every
    // REFRESH_GAP, and none beyond the video API query rate the watcher uses too.
    if task.state == TaskState::Running && (fresh || !may_query(task.id, Instant::now()) || !state.queries.try_take()) {
        return notice(&state, &pressed.callback_id, Some(texts::press_up_to_date(pressed.lang))).await;
    }
    let ended = !task.state.is_open();
    notice(&state, &pressed.callback_id, ended.then(|| texts::press_already_finished(pressed.lang))).await?;
    // The query can take seconds: off the dispatcher, so the chat's next update is not held up.
    let (chat_id, message_id) = (pressed.chat_id, pressed.message_id);
    let tracker = state.tracker.clone();
    tracker.spawn(
        async move {
            if let Err(error) = show_now(&state, task, chat_id, message_id, is_status_message).await {
                tracing::info!(%error, "refresh not shown");
            }
        }
        .in_current_span(),
    );
    Ok(())
}

/// When each task was last queried for a Refresh press.
static REFRESHED: LazyLock<Mutex<HashMap<i64, Instant>>> = LazyLock::new(Mutex::default);
/// Tasks remembered in `REFRESHED`; past this, those outside `REFRESH_GAP` are forgotten.
const REFRESHED_REMEMBERED: usize = 10_000;

/// Whether a Refresh of `task` may query now (none did within `REFRESH_GAP`); records it.
fn may_query(task: i64, now: Instant) -> bool {
    let mut refreshed = REFRESHED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if refreshed.get(&task).is_some_and(|at| now.saturating_duration_since(*at) < REFRESH_GAP) {
        return false;
    }
    if refreshed.len() >= REFRESHED_REMEMBERED {
        refreshed.retain(|_, at| now.saturating_duration_since(*at) < REFRESH_GAP);
    }
    refreshed.insert(task, now);
    true
}

/// Queries a running task, records its progress, and shows the task as now
/// stored (the watcher may have ended it meanwhile) in the pressed message.
async fn show_now(
    state: &AppState,
    task: Task,
    chat_id: i64,
    message_id: i32,
    is_status_message: bool,
) -> HandlerResult {
    if let (TaskState::Running, Some(upstream_id)) = (task.state, task.upstream_id.as_deref()) {
        match state.api.query(upstream_id).await {
            // Only progress (a "done" without a video is progress too): finishing,
            // delivering and counting empty answers stay with the watcher.
            Ok(report) if matches!(report.phase, TaskPhase::Running | TaskPhase::DoneWithoutVideo) => {
                let progress = report.progress_pct.or(task.progress_pct);
                state.store.record_progress(task.id, &report.status, progress).await?;
            }
            Ok(_) => {}
            Err(error) => tracing::info!(task = task.id, kind = error.kind(), "refresh query failed"),
        }
    }
    let task = state.store.task(task.id).await?.unwrap_or(task);
    let lang = task.lang;
    let text = texts::task_status(lang, &task);
    state.telegram.edit_with_keyboard(chat_id, message_id, &text, keyboards::status(lang, &task)).await?;
    if is_status_message {
        state.store.mark_shown(task.id, &text).await?;
    }
    Ok(())
}

async fn stop(state: &AppState, pressed: &Pressed, id: i64) -> HandlerResult {
    let Some(task) = task_here(state, pressed, id).await? else {
        return notice(state, &pressed.callback_id, Some(texts::press_gone(pressed.lang))).await;
    };
    if task.user_id != pressed.user_id && !state.config.access.is_admin(pressed.user_id) {
        return notice(state, &pressed.callback_id, Some(texts::press_not_yours(pressed.lang))).await;
    }
    let text = if stop_task(state, &task).await? {
        tracing::info!(task = task.id, user_id = pressed.user_id, "task stopped with its button");
        // Pressed under a `/status` reply: that copy loses its buttons too.
        if task.status_msg_id != Some(pressed.message_id)
            && let Some(stopped) = state.store.task(task.id).await?
        {
            let text = texts::task_status(task.lang, &stopped);
            state.telegram.queue_edit(pressed.chat_id, pressed.message_id, text, None);
        }
        texts::press_stopped(pressed.lang)
    } else {
        texts::press_already_finished(pressed.lang)
    };
    notice(state, &pressed.callback_id, Some(text)).await
}

/// Stops following an open task and shows that in its status message (whose
/// buttons go with it). The job goes on upstream, so the task stays open,
/// silenced, and keeps its slot until it ends there. `false` if it had
/// already ended or been stopped.
pub(super) async fn stop_task(state: &AppState, task: &Task) -> Result<bool, crate::store::StoreError> {
    if !state.store.cancel(task.id).await? {
        return Ok(false);
    }
    if let (Some(message_id), Some(cancelled)) = (task.status_msg_id, state.store.task(task.id).await?) {
        let text = texts::task_status(task.lang, &cancelled);
        state.telegram.queue_edit(task.chat_id, message_id, text, None);
    }
    Ok(true)
}

/// `🔁 Again`, the other orientation, `⭐ Pro`, another model.
async fn rerequest(state: Arc<AppState>, pressed: &Pressed, press: Press, id: i64) -> HandlerResult {
    let Some(task) = task_here(&state, pressed, id).await? else {
        return notice(&state, &pressed.callback_id, Some(texts::press_gone(pressed.lang))).await;
    };
    let catalog = state.models.catalog();
    let mut options = task.options;
    let label = match press {
        Press::Flip(_) => match catalog.get(options.model).and_then(|spec| spec.flipped(options.shape)) {
            Some(shape) => {
                options.shape = shape;
                texts::button_orientation(pressed.lang, shape.class())
            }
            None => return notice(&state, &pressed.callback_id, Some(texts::press_gone(pressed.lang))).await,
        },
        Press::Pro(_) => match catalog.pro_of(options.model) {
            Some(pro) => {
                options = options.moved_to(pro);
                texts::button_pro(pressed.lang).to_owned()
            }
            None => return notice(&state, &pressed.callback_id, Some(texts::press_gone(pressed.lang))).await,
        },
        // A model taken off the menu since the button was made is refused, not swapped.
        Press::Model { model, .. } => match catalog.get(model).filter(|spec| catalog.is_offered(spec.name)) {
            Some(spec) => {
                options = options.moved_to(spec);
                format!("🎬 {}", spec.label)
            }
            None => return notice(&state, &pressed.callback_id, Some(texts::press_gone(pressed.lang))).await,
        },
        _ => texts::button_again(pressed.lang).to_owned(),
    };
    let request = VideoRequest { options, prompt: task.prompt };
    submit_press(state, pressed, &label, request, task.image_file_ids).await
}

/// `🎬 Model` under a delivered video opens the other models the video API
/// serves; `↩ Back` restores the video's own buttons. Only the view changes.
async fn model_menu(state: &AppState, pressed: &Pressed, press: Press, id: i64) -> HandlerResult {
    let Some(task) = task_here(state, pressed, id).await? else {
        return notice(state, &pressed.callback_id, Some(texts::press_gone(pressed.lang))).await;
    };
    notice(state, &pressed.callback_id, None).await?;
    let models = &state.models;
    let markup = match press {
        Press::Models(_) => {
            let others: Vec<_> = models.alternatives(task.options.model).collect();
            keyboards::model_choices(pressed.lang, task.id, &others)
        }
        _ => keyboards::video(pressed.lang, &task, models.catalog()),
    };
    state.telegram.queue_edit_keyboard(pressed.chat_id, pressed.message_id, markup);
    Ok(())
}

/// The buttons under a mistake: the stored text with a valid duration, or all of it as the prompt.
async fn fix(state: Arc<AppState>, pressed: &Pressed, pending: i64, seconds: Option<u32>) -> HandlerResult {
    let pending = state.store.pending_request(pending).await?.filter(|p| p.chat_id == pressed.chat_id);
    let Some(pending) = pending else {
        return notice(&state, &pressed.callback_id, Some(texts::press_gone(pressed.lang))).await;
    };
    if pending.user_id != pressed.user_id {
        return notice(&state, &pressed.callback_id, Some(texts::press_not_your_question(pressed.lang))).await;
    }
    // Read before the request is taken: a failure leaves the buttons to press again.
    let defaults = settings::defaults(&state, pressed.chat_id).await?;
    if !state.store.take_pending_request(pending.id, pressed.user_id).await? {
        return notice(&state, &pressed.callback_id, Some(texts::press_gone(pressed.lang))).await;
    }
    // Acted on once: its buttons go, so nobody presses them again.
    state.telegram.queue_edit_keyboard(pressed.chat_id, pressed.message_id, InlineKeyboardMarkup::default());
    let (label, request) = match seconds {
        Some(seconds) => (
            texts::button_seconds(pressed.lang, seconds),
            parse_video_args_with_duration(&pending.args, &defaults, state.models.catalog(), seconds),
        ),
        None => {
            let prompt = pending.args.trim().to_owned();
            (texts::button_as_prompt(pressed.lang).to_owned(), Ok(VideoRequest { options: defaults, prompt }))
        }
    };
    match request {
        Ok(request) => submit_press(state, pressed, &format!("▶️ {label}"), request, pending.image_file_ids).await,
        Err(error) => notice(&state, &pressed.callback_id, Some(&texts::parse_error(pressed.lang, &error))).await,
    }
}

/// Answers the press, posts the "requested by" message and submits the
/// request as the presser's, with that message as its command.
async fn submit_press(
    state: Arc<AppState>,
    pressed: &Pressed,
    label: &str,
    request: VideoRequest,
    images: Vec<String>,
) -> HandlerResult {
    // The cost guards decide again when the request is stored; this only
    // saves a message that would be refused anyway, and says why in the notice.
    let cost = state.models.catalog().get(request.options.model).map_or(1, |spec| spec.cost);
    if let Some(refusal) = refused_now(&state, pressed.user_id, pressed.chat_id, cost).await? {
        let text = texts::refusal(pressed.lang, refusal, now_ms());
        return notice(&state, &pressed.callback_id, Some(&text)).await;
    }
    notice(&state, &pressed.callback_id, Some(texts::press_working(pressed.lang))).await?;
    let text = texts::press_request(pressed.lang, &pressed.name, label, &request.prompt);
    // The post waits for the chat's send budget; the chat's next updates do not.
    let (chat_id, reply_to) = (pressed.chat_id, pressed.message_id);
    let presser = pressed.sender(pressed.message_id);
    let telegram = state.telegram.clone();
    let outbox = telegram.clone();
    outbox.queue(
        chat_id,
        Lane::Sends,
        async move {
            if state.tracker.is_closed() {
                // Stopping: no new paid create may start that shutdown would not wait for.
                return tracing::warn!(chat_id, "stopping; a press's request was not made");
            }
            let command = match telegram.reply(chat_id, reply_to, &text).await {
                Ok(command) => command,
                Err(error) => return tracing::warn!(chat_id, %error, "could not post a press's request; not submitted"),
            };
            let sender = Sender { message_id: command.0, ..presser };
            if let Err(error) = start_submission(&sender, request, images, state).await {
                tracing::warn!(chat_id, %error, "could not submit a press's request");
            }
        }
        .in_current_span(),
    );
    Ok(())
}

async fn refused_now(
    state: &AppState,
    user_id: i64,
    chat_id: i64,
    cost: u32,
) -> Result<Option<Refusal>, crate::store::StoreError> {
    let usage = state.store.usage(user_id, chat_id, state.unknown_active_since()).await?;
    let exempt = state.config.access.is_admin(user_id);
    let in_group = crate::store::is_group_chat(chat_id);
    Ok(crate::store::limit_reached(&usage, &state.config.limits, exempt, in_group, cost))
}

/// A `/video` that could not be parsed: the error, with buttons that fix it
/// when the mistake is a duration the model lacks or an unknown option.
pub(super) async fn refuse_with_fix(
    state: &AppState,
    sender: &Sender,
    args: &str,
    images: &[String],
    error: &ParseError,
) -> HandlerResult {
    let text = texts::parse_error(sender.lang, error);
    let durations = match error {
        ParseError::BadDuration { offered, .. } if !offered.is_empty() => Some(offered),
        ParseError::UnknownOption(_) => None,
        _ => {
            state.telegram.queue_reply(sender.chat_id, sender.message_id, text);
            return Ok(());
        }
    };
    let pending = state.store.add_pending_request(sender.chat_id, sender.user_id, args, images).await?;
    let markup = match durations {
        Some(durations) => keyboards::durations(sender.lang, pending, durations),
        None => keyboards::as_prompt(sender.lang, pending),
    };
    state.telegram.queue_reply_with_keyboard(sender.chat_id, sender.message_id, text, markup, |_| async {});
    Ok(())
}
