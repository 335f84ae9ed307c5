//! Task rows: reserve (with the cost guards), record create outcomes, look up.

use std::sync::LazyLock;

use sqlx::Row;

use super::{Store, StoreResult, TASK_COLUMNS, now_ms, open_states_sql, task_from_row, utc_day};
use crate::{
    config::Limits,
    task::{NewTask, Task, TaskState},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// Stored as `submitting` with this local id: go ahead with the create call.
    Reserved(i64),
    /// This command was already handled (an update delivered twice).
    Duplicate,
    Refused(Refusal),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    DailyLimit { limit: u32 },
    UserActive { limit: u32 },
    TotalActive { limit: u32 },
}

/// Which process follows a task, and until when unless renewed.
#[derive(Debug, Clone, Copy)]
pub struct Lease<'a> {
    pub owner: &'a str,
    pub until: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub used_today: u32,
    pub active_user: u32,
    pub active_total: u32,
}

impl Store {
    /// Stores the request before the paid call, if the cost guards allow it.
    /// `exempt` (admins) skips the per-user limits; the total limit always applies.
    /// The new row is leased to `lease` so that this process follows it.
    ///
    /// One conditional INSERT checks the limits, skips a command seen before
    /// (PITFALLS 9) and takes the next id. On SQLite our single connection runs
    /// it alone; PostgreSQL may have several writers (replicas), so there it runs
    /// after locking `quota_guard`, and every check sees the others' commits.
    pub async fn reserve(&self, new: &NewTask, limits: &Limits, exempt: bool, lease: &Lease<'_>) -> StoreResult<Reservation> {
        let now = now_ms();
        let day = utc_day(now);
        let per_user = |limit: u32| if exempt { i64::MAX } else { i64::from(limit) };
        let insert = sqlx::query(&RESERVE_SQL)
            .bind(new.chat_id)
            .bind(new.user_id)
            .bind(i64::from(new.command_msg_id))
            .bind(&new.lang)
            .bind(&new.prompt)
            .bind(new.options.model.as_str())
            .bind(new.options.orientation.as_str())
            .bind(new.options.size.as_str())
            .bind(i64::from(new.options.duration))
            .bind(serde_json::to_string(&new.image_file_ids).expect("strings serialise"))
            .bind(TaskState::Submitting.as_str())
            .bind(now)
            .bind(day)
            .bind(lease.owner)
            .bind(lease.until)
            .bind(per_user(limits.daily_per_user))
            .bind(per_user(limits.max_active_per_user))
            .bind(i64::from(limits.max_active_total));

        if self.shared_writers {
            let mut tx = self.pool.begin().await?;
            sqlx::query("UPDATE quota_guard SET n = n + 1 WHERE id = 1").execute(&mut *tx).await?;
            let outcome = match insert.fetch_optional(&mut *tx).await? {
                Some(row) => Reservation::Reserved(row.try_get("id")?),
                None => why_not_reserved(&mut tx, new, limits, exempt, day).await?,
            };
            tx.commit().await?;
            return Ok(outcome);
        }
        let mut conn = self.pool.acquire().await?;
        match insert.fetch_optional(&mut *conn).await? {
            Some(row) => Ok(Reservation::Reserved(row.try_get("id")?)),
            None => why_not_reserved(&mut conn, new, limits, exempt, day).await,
        }
    }

    /// The create call answered: from now on the watcher follows it.
    /// Returns the task as stored, `None` if it was no longer `submitting`.
    pub async fn mark_created(&self, id: i64, upstream_id: &str, upstream_status: &str, first_poll_at: i64) -> StoreResult<Option<Task>> {
        let row = sqlx::query(&format!(
            "UPDATE tasks SET upstream_id = $1, upstream_status = $2, state = $3, next_poll_at = $4, updated_at = $5 \
             WHERE id = $6 AND state = $7 RETURNING {TASK_COLUMNS}"
        ))
        .bind(upstream_id)
        .bind(upstream_status)
        .bind(TaskState::Running.as_str())
        .bind(first_poll_at)
        .bind(now_ms())
        .bind(id)
        .bind(TaskState::Submitting.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(task_from_row).transpose()
    }

    /// Ends a task that is still open. Returns whether this call ended it, so a
    /// final message is sent once even if two paths race.
    pub async fn finish(&self, id: i64, state: TaskState, error: Option<&str>) -> StoreResult<bool> {
        debug_assert!(!state.is_open());
        let result = sqlx::query(&format!(
            "UPDATE tasks SET state = $1, error = $2, updated_at = $3, lease_owner = NULL WHERE id = $4 AND state IN ({})",
            open_states_sql()
        ))
        .bind(state.as_str())
        .bind(error)
        .bind(now_ms())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    pub async fn set_status_message(&self, id: i64, message_id: i32, text: &str) -> StoreResult<()> {
        sqlx::query("UPDATE tasks SET status_msg_id = $1, shown_text = $2, shown_at = $3 WHERE id = $4")
            .bind(i64::from(message_id))
            .bind(text)
            .bind(now_ms())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn task(&self, id: i64) -> StoreResult<Option<Task>> {
        let row = sqlx::query(&format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1")).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(task_from_row).transpose()
    }

    /// The task with this upstream id (users may paste it into `/status`).
    pub async fn task_by_upstream_id(&self, upstream_id: &str) -> StoreResult<Option<Task>> {
        let row = sqlx::query(&format!("SELECT {TASK_COLUMNS} FROM tasks WHERE upstream_id = $1"))
            .bind(upstream_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(task_from_row).transpose()
    }

    /// Most recent first.
    pub async fn recent_for_user(&self, user_id: i64, limit: i64) -> StoreResult<Vec<Task>> {
        self.recent("user_id", user_id, limit).await
    }

    /// Most recent first.
    pub async fn recent_for_chat(&self, chat_id: i64, limit: i64) -> StoreResult<Vec<Task>> {
        self.recent("chat_id", chat_id, limit).await
    }

    async fn recent(&self, column: &'static str, value: i64, limit: i64) -> StoreResult<Vec<Task>> {
        let rows = sqlx::query(&format!("SELECT {TASK_COLUMNS} FROM tasks WHERE {column} = $1 ORDER BY id DESC LIMIT $2"))
            .bind(value)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(task_from_row).collect()
    }

    pub async fn usage(&self, user_id: i64) -> StoreResult<Usage> {
        let mut conn = self.pool.acquire().await?;
        usage_in(&mut conn, user_id, utc_day(now_ms())).await
    }
}

/// The conditional insert of `reserve`: $16-$18 are the three limits.
static RESERVE_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO tasks (id, chat_id, user_id, command_msg_id, lang, prompt, model, orientation, size, duration, \
         image_file_ids, state, created_at, updated_at, day, next_poll_at, lease_owner, lease_until) \
         SELECT next.id, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13, $12, $14, $15 \
         FROM (SELECT COALESCE(MAX(id), 0) + 1 AS id FROM tasks) AS next \
         WHERE (SELECT COUNT(*) FROM tasks WHERE user_id = $2 AND day = $13 AND state <> '{rejected}') < $16 \
           AND (SELECT COUNT(*) FROM tasks WHERE user_id = $2 AND state IN ({open})) < $17 \
           AND (SELECT COUNT(*) FROM tasks WHERE state IN ({open})) < $18 \
         ON CONFLICT (chat_id, command_msg_id) DO NOTHING \
         RETURNING id",
        rejected = TaskState::Rejected.as_str(),
        open = open_states_sql(),
    )
});

/// The conditional insert added nothing: say which rule stopped it.
async fn why_not_reserved(conn: &mut sqlx::AnyConnection, new: &NewTask, limits: &Limits, exempt: bool, day: i64) -> StoreResult<Reservation> {
    let seen = sqlx::query("SELECT id FROM tasks WHERE chat_id = $1 AND command_msg_id = $2")
        .bind(new.chat_id)
        .bind(i64::from(new.command_msg_id))
        .fetch_optional(&mut *conn)
        .await?;
    if seen.is_some() {
        return Ok(Reservation::Duplicate);
    }
    let usage = usage_in(conn, new.user_id, day).await?;
    let refusal = if !exempt && usage.used_today >= limits.daily_per_user {
        Refusal::DailyLimit { limit: limits.daily_per_user }
    } else if !exempt && usage.active_user >= limits.max_active_per_user {
        Refusal::UserActive { limit: limits.max_active_per_user }
    } else {
        Refusal::TotalActive { limit: limits.max_active_total }
    };
    Ok(Reservation::Refused(refusal))
}

async fn usage_in(conn: &mut sqlx::AnyConnection, user_id: i64, day: i64) -> StoreResult<Usage> {
    let open = open_states_sql();
    // Rejected creates cost nothing, so they do not use up the daily quota.
    let row = sqlx::query(&format!(
        "SELECT \
           (SELECT COUNT(*) FROM tasks WHERE user_id = $1 AND day = $2 AND state <> '{rejected}') AS used_today, \
           (SELECT COUNT(*) FROM tasks WHERE user_id = $1 AND state IN ({open})) AS active_user, \
           (SELECT COUNT(*) FROM tasks WHERE state IN ({open})) AS active_total",
        rejected = TaskState::Rejected.as_str(),
    ))
    .bind(user_id)
    .bind(day)
    .fetch_one(conn)
    .await?;
    let count = |name: &str| row.try_get::<i64, _>(name).map(|n| u32::try_from(n).unwrap_or(u32::MAX));
    Ok(Usage { used_today: count("used_today")?, active_user: count("active_user")?, active_total: count("active_total")? })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        command::{Model, Orientation, Size, VideoOptions},
        store::test_support,
    };

    const LIMITS: Limits = Limits { daily_per_user: 3, max_active_per_user: 2, max_active_total: 3 };
    const ME: Lease<'static> = Lease { owner: "me", until: i64::MAX };

    fn request(user_id: i64, command_msg_id: i32) -> NewTask {
        NewTask {
            chat_id: user_id,
            user_id,
            command_msg_id,
            lang: "en".into(),
            prompt: "a cat surfing".into(),
            options: VideoOptions { model: Model::Sora2, orientation: Orientation::Landscape, size: Size::Small, duration: 10 },
            image_file_ids: vec!["photo-1".into()],
        }
    }

    async fn story(store: Store) {
        let first = store.reserve(&request(1, 10), &LIMITS, false, &ME).await.unwrap();
        assert_eq!(first, Reservation::Reserved(1));
        assert_eq!(store.reserve(&request(1, 10), &LIMITS, false, &ME).await.unwrap(), Reservation::Duplicate);

        let task = store.task(1).await.unwrap().unwrap();
        assert_eq!(task.state, TaskState::Submitting);
        assert_eq!(task.image_file_ids, vec!["photo-1".to_string()]);
        assert_eq!(task.options.orientation, Orientation::Landscape);

        store.mark_created(1, "sora-2:task_1", "pending", 0).await.unwrap();
        assert_eq!(store.reserve(&request(1, 11), &LIMITS, false, &ME).await.unwrap(), Reservation::Reserved(2));
        // Two active: the third waits.
        let refused = store.reserve(&request(1, 12), &LIMITS, false, &ME).await.unwrap();
        assert_eq!(refused, Reservation::Refused(Refusal::UserActive { limit: 2 }));
        // A rejected create frees its slot and its daily quota.
        assert!(store.finish(2, TaskState::Rejected, Some("401")).await.unwrap());
        assert!(!store.finish(2, TaskState::Failed, None).await.unwrap(), "finishing twice is a no-op");
        assert_eq!(store.usage(1).await.unwrap(), Usage { used_today: 1, active_user: 1, active_total: 1 });
        assert!(store.finish(1, TaskState::Done, None).await.unwrap());
        store.reserve(&request(1, 13), &LIMITS, false, &ME).await.unwrap();
        store.finish(3, TaskState::Done, None).await.unwrap();
        store.reserve(&request(1, 14), &LIMITS, false, &ME).await.unwrap();
        store.finish(4, TaskState::Failed, None).await.unwrap();
        assert_eq!(store.reserve(&request(1, 15), &LIMITS, false, &ME).await.unwrap(), Reservation::Refused(Refusal::DailyLimit { limit: 3 }));
        // Admins skip the per-user limits but not the total.
        assert!(matches!(store.reserve(&request(1, 16), &LIMITS, true, &ME).await.unwrap(), Reservation::Reserved(_)));
        store.reserve(&request(2, 20), &LIMITS, false, &ME).await.unwrap();
        store.reserve(&request(3, 30), &LIMITS, false, &ME).await.unwrap();
        assert_eq!(store.reserve(&request(4, 40), &LIMITS, true, &ME).await.unwrap(), Reservation::Refused(Refusal::TotalActive { limit: 3 }));

        let recent = store.recent_for_user(1, 2).await.unwrap();
        assert_eq!(recent.iter().map(|t| t.id).collect::<Vec<_>>(), vec![5, 4]);
        assert_eq!(store.task_by_upstream_id("sora-2:task_1").await.unwrap().unwrap().id, 1);
        store.set_status_message(1, 77, "shown").await.unwrap();
        let task = store.task(1).await.unwrap().unwrap();
        assert_eq!((task.status_msg_id, task.shown_text.as_deref()), (Some(77), Some("shown")));
    }

    #[tokio::test]
    async fn reserve_and_limits_on_sqlite() {
        let (store, _dir) = test_support::sqlite().await;
        story(store).await;
    }

    #[tokio::test]
    async fn reserve_and_limits_on_postgres() {
        story(test_support::postgres().await).await;
    }

    async fn race_for_last_slot(store: Store) {
        let limits = Limits { daily_per_user: 10, max_active_per_user: 10, max_active_total: 1 };
        let attempts = (0..8).map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.reserve(&request(100 + i, 1), &limits, false, &ME).await.unwrap() })
        });
        let results = futures_util::future::join_all(attempts).await;
        let won = results.iter().filter(|r| matches!(r.as_ref().unwrap(), Reservation::Reserved(_))).count();
        assert_eq!(won, 1, "{results:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_creates_never_share_the_last_slot_on_sqlite() {
        let (store, _dir) = test_support::sqlite().await;
        race_for_last_slot(store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_creates_never_share_the_last_slot_on_postgres() {
        race_for_last_slot(test_support::postgres().await).await;
    }
}
