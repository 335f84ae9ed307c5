//! Media proxy tokens, kept in the database so every replica behind
//! `PUBLIC_BASE_URL` can serve them and they survive a restart.

use sqlx::Row;

use super::{Store, StoreResult, now_ms};

impl Store {
    /// A token for one photo of task `task_id`, deleted with the task's end.
    pub async fn add_media(&self, token: &str, file_id: &str, expires_at: i64, task_id: i64) -> StoreResult<()> {
        let query = sqlx::query("INSERT INTO media (token, file_id, expires_at, task_id) VALUES ($1, $2, $3, $4)")
            .bind(token)
            .bind(file_id)
            .bind(expires_at)
            .bind(task_id);
        self.write(query).await?;
        Ok(())
    }

    /// The Telegram file id behind a live token; `None` once it has expired.
    pub async fn media_file(&self, token: &str) -> StoreResult<Option<String>> {
        let row = sqlx::query("SELECT file_id FROM media WHERE token = $1 AND expires_at > $2")
            .bind(token)
            .bind(now_ms())
            .fetch_optional(&mut self.db.conn().await?)
            .await?;
        Ok(row.map(|r| r.try_get("file_id")).transpose()?)
    }

    pub async fn purge_expired_media(&self) -> StoreResult<u64> {
        let result = sqlx::query("DELETE FROM media WHERE expires_at <= $1")
            .bind(now_ms())
            .execute(&mut self.db.conn().await?)
            .await?;
        Ok(result.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use crate::{
        store::{Store, now_ms},
        test_support,
    };

    async fn story(store: Store) {
        store.add_media("live", "file-1", now_ms() + 60_000, 1).await.unwrap();
        store.add_media("old", "file-2", now_ms() - 1, 1).await.unwrap();
        assert_eq!(store.media_file("live").await.unwrap().as_deref(), Some("file-1"));
        assert_eq!(store.media_file("old").await.unwrap(), None);
        assert_eq!(store.media_file("missing").await.unwrap(), None);
        assert_eq!(store.purge_expired_media().await.unwrap(), 1);
    }

    #[tokio::test]
    async fn media_tokens_expire_on_sqlite() {
        let (store, _dir) = test_support::sqlite().await;
        story(store).await;
    }

    #[tokio::test]
    async fn media_tokens_expire_on_postgres() {
        story(test_support::postgres().await).await;
    }
}
