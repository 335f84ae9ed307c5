//! Albums in this process's memory: with SQLite (one process) every photo
//! of an album reaches this process, so they need no table.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

use hashlink::LinkedHashMap;

use super::{Album, AlbumCommand, AlbumKey, PHOTOS_PER_ALBUM};

/// How long a seen album is remembered for replies.
const RECENT_TTL: Duration = Duration::from_secs(6 * 3600);
/// Albums being collected at once (each for about `ALBUM_WINDOW`).
const COLLECTING_MAX: usize = 512;
/// Albums remembered for replies.
const RECENT_MAX: usize = 4096;

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
pub(in crate::store) struct AlbumMemory {
    collecting: Mutex<LinkedHashMap<AlbumKey, Collecting>>,
    recent: Mutex<LinkedHashMap<AlbumKey, (Instant, Vec<String>)>>,
    collecting_max: usize,
    recent_max: usize,
}

impl Default for AlbumMemory {
    fn default() -> Self {
        AlbumMemory::with_capacity(COLLECTING_MAX, RECENT_MAX)
    }
}

impl AlbumMemory {
    fn with_capacity(collecting_max: usize, recent_max: usize) -> Self {
        AlbumMemory {
            collecting: Mutex::default(),
            recent: Mutex::default(),
            collecting_max: collecting_max.max(1),
            recent_max: recent_max.max(1),
        }
    }

    /// Adds one album message. Returns true for the first message of an
    /// album, whose caller schedules `close` after `ALBUM_WINDOW`.
    pub(super) fn add(
        &self,
        key: &AlbumKey,
        message_id: i32,
        file_id: Option<String>,
        command: Option<AlbumCommand>,
    ) -> bool {
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
    pub(super) fn close(&self, key: &AlbumKey) -> Option<Album> {
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
    pub(super) fn recent(&self, key: &AlbumKey) -> Vec<String> {
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
    use crate::task::NewTask;

    fn command(id: i32) -> AlbumCommand {
        AlbumCommand { task: NewTask { command_msg_id: id, ..NewTask::example() }, replied_images: vec![] }
    }

    #[test]
    fn album_of_three_with_caption_on_the_second_is_one_request_in_order() {
        let albums = AlbumMemory::default();
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
        let albums = AlbumMemory::default();
        albums.add(&AlbumKey::new(1, "g"), 1, Some("x".into()), None);
        albums.add(&AlbumKey::new(2, "g"), 1, Some("y".into()), None);
        assert_eq!(albums.close(&AlbumKey::new(1, "g")).unwrap().images, ["x"]);
        assert!(albums.recent(&AlbumKey::new(2, "g")).is_empty());
    }

    #[test]
    fn a_flood_of_albums_keeps_only_the_newest_and_photos_per_album_are_capped() {
        let albums = AlbumMemory::with_capacity(3, 2);
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
}
