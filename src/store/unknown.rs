//! Creates whose outcome is unknown: the end of their hold on the requester's
//! slot, and what admins do with them (`/unknown`, `/attach`, `/release`).

use sqlx::Row;

use super::{GivenBack, Lease, Store, StoreResult, TASK_COLUMNS, credits, database::Conn, now_ms, task_from_row};
use crate::task::{RELEASED, Task, TaskState};

/// What became of an admin's `/attach` or `/release`.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolution {
    /// Done: the task as it is now.
    Resolved(Task),
    NoSuchTask,
    /// It is not (or no longer) an unknown outcome: the task as it is.
    NotUnknown(Task),
    /// `/attach`: this upstream id is already another task's (by its number);
    /// following it twice would deliver one video twice.
    UpstreamTaken(i64),
}

impl Store {
    /// Unknown outcomes created at or before `held_until` (their hold is over)
    /// whose requester was not told yet: marks them told and returns them.
    /// One UPDATE: PostgreSQL re-checks `unknown_told_at IS NULL` against a
    /// row another replica just marked, so each requester is told by one
    /// replica, once, also across restarts.
    pub async fn end_unknown_holds(&self, held_until: i64) -> StoreResult<Vec<Task>> {
        let rows = sqlx::query(&format!(
            "UPDATE tasks SET unknown_told_at = $1 \
             WHERE state = $2 AND unknown_told_at IS NULL AND created_at <= $3 RETURNING {TASK_COLUMNS}"
        ))
        .bind(now_ms())
        .bind(TaskState::Unknown.as_str())
        .bind(held_until)
        .fetch_all(&mut self.db.conn().await?)
        .await?;
        rows.iter().map(task_from_row).collect()
    }

    /// The newest `limit` unknown outcomes, newest first, and how many there are.
    pub async fn unknown_tasks(&self, limit: i64) -> StoreResult<(Vec<Task>, i64)> {
        let mut conn = self.db.conn().await?;
        let rows = sqlx::query(&format!("SELECT {TASK_COLUMNS} FROM tasks WHERE state = $1 ORDER BY id DESC LIMIT $2"))
            .bind(TaskState::Unknown.as_str())
            .bind(limit)
            .fetch_all(&mut conn)
            .await?;
        let total: i64 = sqlx::query("SELECT COUNT(*) AS n FROM tasks WHERE state = $1")
            .bind(TaskState::Unknown.as_str())
            .fetch_one(&mut conn)
            .await?
            .try_get("n")?;
        Ok((rows.iter().map(task_from_row).collect::<StoreResult<_>>()?, total))
    }

    /// `/attach`: the unknown task `id` was made upstream as `upstream_id`.
    /// It becomes a running task leased to `lease.owner`, first polled at
    /// `first_poll_at`, and from then on is followed like any other (by
    /// another replica once the lease runs out).
    pub async fn attach_upstream(
        &self,
        id: i64,
        upstream_id: &str,
        lease: Lease<'_>,
        first_poll_at: i64,
    ) -> StoreResult<Resolution> {
        let mut conn = self.db.conn().await?;
        let mut tx = conn.begin().await?;
        if self.shared_writers {
            // Two admins attaching one upstream id to two tasks at once (on two
            // replicas) take turns, so the second sees the first's.
            sqlx::query("UPDATE quota_guard SET n = n + 1 WHERE id = 1").execute(&mut tx).await?;
        }
        let taken = sqlx::query("SELECT id FROM tasks WHERE upstream_id = $1 AND id <> $2")
            .bind(upstream_id)
            .bind(id)
            .fetch_optional(&mut tx)
            .await?;
        if let Some(row) = taken {
            return Ok(Resolution::UpstreamTaken(row.try_get("id")?));
        }
        let rows = sqlx::query(&format!(
            "UPDATE tasks SET state = $1, upstream_id = $2, upstream_status = NULL, progress_pct = NULL, error = NULL, \
             next_poll_at = $3, updated_at = $4, lease_owner = $5, lease_until = $6 \
             WHERE id = $7 AND state = $8 RETURNING {TASK_COLUMNS}"
        ))
        .bind(TaskState::Running.as_str())
        .bind(upstream_id)
        .bind(first_poll_at)
        .bind(now_ms())
        .bind(lease.owner)
        .bind(None::<i64>)
        .bind(id)
        .bind(TaskState::Unknown.as_str())
        .fetch_all(&mut tx)
        .await?;
        let resolution = resolution(&mut tx, id, rows.first()).await?;
        tx.commit().await?;
        if let Resolution::Resolved(task) = &resolution {
            // Followed from now on by this process's watcher, like a task it created.
            self.created.lock().unwrap_or_else(|e| e.into_inner()).push((task.id, first_poll_at));
        }
        Ok(resolution)
    }

    /// `/release`: the unknown task `id` was not made. It ends as `Rejected`
    /// (`RELEASED`), which frees its slot and gives back the day's count; the
    /// credits it took (with payments on) go back in the same transaction; its
    /// photos are no longer served.
    pub async fn release_unknown(&self, id: i64) -> StoreResult<(Resolution, Option<GivenBack>)> {
        let mut conn = self.db.conn().await?;
        let mut tx = conn.begin().await?;
        let rows = sqlx::query(&format!(
            "UPDATE tasks SET state = $1, error = $2, updated_at = $3, lease_owner = NULL \
             WHERE id = $4 AND state = $5 RETURNING {TASK_COLUMNS}"
        ))
        .bind(TaskState::Rejected.as_str())
        .bind(RELEASED)
        .bind(now_ms())
        .bind(id)
        .bind(TaskState::Unknown.as_str())
        .fetch_all(&mut tx)
        .await?;
        let mut given_back = None;
        if !rows.is_empty() {
            sqlx::query("DELETE FROM media WHERE task_id = $1").bind(id).execute(&mut tx).await?;
            given_back = credits::give_back_in(&mut tx, id).await?;
        }
        let resolution = resolution(&mut tx, id, rows.first()).await?;
        tx.commit().await?;
        Ok((resolution, given_back))
    }
}

/// The changed row, or why there was none.
async fn resolution(conn: &mut Conn<'_>, id: i64, changed: Option<&sqlx::any::AnyRow>) -> StoreResult<Resolution> {
    if let Some(row) = changed {
        return Ok(Resolution::Resolved(task_from_row(row)?));
    }
    let row =
        sqlx::query(&format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1")).bind(id).fetch_optional(conn).await?;
    Ok(match row {
        Some(row) => Resolution::NotUnknown(task_from_row(&row)?),
        None => Resolution::NoSuchTask,
    })
}

#[cfg(test)]
mod tests;
