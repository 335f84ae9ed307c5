//! What the unit tests share: the bot's own clients pointed at testkit's
//! fakes, fresh stores on both backends, and limits that stay out of the way.
//! Built for tests only.

use std::{collections::HashMap, time::Duration};

use testkit::{Failure, FakeTelegram, FakeVideoApi, VIDEO_API_KEY};

use crate::{
    config::{Config, Limits},
    lang::Lang,
    models::VideoOptions,
    net_guard::GuardedClient,
    store::Store,
    task::{NewTask, Task, TaskState},
    telegram::Telegram,
    video_api::VideoApi,
};

impl Limits {
    /// Room for 100 of everything: tests that are not about the cost guards.
    pub(crate) const ROOMY: Limits = Limits {
        daily_per_user: Some(100),
        max_active_per_user: Some(100),
        max_active_total: Some(100),
        daily_total: None,
        daily_per_chat: None,
    };
}

impl NewTask {
    /// A sora-2, portrait, large, 15 s request in a private chat; tests override what they need.
    pub(crate) fn example() -> NewTask {
        NewTask {
            chat_id: 10,
            user_id: 10,
            command_msg_id: 5,
            lang: Lang::En,
            prompt: "a cat".into(),
            options: VideoOptions::STANDARD,
            image_file_ids: vec![],
        }
    }
}

impl Task {
    /// `NewTask::example()`, created and running; tests override what they need.
    pub(crate) fn example() -> Task {
        let NewTask { chat_id, user_id, command_msg_id, lang, prompt, options, image_file_ids } = NewTask::example();
        Task {
            id: 1,
            chat_id,
            user_id,
            command_msg_id,
            status_msg_id: Some(6),
            lang,
            prompt,
            options,
            image_file_ids,
            upstream_id: Some("sora-2:task_1".into()),
            state: TaskState::Running,
            upstream_status: Some("queued".into()),
            progress_pct: None,
            video_url: None,
            error: None,
            shown_text: None,
            shown_at: None,
            created_at: 0,
            updated_at: 0,
            cancelled_at: None,
            unknown_told_at: None,
        }
    }
}

/// A fresh SQLite store in a temp dir (kept alive by the returned guard).
pub async fn sqlite() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/test.db", dir.path().display());
    (Store::connect(&url).await.unwrap(), dir)
}

/// A fresh database on the local PostgreSQL server.
pub async fn postgres() -> Store {
    Store::connect(&postgres_url().await).await.unwrap()
}

/// The URL of a fresh, empty database on the local PostgreSQL server.
pub async fn postgres_url() -> String {
    sqlx::any::install_default_drivers();
    let admin = sqlx::AnyPool::connect("postgres://postgres@127.0.0.1:5432/test")
        .await
        .expect("local PostgreSQL on 127.0.0.1:5432");
    let name = format!("sora_unit_{:032x}", rand::random::<u128>());
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await.unwrap();
    admin.close().await;
    format!("postgres://postgres@127.0.0.1:5432/{name}")
}

/// A fake Bot API and a fake video API (which also serves the videos).
pub struct Fakes {
    pub tg: FakeTelegram,
    pub api: FakeVideoApi,
}

impl Fakes {
    pub async fn start() -> Fakes {
        Fakes { tg: FakeTelegram::start().await, api: FakeVideoApi::start().await }
    }

    /// A Bot API client, without send limits (tests send few messages).
    pub fn telegram(&self) -> Telegram {
        let vars = HashMap::from([
            ("TELOXIDE_TOKEN", testkit::TOKEN.to_owned()),
            ("TELOXIDE_API_URL", self.tg.url()),
            ("VIDEO_API_KEY", VIDEO_API_KEY.to_owned()),
            ("TELEGRAM_SEND_LIMITS", "off".to_owned()),
        ]);
        let config = Config::from_lookup(|name| vars.get(name).cloned()).expect("a valid test configuration");
        Telegram::new(&config)
    }

    pub fn video_api(&self) -> VideoApi {
        VideoApi::new(&self.api.url(), VIDEO_API_KEY.to_owned().into())
            .with_timeouts(Duration::from_secs(5), Duration::from_secs(5))
    }

    /// A download client trusting the video API's origin, as the bot trusts `VIDEO_API_BASE_URL`.
    pub fn downloads(&self) -> GuardedClient {
        GuardedClient::new(Some(&self.api.url().parse().expect("a URL")))
    }

    /// The next call of `method` is refused with `description`.
    pub fn refuse_next(&self, method: &str, description: &str) {
        self.tg.fail_next(method, 1, Failure::BadRequest(description.into()));
    }
}
