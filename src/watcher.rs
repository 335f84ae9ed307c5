//! The background task that follows open tasks: polls the video API, edits each
//! task's status message, delivers finished videos and reports failures and
//! timeouts. Handlers never wait for a task (the dispatcher runs a chat's
//! updates one at a time, so a waiting handler would block the chat); this does.

mod decide;
mod follow;
mod rounds;

use std::{
    collections::HashSet,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use tokio_util::task::TaskTracker;

use decide::{Budget, NoVideoCounts, lease_ttl, millis, tick_every};
pub use decide::{DELIVERY_GIVE_UP, MIN_EDIT_GAP};
use rounds::Rounds;

use crate::{
    metrics,
    net_guard::GuardedClient,
    store::{Store, now_ms},
    telegram::Telegram,
    texts,
    video_api::VideoApi,
};

pub struct WatcherConfig {
    /// Lease owner name of this process (the same one handlers lease new tasks to).
    pub owner: String,
    pub poll_interval: Duration,
    pub task_timeout: Duration,
    /// How long a create with an unknown outcome holds its requester's slot
    /// (`Config::unknown_hold`); its requester is told when that ends.
    pub unknown_hold: Duration,
    /// Per process: the most task queries (or deliveries) started per second.
    /// Tasks followed at the same time are sized from it.
    pub queries_per_second: u32,
    /// SQLite: only one process, so take over every lease at start.
    pub exclusive: bool,
    /// What the buttons under a delivered video may offer.
    pub catalog: crate::models::Catalog,
}

/// The video API query rate of this process (`VIDEO_API_QUERIES_PER_SECOND`),
/// shared by the watcher's polls and the Refresh button, so presses cannot
/// push the queries past it.
#[derive(Clone)]
pub struct QueryBudget(Arc<Mutex<Budget>>);

impl QueryBudget {
    pub fn new(queries_per_second: u32, poll_interval: Duration) -> Self {
        let budget = Budget::new(queries_per_second.max(1), tick_every(poll_interval), std::time::Instant::now());
        QueryBudget(Arc::new(Mutex::new(budget)))
    }

    /// Takes one query if the rate allows it now.
    pub fn try_take(&self) -> bool {
        let mut budget = self.lock();
        let ok = budget.available(std::time::Instant::now()) >= 1;
        if ok {
            budget.spend(1);
        }
        ok
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Budget> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

pub struct Watcher {
    inner: Arc<Inner>,
    rounds: Rounds,
}

struct Inner {
    store: Store,
    api: VideoApi,
    telegram: Telegram,
    /// Video downloads: public addresses or the video API's own origin only.
    http: GuardedClient,
    config: WatcherConfig,
    /// Unix ms: on SQLite, a create still `submitting` from before this was
    /// cut off by the previous run's end.
    started_at: i64,
    /// SQLite only: the creates cut off before `started_at` were all reported,
    /// and no later one can be, so rounds stop looking.
    cut_off_reported: AtomicBool,
    /// Tasks being handled now. A delivery can outlast the poll interval, and a
    /// second one started meanwhile would send the video twice.
    in_flight: Mutex<HashSet<i64>>,
    /// "Done without a video" answers in a row per task; see `NoVideoCounts`
    /// for why memory (not the database) is enough.
    no_video: Mutex<NoVideoCounts>,
}

impl Watcher {
    /// Polls within `budget`, shared with whoever else queries the video API.
    pub fn with_budget(mut self, budget: QueryBudget) -> Self {
        self.rounds.budget = budget;
        self
    }

    pub fn new(store: Store, api: VideoApi, telegram: Telegram, http: GuardedClient, config: WatcherConfig) -> Self {
        let started_at = now_ms();
        let rounds = Rounds::new(&config);
        let no_video = Mutex::new(NoVideoCounts::new(config.task_timeout));
        Watcher {
            inner: Arc::new(Inner {
                store,
                api,
                telegram,
                http,
                config,
                started_at,
                cut_off_reported: AtomicBool::new(false),
                in_flight: Mutex::new(HashSet::new()),
                no_video,
            }),
            rounds,
        }
    }

    /// How long a lease lasts unless renewed: max(3 × poll interval, 30 s). The
    /// watcher renews every third of it; handlers lease new tasks for as long.
    pub fn lease_ttl(poll_interval: Duration) -> Duration {
        lease_ttl(poll_interval)
    }
}

/// Marks a task as being handled until dropped (also if its future panics).
struct InFlight {
    inner: Arc<Inner>,
    id: i64,
}

impl InFlight {
    fn enter(inner: &Arc<Inner>, id: i64) -> Option<Self> {
        let fresh = inner.in_flight.lock().unwrap_or_else(|e| e.into_inner()).insert(id);
        fresh.then(|| InFlight { inner: inner.clone(), id })
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.inner.in_flight.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.id);
    }
}

impl Inner {
    /// Renews our leases (and takes free or expired ones). Returns how many
    /// open tasks we hold, or `None` if the database failed.
    ///
    /// In exclusive mode (one process per database) nobody else reads our
    /// leases, so they are not renewed, which rewrote every open row each
    /// time; instead every open task not ours yet is taken: at the first call
    /// all of them, so a restart after a crash resumes at once instead of
    /// waiting for the dead process's leases to run out.
    async fn renew_leases(&self, ttl: Duration, taken_over: &mut bool) -> Option<u64> {
        let owner = &self.config.owner;
        let until = now_ms() + millis(ttl);
        let held = if self.config.exclusive {
            match self.store.take_over_all(owner, until).await {
                Ok(taken) => {
                    if !*taken_over {
                        tracing::info!(count = taken, "took over every open task");
                        *taken_over = true;
                    }
                    // Every open task is ours.
                    self.store.count_open().await.map(|open| open as u64)
                }
                Err(error) => Err(error),
            }
        } else {
            self.store.claim_open_tasks(owner, until).await
        };
        match held {
            Ok(count) => {
                let open = if self.config.exclusive { Ok(count as i64) } else { self.store.count_open().await };
                if let Ok(open) = open {
                    metrics::open_tasks(open);
                }
                Some(count)
            }
            Err(error) => {
                tracing::warn!(%error, "could not renew task leases");
                None
            }
        }
    }

    /// Tells the users of creates cut off by a crash that their video's state
    /// is unknown, as soon as that is certain (see `Store::expire_cut_off_creates`).
    async fn report_cut_off_creates(self: &Arc<Self>, tracker: &TaskTracker) {
        if self.cut_off_reported.load(Ordering::Relaxed) {
            return;
        }
        let expired = match self.store.expire_cut_off_creates(self.started_at, self.held_until()).await {
            Ok(expired) => {
                // PostgreSQL: another replica may die and leave one at any time.
                self.cut_off_reported.store(!self.store.is_shared(), Ordering::Relaxed);
                expired
            }
            Err(error) => {
                tracing::warn!(%error, "could not look for cut-off creates");
                return;
            }
        };
        for task in expired {
            tracing::warn!(
                task = task.id,
                "create was cut off by a crash or restart; outcome unknown, counted, not retried"
            );
            let inner = self.clone();
            // Spawned: a 429 wait must not hold up the round.
            tracker.spawn(async move {
                let text = texts::lost_after_restart(task.lang, &task);
                if let Err(error) = inner.telegram.reply(task.chat_id, task.command_msg_id, &text).await {
                    tracing::warn!(task = task.id, %error, "could not tell the user about the lost task");
                }
            });
        }
    }
}

impl Inner {
    /// Unknown outcomes created at or before this (unix ms) no longer hold a slot.
    fn held_until(&self) -> i64 {
        now_ms() - millis(self.config.unknown_hold)
    }

    /// Tells the requesters of unknown outcomes whose hold just ended that
    /// their slot is free and the video still counts for the day; once each,
    /// whichever replica gets there first (see `Store::end_unknown_holds`).
    async fn end_unknown_holds(self: &Arc<Self>, tracker: &TaskTracker) {
        let ended = match self.store.end_unknown_holds(self.held_until()).await {
            Ok(ended) => ended,
            Err(error) => {
                tracing::warn!(%error, "could not look for unknown outcomes whose hold ended");
                return;
            }
        };
        for task in ended {
            tracing::info!(
                task = task.id,
                chat_id = task.chat_id,
                user_id = task.user_id,
                "unknown outcome no longer holds its slot; still counted for the day; telling the requester"
            );
            let inner = self.clone();
            // Spawned: a 429 wait must not hold up the round.
            tracker.spawn(async move {
                let text = texts::unknown_hold_ended(task.lang, &task);
                if let Err(error) = inner.telegram.reply(task.chat_id, task.command_msg_id, &text).await {
                    tracing::warn!(task = task.id, chat_id = task.chat_id, %error, "could not tell the requester that an unknown outcome's slot is free");
                }
            });
        }
    }
}

#[cfg(test)]
mod tests;
