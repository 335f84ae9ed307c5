use std::{
    io::Read as _,
    path::Path,
    time::{Duration, Instant},
};

use super::*;
use crate::store::Store;

/// The WAL header's checkpoint sequence number: SQLite adds one each time a
/// commit starts the WAL again from its beginning.
fn restarts(wal: &Path) -> u32 {
    let mut header = [0; 16];
    std::fs::File::open(wal).unwrap().read_exact(&mut header).unwrap();
    u32::from_be_bytes(header[12..16].try_into().unwrap())
}

#[tokio::test]
async fn under_writes_without_a_pause_the_wal_still_starts_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bot.db");
    let store = Store::connect(&format!("sqlite://{}", path.display())).await.unwrap();
    let wal = dir.path().join("bot.db-wal");
    let probe = |at: i64| {
        sqlx::query(
            "INSERT INTO health_probe (id, at, pad) VALUES (1, $1, '') ON CONFLICT (id) DO UPDATE SET at = excluded.at",
        )
        .bind(at)
    };
    probe(0).execute(&mut store.db.conn().await.unwrap()).await.unwrap();
    let before = restarts(&wal);
    // Each commit rewrites a page; the WAL passes WAL_RESTART_PAGES within
    // the first checkpoint period, and no moment is left without a write but
    // the one the checkpointer takes.
    let deadline = Instant::now() + 3 * WAL_CHECKPOINT_EVERY + Duration::from_secs(2);
    let mut commits = 0_i64;
    while restarts(&wal) == before && Instant::now() < deadline {
        commits += 1;
        probe(commits).execute(&mut store.db.conn().await.unwrap()).await.unwrap();
        tokio::task::yield_now().await;
    }
    assert!(commits > WAL_RESTART_PAGES, "{commits} commits are too few to test this");
    assert_eq!(restarts(&wal), before + 1, "the WAL was never started again in {commits} commits");
    store.close().await;
}
