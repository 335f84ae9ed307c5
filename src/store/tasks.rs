//! Task rows: reserve (with the cost guards), record create outcomes, look up.

use std::sync::LazyLock;

use sqlx::{Connection as _, Row};

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
    DailyLimit {
        limit: u32,
    },
    UserActive {
        limit: u32,
    },
    TotalActive {
        limit: u32,
    },
    /// `DAILY_LIMIT_TOTAL`: everyone together, admins included.
    TotalDaily {
        limit: u32,
    },
    /// `DAILY_LIMIT_PER_CHAT`: this group chat's videos today.
    ChatDaily {
        limit: u32,
    },
}

/// Which process follows a task, and until when unless renewed.
#[derive(Debug, Clone, Copy)]
pub struct Lease<'a> {
    pub owner: &'a str,
    pub until: i64,
}

/// The cost guards one reservation must pass.
#[derive(Debug, Clone, Copy)]
pub struct Guards<'a> {
    pub limits: &'a Limits,
    /// Admins skip the per-user and per-chat limits, never the totals.
    pub exempt: bool,
    /// A create whose outcome is unknown may be running upstream until the
    /// task timeout: it keeps an active slot while created after this (unix ms).
    pub unknown_active_since: i64,
    /// The new row is leased to this process, which follows it.
    pub lease: Lease<'a>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub used_today: u32,
    pub active_user: u32,
    pub active_total: u32,
    /// The user's tasks stopped with /cancel that still run upstream (and count).
    pub cancelled_running: u32,
    /// Videos today for everyone together.
    pub used_total_today: u32,
    /// Videos today in this chat.
    pub used_chat_today: u32,
}

/// Group and supergroup ids are negative; private chats are the user's own id.
pub fn is_group_chat(chat_id: i64) -> bool {
    chat_id < 0
}

impl Store {
    /// Stores the request before the paid call, if the cost guards allow it.
    ///
    /// One conditional INSERT checks the limits, skips a command seen before
    /// (updates are delivered at least once) and takes the next id; its commit
    /// is checked: a reservation that is not durably stored is an error, and
    /// then no create may be made. On SQLite this process is the only writer
    /// and the INSERT is its own transaction (see `Store::write`).
    /// PostgreSQL may have several writers (replicas), so there it runs in a
    /// transaction after locking `quota_guard`, and every check sees the
    /// others' commits.
    pub async fn reserve(&self, new: &NewTask, guards: &Guards<'_>) -> StoreResult<Reservation> {
        let now = now_ms();
        let day = utc_day(now);
        let limits = guards.limits;
        let unlimited = |limit: Option<u32>| limit.map_or(i64::MAX, i64::from);
        let per_user = |limit: u32| if guards.exempt { i64::MAX } else { i64::from(limit) };
        let per_chat =
            if guards.exempt || !is_group_chat(new.chat_id) { i64::MAX } else { unlimited(limits.daily_per_chat) };
        let insert = bind_request(sqlx::query(&RESERVE_SQL), new)
            .bind(TaskState::Submitting.as_str())
            .bind(now)
            .bind(day)
            .bind(guards.lease.owner)
            .bind(guards.lease.until)
            .bind(per_user(limits.daily_per_user))
            .bind(per_user(limits.max_active_per_user))
            .bind(i64::from(limits.max_active_total))
            .bind(unlimited(limits.daily_total))
            .bind(per_chat)
            .bind(guards.unknown_active_since);

        if self.shared_writers {
            let mut conn = self.db.conn().await?;
            let mut tx = conn.begin().await?;
            sqlx::query("UPDATE quota_guard SET n = n + 1 WHERE id = 1").execute(&mut *tx).await?;
            let outcome = reserve_in(&mut tx, insert, new, guards, day).await?;
            tx.commit().await?;
            Ok(outcome)
        } else {
            reserve_in(&mut *self.db.conn().await?, insert, new, guards, day).await
        }
    }

    /// The create call answered: from now on the watcher follows it. Returns
    /// the task as stored, `None` if it had already ended. A task marked
    /// `unknown` meanwhile (its create was thought lost) is taken back: the
    /// answer proves it exists upstream.
    pub async fn mark_created(
        &self,
        id: i64,
        upstream_id: &str,
        upstream_status: &str,
        first_poll_at: i64,
    ) -> StoreResult<Option<Task>> {
        let query = format!(
            "UPDATE tasks SET upstream_id = $1, upstream_status = $2, state = $3, next_poll_at = $4, updated_at = $5, error = NULL \
             WHERE id = $6 AND state IN ($7, $8) RETURNING {TASK_COLUMNS}"
        );
        // One statement: its own checked transaction (see `Store::write`).
        let rows = sqlx::query(&query)
            .bind(upstream_id)
            .bind(upstream_status)
            .bind(TaskState::Running.as_str())
            .bind(first_poll_at)
            .bind(now_ms())
            .bind(id)
            .bind(TaskState::Submitting.as_str())
            .bind(TaskState::Unknown.as_str())
            .fetch_all(&mut *self.db.conn().await?)
            .await?;
        rows.first().map(task_from_row).transpose()
    }

    /// Ends a task that is still open. Returns whether this call ended it, so a
    /// final message is sent once even if two paths race. Its media tokens go
    /// with it, except for `unknown`: the video API may still fetch the photos.
    pub async fn end_task(&self, id: i64, state: TaskState, error: Option<&str>) -> StoreResult<bool> {
        debug_assert!(!state.is_open());
        let mut conn = self.db.conn().await?;
        let mut tx = conn.begin().await?;
        let ended = sqlx::query(&format!(
            "UPDATE tasks SET state = $1, error = $2, updated_at = $3, lease_owner = NULL WHERE id = $4 AND state IN ({})",
            open_states_sql()
        ))
        .bind(state.as_str())
        .bind(error)
        .bind(now_ms())
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if ended && state != TaskState::Unknown {
            sqlx::query("DELETE FROM media WHERE task_id = $1").bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(ended)
    }

    /// `/cancel`: the user stops hearing about the task, but it stays open (and
    /// keeps its active slot) until the API ends it or it times out, because
    /// the job goes on upstream. Returns whether this call cancelled it.
    pub async fn cancel(&self, id: i64) -> StoreResult<bool> {
        let sql = format!(
            "UPDATE tasks SET cancelled_at = $1, updated_at = $1 WHERE id = $2 AND cancelled_at IS NULL AND state IN ({})",
            open_states_sql()
        );
        let query = sqlx::query(&sql).bind(now_ms()).bind(id);
        Ok(self.write(query).await? == 1)
    }

    pub async fn set_status_message(&self, id: i64, message_id: i32, text: &str) -> StoreResult<()> {
        let query = sqlx::query("UPDATE tasks SET status_msg_id = $1, shown_text = $2, shown_at = $3 WHERE id = $4")
            .bind(i64::from(message_id))
            .bind(text)
            .bind(now_ms())
            .bind(id);
        self.write(query).await?;
        Ok(())
    }

    pub async fn task(&self, id: i64) -> StoreResult<Option<Task>> {
        let row = sqlx::query(&format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *self.db.conn().await?)
            .await?;
        row.as_ref().map(task_from_row).transpose()
    }

    /// The task with this upstream id (users may paste it into `/status`).
    pub async fn task_by_upstream_id(&self, upstream_id: &str) -> StoreResult<Option<Task>> {
        let row = sqlx::query(&format!("SELECT {TASK_COLUMNS} FROM tasks WHERE upstream_id = $1"))
            .bind(upstream_id)
            .fetch_optional(&mut *self.db.conn().await?)
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
        let rows =
            sqlx::query(&format!("SELECT {TASK_COLUMNS} FROM tasks WHERE {column} = $1 ORDER BY id DESC LIMIT $2"))
                .bind(value)
                .bind(limit)
                .fetch_all(&mut *self.db.conn().await?)
                .await?;
        rows.iter().map(task_from_row).collect()
    }

    /// What counts against the user's limits now, in `chat_id`.
    pub async fn usage(&self, user_id: i64, chat_id: i64, unknown_active_since: i64) -> StoreResult<Usage> {
        let mut conn = self.db.conn().await?;
        usage_in(&mut conn, user_id, chat_id, utc_day(now_ms()), unknown_active_since).await
    }
}

/// Binds `$1`…`$10` of an insert into `tasks`: who asked, where, and what
/// (chat, user, command message, language, prompt, the four options, photos).
pub(super) fn bind_request<'q>(query: AnyQuery<'q>, new: &'q NewTask) -> AnyQuery<'q> {
    query
        .bind(new.chat_id)
        .bind(new.user_id)
        .bind(i64::from(new.command_msg_id))
        .bind(new.lang.code())
        .bind(&new.prompt)
        .bind(new.options.model.as_str())
        .bind(new.options.orientation.as_str())
        .bind(new.options.size.as_str())
        .bind(i64::from(new.options.duration))
        .bind(serde_json::to_string(&new.image_file_ids).expect("strings serialise"))
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// A task that holds an active slot: open, or its create's outcome is unknown
/// and it may still be running upstream (created after the `cutoff` placeholder).
fn active_sql(cutoff: &str) -> String {
    format!(
        "(state IN ({open}) OR (state = '{unknown}' AND created_at > {cutoff}))",
        open = open_states_sql(),
        unknown = TaskState::Unknown.as_str()
    )
}

/// How many tasks hold an active slot, everyone together. Two counts instead of
/// `COUNT(*) WHERE {active_sql}`: that OR makes SQLite look up every open row
/// in the table, while `state IN (…)` alone is read from the `tasks_by_state`
/// index, and `unknown` rows are few.
fn active_total_sql(cutoff: &str) -> String {
    format!(
        "((SELECT COUNT(*) FROM tasks WHERE state IN ({open})) \
         + (SELECT COUNT(*) FROM tasks WHERE state = '{unknown}' AND created_at > {cutoff}))",
        open = open_states_sql(),
        unknown = TaskState::Unknown.as_str()
    )
}

/// Counts for the daily quotas: everything but creates that were refused.
static PAID_SQL: LazyLock<String> = LazyLock::new(|| format!("state <> '{}'", TaskState::Rejected.as_str()));

/// The conditional insert of `reserve`: $16-$20 are the limits, $21 the
/// unknown cut-off. A count whose limit is `i64::MAX` (no limit) is skipped:
/// SQLite stops at the first true operand of an OR, and the day's totals read
/// every row of the day.
static RESERVE_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO tasks (id, chat_id, user_id, command_msg_id, lang, prompt, model, orientation, size, duration, \
         image_file_ids, state, created_at, updated_at, day, next_poll_at, lease_owner, lease_until) \
         SELECT COALESCE((SELECT MAX(id) FROM tasks), 0) + 1, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13, $12, $14, $15 \
         WHERE ($16 = {max} OR (SELECT COUNT(*) FROM tasks WHERE user_id = $2 AND day = $13 AND {paid}) < $16) \
           AND ($17 = {max} OR (SELECT COUNT(*) FROM tasks WHERE user_id = $2 AND {active}) < $17) \
           AND {active_total} < $18 \
           AND ($19 = {max} OR (SELECT COUNT(*) FROM tasks WHERE day = $13 AND {paid}) < $19) \
           AND ($20 = {max} OR (SELECT COUNT(*) FROM tasks WHERE chat_id = $1 AND day = $13 AND {paid}) < $20) \
         ON CONFLICT (chat_id, command_msg_id) DO NOTHING \
         RETURNING id",
        paid = *PAID_SQL,
        active = active_sql("$21"),
        active_total = active_total_sql("$21"),
        max = i64::MAX,
    )
});

/// Runs `reserve`'s insert on `conn`, and says why when it added nothing.
async fn reserve_in(
    conn: &mut sqlx::AnyConnection,
    insert: AnyQuery<'_>,
    new: &NewTask,
    guards: &Guards<'_>,
    day: i64,
) -> StoreResult<Reservation> {
    // Every row is read, so the statement runs to its end and reports its error.
    let rows = insert.fetch_all(&mut *conn).await?;
    match rows.first() {
        Some(row) => Ok(Reservation::Reserved(row.try_get("id")?)),
        None => why_not_reserved(conn, new, guards, day).await,
    }
}

/// The conditional insert added nothing: say which rule stopped it.
async fn why_not_reserved(
    conn: &mut sqlx::AnyConnection,
    new: &NewTask,
    guards: &Guards<'_>,
    day: i64,
) -> StoreResult<Reservation> {
    let seen = sqlx::query("SELECT id FROM tasks WHERE chat_id = $1 AND command_msg_id = $2")
        .bind(new.chat_id)
        .bind(i64::from(new.command_msg_id))
        .fetch_optional(&mut *conn)
        .await?;
    if seen.is_some() {
        return Ok(Reservation::Duplicate);
    }
    let usage = usage_in(conn, new.user_id, new.chat_id, day, guards.unknown_active_since).await?;
    // Nothing reached now: the last slot went to a request that ended meanwhile.
    let refusal = limit_reached(&usage, guards.limits, guards.exempt, is_group_chat(new.chat_id))
        .unwrap_or(Refusal::TotalActive { limit: guards.limits.max_active_total });
    Ok(Reservation::Refused(refusal))
}

/// The limit this usage has reached, most specific first; `None` if none.
pub fn limit_reached(usage: &Usage, limits: &Limits, exempt: bool, in_group: bool) -> Option<Refusal> {
    if !exempt && usage.used_today >= limits.daily_per_user {
        Some(Refusal::DailyLimit { limit: limits.daily_per_user })
    } else if !exempt && usage.active_user >= limits.max_active_per_user {
        Some(Refusal::UserActive { limit: limits.max_active_per_user })
    } else if let Some(limit) =
        limits.daily_per_chat.filter(|&limit| !exempt && in_group && usage.used_chat_today >= limit)
    {
        Some(Refusal::ChatDaily { limit })
    } else if let Some(limit) = limits.daily_total.filter(|&limit| usage.used_total_today >= limit) {
        Some(Refusal::TotalDaily { limit })
    } else if usage.active_total >= limits.max_active_total {
        Some(Refusal::TotalActive { limit: limits.max_active_total })
    } else {
        None
    }
}

async fn usage_in(
    conn: &mut sqlx::AnyConnection,
    user_id: i64,
    chat_id: i64,
    day: i64,
    unknown_active_since: i64,
) -> StoreResult<Usage> {
    let row = sqlx::query(&format!(
        "SELECT \
           (SELECT COUNT(*) FROM tasks WHERE user_id = $1 AND day = $3 AND {paid}) AS used_today, \
           (SELECT COUNT(*) FROM tasks WHERE user_id = $1 AND {active}) AS active_user, \
           {active_total} AS active_total, \
           (SELECT COUNT(*) FROM tasks WHERE user_id = $1 AND cancelled_at IS NOT NULL AND state IN ({open})) AS cancelled_running, \
           (SELECT COUNT(*) FROM tasks WHERE day = $3 AND {paid}) AS used_total_today, \
           (SELECT COUNT(*) FROM tasks WHERE chat_id = $2 AND day = $3 AND {paid}) AS used_chat_today",
        paid = *PAID_SQL,
        active = active_sql("$4"),
        active_total = active_total_sql("$4"),
        open = open_states_sql(),
    ))
    .bind(user_id)
    .bind(chat_id)
    .bind(day)
    .bind(unknown_active_since)
    .fetch_one(conn)
    .await?;
    let count = |name: &str| row.try_get::<i64, _>(name).map(|n| u32::try_from(n).unwrap_or(u32::MAX));
    Ok(Usage {
        used_today: count("used_today")?,
        active_user: count("active_user")?,
        active_total: count("active_total")?,
        cancelled_running: count("cancelled_running")?,
        used_total_today: count("used_total_today")?,
        used_chat_today: count("used_chat_today")?,
    })
}

#[cfg(test)]
mod tests;
