//! The background task that follows open tasks: polls the video API, edits each
//! task's status message, delivers finished videos and reports failures and
//! timeouts. Handlers never wait for a task (the dispatcher runs
//! a chat's updates one at a time, so a waiting handler would block the chat); this does.

mod decide;
mod follow;

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use tokio::sync::Semaphore;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use decide::{Budget, Pace, PaceChange, concurrency_for, effective_interval, lease_ttl, millis, next_poll, tick_every};
pub use decide::{DELIVERY_GIVE_UP, MIN_EDIT_GAP};

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
    /// Per process: the most task queries (or deliveries) started per second.
    /// Tasks followed at the same time are sized from it.
    pub queries_per_second: u32,
    /// SQLite: only one process, so take over every lease at start.
    pub exclusive: bool,
}

pub struct Watcher {
    inner: Arc<Inner>,
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
    /// Tasks being handled now. A delivery can outlast the poll interval, and a
    /// second one started meanwhile would send the video twice.
    in_flight: Mutex<HashSet<i64>>,
}

impl Watcher {
    pub fn new(store: Store, api: VideoApi, telegram: Telegram, http: GuardedClient, config: WatcherConfig) -> Self {
        let started_at = now_ms();
        Watcher {
            inner: Arc::new(Inner {
                store,
                api,
                telegram,
                http,
                config,
                started_at,
                in_flight: Mutex::new(HashSet::new()),
            }),
        }
    }

    /// How long a lease lasts unless renewed: max(3 × poll interval, 30 s). The
    /// watcher renews every third of it; handlers lease new tasks for as long.
    pub fn lease_ttl(poll_interval: Duration) -> Duration {
        lease_ttl(poll_interval)
    }

    /// Runs until `shutdown` is cancelled; in-flight polls/deliveries finish first;
    /// leases are released at the end. Open tasks stay open for the next start.
    ///
    /// Each round takes only as many due tasks as the rate limit allows right now
    /// and as there are free slots, longest-due first, and starts them spread over
    /// the round; the rest stay due in the database, not queued in memory. When
    /// the open tasks need more queries than the limit, each task's interval is
    /// stretched evenly (`effective_interval`).
    pub async fn run(self, shutdown: CancellationToken) {
        let inner = self.inner;
        let config = &inner.config;
        let rate = config.queries_per_second.max(1);
        let ttl = lease_ttl(config.poll_interval);
        let round = tick_every(config.poll_interval);
        let concurrency = concurrency_for(rate, round);
        let permits = Arc::new(Semaphore::new(concurrency));
        let tracker = TaskTracker::new();
        let mut ticker = tokio::time::interval(round);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut budget = Budget::new(rate, round, Instant::now());
        let mut pace = Pace::default();
        let mut open = 0;
        let mut next_renewal = Instant::now();
        let mut taken_over = !config.exclusive;
        tracing::info!(
            owner = %config.owner,
            poll_secs = config.poll_interval.as_secs_f64(),
            queries_per_second = rate,
            concurrency,
            exclusive = config.exclusive,
            "watcher started"
        );

        'rounds: loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = ticker.tick() => {}
            }
            if Instant::now() >= next_renewal
                && let Some(count) = inner.renew_leases(ttl, &mut taken_over).await
            {
                next_renewal = Instant::now() + ttl / 3;
                open = count;
                match pace.observe(open, config.poll_interval, rate) {
                    Some(PaceChange::Stretched { interval }) => tracing::warn!(
                        open_tasks = open,
                        queries_per_second = rate,
                        every_secs = interval.as_secs(),
                        "VIDEO_API_QUERIES_PER_SECOND cannot poll every open task each POLL_INTERVAL_SECS; \
                         each is polled less often, evenly, oldest due first"
                    ),
                    Some(PaceChange::Recovered) => {
                        tracing::info!(open_tasks = open, "every open task is polled each POLL_INTERVAL_SECS again");
                    }
                    None => {}
                }
            }
            inner.report_cut_off_creates(&tracker).await;
            let allowed = budget.available(Instant::now()).min(permits.available_permits());
            if allowed == 0 {
                continue;
            }
            let interval = effective_interval(open, config.poll_interval, rate);
            let next = next_poll(now_ms(), interval, rand::random());
            let due = match inner.store.take_due_tasks(&config.owner, allowed as i64, &next).await {
                Ok(due) => due,
                Err(error) => {
                    tracing::warn!(%error, "could not load due tasks");
                    continue;
                }
            };
            budget.spend(due.len());
            let paced_from = tokio::time::Instant::now();
            for (i, task) in due.into_iter().enumerate() {
                if i > 0 {
                    // Deadlines from the round's start: the timer's millisecond
                    // rounding must not add up over a round and lower the rate.
                    tokio::select! {
                        () = shutdown.cancelled() => break 'rounds,
                        () = tokio::time::sleep_until(paced_from + budget.gap() * i as u32) => {}
                    }
                }
                let Some(guard) = InFlight::enter(&inner, task.id) else { continue };
                // Never waits: the round took no more tasks than there were free slots.
                let Ok(permit) = permits.clone().try_acquire_owned() else { break };
                let inner = inner.clone();
                tracker.spawn(async move {
                    let _guard = guard;
                    let _permit = permit;
                    inner.follow(task).await;
                });
            }
        }

        tracing::info!(in_flight = tracker.len(), "watcher stopping; finishing what is in flight");
        tracker.close();
        tracker.wait().await;
        if let Err(error) = inner.store.release_leases(&config.owner).await {
            tracing::warn!(%error, "could not release leases");
        }
        tracing::info!("watcher stopped");
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
    /// Renews our leases (and takes free or expired ones). The first call in
    /// exclusive mode takes over every open task, so that a restart after a crash
    /// resumes at once instead of waiting for the dead process's leases to run out.
    /// Returns how many open tasks we hold, or `None` if the database failed.
    async fn renew_leases(&self, ttl: Duration, taken_over: &mut bool) -> Option<u64> {
        let owner = &self.config.owner;
        let until = now_ms() + millis(ttl);
        let result = if *taken_over {
            self.store.claim_open_tasks(owner, until).await
        } else {
            self.store.take_over_all(owner, until).await
        };
        match result {
            Ok(count) => {
                if !*taken_over {
                    tracing::info!(count, "took over every open task");
                    *taken_over = true;
                }
                if let Ok(open) = self.store.count_open().await {
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
        let expired = match self.store.expire_cut_off_creates(self.started_at).await {
            Ok(expired) => expired,
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

#[cfg(test)]
pub(crate) mod fake;
#[cfg(test)]
mod tests;
