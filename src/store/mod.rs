//! Persistence over SQLite or PostgreSQL with one set of SQL: runtime queries
//! with sqlx's `Any` types (the compile-time `query!` macros check one backend
//! only and need a live database at build time), run on sqlx's pool for
//! PostgreSQL and on one connection of our own for SQLite (`sqlite`).
//! Placeholders are `$1, $2, …` in order of first use, which both backends
//! read the same way.

mod albums;
#[cfg(any(test, feature = "bench"))]
mod bench;
mod buttons;
mod credits;
mod database;
mod diagnose;
mod media;
mod migrations;
mod settings;
mod sqlite;
mod tasks;
mod unknown;
mod wal;
mod watch;

use std::{str::FromStr, time::Duration};

use sqlx::{
    Connection as _, Row,
    any::{AnyConnectOptions, AnyRow},
};

pub use albums::{Album, AlbumCommand, AlbumKey};
pub use buttons::PendingRequest;
pub use credits::{ChargeTakeBack, CreditReason, GivenBack, Granted, Invoice, Movement, Purchase};
pub use tasks::{
    Guards, Lease, Price, Refusal, Reservation, Usage, is_group_chat, limit_reached, unknown_active_since,
};
pub use unknown::Resolution;
pub use watch::{LiveReplica, Schedule};

use database::Database;

use crate::{
    command::{Size, VideoOptions},
    lang::Lang,
    task::{NewTask, Task, TaskState},
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Clone)]
pub struct Store {
    db: Database,
    /// PostgreSQL: other processes may write at the same time (see `reserve`).
    shared_writers: bool,
    /// Tasks this process marked created, with their first poll time, until
    /// its watcher picks them up: it learns of its new tasks without reading
    /// the table every tick.
    created: std::sync::Arc<std::sync::Mutex<Vec<(i64, i64)>>>,
    choices: settings::ChoicesInMemory,
    /// SQLite: the albums being collected and those seen lately (see `albums`).
    albums: std::sync::Arc<albums::AlbumMemory>,
}

impl Store {
    /// Connects, creating the SQLite file if needed, and applies the embedded migrations.
    ///
    /// A SQLite URL may carry `max_page_count=N`: a cap on the file's size in
    /// pages, so a runaway database cannot fill the disk (it is also how the
    /// tests make a database full).
    pub async fn connect(url: &str) -> StoreResult<Self> {
        sqlx::any::install_default_drivers();
        let is_sqlite = url.starts_with("sqlite:");
        let (url, max_page_count) = if is_sqlite { take_max_page_count(url)? } else { (url.to_owned(), None) };
        let url = if is_sqlite && !url.contains('?') { format!("{url}?mode=rwc") } else { url };
        let options = AnyConnectOptions::from_str(&url)?;
        let db = if is_sqlite {
            // SQLite has one writer anyway; one connection serialises our
            // statements in-process and avoids SQLITE_BUSY upgrades.
            let mut conn = Database::sqlite(&options, false, max_page_count).await?;
            migrations::migrator(true).await?.run(&mut conn).await?;
            conn.close().await?;
            let path = sqlx::sqlite::SqliteConnectOptions::from_str(&url)?.get_filename().to_owned();
            let read_only =
                url.split_once('?').is_some_and(|(_, query)| query.split('&').any(|pair| pair == "mode=ro"));
            let db = Database::held(sqlite::SqliteConn::open(&path, read_only, max_page_count)?);
            // Checkpoints fsync the database: done beside the hot path, not in
            // the middle of a /video command's commit.
            tokio::spawn(wal::checkpoint_wal(Database::sqlite(&options, true, max_page_count).await?, db.clone()));
            db
        } else {
            let db = Database::postgres(options).await?;
            if let Database::Pool(pool) = &db {
                migrations::migrator(false).await?.run(pool).await?;
            }
            db
        };
        let store = Store {
            db,
            shared_writers: !is_sqlite,
            created: Default::default(),
            choices: Default::default(),
            albums: Default::default(),
        };
        if is_sqlite {
            store.remember_choices().await?;
        }
        Ok(store)
    }

    /// For the bot's start: `connect`, and prove the database takes a write,
    /// within `START_TIMEOUT`. A failure is one line saying why, naming the
    /// file or host but never the password.
    pub async fn open(url: &str) -> Result<Self, String> {
        let target = diagnose::Target::of(url);
        let store = match tokio::time::timeout(START_TIMEOUT, Self::connect(url)).await {
            Ok(Ok(store)) => store,
            Ok(Err(error)) => return Err(diagnose::start_error(&target, &error)),
            Err(_) => {
                return Err(format!("no answer from {} within {} s", target.place(), START_TIMEOUT.as_secs()));
            }
        };
        // Needs no new page, so a full database still starts (and /healthz
        // says it is full); a read-only one does not.
        let probe = sqlx::query("UPDATE quota_guard SET n = n WHERE id = 1");
        if let Err(error) = store.write(probe).await {
            store.close().await;
            return Err(diagnose::start_error(&target, &error));
        }
        Ok(store)
    }

    /// Whether several processes may share this database (PostgreSQL): state
    /// every replica must see (albums) lives in it, not in memory. SQLite is
    /// one process per file, so at start nothing else can be mid-create.
    pub fn is_shared(&self) -> bool {
        self.shared_writers
    }

    /// Whether a create cut off by a crash can still turn up after this
    /// process started: on a shared database another replica may die and
    /// leave one at any time; on SQLite only a process before this one could.
    pub fn cut_off_creates_can_appear_later(&self) -> bool {
        self.shared_writers
    }

    /// For `/healthz`: the database answers and takes a write. The probe
    /// inserts a row larger than a page and deletes it in one checked
    /// transaction, so a full database or disk fails it.
    pub async fn check_writable(&self) -> StoreResult<()> {
        let id = i64::from(rand::random::<u32>());
        let mut conn = self.db.conn().await?;
        let mut tx = conn.begin().await?;
        sqlx::query("INSERT INTO health_probe (id, at, pad) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(now_ms())
            .bind("x".repeat(8192))
            .execute(&mut tx)
            .await?;
        sqlx::query("DELETE FROM health_probe WHERE id = $1").bind(id).execute(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Runs one state-changing statement, run to its end. Outside an explicit
    /// transaction a statement is its own transaction, committed as its last
    /// step, so a commit that fails (SQLite finding the disk full, say) is this
    /// statement's error. No BEGIN and COMMIT around it: on SQLite each is
    /// another round trip to its thread.
    async fn write<'q>(
        &self,
        query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> StoreResult<u64> {
        Ok(query.execute(&mut self.db.conn().await?).await?.rows_affected())
    }

    pub async fn close(&self) {
        self.db.close().await;
    }
}

/// Opening the database at start: longer than this and the bot stops, saying
/// so, well within the 10 s an orchestrator waits for a failed start.
const START_TIMEOUT: Duration = Duration::from_secs(8);

/// Splits our own `max_page_count=N` off a SQLite URL (sqlx refuses unknown parameters).
fn take_max_page_count(url: &str) -> StoreResult<(String, Option<u64>)> {
    let Some((base, query)) = url.split_once('?') else { return Ok((url.to_owned(), None)) };
    let mut max = None;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.strip_prefix("max_page_count=") {
            Some(value) => {
                max = Some(value.parse().map_err(|_| {
                    StoreError::Corrupt(format!("DATABASE_URL: max_page_count={value:?} is not a number"))
                })?)
            }
            None => kept.push(pair),
        }
    }
    let url = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
    Ok((url, max))
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// UTC day number, the unit of the daily quota.
pub fn utc_day(ms: i64) -> i64 {
    ms.div_euclid(86_400_000)
}

const TASK_COLUMNS: &str = "id, chat_id, user_id, command_msg_id, status_msg_id, lang, prompt, model, orientation, size, \
     duration, image_file_ids, upstream_id, state, upstream_status, progress_pct, video_url, error, shown_text, shown_at, \
     created_at, updated_at, cancelled_at, unknown_told_at";

/// The columns a task's request does not fix: what may change after it is
/// stored (`task_with` reads them).
const PROGRESS_COLUMNS: &str = "status_msg_id, upstream_id, state, upstream_status, progress_pct, video_url, error, \
     shown_text, shown_at, created_at, updated_at, cancelled_at, unknown_told_at";

/// A model without a size choice stores an empty size (the column predates such models).
fn optional_size(text: &str) -> Result<Option<Size>, crate::models::BadValue> {
    if text.is_empty() { Ok(None) } else { text.parse().map(Some) }
}

fn task_from_row(row: &AnyRow) -> StoreResult<Task> {
    let id = row.try_get("id")?;
    let corrupt = |what: &str| corrupt_task(id, what);
    let text = |name: &str| row.try_get::<String, _>(name);
    let options = VideoOptions {
        model: text("model")?.parse().map_err(|_| corrupt("model"))?,
        shape: text("orientation")?.parse().map_err(|_| corrupt("orientation"))?,
        size: optional_size(&text("size")?).map_err(|_| corrupt("size"))?,
        duration: match row.try_get::<i64, _>("duration")? {
            0 => None,
            seconds => Some(u32::try_from(seconds).map_err(|_| corrupt("duration"))?),
        },
    };
    let request = NewTask {
        chat_id: row.try_get("chat_id")?,
        user_id: row.try_get("user_id")?,
        command_msg_id: narrow(row.try_get("command_msg_id")?),
        lang: Lang::from_code(Some(&text("lang")?)),
        prompt: text("prompt")?,
        options,
        image_file_ids: serde_json::from_str(&text("image_file_ids")?).map_err(|_| corrupt("image_file_ids"))?,
    };
    task_with(id, request, row)
}

fn corrupt_task(id: i64, what: &str) -> StoreError {
    StoreError::Corrupt(format!("task {id}: bad {what}"))
}

/// Task `id` of `request` as stored, in the state `row` has it (its
/// `PROGRESS_COLUMNS`).
fn task_with(id: i64, request: NewTask, row: &AnyRow) -> StoreResult<Task> {
    let NewTask { chat_id, user_id, command_msg_id, lang, prompt, mut options, image_file_ids } = request;
    // A duration of 0 is stored for "none" and read back so.
    options.duration = options.duration.filter(|&seconds| seconds != 0);
    let state = row.try_get::<String, _>("state")?;
    Ok(Task {
        id,
        chat_id,
        user_id,
        command_msg_id,
        status_msg_id: row.try_get::<Option<i64>, _>("status_msg_id")?.map(narrow),
        lang,
        prompt,
        options,
        image_file_ids,
        upstream_id: row.try_get("upstream_id")?,
        state: TaskState::parse(&state).ok_or_else(|| corrupt_task(id, "state"))?,
        upstream_status: row.try_get("upstream_status")?,
        progress_pct: row.try_get::<Option<i64>, _>("progress_pct")?.map(|p| p.clamp(0, 100) as u8),
        video_url: row.try_get("video_url")?,
        error: row.try_get("error")?,
        shown_text: row.try_get("shown_text")?,
        shown_at: row.try_get("shown_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        cancelled_at: row.try_get("cancelled_at")?,
        unknown_told_at: row.try_get("unknown_told_at")?,
    })
}

/// Telegram message ids are i32; stored as BIGINT.
fn narrow(value: i64) -> i32 {
    i32::try_from(value).unwrap_or_default()
}

/// `'submitting', 'running', 'delivering'` for `state IN (…)`.
fn open_states_sql() -> String {
    open_states().map(|state| format!("'{state}'")).collect::<Vec<_>>().join(", ")
}

/// The stored names of the open states.
fn open_states() -> impl Iterator<Item = &'static str> {
    TaskState::ALL.into_iter().filter(|state| state.is_open()).map(TaskState::as_str)
}
