//! SQLite's WAL: copied back into the database file beside the bot's writes,
//! and started again from its beginning so that it stays short under load.

use std::time::Duration;

use sqlx::{AnyConnection, Connection as _, Row as _};

use super::database::Database;

/// How often the WAL is copied back into the SQLite database file.
const WAL_CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// A WAL this long (in pages, 4 MB) is started again from its beginning at
/// the next checkpoint, holding the bot's writes for a moment if it must;
/// SQLite's own default checkpoint size.
const WAL_RESTART_PAGES: i64 = 1000;

/// Copies the WAL back into the database file every `WAL_CHECKPOINT_EVERY`
/// until `main` closes, in PASSIVE checkpoints (they never block the writer).
///
/// The bulk of each (the copy, the fsyncs) runs beside the bot's writes. A
/// commit that finds the whole WAL copied starts it again from its beginning;
/// under steady load, though, some commit always lands during the checkpoint,
/// and the WAL grows for as long as the load lasts: every commit appends to a
/// longer file (blocks for the file system to allocate, dearer than rewriting
/// cached ones) and a longer WAL index. So once it is past
/// `WAL_RESTART_PAGES`, a second checkpoint copies what came meanwhile with
/// the bot's connection held (about a millisecond), and its next commit
/// starts the WAL again.
pub(super) async fn checkpoint_wal(mut checkpointer: AnyConnection, main: Database) {
    // The first one after a full period, not at once: a start that is about to
    // fail (a read-only file) should say why in one line, not race a checkpoint.
    let first = tokio::time::Instant::now() + WAL_CHECKPOINT_EVERY;
    let mut every = tokio::time::interval_at(first, WAL_CHECKPOINT_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The WAL's length when last copied whole with the writes held: if it is
    // still that, nothing was written since (the restart waits for a commit).
    let mut settled = None;
    while !main.is_closed() {
        every.tick().await;
        match checkpoint(&mut checkpointer).await {
            Ok(wal) if wal.frames < WAL_RESTART_PAGES || (wal.is_copied() && settled == Some(wal.frames)) => continue,
            Ok(_) => {}
            Err(error) => {
                tracing::debug!(%error, "WAL checkpoint failed; trying again");
                continue;
            }
        }
        // The bot's one connection: no statement of the bot's runs while it is held.
        let Ok(_writes_held) = main.conn().await else { break };
        match checkpoint(&mut checkpointer).await {
            // Not whole while another process (an operator's `sqlite3`) reads.
            Ok(wal) => settled = wal.is_copied().then_some(wal.frames),
            Err(error) => tracing::debug!(%error, "WAL checkpoint failed; trying again"),
        }
    }
    let _ = checkpointer.close().await;
}

/// What a checkpoint left: the WAL's length, and how much of it is now in the
/// database file, in pages.
#[derive(Debug)]
struct Wal {
    frames: i64,
    copied: i64,
}

impl Wal {
    fn is_copied(&self) -> bool {
        self.frames == self.copied
    }
}

async fn checkpoint(checkpointer: &mut AnyConnection) -> sqlx::Result<Wal> {
    let row = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(checkpointer).await?;
    Ok(Wal { frames: row.try_get(1)?, copied: row.try_get(2)? })
}

#[cfg(test)]
mod tests;
