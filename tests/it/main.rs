//! The integration tests: the real binary against the fakes of `testkit`, one
//! module per area; tests that need no separate process build the bot in
//! their own process ([`InProcess`]). One test binary, so the kit is compiled once.

mod access;
mod albums;
mod busy;
mod buttons;
mod failures;
mod flood;
mod fuzz;
mod hostile_http;
mod lifecycle;
mod models;
mod money;
mod ops;
mod payments;
mod replicas;
mod replicas_polling;
mod restart;
mod support_selftest;
mod unknown;
mod video;

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use serde_json::Value;
use serde_json::json;
use sora_bot::{app::App, config::Config, store::Store};
use testkit::{BotProcess, Call, FakeTelegram, Msg, TestEnv};
use tokio_util::sync::CancellationToken;

/// How long a test waits for something the bot does at once.
pub const WAIT: Duration = Duration::from_secs(15);

/// Path of the `sora-bot` binary Cargo built for these tests.
pub fn bot_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sora-bot"))
}

/// Starts the bot with `vars` on top of the test environment's.
pub async fn bot_with(vars: &[(&str, &str)]) -> (TestEnv, BotProcess) {
    TestEnv::start_with(bot_bin(), vars).await
}

/// The bot built and run inside the test, as `main` builds it: for tests
/// that need no kill, restart or log of a separate process.
pub struct InProcess {
    stopping: CancellationToken,
    running: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl InProcess {
    /// Builds the bot from the test environment's variables and starts it.
    pub async fn start(env: &TestEnv) -> InProcess {
        let config = Config::from_lookup(|name| env.var(name).map(str::to_owned)).expect("a valid test configuration");
        let app = App::build(config).await.expect("the bot builds");
        let stopping = CancellationToken::new();
        let running = tokio::spawn(app.run(stopping.clone()));
        InProcess { stopping, running }
    }

    /// Stops it as a signal would, and waits until it has stopped.
    pub async fn stop(self) {
        self.stopping.cancel();
        let stopped = tokio::time::timeout(WAIT, self.running).await.expect("the bot stops in time");
        stopped.expect("the bot's task did not panic").expect("the bot stops cleanly");
    }
}

/// The bot's own database, opened beside it (after it started and migrated it).
pub async fn store(env: &TestEnv) -> Store {
    Store::connect(env.var("DATABASE_URL").expect("DATABASE_URL set")).await.expect("open the bot's database")
}

/// Pushes `message` and returns its message id.
pub fn send(env: &TestEnv, message: Msg) -> i64 {
    let message = message.build();
    let id = msg_id(&message);
    env.tg.push_message(message);
    id
}

/// Successful edits of message `message_id` in `chat_id` so far, in order.
/// The bot's `editMessageReplyMarkup` calls of one message: a menu opened or closed under it.
pub async fn wait_keyboard_edit(env: &TestEnv, chat_id: i64, message_id: impl Into<i64>, n: usize) -> Call {
    let message_id = message_id.into();
    let found = testkit::poll_until(Duration::from_secs(30), || {
        let edits: Vec<Call> = env
            .tg
            .calls_of("editMessageReplyMarkup")
            .into_iter()
            .filter(|c| c.chat_id() == Some(chat_id) && c.body["message_id"] == json!(message_id))
            .collect();
        edits.into_iter().nth(n - 1)
    })
    .await;
    found.unwrap_or_else(|| panic!("keyboard edit {n} of {message_id}\n{}", env.tg.dump()))
}

pub fn edits(env: &TestEnv, chat_id: i64, message_id: impl Into<i64>) -> Vec<Call> {
    let message_id = message_id.into();
    env.tg
        .calls_of("editMessageText")
        .into_iter()
        .filter(|c| c.chat_id() == Some(chat_id) && c.body["message_id"] == json!(message_id))
        .collect()
}

/// The labels of the buttons under a sent message, row by row.
pub fn buttons_labels(call: &Call) -> Vec<Vec<String>> {
    testkit::button_labels(&call.body["reply_markup"])
}

pub fn msg_id(message: &Value) -> i64 {
    message["message_id"].as_i64().expect("message_id")
}

/// The text the bot replied to `message` (as pushed), waiting for it.
pub async fn reply_to(tg: &FakeTelegram, message: &Value) -> String {
    let chat_id = message["chat"]["id"].as_i64().expect("chat id");
    tg.wait_reply_text(chat_id, msg_id(message), WAIT).await
}

/// `GET path` on the bot's own HTTP server: status and body.
pub async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client");
    let response =
        client.get(format!("http://{addr}{path}")).send().await.unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}
