//! The task record as the rest of the bot sees it (pure data; storage lives in `store`).

use crate::{command::VideoOptions, lang::Lang};

/// Where a task is in our lifecycle. The upstream status string is kept beside it.
/// Stored as its snake_case name (`timed_out`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum TaskState {
    /// Stored, create call not answered yet. Left over after a crash it becomes `Unknown`.
    Submitting,
    /// Created upstream, being followed.
    Running,
    /// Finished upstream; the video is being sent (resumed after a restart).
    Delivering,
    /// Video delivered.
    Done,
    Failed,
    TimedOut,
    /// Stopped with /cancel and since ended upstream. While the job still runs
    /// upstream the task stays open (and keeps its slot) with `cancelled_at` set.
    Cancelled,
    /// The create call got no clear answer (a time-out, a gateway's 502/504, a
    /// cut connection), or the bot died between the call and storing its
    /// answer: maybe made and charged, never retried. An admin may attach its
    /// upstream id (it is then `Running`) or release it (`Rejected`).
    Unknown,
    /// The create call was refused or the request could not be prepared: not charged.
    Rejected,
}

impl TaskState {
    pub const ALL: [TaskState; 9] = [
        Self::Submitting,
        Self::Running,
        Self::Delivering,
        Self::Done,
        Self::Failed,
        Self::TimedOut,
        Self::Cancelled,
        Self::Unknown,
        Self::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(raw: &str) -> Option<Self> {
        raw.parse().ok()
    }

    /// Still needs the bot's attention (and counts as active for the cost guards).
    pub fn is_open(self) -> bool {
        matches!(self, Self::Submitting | Self::Running | Self::Delivering)
    }
}

/// The `error` of an unknown task that an admin ended as not made (`/release`):
/// stored as `Rejected`, so it no longer counts.
pub const RELEASED: &str = "released by an admin";

/// The user-visible state of one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// Short local id users type in `/status 12`.
    pub id: i64,
    pub chat_id: i64,
    pub user_id: i64,
    pub command_msg_id: i32,
    pub status_msg_id: Option<i32>,
    /// The requester's language, for messages sent later by the watcher.
    pub lang: Lang,
    pub prompt: String,
    pub options: VideoOptions,
    /// Telegram file ids of the photos (kept for `/again`; never URLs).
    pub image_file_ids: Vec<String>,
    pub upstream_id: Option<String>,
    pub state: TaskState,
    pub upstream_status: Option<String>,
    pub progress_pct: Option<u8>,
    pub video_url: Option<String>,
    pub error: Option<String>,
    /// The status text last shown in the status message, to edit only on change.
    pub shown_text: Option<String>,
    /// Unix ms.
    pub shown_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// When the user stopped following it (unix ms): no more messages about it.
    pub cancelled_at: Option<i64>,
    /// `Unknown` only: when its requester was told that its slot is free again
    /// (unix ms); until then it holds the slot.
    pub unknown_told_at: Option<i64>,
}

impl Task {
    /// Open but stopped by its user: followed silently until it ends upstream.
    pub fn is_silenced(&self) -> bool {
        self.cancelled_at.is_some()
    }
}

/// One `/video` request, the same value from the handler to the store (and,
/// for an album's caption, in the shared database while the album is collected).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NewTask {
    pub chat_id: i64,
    pub user_id: i64,
    /// The command message: answers reply to it, and with the chat it keys the task.
    pub command_msg_id: i32,
    pub lang: Lang,
    pub prompt: String,
    pub options: VideoOptions,
    pub image_file_ids: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names_round_trip() {
        for state in TaskState::ALL {
            assert_eq!(TaskState::parse(state.as_str()), Some(state));
        }
        assert_eq!(TaskState::parse("nonsense"), None);
    }

    #[test]
    fn only_unfinished_states_are_open() {
        let open: Vec<_> = TaskState::ALL.into_iter().filter(|s| s.is_open()).collect();
        assert_eq!(open, [TaskState::Submitting, TaskState::Running, TaskState::Delivering]);
    }
}
