//! The integration tests: the real binary against the fakes of `testkit`, one
//! module per area. One test binary, so the kit is compiled once.

mod access;
mod albums;
mod buttons;
mod flood;
mod fuzz;
mod hostile_http;
mod lifecycle;
mod money;
mod ops;
mod replicas;
mod replicas_polling;
mod restart;
mod support_selftest;
mod video;

/// Path of the `sora-bot` binary Cargo built for these tests.
pub fn bot_bin() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_BIN_EXE_sora-bot"))
}
