//! The watcher's rounds: one step that renews this replica's heartbeat (and
//! with it every lease it holds), takes over the tasks of dead replicas,
//! reports cut-off creates, takes the due tasks from the in-memory timetable
//! and starts following them, and the loop that runs a round every tick.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::sync::Semaphore;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::Instrument;

use super::{
    InFlight, QueryBudget, Watcher, WatcherConfig,
    decide::{
        Pace, PaceChange, concurrency_for, effective_interval, heartbeat_every, heartbeat_stale_after, millis,
        next_poll, share_of, tick_every,
    },
    timetable::Timetable,
};
use crate::{metrics, store::now_ms};

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

/// Every this many heartbeats the timetable is checked against the database
/// even without a take-over, in case a task of ours was missed.
const FULL_REBUILD_EVERY: u32 = 10;

/// What one round leaves for the next: the rate limit's bucket, the follow
/// slots, the followers still running, the timetable and when the heartbeat
/// is renewed next.
pub(super) struct Rounds {
    /// This replica's share of the deployment's query rate, per second.
    share: f64,
    beat_every: Duration,
    stale_after: Duration,
    permits: Arc<Semaphore>,
    tracker: TaskTracker,
    pub(super) budget: QueryBudget,
    pace: Pace,
    timetable: Timetable,
    next_renewal: Instant,
    renewals: u32,
    /// When the last heartbeat was stored: once it is nearly stale, other
    /// replicas may take our tasks, so none is followed until the next one.
    last_beat: Option<Instant>,
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
            share: f64::from(rate),
            beat_every: heartbeat_every(config.poll_interval),
            stale_after: heartbeat_stale_after(config.poll_interval),
            permits: Arc::new(Semaphore::new(concurrency_for(rate, period))),
            tracker: TaskTracker::new(),
            budget: QueryBudget::new(rate, config.poll_interval),
            pace: Pace::default(),
            timetable: Timetable::default(),
            next_renewal: Instant::now(),
            renewals: 0,
            last_beat: None,
            taken_over: !config.exclusive,
            next_hold_check: Instant::now(),
            hold_check_every: hold_check_every(config.unknown_hold),
        }
    }
}

impl Rounds {
    /// The share in whole queries per second, at least one.
    fn whole_share(&self) -> u32 {
        self.share.max(1.0) as u32
    }

    /// Whether our last stored heartbeat keeps our leases for a heartbeat
    /// period more: until then no other replica takes our tasks.
    fn beats_fresh(&self) -> bool {
        self.last_beat.is_some_and(|at| at.elapsed() + self.beat_every < self.stale_after)
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
            queries_per_second = config.queries_per_second,
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

    /// Renews the heartbeat (on PostgreSQL), sizes this replica's share of the
    /// query rate from the live replicas, takes over the tasks of dead ones
    /// (on SQLite, at the first call, every open task), and rebuilds the
    /// timetable from the database when tasks were taken.
    async fn renew(&mut self) {
        let inner = &self.inner;
        let config = &inner.config;
        let rounds = &mut self.rounds;
        let owner = &config.owner;
        let first = rounds.renewals == 0;
        rounds.renewals = rounds.renewals.wrapping_add(1);
        let mut taken = 0;
        if config.exclusive {
            if !rounds.taken_over {
                match inner.store.take_over_all(owner).await {
                    Ok(count) => {
                        tracing::info!(count, "took over every open task");
                        rounds.taken_over = true;
                        taken = count;
                    }
                    Err(error) => tracing::warn!(%error, "could not take over the open tasks"),
                }
            }
        } else {
            let beat_at = Instant::now();
            match inner.store.heartbeat(owner).await {
                Ok(()) => rounds.last_beat = Some(beat_at),
                Err(error) => tracing::warn!(%error, "could not renew this replica's heartbeat"),
            }
            let stale_before = now_ms() - millis(rounds.stale_after);
            match inner.store.live_replicas(stale_before).await {
                Ok(live) => {
                    let holds = rounds.timetable.len() as u64;
                    let share = share_of(config.queries_per_second, &live, owner, holds);
                    // Logged when it moves by a tenth: task counts drift all the time.
                    if first || (share - rounds.share).abs() > rounds.share / 10.0 {
                        tracing::info!(
                            live_replicas = live.len().max(1),
                            queries_per_second = format!("{share:.1}"),
                            "this replica's share of VIDEO_API_QUERIES_PER_SECOND"
                        );
                    }
                    if share != rounds.share {
                        rounds.share = share;
                        rounds.budget.set_rate(share, tick_every(config.poll_interval));
                    }
                }
                Err(error) => tracing::warn!(%error, "could not count the live replicas"),
            }
            if rounds.beats_fresh() {
                match inner.store.claim_open_tasks(owner, stale_before).await {
                    Ok(0) => {}
                    Ok(count) => {
                        tracing::info!(count, "took over open tasks of replicas that stopped or died");
                        taken = count;
                    }
                    Err(error) => tracing::warn!(%error, "could not take over open tasks"),
                }
            }
        }
        if first || taken > 0 || rounds.renewals.is_multiple_of(FULL_REBUILD_EVERY) {
            match inner.store.owned_open_tasks(owner).await {
                Ok(tasks) => {
                    for (id, at) in tasks {
                        rounds.timetable.add(id, at);
                    }
                }
                Err(error) => tracing::warn!(%error, "could not load our open tasks"),
            }
        }
        if let Ok(open) = inner.store.count_open().await {
            metrics::open_tasks(open);
        }
        let followed = rounds.timetable.len() as u64;
        match rounds.pace.observe(followed, config.poll_interval, rounds.whole_share()) {
            Some(PaceChange::Stretched { interval }) => tracing::warn!(
                open_tasks = followed,
                queries_per_second = rounds.whole_share(),
                every_secs = interval.as_secs(),
                "VIDEO_API_QUERIES_PER_SECOND cannot poll every open task each POLL_INTERVAL_SECS; \
                 each is polled less often, evenly, oldest due first"
            ),
            Some(PaceChange::Recovered) => {
                tracing::info!(open_tasks = followed, "every open task is polled each POLL_INTERVAL_SECS again");
            }
            None => {}
        }
    }

    /// One round: renews the heartbeat when due, reports creates cut off by a
    /// crash, takes the due tasks and starts following them. Returns once they
    /// are started (`settle` waits for them), or early when `shutdown` is
    /// cancelled.
    ///
    /// A round takes only as many due tasks as the rate limit allows right now
    /// and as there are free slots, longest-due first, and starts them spread
    /// over the round; the rest stay due in the timetable. When the open tasks
    /// need more queries than the limit, each task's interval is stretched
    /// evenly (`effective_interval`). Planning the next poll writes nothing.
    pub async fn round(&mut self, shutdown: &CancellationToken) {
        if Instant::now() >= self.rounds.next_renewal {
            self.renew().await;
            self.rounds.next_renewal = Instant::now() + self.rounds.beat_every;
        }
        let inner = &self.inner;
        let config = &inner.config;
        let rounds = &mut self.rounds;
        let stale_before = now_ms() - millis(rounds.stale_after);
        inner.report_cut_off_creates(&rounds.tracker, stale_before).await;
        for (id, at) in inner.store.take_created() {
            rounds.timetable.plan(id, at);
        }
        if Instant::now() >= rounds.next_hold_check {
            rounds.next_hold_check = Instant::now() + rounds.hold_check_every;
            inner.end_unknown_holds(&rounds.tracker).await;
        }
        if !config.exclusive && !rounds.beats_fresh() {
            // Our heartbeat is (nearly) old: another replica may be following our tasks now.
            return;
        }
        let allowed = rounds.budget.available().min(rounds.permits.available_permits());
        if allowed == 0 {
            return;
        }
        let now = now_ms();
        let ids = rounds.timetable.take_due(now, allowed);
        if ids.is_empty() {
            return;
        }
        let due = match inner.store.owned_tasks(&config.owner, &ids).await {
            Ok(due) => due,
            Err(error) => {
                tracing::warn!(%error, "could not load due tasks");
                for id in ids {
                    rounds.timetable.plan(id, now);
                }
                return;
            }
        };
        // Ids left out ended, or are another replica's now: they leave the timetable.
        let interval = effective_interval(
            rounds.timetable.len() as u64 + due.len() as u64,
            config.poll_interval,
            rounds.whole_share(),
        );
        let next = next_poll(now, interval, rand::random());
        for task in &due {
            rounds.timetable.plan(task.id, next.at(task.id));
        }
        rounds.budget.spend(due.len());
        let paced_from = tokio::time::Instant::now();
        let gap = rounds.budget.gap();
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
            // Every line logged while following the task names it. At ERROR
            // level, so that the span is on whenever any of its lines is.
            let span = tracing::error_span!("task", task = task.id);
            rounds.tracker.spawn(
                async move {
                    let _guard = guard;
                    let _permit = permit;
                    inner.follow(task).await;
                }
                .instrument(span),
            );
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

    /// Lets what is in flight finish, then releases our leases and says this
    /// replica is gone, so the others take its tasks and share of the query
    /// rate at once.
    pub async fn stop(self) {
        tracing::info!(in_flight = self.rounds.tracker.len(), "watcher stopping; finishing what is in flight");
        self.settle().await;
        let owner = &self.inner.config.owner;
        if let Err(error) = self.inner.store.release_leases(owner).await {
            tracing::warn!(%error, "could not release leases");
        }
        if !self.inner.config.exclusive
            && let Err(error) = self.inner.store.retire(owner).await
        {
            tracing::warn!(%error, "could not mark this replica as stopped");
        }
        tracing::info!("watcher stopped");
    }
}
