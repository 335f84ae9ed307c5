//! Bulk set-up for the benchmark (examples/loadgen): thousands of open tasks
//! in one transaction, which `reserve` + `mark_created` would take minutes for.

use super::{Store, StoreResult, now_ms, utc_day};
use crate::task::{NewTask, TaskState};

impl Store {
    /// Inserts `tasks` as a create answered "pending" leaves them: running,
    /// with their upstream id, no lease, due now, no status message. Ids follow
    /// the largest one.
    pub async fn insert_running(&self, tasks: &[(NewTask, String)]) -> StoreResult<()> {
        let now = now_ms();
        let mut conn = self.db.conn().await?;
        let mut tx = conn.begin().await?;
        for (new, upstream_id) in tasks {
            super::tasks::bind_request(
                sqlx::query(
                    "INSERT INTO tasks (id, chat_id, user_id, command_msg_id, lang, prompt, model, orientation, size, \
                 duration, image_file_ids, upstream_id, state, upstream_status, created_at, updated_at, day, \
                 next_poll_at) \
                 SELECT COALESCE((SELECT MAX(id) FROM tasks), 0) + 1, \
                 $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'pending', $13, $13, $14, $13",
                ),
                new,
            )
            .bind(upstream_id)
            .bind(TaskState::Running.as_str())
            .bind(now)
            .bind(utc_day(now))
            .execute(&mut tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Puts the next poll of every running task at `earliest + (id × 7919) mod
    /// spread` ms (spread 1: all at `earliest`) and returns their upstream ids.
    pub async fn schedule_running(&self, earliest: i64, spread: i64) -> StoreResult<Vec<String>> {
        sqlx::query("UPDATE tasks SET next_poll_at = $1 + (id * 7919) % $2 WHERE state = $3")
            .bind(earliest)
            .bind(spread.max(1))
            .bind(TaskState::Running.as_str())
            .execute(&mut self.db.conn().await?)
            .await?;
        let ids: Vec<(String,)> =
            sqlx::query_as("SELECT upstream_id FROM tasks WHERE state = $1 AND upstream_id IS NOT NULL ORDER BY id")
                .bind(TaskState::Running.as_str())
                .fetch_all(&mut self.db.conn().await?)
                .await?;
        Ok(ids.into_iter().map(|(id,)| id).collect())
    }
}
