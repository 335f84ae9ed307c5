//! Albums arrive as separate updates sharing a `media_group_id`, the caption on
//! one of them (PITFALLS 2). We collect them for a short window without ever
//! waiting inside a handler, and remember recent albums so a later reply to
//! one of their photos brings the whole album.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use crate::command::VideoRequest;

/// How long after an album's first photo we wait for its siblings.
pub const ALBUM_WINDOW: Duration = Duration::from_millis(1000);
/// How long a seen album is remembered for replies, and how many at most.
const RECENT_TTL: Duration = Duration::from_secs(6 * 3600);
const RECENT_MAX: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AlbumKey {
    chat_id: i64,
    group_id: String,
}

impl AlbumKey {
    pub fn new(chat_id: i64, group_id: &str) -> Self {
        AlbumKey { chat_id, group_id: group_id.to_owned() }
    }
}

/// The `/video` caption found on one of the album's messages.
#[derive(Debug, Clone)]
pub struct AlbumCommand {
    pub command_msg_id: i32,
    pub user_id: i64,
    pub language_code: Option<String>,
    pub request: VideoRequest,
    /// Images of the message the captioned photo replies to, if any.
    pub replied_images: Vec<String>,
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

#[derive(Default)]
pub struct Albums {
    collecting: Mutex<HashMap<AlbumKey, Collecting>>,
    recent: Mutex<HashMap<AlbumKey, (Instant, Vec<String>)>>,
}

impl Albums {
    /// Adds one album message. Returns true for the first message of an
    /// album, whose caller schedules `close` after `ALBUM_WINDOW`.
    pub fn add(&self, key: &AlbumKey, message_id: i32, file_id: Option<String>, command: Option<AlbumCommand>) -> bool {
        let mut collecting = self.collecting.lock().expect("albums lock");
        let first = !collecting.contains_key(key);
        let album = collecting.entry(key.clone()).or_default();
        if let Some(file_id) = file_id {
            album.photos.push((message_id, file_id));
        }
        if command.is_some() && album.command.is_none() {
            album.command = command;
        }
        first
    }

    /// Ends collection: the album is remembered for replies and handed back.
    pub fn close(&self, key: &AlbumKey) -> Option<Album> {
        let mut collected = self.collecting.lock().expect("albums lock").remove(key)?;
        collected.photos.sort_by_key(|(message_id, _)| *message_id);
        let images: Vec<String> = collected.photos.into_iter().map(|(_, file_id)| file_id).collect();
        self.remember(key, images.clone());
        Some(Album { command: collected.command, images })
    }

    fn remember(&self, key: &AlbumKey, images: Vec<String>) {
        let mut recent = self.recent.lock().expect("albums lock");
        if recent.len() >= RECENT_MAX {
            recent.retain(|_, (seen, _)| seen.elapsed() < RECENT_TTL);
            if recent.len() >= RECENT_MAX {
                // Still full of fresh albums: forget the oldest one.
                if let Some(oldest) = recent.iter().min_by_key(|(_, (seen, _))| *seen).map(|(k, _)| k.clone()) {
                    recent.remove(&oldest);
                }
            }
        }
        recent.entry(key.clone()).or_insert_with(|| (Instant::now(), Vec::new())).1.extend(images);
    }

    /// Photos of a recently seen album (empty if unknown or expired).
    pub fn recent(&self, key: &AlbumKey) -> Vec<String> {
        let recent = self.recent.lock().expect("albums lock");
        match recent.get(key) {
            Some((seen, images)) if seen.elapsed() < RECENT_TTL => images.clone(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{Model, Orientation, Size, VideoOptions};

    fn command(id: i32) -> AlbumCommand {
        AlbumCommand {
            command_msg_id: id,
            user_id: 1,
            language_code: None,
            request: VideoRequest {
                options: VideoOptions { model: Model::Sora2, orientation: Orientation::Portrait, size: Size::Large, duration: 15 },
                prompt: "p".into(),
            },
            replied_images: vec![],
        }
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
        assert_eq!(album.command.unwrap().command_msg_id, 11);
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
}
