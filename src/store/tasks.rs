//! Task rows: reserve (with the cost guards), record create outcomes, look up.

use std::sync::LazyLock;

use sqlx::Row as _;

use super::{
    PROGRESS_COLUMNS, Store, StoreResult, TASK_COLUMNS,
    credits::{self, GivenBack, Moved},
    now_ms, open_states_sql, task_from_row, task_with, utc_day,
};
use crate::{
    models::Size,
    task::{NewTask, Task, TaskState},
};

mod guards;

/// What a video costs its requester in credits (`PAYMENTS=stars`; admins pay nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Price {
    pub credits: u32,
    /// `FREE_CREDITS`: given to the requester first if they never had them.
    pub free_credits: u32,
}

pub use guards::{Guards, Refusal, Usage, is_group_chat, limit_reached, unknown_active_since};
use guards::{RESERVE_RETURNING_SQL, RESERVE_SQL, reserve_in, usage_in};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// Stored as `submitting` with this local id: go ahead with the create call.
    Reserved(i64),
    /// This command was already handled (an update delivered twice).
    Duplicate,
    Refused(Refusal),
}

/// Which replica follows a task: as long as that replica's heartbeat is fresh.
#[derive(Debug, Clone, Copy)]
pub struct Lease<'a> {
    pub owner: &'a str,
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
        self.reserve_paid(new, guards, None).await
    }

    /// `reserve`, also taking the video's `price` from the requester's
    /// credits in the same transaction: the row is stored and paid for, or
    /// neither (refused with `Refusal::Credits`, nothing sent anywhere).
    pub async fn reserve_paid(
        &self,
        new: &NewTask,
        guards: &Guards<'_>,
        price: Option<Price>,
    ) -> StoreResult<Reservation> {
        let now = now_ms();
        let day = utc_day(now);
        let limits = guards.limits;
        let unlimited = |limit: Option<u32>| limit.map_or(i64::MAX, i64::from);
        let per_user = |limit: Option<u32>| if guards.exempt { i64::MAX } else { unlimited(limit) };
        let per_chat =
            if guards.exempt || !is_group_chat(new.chat_id) { i64::MAX } else { unlimited(limits.daily_per_chat) };
        let sqlite = !self.shared_writers;
        let sql: &str = if sqlite { &RESERVE_SQL } else { &RESERVE_RETURNING_SQL };
        let insert = bind_request(sqlx::query(sql), new)
            .bind(TaskState::Submitting.as_str())
            .bind(now)
            .bind(day)
            .bind(guards.lease.owner)
            .bind(None::<i64>)
            .bind(per_user(limits.daily_per_user))
            .bind(per_user(limits.max_active_per_user))
            .bind(unlimited(limits.max_active_total))
            .bind(unlimited(limits.daily_total))
            .bind(per_chat)
            .bind(guards.unknown_active_since)
            .bind(i64::from(guards.cost));

        if !self.shared_writers && price.is_none() {
            return reserve_in(&mut self.db.conn().await?, insert, sqlite, new, guards, day).await;
        }
        let mut conn = self.db.conn().await?;
        let mut tx = conn.begin().await?;
        if self.shared_writers {
            sqlx::query("UPDATE quota_guard SET n = n + 1 WHERE id = 1").execute(&mut tx).await?;
        }
        let Some(price) = price else {
            let outcome = reserve_in(&mut tx, insert, sqlite, new, guards, day).await?;
            tx.commit().await?;
            return Ok(outcome);
        };
        credits::give_free_in(&mut tx, new.user_id, price.free_credits).await?;
        let outcome = reserve_in(&mut tx, insert, sqlite, new, guards, day).await?;
        let Reservation::Reserved(id) = outcome else {
            tx.commit().await?;
            return Ok(outcome);
        };
        let outcome = match credits::spend_in(&mut tx, id, new.user_id, price.credits).await? {
            Moved::Done { .. } => outcome,
            Moved::Short { balance } => {
                // Refused after all; the free credits just given stay given.
                sqlx::query("DELETE FROM tasks WHERE id = $1").bind(id).execute(&mut tx).await?;
                Reservation::Refused(Refusal::Credits { balance, price: price.credits })
            }
            Moved::Duplicate => unreachable!("a task reserved just now has paid nothing yet"),
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// The create call answered: from now on the watcher follows it. Returns
    /// the task as stored, `None` if it had already ended. A task marked
    /// `unknown` meanwhile (its create was thought lost) is taken back: the
    /// answer proves it exists upstream. `request` is the one reserved as
    /// task `id`: only what may have changed since is read back.
    pub async fn mark_created(
        &self,
        id: i64,
        request: &NewTask,
        upstream_id: &str,
        upstream_status: &str,
        first_poll_at: i64,
    ) -> StoreResult<Option<Task>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "UPDATE tasks SET upstream_id = $1, upstream_status = $2, state = $3, next_poll_at = $4, updated_at = $5, error = NULL \
                 WHERE id = $6 AND state IN ($7, $8) RETURNING {PROGRESS_COLUMNS}"
            )
        });
        // One statement: its own checked transaction (see `Store::write`).
        let rows = sqlx::query(&SQL)
            .bind(upstream_id)
            .bind(upstream_status)
            .bind(TaskState::Running.as_str())
            .bind(first_poll_at)
            .bind(now_ms())
            .bind(id)
            .bind(TaskState::Submitting.as_str())
            .bind(TaskState::Unknown.as_str())
            .fetch_all(&mut self.db.conn().await?)
            .await?;
        let task = rows.first().map(|row| task_with(id, request.clone(), row)).transpose()?;
        if let Some(task) = &task {
            self.created.lock().unwrap_or_else(|e| e.into_inner()).push((task.id, first_poll_at));
        }
        Ok(task)
    }

    /// Ends a task that is still open. Returns whether this call ended it, so a
    /// final message is sent once even if two paths race. Its media tokens go
    /// with it, except for `unknown`: the video API may still fetch the photos.
    /// A refused, failed or timed-out video gives its credits back in the same
    /// transaction (an unknown outcome keeps them: it may have been made).
    pub async fn end_task(&self, id: i64, state: TaskState, error: Option<&str>) -> StoreResult<bool> {
        let give_back = matches!(state, TaskState::Rejected | TaskState::Failed | TaskState::TimedOut);
        Ok(self.end_task_giving_back(id, state, error, give_back).await?.0)
    }

    /// `end_task`, saying whether the task's credits go back (a video stopped
    /// with /cancel that then failed upstream ends `cancelled`, yet was never
    /// made). Returns whether this call ended it, and what went back.
    pub async fn end_task_giving_back(
        &self,
        id: i64,
        state: TaskState,
        error: Option<&str>,
        give_back: bool,
    ) -> StoreResult<(bool, Option<GivenBack>)> {
        debug_assert!(!state.is_open());
        let mut conn = self.db.conn().await?;
        let mut tx = conn.begin().await?;
        let ended = sqlx::query(&format!(
            "UPDATE tasks SET state = $1, error = $2, updated_at = $3, lease_owner = NULL WHERE id = $4 AND state IN ({}) \
             RETURNING credits",
            open_states_sql()
        ))
        .bind(state.as_str())
        .bind(error)
        .bind(now_ms())
        .bind(id)
        .fetch_optional(&mut tx)
        .await?;
        let Some(ended) = ended else { return Ok((false, None)) };
        if state != TaskState::Unknown {
            sqlx::query("DELETE FROM media WHERE task_id = $1").bind(id).execute(&mut tx).await?;
        }
        let paid = ended.try_get::<i64, _>("credits")? > 0;
        let given = if give_back && paid { credits::give_back_in(&mut tx, id).await? } else { None };
        tx.commit().await?;
        Ok((true, given))
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
            .fetch_optional(&mut self.db.conn().await?)
            .await?;
        row.as_ref().map(task_from_row).transpose()
    }

    /// The task with this upstream id (users may paste it into `/status`).
    pub async fn task_by_upstream_id(&self, upstream_id: &str) -> StoreResult<Option<Task>> {
        let row = sqlx::query(&format!("SELECT {TASK_COLUMNS} FROM tasks WHERE upstream_id = $1"))
            .bind(upstream_id)
            .fetch_optional(&mut self.db.conn().await?)
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
                .fetch_all(&mut self.db.conn().await?)
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
        .bind(new.options.shape.stored())
        .bind(new.options.size.map_or("", Size::as_str))
        // A model without durations stores 0 (the column predates such models).
        .bind(i64::from(new.options.duration.unwrap_or(0)))
        .bind(serde_json::to_string(&new.image_file_ids).expect("strings serialise"))
}

pub(super) type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

#[cfg(test)]
mod tests;
