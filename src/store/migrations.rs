//! The schema's migrations, embedded in the binary: the shared ones in
//! `migrations/`, written in SQL both backends read, and each backend's own
//! in `migrations/sqlite` and `migrations/postgres` (triggers, which the two
//! write differently). A database is only ever one backend, so a version may
//! have two texts, one per backend, each with its own checksum.

use futures_util::future::BoxFuture;
use sqlx::migrate::{Migration, MigrationSource, Migrator};
use sqlx_core::error::BoxDynError;

use super::StoreResult;

/// Every migration for the backend, in version order.
pub(super) async fn migrator(sqlite: bool) -> StoreResult<Migrator> {
    up_to(sqlite, i64::MAX).await
}

/// The backend's migrations up to `version`.
async fn up_to(sqlite: bool, version: i64) -> StoreResult<Migrator> {
    let own = if sqlite { sqlx::migrate!("./migrations/sqlite") } else { sqlx::migrate!("./migrations/postgres") };
    let mut all: Vec<Migration> = sqlx::migrate!("./migrations")
        .iter()
        .chain(own.iter())
        .filter(|migration| migration.version <= version)
        .cloned()
        .collect();
    all.sort_by_key(|migration| migration.version);
    Ok(Migrator::new(Embedded(all)).await?)
}

/// A list already in memory: sqlx's own sources read a directory at run time.
#[derive(Debug)]
struct Embedded(Vec<Migration>);

impl MigrationSource<'static> for Embedded {
    fn resolve(self) -> BoxFuture<'static, Result<Vec<Migration>, BoxDynError>> {
        Box::pin(async move { Ok(self.0) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_backend_has_every_version_once_in_order() {
        for sqlite in [true, false] {
            let migrator = migrator(sqlite).await.expect("embedded migrations");
            let versions: Vec<i64> = migrator.iter().map(|migration| migration.version).collect();
            assert_eq!(versions, (1..=versions.len() as i64).collect::<Vec<_>>(), "sqlite: {sqlite}");
            assert!(versions.len() >= 11);
        }
        let sqlite = migrator(true).await.unwrap();
        let postgres = migrator(false).await.unwrap();
        let text = |migrator: &Migrator, version| migrator.iter().find(|m| m.version == version).unwrap().sql.clone();
        // Shared up to 10, then each its own.
        assert_eq!(text(&sqlite, 10), text(&postgres, 10));
        assert!(text(&sqlite, 11).contains("CREATE TRIGGER open_count_insert"));
        assert!(text(&postgres, 11).contains("LANGUAGE plpgsql"));
        assert!(text(&sqlite, 12).contains("id              INTEGER PRIMARY KEY"));
    }

    /// The triggers name the open states in SQL: they must be exactly the
    /// states the bot treats as open, in every migration that makes them
    /// (SQLite's rebuild of `tasks` makes them again).
    #[tokio::test]
    async fn the_open_count_triggers_name_exactly_the_open_states() {
        for sqlite in [true, false] {
            let migrator = migrator(sqlite).await.unwrap();
            let makers: Vec<_> =
                migrator.iter().filter(|migration| migration.sql.contains("CREATE TRIGGER open_count")).collect();
            assert_eq!(makers.len(), if sqlite { 2 } else { 1 });
            for migration in makers {
                for state in crate::task::TaskState::ALL {
                    let named = migration.sql.contains(&format!("'{}'", state.as_str()));
                    assert_eq!(named, state.is_open(), "{state:?} (sqlite: {sqlite}, {})", migration.version);
                }
            }
        }
    }

    /// A database made before the open count gets it right when it updates:
    /// the open tasks it already has are counted, the ended ones are not.
    async fn open_count_starts_from_the_rows_there(url: &str, sqlite: bool) {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(url).await.unwrap();
        up_to(sqlite, 10).await.unwrap().run(&pool).await.unwrap();
        for (id, state) in [(1, "running"), (2, "done"), (3, "submitting"), (4, "unknown"), (5, "delivering")] {
            sqlx::query(
                "INSERT INTO tasks (id, chat_id, user_id, command_msg_id, lang, prompt, model, orientation, size, \
                 duration, image_file_ids, state, created_at, updated_at, day, next_poll_at) \
                 VALUES ($1, $1, $1, $1, 'en', 'p', 'sora-2', 'portrait', 'large', 15, '[]', $2, 0, 0, 0, 0)",
            )
            .bind(id)
            .bind(state)
            .execute(&pool)
            .await
            .unwrap();
        }
        migrator(sqlite).await.unwrap().run(&pool).await.unwrap();
        let open_count = || sqlx::query_scalar::<_, i64>("SELECT n FROM open_count WHERE id = 1").fetch_one(&pool);
        assert_eq!(open_count().await.unwrap(), 3, "sqlite: {sqlite}");
        // The rows came through SQLite's rebuild of the table whole, and the
        // rebuilt table's triggers count.
        let rows: Vec<(i64, String, i64)> =
            sqlx::query_as("SELECT id, state, command_msg_id FROM tasks ORDER BY id").fetch_all(&pool).await.unwrap();
        let expected = [(1, "running"), (2, "done"), (3, "submitting"), (4, "unknown"), (5, "delivering")];
        assert_eq!(rows, expected.map(|(id, state)| (id, state.to_owned(), id)), "sqlite: {sqlite}");
        sqlx::query("UPDATE tasks SET state = 'done' WHERE id = 1").execute(&pool).await.unwrap();
        sqlx::query("DELETE FROM tasks WHERE id = 3").execute(&pool).await.unwrap();
        assert_eq!(open_count().await.unwrap(), 1, "sqlite: {sqlite}");
        if sqlite {
            // (A row id of its own would stay 5.)
            sqlx::query("UPDATE tasks SET id = 42 WHERE id = 5").execute(&pool).await.unwrap();
            let rowid: i64 =
                sqlx::query_scalar("SELECT rowid FROM tasks WHERE id = 42").fetch_one(&pool).await.unwrap();
            assert_eq!(rowid, 42, "id is the row id");
        }
        pool.close().await;
    }

    #[tokio::test]
    async fn open_count_starts_from_the_rows_there_on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        open_count_starts_from_the_rows_there(&format!("sqlite://{}/old.db?mode=rwc", dir.path().display()), true)
            .await;
    }

    #[tokio::test]
    async fn open_count_starts_from_the_rows_there_on_postgres() {
        open_count_starts_from_the_rows_there(&crate::test_support::postgres_url().await, false).await;
    }
}
