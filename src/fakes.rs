//! The bot's own clients pointed at testkit's fakes, for the unit tests.

use std::{collections::HashMap, time::Duration};

use testkit::{Failure, FakeTelegram, FakeVideoApi, VIDEO_API_KEY};

use crate::{config::Config, net_guard::GuardedClient, telegram::Telegram, video_api::VideoApi};

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
