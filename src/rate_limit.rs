//! Per-user command rate limit: a token bucket per user, kept in fixed-capacity
//! LRU maps so that any number of distinct senders costs bounded memory.
//!
//! Pure logic: every call takes the current time, so tests drive the clock.
//! The state lives in this process only; replicas each limit on their own.

use std::time::{Duration, Instant};

use hashlink::LruCache;

/// Commands a user may send at once before the per-minute rate applies.
pub const BURST: u32 = 5;
/// Users whose buckets are remembered, per kind (members, strangers). An
/// evicted user starts again with a full bucket, which only matters to someone
/// who stayed silent while this many others wrote. About 100 bytes an entry:
/// at most ~2 MB for both maps together.
pub const TRACKED_USERS: usize = 10_000;
/// At most one notice (slow down, not allowed) per user in this period.
pub const NOTICE_EVERY: Duration = Duration::from_secs(60);

/// What to do with a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the limit: handle it.
    Pass,
    /// Over the limit, and the user has not been told for a minute: drop it
    /// and tell them once.
    Notify,
    /// Over the limit, told already: drop it silently.
    Drop,
}

/// One user's bucket and when they were last sent a notice.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f32,
    updated: Instant,
    noticed: Option<Instant>,
}

impl Bucket {
    fn full(now: Instant) -> Bucket {
        Bucket { tokens: BURST as f32, updated: now, noticed: None }
    }

    /// Refills for the time since the last call, then takes a token if there is one.
    fn take(&mut self, per_second: f32, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f32();
        self.tokens = (self.tokens + elapsed * per_second).min(BURST as f32);
        self.updated = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// True at most once per `NOTICE_EVERY`.
    fn may_notify(&mut self, now: Instant) -> bool {
        let due = self.noticed.is_none_or(|at| now.saturating_duration_since(at) >= NOTICE_EVERY);
        if due {
            self.noticed = Some(now);
        }
        due
    }
}

pub struct RateLimiter {
    /// Tokens per second; `None` when the limit is off.
    per_second: Option<f32>,
    /// Users who may create videos. Separate from strangers, so that strangers
    /// writing from many accounts cannot evict (and so refill) a member's bucket.
    members: LruCache<i64, Bucket>,
    strangers: LruCache<i64, Bucket>,
}

impl RateLimiter {
    /// `per_minute` commands a minute per user after a burst of `BURST`; 0 turns
    /// the limit off (notices stay limited to one a minute).
    pub fn new(per_minute: u32) -> RateLimiter {
        RateLimiter::with_capacity(per_minute, TRACKED_USERS)
    }

    fn with_capacity(per_minute: u32, capacity: usize) -> RateLimiter {
        let capacity = capacity.max(1);
        RateLimiter {
            per_second: (per_minute > 0).then(|| per_minute as f32 / 60.0),
            members: LruCache::new(capacity),
            strangers: LruCache::new(capacity),
        }
    }

    fn bucket(&mut self, user_id: i64, member: bool, now: Instant) -> &mut Bucket {
        let map = if member { &mut self.members } else { &mut self.strangers };
        if map.get_mut(&user_id).is_none() {
            map.insert(user_id, Bucket::full(now));
        }
        map.get_mut(&user_id).expect("inserted above")
    }

    /// A command from `user_id`: takes one of their tokens.
    pub fn command(&mut self, user_id: i64, member: bool, now: Instant) -> Verdict {
        let Some(per_second) = self.per_second else { return Verdict::Pass };
        let bucket = self.bucket(user_id, member, now);
        if bucket.take(per_second, now) {
            Verdict::Pass
        } else if bucket.may_notify(now) {
            Verdict::Notify
        } else {
            Verdict::Drop
        }
    }

    /// Whether `user_id` may be sent a notice now (at most one a minute);
    /// for commands refused whatever the rate, such as a stranger's `/video`.
    pub fn notice(&mut self, user_id: i64, member: bool, now: Instant) -> bool {
        self.bucket(user_id, member, now).may_notify(now)
    }

    /// Users remembered now, members and strangers.
    pub fn tracked(&self) -> (usize, usize) {
        (self.members.len(), self.strangers.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn a_burst_then_the_rate() {
        let mut limiter = RateLimiter::new(20);
        let t0 = Instant::now();
        for _ in 0..BURST {
            assert_eq!(limiter.command(1, true, t0), Verdict::Pass);
        }
        assert_eq!(limiter.command(1, true, t0), Verdict::Notify);
        assert_eq!(limiter.command(1, true, t0), Verdict::Drop);
        // 20 a minute: one token every 3 seconds.
        assert_eq!(limiter.command(1, true, t0 + 2 * SECOND), Verdict::Drop);
        assert_eq!(limiter.command(1, true, t0 + 3 * SECOND), Verdict::Pass);
        assert_eq!(limiter.command(1, true, t0 + 4 * SECOND), Verdict::Drop);
        // Another user is not affected.
        assert_eq!(limiter.command(2, true, t0 + 4 * SECOND), Verdict::Pass);
    }

    #[test]
    fn a_long_silence_refills_to_the_burst_only() {
        let mut limiter = RateLimiter::new(20);
        let t0 = Instant::now();
        let later = t0 + 3600 * SECOND;
        let passed = (0..50).filter(|_| limiter.command(1, true, later) == Verdict::Pass).count();
        assert_eq!(passed, BURST as usize);
    }

    #[test]
    fn a_sustained_flood_passes_the_rate_and_one_notice_a_minute() {
        let mut limiter = RateLimiter::new(20);
        let t0 = Instant::now();
        let (mut passed, mut notices) = (0, 0);
        // 10 commands a second for 3 minutes.
        for tick in 0..1800u32 {
            match limiter.command(7, false, t0 + Duration::from_millis(100) * tick) {
                Verdict::Pass => passed += 1,
                Verdict::Notify => notices += 1,
                Verdict::Drop => {}
            }
        }
        assert!((BURST as usize + 59..=BURST as usize + 60).contains(&passed), "{passed}");
        assert_eq!(notices, 3);
    }

    #[test]
    fn notices_are_limited_to_one_a_minute_per_user() {
        let mut limiter = RateLimiter::new(20);
        let t0 = Instant::now();
        assert!(limiter.notice(9, false, t0));
        assert!(!limiter.notice(9, false, t0 + 59 * SECOND));
        assert!(limiter.notice(10, false, t0 + 59 * SECOND));
        assert!(limiter.notice(9, false, t0 + 60 * SECOND));
    }

    #[test]
    fn zero_turns_the_limit_off() {
        let mut limiter = RateLimiter::new(0);
        let t0 = Instant::now();
        assert!((0..1000).all(|_| limiter.command(1, true, t0) == Verdict::Pass));
        assert_eq!(limiter.tracked(), (0, 0));
    }

    #[test]
    fn memory_is_bounded_and_strangers_never_evict_members() {
        let mut limiter = RateLimiter::with_capacity(20, 100);
        let t0 = Instant::now();
        for _ in 0..BURST {
            limiter.command(1, true, t0);
        }
        for user in 1_000..101_000 {
            limiter.command(user, false, t0);
        }
        assert_eq!(limiter.tracked(), (1, 100));
        // The member's empty bucket survived the strangers.
        assert_eq!(limiter.command(1, true, t0), Verdict::Notify);
    }

    #[test]
    fn the_least_recently_seen_user_is_evicted_first() {
        let mut limiter = RateLimiter::with_capacity(20, 2);
        let t0 = Instant::now();
        for user in [1, 2] {
            for _ in 0..BURST {
                limiter.command(user, true, t0);
            }
        }
        limiter.command(1, true, t0);
        // A third user evicts user 2 (seen last before user 1).
        limiter.command(3, true, t0);
        assert_eq!(limiter.command(1, true, t0), Verdict::Drop);
        assert_eq!(limiter.command(2, true, t0), Verdict::Pass);
    }
}
