//! The cost guards of a reservation: the limits, the SQL that counts against
//! them inside `reserve`'s insert, and what a refused one is told.

use std::{sync::LazyLock, time::Duration};

use sqlx::Row;

use super::{AnyQuery, Lease, Reservation};
use crate::{
    config::Limits,
    store::{StoreResult, database::Conn, now_ms, open_states, open_states_sql},
    task::{NewTask, TaskState},
};

/// Why a request was refused. The daily limits also say how many units
/// were `left`: more than 0 when the model costs more than that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    DailyLimit {
        limit: u32,
        left: u32,
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
        left: u32,
    },
    /// `DAILY_LIMIT_PER_CHAT`: this group chat's videos today.
    ChatDaily {
        limit: u32,
        left: u32,
    },
    /// `PAYMENTS=stars`: the requester's credits cannot pay this video.
    Credits {
        balance: i64,
        price: u32,
    },
}

/// The cost guards one reservation must pass.
#[derive(Debug, Clone, Copy)]
pub struct Guards<'a> {
    pub limits: &'a Limits,
    /// Admins skip the per-user and per-chat limits, never the totals.
    pub exempt: bool,
    /// A create whose outcome is unknown may be running upstream for a while:
    /// it keeps an active slot while created after this (unix ms).
    pub unknown_active_since: i64,
    /// The new row is leased to this process, which follows it.
    pub lease: Lease<'a>,
    /// What this video counts against the daily limits: its model's cost.
    pub cost: u32,
}

impl<'a> Guards<'a> {
    /// The guards of a request made now. `unknown_hold` is how long a create
    /// whose outcome is unknown keeps its slot (`Config::unknown_hold`).
    pub fn now(limits: &'a Limits, exempt: bool, unknown_hold: Duration, lease: Lease<'a>, cost: u32) -> Self {
        Guards { limits, exempt, unknown_active_since: unknown_active_since(unknown_hold), lease, cost }
    }
}

/// Creates with an unknown outcome made after this (unix ms) still hold their
/// requester's slot, for `unknown_hold` (`Config::unknown_hold`); older ones
/// no longer do.
pub fn unknown_active_since(unknown_hold: Duration) -> i64 {
    now_ms() - unknown_hold.as_millis() as i64
}

/// Daily figures are units (each video counts its model's cost); active
/// figures are videos.
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

/// A task that holds an active slot: open, or its create's outcome is unknown
/// and it may still be running upstream (created after the `cutoff` placeholder).
///
/// Written as `state = … OR …` rather than `state IN (…)`: SQLite tests a
/// constant list of three or more against a throw-away b-tree it builds for
/// every run of the statement, while ORs are plain comparisons.
fn active_sql(cutoff: &str) -> String {
    let open: Vec<String> = open_states().map(|state| format!("state = '{state}'")).collect();
    format!(
        "({open} OR (state = '{unknown}' AND created_at > {cutoff}))",
        open = open.join(" OR "),
        unknown = TaskState::Unknown.as_str()
    )
}

/// How many tasks hold an active slot, everyone together: the open ones as
/// the `open_count` row has them (kept by triggers on every change of a
/// task's state; counting them here cost a step per open task on every
/// /video), and the unknown ones still inside the cut-off.
fn active_total_sql(cutoff: &str) -> String {
    format!(
        "((SELECT n FROM open_count WHERE id = 1) + (SELECT COUNT(*) FROM tasks WHERE state = '{unknown}' AND created_at > {cutoff}))",
        unknown = TaskState::Unknown.as_str()
    )
}

/// Counts for the daily quotas: everything but creates that were refused.
static PAID_SQL: LazyLock<String> = LazyLock::new(|| format!("state <> '{}'", TaskState::Rejected.as_str()));

/// The units a set of rows has used today: each video counts its model's cost.
/// (PostgreSQL sums BIGINT to NUMERIC: cast back, so both backends read an integer.)
const UNITS: &str = "CAST(COALESCE(SUM(cost), 0) AS BIGINT)";

/// The conditional insert of `reserve`: $16-$20 are the limits, $21 the
/// unknown cut-off, $22 the new video's cost, which must fit in what is left
/// of each daily limit. A count whose limit is `i64::MAX` (no limit) is
/// skipped: SQLite stops at the first true operand of an OR, and the day's
/// totals read every row of the day.
///
/// SQLite learns the new id as the insert's row id (`id` is the row id);
/// a RETURNING clause would cost it a temporary table per insert.
pub(super) static RESERVE_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO tasks (id, chat_id, user_id, command_msg_id, lang, prompt, model, orientation, size, duration, \
         image_file_ids, state, created_at, updated_at, day, next_poll_at, lease_owner, lease_until, cost) \
         SELECT COALESCE((SELECT MAX(id) FROM tasks), 0) + 1, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13, $12, $14, $15, $22 \
         WHERE ($16 = {max} OR (SELECT {units} FROM tasks WHERE user_id = $2 AND day = $13 AND {paid}) + $22 <= $16) \
           AND ($17 = {max} OR (SELECT COUNT(*) FROM tasks WHERE user_id = $2 AND {active}) < $17) \
           AND ($18 = {max} OR {active_total} < $18) \
           AND ($19 = {max} OR (SELECT {units} FROM tasks WHERE day = $13 AND {paid}) + $22 <= $19) \
           AND ($20 = {max} OR (SELECT {units} FROM tasks WHERE chat_id = $1 AND day = $13 AND {paid}) + $22 <= $20) \
         ON CONFLICT (chat_id, command_msg_id) DO NOTHING",
        paid = *PAID_SQL,
        active = active_sql("$21"),
        active_total = active_total_sql("$21"),
        max = i64::MAX,
        units = UNITS,
    )
});

/// `reserve`'s insert on PostgreSQL, which says the new id.
pub(super) static RESERVE_RETURNING_SQL: LazyLock<String> = LazyLock::new(|| format!("{} RETURNING id", *RESERVE_SQL));

/// Runs `reserve`'s insert on `conn` (`RESERVE_SQL` on SQLite,
/// `RESERVE_RETURNING_SQL` on PostgreSQL), and says why when it added nothing.
pub(super) async fn reserve_in(
    conn: &mut Conn<'_>,
    insert: AnyQuery<'_>,
    sqlite: bool,
    new: &NewTask,
    guards: &Guards<'_>,
    day: i64,
) -> StoreResult<Reservation> {
    let id = if sqlite {
        let done = insert.execute(&mut *conn).await?;
        // Skipped as a duplicate, the insert leaves the last row id as it was.
        done.last_insert_id().filter(|_| done.rows_affected() == 1)
    } else {
        // Every row is read, so the statement runs to its end and reports its error.
        let rows = insert.fetch_all(&mut *conn).await?;
        rows.first().map(|row| row.try_get("id")).transpose()?
    };
    match id {
        Some(id) => Ok(Reservation::Reserved(id)),
        None => why_not_reserved(conn, new, guards, day).await,
    }
}

/// The conditional insert added nothing: say which rule stopped it.
async fn why_not_reserved(
    conn: &mut Conn<'_>,
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
    let refusal = limit_reached(&usage, guards.limits, guards.exempt, is_group_chat(new.chat_id), guards.cost)
        .unwrap_or(Refusal::TotalActive { limit: guards.limits.max_active_total.unwrap_or(0) });
    Ok(Reservation::Refused(refusal))
}

/// The limit a video costing `cost` units would pass, most specific first; `None` if none.
pub fn limit_reached(usage: &Usage, limits: &Limits, exempt: bool, in_group: bool, cost: u32) -> Option<Refusal> {
    let exceeds = |limit: Option<u32>, used: u32| limit.filter(|&limit| used.saturating_add(cost) > limit);
    let reached = |limit: Option<u32>, used: u32| limit.filter(|&limit| used >= limit);
    let left = |used: u32, limit: u32| limit.saturating_sub(used);
    if let Some(limit) = exceeds(limits.daily_per_user, usage.used_today).filter(|_| !exempt) {
        Some(Refusal::DailyLimit { limit, left: left(usage.used_today, limit) })
    } else if let Some(limit) = reached(limits.max_active_per_user, usage.active_user).filter(|_| !exempt) {
        Some(Refusal::UserActive { limit })
    } else if let Some(limit) = exceeds(limits.daily_per_chat, usage.used_chat_today).filter(|_| !exempt && in_group) {
        Some(Refusal::ChatDaily { limit, left: left(usage.used_chat_today, limit) })
    } else if let Some(limit) = exceeds(limits.daily_total, usage.used_total_today) {
        Some(Refusal::TotalDaily { limit, left: left(usage.used_total_today, limit) })
    } else {
        reached(limits.max_active_total, usage.active_total).map(|limit| Refusal::TotalActive { limit })
    }
}

pub(super) async fn usage_in(
    conn: &mut Conn<'_>,
    user_id: i64,
    chat_id: i64,
    day: i64,
    unknown_active_since: i64,
) -> StoreResult<Usage> {
    let row = sqlx::query(&format!(
        "SELECT \
           (SELECT {units} FROM tasks WHERE user_id = $1 AND day = $3 AND {paid}) AS used_today, \
           (SELECT COUNT(*) FROM tasks WHERE user_id = $1 AND {active}) AS active_user, \
           {active_total} AS active_total, \
           (SELECT COUNT(*) FROM tasks WHERE user_id = $1 AND cancelled_at IS NOT NULL AND state IN ({open})) AS cancelled_running, \
           (SELECT {units} FROM tasks WHERE day = $3 AND {paid}) AS used_total_today, \
           (SELECT {units} FROM tasks WHERE chat_id = $2 AND day = $3 AND {paid}) AS used_chat_today",
        units = UNITS,
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
