//! What the watcher needs: leases so that each open task is followed by exactly
//! one process, due tasks, progress, and the delivery hand-off.

use super::{Store, StoreResult, TASK_COLUMNS, now_ms, open_states_sql, task_from_row};
use crate::task::{Task, TaskState};

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
}

impl Store {
    /// Renews our own leases (a `submitting` row's too: that is how other
    /// replicas know its create is still in flight) and takes the created tasks
    /// that are free or whose lease ran out. Another replica's `submitting` row
    /// is never taken: once its lease runs out, its create was cut off
    /// (`expire_cut_off_creates`). The lease condition sits in the UPDATE's own
    /// WHERE, so PostgreSQL re-checks it against a row another replica just
    /// claimed and the second claimer gets nothing.
    pub async fn claim_open_tasks(&self, owner: &str, lease_until: i64) -> StoreResult<u64> {
        let sql = format!(
            "UPDATE tasks SET lease_owner = $1, lease_until = $2 \
             WHERE state IN ({}) AND (lease_owner = $1 OR (state <> $4 AND (lease_owner IS NULL OR lease_until < $3)))",
            open_states_sql()
        );
        let query = sqlx::query(&sql).bind(owner).bind(lease_until).bind(now_ms()).bind(TaskState::Submitting.as_str());
        self.write(query).await
    }

    /// Takes every created open task that is not ours yet, whatever its lease
    /// says, and returns how many it took. Only for a single-process
    /// deployment (SQLite): a lease left by our own previous run (killed
    /// without releasing it) would otherwise hold its tasks back until it ran
    /// out. Rows already ours are not rewritten.
    pub async fn take_over_all(&self, owner: &str, lease_until: i64) -> StoreResult<u64> {
        let sql = format!(
            "UPDATE tasks SET lease_owner = $1, lease_until = $2 \
             WHERE state IN ({}) AND state <> $3 AND (lease_owner IS NULL OR lease_owner <> $1)",
            open_states_sql()
        );
        let query = sqlx::query(&sql).bind(owner).bind(lease_until).bind(TaskState::Submitting.as_str());
        self.write(query).await
    }

    /// On a clean stop: let another replica (or our next start) take over at once.
    pub async fn release_leases(&self, owner: &str) -> StoreResult<()> {
        sqlx::query("UPDATE tasks SET lease_owner = NULL, lease_until = 0 WHERE lease_owner = $1")
            .bind(owner)
            .execute(&mut *self.db.conn().await?)
            .await?;
        Ok(())
    }

    /// At most `limit` open, created tasks of ours whose next poll is due, the
    /// longest-due first; each one's next poll is set per `next` so the next round
    /// skips it.
    pub async fn take_due_tasks(&self, owner: &str, limit: i64, next: &Schedule) -> StoreResult<Vec<Task>> {
        let now = now_ms();
        let rows = sqlx::query(&format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE lease_owner = $1 AND state IN ($2, $3) AND next_poll_at <= $4 \
             ORDER BY next_poll_at LIMIT $5"
        ))
        .bind(owner)
        .bind(TaskState::Running.as_str())
        .bind(TaskState::Delivering.as_str())
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *self.db.conn().await?)
        .await?;
        let tasks = rows.iter().map(task_from_row).collect::<StoreResult<Vec<_>>>()?;
        if !tasks.is_empty() {
            // One statement for the whole round; ids are integers we just read.
            let ids = tasks.iter().map(|t| t.id.to_string()).collect::<Vec<_>>().join(", ");
            sqlx::query(&format!("UPDATE tasks SET next_poll_at = $1 + (id * 7919 + $2) % $3 WHERE id IN ({ids})"))
                .bind(next.earliest)
                .bind(next.salt)
                .bind(next.spread.max(1))
                .execute(&mut *self.db.conn().await?)
                .await?;
        }
        Ok(tasks)
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
    /// is one; on PostgreSQL a row whose lease ran out is one (its replica
    /// renews the lease while its create is in flight). They become `unknown`
    /// (never created again) and are returned so their users can be told.
    /// One whose hold is already over (created at or before `held_until`: the
    /// bot was down longer) is marked told at once, since the message about
    /// the cut-off says everything the end of the hold would.
    pub async fn expire_cut_off_creates(&self, started_at: i64, held_until: i64) -> StoreResult<Vec<Task>> {
        let (condition, bound) = if self.shared_writers {
            ("(lease_owner IS NULL OR lease_until < $2)", now_ms())
        } else {
            ("created_at < $2", started_at)
        };
        let rows = sqlx::query(&format!("SELECT {TASK_COLUMNS} FROM tasks WHERE state = $1 AND {condition}"))
            .bind(TaskState::Submitting.as_str())
            .bind(bound)
            .fetch_all(&mut *self.db.conn().await?)
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

    pub async fn count_open(&self) -> StoreResult<i64> {
        use sqlx::Row;
        let row = sqlx::query(&format!("SELECT COUNT(*) AS n FROM tasks WHERE state IN ({})", open_states_sql()))
            .fetch_one(&mut *self.db.conn().await?)
            .await?;
        Ok(row.try_get("n")?)
    }
}

#[cfg(test)]
mod tests {
    use crate::{
        command::{Shape, Size, VideoOptions},
        config::Limits,
        store::{Guards, Lease, Reservation, Schedule, Store, now_ms, test_support},
        task::{NewTask, TaskState},
    };

    fn guards(lease: Lease<'_>) -> Guards<'_> {
        Guards { limits: &Limits::ROOMY, exempt: false, unknown_active_since: 0, lease, cost: 1 }
    }

    async fn created(store: &Store, msg: i32, owner: &str) -> i64 {
        let new = NewTask {
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
        };
        let Reservation::Reserved(id) =
            store.reserve(&new, &guards(Lease { owner, until: now_ms() + 60_000 })).await.unwrap()
        else {
            panic!()
        };
        store.mark_created(id, &format!("up-{id}"), "pending", 0).await.unwrap();
        id
    }

    async fn story(store: Store) {
        let a = created(&store, 1, "replica-a").await;
        let b = created(&store, 2, "replica-b").await;
        let far = now_ms() + 60_000;
        // Each replica keeps what it created; nobody steals a live lease.
        assert_eq!(store.claim_open_tasks("replica-a", far).await.unwrap(), 1);
        let due_a = store.take_due_tasks("replica-a", 10, &Schedule::fixed(60_000)).await.unwrap();
        assert_eq!(due_a.iter().map(|t| t.id).collect::<Vec<_>>(), vec![a]);
        assert!(
            store.take_due_tasks("replica-a", 10, &Schedule::fixed(60_000)).await.unwrap().is_empty(),
            "not due again until the next interval"
        );
        // Replica b stops cleanly: a takes its task over.
        store.release_leases("replica-b").await.unwrap();
        assert_eq!(store.claim_open_tasks("replica-a", far).await.unwrap(), 2);
        let due_b = store.take_due_tasks("replica-a", 10, &Schedule::fixed(60_000)).await.unwrap();
        assert_eq!(due_b.iter().map(|t| t.id).collect::<Vec<_>>(), vec![b]);

        store.record_progress(a, "processing", Some(42)).await.unwrap();
        assert!(store.begin_delivery(a, "completed", "https://v/1.mp4").await.unwrap());
        assert!(!store.begin_delivery(a, "completed", "https://v/1.mp4").await.unwrap(), "delivery starts once");
        let task = store.task(a).await.unwrap().unwrap();
        assert_eq!(
            (task.state, task.video_url.as_deref(), task.progress_pct),
            (TaskState::Delivering, Some("https://v/1.mp4"), Some(100))
        );
        assert_eq!(store.count_open().await.unwrap(), 2);

        // A row stuck in `submitting` (crash mid-create) becomes unknown once.
        let new = NewTask {
            command_msg_id: 3,
            ..NewTask {
                chat_id: 5,
                user_id: 5,
                command_msg_id: 0,
                lang: crate::lang::Lang::En,
                prompt: "q".into(),
                options: task.options,
                image_file_ids: vec![],
            }
        };
        store.reserve(&new, &guards(Lease { owner: "replica-a", until: 0 })).await.unwrap();
        let expired = store.expire_cut_off_creates(now_ms() + 1, 0).await.unwrap();
        assert_eq!(expired.len(), 1);
        assert!(store.expire_cut_off_creates(now_ms() + 1, 0).await.unwrap().is_empty());
        assert_eq!(store.task(expired[0].id).await.unwrap().unwrap().state, TaskState::Unknown);

        // A create in flight on a live replica is neither taken nor expired.
        let in_flight = NewTask { command_msg_id: 4, ..new };
        let Reservation::Reserved(live) =
            store.reserve(&in_flight, &guards(Lease { owner: "replica-b", until: far })).await.unwrap()
        else {
            panic!()
        };
        assert_eq!(store.claim_open_tasks("replica-a", far).await.unwrap(), 2, "only its own two tasks");
        assert!(
            store.expire_cut_off_creates(0, 0).await.unwrap().is_empty(),
            "SQLite: created after this process started; PostgreSQL: leased"
        );
        let task = store.task(live).await.unwrap().unwrap();
        assert_eq!(task.state, TaskState::Submitting);
    }

    async fn take_over(store: Store) {
        let a = created(&store, 1, "dead-process").await;
        assert_eq!(store.claim_open_tasks("me", now_ms() + 60_000).await.unwrap(), 0, "a live lease is respected");
        assert_eq!(store.take_over_all("me", now_ms() + 60_000).await.unwrap(), 1);
        assert_eq!(store.take_over_all("me", now_ms() + 60_000).await.unwrap(), 0, "already ours: not rewritten");
        assert_eq!(
            store
                .take_due_tasks("me", 10, &Schedule::fixed(60_000))
                .await
                .unwrap()
                .iter()
                .map(|t| t.id)
                .collect::<Vec<_>>(),
            vec![a]
        );
        store.end_task(a, TaskState::Done, None).await.unwrap();
        assert_eq!(store.take_over_all("me", now_ms() + 60_000).await.unwrap(), 0, "closed tasks are left alone");
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

    /// 10,000 running tasks of "me", due at distinct past times in an order
    /// unrelated to their ids; returns each id's due time.
    async fn many_due(store: &Store) -> std::collections::HashMap<i64, i64> {
        let base = now_ms() - 1_000_000;
        let due_at = |id: i64| base + (id * 7703) % 10_000 * 10;
        for chunk in (1..=10_000_i64).collect::<Vec<_>>().chunks(500) {
            let rows = chunk
                .iter()
                .map(|id| {
                    format!(
                        "({id}, 5, 5, {id}, 'en', 'p', 'sora-2', 'portrait', 'large', 15, '[]', 'up-{id}', 'running', 0, 0, 0, {}, 'me', {})",
                        due_at(*id),
                        now_ms() + 600_000
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            sqlx::query(&format!(
                "INSERT INTO tasks (id, chat_id, user_id, command_msg_id, lang, prompt, model, orientation, size, duration, \
                 image_file_ids, upstream_id, state, created_at, updated_at, day, next_poll_at, lease_owner, lease_until) VALUES {rows}"
            ))
            .execute(&mut *store.db.conn().await.unwrap())
            .await
            .unwrap();
        }
        (1..=10_000).map(|id| (id, due_at(id))).collect()
    }

    /// A rate of 400 queries/s with one-second rounds takes 400 a round, the
    /// longest-due first, and schedules each within the jitter window.
    async fn rate_sized_batches(store: Store) {
        let due_at = many_due(&store).await;
        let next = Schedule { earliest: now_ms() + 30_000, spread: 6_000, salt: 17 };
        let mut taken = Vec::new();
        for round in 0..25 {
            let batch = store.take_due_tasks("me", 400, &next).await.unwrap();
            assert_eq!(batch.len(), 400, "round {round}");
            taken.extend(batch.iter().map(|t| due_at[&t.id]));
        }
        assert!(store.take_due_tasks("me", 400, &next).await.unwrap().is_empty(), "every task taken once");
        assert!(taken.windows(2).all(|w| w[0] < w[1]), "in next_poll_at order");
        let rows = sqlx::query("SELECT MIN(next_poll_at) AS lo, MAX(next_poll_at) AS hi FROM tasks")
            .fetch_one(&mut *store.db.conn().await.unwrap())
            .await
            .unwrap();
        let (lo, hi): (i64, i64) = (sqlx::Row::get(&rows, "lo"), sqlx::Row::get(&rows, "hi"));
        assert!(lo >= next.earliest && hi < next.earliest + next.spread, "{lo}..{hi}");
        assert!(hi - lo > 5_000, "spread over the window: {lo}..{hi}");
    }

    #[tokio::test]
    async fn ten_thousand_tasks_in_rate_sized_batches_on_sqlite() {
        let (store, _dir) = test_support::sqlite().await;
        rate_sized_batches(store).await;
    }

    #[tokio::test]
    async fn ten_thousand_tasks_in_rate_sized_batches_on_postgres() {
        rate_sized_batches(test_support::postgres().await).await;
    }
}
