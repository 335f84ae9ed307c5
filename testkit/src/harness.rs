//! Both fakes, a scratch directory and the standard bot configuration.

use std::{path::PathBuf, time::Duration};

use sqlx::Connection;
use sqlx::postgres::PgConnection;
use tempfile::TempDir;

use crate::process::{BotProcess, DEFAULT_RUST_LOG};
use crate::telegram::{FakeTelegram, TOKEN};
use crate::video_api::FakeVideoApi;

pub const VIDEO_API_KEY: &str = "sk-test-video-key-0123456789abcdefghijklmnopqrstuv";
/// A database on the local test server that `fresh_postgres_db` may create databases from.
pub const POSTGRES_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

pub struct TestEnv {
    pub tg: FakeTelegram,
    pub video: FakeVideoApi,
    /// Holds the SQLite database and is the bot's working directory.
    pub dir: TempDir,
    bin: PathBuf,
    vars: Vec<(String, String)>,
}

impl TestEnv {
    /// Starts both fakes; `bin` is the bot binary (`bot_bin!()` in tests).
    pub async fn start(bin: impl Into<PathBuf>) -> TestEnv {
        let tg = FakeTelegram::start().await;
        let video = FakeVideoApi::start().await;
        let dir = tempfile::tempdir().expect("temp dir");
        let database_url = format!("sqlite://{}", dir.path().join("bot.db").display());
        let vars = [
            ("TELOXIDE_TOKEN", TOKEN.to_owned()),
            ("TELOXIDE_API_URL", tg.url()),
            ("VIDEO_API_KEY", VIDEO_API_KEY.to_owned()),
            ("VIDEO_API_BASE_URL", video.url()),
            ("DATABASE_URL", database_url),
            ("ALLOW_EVERYONE", "true".to_owned()),
            ("HTTP_BIND", "127.0.0.1:0".to_owned()),
            ("POLL_INTERVAL_SECS", "1".to_owned()),
            ("TELEGRAM_SEND_LIMITS", "off".to_owned()),
            // Tests type faster than people; tests/flood.rs turns the limit on.
            ("COMMANDS_PER_MINUTE", "0".to_owned()),
            ("RUST_LOG", DEFAULT_RUST_LOG.to_owned()),
        ];
        let vars = vars.into_iter().map(|(key, value)| (key.to_owned(), value)).collect();
        TestEnv { tg, video, dir, bin: bin.into(), vars }
    }

    /// Sets (or overrides) a variable, builder style.
    pub fn env(mut self, key: &str, value: &str) -> TestEnv {
        self.set_env(key, value);
        self
    }

    /// Sets (or overrides) a variable, e.g. between two bot runs.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.remove_env(key);
        self.vars.push((key.into(), value.into()));
    }

    pub fn remove_env(&mut self, key: &str) {
        self.vars.retain(|(name, _)| name != key);
    }

    pub fn vars(&self) -> &[(String, String)] {
        &self.vars
    }

    pub fn var(&self, key: &str) -> Option<&str> {
        self.vars.iter().find(|(name, _)| name == key).map(|(_, value)| value.as_str())
    }

    /// Starts the bot with the current variables. Call it again after
    /// `kill()`/`terminate()` to restart on the same database.
    pub fn start_bot(&self) -> BotProcess {
        BotProcess::start_in(&self.bin, &self.vars, self.dir.path())
    }

    /// Fakes + the bot with these overrides, once it has registered its commands.
    pub async fn start_with(bin: impl Into<PathBuf>, vars: &[(&str, &str)]) -> (TestEnv, BotProcess) {
        let mut env = TestEnv::start(bin).await;
        for (key, value) in vars {
            env.set_env(key, value);
        }
        let bot = env.start_bot();
        env.tg.wait_for("setMyCommands", 1, Duration::from_secs(15)).await;
        (env, bot)
    }
}

/// Creates an empty database on the local PostgreSQL and returns its URL.
pub async fn fresh_postgres_db() -> String {
    let mut admin = PgConnection::connect(POSTGRES_ADMIN_URL)
        .await
        .unwrap_or_else(|error| panic!("cannot connect to {POSTGRES_ADMIN_URL}: {error}"));
    let name = format!("sora_test_{:016x}", rand::random::<u64>());
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.expect("CREATE DATABASE");
    let _ = admin.close().await;
    format!("postgres://postgres@127.0.0.1:5432/{name}")
}

/// Best-effort removal of a database made by `fresh_postgres_db`.
pub async fn drop_postgres_db(url: &str) {
    let Some(name) = url.rsplit('/').next().filter(|name| name.starts_with("sora_test_")) else {
        return;
    };
    if let Ok(mut admin) = PgConnection::connect(POSTGRES_ADMIN_URL).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin).await;
        let _ = admin.close().await;
    }
}
