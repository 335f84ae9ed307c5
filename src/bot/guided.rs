//! Guided `/video`: a bare `/video` asks for the prompt with a ForceReply
//! (the phone opens the keyboard as a reply to the question); the answer,
//! text or a photo with a caption, is the prompt with the chat's defaults.

use std::sync::Arc;

use teloxide::types::{ForceReply, Me, Message};

use super::{
    AppState, HandlerResult,
    handlers::{Sender, start_submission},
    photos, settings,
};
use crate::{
    command::{ParseError, VideoRequest},
    texts,
};

/// Asks what the video should show. In a group the ForceReply is selective:
/// it opens the keyboard of the person who asked only.
pub(super) async fn ask(state: &AppState, sender: &Sender) -> HandlerResult {
    let markup = ForceReply::new()
        .selective()
        .input_field_placeholder(Some(texts::ask_prompt_placeholder(sender.lang).to_owned()));
    state
        .telegram
        .reply_with_keyboard(sender.chat_id, sender.message_id, &texts::ask_prompt(sender.lang), markup)
        .await?;
    Ok(())
}

/// A reply to our question (recognised by its opening, so it works after a
/// restart and on any replica without storing the question).
pub(super) fn is_answer(message: Message, me: Me) -> bool {
    message.reply_to_message().is_some_and(|asked| {
        asked.from.as_ref().is_some_and(|from| from.id == me.id)
            && asked.text().is_some_and(|text| text.starts_with(texts::ASK_PROMPT_MARK))
    })
}

pub async fn answer(message: Message, state: Arc<AppState>) -> HandlerResult {
    let Some(sender) = Sender::of(&message) else { return Ok(()) };
    let prompt = message.text().or(message.caption()).unwrap_or_default().trim().to_owned();
    if prompt.is_empty() {
        let text = texts::parse_error(sender.lang, &ParseError::EmptyPrompt);
        state.telegram.reply(sender.chat_id, sender.message_id, &text).await?;
        return Ok(());
    }
    let options = settings::defaults(&state, sender.chat_id).await;
    let images: Vec<String> = photos::image_of(&message).into_iter().collect();
    start_submission(&sender, VideoRequest { options, prompt }, images, state).await
}
