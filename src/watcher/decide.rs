//! The watcher's decisions as pure functions of the stored task, the latest
//! query answer and the clock, so they can be tested without a network.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use crate::{
    store::{LiveReplica, Schedule},
    task::Task,
    texts::NO_VIDEO_REASON,
    video_api::{ApiError, TaskPhase, TaskReport},
};

/// teloxide's `Throttle` covers `send_*` but not `editMessageText`, and Telegram answers
/// quick edits of one message with 429: a status message changes at most this often.
pub const MIN_EDIT_GAP: Duration = Duration::from_secs(5);

/// A video that could not be delivered for this long after it was ready (every
/// round failing, even the link) is given up, so the task does not stay open
/// and hold the user's active slot forever.
pub const DELIVERY_GIVE_UP: Duration = Duration::from_secs(30 * 60);

/// "Done" answers without a video in a row after which a task fails: a relay
/// that has lost the video says so on every query, and waiting for the
/// time-out would keep the user (and their slot) an hour for nothing.
pub const NO_VIDEO_LIMIT: u32 = 3;

/// What to do with a running task after querying it.
#[derive(Debug, Clone, PartialEq)]
pub enum Step<'a> {
    /// Still running. `changed`: the status or progress differs from what is stored.
    Running {
        status: &'a str,
        progress_pct: Option<u8>,
        changed: bool,
    },
    /// Ready: hand over to delivery (also past the timeout: the video exists and was paid for).
    Deliver {
        status: &'a str,
        video_url: &'a str,
    },
    Fail {
        reason: Option<&'a str>,
    },
    TimeOut,
    /// The query failed before the timeout: try again on a later round.
    Retry,
}

/// `no_video_in_a_row`: the "done without a video" answers in a row up to and
/// including this one ([`NoVideoCounts::observe`]).
pub fn decide<'a>(
    task: &Task,
    report: Result<&'a TaskReport, &ApiError>,
    no_video_in_a_row: u32,
    now_ms: i64,
    timeout: Duration,
) -> Step<'a> {
    let timed_out = now_ms.saturating_sub(task.created_at) >= millis(timeout);
    match report {
        Ok(TaskReport { status, phase: TaskPhase::Completed { video_url }, .. }) => Step::Deliver { status, video_url },
        Ok(TaskReport { phase: TaskPhase::Failed { reason }, .. }) => Step::Fail { reason: reason.as_deref() },
        Ok(TaskReport { phase: TaskPhase::DoneWithoutVideo, .. }) if no_video_in_a_row >= NO_VIDEO_LIMIT => {
            Step::Fail { reason: Some(NO_VIDEO_REASON) }
        }
        _ if timed_out => Step::TimeOut,
        // Done without a video (below the limit) is asked again like a running task:
        // the URL may come with the next answer.
        Ok(report @ TaskReport { phase: TaskPhase::Running | TaskPhase::DoneWithoutVideo, .. }) => {
            // An answer without progress keeps the last known one, so the shown
            // percentage does not flicker away and back.
            let progress_pct = report.progress_pct.or(task.progress_pct);
            let changed =
                task.upstream_status.as_deref() != Some(report.status.as_str()) || task.progress_pct != progress_pct;
            Step::Running { status: &report.status, progress_pct, changed }
        }
        Err(_) => Step::Retry,
    }
}

/// The watcher's memory of "done without a video" answers in a row, per task.
///
/// Kept in this process only: a restart, or the task's lease moving to another
/// replica, starts the count again, which costs at most a few more queries
/// before the task fails (or times out).
#[derive(Debug)]
pub struct NoVideoCounts {
    /// Task id → (answers in a row, unix ms of the last one).
    by_task: HashMap<i64, (u32, i64)>,
    /// A count older than this belongs to a task that has ended by now (it
    /// timed out at the latest), or moved to another replica.
    stale_after: i64,
}

impl NoVideoCounts {
    pub fn new(task_timeout: Duration) -> Self {
        NoVideoCounts { by_task: HashMap::new(), stale_after: millis(task_timeout) }
    }

    /// Records the answer to a query of task `id` and returns the "done
    /// without a video" answers in a row including it. Any other answer
    /// resets the count; a failed query is no answer about the task and
    /// leaves it as it is.
    pub fn observe(&mut self, id: i64, report: Result<&TaskReport, &ApiError>, now_ms: i64) -> u32 {
        match report {
            Ok(TaskReport { phase: TaskPhase::DoneWithoutVideo, .. }) => {
                if !self.by_task.contains_key(&id) {
                    // The count of a task that failed by it, timed out or moved to
                    // another replica is not removed then: counts are dropped once
                    // old, when a new one starts.
                    let stale_after = self.stale_after;
                    self.by_task.retain(|_, (_, at)| now_ms.saturating_sub(*at) < stale_after);
                }
                let (count, at) = self.by_task.entry(id).or_insert((0, now_ms));
                *count = count.saturating_add(1);
                *at = now_ms;
                *count
            }
            Ok(_) => {
                self.by_task.remove(&id);
                0
            }
            Err(_) => self.by_task.get(&id).map_or(0, |(count, _)| *count),
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.by_task.len()
    }
}

/// Whether the status message should now be edited to `new_text`: it exists, the
/// text differs from what it shows, and the last edit is at least `MIN_EDIT_GAP` old
/// (otherwise a later round shows the then-current text).
pub fn should_edit(task: &Task, new_text: &str, now_ms: i64) -> bool {
    task.status_msg_id.is_some()
        && task.shown_text.as_deref() != Some(new_text)
        && task.shown_at.is_none_or(|at| now_ms.saturating_sub(at) >= millis(MIN_EDIT_GAP))
}

/// A delivering task whose delivery has failed for too long. `updated_at` is set
/// when delivery begins and not touched again while it is under way.
pub fn delivery_expired(task: &Task, now_ms: i64) -> bool {
    now_ms.saturating_sub(task.updated_at) >= millis(DELIVERY_GIVE_UP)
}

/// The longest a dead replica's tasks may wait for another one: several polls,
/// and never so short that a slow database round makes us lose our own tasks.
pub fn lease_ttl(poll_interval: Duration) -> Duration {
    (poll_interval * 3).max(Duration::from_secs(30))
}

/// How often a replica renews its heartbeat (and looks for dead replicas'
/// tasks): a sixth of the lease time.
pub fn heartbeat_every(poll_interval: Duration) -> Duration {
    lease_ttl(poll_interval) / 6
}

/// A heartbeat older than this is a dead replica's: two thirds of the lease
/// time, so that with the next look for its tasks a heartbeat period later,
/// they are taken within a lease time of its death. A live replica would have
/// to miss three heartbeats in a row to lose them.
pub fn heartbeat_stale_after(poll_interval: Duration) -> Duration {
    lease_ttl(poll_interval) * 2 / 3
}

/// How often the watcher looks for due tasks: due times are per task, so a short
/// tick only makes each poll happen close to its time.
pub fn tick_every(poll_interval: Duration) -> Duration {
    poll_interval.clamp(Duration::from_millis(50), Duration::from_secs(1))
}

/// How long a task query is expected to take at most in normal operation. The
/// number of queries in flight is sized from it and the rate limit, so a slower
/// API lowers the query rate instead of queueing tasks in memory.
const EXPECTED_QUERY_LATENCY: Duration = Duration::from_secs(1);

/// Tasks followed at the same time for a rate limit of `rate` queries per
/// second and rounds `round` long: a round starts up to `rate × round` of them
/// while those of the previous rounds may still run for up to
/// `EXPECTED_QUERY_LATENCY`. Bounded, so a huge limit cannot open thousands of
/// connections at once; a slower API then lowers the rate instead.
pub fn concurrency_for(rate: u32, round: Duration) -> usize {
    let slots = f64::from(rate) * (round + EXPECTED_QUERY_LATENCY).as_secs_f64();
    (slots.ceil() as usize).clamp(4, 1024)
}

/// The interval each of `open` tasks is actually polled at: the configured one,
/// or, when that would need more than `rate` queries per second, the interval at
/// which they share the rate evenly.
pub fn effective_interval(open: u64, interval: Duration, rate: u32) -> Duration {
    interval.max(Duration::from_secs_f64(open as f64 / f64::from(rate.max(1))))
}

/// Each next poll lands anywhere within ±this share of the interval, so tasks
/// created (or taken over) together drift apart instead of staying one burst.
const JITTER_SHARE: f64 = 0.1;

/// Where the next polls of a round's tasks go: `earliest` plus a per-task offset
/// in `0..spread` (ms). The offset is `(id * 7919 + salt) mod spread`: the prime
/// scatters consecutive ids over the window, the random salt differs per round.
pub fn next_poll(now_ms: i64, interval: Duration, salt: u32) -> Schedule {
    let spread = ((millis(interval) as f64 * JITTER_SHARE * 2.0) as i64).max(1);
    Schedule { earliest: now_ms + millis(interval) - spread / 2, spread, salt: i64::from(salt) }
}

/// A token bucket: `rate` queries per second, at most `burst` saved up, so a slow
/// round cannot be followed by a burst catching up.
#[derive(Debug)]
pub struct Budget {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl Budget {
    /// Starts full: `burst` is one round's worth (`round` long, at least one query).
    pub fn new(rate: u32, round: Duration, now: Instant) -> Self {
        let burst = (f64::from(rate) * round.as_secs_f64()).max(1.0);
        Budget { rate: f64::from(rate), burst, tokens: burst, last: now }
    }

    /// Whole queries that may be made now.
    pub fn available(&mut self, now: Instant) -> usize {
        let earned = now.saturating_duration_since(self.last).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + earned).min(self.burst);
        self.last = now;
        self.tokens.floor() as usize
    }

    pub fn spend(&mut self, queries: usize) {
        self.tokens = (self.tokens - queries as f64).max(0.0);
    }

    /// The gap between two queries of one round, so a round's queries are spread
    /// over it instead of leaving at once.
    pub fn gap(&self) -> Duration {
        Duration::from_secs_f64(1.0 / self.rate.max(1.0))
    }
}

impl Budget {
    /// A new rate (this replica's share changed); the saved-up queries stay
    /// within the new burst.
    pub fn set_rate(&mut self, rate: f64, round: Duration) {
        self.rate = rate;
        self.burst = (rate * round.as_secs_f64()).max(1.0);
        self.tokens = self.tokens.min(self.burst);
    }
}

/// This replica's share of the deployment's query rate `total`, divided among
/// the `live` replicas in proportion to the tasks each holds (plus one, so a
/// replica without tasks keeps a little for new ones and Refresh presses): the
/// queries go where the tasks are, and the shares add up to `total`. A replica
/// not (yet) among them counts itself with the `holds` it knows of.
pub fn share_of(total: u32, live: &[LiveReplica], me: &str, holds: u64) -> f64 {
    let weight = |holds: u64| holds as f64 + 1.0;
    let mine = live.iter().find(|replica| replica.id == me).map_or(weight(holds), |replica| weight(replica.holds));
    let others: f64 = live.iter().filter(|replica| replica.id != me).map(|replica| weight(replica.holds)).sum();
    f64::from(total) * mine / (mine + others)
}

/// Whether the rate limit keeps up with the open tasks, remembered so the log
/// says so once when it stops keeping up and once when it recovers.
#[derive(Debug, Default)]
pub struct Pace {
    stretched: bool,
}

#[derive(Debug, PartialEq)]
pub enum PaceChange {
    /// Each task is now polled every `interval` instead of the configured one.
    Stretched {
        interval: Duration,
    },
    Recovered,
}

impl Pace {
    /// Recovery needs 10 % headroom, so a count hovering at the limit does not
    /// log on every lease renewal.
    pub fn observe(&mut self, open: u64, interval: Duration, rate: u32) -> Option<PaceChange> {
        let needed = open as f64 / interval.as_secs_f64().max(0.001);
        let rate = f64::from(rate);
        if !self.stretched && needed > rate {
            self.stretched = true;
            Some(PaceChange::Stretched { interval: effective_interval(open, interval, rate as u32) })
        } else if self.stretched && needed <= rate * 0.9 {
            self.stretched = false;
            Some(PaceChange::Recovered)
        } else {
            None
        }
    }
}

pub fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::TaskState;

    const HOUR: Duration = Duration::from_secs(3600);

    fn task() -> Task {
        Task { shown_text: Some("queued".into()), shown_at: Some(1_000), ..Task::example() }
    }

    fn report(status: &str, phase: TaskPhase, progress_pct: Option<u8>) -> TaskReport {
        TaskReport { status: status.into(), phase, progress_pct, thumbnail_url: None, enhanced_prompt: None }
    }

    #[test]
    fn running_reports_record_only_real_changes() {
        let same = report("queued", TaskPhase::Running, None);
        assert_eq!(
            decide(&task(), Ok(&same), 0, 60_000, HOUR),
            Step::Running { status: "queued", progress_pct: None, changed: false }
        );
        let moved = report("processing", TaskPhase::Running, Some(42));
        assert_eq!(
            decide(&task(), Ok(&moved), 0, 60_000, HOUR),
            Step::Running { status: "processing", progress_pct: Some(42), changed: true }
        );
        // A later answer without progress keeps 42 %.
        let known = Task { upstream_status: Some("processing".into()), progress_pct: Some(42), ..task() };
        let bare = report("processing", TaskPhase::Running, None);
        assert_eq!(
            decide(&known, Ok(&bare), 0, 60_000, HOUR),
            Step::Running { status: "processing", progress_pct: Some(42), changed: false }
        );
    }

    #[test]
    fn finished_reports_win_even_past_the_timeout() {
        let done = report("completed", TaskPhase::Completed { video_url: "https://v/1.mp4".into() }, Some(100));
        for now in [60_000, 2 * 3_600_000] {
            assert_eq!(
                decide(&task(), Ok(&done), 0, now, HOUR),
                Step::Deliver { status: "completed", video_url: "https://v/1.mp4" }
            );
        }
        let failed = report("failed", TaskPhase::Failed { reason: Some("content policy".into()) }, None);
        assert_eq!(decide(&task(), Ok(&failed), 0, 2 * 3_600_000, HOUR), Step::Fail { reason: Some("content policy") });
        let bare = report("error", TaskPhase::Failed { reason: None }, None);
        assert_eq!(decide(&task(), Ok(&bare), 0, 0, HOUR), Step::Fail { reason: None });
    }

    #[test]
    fn a_third_done_without_video_in_a_row_fails_the_task() {
        let empty = report("SUCCESS", TaskPhase::DoneWithoutVideo, None);
        for in_a_row in [1, 2] {
            assert_eq!(
                decide(&task(), Ok(&empty), in_a_row, 60_000, HOUR),
                Step::Running { status: "SUCCESS", progress_pct: None, changed: true },
                "answer {in_a_row} is asked again"
            );
        }
        for in_a_row in [3, 4] {
            assert_eq!(
                decide(&task(), Ok(&empty), in_a_row, 60_000, HOUR),
                Step::Fail { reason: Some(NO_VIDEO_REASON) }
            );
        }
        assert_eq!(NO_VIDEO_REASON, "the video API sent no video");
        // Past the time-out the third one still gives the clearer reason; a first one times out.
        assert_eq!(decide(&task(), Ok(&empty), 3, 2 * 3_600_000, HOUR), Step::Fail { reason: Some(NO_VIDEO_REASON) });
        assert_eq!(decide(&task(), Ok(&empty), 1, 2 * 3_600_000, HOUR), Step::TimeOut);
    }

    #[test]
    fn done_without_video_answers_are_counted_in_a_row() {
        let empty = report("success", TaskPhase::DoneWithoutVideo, None);
        let running = report("video_upsampling", TaskPhase::Running, None);
        let done = report("completed", TaskPhase::Completed { video_url: "https://v/1.mp4".into() }, None);
        let failed_query = ApiError::Timeout { request_sent: true };
        let mut counts = NoVideoCounts::new(HOUR);
        assert_eq!(counts.observe(1, Ok(&empty), 0), 1);
        assert_eq!(counts.observe(1, Ok(&empty), 1), 2);
        assert_eq!(counts.observe(1, Ok(&running), 2), 0, "a running answer in between resets the count");
        assert_eq!(counts.observe(1, Ok(&empty), 3), 1);
        assert_eq!(counts.observe(1, Ok(&empty), 4), 2);
        assert_eq!(counts.observe(1, Err(&failed_query), 5), 2, "a failed query says nothing about the task");
        assert_eq!(counts.observe(1, Ok(&empty), 6), 3);
        // Each task has its own count.
        assert_eq!(counts.observe(2, Ok(&empty), 7), 1);
        assert_eq!(counts.observe(2, Ok(&done), 8), 0);
        assert_eq!(counts.observe(2, Err(&failed_query), 9), 0);
        assert_eq!(counts.observe(2, Ok(&empty), 10), 1);
    }

    #[test]
    fn two_then_a_running_answer_then_one_more_does_not_fail() {
        let empty = report("SUCCESS", TaskPhase::DoneWithoutVideo, None);
        let running = report("VIDEO_GENERATING", TaskPhase::Running, None);
        let mut counts = NoVideoCounts::new(HOUR);
        let steps: Vec<Step> = [&empty, &empty, &running, &empty]
            .into_iter()
            .enumerate()
            .map(|(i, answer)| {
                let now = 60_000 + i as i64;
                decide(&task(), Ok(answer), counts.observe(1, Ok(answer), now), now, HOUR)
            })
            .collect();
        assert!(steps.iter().all(|step| matches!(step, Step::Running { .. })), "{steps:?}");
    }

    #[test]
    fn counts_of_tasks_gone_elsewhere_are_dropped_once_old() {
        let empty = report("success", TaskPhase::DoneWithoutVideo, None);
        let mut counts = NoVideoCounts::new(Duration::from_secs(60));
        counts.observe(1, Ok(&empty), 0);
        counts.observe(2, Ok(&empty), 30_000);
        assert_eq!(counts.len(), 2);
        // Task 3's first count drops task 1's, a minute old; task 2's is kept.
        counts.observe(3, Ok(&empty), 60_000);
        assert_eq!(counts.len(), 2);
        assert_eq!(counts.observe(2, Ok(&empty), 60_001), 2);
        assert_eq!(counts.observe(1, Ok(&empty), 60_002), 1, "started again");
    }

    #[test]
    fn errors_retry_until_the_timeout() {
        let transient = ApiError::Timeout { request_sent: true };
        let permanent = ApiError::Unauthorized { message: None };
        for error in [&transient, &permanent] {
            assert_eq!(decide(&task(), Err(error), 0, 3_599_999, HOUR), Step::Retry);
            assert_eq!(decide(&task(), Err(error), 0, 3_600_000, HOUR), Step::TimeOut);
        }
        let running = report("processing", TaskPhase::Running, Some(99));
        assert_eq!(decide(&task(), Ok(&running), 0, 3_600_000, HOUR), Step::TimeOut);
    }

    #[test]
    fn edits_only_on_change_and_not_too_often() {
        let t = task();
        assert!(!should_edit(&t, "queued", 100_000), "same text");
        assert!(!should_edit(&t, "processing", 1_000 + 4_999), "too soon");
        assert!(should_edit(&t, "processing", 1_000 + 5_000));
        assert!(should_edit(&Task { shown_at: None, shown_text: None, ..task() }, "queued", 0), "never shown");
        assert!(!should_edit(&Task { status_msg_id: None, ..task() }, "processing", 100_000), "no status message");
    }

    #[test]
    fn delivery_is_given_up_after_a_while() {
        let t = Task { state: TaskState::Delivering, updated_at: 10_000, ..task() };
        assert!(!delivery_expired(&t, 10_000 + millis(DELIVERY_GIVE_UP) - 1));
        assert!(delivery_expired(&t, 10_000 + millis(DELIVERY_GIVE_UP)));
    }

    #[test]
    fn lease_and_tick_follow_the_poll_interval() {
        assert_eq!(lease_ttl(Duration::from_secs(30)), Duration::from_secs(90));
        assert_eq!(lease_ttl(Duration::from_secs(2)), Duration::from_secs(30));
        assert_eq!(heartbeat_every(Duration::from_secs(2)), Duration::from_secs(5));
        assert_eq!(heartbeat_stale_after(Duration::from_secs(2)), Duration::from_secs(20));
        // Dead right after a beat: stale after 20 s, found at the next look, 5 s later at most.
        assert!(
            heartbeat_stale_after(Duration::from_secs(30)) + heartbeat_every(Duration::from_secs(30))
                < lease_ttl(Duration::from_secs(30))
        );
        assert_eq!(tick_every(Duration::from_secs(30)), Duration::from_secs(1));
        assert_eq!(tick_every(Duration::from_millis(200)), Duration::from_millis(200));
        assert_eq!(tick_every(Duration::ZERO), Duration::from_millis(50));
    }

    #[test]
    fn concurrency_follows_the_rate() {
        let second = Duration::from_secs(1);
        assert_eq!(concurrency_for(1, second), 4);
        assert_eq!(concurrency_for(20, second), 40);
        assert_eq!(concurrency_for(400, second), 800);
        assert_eq!(concurrency_for(400, Duration::from_millis(500)), 600);
        assert_eq!(concurrency_for(10_000, second), 1024);
    }

    #[test]
    fn intervals_stretch_evenly_only_over_budget() {
        let thirty = Duration::from_secs(30);
        // 10,000 tasks every 30 s need 333 queries/s.
        assert_eq!(effective_interval(10_000, thirty, 400), thirty);
        assert_eq!(effective_interval(10_000, thirty, 20), Duration::from_secs(500));
        assert_eq!(effective_interval(0, thirty, 20), thirty);
        assert_eq!(effective_interval(600, thirty, 20), thirty, "exactly at the limit");
        assert_eq!(effective_interval(601, thirty, 20), Duration::from_secs_f64(30.05));
    }

    #[test]
    fn next_polls_spread_around_the_interval() {
        let s = next_poll(1_000_000, Duration::from_secs(30), 12_345);
        assert_eq!((s.earliest, s.spread), (1_000_000 + 27_000, 6_000));
        // The offsets the store applies: consecutive ids land all over the window.
        let offsets: Vec<i64> = (1..=1_000_i64).map(|id| (id * 7919 + s.salt) % s.spread).collect();
        assert!(offsets.iter().all(|o| (0..6_000).contains(o)));
        let mut tenths = [0; 10];
        for o in &offsets {
            tenths[(*o / 600) as usize] += 1;
        }
        assert!(tenths.iter().all(|&n| (80..=120).contains(&n)), "evenly spread: {tenths:?}");
    }

    #[test]
    fn budget_refills_at_the_rate_and_caps_the_burst() {
        let t0 = Instant::now();
        let mut budget = Budget::new(20, Duration::from_secs(1), t0);
        assert_eq!(budget.available(t0), 20, "one round's worth at start");
        budget.spend(20);
        assert_eq!(budget.available(t0), 0);
        assert_eq!(budget.available(t0 + Duration::from_millis(500)), 10);
        budget.spend(10);
        // A long stall earns no more than one round's worth.
        assert_eq!(budget.available(t0 + Duration::from_secs(60)), 20);
        assert_eq!(budget.gap(), Duration::from_millis(50));
        assert_eq!(Budget::new(1, Duration::from_millis(50), t0).available(t0), 1, "at least one query");
    }

    #[test]
    fn the_rate_is_split_among_live_replicas_by_the_tasks_they_hold() {
        let live = |pairs: &[(&str, u64)]| {
            pairs.iter().map(|(id, holds)| LiveReplica { id: (*id).to_owned(), holds: *holds }).collect::<Vec<_>>()
        };
        assert_eq!(share_of(20, &live(&[("a", 10)]), "a", 10), 20.0);
        assert_eq!(share_of(20, &[], "a", 0), 20.0, "before its first heartbeat is seen");
        let even = live(&[("a", 499), ("b", 499)]);
        assert_eq!((share_of(100, &even, "a", 0), share_of(100, &even, "b", 0)), (50.0, 50.0));
        // One replica took every task at start: the queries follow them.
        let lopsided = live(&[("a", 998), ("b", 0)]);
        let (a, b) = (share_of(100, &lopsided, "a", 0), share_of(100, &lopsided, "b", 0));
        assert_eq!((a, b), (99.9, 0.1));
        let three = live(&[("a", 300), ("b", 200), ("c", 0)]);
        let shares: Vec<f64> = ["a", "b", "c"].iter().map(|me| share_of(20, &three, me, 0)).collect();
        assert!((shares.iter().sum::<f64>() - 20.0).abs() < 1e-9, "{shares:?}");
        assert!(shares[0] > shares[1] && shares[1] > shares[2] && shares[2] > 0.0, "{shares:?}");
        assert_eq!(share_of(20, &live(&[("a", 0)]), "b", 0), 10.0, "not seen yet: counts itself");
        let mut budget = Budget::new(20, Duration::from_secs(1), Instant::now());
        budget.set_rate(10.0, Duration::from_secs(1));
        assert_eq!(budget.available(Instant::now()), 10, "the saved-up queries shrink with the share");
    }

    #[test]
    fn pace_changes_are_reported_once_each_way() {
        let thirty = Duration::from_secs(30);
        let mut pace = Pace::default();
        assert_eq!(pace.observe(600, thirty, 20), None);
        assert_eq!(
            pace.observe(10_000, thirty, 20),
            Some(PaceChange::Stretched { interval: Duration::from_secs(500) })
        );
        assert_eq!(pace.observe(12_000, thirty, 20), None, "still stretched: said once");
        assert_eq!(pace.observe(590, thirty, 20), None, "not enough headroom yet");
        assert_eq!(pace.observe(540, thirty, 20), Some(PaceChange::Recovered));
        assert_eq!(pace.observe(540, thirty, 20), None);
    }
}
