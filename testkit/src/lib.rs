//! Test kit of sora-bot, shared by its unit tests, its integration tests
//! (`tests/it`) and its benchmark examples: a fake Telegram Bot API, a fake
//! video API, the bot as a child process and the environment wiring them.
//! It does not depend on sora-bot, so the crate's own unit tests can use it.

mod bench;
mod db_proxy;
mod harness;
mod process;
mod server;
mod telegram;
mod updates;
mod video_api;

pub use bench::{bot_binary, percentile};
pub use db_proxy::CutProxy;
pub use harness::{POSTGRES_ADMIN_URL, TestEnv, VIDEO_API_KEY, drop_postgres_db, fresh_postgres_db};
pub use process::BotProcess;
pub use server::poll_until;
pub use telegram::{BOT_ID, BOT_USERNAME, Call, Failure, FakeTelegram, TOKEN, UploadedFile};
pub use updates::{
    Chat, DOCUMENT_LEN, Msg, Payment, User, button_data, button_labels, callback_query, fake_jpeg, inline_query,
    photo_size_id, pre_checkout_query, successful_payment,
};
pub use video_api::{CreateCall, FakeVideoApi, LISTED_MODELS, ModelsCall, QueryCall, Reply};
