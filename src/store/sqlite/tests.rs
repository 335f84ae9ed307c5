use sqlx::{Row, error::ErrorKind};

use super::*;
use crate::store::database::Database;

/// A fresh file with one table, and the held connection over it.
fn open(dir: &tempfile::TempDir, max_page_count: Option<u64>) -> Database {
    let path = dir.path().join("t.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT, score REAL, raw BLOB)",
    )
    .unwrap();
    drop(conn);
    Database::held(SqliteConn::open(&path, false, max_page_count).unwrap())
}

#[tokio::test]
async fn placeholders_bind_by_their_number_and_values_come_back_typed_by_value() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir, None);
    // $2 is used before $1, and $1 twice: the N-th argument is $N wherever it is.
    sqlx::query("INSERT INTO t (name, id, score, raw) VALUES ($2, $1, $3 + $1, NULL)")
        .bind(7_i64)
        .bind("héllo, 世界")
        .bind(0.5_f64)
        .execute(&mut db.conn().await.unwrap())
        .await
        .unwrap();
    let row = sqlx::query("SELECT id, name, score, raw FROM t WHERE id = $1")
        .bind(7_i64)
        .fetch_one(&mut db.conn().await.unwrap())
        .await
        .unwrap();
    assert_eq!(row.try_get::<i64, _>("id").unwrap(), 7);
    assert_eq!(row.try_get::<i32, _>(0).unwrap(), 7);
    assert_eq!(row.try_get::<String, _>("name").unwrap(), "héllo, 世界");
    assert_eq!(row.try_get::<f64, _>("score").unwrap(), 7.5);
    assert_eq!(row.try_get::<Option<Vec<u8>>, _>("raw").unwrap(), None);
    assert!(row.try_get::<String, _>("id").is_err(), "an integer is not text");
    assert!(row.try_get::<i64, _>("missing").is_err());
    // A parameter without an argument is NULL, as sqlx binds it.
    let row = sqlx::query("SELECT $1 AS a, $2 AS b").bind(1_i64).fetch_one(&mut db.conn().await.unwrap()).await;
    let row = row.unwrap();
    assert_eq!(row.try_get::<Option<i64>, _>("b").unwrap(), None);
    // Run again, a remembered statement binds by the same numbers.
    let mut conn = db.conn().await.unwrap();
    let row = sqlx::query("SELECT $1 AS a, $2 AS b").bind(2_i64).bind("two").fetch_one(&mut conn).await.unwrap();
    assert_eq!((row.try_get::<i64, _>("a").unwrap(), row.try_get::<String, _>("b").unwrap()), (2, "two".to_owned()));
}

#[tokio::test]
async fn rows_affected_and_a_script_of_several_statements() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir, None);
    let mut conn = db.conn().await.unwrap();
    sqlx::query("INSERT INTO t (id) VALUES (1); INSERT INTO t (id) VALUES (2);").execute(&mut conn).await.unwrap();
    let changed = sqlx::query("UPDATE t SET name = 'x'").execute(&mut conn).await.unwrap().rows_affected();
    assert_eq!(changed, 2);
    let rows = sqlx::query("SELECT id FROM t ORDER BY id").fetch_all(&mut conn).await.unwrap();
    assert_eq!(rows.iter().map(|r| r.get::<i64, _>("id")).collect::<Vec<_>>(), [1, 2]);
    // A `;` inside a literal is one statement, which takes arguments.
    sqlx::query("UPDATE t SET name = 'a;b' WHERE id = $1").bind(1_i64).execute(&mut conn).await.unwrap();
    // Several statements with arguments cannot be bound one by one: refused, nothing run.
    let both = sqlx::query("DELETE FROM t WHERE id = $1; DELETE FROM t").bind(1_i64).execute(&mut conn).await;
    assert!(both.is_err());
    assert_eq!(sqlx::query("SELECT COUNT(*) AS n FROM t").fetch_one(&mut conn).await.unwrap().get::<i64, _>("n"), 2);
}

#[tokio::test]
async fn a_transaction_dropped_uncommitted_is_rolled_back_and_a_committed_one_stays() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir, None);
    let mut conn = db.conn().await.unwrap();
    {
        let mut tx = conn.begin().await.unwrap();
        sqlx::query("INSERT INTO t (id) VALUES (1)").execute(&mut tx).await.unwrap();
        assert!(tx.begin().await.is_err(), "SQLite transactions do not nest");
    }
    let mut tx = conn.begin().await.unwrap();
    sqlx::query("INSERT INTO t (id) VALUES (2)").execute(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    let ids: Vec<i64> =
        sqlx::query("SELECT id FROM t").fetch_all(&mut conn).await.unwrap().iter().map(|r| r.get("id")).collect();
    assert_eq!(ids, [2]);
    assert!(conn.commit().await.is_err(), "no transaction to commit");
}

#[tokio::test]
async fn a_commit_that_fails_leaves_no_transaction_open() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir, None);
    let mut conn = db.conn().await.unwrap();
    // A deferred foreign key is checked at COMMIT, which then fails and leaves the transaction open.
    sqlx::query("CREATE TABLE child (id BIGINT, t_id BIGINT REFERENCES t (id) DEFERRABLE INITIALLY DEFERRED)")
        .execute(&mut conn)
        .await
        .unwrap();
    let mut tx = conn.begin().await.unwrap();
    sqlx::query("INSERT INTO child (id, t_id) VALUES (1, 99)").execute(&mut tx).await.unwrap();
    let failed = tx.commit().await.unwrap_err();
    let sqlx::Error::Database(error) = failed else { panic!("{failed}") };
    assert_eq!(error.kind(), ErrorKind::ForeignKeyViolation);
    // Rolled back: the next statements are not inside it, and the row is gone.
    let tx = conn.begin().await.unwrap();
    tx.commit().await.unwrap();
    let row = sqlx::query("SELECT COUNT(*) AS n FROM child").fetch_one(&mut conn).await.unwrap();
    assert_eq!(row.get::<i64, _>("n"), 0);
}

#[tokio::test]
async fn sqlite_failures_keep_their_codes_and_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir, Some(1));
    let mut conn = db.conn().await.unwrap();
    sqlx::query("INSERT INTO t (id) VALUES (1)").execute(&mut conn).await.unwrap();
    let duplicate = sqlx::query("INSERT INTO t (id) VALUES (1)").execute(&mut conn).await.unwrap_err();
    let sqlx::Error::Database(error) = duplicate else { panic!("{duplicate}") };
    assert_eq!(error.kind(), ErrorKind::UniqueViolation);
    // SQLITE_CONSTRAINT_PRIMARYKEY, as sqlx's own SQLite driver reports it.
    assert_eq!(error.code().as_deref(), Some("1555"));
    assert!(error.to_string().starts_with("(code: 1555) UNIQUE constraint failed"), "{error}");
    // The file may not grow past its size cap: SQLITE_FULL (13).
    let big = "x".repeat(64 * 1024);
    let full = sqlx::query("INSERT INTO t (id, name) VALUES (2, $1)").bind(&big).execute(&mut conn).await.unwrap_err();
    let sqlx::Error::Database(error) = full else { panic!("{full}") };
    assert_eq!(error.code().as_deref(), Some("13"), "{error}");
    // Still usable afterwards.
    sqlx::query("SELECT id FROM t").fetch_all(&mut conn).await.unwrap();
}

#[tokio::test]
async fn opened_read_only_it_reads_and_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(&dir, None));
    let db = Database::held(SqliteConn::open(&dir.path().join("t.db"), true, None).unwrap());
    let mut conn = db.conn().await.unwrap();
    sqlx::query("SELECT id FROM t").fetch_all(&mut conn).await.unwrap();
    let refused = sqlx::query("INSERT INTO t (id) VALUES (1)").execute(&mut conn).await.unwrap_err();
    let sqlx::Error::Database(error) = refused else { panic!("{refused}") };
    assert_eq!(error.code().map(|code| code.parse::<i32>().unwrap() & 0xff), Some(8), "{error}");
}
