//! sora-bot: Telegram `/video` commands → Sora-2 videos via the yunwu.ai video API.

pub mod command;
pub mod video_api;
pub mod config;
pub mod store;
pub mod task;
pub mod texts;
pub mod metrics;
pub mod telegram;
pub mod keyboards;
pub mod bot;
pub mod images;
pub mod delivery;
pub mod watcher;
pub mod http;
pub mod rate_limit;
pub mod media_proxy;
pub mod net_guard;
pub mod webhook;
pub mod leader;
