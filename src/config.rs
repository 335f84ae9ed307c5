//! Typed configuration from the environment (after `.env`), validated once at start.
//!
//! Every problem is reported as one line naming the variable; secrets are held in
//! `SecretString` so a stray `{:?}` cannot print them.

use std::{collections::HashSet, net::SocketAddr, time::Duration};

use reqwest::Url;
use secrecy::SecretString;

use crate::{
    command::VideoOptions,
    models::{Catalog, ModelName, Shape, Size},
};

mod payments;
mod values;

use payments::payments;
pub use payments::{CreditPack, Payments};
use values::{boolean, choice, database_url, http_url, id_list, limit, looks_like_bot_token, number, positive};

#[derive(Debug)]
pub struct Config {
    pub telegram_token: SecretString,
    pub telegram_api_url: Url,
    pub video_api_key: SecretString,
    pub video_api_base_url: Url,
    /// How long a create call may take before its outcome counts as unknown.
    pub video_api_timeout: Duration,
    /// May hold a database password: never logged.
    pub database_url: SecretString,
    pub access: Access,
    /// The models known and offered (`VIDEO_MODELS`, `VIDEO_MODELS_FILE`).
    pub models: Catalog,
    /// `DEFAULT_MODEL`, when set; otherwise the default follows the video API's listing.
    pub default_model: Option<ModelName>,
    /// What a request gets for what it does not say, before it is fitted to its
    /// model (`VideoOptions::moved_to`): the model is `DEFAULT_MODEL` or the first offered.
    pub defaults: VideoOptions,
    pub limits: Limits,
    pub max_images: usize,
    pub poll_interval: Duration,
    /// Per replica: the most task queries per second toward the video API.
    pub video_api_queries_per_second: u32,
    pub task_timeout: Duration,
    /// How long a create with an unknown outcome holds its requester's slot
    /// (`UNKNOWN_HOLD_MAX`, or the task timeout when that is shorter).
    pub unknown_hold: Duration,
    pub http_bind: SocketAddr,
    pub public_base_url: Option<Url>,
    /// Set together with `public_base_url`: webhook mode instead of long polling.
    pub webhook_secret: Option<SecretString>,
    pub image_mode: ImageMode,
    /// `false` only for benchmarks against a local fake (`TELEGRAM_SEND_LIMITS=off`).
    pub telegram_send_limits: bool,
    /// Commands per user per minute (after a small burst); 0 = no limit.
    pub commands_per_minute: u32,
    /// With it, `/metrics` wants `Authorization: Bearer <token>` from anywhere; without, loopback only.
    pub metrics_token: Option<SecretString>,
    /// Connections the HTTP server holds at once; the rest of the file descriptors stay for outbound calls.
    pub http_max_connections: usize,
    /// `PAYMENTS=stars`: videos are paid with credits bought with Telegram Stars.
    pub payments: Option<Payments>,
}

/// The longest a create with an unknown outcome holds its requester's slot: a
/// relay that took the job starts it within minutes, so after this the user
/// gets the slot back (the video still counts for the day). Never longer than
/// the task timeout, after which a known task would have been given up too
/// (which is also how tests shorten it).
pub const UNKNOWN_HOLD_MAX: Duration = Duration::from_secs(10 * 60);

#[derive(Debug, Clone, Default)]
pub struct Access {
    pub allowed_users: HashSet<i64>,
    pub allowed_chats: HashSet<i64>,
    pub admins: HashSet<i64>,
    pub allow_everyone: bool,
}

impl Access {
    pub fn is_admin(&self, user_id: i64) -> bool {
        self.admins.contains(&user_id)
    }

    /// Whether `user_id`, writing in `chat_id`, may spend the API key.
    pub fn may_create(&self, user_id: i64, chat_id: i64) -> bool {
        self.allow_everyone
            || self.is_admin(user_id)
            || self.allowed_users.contains(&user_id)
            || self.allowed_chats.contains(&chat_id)
    }
}

/// The cost guards; `None` is no limit (a `0` in the environment, for every one of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub daily_per_user: Option<u32>,
    pub max_active_per_user: Option<u32>,
    pub max_active_total: Option<u32>,
    /// Videos per UTC day for everyone together, admins included (`None`: unlimited).
    pub daily_total: Option<u32>,
    /// Videos per UTC day in one group chat, admins exempt (`None`: unlimited).
    pub daily_per_chat: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageMode {
    /// Served by our own HTTP server under `PUBLIC_BASE_URL/media/<token>.jpg`.
    Proxy,
    /// Inlined as `data:image/...;base64,...`.
    Data,
    /// The raw Telegram file URL, which contains the bot token (opt-in).
    Telegram,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{var}: {problem}")]
pub struct ConfigError {
    pub var: &'static str,
    pub problem: String,
}

fn problem(var: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError { var, problem: problem.into() }
}

impl Config {
    /// Reads the process environment (call `dotenvy::dotenv()` first).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds the config from any name → value lookup; empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let parsed = |name: &'static str, default: &str| -> String { get(name).unwrap_or_else(|| default.to_owned()) };

        let telegram_token = get("TELOXIDE_TOKEN")
            .ok_or_else(|| problem("TELOXIDE_TOKEN", "is required (the token from @BotFather)"))?;
        if !looks_like_bot_token(&telegram_token) {
            return Err(problem("TELOXIDE_TOKEN", "does not look like a bot token (expected <digits>:<secret>)"));
        }
        let video_api_key = get("VIDEO_API_KEY").ok_or_else(|| problem("VIDEO_API_KEY", "is required"))?;

        let telegram_api_url = http_url("TELOXIDE_API_URL", &parsed("TELOXIDE_API_URL", "https://api.telegram.org"))?;
        let video_api_base_url = http_url("VIDEO_API_BASE_URL", &parsed("VIDEO_API_BASE_URL", "https://yunwu.ai"))?;

        let video_api_timeout =
            Duration::from_secs(positive("VIDEO_API_TIMEOUT_SECS", get("VIDEO_API_TIMEOUT_SECS"), 60)?);

        let database_url = database_url(&parsed("DATABASE_URL", "sqlite://sora-bot.db"))?;

        let access = Access {
            allowed_users: id_list("ALLOWED_USER_IDS", get("ALLOWED_USER_IDS"))?,
            allowed_chats: id_list("ALLOWED_CHAT_IDS", get("ALLOWED_CHAT_IDS"))?,
            admins: id_list("ADMIN_USER_IDS", get("ADMIN_USER_IDS"))?,
            allow_everyone: boolean("ALLOW_EVERYONE", get("ALLOW_EVERYONE"), false)?,
        };

        let models = catalog(get("VIDEO_MODELS_FILE"), get("VIDEO_MODELS"))?;
        let default_model = get("DEFAULT_MODEL")
            .map(|raw| {
                models.lookup(&raw).map(|spec| spec.name).ok_or_else(|| {
                    problem("DEFAULT_MODEL", format!("{raw:?} is not one of the offered models ({})", names(&models)))
                })
            })
            .transpose()?;
        let shape: Shape = choice(
            "DEFAULT_ORIENTATION",
            &parsed("DEFAULT_ORIENTATION", "portrait"),
            "portrait, landscape, square or a ratio like 4:3",
        )?;
        let size: Size = choice("DEFAULT_SIZE", &parsed("DEFAULT_SIZE", "large"), "large or small")?;
        let duration = get("DEFAULT_DURATION")
            .map(|raw| match raw.trim_end_matches(['s', 'S']).parse::<u32>() {
                Ok(seconds) if seconds > 0 => Ok(seconds),
                _ => Err(problem("DEFAULT_DURATION", format!("{raw:?} is not a number of seconds"))),
            })
            .transpose()?;
        let first = models.offered()[0].name;
        let defaults = VideoOptions { model: default_model.unwrap_or(first), shape, size: Some(size), duration };

        let limits = Limits {
            daily_per_user: limit("DAILY_LIMIT_PER_USER", get("DAILY_LIMIT_PER_USER"), Some(10))?,
            max_active_per_user: limit("MAX_ACTIVE_PER_USER", get("MAX_ACTIVE_PER_USER"), Some(2))?,
            max_active_total: limit("MAX_ACTIVE_TOTAL", get("MAX_ACTIVE_TOTAL"), Some(20))?,
            daily_total: limit("DAILY_LIMIT_TOTAL", get("DAILY_LIMIT_TOTAL"), None)?,
            daily_per_chat: limit("DAILY_LIMIT_PER_CHAT", get("DAILY_LIMIT_PER_CHAT"), None)?,
        };
        // 0 (no limit of the bot's own) is what one Telegram album holds.
        let max_images = match limit("MAX_IMAGES", get("MAX_IMAGES"), Some(4))? {
            None => ALBUM_MAX,
            Some(n) if n as usize > ALBUM_MAX => {
                return Err(problem("MAX_IMAGES", "must be at most 10 (a Telegram album holds 10); 0 means 10"));
            }
            Some(n) => n as usize,
        };
        let poll_interval = Duration::from_secs(positive("POLL_INTERVAL_SECS", get("POLL_INTERVAL_SECS"), 30)?);
        let video_api_queries_per_second =
            match positive("VIDEO_API_QUERIES_PER_SECOND", get("VIDEO_API_QUERIES_PER_SECOND"), 20)? {
                n @ 1..=10_000 => n as u32,
                _ => return Err(problem("VIDEO_API_QUERIES_PER_SECOND", "must be at most 10000")),
            };
        let task_timeout = Duration::from_secs(positive("TASK_TIMEOUT_SECS", get("TASK_TIMEOUT_SECS"), 3600)?);

        let http_bind = parsed("HTTP_BIND", "127.0.0.1:8080")
            .parse()
            .map_err(|_| problem("HTTP_BIND", "must be an address like 127.0.0.1:8080"))?;

        let public_base_url = get("PUBLIC_BASE_URL").map(|raw| http_url("PUBLIC_BASE_URL", &raw)).transpose()?;
        let webhook_secret = get("WEBHOOK_SECRET");
        if let Some(secret) = &webhook_secret {
            if public_base_url.is_none() {
                return Err(problem("WEBHOOK_SECRET", "is set but PUBLIC_BASE_URL is not (the webhook needs both)"));
            }
            // Telegram's own rule for secret_token.
            let valid = (1..=256).contains(&secret.len())
                && secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !valid {
                return Err(problem("WEBHOOK_SECRET", "must be 1-256 characters of A-Z, a-z, 0-9, _ and -"));
            }
        }

        let image_mode = match get("IMAGE_MODE").as_deref() {
            None if public_base_url.is_some() => ImageMode::Proxy,
            None => ImageMode::Data,
            Some("proxy") if public_base_url.is_none() => {
                return Err(problem(
                    "IMAGE_MODE",
                    "proxy needs PUBLIC_BASE_URL (where the video API can fetch the images)",
                ));
            }
            Some("proxy") => ImageMode::Proxy,
            Some("data") => ImageMode::Data,
            Some("telegram") => ImageMode::Telegram,
            Some(_) => return Err(problem("IMAGE_MODE", "must be proxy, data or telegram")),
        };

        let telegram_send_limits = match get("TELEGRAM_SEND_LIMITS").as_deref() {
            None | Some("telegram") => true,
            Some("off") => false,
            Some(_) => return Err(problem("TELEGRAM_SEND_LIMITS", "must be telegram or off")),
        };

        // The rate limiter reads 0 as "no limit", like every other limit here.
        let commands_per_minute = limit("COMMANDS_PER_MINUTE", get("COMMANDS_PER_MINUTE"), Some(20))?.unwrap_or(0);

        let metrics_token = get("METRICS_TOKEN");
        if metrics_token.as_ref().is_some_and(|t| t.len() < 16 || !t.bytes().all(|b| b.is_ascii_graphic())) {
            return Err(problem("METRICS_TOKEN", "must be at least 16 printable characters without spaces"));
        }
        let http_max_connections: usize = number("HTTP_MAX_CONNECTIONS", get("HTTP_MAX_CONNECTIONS"), 512)?;
        if !(8..=65_536).contains(&http_max_connections) {
            return Err(problem("HTTP_MAX_CONNECTIONS", "must be between 8 and 65536"));
        }
        let payments = payments(&get)?;
        Ok(Config {
            telegram_token: telegram_token.into(),
            telegram_api_url,
            video_api_key: video_api_key.into(),
            video_api_base_url,
            video_api_timeout,
            database_url: database_url.into(),
            access,
            models,
            default_model,
            defaults,
            limits,
            max_images,
            poll_interval,
            video_api_queries_per_second,
            task_timeout,
            unknown_hold: task_timeout.min(UNKNOWN_HOLD_MAX),
            http_bind,
            public_base_url,
            webhook_secret: webhook_secret.map(SecretString::from),
            image_mode,
            telegram_send_limits,
            commands_per_minute,
            metrics_token: metrics_token.map(SecretString::from),
            http_max_connections,
            payments,
        })
    }

    pub fn uses_webhook(&self) -> bool {
        self.webhook_secret.is_some()
    }
}

/// The built-in catalog, changed by the file, offering `VIDEO_MODELS` (all by default).
fn catalog(file: Option<String>, offered: Option<String>) -> Result<Catalog, ConfigError> {
    let builtin = Catalog::builtin().offered().to_vec();
    let known = match file {
        Some(path) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| problem("VIDEO_MODELS_FILE", format!("{path}: cannot be read: {e}")))?;
            crate::models::file::apply(builtin, &text)
                .map_err(|e| problem("VIDEO_MODELS_FILE", format!("{path}: {e}")))?
        }
        None => builtin,
    };
    let everything = Catalog::offering(known.clone(), &known.iter().map(|m| m.name).collect::<Vec<_>>());
    let Some(list) = offered else { return Ok(everything) };
    let mut chosen: Vec<ModelName> = Vec::new();
    for written in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let spec = everything.lookup(written).ok_or_else(|| {
            problem("VIDEO_MODELS", format!("{written:?} is not a known model (known: {})", names(&everything)))
        })?;
        if chosen.contains(&spec.name) {
            return Err(problem("VIDEO_MODELS", format!("{} is listed twice", spec.name)));
        }
        chosen.push(spec.name);
    }
    if chosen.is_empty() {
        return Err(problem("VIDEO_MODELS", "names no model"));
    }
    Ok(Catalog::offering(known, &chosen))
}

fn names(catalog: &Catalog) -> String {
    catalog.offered().iter().map(|m| m.name.to_string()).collect::<Vec<_>>().join(", ")
}

/// Photos in one Telegram album.
const ALBUM_MAX: usize = 10;

#[cfg(test)]
mod tests;
