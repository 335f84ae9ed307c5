//! The watcher's decisions as pure functions of the stored task, the latest
//! query answer and the clock, so they can be tested without a network.

use std::time::Duration;

use crate::{
    task::Task,
    video_api::{ApiError, TaskPhase, TaskReport},
};

/// Telegram does not throttle `editMessageText` for us (PITFALLS 5) and answers
/// quick edits of one message with 429: a status message changes at most this often.
pub const MIN_EDIT_GAP: Duration = Duration::from_secs(5);

/// A video that could not be delivered for this long after it was ready (every
/// round failing, even the link) is given up, so the task does not stay open
/// and hold the user's active slot forever.
pub const DELIVERY_GIVE_UP: Duration = Duration::from_secs(30 * 60);

/// What to do with a running task after querying it.
#[derive(Debug, Clone, PartialEq)]
pub enum Step<'a> {
    /// Still running. `changed`: the status or progress differs from what is stored.
    Running { status: &'a str, progress_pct: Option<u8>, changed: bool },
    /// Ready: hand over to delivery (also past the timeout: the video exists and was paid for).
    Deliver { status: &'a str, video_url: &'a str },
    Fail { reason: Option<&'a str> },
    TimeOut,
    /// The query failed before the timeout: try again on a later round.
    Retry,
}

pub fn decide<'a>(task: &Task, report: Result<&'a TaskReport, &ApiError>, now_ms: i64, timeout: Duration) -> Step<'a> {
    let timed_out = now_ms.saturating_sub(task.created_at) >= millis(timeout);
    match report {
        Ok(TaskReport { status, phase: TaskPhase::Completed { video_url }, .. }) => Step::Deliver { status, video_url },
        Ok(TaskReport { phase: TaskPhase::Failed { reason }, .. }) => Step::Fail { reason: reason.as_deref() },
        _ if timed_out => Step::TimeOut,
        Ok(report @ TaskReport { phase: TaskPhase::Running, .. }) => {
            // An answer without progress keeps the last known one, so the shown
            // percentage does not flicker away and back.
            let progress_pct = report.progress_pct.or(task.progress_pct);
            let changed = task.upstream_status.as_deref() != Some(report.status.as_str()) || task.progress_pct != progress_pct;
            Step::Running { status: &report.status, progress_pct, changed }
        }
        Err(_) => Step::Retry,
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

/// How long a lease lasts unless renewed: several polls, and never so short that a
/// slow database round makes us lose our own tasks.
pub fn lease_ttl(poll_interval: Duration) -> Duration {
    (poll_interval * 3).max(Duration::from_secs(30))
}

/// How often the watcher looks for due tasks: due times are per task, so a short
/// tick only makes each poll happen close to its time.
pub fn tick_every(poll_interval: Duration) -> Duration {
    poll_interval.clamp(Duration::from_millis(50), Duration::from_secs(1))
}

pub fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        task::TaskState,
    };

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
        assert_eq!(decide(&task(), Ok(&same), 60_000, HOUR), Step::Running { status: "queued", progress_pct: None, changed: false });
        let moved = report("processing", TaskPhase::Running, Some(42));
        assert_eq!(decide(&task(), Ok(&moved), 60_000, HOUR), Step::Running { status: "processing", progress_pct: Some(42), changed: true });
        // A later answer without progress keeps 42 %.
        let known = Task { upstream_status: Some("processing".into()), progress_pct: Some(42), ..task() };
        let bare = report("processing", TaskPhase::Running, None);
        assert_eq!(decide(&known, Ok(&bare), 60_000, HOUR), Step::Running { status: "processing", progress_pct: Some(42), changed: false });
    }

    #[test]
    fn finished_reports_win_even_past_the_timeout() {
        let done = report("completed", TaskPhase::Completed { video_url: "https://v/1.mp4".into() }, Some(100));
        for now in [60_000, 2 * 3_600_000] {
            assert_eq!(decide(&task(), Ok(&done), now, HOUR), Step::Deliver { status: "completed", video_url: "https://v/1.mp4" });
        }
        let failed = report("failed", TaskPhase::Failed { reason: Some("content policy".into()) }, None);
        assert_eq!(decide(&task(), Ok(&failed), 2 * 3_600_000, HOUR), Step::Fail { reason: Some("content policy") });
        let bare = report("error", TaskPhase::Failed { reason: None }, None);
        assert_eq!(decide(&task(), Ok(&bare), 0, HOUR), Step::Fail { reason: None });
    }

    #[test]
    fn errors_retry_until_the_timeout() {
        let transient = ApiError::Timeout { request_sent: true };
        let permanent = ApiError::Unauthorized { message: None };
        for error in [&transient, &permanent] {
            assert_eq!(decide(&task(), Err(error), 3_599_999, HOUR), Step::Retry);
            assert_eq!(decide(&task(), Err(error), 3_600_000, HOUR), Step::TimeOut);
        }
        let running = report("processing", TaskPhase::Running, Some(99));
        assert_eq!(decide(&task(), Ok(&running), 3_600_000, HOUR), Step::TimeOut);
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
        assert_eq!(tick_every(Duration::from_secs(30)), Duration::from_secs(1));
        assert_eq!(tick_every(Duration::from_millis(200)), Duration::from_millis(200));
        assert_eq!(tick_every(Duration::ZERO), Duration::from_millis(50));
    }
}
