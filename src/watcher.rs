//! The background task that follows open tasks: polls the video API, edits each
//! task's status message, delivers finished videos and reports failures and
//! timeouts. Handlers never wait for a task (the dispatcher runs a chat's
//! updates one at a time, so a waiting handler would block the chat); this does.

mod decide;
mod follow;
mod rounds;
mod timetable;

use std::{
    collections::HashSet,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use tokio_util::task::TaskTracker;
use tracing::Instrument;

use decide::{Budget, NoVideoCounts};
pub use decide::{DELIVERY_GIVE_UP, MIN_EDIT_GAP, lease_ttl};
use rounds::Rounds;

use crate::{
    net_guard::GuardedClient,
    store::{Store, now_ms},
    telegram::Telegram,
    texts,
    video_api::VideoApi,
};

pub struct WatcherConfig {
    /// This replica's id: its heartbeat row, and the lease owner of its tasks
    /// (the same one handlers lease new tasks to).
    pub owner: String,
    pub poll_interval: Duration,
    pub task_timeout: Duration,
    /// How long a create with an unknown outcome holds its requester's slot
    /// (`Config::unknown_hold`); its requester is told when that ends.
    pub unknown_hold: Duration,
    /// For the whole deployment: the most task queries (or deliveries) started
    /// per second by all live replicas together. Tasks followed at the same
    /// time are sized from it.
    pub queries_per_second: u32,
    /// SQLite: only one process, so take over every lease at start.
    pub exclusive: bool,
    /// What the buttons under a delivered video may offer.
    pub catalog: crate::models::Catalog,
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
    /// Polls within `budget`, shared with whoever else on this replica queries
    /// the video API (the Refresh button).
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
}

/// This replica's query bucket: the watcher's polls and the Refresh button's
/// queries draw from it, so together they stay within this replica's share of
/// `VIDEO_API_QUERIES_PER_SECOND`.
#[derive(Clone)]
pub struct QueryBudget(Arc<Mutex<Budget>>);

impl QueryBudget {
    /// `rate` per second to begin with (the watcher sets this replica's share
    /// at its first round); saves up at most one watcher tick's worth.
    pub fn new(rate: u32, poll_interval: Duration) -> Self {
        let round = decide::tick_every(poll_interval);
        QueryBudget(Arc::new(Mutex::new(Budget::new(rate.max(1), round, Instant::now()))))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Budget> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes one query if there is one to take now.
    pub fn try_take(&self) -> bool {
        let mut budget = self.lock();
        let available = budget.available(Instant::now()) > 0;
        if available {
            budget.spend(1);
        }
        available
    }

    fn available(&self) -> usize {
        self.lock().available(Instant::now())
    }

    fn spend(&self, queries: usize) {
        self.lock().spend(queries);
    }

    fn gap(&self) -> Duration {
        self.lock().gap()
    }

    fn set_rate(&self, rate: f64, round: Duration) {
        self.lock().set_rate(rate, round);
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
    /// Tells the users of creates cut off by a crash that their video's state
    /// is unknown, as soon as that is certain (see `Store::expire_cut_off_creates`).
    async fn report_cut_off_creates(self: &Arc<Self>, tracker: &TaskTracker, stale_before: i64) {
        if self.cut_off_reported.load(Ordering::Relaxed) {
            return;
        }
        let expired = match self.store.expire_cut_off_creates(self.started_at, self.held_until(), stale_before).await {
            Ok(expired) => {
                self.cut_off_reported.store(!self.store.cut_off_creates_can_appear_later(), Ordering::Relaxed);
                expired
            }
            Err(error) => {
                tracing::warn!(%error, "could not look for cut-off creates");
                return;
            }
        };
        for task in expired {
            let span = tracing::error_span!("task", task = task.id);
            span.in_scope(|| {
                tracing::warn!("create was cut off by a crash or restart; outcome unknown, counted, not retried")
            });
            let inner = self.clone();
            // Spawned: a 429 wait must not hold up the round.
            tracker.spawn(
                async move {
                    let text = texts::lost_after_restart(task.lang, &task);
                    if let Err(error) = inner.telegram.reply(task.chat_id, task.command_msg_id, &text).await {
                        tracing::warn!(%error, "could not tell the user about the lost task");
                    }
                }
                .instrument(span),
            );
        }
    }
}

impl Inner {
    /// Unknown outcomes created at or before this (unix ms) no longer hold a slot.
    fn held_until(&self) -> i64 {
        crate::store::unknown_active_since(self.config.unknown_hold)
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
            let span = tracing::error_span!("task", task = task.id);
            span.in_scope(|| {
                tracing::info!(
                    chat_id = task.chat_id,
                    user_id = task.user_id,
                    "unknown outcome no longer holds its slot; still counted for the day; telling the requester"
                )
            });
            let inner = self.clone();
            // Spawned: a 429 wait must not hold up the round.
            tracker.spawn(
                async move {
                    let text = texts::unknown_hold_ended(task.lang, &task);
                    if let Err(error) = inner.telegram.reply(task.chat_id, task.command_msg_id, &text).await {
                        tracing::warn!(chat_id = task.chat_id, %error, "could not tell the requester that an unknown outcome's slot is free");
                    }
                }
                .instrument(span),
            );
        }
    }
}

#[cfg(test)]
mod tests;
