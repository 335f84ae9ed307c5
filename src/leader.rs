//! Which process asks Telegram for updates. Telegram hands a bot token's updates
//! to one `getUpdates` caller at a time and answers any second one with 409
//! Conflict, so:
//! - on PostgreSQL, replicas elect one poller with a session-level advisory lock
//!   held on a connection of its own; the others only follow tasks and serve
//!   `/media`, and try for the lock every few seconds, so when the poller dies
//!   (its session ends and the lock with it) another one polls within seconds;
//! - on SQLite (one process by nature), a second process on the same database
//!   refuses to start;
//! - a 409 that still happens (another deployment, or a webhook is set) is
//!   explained once per streak instead of once per retry.

use std::{
    fs::{File, OpenOptions, TryLockError},
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures_util::future::BoxFuture;
use sqlx::{AnyConnection, Connection, Row};
use teloxide::{ApiError, RequestError, error_handlers::ErrorHandler};
use tokio_util::sync::CancellationToken;

/// The advisory lock key of the poller of one bot at one Bot API server: what
/// Telegram allows one `getUpdates` caller for. From the bot's id (the public
/// part of its token, before the colon) and the server's URL, hashed with
/// FNV-1a: unlike std's hasher it is fixed, so replicas built by different
/// compiler versions (a rolling upgrade) still agree on the key.
pub fn poller_lock_key(api_url: &str, bot_token: &str) -> i64 {
    let bot_id = bot_token.split(':').next().unwrap_or_default();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in api_url.bytes().chain([b'\n']).chain(bot_id.bytes()) {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    hash as i64
}

/// How often a follower tries for the lock and the poller checks that its lock
/// connection is alive: together with a dead session ending at once, this keeps
/// a take-over well within 10 s.
const CHECK_EVERY: Duration = Duration::from_millis(2_500);

/// A connect or check slower than this counts as failed: a poller cut off from
/// the database must stop polling, since its lock may already be gone.
const DB_TIMEOUT: Duration = Duration::from_secs(2);

/// SQLite: holds `<database>.lock` (an OS file lock) for the life of the process.
/// Not SQLite's own `locking_mode=EXCLUSIVE`: this process itself opens the
/// database twice (writer and WAL checkpointer), and that mode would only fail
/// at the first write, with "database is locked", not at start with a reason.
#[derive(Debug)]
pub struct SqliteLock {
    _file: File,
}

/// Why the SQLite lock could not be taken; said at start, after `DATABASE_URL: `.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("the directory of the SQLite file {} does not exist", .0.display())]
    NoDirectory(PathBuf),
    #[error("cannot write beside the SQLite file ({}: {source})", .path.display())]
    NotWritable { path: PathBuf, source: std::io::Error },
    #[error("cannot create {}: {source}", .path.display())]
    Create { path: PathBuf, source: std::io::Error },
    #[error(
        "another sora-bot is already running on this SQLite database ({} is locked); \
         stop it first, or use PostgreSQL to run several replicas",
        .0.display()
    )]
    AlreadyRunning(PathBuf),
    #[error("cannot lock {}: {source}", .path.display())]
    Lock { path: PathBuf, source: std::io::Error },
}

/// `Ok(None)` for an in-memory database or a PostgreSQL URL.
pub fn lock_sqlite(database_url: &str) -> Result<Option<SqliteLock>, LockError> {
    let Some(path) = sqlite_path(database_url) else { return Ok(None) };
    let mut lock_path = path.clone().into_os_string();
    lock_path.push(".lock");
    let lock_path = PathBuf::from(lock_path);
    let file =
        OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path).map_err(|source| match source
            .kind()
        {
            std::io::ErrorKind::NotFound => LockError::NoDirectory(path),
            std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
                LockError::NotWritable { path: lock_path.clone(), source }
            }
            _ => LockError::Create { path: lock_path.clone(), source },
        })?;
    match file.try_lock() {
        Ok(()) => Ok(Some(SqliteLock { _file: file })),
        Err(TryLockError::WouldBlock) => Err(LockError::AlreadyRunning(lock_path)),
        Err(TryLockError::Error(source)) => Err(LockError::Lock { path: lock_path, source }),
    }
}

/// The file behind a `sqlite:` URL, if any.
fn sqlite_path(database_url: &str) -> Option<PathBuf> {
    let rest = database_url.strip_prefix("sqlite://").or_else(|| database_url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.contains(":memory:")).then(|| PathBuf::from(path))
}

/// Elects the poller among replicas sharing one PostgreSQL database.
pub struct PollerElection {
    url: String,
    key: i64,
    announced_follower: bool,
}

/// Proof that this process is the poller, for as long as it is kept: dropping
/// it closes the lock's connection and so releases the lock.
pub struct Leadership {
    conn: AnyConnection,
}

impl PollerElection {
    /// `key`: see `poller_lock_key`.
    pub fn new(database_url: &str, key: i64) -> Self {
        PollerElection { url: database_url.to_owned(), key, announced_follower: false }
    }

    /// Waits until this process holds the poller lock (`None` once `stop` is
    /// cancelled). The lock lives on a connection of its own, not a pooled one:
    /// a session-level lock belongs to whichever session took it.
    pub async fn acquire(&mut self, stop: &CancellationToken) -> Option<Leadership> {
        while !stop.is_cancelled() {
            match self.try_acquire().await {
                Ok(Some(leadership)) => {
                    tracing::info!("this replica polls Telegram for updates (it holds the poller lock)");
                    self.announced_follower = false;
                    return Some(leadership);
                }
                Ok(None) if !self.announced_follower => {
                    tracing::info!(
                        "another replica polls Telegram; this one follows tasks and serves /media until it takes over"
                    );
                    self.announced_follower = true;
                }
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, "could not try for the poller lock; trying again"),
            }
            tokio::select! {
                () = stop.cancelled() => {}
                () = tokio::time::sleep(CHECK_EVERY) => {}
            }
        }
        None
    }

    async fn try_acquire(&self) -> Result<Option<Leadership>, ElectionError> {
        let mut conn = tokio::time::timeout(DB_TIMEOUT, AnyConnection::connect(&self.url))
            .await
            .map_err(|_| ElectionError::Timeout("connecting"))??;
        let row = tokio::time::timeout(
            DB_TIMEOUT,
            sqlx::query("SELECT pg_try_advisory_lock($1) AS locked").bind(self.key).fetch_one(&mut conn),
        )
        .await
        .map_err(|_| ElectionError::Timeout("pg_try_advisory_lock"))??;
        if row.try_get::<bool, _>("locked")? {
            Ok(Some(Leadership { conn }))
        } else {
            // Closed at once; the next try opens a fresh connection.
            let _ = conn.close().await;
            Ok(None)
        }
    }
}

/// Why one try for the poller lock failed; the next try comes soon.
#[derive(Debug, thiserror::Error)]
pub enum ElectionError {
    #[error("{0} timed out")]
    Timeout(&'static str),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl Leadership {
    /// Resolves once the lock's connection fails or stops answering: the lock
    /// may then be gone and another replica polling, so this one must stop.
    pub async fn lost(&mut self) {
        loop {
            tokio::time::sleep(CHECK_EVERY).await;
            match tokio::time::timeout(DB_TIMEOUT, self.conn.ping()).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    tracing::warn!(%error, "the poller lock's database connection failed; this replica stops polling");
                    return;
                }
                Err(_) => {
                    tracing::warn!(
                        "the poller lock's database connection stopped answering; this replica stops polling"
                    );
                    return;
                }
            }
        }
    }
}

/// A conflict this long after the previous one starts a new streak (teloxide
/// waits at most about a minute between retries, so one streak stays one).
const CONFLICT_STREAK_GAP: Duration = Duration::from_secs(5 * 60);

/// The polling error handler: a 409 Conflict is explained in plain words once
/// per streak of them; other errors are logged as they come.
#[derive(Default)]
pub struct PollingErrors {
    last_conflict: Mutex<Option<Instant>>,
}

impl PollingErrors {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Whether this conflict starts a streak (and so should be explained).
    fn conflict_starts_streak(&self, now: Instant) -> bool {
        let mut last = self.last_conflict.lock().unwrap_or_else(|e| e.into_inner());
        let new_streak = last.is_none_or(|at| now.saturating_duration_since(at) >= CONFLICT_STREAK_GAP);
        *last = Some(now);
        new_streak
    }
}

impl ErrorHandler<RequestError> for PollingErrors {
    fn handle_error(self: Arc<Self>, error: RequestError) -> BoxFuture<'static, ()> {
        match &error {
            RequestError::Api(ApiError::TerminatedByOtherGetUpdates | ApiError::CantGetUpdates) => {
                if self.conflict_starts_streak(Instant::now()) {
                    tracing::error!(
                        "Telegram answers getUpdates with 409 Conflict: another process is polling this bot token, \
                         or a webhook is set for it. Stop the other instance (replicas must share one PostgreSQL \
                         database, which lets only one of them poll), or remove the webhook; retrying quietly meanwhile"
                    );
                }
            }
            // Errors of the Bot API client carry no token (teloxide redacts it).
            _ => tracing::warn!(%error, "polling error"),
        }
        Box::pin(async {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(sqlite_path("sqlite:///tmp/x/bot.db"), Some(PathBuf::from("/tmp/x/bot.db")));
        assert_eq!(sqlite_path("sqlite://sora-bot.db?mode=rwc"), Some(PathBuf::from("sora-bot.db")));
        assert_eq!(sqlite_path("sqlite:data.db"), Some(PathBuf::from("data.db")));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://u@h/db"), None);
    }

    #[test]
    fn a_second_lock_on_the_same_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/bot.db", dir.path().display());
        let first = lock_sqlite(&url).unwrap();
        assert!(first.is_some());
        let error = lock_sqlite(&url).unwrap_err();
        assert!(matches!(error, LockError::AlreadyRunning(_)), "{error}");
        assert!(error.to_string().contains("already running"), "{error}");
        drop(first);
        assert!(lock_sqlite(&url).unwrap().is_some(), "free again once the holder is gone");
    }

    #[test]
    fn the_lock_key_is_per_bot_and_server_and_fixed() {
        let key = poller_lock_key("https://api.telegram.org/", "123:secret");
        assert_eq!(key, poller_lock_key("https://api.telegram.org/", "123:other-secret"), "the secret plays no part");
        assert_ne!(key, poller_lock_key("https://api.telegram.org/", "124:secret"));
        assert_ne!(key, poller_lock_key("http://127.0.0.1:8081/", "123:secret"));
        // Fixed across builds: FNV-1a of "https://api.telegram.org/\n123".
        assert_eq!(key, 495_649_792_443_176_666);
    }

    #[test]
    fn conflicts_are_explained_once_per_streak() {
        let errors = PollingErrors::default();
        let t0 = Instant::now();
        assert!(errors.conflict_starts_streak(t0));
        assert!(!errors.conflict_starts_streak(t0 + Duration::from_secs(64)));
        assert!(!errors.conflict_starts_streak(t0 + Duration::from_secs(128)));
        assert!(errors.conflict_starts_streak(t0 + Duration::from_secs(128) + CONFLICT_STREAK_GAP));
    }

    #[tokio::test]
    async fn one_poller_at_a_time_and_a_take_over_when_it_goes() {
        let url = crate::test_support::postgres_url().await;
        let stop = CancellationToken::new();
        let key = poller_lock_key("https://api.telegram.org/", "123:secret");
        let mut first = PollerElection::new(&url, key);
        let mut second = PollerElection::new(&url, key);
        let other_bot = PollerElection::new(&url, poller_lock_key("https://api.telegram.org/", "456:secret"));
        let leader = first.acquire(&stop).await.expect("free lock");
        assert!(second.try_acquire().await.unwrap().is_none(), "held by the first");
        assert!(other_bot.try_acquire().await.unwrap().is_some(), "another bot has a poller of its own");
        drop(leader);
        let taken = tokio::time::timeout(Duration::from_secs(10), second.acquire(&stop)).await.expect("taken over");
        assert!(taken.is_some());
    }
}
