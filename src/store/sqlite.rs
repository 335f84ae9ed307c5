//! The bot's SQLite connection, run on the calling thread.
//!
//! sqlx runs every SQLite connection on a thread of its own: each statement
//! is handed to that thread and its rows handed back, two thread wake-ups
//! per statement, and on this workload those hand-overs cost more CPU than
//! the statements. Ours are small and go to a local file (in WAL mode with
//! `synchronous = NORMAL` a commit appends to the WAL without an fsync; the
//! fsyncing checkpoints run on their own sqlx connection beside), so they run
//! right here through rusqlite. The connection speaks sqlx's `Any` types
//! (arguments in, `AnyRow`s out, the same errors), so the store's SQL and the
//! code reading its rows are one for both backends.
//!
//! The price: a statement holds the runtime's thread while it runs, and one
//! waiting for a lock another process holds (an operator's write transaction
//! in the `sqlite3` shell) holds it for up to the busy time-out. No other bot
//! process can hold it: each takes the database's lock file at start.
//!
//! Values come back as sqlx's SQLite driver gives them: typed by what the
//! value is (INTEGER as `BigInt`, REAL as `Double`, TEXT, BLOB, NULL), not by
//! the column's declared type. `$N` placeholders bind the N-th argument.

use std::{borrow::Cow, fmt, path::Path, sync::Arc, time::Duration};

use rusqlite::{
    OpenFlags,
    types::{ToSqlOutput, Value, ValueRef},
};
use sqlx::{
    Error,
    any::{AnyArguments, AnyQueryResult, AnyRow, AnyTypeInfo, AnyTypeInfoKind, AnyValue},
    error::{DatabaseError, ErrorKind},
};
use sqlx_core::{
    any::{AnyColumn, AnyValueKind},
    ext::ustr::UStr,
};

/// Enough for every distinct statement the store runs; sqlx's default too.
const STATEMENT_CACHE: usize = 100;

/// Waits this long for a lock another process holds (as sqlx's default).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// What every SQLite connection of the store is set to, this one and sqlx's
/// (migrations, checkpoints): WAL, no fsync per commit, the busy wait, foreign
/// keys on (sqlx's default), and the file's size cap. Only the connection that
/// `checkpoints` copies the WAL back, beside the hot path.
pub(super) fn settings(checkpoints: bool, max_page_count: Option<u64>) -> String {
    let mut pragmas = format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = {}; PRAGMA foreign_keys = ON;",
        BUSY_TIMEOUT.as_millis()
    );
    if !checkpoints {
        pragmas.push_str(" PRAGMA wal_autocheckpoint = 0;");
    }
    if let Some(pages) = max_page_count {
        // Never below the current size: SQLite clamps it there.
        pragmas.push_str(&format!(" PRAGMA max_page_count = {pages};"));
    }
    pragmas
}

pub(super) struct SqliteConn {
    conn: rusqlite::Connection,
    /// What was learnt of each statement run: read once, not on every run.
    shapes: sqlx_core::HashMap<String, Shape>,
}

/// A statement's column names, shared by all its rows, and which argument
/// each of its parameters takes.
#[derive(Clone)]
struct Shape {
    by_name: Arc<sqlx_core::HashMap<UStr, usize>>,
    names: Arc<[UStr]>,
    arguments: Arc<[usize]>,
}

/// What one statement gave: its rows, then how many rows it changed.
pub(super) struct Outcome {
    pub rows: Vec<AnyRow>,
    pub result: AnyQueryResult,
}

impl SqliteConn {
    /// Opens the (already migrated) file with the settings the store's
    /// other SQLite connections use; `read_only` as the URL's `mode=ro` asks.
    pub(super) fn open(path: &Path, read_only: bool, max_page_count: Option<u64>) -> Result<Self, Error> {
        let access = if read_only { OpenFlags::SQLITE_OPEN_READ_ONLY } else { OpenFlags::SQLITE_OPEN_READ_WRITE };
        let flags = access | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = rusqlite::Connection::open_with_flags(path, flags).map_err(database_error)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        conn.execute_batch(&settings(false, max_page_count)).map_err(database_error)?;
        Ok(SqliteConn { conn, shapes: Default::default() })
    }

    /// Runs `sql`, reading at most `limit` rows (all with `None`); a statement
    /// that changes rows makes all its changes at its first step.
    pub(super) fn run(
        &mut self,
        sql: &str,
        persistent: bool,
        arguments: Option<AnyArguments<'_>>,
        limit: Option<usize>,
    ) -> Result<Outcome, Error> {
        let values = arguments.map(|arguments| arguments.values.0).unwrap_or_default();
        let remembered = self.shapes.get(sql).cloned();
        // A prepared statement is the first of the string: a script of several
        // runs whole, and only without arguments (they could not be told apart).
        if remembered.is_none() && self.is_script(sql)? {
            if !values.is_empty() {
                return Err(Error::Protocol("several SQL statements in one query take no arguments here".into()));
            }
            self.conn.execute_batch(sql).map_err(database_error)?;
            return Ok(Outcome { rows: Vec::new(), result: self.result() });
        }
        let mut statement = self.conn.prepare_cached(sql).map_err(database_error)?;
        // The schema may have changed under a remembered statement (`SELECT *`).
        let shape = match remembered.filter(|shape| shape.names.len() == statement.column_count()) {
            Some(shape) => shape,
            None => {
                let shape = shape_of(&statement)?;
                if persistent {
                    // Bounded like the statement cache: SQL built at run time cannot grow it.
                    if self.shapes.len() >= STATEMENT_CACHE {
                        self.shapes.clear();
                    }
                    self.shapes.insert(sql.to_owned(), shape.clone());
                }
                shape
            }
        };
        for (index, &argument) in shape.arguments.iter().enumerate() {
            // Like sqlx: a parameter without an argument stays NULL.
            let Some(value) = argument.checked_sub(1).and_then(|i| values.get(i)) else { break };
            statement.raw_bind_parameter(index + 1, sql_value(value)).map_err(database_error)?;
        }
        let mut rows = Vec::new();
        let mut cursor = statement.raw_query();
        while limit.is_none_or(|limit| rows.len() < limit) {
            let Some(row) = cursor.next().map_err(database_error)? else { break };
            rows.push(any_row(row, &shape)?);
        }
        drop(cursor);
        drop(statement);
        Ok(Outcome { rows, result: self.result() })
    }

    /// Whether `sql` holds more than one statement. Only a `;` before the end
    /// makes it worth parsing (the store's own SQL has none).
    fn is_script(&self, sql: &str) -> Result<bool, Error> {
        if !sql.trim_end().trim_end_matches(';').contains(';') {
            return Ok(false);
        }
        let mut statements = rusqlite::Batch::new(&self.conn, sql);
        let mut count = 0;
        while statements.next().map_err(database_error)?.is_some() {
            count += 1;
        }
        Ok(count > 1)
    }

    fn result(&self) -> AnyQueryResult {
        AnyQueryResult { rows_affected: self.conn.changes(), last_insert_id: Some(self.conn.last_insert_rowid()) }
    }

    /// Whether a transaction is open (BEGIN without COMMIT or ROLLBACK yet).
    pub(super) fn in_transaction(&self) -> bool {
        !self.conn.is_autocommit()
    }

    pub(super) fn close(self) -> Result<(), Error> {
        self.conn.close().map_err(|(_, error)| database_error(error))
    }
}

impl fmt::Debug for SqliteConn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteConn").field("path", &self.conn.path()).finish_non_exhaustive()
    }
}

/// What `run` needs to know of a prepared statement: its columns, and the
/// argument each parameter takes (`$N` takes the N-th, `?` the next).
fn shape_of(statement: &rusqlite::Statement<'_>) -> Result<Shape, Error> {
    let names: Arc<[UStr]> = statement.column_names().into_iter().map(UStr::new).collect();
    let by_name = names.iter().enumerate().map(|(i, name)| (name.clone(), i)).collect();
    let arguments = (1..=statement.parameter_count())
        .map(|index| match statement.parameter_name(index) {
            Some(name) => name
                .strip_prefix(['$', '?'])
                .and_then(|n| n.parse::<usize>().ok())
                .ok_or_else(|| Error::Protocol(format!("unsupported SQL parameter {name}"))),
            None => Ok(index),
        })
        .collect::<Result<_, _>>()?;
    Ok(Shape { by_name: Arc::new(by_name), names, arguments })
}

fn sql_value<'a>(value: &'a AnyValueKind<'_>) -> ToSqlOutput<'a> {
    match value {
        AnyValueKind::Null(_) => ToSqlOutput::Owned(Value::Null),
        AnyValueKind::Bool(b) => ToSqlOutput::Owned(Value::Integer(i64::from(*b))),
        AnyValueKind::SmallInt(n) => ToSqlOutput::Owned(Value::Integer(i64::from(*n))),
        AnyValueKind::Integer(n) => ToSqlOutput::Owned(Value::Integer(i64::from(*n))),
        AnyValueKind::BigInt(n) => ToSqlOutput::Owned(Value::Integer(*n)),
        AnyValueKind::Real(x) => ToSqlOutput::Owned(Value::Real(f64::from(*x))),
        AnyValueKind::Double(x) => ToSqlOutput::Owned(Value::Real(*x)),
        AnyValueKind::Text(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
        AnyValueKind::Blob(bytes) => ToSqlOutput::Borrowed(ValueRef::Blob(bytes)),
        // `AnyValueKind` is non-exhaustive; sqlx's own encoders make none other.
        _ => ToSqlOutput::Owned(Value::Null),
    }
}

fn any_row(row: &rusqlite::Row<'_>, shape: &Shape) -> Result<AnyRow, Error> {
    let mut values = Vec::with_capacity(shape.names.len());
    let mut any_columns = Vec::with_capacity(shape.names.len());
    for (ordinal, name) in shape.names.iter().enumerate() {
        let value = row.get_ref(ordinal).map_err(database_error)?;
        let kind = match value {
            ValueRef::Null => AnyValueKind::Null(AnyTypeInfoKind::Null),
            ValueRef::Integer(n) => AnyValueKind::BigInt(n),
            ValueRef::Real(x) => AnyValueKind::Double(x),
            ValueRef::Text(bytes) => AnyValueKind::Text(Cow::Owned(
                String::from_utf8(bytes.to_vec()).map_err(|error| Error::Decode(error.into()))?,
            )),
            ValueRef::Blob(bytes) => AnyValueKind::Blob(Cow::Owned(bytes.to_vec())),
        };
        let type_info = AnyTypeInfo { kind: type_of(&kind) };
        any_columns.push(AnyColumn { ordinal, name: name.clone(), type_info });
        values.push(AnyValue { kind });
    }
    Ok(AnyRow { column_names: shape.by_name.clone(), columns: any_columns, values })
}

fn type_of(kind: &AnyValueKind<'_>) -> AnyTypeInfoKind {
    match kind {
        AnyValueKind::BigInt(_) => AnyTypeInfoKind::BigInt,
        AnyValueKind::Double(_) => AnyTypeInfoKind::Double,
        AnyValueKind::Text(_) => AnyTypeInfoKind::Text,
        AnyValueKind::Blob(_) => AnyTypeInfoKind::Blob,
        _ => AnyTypeInfoKind::Null,
    }
}

/// SQLite's own failure, with its extended result code, as sqlx's SQLite
/// driver reports it: `code()` is that number, the text "(code: N) message".
#[derive(Debug)]
pub(super) struct SqliteError {
    code: i32,
    message: String,
}

fn database_error(error: rusqlite::Error) -> Error {
    match error {
        rusqlite::Error::SqliteFailure(failure, message) => Error::Database(Box::new(SqliteError {
            code: failure.extended_code,
            message: message.unwrap_or_else(|| failure.to_string()),
        })),
        other => Error::Protocol(other.to_string()),
    }
}

impl fmt::Display for SqliteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(code: {}) {}", self.code, self.message)
    }
}

impl std::error::Error for SqliteError {}

impl DatabaseError for SqliteError {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Owned(self.code.to_string()))
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> ErrorKind {
        use rusqlite::ffi;
        match self.code {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => ErrorKind::UniqueViolation,
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => ErrorKind::ForeignKeyViolation,
            ffi::SQLITE_CONSTRAINT_NOTNULL => ErrorKind::NotNullViolation,
            ffi::SQLITE_CONSTRAINT_CHECK => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

#[cfg(test)]
mod tests;
