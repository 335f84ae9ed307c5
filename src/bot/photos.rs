//! Which Telegram files a `/video` command brings along (at most `MAX_IMAGES`):
//! its own photo, and the photo, album or image document it replies to.

use teloxide::types::Message;

use super::{
    AppState,
    albums::{AlbumKey, PHOTOS_PER_ALBUM},
};

/// Image documents the video API can read; other files are not images to it.
const IMAGE_MIME_TYPES: [&str; 3] = ["image/jpeg", "image/png", "image/webp"];

/// The file id of the image a single message carries: the largest size of a
/// photo, or an image sent as a file.
pub fn image_of(message: &Message) -> Option<String> {
    if let Some(sizes) = message.photo() {
        let largest = sizes.iter().max_by_key(|size| u64::from(size.width) * u64::from(size.height))?;
        return Some(largest.file.id.0.clone());
    }
    let document = message.document()?;
    let mime = document.mime_type.as_ref()?.essence_str().to_ascii_lowercase();
    IMAGE_MIME_TYPES.contains(&mime.as_str()).then(|| document.file.id.0.clone())
}

/// Images of the message the command replies to: the whole album when this
/// process (SQLite) or any replica (PostgreSQL) saw it.
pub async fn replied_images(message: &Message, state: &AppState) -> Vec<String> {
    let Some(replied) = message.reply_to_message() else { return Vec::new() };
    let mut images = match replied.media_group_id() {
        Some(group) if state.store.is_shared() => {
            let chat_id = replied.chat.id.0;
            // Without the album the command still has the replied photo itself.
            state.store.album_photos(chat_id, &group.0, PHOTOS_PER_ALBUM).await.unwrap_or_else(|error| {
                tracing::warn!(chat_id, %error, "could not read a replied album's photos");
                Vec::new()
            })
        }
        Some(group) => state.albums.recent(&AlbumKey::new(replied.chat.id.0, &group.0)),
        None => Vec::new(),
    };
    if let Some(own) = image_of(replied) {
        add_unique(&mut images, [own]);
    }
    images
}

/// Appends the images not already in the list, keeping order.
pub fn add_unique(images: &mut Vec<String>, more: impl IntoIterator<Item = String>) {
    for image in more {
        if !images.contains(&image) {
            images.push(image);
        }
    }
}

/// Own image first, then the replied ones, without repeats.
pub async fn command_images(message: &Message, state: &AppState) -> Vec<String> {
    let mut images: Vec<String> = image_of(message).into_iter().collect();
    add_unique(&mut images, replied_images(message, state).await);
    images
}
