//! What the watcher needs: one heartbeat per replica and task leases that name
//! a replica, so that each open task is followed by exactly one process; the
//! tasks to follow, progress, and the delivery hand-off.

use super::{Store, StoreResult, TASK_COLUMNS, now_ms, open_states_sql, task_from_row};
use crate::task::{Task, TaskState};

/// A live replica and the open tasks it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveReplica {
    pub id: String,
    pub holds: u64,
}

/// When a round's tasks are polled next: each at `earliest` plus its own offset
/// in `0..spread` ms, `(id * 7919 + salt) % spread`, so tasks taken together do
/// not come due together again.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub earliest: i64,
    pub spread: i64,
    pub salt: i64,
}

impl Schedule {
    /// Every task `after_ms` from now, no spread (tests).
    pub fn fixed(after_ms: i64) -> Self {
        Schedule { earliest: now_ms() + after_ms, spread: 1, salt: 0 }
    }

    /// Unix ms of task `id`'s next poll.
    pub fn at(&self, id: i64) -> i64 {
        self.earliest + (id.wrapping_mul(7919).wrapping_add(self.salt)).rem_euclid(self.spread.max(1))
    }
}

/// A lease is free when nobody holds it, when its replica's heartbeat is older
/// than `$stale` (a bind parameter), or when it is a lease from before
/// heartbeats (`lease_until` set) that ran out by `$now`. A lease taken now
/// names a replica whose heartbeat is fresh, so when two replicas race for a
/// row, PostgreSQL re-checks this against the first one's claim and the second
/// gets nothing.
fn free_lease_sql(stale: &str, now: &str) -> String {
    format!(
        "(lease_owner IS NULL OR lease_owner IN (SELECT id FROM replicas WHERE heartbeat_at < {stale}) \
         OR (lease_until IS NOT NULL AND lease_until < {now}))"
    )
}

impl Store {
    /// Says this replica is alive: one row written, whatever the number of
    /// tasks it holds.
    pub async fn heartbeat(&self, replica: &str) -> StoreResult<()> {
        let now = now_ms();
        let query = sqlx::query(
            "INSERT INTO replicas (id, heartbeat_at, started_at) VALUES ($1, $2, $2) \
             ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
        )
        .bind(replica)
        .bind(now);
        self.write(query).await?;
        Ok(())
    }

    /// On a clean stop: the others stop counting this replica at once.
    pub async fn retire(&self, replica: &str) -> StoreResult<()> {
        self.write(sqlx::query("UPDATE replicas SET heartbeat_at = 0 WHERE id = $1").bind(replica)).await?;
        Ok(())
    }

    /// The replicas whose heartbeat is not older than `fresh_since`, by id,
    /// with how many open tasks each holds. Only open tasks have an owner (every
    /// end clears it), so this counts entries of the owner index alone, without
    /// reading a row; the few `submitting` ones are about to run.
    pub async fn live_replicas(&self, fresh_since: i64) -> StoreResult<Vec<LiveReplica>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT id, (SELECT COUNT(*) FROM tasks WHERE lease_owner = replicas.id) AS holds \
             FROM replicas WHERE heartbeat_at >= $1 ORDER BY id",
        )
        .bind(fresh_since)
        .fetch_all(&mut self.db.conn().await?)
        .await?;
        Ok(rows.into_iter().map(|(id, holds)| LiveReplica { id, holds: holds.max(0) as u64 }).collect())
    }

    /// Takes the created open tasks whose lease is free (see `free_lease_sql`;
    /// `stale_before`: a heartbeat older than this is a dead replica's) and
    /// returns how many it took. Our own rows are not rewritten: our heartbeat
    /// keeps them. Another replica's `submitting` row is never taken: once that
    /// replica is dead, its create was cut off (`expire_cut_off_creates`).
    pub async fn claim_open_tasks(&self, owner: &str, stale_before: i64) -> StoreResult<u64> {
        let sql = format!(
            "UPDATE tasks SET lease_owner = $1, lease_until = NULL \
             WHERE state IN ({}) AND state <> $4 AND (lease_owner IS NULL OR lease_owner <> $1) AND {}",
            open_states_sql(),
            free_lease_sql("$2", "$3")
        );
        let query =
            sqlx::query(&sql).bind(owner).bind(stale_before).bind(now_ms()).bind(TaskState::Submitting.as_str());
        self.write(query).await
    }

    /// Takes every created open task that is not ours yet, whatever its lease
    /// says, and returns how many it took. Only for a single-process
    /// deployment (SQLite): a lease left by our own previous run (killed
    /// without releasing it) would otherwise hold its tasks back. Rows already
    /// ours are not rewritten.
    pub async fn take_over_all(&self, owner: &str) -> StoreResult<u64> {
        let sql = format!(
            "UPDATE tasks SET lease_owner = $1, lease_until = NULL \
             WHERE state IN ({}) AND state <> $2 AND (lease_owner IS NULL OR lease_owner <> $1)",
            open_states_sql()
        );
        self.write(sqlx::query(&sql).bind(owner).bind(TaskState::Submitting.as_str())).await
    }

    /// On a clean stop: let another replica (or our next start) take over at once.
    pub async fn release_leases(&self, owner: &str) -> StoreResult<()> {
        sqlx::query("UPDATE tasks SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1")
            .bind(owner)
            .execute(&mut self.db.conn().await?)
            .await?;
        Ok(())
    }

    /// Our running and delivering tasks with their stored next poll time: what
    /// the polling schedule is rebuilt from at start and after a take-over.
    pub async fn owned_open_tasks(&self, owner: &str) -> StoreResult<Vec<(i64, i64)>> {
        Ok(sqlx::query_as(
            "SELECT id, next_poll_at FROM tasks WHERE lease_owner = $1 AND state IN ($2, $3) ORDER BY next_poll_at",
        )
        .bind(owner)
        .bind(TaskState::Running.as_str())
        .bind(TaskState::Delivering.as_str())
        .fetch_all(&mut self.db.conn().await?)
        .await?)
    }

    /// The tasks among `ids` that are still ours and running or delivering: a
    /// task that ended, or that another replica took over, is left out.
    pub async fn owned_tasks(&self, owner: &str, ids: &[i64]) -> StoreResult<Vec<Task>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // Ids are integers from our own schedule.
        let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
        let rows = sqlx::query(&format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE id IN ({list}) AND lease_owner = $1 AND state IN ($2, $3)"
        ))
        .bind(owner)
        .bind(TaskState::Running.as_str())
        .bind(TaskState::Delivering.as_str())
        .fetch_all(&mut self.db.conn().await?)
        .await?;
        rows.iter().map(task_from_row).collect()
    }

    /// The tasks this process marked created since the last call, with their
    /// first poll time.
    pub fn take_created(&self) -> Vec<(i64, i64)> {
        std::mem::take(&mut *self.created.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub async fn record_progress(&self, id: i64, upstream_status: &str, progress_pct: Option<u8>) -> StoreResult<()> {
        let query =
            sqlx::query("UPDATE tasks SET upstream_status = $1, progress_pct = $2, updated_at = $3 WHERE id = $4")
                .bind(upstream_status)
                .bind(progress_pct.map(i64::from))
                .bind(now_ms())
                .bind(id);
        self.write(query).await?;
        Ok(())
    }

    pub async fn mark_shown(&self, id: i64, text: &str) -> StoreResult<()> {
        self.write(
            sqlx::query("UPDATE tasks SET shown_text = $1, shown_at = $2 WHERE id = $3")
                .bind(text)
                .bind(now_ms())
                .bind(id),
        )
        .await?;
        Ok(())
    }

    /// Running → delivering with the video URL, once.
    pub async fn begin_delivery(&self, id: i64, upstream_status: &str, video_url: &str) -> StoreResult<bool> {
        let query = sqlx::query(
            "UPDATE tasks SET state = $1, upstream_status = $2, video_url = $3, progress_pct = 100, updated_at = $4 \
             WHERE id = $5 AND state = $6",
        )
        .bind(TaskState::Delivering.as_str())
        .bind(upstream_status)
        .bind(video_url)
        .bind(now_ms())
        .bind(id)
        .bind(TaskState::Running.as_str());
        Ok(self.write(query).await? == 1)
    }

    /// Creates cut off by a crash: rows left `submitting` by a process that is
    /// gone, so their answer can never be stored. On SQLite only one process
    /// uses the file, so every such row from before this process `started_at`
    /// is one; on PostgreSQL a row whose lease is free (its replica's heartbeat
    /// is older than `stale_before`; a live replica keeps beating while its
    /// create is in flight) is one. They become `unknown` (never created again)
    /// and are returned so their users can be told.
    /// One whose hold is already over (created at or before `held_until`: the
    /// bot was down longer) is marked told at once, since the message about
    /// the cut-off says everything the end of the hold would.
    pub async fn expire_cut_off_creates(
        &self,
        started_at: i64,
        held_until: i64,
        stale_before: i64,
    ) -> StoreResult<Vec<Task>> {
        let (condition, bound) = if self.shared_writers {
            (free_lease_sql("$3", "$2"), now_ms())
        } else {
            ("created_at < $2 AND $3 = $3".to_owned(), started_at)
        };
        let rows = sqlx::query(&format!("SELECT {TASK_COLUMNS} FROM tasks WHERE state = $1 AND {condition}"))
            .bind(TaskState::Submitting.as_str())
            .bind(bound)
            .bind(stale_before)
            .fetch_all(&mut self.db.conn().await?)
            .await?;
        let mut expired = Vec::new();
        for row in &rows {
            let task = task_from_row(row)?;
            let now = now_ms();
            let told = (task.created_at <= held_until).then_some(now);
            let query = sqlx::query(
                "UPDATE tasks SET state = $1, updated_at = $2, lease_owner = NULL, unknown_told_at = $3 \
                 WHERE id = $4 AND state = $5",
            )
            .bind(TaskState::Unknown.as_str())
            .bind(now)
            .bind(told)
            .bind(task.id)
            .bind(TaskState::Submitting.as_str());
            if self.write(query).await? == 1 {
                expired.push(task);
            }
        }
        Ok(expired)
    }

    /// How many tasks are open, everyone together: the `open_count` row the
    /// triggers keep, not a count of the rows (this runs at every lease
    /// renewal and every metrics scrape).
    pub async fn count_open(&self) -> StoreResult<i64> {
        use sqlx::Row;
        let row = sqlx::query("SELECT n FROM open_count WHERE id = 1").fetch_one(&mut self.db.conn().await?).await?;
        Ok(row.try_get("n")?)
    }
}

#[cfg(test)]
mod tests {
    use crate::{
        command::{Shape, Size, VideoOptions},
        config::Limits,
        store::{Guards, Lease, LiveReplica, Reservation, Store, now_ms},
        task::{NewTask, TaskState},
        test_support,
    };

    /// A heartbeat older than this is a dead replica's (the lease time).
    const TTL: i64 = 30_000;

    fn guards(lease: Lease<'_>) -> Guards<'_> {
        Guards { limits: &Limits::ROOMY, exempt: false, unknown_active_since: 0, lease, cost: 1 }
    }

    fn request(msg: i32) -> NewTask {
        NewTask {
            chat_id: 5,
            user_id: 5,
            command_msg_id: msg,
            lang: crate::lang::Lang::Zh,
            prompt: "p".into(),
            options: VideoOptions {
                model: crate::models::ModelName::fixed("sora-2-pro"),
                shape: Shape::PORTRAIT,
                size: Some(Size::Large),
                duration: Some(25),
            },
            image_file_ids: vec![],
        }
    }

    async fn reserved(store: &Store, msg: i32, owner: &str) -> i64 {
        let Reservation::Reserved(id) = store.reserve(&request(msg), &guards(Lease { owner })).await.unwrap() else {
            panic!()
        };
        id
    }

    async fn created(store: &Store, msg: i32, owner: &str) -> i64 {
        let id = reserved(store, msg, owner).await;
        store.mark_created(id, &request(msg), &format!("up-{id}"), "pending", 0).await.unwrap();
        id
    }

    /// Makes `replica`'s last heartbeat a long time ago, as when it was killed.
    async fn die(store: &Store, replica: &str) {
        store.heartbeat(replica).await.unwrap();
        sqlx::query("UPDATE replicas SET heartbeat_at = 1 WHERE id = $1")
            .bind(replica)
            .execute(&mut store.db.conn().await.unwrap())
            .await
            .unwrap();
    }

    fn ids(tasks: &[crate::task::Task]) -> Vec<i64> {
        tasks.iter().map(|t| t.id).collect()
    }

    async fn story(store: Store) {
        store.heartbeat("replica-a").await.unwrap();
        store.heartbeat("replica-b").await.unwrap();
        let a = created(&store, 1, "replica-a").await;
        let b = created(&store, 2, "replica-b").await;
        assert_eq!(store.take_created(), vec![(a, 0), (b, 0)], "what this process created, once");
        assert!(store.take_created().is_empty());
        let stale = now_ms() - TTL;
        // Each replica keeps what it created; nobody steals a live lease, and
        // our own leases are not rewritten.
        assert_eq!(store.claim_open_tasks("replica-a", stale).await.unwrap(), 0);
        assert_eq!(store.owned_open_tasks("replica-a").await.unwrap(), vec![(a, 0)]);
        assert_eq!(ids(&store.owned_tasks("replica-a", &[a, b]).await.unwrap()), vec![a], "b is not ours");
        let live = |pairs: &[(&str, u64)]| {
            pairs.iter().map(|(id, holds)| LiveReplica { id: (*id).to_owned(), holds: *holds }).collect::<Vec<_>>()
        };
        assert_eq!(store.live_replicas(stale).await.unwrap(), live(&[("replica-a", 1), ("replica-b", 1)]));
        // Replica b stops cleanly: a takes its task over at once.
        store.release_leases("replica-b").await.unwrap();
        store.retire("replica-b").await.unwrap();
        assert_eq!(store.live_replicas(stale).await.unwrap(), live(&[("replica-a", 1)]));
        assert_eq!(store.claim_open_tasks("replica-a", stale).await.unwrap(), 1);
        assert_eq!(ids(&store.owned_tasks("replica-a", &[b]).await.unwrap()), vec![b]);

        store.record_progress(a, "processing", Some(42)).await.unwrap();
        assert!(store.begin_delivery(a, "completed", "https://v/1.mp4").await.unwrap());
        assert!(!store.begin_delivery(a, "completed", "https://v/1.mp4").await.unwrap(), "delivery starts once");
        let task = store.task(a).await.unwrap().unwrap();
        assert_eq!(
            (task.state, task.video_url.as_deref(), task.progress_pct),
            (TaskState::Delivering, Some("https://v/1.mp4"), Some(100))
        );
        assert_eq!(store.count_open().await.unwrap(), 2);
        assert_eq!(store.live_replicas(stale).await.unwrap(), live(&[("replica-a", 2)]));
        store.end_task(b, TaskState::Done, None).await.unwrap();
        assert_eq!(ids(&store.owned_tasks("replica-a", &[a, b]).await.unwrap()), vec![a], "ended: left out");
        assert_eq!(store.live_replicas(stale).await.unwrap(), live(&[("replica-a", 1)]), "an ended task has no owner");

        // A row stuck in `submitting` by a replica that died mid-create
        // becomes unknown once, and is never taken.
        die(&store, "replica-dead").await;
        let cut_off = reserved(&store, 3, "replica-dead").await;
        assert_eq!(store.claim_open_tasks("replica-a", now_ms() - TTL).await.unwrap(), 0);
        let expired = store.expire_cut_off_creates(now_ms() + 1, 0, now_ms() - TTL).await.unwrap();
        assert_eq!(ids(&expired), vec![cut_off]);
        assert!(store.expire_cut_off_creates(now_ms() + 1, 0, now_ms() - TTL).await.unwrap().is_empty());
        assert_eq!(store.task(cut_off).await.unwrap().unwrap().state, TaskState::Unknown);

        // A create in flight on a live replica is neither taken nor expired.
        store.heartbeat("replica-b").await.unwrap();
        let live = reserved(&store, 4, "replica-b").await;
        assert_eq!(store.claim_open_tasks("replica-a", now_ms() - TTL).await.unwrap(), 0);
        assert!(
            store.expire_cut_off_creates(0, 0, now_ms() - TTL).await.unwrap().is_empty(),
            "SQLite: created after this process started; PostgreSQL: its replica beats"
        );
        assert_eq!(store.task(live).await.unwrap().unwrap().state, TaskState::Submitting);
    }

    async fn take_over(store: Store) {
        let a = created(&store, 1, "dead-process").await;
        assert_eq!(store.claim_open_tasks("me", now_ms() - TTL).await.unwrap(), 0, "never seen dead: respected");
        assert_eq!(store.take_over_all("me").await.unwrap(), 1);
        assert_eq!(store.take_over_all("me").await.unwrap(), 0, "already ours: not rewritten");
        assert_eq!(ids(&store.owned_tasks("me", &[a]).await.unwrap()), vec![a]);
        store.end_task(a, TaskState::Done, None).await.unwrap();
        assert_eq!(store.take_over_all("me").await.unwrap(), 0, "closed tasks are left alone");
    }

    #[tokio::test]
    async fn take_over_on_sqlite() {
        let (store, _dir) = test_support::sqlite().await;
        take_over(store).await;
    }

    #[tokio::test]
    async fn take_over_on_postgres() {
        take_over(test_support::postgres().await).await;
    }

    #[tokio::test]
    async fn leases_and_delivery_on_sqlite() {
        let (store, _dir) = test_support::sqlite().await;
        story(store).await;
    }

    #[tokio::test]
    async fn leases_and_delivery_on_postgres() {
        story(test_support::postgres().await).await;
    }

    /// A lease from before heartbeats (`lease_until` set) holds until then.
    #[tokio::test]
    async fn a_lease_from_before_heartbeats_holds_until_it_runs_out() {
        let store = test_support::postgres().await;
        let id = created(&store, 1, "old-version").await;
        let set = |until: i64| sqlx::query("UPDATE tasks SET lease_until = $1 WHERE id = $2").bind(until).bind(id);
        set(now_ms() + 60_000).execute(&mut store.db.conn().await.unwrap()).await.unwrap();
        assert_eq!(store.claim_open_tasks("me", now_ms() - TTL).await.unwrap(), 0);
        set(now_ms() - 1).execute(&mut store.db.conn().await.unwrap()).await.unwrap();
        assert_eq!(store.claim_open_tasks("me", now_ms() - TTL).await.unwrap(), 1);
    }

    /// 3,000 tasks of a replica that died, and three live replicas taking over
    /// at the same moment, twice: each task gets exactly one new owner, and
    /// the heartbeats and take-overs rewrite nothing else.
    #[tokio::test]
    async fn a_dead_replicas_tasks_are_taken_over_exactly_once() {
        let store = test_support::postgres().await;
        die(&store, "dead").await;
        let rows = (1..=3_000)
            .map(|id| {
                format!(
                    "({id}, 5, 5, {id}, 'en', 'p', 'sora-2', 'portrait', 'large', 15, '[]', 'up-{id}', 'running', 0, 0, 0, 0, 'dead')"
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        sqlx::query(&format!(
            "INSERT INTO tasks (id, chat_id, user_id, command_msg_id, lang, prompt, model, orientation, size, duration, \
             image_file_ids, upstream_id, state, created_at, updated_at, day, next_poll_at, lease_owner) VALUES {rows}"
        ))
        .execute(&mut store.db.conn().await.unwrap())
        .await
        .unwrap();
        for live in ["x", "y", "z"] {
            store.heartbeat(live).await.unwrap();
        }
        let claim = |owner: &'static str| {
            let store = store.clone();
            tokio::spawn(async move { store.claim_open_tasks(owner, now_ms() - TTL).await.unwrap() })
        };
        let (x, y, z) = (claim("x"), claim("y"), claim("z"));
        let (x, y, z) = (x.await.unwrap(), y.await.unwrap(), z.await.unwrap());
        assert_eq!(x + y + z, 3_000, "{x} + {y} + {z}");
        let (x2, y2, z2) = (claim("x"), claim("y"), claim("z"));
        assert_eq!(x2.await.unwrap() + y2.await.unwrap() + z2.await.unwrap(), 0, "nothing taken twice");
        let mut owned = 0;
        for live in ["x", "y", "z"] {
            owned += store.owned_open_tasks(live).await.unwrap().len() as u64;
        }
        assert_eq!(owned, 3_000);
    }
}
