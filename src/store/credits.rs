//! Credits (`PAYMENTS=stars`): balances, the ledger of movements, invoices.
//!
//! Every movement goes through `move_credits` inside a transaction: it takes
//! the `credit_sequence` row lock first, so on PostgreSQL the replicas' ledger
//! writes run one at a time and a duplicate check (a charge delivered twice, a
//! video given back twice) sees the other's commit. The unique keys of
//! `credit_movements` back that up: a second credit of one charge fails
//! rather than counting twice.

use sqlx::Row;

use super::database::Conn;

use super::{Store, StoreError, StoreResult, now_ms};
use crate::config::CreditPack;

/// Why credits moved. Stored as its snake_case name (`given_back`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum CreditReason {
    /// Paid with Stars (`successful_payment`).
    Bought,
    /// Taken by a video when it was reserved.
    Spent,
    /// A refused, failed or timed-out video's credits, returned.
    GivenBack,
    /// By an admin (`/grant`, may be negative), or `FREE_CREDITS`.
    Granted,
    /// A charge's Stars returned (`/refund`) and its credits removed.
    Refunded,
}

impl CreditReason {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// One row of the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Movement {
    pub id: i64,
    pub user_id: i64,
    pub delta: i64,
    pub reason: CreditReason,
    pub balance_after: i64,
    pub task_id: Option<i64>,
    pub charge_id: Option<String>,
    pub stars: Option<i64>,
    pub by_user: Option<i64>,
    pub created_at: i64,
}

/// What a movement refers to, besides its user, amount and reason.
#[derive(Debug, Clone, Copy, Default)]
struct Refs<'a> {
    task_id: Option<i64>,
    charge_id: Option<&'a str>,
    stars: Option<i64>,
    by_user: Option<i64>,
}

/// An invoice sent by `/buy`, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    pub nonce: String,
    pub user_id: i64,
    pub chat_id: i64,
    pub pack: CreditPack,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purchase {
    /// Credited now; the new balance.
    Credited { balance: i64 },
    /// This charge was credited before (a redelivered update, another replica).
    AlreadyCredited,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Granted {
    /// What moved: a negative grant takes at most what the user has.
    pub delta: i64,
    pub balance: i64,
}

/// The first step of `/refund`: the charge's credits taken back (or why not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeTakeBack {
    Taken {
        user_id: i64,
        credits: i64,
        stars: i64,
        balance: i64,
    },
    NotFound,
    AlreadyRefunded {
        user_id: i64,
    },
    /// Some of the charge's credits are spent: nothing taken.
    Spent {
        user_id: i64,
        credits: i64,
        balance: i64,
    },
}

/// Credits a video gave back to its requester.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GivenBack {
    pub user_id: i64,
    pub credits: i64,
    pub balance: i64,
}

impl Store {
    /// The user's credits now (0 for someone who never had any).
    pub async fn balance(&self, user_id: i64) -> StoreResult<i64> {
        balance_in(&mut self.db.conn().await?, user_id).await
    }

    /// The user's last `limit` movements, newest first.
    pub async fn movements(&self, user_id: i64, limit: i64) -> StoreResult<Vec<Movement>> {
        let rows = sqlx::query(&format!(
            "SELECT {MOVEMENT_COLUMNS} FROM credit_movements WHERE user_id = $1 ORDER BY id DESC LIMIT $2"
        ))
        .bind(user_id)
        .bind(limit)
        .fetch_all(&mut self.db.conn().await?)
        .await?;
        rows.iter().map(movement_from_row).collect()
    }

    /// Every movement, oldest first (reports and tests).
    pub async fn all_movements(&self) -> StoreResult<Vec<Movement>> {
        let rows = sqlx::query(&format!("SELECT {MOVEMENT_COLUMNS} FROM credit_movements ORDER BY id"))
            .fetch_all(&mut self.db.conn().await?)
            .await?;
        rows.iter().map(movement_from_row).collect()
    }

    /// Stores an invoice for `user_id`, pressed in `chat_id`, under a fresh
    /// unguessable nonce.
    pub async fn create_invoice(&self, user_id: i64, chat_id: i64, pack: CreditPack) -> StoreResult<Invoice> {
        let nonce = format!("{:032x}", rand::random::<u128>());
        let query = sqlx::query(
            "INSERT INTO invoices (nonce, user_id, chat_id, credits, stars, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&nonce)
        .bind(user_id)
        .bind(chat_id)
        .bind(i64::from(pack.credits))
        .bind(i64::from(pack.stars))
        .bind(now_ms());
        self.write(query).await?;
        Ok(Invoice { nonce, user_id, chat_id, pack })
    }

    pub async fn invoice(&self, nonce: &str) -> StoreResult<Option<Invoice>> {
        let row = sqlx::query("SELECT nonce, user_id, chat_id, credits, stars FROM invoices WHERE nonce = $1")
            .bind(nonce)
            .fetch_optional(&mut self.db.conn().await?)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let figure = |name: &str| -> StoreResult<u32> {
            u32::try_from(row.try_get::<i64, _>(name)?).map_err(|_| StoreError::Corrupt(format!("invoice {name}")))
        };
        Ok(Some(Invoice {
            nonce: row.try_get("nonce")?,
            user_id: row.try_get("user_id")?,
            chat_id: row.try_get("chat_id")?,
            pack: CreditPack { credits: figure("credits")?, stars: figure("stars")? },
        }))
    }

    /// Credits a paid charge to `user_id`, once per `charge_id`: the check and
    /// the credit are one transaction behind the ledger's lock, and the unique
    /// key (charge, reason) refuses a second row even so.
    pub async fn credit_purchase(
        &self,
        charge_id: &str,
        user_id: i64,
        credits: u32,
        stars: u32,
    ) -> StoreResult<Purchase> {
        let mut conn = self.db.conn().await?;
        let mut tx = conn.begin().await?;
        let refs = Refs { charge_id: Some(charge_id), stars: Some(i64::from(stars)), ..Refs::default() };
        let moved = move_credits(&mut tx, user_id, i64::from(credits), CreditReason::Bought, refs).await?;
        let outcome = match moved {
            Moved::Done { balance } => Purchase::Credited { balance },
            Moved::Duplicate => Purchase::AlreadyCredited,
            Moved::Short { .. } => unreachable!("adding credits never goes below zero"),
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// `/grant`: adds `delta` credits (negative: takes them, at most down to 0).
    pub async fn grant(&self, admin: i64, user_id: i64, delta: i64) -> StoreResult<Granted> {
        let mut conn = self.db.conn().await?;
        let mut tx = conn.begin().await?;
        lock_ledger(&mut tx).await?;
        let balance = balance_in(&mut tx, user_id).await?;
        let delta = delta.max(-balance);
        if delta == 0 {
            return Ok(Granted { delta, balance });
        }
        let refs = Refs { by_user: Some(admin), ..Refs::default() };
        let balance = match move_credits(&mut tx, user_id, delta, CreditReason::Granted, refs).await? {
            Moved::Done { balance } => balance,
            Moved::Duplicate | Moved::Short { .. } => unreachable!("the balance was read under the ledger's lock"),
        };
        tx.commit().await?;
        Ok(Granted { delta, balance })
    }

    /// `/refund`, first step: takes the charge's credits back if the buyer
    /// still has them all, recording `refunded`. The Stars are returned after
    /// this commits; if Telegram refuses, `undo_take_back` puts them back.
    pub async fn take_back_charge(&self, charge_id: &str, admin: i64) -> StoreResult<ChargeTakeBack> {
        let mut conn = self.db.conn().await?;
        let mut tx = conn.begin().await?;
        lock_ledger(&mut tx).await?;
        let bought =
            sqlx::query("SELECT user_id, delta, stars FROM credit_movements WHERE charge_id = $1 AND reason = $2")
                .bind(charge_id)
                .bind(CreditReason::Bought.as_str())
                .fetch_optional(&mut tx)
                .await?;
        let Some(bought) = bought else { return Ok(ChargeTakeBack::NotFound) };
        let user_id: i64 = bought.try_get("user_id")?;
        let credits: i64 = bought.try_get("delta")?;
        let stars: i64 = bought.try_get::<Option<i64>, _>("stars")?.unwrap_or_default();
        let refs = Refs { charge_id: Some(charge_id), stars: Some(stars), by_user: Some(admin), ..Refs::default() };
        let outcome = match move_credits(&mut tx, user_id, -credits, CreditReason::Refunded, refs).await? {
            Moved::Done { balance } => ChargeTakeBack::Taken { user_id, credits, stars, balance },
            Moved::Duplicate => ChargeTakeBack::AlreadyRefunded { user_id },
            Moved::Short { balance } => ChargeTakeBack::Spent { user_id, credits, balance },
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// Telegram refused to return the Stars: the `refunded` row never took
    /// effect, so it goes and the credits come back (the charge can be refunded
    /// again later).
    pub async fn undo_take_back(&self, charge_id: &str) -> StoreResult<()> {
        let mut conn = self.db.conn().await?;
        let mut tx = conn.begin().await?;
        lock_ledger(&mut tx).await?;
        let removed =
            sqlx::query("DELETE FROM credit_movements WHERE charge_id = $1 AND reason = $2 RETURNING user_id, delta")
                .bind(charge_id)
                .bind(CreditReason::Refunded.as_str())
                .fetch_optional(&mut tx)
                .await?;
        if let Some(row) = removed {
            let (user_id, delta): (i64, i64) = (row.try_get("user_id")?, row.try_get("delta")?);
            sqlx::query("UPDATE credit_balances SET balance = balance - $1, updated_at = $2 WHERE user_id = $3")
                .bind(delta)
                .bind(now_ms())
                .bind(user_id)
                .execute(&mut tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Gives a video's credits back to its requester, at most once per task
    /// (later calls give nothing). `end_task` does this itself for refused,
    /// failed and timed-out videos; this is for paths that end a task in
    /// other ways, such as an admin releasing a create whose outcome stayed
    /// unknown.
    pub async fn give_back_credits(&self, task_id: i64) -> StoreResult<Option<GivenBack>> {
        let mut conn = self.db.conn().await?;
        let mut tx = conn.begin().await?;
        let given = give_back_in(&mut tx, task_id).await?;
        tx.commit().await?;
        Ok(given)
    }
}

const MOVEMENT_COLUMNS: &str =
    "id, user_id, delta, reason, balance_after, task_id, charge_id, stars, by_user, created_at";

fn movement_from_row(row: &sqlx::any::AnyRow) -> StoreResult<Movement> {
    let reason: String = row.try_get("reason")?;
    Ok(Movement {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        delta: row.try_get("delta")?,
        reason: reason.parse().map_err(|_| StoreError::Corrupt(format!("credit movement reason {reason:?}")))?,
        balance_after: row.try_get("balance_after")?,
        task_id: row.try_get("task_id")?,
        charge_id: row.try_get("charge_id")?,
        stars: row.try_get("stars")?,
        by_user: row.try_get("by_user")?,
        created_at: row.try_get("created_at")?,
    })
}

pub(super) async fn balance_in(conn: &mut Conn<'_>, user_id: i64) -> StoreResult<i64> {
    let row = sqlx::query("SELECT balance FROM credit_balances WHERE user_id = $1")
        .bind(user_id)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|row| row.try_get("balance")).transpose()?.unwrap_or(0))
}

/// Takes the ledger's lock (held to the end of the transaction) and the next
/// movement id.
async fn lock_ledger(conn: &mut Conn<'_>) -> StoreResult<i64> {
    let row =
        sqlx::query("UPDATE credit_sequence SET last = last + 1 WHERE id = 1 RETURNING last").fetch_one(conn).await?;
    Ok(row.try_get("last")?)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Moved {
    Done {
        balance: i64,
    },
    /// Recorded before: this charge or task already has a row with this reason.
    Duplicate,
    /// The balance cannot pay: nothing moved.
    Short {
        balance: i64,
    },
}

/// One movement, inside the caller's transaction: the balance changes (never
/// below zero) and the ledger row is written, or neither.
async fn move_credits(
    conn: &mut Conn<'_>,
    user_id: i64,
    delta: i64,
    reason: CreditReason,
    refs: Refs<'_>,
) -> StoreResult<Moved> {
    let id = lock_ledger(conn).await?;
    let duplicate = match (refs.charge_id, refs.task_id) {
        (Some(charge_id), _) => {
            sqlx::query("SELECT id FROM credit_movements WHERE charge_id = $1 AND reason = $2")
                .bind(charge_id)
                .bind(reason.as_str())
                .fetch_optional(&mut *conn)
                .await?
        }
        (None, Some(task_id)) => {
            sqlx::query("SELECT id FROM credit_movements WHERE task_id = $1 AND reason = $2")
                .bind(task_id)
                .bind(reason.as_str())
                .fetch_optional(&mut *conn)
                .await?
        }
        (None, None) => None,
    };
    if duplicate.is_some() {
        return Ok(Moved::Duplicate);
    }
    let now = now_ms();
    sqlx::query(
        "INSERT INTO credit_balances (user_id, balance, free_given, updated_at) VALUES ($1, 0, 0, $2) \
         ON CONFLICT (user_id) DO NOTHING",
    )
    .bind(user_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let updated = sqlx::query(
        "UPDATE credit_balances SET balance = balance + $1, updated_at = $2 \
         WHERE user_id = $3 AND balance + $1 >= 0 RETURNING balance",
    )
    .bind(delta)
    .bind(now)
    .bind(user_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(updated) = updated else {
        return Ok(Moved::Short { balance: balance_in(conn, user_id).await? });
    };
    let balance: i64 = updated.try_get("balance")?;
    sqlx::query(
        "INSERT INTO credit_movements \
         (id, user_id, delta, reason, balance_after, task_id, charge_id, stars, by_user, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(id)
    .bind(user_id)
    .bind(delta)
    .bind(reason.as_str())
    .bind(balance)
    .bind(refs.task_id)
    .bind(refs.charge_id)
    .bind(refs.stars)
    .bind(refs.by_user)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(Moved::Done { balance })
}

/// `FREE_CREDITS`, once per user: the first reservation that finds them not
/// yet given gives them (inside the reservation's transaction).
pub(super) async fn give_free_in(conn: &mut Conn<'_>, user_id: i64, free: u32) -> StoreResult<()> {
    if free == 0 {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO credit_balances (user_id, balance, free_given, updated_at) VALUES ($1, 0, 0, $2) \
         ON CONFLICT (user_id) DO NOTHING",
    )
    .bind(user_id)
    .bind(now_ms())
    .execute(&mut *conn)
    .await?;
    let first = sqlx::query("UPDATE credit_balances SET free_given = 1 WHERE user_id = $1 AND free_given = 0")
        .bind(user_id)
        .execute(&mut *conn)
        .await?
        .rows_affected()
        == 1;
    if first {
        move_credits(conn, user_id, i64::from(free), CreditReason::Granted, Refs::default()).await?;
    }
    Ok(())
}

/// Takes a reserved video's price from its requester, inside the
/// reservation's transaction. `false`: the balance cannot pay it.
pub(super) async fn spend_in(conn: &mut Conn<'_>, task_id: i64, user_id: i64, credits: u32) -> StoreResult<Moved> {
    let refs = Refs { task_id: Some(task_id), ..Refs::default() };
    let moved = move_credits(conn, user_id, -i64::from(credits), CreditReason::Spent, refs).await?;
    if let Moved::Done { .. } = moved {
        sqlx::query("UPDATE tasks SET credits = $1 WHERE id = $2")
            .bind(i64::from(credits))
            .bind(task_id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(moved)
}

/// Gives a task's credits back, inside the caller's transaction; nothing if
/// it took none or they were given back before.
pub(super) async fn give_back_in(conn: &mut Conn<'_>, task_id: i64) -> StoreResult<Option<GivenBack>> {
    let row = sqlx::query("SELECT user_id, credits FROM tasks WHERE id = $1")
        .bind(task_id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let (user_id, credits): (i64, i64) = (row.try_get("user_id")?, row.try_get("credits")?);
    if credits <= 0 {
        return Ok(None);
    }
    let refs = Refs { task_id: Some(task_id), ..Refs::default() };
    Ok(match move_credits(conn, user_id, credits, CreditReason::GivenBack, refs).await? {
        Moved::Done { balance } => Some(GivenBack { user_id, credits, balance }),
        Moved::Duplicate | Moved::Short { .. } => None,
    })
}

#[cfg(test)]
mod tests;
