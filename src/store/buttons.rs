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
            .execute(&mut self.db.conn().await?)
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
            .execute(&mut self.db.conn().await?)
            .await?;
        Ok(id)
    }

    pub async fn pending_request(&self, id: i64) -> StoreResult<Option<PendingRequest>> {
        let row = sqlx::query("SELECT id, chat_id, user_id, args, image_file_ids FROM pending_requests WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut self.db.conn().await?)
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

    /// Takes a pending request for the button pressed by `user_id`: `true`
    /// once, for its owner; its buttons then act no more.
    pub async fn take_pending_request(&self, id: i64, user_id: i64) -> StoreResult<bool> {
        let result = sqlx::query("DELETE FROM pending_requests WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .execute(&mut self.db.conn().await?)
            .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Remembers that message `message_id` asks `user_id` for a prompt.
    pub async fn add_question(&self, chat_id: i64, message_id: i32, user_id: i64) -> StoreResult<()> {
        let now = now_ms();
        sqlx::query("DELETE FROM guided_questions WHERE created_at < $1")
            .bind(now - KEEP_MS)
            .execute(&mut self.db.conn().await?)
            .await?;
        sqlx::query(
            "INSERT INTO guided_questions (chat_id, message_id, user_id, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (chat_id, message_id) DO NOTHING",
        )
        .bind(chat_id)
        .bind(i64::from(message_id))
        .bind(user_id)
        .bind(now)
        .execute(&mut self.db.conn().await?)
        .await?;
        Ok(())
    }

    /// Who the question `message_id` asked, while it is still open.
    pub async fn question_asker(&self, chat_id: i64, message_id: i32) -> StoreResult<Option<i64>> {
        let row = sqlx::query("SELECT user_id FROM guided_questions WHERE chat_id = $1 AND message_id = $2")
            .bind(chat_id)
            .bind(i64::from(message_id))
            .fetch_optional(&mut self.db.conn().await?)
            .await?;
        Ok(row.map(|row| row.try_get("user_id")).transpose()?)
    }

    /// Takes the question's answer: `true` once, for the person asked.
    pub async fn take_question(&self, chat_id: i64, message_id: i32, user_id: i64) -> StoreResult<bool> {
        let result =
            sqlx::query("DELETE FROM guided_questions WHERE chat_id = $1 AND message_id = $2 AND user_id = $3")
                .bind(chat_id)
                .bind(i64::from(message_id))
                .bind(user_id)
                .execute(&mut self.db.conn().await?)
                .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Records a press; `false` if it was recorded before (the same update
    /// delivered again), in which case it must not be acted on twice.
    pub async fn first_press(&self, callback_id: &str) -> StoreResult<bool> {
        let now = now_ms();
        sqlx::query("DELETE FROM button_presses WHERE created_at < $1")
            .bind(now - KEEP_MS)
            .execute(&mut self.db.conn().await?)
            .await?;
        let result = sqlx::query(
            "INSERT INTO button_presses (callback_id, created_at) VALUES ($1, $2) ON CONFLICT (callback_id) DO NOTHING",
        )
        .bind(callback_id)
        .bind(now)
        .execute(&mut self.db.conn().await?)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// The Telegram file id of the task's delivered video.
    pub async fn set_video_file_id(&self, id: i64, file_id: &str) -> StoreResult<()> {
        sqlx::query("UPDATE tasks SET video_file_id = $1 WHERE id = $2")
            .bind(file_id)
            .bind(id)
            .execute(&mut self.db.conn().await?)
            .await?;
        Ok(())
    }

    /// A page of the user's delivered videos whose prompt contains `filter`
    /// (in any case, in any script), newest first, with their Telegram file
    /// ids; `before` continues after the previous page. Also returns where the
    /// next page starts, if there may be one.
    ///
    /// The filter is applied here rather than in SQL: SQLite's `LOWER()` folds
    /// ASCII letters only ("Ölfeld", "Кот"). The scan per page is bounded;
    /// a page that found fewer still says where to go on.
    pub async fn shareable_videos(
        &self,
        user_id: i64,
        filter: &str,
        before: Option<i64>,
        limit: usize,
    ) -> StoreResult<(Vec<(Task, String)>, Option<i64>)> {
        let filter = filter.to_lowercase();
        let mut found = Vec::new();
        let mut before = before.unwrap_or(i64::MAX);
        let mut scanned = 0;
        while scanned < SCAN_PER_PAGE {
            let rows = sqlx::query(&format!(
                "SELECT {TASK_COLUMNS}, video_file_id FROM tasks \
                 WHERE user_id = $1 AND state = $2 AND video_file_id IS NOT NULL AND id < $3 \
                 ORDER BY id DESC LIMIT $4"
            ))
            .bind(user_id)
            .bind(TaskState::Done.as_str())
            .bind(before)
            .bind(SCAN_CHUNK)
            .fetch_all(&mut self.db.conn().await?)
            .await?;
            let last_chunk = (rows.len() as i64) < SCAN_CHUNK;
            for row in &rows {
                let task = task_from_row(row)?;
                before = task.id;
                scanned += 1;
                if task.prompt.to_lowercase().contains(&filter) {
                    found.push((task, row.try_get("video_file_id")?));
                    if found.len() == limit {
                        return Ok((found, Some(before)));
                    }
                }
            }
            if last_chunk {
                return Ok((found, None));
            }
        }
        Ok((found, Some(before)))
    }
}

/// Rows read at a time, and at most per page, looking for matching prompts.
const SCAN_CHUNK: i64 = 200;
const SCAN_PER_PAGE: usize = 2_000;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{store::Lease, task::NewTask, test_support};

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

        assert!(!store.take_pending_request(id, 8).await.unwrap(), "not the owner's");
        assert!(store.take_pending_request(id, 7).await.unwrap());
        assert!(!store.take_pending_request(id, 7).await.unwrap(), "once");

        store.add_question(-5, 40, 7).await.unwrap();
        assert_eq!(store.question_asker(-5, 40).await.unwrap(), Some(7));
        assert!(!store.take_question(-5, 40, 8).await.unwrap());
        assert!(store.take_question(-5, 40, 7).await.unwrap());
        assert!(!store.take_question(-5, 40, 7).await.unwrap());
        assert_eq!(store.question_asker(-5, 40).await.unwrap(), None);

        assert!(store.first_press("cb-1").await.unwrap());
        assert!(!store.first_press("cb-1").await.unwrap());

        let limits = crate::config::Limits {
            daily_per_user: Some(10),
            max_active_per_user: Some(10),
            max_active_total: Some(10),
            daily_total: None,
            daily_per_chat: None,
        };
        let lease = Lease { owner: "me" };
        for (msg, prompt) in [(1, "A cat 100%"), (2, "a dog"), (3, "a cat_x"), (4, "Ölfeld im Regen, Кот")] {
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
        for id in [1, 2, 3, 4] {
            store.end_task(id, TaskState::Done, None).await.unwrap();
        }
        store.set_video_file_id(1, "vid-1").await.unwrap();
        store.set_video_file_id(3, "vid-3").await.unwrap();
        store.set_video_file_id(4, "vid-4").await.unwrap();
        for (filter, expected) in [("ölfeld", "vid-4"), ("ÖLFELD", "vid-4"), ("кот", "vid-4"), ("КОТ", "vid-4")]
        {
            let found = store.shareable_videos(7, filter, None, 10).await.unwrap().0;
            assert_eq!(found.into_iter().map(|(_, f)| f).collect::<Vec<_>>(), [expected], "{filter}");
        }
        // Out of the way of the pages below.
        sqlx::query("UPDATE tasks SET video_file_id = NULL WHERE id = 4")
            .execute(&mut store.db.conn().await.unwrap())
            .await
            .unwrap();
        let ids =
            |found: (Vec<(Task, String)>, Option<i64>)| found.0.into_iter().map(|(t, f)| (t.id, f)).collect::<Vec<_>>();
        assert_eq!(
            ids(store.shareable_videos(7, "", None, 10).await.unwrap()),
            vec![(3, "vid-3".into()), (1, "vid-1".into())]
        );
        assert_eq!(
            ids(store.shareable_videos(7, "CAT", None, 10).await.unwrap()),
            vec![(3, "vid-3".into()), (1, "vid-1".into())]
        );
        assert_eq!(ids(store.shareable_videos(7, "100%", None, 10).await.unwrap()), vec![(1, "vid-1".into())]);
        assert_eq!(ids(store.shareable_videos(7, "t_", None, 10).await.unwrap()), vec![(3, "vid-3".into())]);
        // Pages: one at a time, the cursor continues where the last one stopped.
        let (first, next) = store.shareable_videos(7, "", None, 1).await.unwrap();
        assert_eq!((first[0].0.id, next), (3, Some(3)));
        let (second, _) = store.shareable_videos(7, "", next, 1).await.unwrap();
        assert_eq!(second[0].0.id, 1);
        assert!(store.shareable_videos(8, "", None, 10).await.unwrap().0.is_empty(), "only the user's own");
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
