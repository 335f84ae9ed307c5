//! Albums shared by every replica on one PostgreSQL database. Telegram may
//! hand the photos of one album to different replicas (webhook behind a load
//! balancer), so each replica stores the photos it receives here, and the
//! replica holding the album's `/video` caption reads them all back once the
//! album has gone quiet. The caption itself is stored too and claimed by
//! exactly one replica, so a caption delivered twice still makes one request.
//!
//! The bot only uses this when `is_shared()`; with SQLite (one process) albums
//! stay in memory.

use std::sync::atomic::{AtomicI64, Ordering};

use sqlx::Row;

use super::{Store, StoreResult, now_ms};

/// How long album rows are kept: a reply to an album photo finds the whole
/// album for this long.
pub const ALBUM_ROWS_TTL_MS: i64 = 6 * 3600 * 1000;
/// Old rows are purged while adding photos, at most this often per process.
const PURGE_EVERY_MS: i64 = 60_000;
/// When this process last purged old album rows (unix ms).
static LAST_PURGE: AtomicI64 = AtomicI64::new(0);

impl Store {
    /// Stores one album photo (a repeat of the same message is ignored).
    pub async fn add_album_photo(
        &self,
        chat_id: i64,
        group_id: &str,
        message_id: i32,
        file_id: &str,
    ) -> StoreResult<()> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO album_photos (chat_id, media_group_id, message_id, file_id, seen_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (chat_id, media_group_id, message_id) DO NOTHING",
        )
        .bind(chat_id)
        .bind(group_id)
        .bind(i64::from(message_id))
        .bind(file_id)
        .bind(now)
        .execute(&mut *self.db.conn().await?)
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
    pub async fn album_photo_count(&self, chat_id: i64, group_id: &str) -> StoreResult<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM album_photos WHERE chat_id = $1 AND media_group_id = $2")
            .bind(chat_id)
            .bind(group_id)
            .fetch_one(&mut *self.db.conn().await?)
            .await?;
        Ok(row.try_get("n")?)
    }

    /// File ids of the album's first `limit` photos, in message order.
    pub async fn album_photos(&self, chat_id: i64, group_id: &str, limit: usize) -> StoreResult<Vec<String>> {
        let rows = sqlx::query(
            "SELECT file_id FROM album_photos WHERE chat_id = $1 AND media_group_id = $2 AND seen_at > $3 \
             ORDER BY message_id LIMIT $4",
        )
        .bind(chat_id)
        .bind(group_id)
        .bind(now_ms() - ALBUM_ROWS_TTL_MS)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut *self.db.conn().await?)
        .await?;
        Ok(rows.iter().map(|row| row.try_get("file_id")).collect::<Result<_, _>>()?)
    }

    /// Stores the album's command unless one is stored already. True if this
    /// one was stored.
    pub async fn offer_album_command(&self, chat_id: i64, group_id: &str, command: &str) -> StoreResult<bool> {
        let result = sqlx::query(
            "INSERT INTO album_commands (chat_id, media_group_id, command, seen_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (chat_id, media_group_id) DO NOTHING",
        )
        .bind(chat_id)
        .bind(group_id)
        .bind(command)
        .bind(now_ms())
        .execute(&mut *self.db.conn().await?)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Claims the album's command for `owner`: returns it to exactly one
    /// caller, `None` to everyone else (or if there is none).
    pub async fn claim_album_command(&self, chat_id: i64, group_id: &str, owner: &str) -> StoreResult<Option<String>> {
        let row = sqlx::query(
            "UPDATE album_commands SET claimed_by = $1 \
             WHERE chat_id = $2 AND media_group_id = $3 AND claimed_by IS NULL RETURNING command",
        )
        .bind(owner)
        .bind(chat_id)
        .bind(group_id)
        .fetch_optional(&mut *self.db.conn().await?)
        .await?;
        Ok(row.map(|row| row.try_get("command")).transpose()?)
    }

    /// Deletes album rows seen before `before` (unix ms).
    pub async fn purge_albums(&self, before: i64) -> StoreResult<u64> {
        let photos = sqlx::query("DELETE FROM album_photos WHERE seen_at < $1")
            .bind(before)
            .execute(&mut *self.db.conn().await?)
            .await?;
        let commands = sqlx::query("DELETE FROM album_commands WHERE seen_at < $1")
            .bind(before)
            .execute(&mut *self.db.conn().await?)
            .await?;
        Ok(photos.rows_affected() + commands.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use crate::{
        store::{Store, now_ms},
        test_support,
    };

    async fn story(store: Store) {
        store.add_album_photo(1, "g", 12, "c").await.unwrap();
        store.add_album_photo(1, "g", 10, "a").await.unwrap();
        store.add_album_photo(1, "g", 11, "b").await.unwrap();
        store.add_album_photo(1, "g", 11, "b").await.unwrap();
        store.add_album_photo(2, "g", 10, "other chat").await.unwrap();
        assert_eq!(store.album_photo_count(1, "g").await.unwrap(), 3);
        assert_eq!(store.album_photos(1, "g", 10).await.unwrap(), ["a", "b", "c"]);
        assert_eq!(store.album_photos(1, "g", 2).await.unwrap(), ["a", "b"]);
        assert!(store.album_photos(1, "missing", 10).await.unwrap().is_empty());

        assert!(store.offer_album_command(1, "g", "first").await.unwrap());
        assert!(!store.offer_album_command(1, "g", "second").await.unwrap(), "one command per album");
        assert_eq!(store.claim_album_command(1, "g", "replica-a").await.unwrap().as_deref(), Some("first"));
        assert_eq!(store.claim_album_command(1, "g", "replica-b").await.unwrap(), None, "claimed once");
        assert_eq!(store.claim_album_command(1, "none", "replica-b").await.unwrap(), None);

        assert_eq!(store.purge_albums(now_ms() + 1).await.unwrap(), 5);
        assert_eq!(store.album_photo_count(1, "g").await.unwrap(), 0);
    }

    #[tokio::test]
    async fn album_rows_on_sqlite() {
        let (store, _dir) = test_support::sqlite().await;
        assert!(!store.is_shared());
        story(store).await;
    }

    #[tokio::test]
    async fn album_rows_on_postgres() {
        let store = test_support::postgres().await;
        assert!(store.is_shared());
        story(store).await;
    }

    #[tokio::test]
    async fn concurrent_claims_on_postgres_give_the_command_to_one_replica() {
        let store = test_support::postgres().await;
        store.offer_album_command(5, "g", "cmd").await.unwrap();
        let claims = (0..8).map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.claim_album_command(5, "g", &format!("replica-{i}")).await.unwrap() })
        });
        let mut won = 0;
        for claim in claims {
            won += usize::from(claim.await.unwrap().is_some());
        }
        assert_eq!(won, 1);
    }
}
