//! sora-bot: Telegram `/video` commands → Sora-2 videos via the yunwu.ai video API.

pub mod app;
pub mod bot;
pub mod command;
pub mod config;
pub mod delivery;
pub mod discovery;
pub mod dispatch;
pub mod health_probe;
pub mod http;
pub mod images;
pub mod keyboards;
pub mod keyed_queue;
pub mod lang;
pub mod leader;
pub mod media_proxy;
pub mod metrics;
pub mod models;
pub mod net_guard;
pub mod payments;
pub mod rate_limit;
pub mod status_message;
pub mod store;
pub mod task;
pub mod telegram;
#[cfg(test)]
mod test_support;
pub mod texts;
pub mod updates;
pub mod video_api;
pub mod watcher;
pub mod webhook;
