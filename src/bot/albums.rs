//! Albums arrive as separate updates sharing a `media_group_id`, the caption on
//! one of them. We collect them for a short window without ever waiting inside
//! a handler, and remember recent albums so a later reply to one of their
//! photos brings the whole album.
//!
//! Two places hold albums. With SQLite (one process) they live here, in
//! memory, in bounded maps that evict their oldest entry in O(1). With
//! PostgreSQL (possibly several replicas, each receiving some of an album's
//! updates) they live in the database, see `store::albums`; this module then
//! only defines the window and how a caption's command is stored.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use hashlink::LinkedHashMap;
use teloxide::types::Message;

use super::{
    context::{AppState, Sender, queue_reply},
    error::HandlerResult,
    submit::start_submission,
};
use crate::{command::VideoRequest, task::NewTask, texts};

/// How long after an album's first photo (in process), or after the last photo
/// any replica stored (shared), we wait for its siblings.
pub const ALBUM_WINDOW: Duration = Duration::from_millis(1000);
/// Shared albums: the window restarts whenever a new photo shows up, but the
/// caption's replica never waits longer than this in all.
pub const ALBUM_MAX_WAIT: Duration = Duration::from_secs(3);
/// Shared albums: how often the caption's replica looks for new photos.
pub const ALBUM_POLL_EVERY: Duration = Duration::from_millis(200);
/// A Telegram album holds at most 10 items; more messages claiming one group
/// are not a real album and are not kept.
pub const PHOTOS_PER_ALBUM: usize = 10;
/// How long a seen album is remembered for replies.
pub const RECENT_TTL: Duration = Duration::from_secs(6 * 3600);
/// Albums being collected at once (each for about `ALBUM_WINDOW`).
const COLLECTING_MAX: usize = 512;
/// Albums remembered for replies.
const RECENT_MAX: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AlbumKey {
    pub chat_id: i64,
    pub group_id: String,
}

impl AlbumKey {
    pub fn new(chat_id: i64, group_id: &str) -> Self {
        AlbumKey { chat_id, group_id: group_id.to_owned() }
    }
}

/// The `/video` caption found on one of the album's messages. Kept in the
/// shared database as JSON until a replica claims it (a table that is emptied
/// as albums close, so its format may change between versions only with a
/// short pause in album handling).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AlbumCommand {
    /// The request, without the album's own images (added when it closes).
    pub task: NewTask,
    /// Images of the message the captioned photo replies to, if any.
    pub replied_images: Vec<String>,
}

impl AlbumCommand {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(json: &str) -> Option<AlbumCommand> {
        serde_json::from_str(json).ok()
    }
}

/// An album once its window has closed.
#[derive(Debug)]
pub struct Album {
    pub command: Option<AlbumCommand>,
    /// File ids in message order.
    pub images: Vec<String>,
}

#[derive(Default)]
struct Collecting {
    photos: Vec<(i32, String)>,
    command: Option<AlbumCommand>,
}

/// The in-process album memory. Both maps keep insertion order, so the oldest
/// entry is at the front and evicting it is O(1); each is capped in entries
/// and each entry in photos.
///
/// Worst case, with Telegram file ids of about 100 bytes and group ids of
/// about 20: a remembered album of 10 photos is about 1.5 KB (10 × 100-byte
/// file ids, a vector of 16 `String`s, key and map node), so `recent` holds at
/// most about 4,096 × 1.5 KB ≈ 6 MB; an album being collected also holds its
/// command (a caption of at most 1,024 characters, up to 4 KB in UTF-8, and
/// up to 11 replied file ids), about 7 KB in all, so `collecting` stays under
/// 512 × 7 KB ≈ 3.5 MB. Under 10 MB together for anything Telegram sends.
pub struct Albums {
    collecting: Mutex<LinkedHashMap<AlbumKey, Collecting>>,
    recent: Mutex<LinkedHashMap<AlbumKey, (Instant, Vec<String>)>>,
    collecting_max: usize,
    recent_max: usize,
}

impl Default for Albums {
    fn default() -> Self {
        Albums::with_capacity(COLLECTING_MAX, RECENT_MAX)
    }
}

impl Albums {
    fn with_capacity(collecting_max: usize, recent_max: usize) -> Self {
        Albums {
            collecting: Mutex::default(),
            recent: Mutex::default(),
            collecting_max: collecting_max.max(1),
            recent_max: recent_max.max(1),
        }
    }

    /// Adds one album message. Returns true for the first message of an
    /// album, whose caller schedules `close` after `ALBUM_WINDOW`.
    pub fn add(&self, key: &AlbumKey, message_id: i32, file_id: Option<String>, command: Option<AlbumCommand>) -> bool {
        let mut collecting = self.collecting.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let first = !collecting.contains_key(key);
        if first {
            if collecting.len() >= self.collecting_max {
                // Only allowed users get here, and an album closes after a
                // second: this many at once is a flood, and the oldest one
                // was about to close anyway.
                if let Some((evicted, _)) = collecting.pop_front() {
                    tracing::warn!(
                        chat_id = evicted.chat_id,
                        "too many albums at once: dropped the oldest one being collected"
                    );
                }
            }
            collecting.insert(key.clone(), Collecting::default());
        }
        let Some(album) = collecting.get_mut(key) else { return first };
        if let Some(file_id) = file_id
            && album.photos.len() < PHOTOS_PER_ALBUM
        {
            album.photos.push((message_id, file_id));
        }
        if command.is_some() && album.command.is_none() {
            album.command = command;
        }
        first
    }

    /// Ends collection: the album is remembered for replies and handed back.
    pub fn close(&self, key: &AlbumKey) -> Option<Album> {
        let mut collected = self.collecting.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(key)?;
        collected.photos.sort_by_key(|(message_id, _)| *message_id);
        let images: Vec<String> = collected.photos.into_iter().map(|(_, file_id)| file_id).collect();
        self.remember(key, images.clone());
        Some(Album { command: collected.command, images })
    }

    fn remember(&self, key: &AlbumKey, images: Vec<String>) {
        let mut recent = self.recent.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Insertion order is age order: expired albums are all at the front.
        while recent.front().is_some_and(|(_, (seen, _))| seen.elapsed() >= RECENT_TTL) {
            recent.pop_front();
        }
        if let Some((_, known)) = recent.get_mut(key) {
            // Late siblings of an album already closed once.
            let room = PHOTOS_PER_ALBUM.saturating_sub(known.len());
            known.extend(images.into_iter().take(room));
            return;
        }
        if recent.len() >= self.recent_max {
            recent.pop_front();
        }
        recent.insert(key.clone(), (Instant::now(), images));
    }

    /// Photos of a recently seen album (empty if unknown or expired).
    pub fn recent(&self, key: &AlbumKey) -> Vec<String> {
        let recent = self.recent.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match recent.get(key) {
            Some((seen, images)) if seen.elapsed() < RECENT_TTL => images.clone(),
            _ => Vec::new(),
        }
    }
}

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

/// Images of the message the command replies to: the whole album when this
/// process (SQLite) or any replica (PostgreSQL) saw it.
pub(super) async fn replied_images(message: &Message, state: &AppState) -> Vec<String> {
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

/// An album photo without a command: remember it for its album.
pub async fn album_photo(message: Message, state: Arc<AppState>) -> HandlerResult {
    if let Some(group) = message.media_group_id() {
        collect(&message, &group.0, None, state);
    }
    Ok(())
}

pub(super) fn collect(message: &Message, group_id: &str, command: Option<AlbumCommand>, state: Arc<AppState>) {
    let key = AlbumKey::new(message.chat.id.0, group_id);
    let file_id = image_of(message);
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
    add_unique(&mut images, command.replied_images);
    let request = VideoRequest { options: command.task.options, prompt: command.task.prompt };
    if let Err(error) = start_submission(&sender, request, images, state).await {
        tracing::warn!(chat_id, %error, "could not answer an album command");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::Lang;

    fn command(id: i32) -> AlbumCommand {
        AlbumCommand { task: NewTask { command_msg_id: id, ..NewTask::example() }, replied_images: vec![] }
    }

    #[test]
    fn album_of_three_with_caption_on_the_second_is_one_request_in_order() {
        let albums = Albums::default();
        let key = AlbumKey::new(1, "g");
        assert!(albums.add(&key, 12, Some("c".into()), None));
        assert!(!albums.add(&key, 11, Some("b".into()), Some(command(11))));
        assert!(!albums.add(&key, 10, Some("a".into()), None));
        let album = albums.close(&key).unwrap();
        assert_eq!(album.images, ["a", "b", "c"]);
        assert_eq!(album.command.unwrap().task.command_msg_id, 11);
        assert!(albums.close(&key).is_none(), "closed once");
        assert_eq!(albums.recent(&key), ["a", "b", "c"]);
    }

    #[test]
    fn albums_of_different_chats_do_not_mix() {
        let albums = Albums::default();
        albums.add(&AlbumKey::new(1, "g"), 1, Some("x".into()), None);
        albums.add(&AlbumKey::new(2, "g"), 1, Some("y".into()), None);
        assert_eq!(albums.close(&AlbumKey::new(1, "g")).unwrap().images, ["x"]);
        assert!(albums.recent(&AlbumKey::new(2, "g")).is_empty());
    }

    #[test]
    fn a_flood_of_albums_keeps_only_the_newest_and_photos_per_album_are_capped() {
        let albums = Albums::with_capacity(3, 2);
        for group in 0..5 {
            albums.add(&AlbumKey::new(1, &group.to_string()), 1, Some(format!("p{group}")), None);
        }
        // Collecting: the two oldest were evicted.
        assert!(albums.close(&AlbumKey::new(1, "0")).is_none());
        assert!(albums.close(&AlbumKey::new(1, "1")).is_none());
        for group in 2..5 {
            assert!(albums.close(&AlbumKey::new(1, &group.to_string())).is_some());
        }
        // Remembered: only the two newest of the three closed.
        assert!(albums.recent(&AlbumKey::new(1, "2")).is_empty());
        assert_eq!(albums.recent(&AlbumKey::new(1, "4")), ["p4"]);

        let key = AlbumKey::new(1, "big");
        for id in 0..25 {
            albums.add(&key, id, Some(format!("f{id}")), None);
        }
        assert_eq!(albums.close(&key).unwrap().images.len(), PHOTOS_PER_ALBUM);
    }

    #[test]
    fn a_stored_command_reads_back_the_same() {
        let mut original = command(7);
        original.task.lang = Lang::Zh;
        original.replied_images = vec!["r1".into()];
        let back = AlbumCommand::from_json(&original.to_json()).unwrap();
        assert_eq!(back.task, original.task);
        assert_eq!(back.replied_images, ["r1"]);
        assert!(AlbumCommand::from_json("not json").is_none());
    }
}
