//! Test harness shared by the integration tests (`mod support;`) and
//! `examples/loadgen.rs` (`#[path = "../tests/support/mod.rs"] mod support;`):
//! a fake Telegram Bot API, a fake video API, and the bot as a child process.
#![allow(dead_code)]

mod harness;
mod multipart;
mod process;
mod server;
mod telegram;
mod updates;
mod video_api;

// Not every test uses every name.
#[allow(unused_imports)]
pub use harness::{POSTGRES_ADMIN_URL, TestEnv, VIDEO_API_KEY, drop_postgres_db, fresh_postgres_db};
#[allow(unused_imports)]
pub use process::BotProcess;
#[allow(unused_imports)]
pub use server::poll_until;
#[allow(unused_imports)]
pub use telegram::{BOT_ID, BOT_USERNAME, Call, Failure, FakeTelegram, TOKEN, UploadedFile};
#[allow(unused_imports)]
pub use updates::{
    Chat, DOCUMENT_LEN, Msg, User, button_data, button_labels, callback_query, fake_jpeg, inline_query, photo_size_id,
};
#[allow(unused_imports)]
pub use video_api::{CreateCall, FakeVideoApi, QueryCall, Reply};

/// Path of the `sora-bot` binary Cargo built for this integration test.
/// A macro because `CARGO_BIN_EXE_*` exists only while compiling
/// integration tests, and loadgen compiles this module too.
#[allow(unused_macros)]
macro_rules! bot_bin {
    () => {
        std::path::PathBuf::from(env!("CARGO_BIN_EXE_sora-bot"))
    };
}
#[allow(unused_imports)]
pub(crate) use bot_bin;
