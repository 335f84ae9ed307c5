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
    sync::Mutex,
    time::{Duration, Instant},
};

use hashlink::LinkedHashMap;

use crate::task::NewTask;

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
