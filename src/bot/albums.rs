//! Which photos a `/video` request brings (at most `MAX_IMAGES`): its own
//! photo or image file, the photo, album or image file it replies to, and,
//! for the caption of an album, every photo of that album.
//!
//! An album's photos arrive as separate updates; the store collects them
//! (`Store::add_album_message`), and the one it names closes the album once
//! complete, off the dispatcher: the request then goes to the submission
//! with the album's photos. Nothing here waits inside a handler.

use std::sync::Arc;

use teloxide::types::Message;

use super::{
    context::{AppState, Sender},
    error::HandlerResult,
    submit::start_submission,
};
use crate::{
    command::VideoRequest,
    store::{AlbumCommand, AlbumKey},
    texts,
};

/// Image documents the video API can read; other files are not images to it.
const IMAGE_MIME_TYPES: [&str; 3] = ["image/jpeg", "image/png", "image/webp"];

/// The file id of the image a single message carries: the largest size of a
/// photo, or an image sent as a file.
pub(super) fn image_of(message: &Message) -> Option<String> {
    if let Some(sizes) = message.photo() {
        let largest = sizes.iter().max_by_key(|size| u64::from(size.width) * u64::from(size.height))?;
        return Some(largest.file.id.0.clone());
    }
    let document = message.document()?;
    let mime = document.mime_type.as_ref()?.essence_str().to_ascii_lowercase();
    IMAGE_MIME_TYPES.contains(&mime.as_str()).then(|| document.file.id.0.clone())
}

/// Images of the message the command replies to: the whole album when the
/// store saw it lately, and the replied message's own image.
pub(super) async fn replied_images(message: &Message, state: &AppState) -> Vec<String> {
    let Some(replied) = message.reply_to_message() else { return Vec::new() };
    let chat_id = replied.chat.id.0;
    let mut images = match replied.media_group_id() {
        Some(group) => state.store.recent_album(&AlbumKey::new(chat_id, &group.0)).await.unwrap_or_else(|error| {
            // Without the album the command still has the replied photo itself.
            tracing::warn!(chat_id, %error, "could not read a replied album's photos");
            Vec::new()
        }),
        None => Vec::new(),
    };
    if let Some(own) = image_of(replied) {
        add_unique(&mut images, [own]);
    }
    images
}

/// Appends the images not already in the list, keeping order.
fn add_unique(images: &mut Vec<String>, more: impl IntoIterator<Item = String>) {
    for image in more {
        if !images.contains(&image) {
            images.push(image);
        }
    }
}

/// Own image first, then the replied ones, without repeats.
pub(super) async fn command_images(message: &Message, state: &AppState) -> Vec<String> {
    let mut images: Vec<String> = image_of(message).into_iter().collect();
    add_unique(&mut images, replied_images(message, state).await);
    images
}

/// An album photo without a command: kept for its album.
pub(super) async fn album_photo(message: Arc<Message>, state: Arc<AppState>) -> HandlerResult {
    if let Some(group) = message.media_group_id() {
        collect(&message, &group.0, None, state);
    }
    Ok(())
}

/// Hands one album message (with the command its caption makes, if any) to
/// the store, off the dispatcher; if the store names this message to close
/// the album, waits for the album and closes it.
pub(super) fn collect(message: &Message, group_id: &str, command: Option<AlbumCommand>, state: Arc<AppState>) {
    let key = AlbumKey::new(message.chat.id.0, group_id);
    let (message_id, file_id) = (message.id.0, image_of(message));
    let tracker = state.tracker.clone();
    tracker.spawn(async move {
        let store = &state.store;
        match store.add_album_message(&key, message_id, file_id.as_deref(), command.as_ref()).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(error) => {
                tracing::warn!(chat_id = key.chat_id, %error, "could not store an album message");
                return album_failed(&state, command.as_ref());
            }
        }
        store.wait_for_album(&key).await;
        match store.close_album(&key, &state.owner).await {
            Ok(Some(album)) => {
                let Some(command) = album.command else { return };
                close(command, album.images, state).await
            }
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(chat_id = key.chat_id, %error, "could not close an album");
                album_failed(&state, command.as_ref());
            }
        }
    });
}

/// The album's request, with the album's photos and then the replied ones.
async fn close(command: AlbumCommand, mut images: Vec<String>, state: Arc<AppState>) {
    let chat_id = command.task.chat_id;
    let sender = Sender::of_task(&command.task);
    add_unique(&mut images, command.replied_images);
    let request = VideoRequest { options: command.task.options, prompt: command.task.prompt };
    if let Err(error) = start_submission(&sender, request, images, state).await {
        tracing::warn!(chat_id, %error, "could not answer an album command");
    }
}

/// Tells the album's sender, if this message carried the command, that it
/// was lost to a database error.
fn album_failed(state: &AppState, command: Option<&AlbumCommand>) {
    if let Some(command) = command {
        let sender = Sender::of_task(&command.task);
        state.telegram.queue_reply(sender.chat_id, sender.message_id, texts::inside_failure(sender.lang));
    }
}
