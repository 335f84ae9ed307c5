//! The Telegram side: the handler tree (`routes`) over feature handlers
//! (commands, buttons, guided `/video`, settings, payments, admin, albums),
//! which share the submission pipeline (`submit`) and the handler context
//! (`context`). The gate decides, before any of it, what may be handled.

mod admin;
mod albums;
mod buttons;
mod commands;
mod context;
mod error;
mod fixes;
mod gate;
mod gated;
mod guided;
mod inline;
mod menu;
mod payments;
mod routes;
mod settings;
mod submit;
mod tasks;

pub use context::{AppState, SUBMISSIONS_AT_ONCE};
pub use error::{HandlerError, HandlerResult, record_task};
pub use gate::Gate;
pub use gated::Gated;
pub use menu::{Command, register_commands};
pub use routes::{handled_updates, schema};
