//! The connections under `Store`: a pool for PostgreSQL, one held connection
//! for SQLite.
//!
//! sqlx's pool pings every connection it is given back, and spawns a task to
//! do it. For SQLite that is a round trip to SQLite's own thread after every
//! statement, for a local file that cannot drop the connection; and SQLite has
//! one writer anyway. So its one connection is held behind a lock instead, and
//! statements queue for it in order.

use std::{
    ops::{Deref, DerefMut},
    sync::Arc,
    time::Duration,
};

use sqlx::{
    AnyConnection, AnyPool, ConnectOptions, Connection,
    any::{Any, AnyConnectOptions, AnyPoolOptions},
    pool::PoolConnection,
};
use tokio::sync::{Mutex, MutexGuard};

use super::StoreResult;

#[derive(Clone)]
pub(super) enum Database {
    Pool(AnyPool),
    /// `None` once closed.
    Held(Arc<Mutex<Option<AnyConnection>>>),
}

/// A connection for one statement or transaction; given back when dropped.
pub(super) enum Conn<'a> {
    Pooled(PoolConnection<Any>),
    /// Always `Some` (checked when handed out).
    Held(MutexGuard<'a, Option<AnyConnection>>),
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
        sqlx::query("PRAGMA journal_mode = WAL").execute(&mut conn).await?;
        sqlx::query("PRAGMA synchronous = NORMAL").execute(&mut conn).await?;
        sqlx::query("PRAGMA busy_timeout = 5000").execute(&mut conn).await?;
        if !checkpointer {
            sqlx::query("PRAGMA wal_autocheckpoint = 0").execute(&mut conn).await?;
        }
        if let Some(pages) = max_page_count {
            // Never below the current size: SQLite clamps it there.
            sqlx::query(&format!("PRAGMA max_page_count = {pages}")).execute(&mut conn).await?;
        }
        Ok(conn)
    }

    pub(super) fn held(conn: AnyConnection) -> Database {
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
                    && let Err(error) = conn.close().await
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

impl Deref for Conn<'_> {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        match self {
            Conn::Pooled(conn) => conn,
            Conn::Held(conn) => conn.as_ref().expect("checked when handed out"),
        }
    }
}

impl DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match self {
            Conn::Pooled(conn) => conn,
            Conn::Held(conn) => conn.as_mut().expect("checked when handed out"),
        }
    }
}
