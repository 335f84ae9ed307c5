//! What buttons need stored: requests waiting for a corrected re-run, presses
//! already acted on, and the file ids of delivered videos for inline sharing.

use sqlx::Row;

use super::{Store, StoreError, StoreResult, TASK_COLUMNS, now_ms, task_from_row};
use crate::task::{Task, TaskState};

/// Pending requests and remembered presses older than this are deleted.
const KEEP_MS: i64 = 7 * 86_400_000;

/// A `/video` command refused for a mistake a button can fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRequest {
    pub id: i64,
    pub chat_id: i64,
    pub user_id: i64,
    /// What followed `/video`, as typed.
    pub args: String,
    pub image_file_ids: Vec<String>,
}

impl Store {
    /// Stores a refused request under a new random id (unguessable, and free
    /// of races between replicas) and returns the id.
    pub async fn add_pending_request(
        &self,
        chat_id: i64,
        user_id: i64,
        args: &str,
        image_file_ids: &[String],
    ) -> StoreResult<i64> {
        let now = now_ms();
        sqlx::query("DELETE FROM pending_requests WHERE created_at < $1")
            .bind(now - KEEP_MS)
            .execute(&mut *self.db.conn().await?)
            .await?;
        // 53 bits: short in button data, and exact in any JSON reader.
        let id = (rand::random::<u64>() >> 11).max(1) as i64;
        sqlx::query("INSERT INTO pending_requests (id, chat_id, user_id, args, image_file_ids, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(id)
            .bind(chat_id)
            .bind(user_id)
            .bind(args)
            .bind(serde_json::to_string(image_file_ids).expect("strings serialise"))
            .bind(now)
            .execute(&mut *self.db.conn().await?)
            .await?;
        Ok(id)
    }

    pub async fn pending_request(&self, id: i64) -> StoreResult<Option<PendingRequest>> {
        let row = sqlx::query("SELECT id, chat_id, user_id, args, image_file_ids FROM pending_requests WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *self.db.conn().await?)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let images: String = row.try_get("image_file_ids")?;
        Ok(Some(PendingRequest {
            id: row.try_get("id")?,
            chat_id: row.try_get("chat_id")?,
            user_id: row.try_get("user_id")?,
            args: row.try_get("args")?,
            image_file_ids: serde_json::from_str(&images)
                .map_err(|_| StoreError::Corrupt(format!("pending request {id}: bad image_file_ids")))?,
        }))
    }

    /// Records a press; `false` if it was recorded before (the same update
    /// delivered again), in which case it must not be acted on twice.
    pub async fn first_press(&self, callback_id: &str) -> StoreResult<bool> {
        let now = now_ms();
        sqlx::query("DELETE FROM button_presses WHERE created_at < $1")
            .bind(now - KEEP_MS)
            .execute(&mut *self.db.conn().await?)
            .await?;
        let result = sqlx::query(
            "INSERT INTO button_presses (callback_id, created_at) VALUES ($1, $2) ON CONFLICT (callback_id) DO NOTHING",
        )
        .bind(callback_id)
        .bind(now)
        .execute(&mut *self.db.conn().await?)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// The Telegram file id of the task's delivered video.
    pub async fn set_video_file_id(&self, id: i64, file_id: &str) -> StoreResult<()> {
        sqlx::query("UPDATE tasks SET video_file_id = $1 WHERE id = $2")
            .bind(file_id)
            .bind(id)
            .execute(&mut *self.db.conn().await?)
            .await?;
        Ok(())
    }

    /// The user's delivered videos whose prompt contains `filter` (any case),
    /// newest first, with their Telegram file ids.
    pub async fn shareable_videos(&self, user_id: i64, filter: &str, limit: i64) -> StoreResult<Vec<(Task, String)>> {
        let pattern = format!("%{}%", escape_like(&filter.to_lowercase()));
        let rows = sqlx::query(&format!(
            "SELECT {TASK_COLUMNS}, video_file_id FROM tasks \
             WHERE user_id = $1 AND state = $2 AND video_file_id IS NOT NULL AND LOWER(prompt) LIKE $3 ESCAPE '\\' \
             ORDER BY id DESC LIMIT $4"
        ))
        .bind(user_id)
        .bind(TaskState::Done.as_str())
        .bind(pattern)
        .bind(limit)
        .fetch_all(&mut *self.db.conn().await?)
        .await?;
        rows.iter().map(|row| Ok((task_from_row(row)?, row.try_get("video_file_id")?))).collect()
    }
}

/// `%`, `_` and `\` in a user's filter match themselves.
fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        store::{Lease, test_support},
        task::NewTask,
    };

    async fn story(store: Store) {
        let id = store.add_pending_request(-5, 7, "--d 25 a cat", &["p1".into()]).await.unwrap();
        let pending = store.pending_request(id).await.unwrap().unwrap();
        assert_eq!(
            pending,
            PendingRequest {
                id,
                chat_id: -5,
                user_id: 7,
                args: "--d 25 a cat".into(),
                image_file_ids: vec!["p1".into()]
            }
        );
        assert_eq!(store.pending_request(id + 1).await.unwrap(), None);

        assert!(store.first_press("cb-1").await.unwrap());
        assert!(!store.first_press("cb-1").await.unwrap());

        let limits = crate::config::Limits {
            daily_per_user: Some(10),
            max_active_per_user: Some(10),
            max_active_total: Some(10),
            daily_total: None,
            daily_per_chat: None,
        };
        let lease = Lease { owner: "me", until: i64::MAX };
        for (msg, prompt) in [(1, "A cat 100%"), (2, "a dog"), (3, "a cat_x")] {
            let new =
                NewTask { chat_id: 7, user_id: 7, command_msg_id: msg, prompt: prompt.into(), ..NewTask::example() };
            store
                .reserve(
                    &new,
                    &crate::store::Guards { limits: &limits, exempt: false, unknown_active_since: 0, lease, cost: 1 },
                )
                .await
                .unwrap();
        }
        for id in [1, 2, 3] {
            store.end_task(id, TaskState::Done, None).await.unwrap();
        }
        store.set_video_file_id(1, "vid-1").await.unwrap();
        store.set_video_file_id(3, "vid-3").await.unwrap();
        let ids = |found: Vec<(Task, String)>| found.into_iter().map(|(t, f)| (t.id, f)).collect::<Vec<_>>();
        assert_eq!(
            ids(store.shareable_videos(7, "", 10).await.unwrap()),
            vec![(3, "vid-3".into()), (1, "vid-1".into())]
        );
        assert_eq!(
            ids(store.shareable_videos(7, "CAT", 10).await.unwrap()),
            vec![(3, "vid-3".into()), (1, "vid-1".into())]
        );
        assert_eq!(ids(store.shareable_videos(7, "100%", 10).await.unwrap()), vec![(1, "vid-1".into())]);
        assert_eq!(ids(store.shareable_videos(7, "t_", 10).await.unwrap()), vec![(3, "vid-3".into())]);
        assert!(store.shareable_videos(8, "", 10).await.unwrap().is_empty(), "only the user's own");
    }

    #[tokio::test]
    async fn button_rows_on_sqlite() {
        let (store, _dir) = test_support::sqlite().await;
        story(store).await;
    }

    #[tokio::test]
    async fn button_rows_on_postgres() {
        story(test_support::postgres().await).await;
    }
}
