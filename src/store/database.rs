//! The connections under `Store`: a pool for PostgreSQL, one held connection
//! for SQLite, and `Conn`, the one way the store runs SQL on either.
//!
//! sqlx's pool pings every connection it is given back, and spawns a task to
//! do it; SQLite has one writer anyway. So SQLite's one connection is held
//! behind a lock instead, and statements queue for it in order. It runs on
//! the runtime's thread (see `sqlite`), PostgreSQL's through sqlx.

use std::{fmt, sync::Arc, time::Duration};

use futures_util::{FutureExt as _, StreamExt as _, future::BoxFuture, stream::BoxStream};
use sqlx::{
    Acquire as _, AnyConnection, AnyPool, ConnectOptions, Connection, Either, Execute, Executor, Transaction,
    any::{Any, AnyConnectOptions, AnyPoolOptions, AnyQueryResult, AnyRow, AnyStatement, AnyTypeInfo},
    pool::PoolConnection,
};
use tokio::sync::{Mutex, MutexGuard};

use super::{
    StoreResult,
    sqlite::{self, Outcome, SqliteConn},
};

#[derive(Clone)]
pub(super) enum Database {
    Pool(AnyPool),
    /// `None` once closed.
    Held(Arc<Mutex<Option<SqliteConn>>>),
}

/// A connection for one statement or transaction; given back when dropped.
/// `&mut Conn` is an sqlx `Executor`: queries run on it as on a connection.
pub(super) enum Conn<'a> {
    Pooled(PoolConnection<Any>),
    /// Always `Some` (checked when handed out).
    Held(MutexGuard<'a, Option<SqliteConn>>),
    /// A transaction on PostgreSQL; rolled back when dropped uncommitted.
    PooledTx(Transaction<'a, Any>),
    /// A transaction on SQLite; rolled back when dropped uncommitted.
    HeldTx(SqliteTx<'a>),
}

impl Database {
    pub(super) async fn postgres(options: AnyConnectOptions) -> StoreResult<Database> {
        // One plain connection first: the pool retries a failed connect until
        // its time-out and then reports only "pool timed out", hiding the cause
        // (refused, unknown host, authentication, no such database).
        options.connect().await?.close().await?;
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        Ok(Database::Pool(pool))
    }

    /// SQLite in WAL mode. Only the `checkpointer` connection checkpoints.
    pub(super) async fn sqlite(
        options: &AnyConnectOptions,
        checkpointer: bool,
        max_page_count: Option<u64>,
    ) -> StoreResult<AnyConnection> {
        let mut conn = options.connect().await?;
        sqlx::raw_sql(&sqlite::settings(checkpointer, max_page_count)).execute(&mut conn).await?;
        Ok(conn)
    }

    pub(super) fn held(conn: SqliteConn) -> Database {
        Database::Held(Arc::new(Mutex::new(Some(conn))))
    }

    pub(super) async fn conn(&self) -> StoreResult<Conn<'_>> {
        match self {
            Database::Pool(pool) => Ok(Conn::Pooled(pool.acquire().await?)),
            Database::Held(conn) => {
                let conn = conn.lock().await;
                if conn.is_none() {
                    return Err(sqlx::Error::PoolClosed.into());
                }
                Ok(Conn::Held(conn))
            }
        }
    }

    pub(super) async fn close(&self) {
        match self {
            Database::Pool(pool) => pool.close().await,
            Database::Held(conn) => {
                if let Some(conn) = conn.lock().await.take()
                    && let Err(error) = conn.close()
                {
                    tracing::warn!(%error, "closing the database");
                }
            }
        }
    }

    /// Without waiting: a connection in use is not closed.
    pub(super) fn is_closed(&self) -> bool {
        match self {
            Database::Pool(pool) => pool.is_closed(),
            Database::Held(conn) => conn.try_lock().is_ok_and(|conn| conn.is_none()),
        }
    }
}

impl Conn<'_> {
    /// Starts a transaction (a savepoint inside one on PostgreSQL).
    pub(super) async fn begin(&mut self) -> sqlx::Result<Conn<'_>> {
        Ok(match self {
            Conn::Pooled(conn) => Conn::PooledTx(conn.begin().await?),
            Conn::PooledTx(tx) => Conn::PooledTx(tx.begin().await?),
            Conn::Held(conn) => {
                let conn = conn.as_mut().expect("checked when handed out");
                conn.run("BEGIN", true, None, None)?;
                Conn::HeldTx(SqliteTx { conn, finished: false })
            }
            Conn::HeldTx(_) => return Err(sqlx::Error::Protocol("SQLite transactions do not nest here".into())),
        })
    }

    pub(super) async fn commit(self) -> sqlx::Result<()> {
        match self {
            Conn::PooledTx(tx) => tx.commit().await,
            Conn::HeldTx(mut tx) => {
                // A COMMIT that fails may leave the transaction open: then it
                // is rolled back when `tx` drops, as sqlx does.
                tx.conn.run("COMMIT", true, None, None)?;
                tx.finished = true;
                Ok(())
            }
            Conn::Pooled(_) | Conn::Held(_) => Err(sqlx::Error::Protocol("COMMIT outside a transaction".into())),
        }
    }

    fn sqlite(&mut self) -> Option<&mut SqliteConn> {
        match self {
            Conn::Held(conn) => Some(conn.as_mut().expect("checked when handed out")),
            Conn::HeldTx(tx) => Some(tx.conn),
            Conn::Pooled(_) | Conn::PooledTx(_) => None,
        }
    }

    fn postgres(&mut self) -> &mut AnyConnection {
        match self {
            Conn::Pooled(conn) => conn,
            Conn::PooledTx(tx) => tx,
            Conn::Held(_) | Conn::HeldTx(_) => unreachable!("asked only after `sqlite` said no"),
        }
    }
}

/// An open SQLite transaction; rolled back when dropped uncommitted (a failed
/// statement, or the caller's future dropped half-way).
pub(super) struct SqliteTx<'a> {
    conn: &'a mut SqliteConn,
    finished: bool,
}

impl Drop for SqliteTx<'_> {
    fn drop(&mut self) {
        // A failed commit may have ended it already (SQLite rolls back on some errors).
        if !self.finished
            && self.conn.in_transaction()
            && let Err(error) = self.conn.run("ROLLBACK", true, None, None)
        {
            tracing::warn!(%error, "rolling back a transaction");
        }
    }
}

impl fmt::Debug for Conn<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Conn::Pooled(_) => "Conn::Pooled",
            Conn::Held(_) => "Conn::Held",
            Conn::PooledTx(_) => "Conn::PooledTx",
            Conn::HeldTx(_) => "Conn::HeldTx",
        })
    }
}

/// Runs an sqlx query on SQLite's connection, reading at most `limit` rows.
fn run_on<'q>(conn: &mut SqliteConn, mut query: impl Execute<'q, Any>, limit: Option<usize>) -> sqlx::Result<Outcome> {
    let arguments = query.take_arguments().map_err(sqlx::Error::Encode)?;
    conn.run(query.sql(), query.persistent(), arguments, limit)
}

/// SQLite's statements run when called, not when first polled: they never
/// wait, and the caller awaits at once anyway.
impl<'c> Executor<'c> for &'c mut Conn<'_> {
    type Database = Any;

    fn fetch_many<'e, 'q: 'e, E>(self, query: E) -> BoxStream<'e, sqlx::Result<Either<AnyQueryResult, AnyRow>>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Any>,
    {
        let Some(conn) = self.sqlite() else { return self.postgres().fetch_many(query) };
        let steps: Vec<_> = match run_on(conn, query, None) {
            Ok(outcome) => outcome
                .rows
                .into_iter()
                .map(|row| Ok(Either::Right(row)))
                .chain([Ok(Either::Left(outcome.result))])
                .collect(),
            Err(error) => vec![Err(error)],
        };
        futures_util::stream::iter(steps).boxed()
    }

    fn fetch_optional<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, sqlx::Result<Option<AnyRow>>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Any>,
    {
        let Some(conn) = self.sqlite() else { return self.postgres().fetch_optional(query) };
        let first = run_on(conn, query, Some(1)).map(|outcome| outcome.rows.into_iter().next());
        std::future::ready(first).boxed()
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [AnyTypeInfo],
    ) -> BoxFuture<'e, sqlx::Result<AnyStatement<'q>>>
    where
        'c: 'e,
    {
        match self.sqlite() {
            None => self.postgres().prepare_with(sql, parameters),
            Some(_) => {
                std::future::ready(Err(sqlx::Error::Protocol("prepared statements: PostgreSQL only".into()))).boxed()
            }
        }
    }

    fn describe<'e, 'q: 'e>(self, sql: &'q str) -> BoxFuture<'e, sqlx::Result<sqlx::Describe<Any>>>
    where
        'c: 'e,
    {
        match self.sqlite() {
            None => self.postgres().describe(sql),
            Some(_) => std::future::ready(Err(sqlx::Error::Protocol("describe: PostgreSQL only".into()))).boxed(),
        }
    }
}
