//! The error policy of the handlers.
//!
//! - A refusal the user can act on (bad options, a limit reached, a button
//!   that is not theirs, a task not found) is an answer, sent where it is
//!   decided, and never an error.
//! - An inside failure (the database, a Telegram request, a bug) is a
//!   `HandlerError`, returned with `?` and handled in one place: the
//!   dispatcher logs it once, at ERROR, in the update's span (update id, and
//!   the task id once a handler knows it), and the user gets a short answer
//!   in their language (`texts::inside_failure`): a command's reply, a
//!   press's notice. Never the user's text in the log.
//! - Work that goes on off the dispatcher (a submission, a press's request)
//!   runs in the same span and answers its own failures where it knows what
//!   was already charged: after the paid create, the answer names the video
//!   instead of saying nothing was charged.

use crate::store::StoreError;

/// An inside failure of a handler; see the module doc for what becomes of it.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("Telegram request: {0}")]
    Telegram(#[from] teloxide::RequestError),
    #[error("video API: {0}")]
    VideoApi(#[from] crate::video_api::ApiError),
}

pub type HandlerResult = Result<(), HandlerError>;

/// Names the task in the span of the update being handled (opened by the
/// dispatcher with an empty `task` field), so that the one line logged for
/// its failure says which task it was about.
pub fn record_task(id: i64) {
    tracing::Span::current().record("task", id);
}
