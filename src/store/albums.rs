//! Albums: Telegram sends each photo of an album as its own update, sharing
//! a `media_group_id`, the caption on one of them. The store collects them
//! for a short window (nobody waits inside a handler for the siblings) and
//! remembers them, so a later reply to one of their photos brings the whole
//! album. The bot adds each message, and whoever `add_album_message` names
//! waits (`wait_for_album`) and closes the album (`close_album`).
//!
//! Where they are kept depends on the database. With SQLite (one process)
//! every photo reaches this process: albums live in its memory (`memory`).
//! With PostgreSQL, Telegram may hand the photos of one album to different
//! replicas (webhook behind a load balancer), so each replica stores the
//! photos it receives here, and the replica holding the album's `/video`
//! caption reads them all back once the album has gone quiet. The caption
//! itself is stored too and claimed by exactly one replica, so a caption
//! delivered twice still makes one request.

mod memory;

use std::{
    sync::atomic::{AtomicI64, Ordering},
    time::Duration,
};

use sqlx::Row;

pub(super) use memory::AlbumMemory;

use super::{Store, StoreError, StoreResult, now_ms};
use crate::task::NewTask;

/// How long after an album's first photo (in process), or after the last photo
/// any replica stored (shared), we wait for its siblings.
const ALBUM_WINDOW: Duration = Duration::from_millis(1000);
/// Shared albums: the window restarts whenever a new photo shows up, but the
/// caption's replica never waits longer than this in all.
const ALBUM_MAX_WAIT: Duration = Duration::from_secs(3);
/// Shared albums: how often the caption's replica looks for new photos.
const ALBUM_POLL_EVERY: Duration = Duration::from_millis(200);
/// A Telegram album holds at most 10 items; more messages claiming one group
/// are not a real album and are not kept.
const PHOTOS_PER_ALBUM: usize = 10;
/// How long albums are kept: a reply to an album photo finds the whole
/// album for this long.
const ALBUM_ROWS_TTL_MS: i64 = 6 * 3600 * 1000;
/// Old rows are purged while adding photos, at most this often per process.
const PURGE_EVERY_MS: i64 = 60_000;
/// When this process last purged old album rows (unix ms).
static LAST_PURGE: AtomicI64 = AtomicI64::new(0);

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

/// The `/video` caption found on one of the album's messages. Shared, it is
/// kept in `album_commands.command` as this struct's JSON until a replica
/// claims it (a table emptied as albums close, so its format may change
/// between versions only with a short pause in album handling).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AlbumCommand {
    /// The request, without the album's own images (added when it closes).
    pub task: NewTask,
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

impl Store {
    /// Adds one message of an album: its photo, if any, and the `/video`
    /// command its caption makes, if any. `true` if this caller is to close
    /// the album: in process, for its first message; shared, for each message
    /// with a command (every replica holding one waits and tries, so the
    /// album survives one of them dying; one claims it).
    pub async fn add_album_message(
        &self,
        key: &AlbumKey,
        message_id: i32,
        file_id: Option<&str>,
        command: Option<&AlbumCommand>,
    ) -> StoreResult<bool> {
        if !self.shared_writers {
            return Ok(self.albums.add(key, message_id, file_id.map(str::to_owned), command.cloned()));
        }
        if let Some(file_id) = file_id {
            self.add_album_photo(key, message_id, file_id).await?;
        }
        let Some(command) = command else { return Ok(false) };
        // A caption delivered twice (or two captions in one album) is offered
        // twice; the first one stays and is claimed once.
        self.offer_album_command(key, command).await?;
        Ok(true)
    }

    /// Waits until the album is complete: in process, `ALBUM_WINDOW` after its
    /// first message. Shared, until no replica stored a new photo for
    /// `ALBUM_WINDOW` (counted from the caption at the earliest), at most
    /// `ALBUM_MAX_WAIT` in all; photos are counted rather than timed, so
    /// replicas' clocks need not agree.
    pub async fn wait_for_album(&self, key: &AlbumKey) {
        if !self.shared_writers {
            return tokio::time::sleep(ALBUM_WINDOW).await;
        }
        let started = tokio::time::Instant::now();
        let mut quiet_since = started;
        let mut known = self.album_photo_count(key).await.ok();
        loop {
            let until = (quiet_since + ALBUM_WINDOW).min(started + ALBUM_MAX_WAIT);
            let now = tokio::time::Instant::now();
            if now >= until {
                return;
            }
            tokio::time::sleep(ALBUM_POLL_EVERY.min(until - now)).await;
            match self.album_photo_count(key).await {
                Ok(n) if known != Some(n) => {
                    known = Some(n);
                    quiet_since = tokio::time::Instant::now();
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::debug!(chat_id = key.chat_id, %error, "could not count album photos; waiting on")
                }
            }
        }
    }

    /// Ends the album's collection: its photos in message order, and its
    /// command, which goes to exactly one caller (`owner` names the replica
    /// that claims it). `None` if there is nothing left to close here.
    pub async fn close_album(&self, key: &AlbumKey, owner: &str) -> StoreResult<Option<Album>> {
        if !self.shared_writers {
            return Ok(self.albums.close(key));
        }
        let Some(command) = self.claim_album_command(key, owner).await? else { return Ok(None) };
        let images = self.album_photos(key, PHOTOS_PER_ALBUM).await?;
        Ok(Some(Album { command: Some(command), images }))
    }

    /// Photos of a recently seen album, for a command that replies to one of
    /// them (empty if unknown or too old).
    pub async fn recent_album(&self, key: &AlbumKey) -> StoreResult<Vec<String>> {
        if !self.shared_writers {
            return Ok(self.albums.recent(key));
        }
        self.album_photos(key, PHOTOS_PER_ALBUM).await
    }

    /// Stores one album photo (a repeat of the same message is ignored).
    async fn add_album_photo(&self, key: &AlbumKey, message_id: i32, file_id: &str) -> StoreResult<()> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO album_photos (chat_id, media_group_id, message_id, file_id, seen_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (chat_id, media_group_id, message_id) DO NOTHING",
        )
        .bind(key.chat_id)
        .bind(&key.group_id)
        .bind(i64::from(message_id))
        .bind(file_id)
        .bind(now)
        .execute(&mut self.db.conn().await?)
        .await?;
        let last = LAST_PURGE.load(Ordering::Relaxed);
        if now - last >= PURGE_EVERY_MS
            && LAST_PURGE.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
        {
            let purged = self.purge_albums(now - ALBUM_ROWS_TTL_MS).await?;
            if purged > 0 {
                tracing::debug!(purged, "purged old album rows");
            }
        }
        Ok(())
    }

    /// How many photos of the album are stored so far.
    async fn album_photo_count(&self, key: &AlbumKey) -> StoreResult<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM album_photos WHERE chat_id = $1 AND media_group_id = $2")
            .bind(key.chat_id)
            .bind(&key.group_id)
            .fetch_one(&mut self.db.conn().await?)
            .await?;
        Ok(row.try_get("n")?)
    }

    /// File ids of the album's first `limit` photos, in message order.
    async fn album_photos(&self, key: &AlbumKey, limit: usize) -> StoreResult<Vec<String>> {
        let rows = sqlx::query(
            "SELECT file_id FROM album_photos WHERE chat_id = $1 AND media_group_id = $2 AND seen_at > $3 \
             ORDER BY message_id LIMIT $4",
        )
        .bind(key.chat_id)
        .bind(&key.group_id)
        .bind(now_ms() - ALBUM_ROWS_TTL_MS)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut self.db.conn().await?)
        .await?;
        Ok(rows.iter().map(|row| row.try_get("file_id")).collect::<Result<_, _>>()?)
    }

    /// Stores the album's command unless one is stored already. True if this
    /// one was stored.
    async fn offer_album_command(&self, key: &AlbumKey, command: &AlbumCommand) -> StoreResult<bool> {
        let command = serde_json::to_string(command).map_err(|error| StoreError::Corrupt(error.to_string()))?;
        let result = sqlx::query(
            "INSERT INTO album_commands (chat_id, media_group_id, command, seen_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (chat_id, media_group_id) DO NOTHING",
        )
        .bind(key.chat_id)
        .bind(&key.group_id)
        .bind(command)
        .bind(now_ms())
        .execute(&mut self.db.conn().await?)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Claims the album's command for `owner`: returns it to exactly one
    /// caller, `None` to everyone else (or if there is none).
    async fn claim_album_command(&self, key: &AlbumKey, owner: &str) -> StoreResult<Option<AlbumCommand>> {
        let row = sqlx::query(
            "UPDATE album_commands SET claimed_by = $1 \
             WHERE chat_id = $2 AND media_group_id = $3 AND claimed_by IS NULL RETURNING command",
        )
        .bind(owner)
        .bind(key.chat_id)
        .bind(&key.group_id)
        .fetch_optional(&mut self.db.conn().await?)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let json: String = row.try_get("command")?;
        let command =
            serde_json::from_str(&json).map_err(|error| StoreError::Corrupt(format!("album command: {error}")))?;
        Ok(Some(command))
    }

    /// Deletes album rows seen before `before` (unix ms).
    async fn purge_albums(&self, before: i64) -> StoreResult<u64> {
        let photos = sqlx::query("DELETE FROM album_photos WHERE seen_at < $1")
            .bind(before)
            .execute(&mut self.db.conn().await?)
            .await?;
        let commands = sqlx::query("DELETE FROM album_commands WHERE seen_at < $1")
            .bind(before)
            .execute(&mut self.db.conn().await?)
            .await?;
        Ok(photos.rows_affected() + commands.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{lang::Lang, test_support};

    fn key(chat_id: i64, group_id: &str) -> AlbumKey {
        AlbumKey::new(chat_id, group_id)
    }

    fn command(prompt: &str) -> AlbumCommand {
        AlbumCommand { task: NewTask { prompt: prompt.into(), ..NewTask::example() }, replied_images: vec![] }
    }

    async fn rows(store: Store) {
        let g = key(1, "g");
        store.add_album_photo(&g, 12, "c").await.unwrap();
        store.add_album_photo(&g, 10, "a").await.unwrap();
        store.add_album_photo(&g, 11, "b").await.unwrap();
        store.add_album_photo(&g, 11, "b").await.unwrap();
        store.add_album_photo(&key(2, "g"), 10, "other chat").await.unwrap();
        assert_eq!(store.album_photo_count(&g).await.unwrap(), 3);
        assert_eq!(store.album_photos(&g, 10).await.unwrap(), ["a", "b", "c"]);
        assert_eq!(store.album_photos(&g, 2).await.unwrap(), ["a", "b"]);
        assert!(store.album_photos(&key(1, "missing"), 10).await.unwrap().is_empty());

        assert!(store.offer_album_command(&g, &command("first")).await.unwrap());
        assert!(!store.offer_album_command(&g, &command("second")).await.unwrap(), "one command per album");
        let claimed = store.claim_album_command(&g, "replica-a").await.unwrap().unwrap();
        assert_eq!(claimed.task.prompt, "first");
        assert!(store.claim_album_command(&g, "replica-b").await.unwrap().is_none(), "claimed once");
        assert!(store.claim_album_command(&key(1, "none"), "replica-b").await.unwrap().is_none());

        assert_eq!(store.purge_albums(now_ms() + 1).await.unwrap(), 5);
        assert_eq!(store.album_photo_count(&g).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn album_rows_on_sqlite() {
        let (store, _dir) = test_support::sqlite().await;
        rows(store).await;
    }

    #[tokio::test]
    async fn album_rows_on_postgres() {
        rows(test_support::postgres().await).await;
    }

    /// A captioned album of three, the caption on the second, as the bot sees it.
    async fn album_of_three(store: Store, group: &str) {
        let g = key(7, group);
        let mut caption = command("a cat");
        caption.task.lang = Lang::Zh;
        caption.replied_images = vec!["r1".into()];
        let first = store.add_album_message(&g, 12, Some("c"), None).await.unwrap();
        let with_caption = store.add_album_message(&g, 11, Some("b"), Some(&caption)).await.unwrap();
        let last = store.add_album_message(&g, 10, Some("a"), None).await.unwrap();
        // In process the first message closes it; shared, the caption's holder.
        assert_eq!(
            [first, with_caption, last],
            if store.shared_writers { [false, true, false] } else { [true, false, false] }
        );
        store.wait_for_album(&g).await;
        let album = store.close_album(&g, "me").await.unwrap().unwrap();
        assert_eq!(album.images, ["a", "b", "c"]);
        let command = album.command.unwrap();
        assert_eq!(command.task, caption.task, "the command reads back the same");
        assert_eq!(command.replied_images, ["r1"]);
        assert!(store.close_album(&g, "me").await.unwrap().is_none(), "closed once");
        assert_eq!(store.recent_album(&g).await.unwrap(), ["a", "b", "c"]);
        assert!(store.recent_album(&key(8, group)).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn an_album_is_collected_in_memory_on_sqlite() {
        let (store, _dir) = test_support::sqlite().await;
        album_of_three(store, "g").await;
    }

    #[tokio::test]
    async fn an_album_is_collected_in_the_database_on_postgres() {
        album_of_three(test_support::postgres().await, "g").await;
    }

    #[tokio::test]
    async fn concurrent_claims_on_postgres_give_the_command_to_one_replica() {
        let store = test_support::postgres().await;
        let g = key(5, "g");
        store.offer_album_command(&g, &command("cmd")).await.unwrap();
        let claims = (0..8).map(|i| {
            let (store, g) = (store.clone(), g.clone());
            tokio::spawn(async move { store.claim_album_command(&g, &format!("replica-{i}")).await.unwrap() })
        });
        let mut won = 0;
        for claim in claims {
            won += usize::from(claim.await.unwrap().is_some());
        }
        assert_eq!(won, 1);
    }
}
