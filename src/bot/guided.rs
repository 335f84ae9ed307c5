//! Guided `/video`: a bare `/video` asks for the prompt with a ForceReply
//! (the phone opens the keyboard as a reply to the question); the answer,
//! text or a photo (or an album) with a caption, is the prompt with the
//! chat's defaults.
//!
//! The question is stored with who asked: in a group anyone can reply to it,
//! and only the asker's first answer may become a (paid) request.

use std::sync::Arc;

use teloxide::types::{ForceReply, Me, Message};
use tracing::Instrument;

use super::{
    albums,
    context::{AppState, Sender, queue_reply},
    error::HandlerResult,
    settings,
    submit::start_submission,
};
use crate::{
    command::{ParseError, VideoRequest},
    store::AlbumCommand,
    texts,
};

/// Asks what the video should show. In a group the ForceReply is selective:
/// it opens the keyboard of the person who asked only.
pub(super) async fn ask(state: &Arc<AppState>, sender: &Sender) -> HandlerResult {
    let markup = ForceReply::new()
        .selective()
        .input_field_placeholder(Some(texts::ask_prompt_placeholder(sender.lang).to_owned()));
    let (chat_id, user_id, store) = (sender.chat_id, sender.user_id, state.store.clone());
    let (telegram, command, lang) = (state.telegram.clone(), sender.message_id, sender.lang);
    let text = texts::ask_prompt(sender.lang);
    // Stored once sent (its id is the key), in the update's span: a failure is the update's.
    let span = tracing::Span::current();
    state.telegram.queue_reply_with_keyboard(chat_id, sender.message_id, text, markup, move |asked| {
        async move {
            if let Err(error) = store.add_question(chat_id, asked.0, user_id).await {
                // An answer to a question not stored would be refused as answered already.
                tracing::error!(chat_id, %error, "could not store a guided question");
                telegram.queue_reply(chat_id, command, texts::inside_failure(lang));
            }
        }
        .instrument(span)
    });
    Ok(())
}

/// A reply to one of our questions (recognised by its opening, so a reply to
/// an old question is still told what happened).
pub(super) fn is_answer(message: Arc<Message>, me: Me) -> bool {
    answers_question(&message, me.id.0)
}

/// Whether `message` replies to a guided question of the bot `bot_id`.
pub fn answers_question(message: &Message, bot_id: u64) -> bool {
    message.reply_to_message().is_some_and(|asked| {
        asked.from.as_ref().is_some_and(|from| from.id.0 == bot_id)
            && asked.text().is_some_and(|text| text.starts_with(texts::ASK_PROMPT_MARK))
    })
}

pub async fn answer(message: Arc<Message>, state: Arc<AppState>) -> HandlerResult {
    let Some(sender) = Sender::of(&message) else { return Ok(()) };
    let Some(asked) = message.reply_to_message() else { return Ok(()) };
    let prompt = message.text().or(message.caption()).unwrap_or_default().trim().to_owned();
    let album = message.media_group_id().map(|group| group.0.clone());
    if prompt.is_empty() {
        // An album's other photos: its captioned message decides for all of them.
        if let Some(group) = album {
            albums::collect(&message, &group, None, state);
            return Ok(());
        }
    }
    let (chat_id, question) = (sender.chat_id, asked.id.0);
    let asker = state.store.question_asker(chat_id, question).await?;
    let mine = asker == Some(sender.user_id);
    if mine && prompt.is_empty() {
        // The question stays open for a real answer.
        return queue_reply(&state, &sender, &texts::parse_error(sender.lang, &ParseError::EmptyPrompt)).await;
    }
    // Read before the question is taken: a failure leaves it open to answer again.
    let options = settings::defaults(&state, chat_id).await?;
    if !mine || !state.store.take_question(chat_id, question, sender.user_id).await? {
        let text = match asker {
            Some(asker) if asker != sender.user_id => texts::question_not_yours(sender.lang),
            _ => texts::question_answered(sender.lang),
        };
        if let Some(group) = album {
            // Its photos are collected, and dropped when the album closes without a request.
            albums::collect(&message, &group, None, state.clone());
        }
        return queue_reply(&state, &sender, text).await;
    }
    let request = VideoRequest { options, prompt };
    if let Some(group) = album {
        let command = AlbumCommand { task: sender.task(request, Vec::new()), replied_images: Vec::new() };
        albums::collect(&message, &group, Some(command), state);
        return Ok(());
    }
    let images: Vec<String> = albums::image_of(&message).into_iter().collect();
    start_submission(&sender, request, images, state).await
}
