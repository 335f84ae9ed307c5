//! The watcher's rounds: one step that renews leases, reports cut-off
//! creates, takes the due tasks and starts following them, and the loop
//! that runs a round every tick.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::sync::Semaphore;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use super::{
    InFlight, QueryBudget, Watcher, WatcherConfig,
    decide::{Pace, PaceChange, concurrency_for, effective_interval, lease_ttl, next_poll, tick_every},
};
use crate::store::now_ms;

/// A round's queries start spread over it, a step at a time: at high rates a
/// few start together every step rather than one per timer wake-up (400
/// queries a second: 8 every 20 ms, not one every 2.5 ms).
const PACE_STEP: Duration = Duration::from_millis(20);

/// How often to look for unknown outcomes whose hold ended: the slot itself
/// frees on time (the cost guards compare times), only the message may lag by
/// this much; a short hold (tests) is looked at more often.
fn hold_check_every(hold: Duration) -> Duration {
    (hold / 4).clamp(Duration::from_millis(250), Duration::from_secs(5))
}

/// What one round leaves for the next: the rate limit's bucket, the follow
/// slots, the followers still running and when leases are renewed next.
pub(super) struct Rounds {
    rate: u32,
    ttl: Duration,
    permits: Arc<Semaphore>,
    tracker: TaskTracker,
    pub(super) budget: QueryBudget,
    pace: Pace,
    /// Open tasks we held at the last lease renewal.
    open: u64,
    next_renewal: Instant,
    /// Exclusive mode: the first take-over (every open task, logged) is done.
    taken_over: bool,
    /// When to look next for unknown outcomes whose hold ended.
    next_hold_check: Instant,
    hold_check_every: Duration,
}

impl Rounds {
    pub(super) fn new(config: &WatcherConfig) -> Self {
        let rate = config.queries_per_second.max(1);
        let period = tick_every(config.poll_interval);
        Rounds {
            rate,
            ttl: lease_ttl(config.poll_interval),
            permits: Arc::new(Semaphore::new(concurrency_for(rate, period))),
            tracker: TaskTracker::new(),
            budget: QueryBudget::new(rate, config.poll_interval),
            pace: Pace::default(),
            open: 0,
            next_renewal: Instant::now(),
            taken_over: !config.exclusive,
            next_hold_check: Instant::now(),
            hold_check_every: hold_check_every(config.unknown_hold),
        }
    }
}

impl Watcher {
    /// Runs a round every tick until `shutdown` is cancelled, then `stop`s:
    /// in-flight polls/deliveries finish first; leases are released at the end.
    /// Open tasks stay open for the next start.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let config = &self.inner.config;
        let period = tick_every(config.poll_interval);
        tracing::info!(
            owner = %config.owner,
            poll_secs = config.poll_interval.as_secs_f64(),
            queries_per_second = self.rounds.rate,
            concurrency = self.rounds.permits.available_permits(),
            exclusive = config.exclusive,
            "watcher started"
        );
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = ticker.tick() => {}
            }
            self.round(&shutdown).await;
            if shutdown.is_cancelled() {
                break;
            }
        }
        self.stop().await;
    }

    /// One round: renews the leases when due, reports creates cut off by a
    /// crash, takes the due tasks and starts following them. Returns once they
    /// are started (`settle` waits for them), or early when `shutdown` is
    /// cancelled.
    ///
    /// A round takes only as many due tasks as the rate limit allows right now
    /// and as there are free slots, longest-due first, and starts them spread over
    /// the round; the rest stay due in the database, not queued in memory. When
    /// the open tasks need more queries than the limit, each task's interval is
    /// stretched evenly (`effective_interval`).
    pub async fn round(&mut self, shutdown: &CancellationToken) {
        let inner = &self.inner;
        let config = &inner.config;
        let rounds = &mut self.rounds;
        let rate = rounds.rate;
        if Instant::now() >= rounds.next_renewal
            && let Some(count) = inner.renew_leases(rounds.ttl, &mut rounds.taken_over).await
        {
            rounds.next_renewal = Instant::now() + rounds.ttl / 3;
            rounds.open = count;
            match rounds.pace.observe(count, config.poll_interval, rate) {
                Some(PaceChange::Stretched { interval }) => tracing::warn!(
                    open_tasks = count,
                    queries_per_second = rate,
                    every_secs = interval.as_secs(),
                    "VIDEO_API_QUERIES_PER_SECOND cannot poll every open task each POLL_INTERVAL_SECS; \
                     each is polled less often, evenly, oldest due first"
                ),
                Some(PaceChange::Recovered) => {
                    tracing::info!(open_tasks = count, "every open task is polled each POLL_INTERVAL_SECS again");
                }
                None => {}
            }
        }
        inner.report_cut_off_creates(&rounds.tracker).await;
        if Instant::now() >= rounds.next_hold_check {
            rounds.next_hold_check = Instant::now() + rounds.hold_check_every;
            inner.end_unknown_holds(&rounds.tracker).await;
        }
        let allowed = rounds.budget.lock().available(Instant::now()).min(rounds.permits.available_permits());
        if allowed == 0 {
            return;
        }
        let interval = effective_interval(rounds.open, config.poll_interval, rate);
        let next = next_poll(now_ms(), interval, rand::random());
        let due = match inner.store.take_due_tasks(&config.owner, allowed as i64, &next).await {
            Ok(due) => due,
            Err(error) => {
                tracing::warn!(%error, "could not load due tasks");
                return;
            }
        };
        rounds.budget.lock().spend(due.len());
        let paced_from = tokio::time::Instant::now();
        let gap = rounds.budget.lock().gap();
        let per_step = (PACE_STEP.as_secs_f64() / gap.as_secs_f64()).max(1.0) as usize;
        for (i, task) in due.into_iter().enumerate() {
            if i > 0 && i % per_step == 0 {
                // Deadlines from the round's start: the timer's millisecond
                // rounding must not add up over a round and lower the rate.
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep_until(paced_from + gap * i as u32) => {}
                }
            }
            let Some(guard) = InFlight::enter(inner, task.id) else { continue };
            // Never waits: the round took no more tasks than there were free slots.
            let Ok(permit) = rounds.permits.clone().try_acquire_owned() else { break };
            let inner = inner.clone();
            rounds.tracker.spawn(async move {
                let _guard = guard;
                let _permit = permit;
                inner.follow(task).await;
            });
        }
    }

    /// Waits until everything the rounds so far started (polls, deliveries,
    /// messages) has finished.
    pub async fn settle(&self) {
        let tracker = &self.rounds.tracker;
        tracker.close();
        tracker.wait().await;
        tracker.reopen();
    }

    /// Lets what is in flight finish, then releases our leases.
    pub async fn stop(self) {
        tracing::info!(in_flight = self.rounds.tracker.len(), "watcher stopping; finishing what is in flight");
        self.settle().await;
        if let Err(error) = self.inner.store.release_leases(&self.inner.config.owner).await {
            tracing::warn!(%error, "could not release leases");
        }
        tracing::info!("watcher stopped");
    }
}
