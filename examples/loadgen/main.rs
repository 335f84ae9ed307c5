//! Benchmark for sora-bot: drives the real release binary against the test
//! harness's fake Bot API and fake video API (both in this process, so every
//! timestamp below comes from one monotonic clock) and prints what the bot
//! itself adds.
//!
//! ```text
//! cargo build --release --bin sora-bot && cargo run --release --example loadgen -- [MODE] [N] [OPTIONS]
//! ```
//!
//! Modes:
//!
//! - `commands` (default, N = 1000): N `/video` commands from N users at a
//!   steady offered rate; latency from the update handed out to the create call
//!   (A) and from the create answer to the reply (B), throughput, peak RSS.
//! - `backlog` (N = 1000): N open tasks made through the bot, which is then
//!   SIGKILLed and restarted on the same database; how long until the new
//!   process has queried every task once.
//! - `memory` (N = 10000): the same restart with N open tasks inserted
//!   through the store; the bot's peak and current RSS once all are polled.
//! - `watcher` (N = 10000): N running tasks inserted through the store,
//!   due times spread over one interval as in a bot that has been running;
//!   the bot follows them for `--secs` (90) with every query answered after
//!   `--query-ms` (200): poll gap per task (median, max), query rate, CPU
//!   share of one core, RSS. Set the interval and the rate limit with
//!   `--env POLL_INTERVAL_SECS=30 --env VIDEO_API_QUERIES_PER_SECOND=20`.
//! - `failover`: two replicas in polling mode on a fresh PostgreSQL database
//!   (127.0.0.1:5432); the poller is SIGKILLed three times in turn: how long
//!   until the other replica polls.
//! - `floor`: the `commands` load answered by a minimal client (getUpdates →
//!   create → sendMessage, nothing else) on its own thread instead of the bot:
//!   what the fakes, HTTP and this machine cost before the bot adds anything.
//! - `flood` (N = 1000): one member's chat and one stranger each send N
//!   commands within a second, with Telegram's send limits on; meanwhile 20
//!   other users (5 waves of 4) each send `/help` and `/video`: their p99
//!   reply time (`/help`) and update → create time (`/video`).
//! - `busy`: with Telegram's send limits on, a group that has used its 20
//!   messages a minute (22 `/video`, a bare `/video`, 25 `/settings`): p99
//!   update → create for 20 other members' `/video`; 20 members pressing
//!   `🔁 Again` at once: p99 press → answer; 100 updates of one group waiting
//!   at start: created / told / lost.
//! - `replicas` (N = 1000): N running tasks whose answer never changes
//!   ("processing, 50 %") on a fresh PostgreSQL database (127.0.0.1:5432),
//!   followed by `--replicas` (2) bots for `--secs` with queries answered after
//!   `--query-ms`: row writes per second in all tables (pg_stat_user_tables),
//!   queries per second, poll gaps, CPU and RSS per replica; then the replica
//!   holding the most tasks is SIGKILLed: how long until the others poll them.
//!   `--secs 0`: only each replica's start-up time.
//! - `idle` (N = 0): five starts on fresh databases, empty or holding N
//!   running tasks: time from exec to the first getUpdates, and RSS 3 s later.

mod busy;
mod commands;
mod failover;
mod flood;
mod idle;
mod replicas;
mod report;
mod restart;
mod watcher;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use clap::{Parser, ValueEnum};
use serde_json::Value;
use testkit::{BotProcess, Call, Chat, CreateCall, FakeTelegram, FakeVideoApi, Msg, TestEnv, User, percentile};

use busy::*;
use commands::*;
use failover::*;
use flood::*;
use idle::*;
use replicas::*;
use report::*;
use restart::*;
use watcher::*;

/// Issue 2's targets for the `commands` mode.
const P99_TARGET: Duration = Duration::from_millis(2);
/// Decimal megabytes, the stricter reading of "25 MB".
/// Peak RSS under a burst of 500 commands.
const RSS_TARGET_BYTES: u64 = 20_000_000;
const IDLE_RSS_TARGET_BYTES: u64 = 10_000_000;

/// Latency is measured one command at a time at a steady 200/s, so that A and
/// B are what the bot adds to one command and not a queue: on this 2-core
/// machine the fakes, the load and the bot share the CPU, and commands pushed
/// together share the bot's one SQLite connection. Throughput under a burst is
/// what `--rate 0` shows; `--rate 500 --batch 5` shows latency under load.
const DEFAULT_RATE: f64 = 200.0;
const DEFAULT_BATCH: u64 = 1;
/// Unmeasured commands first: connection pools, SQLite pages and allocator
/// arenas are warm when the measured run starts, as in a bot that has been up.
const WARMUP: usize = 20;

/// Cost guards high enough never to refuse a benchmark command.
const NO_LIMITS: [(&str, &str); 3] =
    [("MAX_ACTIVE_TOTAL", "1000000"), ("MAX_ACTIVE_PER_USER", "1000"), ("DAILY_LIMIT_PER_USER", "1000")];

/// User ids of measured commands; warm-up users come before them.
const FIRST_USER: i64 = 1_000_000;
const FIRST_WARMUP_USER: i64 = 900_000;

const STARTUP_WAIT: Duration = Duration::from_secs(30);
/// After the last expected call: long enough to see a duplicate arrive.
const SETTLE: Duration = Duration::from_millis(500);

/// What to measure.
#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
enum Mode {
    /// N /video commands (1000): bot-added latency, throughput, RSS.
    Commands,
    /// Restart with N open tasks (1000, made through the bot): time until each is queried.
    Backlog,
    /// Restart with N open tasks (10000, prefilled): RSS once each is polled.
    Memory,
    /// N running tasks (10000) followed for --secs: poll gaps, query rate, CPU, RSS.
    Watcher,
    /// Two replicas polling one PostgreSQL database; the poller is SIGKILLed 3 times.
    Failover,
    /// The commands load answered by a minimal client: the harness's own share.
    Floor,
    /// A member and a stranger each send N commands (1000) while 20 others are served.
    Flood,
    /// Start-up time and idle RSS, empty database or N open tasks (0).
    Idle,
    /// A group past its send budget, simultaneous presses, a backlog at start.
    Busy,
    /// N unchanging running tasks (1000) on PostgreSQL, --replicas bots: row writes/s, then a SIGKILL.
    Replicas,
}

#[derive(Clone, Copy)]
struct Pacing {
    /// Commands per second; 0 pushes everything at once.
    rate: f64,
    batch: usize,
}

impl Pacing {
    fn period(self) -> Duration {
        Duration::from_secs_f64(self.batch as f64 / self.rate)
    }

    fn describe(self) -> String {
        if self.rate <= 0.0 {
            "all at once (saturation: latencies include queueing)".into()
        } else {
            format!("{} every {:.1} ms = {:.0} commands/s", self.batch, self.period().as_secs_f64() * 1e3, self.rate)
        }
    }
}

/// Benchmark of sora-bot: the real binary against the fakes of `testkit`.
/// Build the bot first: cargo build --release --bin sora-bot;
/// SORA_BOT_BIN=<path> runs another binary.
#[derive(Parser)]
#[command(name = "loadgen")]
struct Cli {
    /// What to measure (the module documentation says more).
    #[arg(value_enum, default_value_t = Mode::Commands)]
    mode: Mode,
    /// How many commands or tasks (default by mode).
    #[arg(value_parser = clap::value_parser!(u64).range(1..))]
    n: Option<u64>,
    /// Offered commands per second (0 = all at once).
    #[arg(long, default_value_t = DEFAULT_RATE, value_parser = parse_rate)]
    rate: f64,
    /// Commands pushed together.
    #[arg(long, default_value_t = DEFAULT_BATCH, value_parser = clap::value_parser!(u64).range(1..))]
    batch: u64,
    /// commands mode: one line per command with its latencies (ms).
    #[arg(long)]
    csv: Option<PathBuf>,
    /// watcher mode: how long the bot follows the tasks.
    #[arg(long, default_value_t = 90)]
    secs: u64,
    /// watcher mode: how long the fake video API takes to answer a query.
    #[arg(long, default_value_t = 200)]
    query_ms: u64,
    /// replicas mode: how many bots share the database.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=16))]
    replicas: u64,
    /// Extra bot variable, set after the benchmark's own, e.g. --env RUST_LOG=warn,sqlx::query=debug.
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    extra_env: Vec<(String, String)>,
}

fn parse_rate(value: &str) -> Result<f64, String> {
    let rate: f64 = value.parse().map_err(|_| format!("not a number: {value}"))?;
    if rate.is_finite() && rate >= 0.0 { Ok(rate) } else { Err("a number ≥ 0".into()) }
}

fn parse_env(pair: &str) -> Result<(String, String), String> {
    let (key, value) = pair.split_once('=').ok_or("KEY=VALUE")?;
    Ok((key.to_owned(), value.to_owned()))
}

/// The command line, with the defaults that depend on the mode filled in.
struct Args {
    mode: Mode,
    n: usize,
    pacing: Pacing,
    csv: Option<PathBuf>,
    /// `watcher`: how long the bot follows the tasks.
    secs: u64,
    /// `watcher`: how long the fake video API takes to answer a query.
    query_ms: u64,
    /// `replicas`: how many bots share the database.
    replicas: usize,
    /// Set on the bot after the benchmark's own variables.
    extra_env: Vec<(String, String)>,
}

impl From<Cli> for Args {
    fn from(cli: Cli) -> Args {
        let n = cli.n.map_or(
            match cli.mode {
                Mode::Commands | Mode::Backlog | Mode::Floor | Mode::Failover | Mode::Flood | Mode::Replicas => 1000,
                Mode::Memory | Mode::Watcher => 10_000,
                Mode::Idle | Mode::Busy => 0,
            },
            |n| n as usize,
        );
        Args {
            mode: cli.mode,
            n,
            pacing: Pacing { rate: cli.rate, batch: cli.batch as usize },
            csv: cli.csv,
            secs: cli.secs,
            query_ms: cli.query_ms,
            replicas: cli.replicas as usize,
            extra_env: cli.extra_env,
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::from(Cli::parse());
    let bin = match testkit::bot_binary() {
        Ok(bin) => bin,
        Err(error) => {
            eprintln!("loadgen: {error}");
            return ExitCode::from(2);
        }
    };
    println!("sora-bot loadgen: mode {:?}, N = {}", args.mode, args.n);
    println!("  bot binary: {}", bin.display());
    warn_if_stale(&bin);
    let result = match args.mode {
        Mode::Commands | Mode::Floor => commands(&bin, &args).await,
        Mode::Backlog => backlog(&bin, &args, Prefill::Bot(args.pacing)).await,
        Mode::Memory => backlog(&bin, &args, Prefill::Store).await,
        Mode::Watcher => watcher(&bin, &args).await,
        Mode::Failover => failover(&bin, &args).await,
        Mode::Flood => flood(&bin, &args).await,
        Mode::Idle => idle(&bin, &args).await,
        Mode::Busy => busy(&bin, &args).await,
        Mode::Replicas => replicas(&bin, &args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("loadgen: FAILED: {error}");
            ExitCode::FAILURE
        }
    }
}

/// A bot older than its sources would benchmark yesterday's code: say so.
fn warn_if_stale(bin: &Path) {
    let Ok(built) = bin.metadata().and_then(|m| m.modified()) else {
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let newest = newest_mtime(&root.join("src"))
        .into_iter()
        .chain(newest_mtime(&root.join("migrations")))
        .chain(newest_mtime(&root.join("Cargo.toml")))
        .max();
    if newest.is_some_and(|newest| newest > built) {
        println!("  WARNING: sources changed since the bot was built; rebuild: cargo build --release --bin sora-bot");
    }
}

fn newest_mtime(path: &Path) -> Option<SystemTime> {
    let meta = path.metadata().ok()?;
    if !meta.is_dir() {
        return meta.modified().ok();
    }
    std::fs::read_dir(path).ok()?.filter_map(Result::ok).filter_map(|entry| newest_mtime(&entry.path())).max()
}
