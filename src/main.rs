//! The entry: `sora-bot` runs the bot, `sora-bot healthcheck` asks a running
//! one whether it is healthy. The bot itself is built in `app`.

use std::{io::IsTerminal, process::ExitCode};

use sora_bot::{app::App, config::Config, health_probe, updates};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::{filter::Targets, layer::SubscriberExt, util::SubscriberInitExt};

#[cfg(unix)]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's settings, read when it starts: one arena, since one thread does
/// nearly all the allocating (one per core by default, each with its own
/// memory). `MALLOC_CONF` style; `_RJEM_MALLOC_CONF` in the environment
/// overrides it.
#[cfg(unix)]
#[unsafe(export_name = "_rjem_malloc_conf")]
pub static JEMALLOC_CONF: &[u8; 10] = b"narenas:1\0";

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("healthcheck") {
        return healthcheck();
    }
    // A missing .env is fine; a malformed one is a configuration error.
    if let Err(error) = dotenvy::dotenv()
        && !error.not_found()
    {
        eprintln!("sora-bot: configuration error: .env: {error}");
        return ExitCode::from(2);
    }
    // `target=level` lists (`info`, `warn,sora_bot=debug`); a bad one means `info`.
    let log_filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|filter| filter.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO));
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_ansi(std::io::stderr().is_terminal()).with_writer(std::io::stderr))
        .with(log_filter)
        .init();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("sora-bot: configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    // One thread runs every task: a command mostly waits (HTTP), and handing
    // work between worker threads cost more CPU in futex wake-ups than it
    // saved. File I/O still goes to tokio's blocking pool.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // `{:#}` prints the chain: "database: connection refused".
            tracing::error!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the bot until Ctrl-C or SIGTERM.
async fn run(config: Config) -> anyhow::Result<()> {
    let app = App::build(config).await?;
    let stopping = CancellationToken::new();
    tokio::spawn({
        let stopping = stopping.clone();
        async move {
            updates::wait_for_signal().await;
            tracing::info!("stopping: no new updates, finishing what is in flight");
            stopping.cancel();
        }
    });
    app.run(stopping).await
}

/// `sora-bot healthcheck`: for container health checks (see `health_probe`).
fn healthcheck() -> ExitCode {
    let _ = dotenvy::dotenv();
    let bind = std::env::var("HTTP_BIND").ok();
    match health_probe::target(bind.as_deref()).and_then(health_probe::probe) {
        Ok(()) => ExitCode::SUCCESS,
        Err(problem) => {
            eprintln!("sora-bot healthcheck: {problem}");
            ExitCode::FAILURE
        }
    }
}
