//! A `/video` that could not be parsed: the error, with buttons that fix it
//! when the mistake is a duration the model lacks or an unknown option, and
//! those buttons' presses. The request waits in the store as a pending one;
//! its buttons are its asker's and act once.

use std::sync::Arc;

use teloxide::types::InlineKeyboardMarkup;

use super::{
    context::{AppState, Pressed, Sender, notice},
    error::HandlerResult,
    settings,
    submit::submit_press,
};
use crate::{
    command::{ParseError, VideoRequest, parse_video_args_with_duration},
    keyboards, texts,
};

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

/// The buttons under a mistake: the stored text with a valid duration, or all of it as the prompt.
/// `▶️ 5 s`: the stored text with a duration the model has.
pub(super) async fn with_duration(
    pressed: Pressed,
    (pending, seconds): (i64, u32),
    state: Arc<AppState>,
) -> HandlerResult {
    fix(state, &pressed, pending, Some(seconds)).await
}

/// `▶️ All of it as the prompt`.
pub(super) async fn as_prompt(pressed: Pressed, pending: i64, state: Arc<AppState>) -> HandlerResult {
    fix(state, &pressed, pending, None).await
}

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
