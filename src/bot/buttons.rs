//! Button presses (callback queries) on tasks: under a status message, under
//! a delivered video, under a request whose model is gone.
//!
//! Every press is answered at once (Telegram shows a spinner until then),
//! without waiting for the answer to go out, and re-checked against the
//! message it came from (its data must be one of that message's buttons) and
//! the stored row it names: who pressed, in which chat.
//! A re-request press becomes the presser's own request through the same
//! submission path, access rules and cost guards as a typed `/video`.

use std::{
    collections::HashMap,
    sync::{Arc, LazyLock, Mutex},
    time::{Duration, Instant},
};

use teloxide::types::CallbackQuery;

use super::{
    context::{AppState, Pressed, notice},
    error::HandlerResult,
    submit::submit_press,
    tasks::{stop_task, task_here},
};
use crate::{
    command::VideoRequest,
    keyboards::{self, Press},
    status_message,
    store::now_ms,
    task::{Task, TaskState},
    texts::{self, Lang},
    video_api::TaskPhase,
};
use tracing::Instrument;

/// `🔄 Refresh` on a status message shown less than this long ago only says "Up to date".
const REFRESH_GAP: Duration = Duration::from_secs(3);

/// A press that cannot act: from no message of ours, or with data its
/// message does not carry.
pub(super) async fn gone(query: CallbackQuery, state: Arc<AppState>) -> HandlerResult {
    let lang = Lang::from_code(query.from.language_code.as_deref());
    notice(&state, &query.id.0, Some(texts::press_gone(lang))).await
}

pub(super) async fn not_allowed(pressed: Pressed, state: Arc<AppState>) -> HandlerResult {
    tracing::info!(
        user_id = pressed.user_id,
        chat_id = pressed.chat_id,
        "refused a press by a user who is not allowed"
    );
    notice(&state, &pressed.callback_id, Some(texts::press_not_allowed(pressed.lang))).await
}

/// The same update delivered again: answered, not acted on.
pub(super) async fn seen_before(pressed: Pressed, state: Arc<AppState>) -> HandlerResult {
    tracing::info!(chat_id = pressed.chat_id, "press seen before, not acting on it again");
    notice(&state, &pressed.callback_id, None).await
}

/// `🔄 Refresh`: the task queried now and shown in the pressed message.
pub(super) async fn refresh(pressed: Pressed, id: i64, state: Arc<AppState>) -> HandlerResult {
    let pressed = &pressed;
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
            if let Err(error) = show_now(&state, task, chat_id, message_id).await {
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
async fn show_now(state: &AppState, task: Task, chat_id: i64, message_id: i32) -> HandlerResult {
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
    status_message::show(&state.telegram, &state.store, &task, chat_id, message_id).await?;
    Ok(())
}

/// `✖ Stop`: what `/cancel` does, by the task's user or an admin.
pub(super) async fn stop(pressed: Pressed, id: i64, state: Arc<AppState>) -> HandlerResult {
    let (pressed, state) = (&pressed, &*state);
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
            status_message::queue_stopped(&state.telegram, &stopped, pressed.chat_id, pressed.message_id);
        }
        texts::press_stopped(pressed.lang)
    } else {
        texts::press_already_finished(pressed.lang)
    };
    notice(state, &pressed.callback_id, Some(text)).await
}

/// `🔁 Again`, the other orientation, `⭐ Pro`, another model.
pub(super) async fn rerequest(pressed: Pressed, press: Press, id: i64, state: Arc<AppState>) -> HandlerResult {
    let pressed = &pressed;
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
pub(super) async fn model_menu(pressed: Pressed, press: Press, id: i64, state: Arc<AppState>) -> HandlerResult {
    let (pressed, state) = (&pressed, &*state);
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
