//! Benchmark for sora-bot: drives the real release binary against the test
//! harness's fake Bot API and fake video API (both in this process, so every
//! timestamp below comes from one monotonic clock) and prints what the bot
//! itself adds.
//!
//! ```text
//! cargo build --release --bin sora-bot && cargo run --release --example loadgen -- [N] [MODE] [OPTIONS]
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
//!   straight into SQLite; the bot's peak and current RSS once all are polled.
//! - `watcher` (N = 10000): N running tasks inserted straight into SQLite,
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

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use sqlx::sqlite::SqliteConnection;
use sqlx::{Connection, Row};
use testkit::{BotProcess, Call, Chat, CreateCall, FakeTelegram, FakeVideoApi, Msg, TestEnv, User};

const USAGE: &str = "\
usage: loadgen [N] [commands|backlog|memory|watcher|failover|floor] [--rate R] [--batch B] [--csv FILE]
               [--secs S] [--query-ms MS] [--env KEY=VALUE]...

  commands  N /video commands (default 1000): bot-added latency, throughput, RSS
  backlog   restart with N open tasks (default 1000, made through the bot):
            time until every task has been queried once
  memory    restart with N open tasks (default 10000, inserted by SQL):
            the bot's RSS once every task has been polled
  watcher   N running tasks (default 10000) followed for --secs S (default 90),
            queries answered after --query-ms (default 200): poll gaps,
            query rate, CPU, RSS (POLL_INTERVAL_SECS=30 unless --env sets it)
  failover  two replicas polling on one PostgreSQL database: SIGKILL the
            poller (3 times); time until the other one polls
  floor     the commands load answered by a minimal HTTP client instead of
            the bot: the harness's own share of latencies A and B
  flood     a member and a stranger each send N commands (default 1000) within
            a second while 20 other users send /help and /video:
            the others' p99 latencies
  --rate R          offered commands per second (default 200; 0 = all at once)
  --batch B         commands pushed together (default 1)
  --csv FILE        commands mode: one line per command with its latencies (ms)
  --env KEY=VALUE   extra bot variable, e.g. to diagnose: --env RUST_LOG=warn,sqlx::query=debug

Build the bot first: cargo build --release --bin sora-bot
SORA_BOT_BIN=<path> runs another binary.";

/// Issue 2's targets for the `commands` mode.
const P99_TARGET: Duration = Duration::from_millis(2);
/// Decimal megabytes, the stricter reading of "25 MB".
const RSS_TARGET_BYTES: u64 = 25_000_000;

/// Latency is measured one command at a time at a steady 200/s, so that A and
/// B are what the bot adds to one command and not a queue: on this 2-core
/// machine the fakes, the load and the bot share the CPU, and commands pushed
/// together share the bot's one SQLite connection. Throughput under a burst is
/// what `--rate 0` shows; `--rate 500 --batch 5` shows latency under load.
const DEFAULT_RATE: f64 = 200.0;
const DEFAULT_BATCH: usize = 1;
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

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Commands,
    Backlog,
    Memory,
    Watcher,
    Failover,
    Floor,
    Flood,
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

struct Args {
    mode: Mode,
    n: usize,
    pacing: Pacing,
    csv: Option<PathBuf>,
    /// `watcher`: how long the bot follows the tasks.
    secs: u64,
    /// `watcher`: how long the fake video API takes to answer a query.
    query_ms: u64,
    /// Set on the bot after the benchmark's own variables.
    extra_env: Vec<(String, String)>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("loadgen: {error}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let bin = match bot_binary() {
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
        Mode::Memory => backlog(&bin, &args, Prefill::Sql).await,
        Mode::Watcher => watcher(&bin, &args).await,
        Mode::Failover => failover(&bin, &args).await,
        Mode::Flood => flood(&bin, &args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("loadgen: FAILED: {error}");
            ExitCode::FAILURE
        }
    }
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut mode = Mode::Commands;
    let mut n = None;
    let mut csv = None;
    let mut extra_env = Vec::new();
    let (mut secs, mut query_ms) = (90, 200);
    let mut pacing = Pacing { rate: DEFAULT_RATE, batch: DEFAULT_BATCH };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "commands" => mode = Mode::Commands,
            "backlog" => mode = Mode::Backlog,
            "memory" => mode = Mode::Memory,
            "floor" => mode = Mode::Floor,
            "watcher" => mode = Mode::Watcher,
            "failover" => mode = Mode::Failover,
            "--secs" => secs = option_value(&arg, args.next())?,
            "--query-ms" => query_ms = option_value(&arg, args.next())?,
            "flood" => mode = Mode::Flood,
            "--rate" => pacing.rate = option_value(&arg, args.next())?,
            "--batch" => pacing.batch = option_value(&arg, args.next())?,
            "--csv" => csv = Some(option_value::<PathBuf>(&arg, args.next())?),
            "--env" => {
                let pair: String = option_value(&arg, args.next())?;
                let (key, value) = pair.split_once('=').ok_or("--env takes KEY=VALUE")?;
                extra_env.push((key.to_owned(), value.to_owned()));
            }
            "-h" | "--help" => return Ok(None),
            other => {
                let count = other.parse().map_err(|_| format!("unknown argument {other:?}"))?;
                n = Some(count);
            }
        }
    }
    if pacing.batch == 0 || !pacing.rate.is_finite() || pacing.rate < 0.0 {
        return Err("--batch must be at least 1 and --rate a number ≥ 0".into());
    }
    let n = n.unwrap_or(match mode {
        Mode::Commands | Mode::Backlog | Mode::Floor | Mode::Failover | Mode::Flood => 1000,
        Mode::Memory | Mode::Watcher => 10_000,
    });
    if n == 0 {
        return Err("N must be at least 1".into());
    }
    Ok(Some(Args { mode, n, pacing, csv, secs, query_ms, extra_env }))
}

fn option_value<T: std::str::FromStr>(name: &str, value: Option<String>) -> Result<T, String> {
    let value = value.ok_or_else(|| format!("{name} needs a value"))?;
    value.parse().map_err(|_| format!("bad value for {name}: {value:?}"))
}

/// `target/<profile>/sora-bot`, next to this program's
/// `target/<profile>/examples/loadgen` (or `SORA_BOT_BIN`).
fn bot_binary() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("SORA_BOT_BIN") {
        let path = PathBuf::from(path);
        return if path.is_file() { Ok(path) } else { Err(format!("SORA_BOT_BIN={} is not a file", path.display())) };
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find my own path: {e}"))?;
    let profile_dir =
        exe.parent().and_then(Path::parent).ok_or_else(|| format!("unexpected location {}", exe.display()))?;
    let bin = profile_dir.join("sora-bot");
    if !bin.is_file() {
        let release = if profile_dir.ends_with("release") { " --release" } else { "" };
        return Err(format!(
            "the bot binary {} is missing; build it first:\n  cargo build{release} --bin sora-bot",
            bin.display()
        ));
    }
    if !profile_dir.ends_with("release") {
        println!("  note: not a release build; figures of a debug bot mean little");
    }
    Ok(bin)
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

// ---------------------------------------------------------------------------
// Mode `commands`
// ---------------------------------------------------------------------------

async fn commands(bin: &Path, args: &Args) -> Result<(), String> {
    let (n, pacing) = (args.n, args.pacing);
    let env = bench_env(bin, "3600", args).await;
    let (bot, _floor) = if args.mode == Mode::Floor {
        println!("  FLOOR run: a minimal client answers instead of the bot");
        (None, Some(FloorClient::start(&env)))
    } else {
        println!("  POLL_INTERVAL_SECS=3600 (the watcher adds no load)");
        (Some(env.start_bot()), None)
    };
    let bot = bot.as_ref();
    wait_for_calls(&env.tg, bot, "setMyCommands", 1, STARTUP_WAIT).await?;

    let warmup = WARMUP.min(n);
    let mut expected = warmup;
    send_commands(&env.tg, FIRST_WARMUP_USER, "warmup", warmup, pacing).await;
    wait_for_commands(&env, bot, expected, Duration::from_secs(30)).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;

    println!(
        "  offered load: {n} /video commands from {n} users in private chats, {} (after {warmup} warm-up commands)",
        pacing.describe()
    );
    let sent = send_commands(&env.tg, FIRST_USER, "bench", n, pacing).await;
    expected += n;
    // Measured times come from the fakes' records, so how often this looks only
    // decides when we notice the end.
    let timeout = Duration::from_secs(60) + Duration::from_millis(20 * n as u64);
    let waited = wait_for_commands(&env, bot, expected, timeout).await;
    tokio::time::sleep(SETTLE).await;
    let memory = bot.and_then(|bot| memory_of(bot.pid()));

    let run = match_commands(&env, &sent);
    let (all_creates, all_replies) = (env.video.creates().len(), env.tg.calls_of("sendMessage").len());
    if let Some(path) = &args.csv {
        std::fs::write(path, &run.csv).map_err(|e| format!("write {}: {e}", path.display()))?;
        println!("  per-command latencies written to {}", path.display());
    }
    println!("results");
    println!(
        "  commands with exactly one create call: {}/{n} ({} missing, {} duplicated); create calls in all: {} (expected {expected})",
        n - run.missing_creates - run.duplicate_creates,
        run.missing_creates,
        run.duplicate_creates,
        all_creates,
    );
    println!(
        "  commands with exactly one reply:       {}/{n} ({} missing, {} duplicated); sendMessage calls in all: {} (expected {expected})",
        n - run.missing_replies - run.duplicate_replies,
        run.missing_replies,
        run.duplicate_replies,
        all_replies,
    );
    println!(
        "  getUpdates: the {n} commands were handed out in {} answers (largest {})",
        run.batches, run.largest_batch
    );
    println!("  bot-added latency     p50 ms     p99 ms     max ms   target");
    print_latency("A update → create", &run.a);
    print_latency("B create → reply ", &run.b);
    print_stats("  (end to end      ", &run.end_to_end, ")");
    if let (Some(first), Some(last)) = (run.first_handed_out, run.last_reply) {
        let span = last.duration_since(first);
        println!(
            "  throughput: {:.1} commands/s ({n} commands in {:.3} s, first update handed out → last reply; offered {})",
            n as f64 / span.as_secs_f64(),
            span.as_secs_f64(),
            if pacing.rate > 0.0 { format!("{:.0}/s", pacing.rate) } else { "all at once".into() },
        );
    }
    if let Some(bot) = bot {
        print_memory(&memory, true);
        report_logs(bot);
        stop(bot).await;
    }

    waited?;
    let exact = run.missing_creates + run.duplicate_creates + run.missing_replies + run.duplicate_replies == 0
        && all_creates == expected
        && all_replies == expected;
    if !exact {
        return Err("not every command got exactly one create call and one reply".into());
    }
    Ok(())
}

/// Both fakes and the bot's configuration for a benchmark run.
async fn bench_env(bin: &Path, poll_interval_secs: &str, args: &Args) -> TestEnv {
    let mut env = TestEnv::start(bin).await;
    for (key, value) in NO_LIMITS {
        env.set_env(key, value);
    }
    env.set_env("TELEGRAM_SEND_LIMITS", "off");
    println!(
        "  Telegram send limits: LIFTED for this run (TELEGRAM_SEND_LIMITS=off: no Throttle queueing against the local fake)"
    );
    println!("  RUST_LOG=warn, SQLite database in {}", env.dir.path().display());
    env.set_env("POLL_INTERVAL_SECS", poll_interval_secs);
    // The default (info) logs lines per task; measure the bot, not its log writer.
    env.set_env("RUST_LOG", "warn");
    for (key, value) in &args.extra_env {
        println!("  extra bot variable: {key}={value}");
        env.set_env(key, value);
    }
    env
}

/// One `/video` command pushed to the fake Bot API.
struct Sent {
    user_id: i64,
    message_id: i64,
    prompt: String,
    update_id: i64,
}

/// Pushes `n` commands, each from its own user (`first_user + i`) in their
/// private chat, `pacing.batch` at a time on a fixed schedule (a late batch
/// does not shift the ones after it, so the offered rate holds).
async fn send_commands(tg: &FakeTelegram, first_user: i64, label: &str, n: usize, pacing: Pacing) -> Vec<Sent> {
    // Built up front, so the timed loop only pushes.
    let messages: Vec<(Sent, Value)> = (0..n)
        .map(|i| {
            let user_id = first_user + i as i64;
            let prompt = format!("{label} prompt {i}");
            let message = Msg::text(&Chat::private(user_id), &User::new(user_id), &format!("/video {prompt}")).build();
            let message_id = message["message_id"].as_i64().expect("built messages have ids");
            let sent = Sent { user_id, message_id, prompt, update_id: 0 };
            (sent, message)
        })
        .collect();
    let start = tokio::time::Instant::now();
    let mut sent = Vec::with_capacity(n);
    let mut messages = messages.into_iter().peekable();
    let mut batch_no = 0u32;
    while messages.peek().is_some() {
        if pacing.rate > 0.0 {
            tokio::time::sleep_until(start + pacing.period() * batch_no).await;
        }
        for (mut command, message) in messages.by_ref().take(pacing.batch) {
            command.update_id = tg.push_message(message);
            sent.push(command);
        }
        batch_no += 1;
    }
    sent
}

/// Waits until the fakes saw `count` creates and `count` replies in all.
async fn wait_for_commands(
    env: &TestEnv,
    bot: Option<&BotProcess>,
    count: usize,
    timeout: Duration,
) -> Result<(), String> {
    let what = format!("{count} create calls and {count} replies");
    wait_until(bot, timeout, &what, || {
        env.video.creates().len() >= count && env.tg.calls_of("sendMessage").len() >= count
    })
    .await
}

#[derive(Default)]
struct CommandsRun {
    a: Vec<Duration>,
    b: Vec<Duration>,
    end_to_end: Vec<Duration>,
    missing_creates: usize,
    duplicate_creates: usize,
    missing_replies: usize,
    duplicate_replies: usize,
    batches: usize,
    largest_batch: usize,
    first_handed_out: Option<Instant>,
    last_reply: Option<Instant>,
    /// `i,handed_out_ms,a_ms,b_ms,end_to_end_ms`, times from the first command sent.
    csv: String,
}

fn create_answered(creates: &[&CreateCall]) -> Option<Instant> {
    creates.first()?.answered_at
}

/// Pairs every sent command with its create call (by prompt) and its reply (by
/// chat, as a reply to the command) and takes the latencies.
fn match_commands(env: &TestEnv, sent: &[Sent]) -> CommandsRun {
    let creates = env.video.creates();
    let mut creates_by_prompt: HashMap<&str, Vec<&CreateCall>> = HashMap::new();
    for create in &creates {
        if let Some(prompt) = create.body["prompt"].as_str() {
            creates_by_prompt.entry(prompt).or_default().push(create);
        }
    }
    let replies = env.tg.calls_of("sendMessage");
    let mut replies_by_chat: HashMap<i64, Vec<&Call>> = HashMap::new();
    for reply in &replies {
        if let Some(chat_id) = reply.chat_id() {
            replies_by_chat.entry(chat_id).or_default().push(reply);
        }
    }

    let mut run = CommandsRun { csv: "i,handed_out_ms,a_ms,b_ms,end_to_end_ms\n".into(), ..CommandsRun::default() };
    let origin = sent.first().and_then(|command| env.tg.handed_out_at(command.update_id));
    let mut batches: HashMap<Instant, usize> = HashMap::new();
    for (i, command) in sent.iter().enumerate() {
        let handed_out = env.tg.handed_out_at(command.update_id);
        if let Some(at) = handed_out {
            *batches.entry(at).or_default() += 1;
            run.first_handed_out = Some(run.first_handed_out.map_or(at, |first| first.min(at)));
        }
        let creates = creates_by_prompt.get(command.prompt.as_str()).map_or(&[][..], Vec::as_slice);
        let replies: Vec<&Call> = replies_by_chat
            .get(&command.user_id)
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .copied()
            .filter(|reply| reply.body["reply_parameters"]["message_id"].as_i64() == Some(command.message_id))
            .collect();
        match creates.len() {
            0 => run.missing_creates += 1,
            1 => {}
            _ => run.duplicate_creates += 1,
        }
        match replies.len() {
            0 => run.missing_replies += 1,
            1 => {}
            _ => run.duplicate_replies += 1,
        }
        let (Some(create), Some(reply), Some(handed_out), Some(answered)) =
            (creates.first(), replies.first(), handed_out, create_answered(creates))
        else {
            continue;
        };
        let a = create.at.saturating_duration_since(handed_out);
        let b = reply.at.saturating_duration_since(answered);
        let end_to_end = reply.at.saturating_duration_since(handed_out);
        run.a.push(a);
        run.b.push(b);
        run.end_to_end.push(end_to_end);
        run.last_reply = run.last_reply.max(Some(reply.at));
        let since_origin = origin.map_or(Duration::ZERO, |origin| handed_out.saturating_duration_since(origin));
        run.csv += &format!("{i},{},{},{},{}\n", ms(since_origin), ms(a), ms(b), ms(end_to_end));
    }
    run.batches = batches.len();
    run.largest_batch = batches.values().copied().max().unwrap_or(0);
    run
}

// ---------------------------------------------------------------------------
// Mode `floor`
// ---------------------------------------------------------------------------

/// The least a bot could do per command, over the same HTTP as the bot:
/// long-poll getUpdates, and for each update post the create call, then the
/// reply. Runs on a thread and runtime of its own, as the bot runs in a
/// process of its own; stops when dropped.
struct FloorClient {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FloorClient {
    fn start(env: &TestEnv) -> FloorClient {
        let api = format!("{}/bot{}", env.tg.url(), testkit::TOKEN);
        let create_url = format!("{}/v1/video/create", env.video.url());
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("floor runtime");
            runtime.block_on(async move {
                tokio::select! {
                    _ = stopped => {}
                    _ = floor_loop(api, create_url) => {}
                }
            });
        });
        FloorClient { stop: Some(stop), thread: Some(thread) }
    }
}

impl Drop for FloorClient {
    fn drop(&mut self) {
        let _ = self.stop.take().map(|stop| stop.send(()));
        let _ = self.thread.take().map(std::thread::JoinHandle::join);
    }
}

async fn floor_loop(api: String, create_url: String) {
    let client = reqwest::Client::new();
    let _ = client.post(format!("{api}/setMyCommands")).json(&serde_json::json!({"commands": []})).send().await;
    let mut offset = 0;
    loop {
        let body = serde_json::json!({"offset": offset, "timeout": 10});
        let Ok(answer) = client.post(format!("{api}/getUpdates")).json(&body).send().await else {
            continue;
        };
        let Ok(answer) = answer.json::<Value>().await else {
            continue;
        };
        for update in answer["result"].as_array().into_iter().flatten() {
            offset = offset.max(update["update_id"].as_i64().unwrap_or(0) + 1);
            let message = update["message"].clone();
            let (client, api, create_url) = (client.clone(), api.clone(), create_url.clone());
            tokio::spawn(async move {
                let prompt = message["text"].as_str().unwrap_or_default().trim_start_matches("/video ");
                let create = serde_json::json!({"images": [], "model": "sora-2", "orientation": "portrait",
                    "prompt": prompt, "size": "large", "duration": 15});
                let Ok(created) = client.post(&create_url).json(&create).send().await else {
                    return;
                };
                let Ok(created) = created.json::<Value>().await else {
                    return;
                };
                let reply = serde_json::json!({"chat_id": message["chat"]["id"], "text": format!("created {}", created["id"]),
                    "reply_parameters": {"message_id": message["message_id"]}});
                let _ = client.post(format!("{api}/sendMessage")).json(&reply).send().await;
            });
        }
    }
}

// ---------------------------------------------------------------------------
// Mode `flood`
// ---------------------------------------------------------------------------

const FLOODER: i64 = 2_000_000;
const FLOOD_STRANGER: i64 = 2_000_001;
const FIRST_OTHER: i64 = 2_100_000;
/// 20 other users, in waves spread over the flood's second. More would
/// measure Throttle's 30 messages/s for the whole bot, not the flood.
const OTHERS_PER_WAVE: usize = 4;
const WAVES: usize = 5;
/// The flood is pushed in this many slices, one every `FLOOD_TICK`.
const FLOOD_TICKS: usize = 100;
const FLOOD_TICK: Duration = Duration::from_millis(10);
const FLOOD_P99_TARGET: Duration = Duration::from_secs(1);

/// The others' `/help` and `/video` of one wave.
struct OtherCommands {
    user_id: i64,
    help_id: i64,
    help_update: i64,
    prompt: String,
    video_update: i64,
    pushed: Instant,
}

async fn flood(bin: &Path, args: &Args) -> Result<(), String> {
    let n = args.n;
    let mut env = TestEnv::start(bin).await;
    for (key, value) in NO_LIMITS {
        env.set_env(key, value);
    }
    env.set_env("POLL_INTERVAL_SECS", "3600");
    env.set_env("RUST_LOG", "warn");
    env.remove_env("ALLOW_EVERYONE");
    let others: Vec<i64> = (0..(OTHERS_PER_WAVE * WAVES) as i64).map(|i| FIRST_OTHER + i).collect();
    let allowed: Vec<String> =
        std::iter::once(FLOODER).chain(others.iter().copied()).map(|id| id.to_string()).collect();
    env.set_env("ALLOWED_USER_IDS", &allowed.join(","));
    env.set_env("TELEGRAM_SEND_LIMITS", "telegram");
    env.set_env("COMMANDS_PER_MINUTE", "20");
    for (key, value) in &args.extra_env {
        println!("  extra bot variable: {key}={value}");
        env.set_env(key, value);
    }
    println!(
        "  Telegram send limits: {} (Throttle: 1 message/s per chat, 30/s in all)",
        env.var("TELEGRAM_SEND_LIMITS").unwrap_or("telegram")
    );
    println!("  COMMANDS_PER_MINUTE={}", env.var("COMMANDS_PER_MINUTE").unwrap_or("20"));
    let bot = env.start_bot();
    wait_for_calls(&env.tg, Some(&bot), "setMyCommands", 1, STARTUP_WAIT).await?;

    // Built up front, so the timed loop only pushes.
    let member_chat = (Chat::private(FLOODER), User::new(FLOODER));
    let stranger_chat = (Chat::private(FLOOD_STRANGER), User::new(FLOOD_STRANGER));
    let flood_messages: Vec<Value> = (0..n)
        .flat_map(|i| {
            let text = if i % 2 == 0 { "/help".to_owned() } else { format!("/video flood {i}") };
            [
                Msg::text(&member_chat.0, &member_chat.1, &text).build(),
                Msg::text(&stranger_chat.0, &stranger_chat.1, &text).build(),
            ]
        })
        .collect();
    println!(
        "  offered load: {n} commands from one member and {n} from a stranger (/help and /video in turn) in {:.1} s; \
         {WAVES} waves of {OTHERS_PER_WAVE} other users, each sending /help and /video once",
        (FLOOD_TICK * FLOOD_TICKS as u32).as_secs_f64()
    );
    let per_tick = flood_messages.len().div_ceil(FLOOD_TICKS);
    let wave_every = FLOOD_TICKS / WAVES;
    let start = tokio::time::Instant::now();
    let mut flood_messages = flood_messages.into_iter().peekable();
    let mut sent_others = Vec::new();
    for tick in 0..FLOOD_TICKS {
        tokio::time::sleep_until(start + FLOOD_TICK * tick as u32).await;
        for message in flood_messages.by_ref().take(per_tick) {
            env.tg.push_message(message);
        }
        if tick % wave_every == 0 {
            let wave = tick / wave_every;
            for &user_id in &others[wave * OTHERS_PER_WAVE..(wave + 1) * OTHERS_PER_WAVE] {
                let (chat, user) = (Chat::private(user_id), User::new(user_id));
                let help = Msg::text(&chat, &user, "/help").build();
                let prompt = format!("other {user_id}");
                let video = Msg::text(&chat, &user, &format!("/video {prompt}")).build();
                let help_id = help["message_id"].as_i64().expect("built messages have ids");
                let pushed = Instant::now();
                let help_update = env.tg.push_message(help);
                let video_update = env.tg.push_message(video);
                sent_others.push(OtherCommands { user_id, help_id, help_update, prompt, video_update, pushed });
            }
        }
    }
    for message in flood_messages {
        env.tg.push_message(message);
    }
    let pushed_all = start.elapsed();

    let expected = sent_others.len();
    let waited =
        wait_until(Some(&bot), Duration::from_secs(60), "every other user's /help answer and /video create", || {
            let creates = env.video.creates();
            sent_others.iter().all(|o| {
                !env.tg.replies(o.user_id, o.help_id).is_empty()
                    && creates.iter().any(|c| c.body["prompt"] == o.prompt.as_str())
            })
        })
        .await;
    // Long enough for the flooders' few answers to go out at 1 message/s.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let memory = memory_of(bot.pid());

    let creates = env.video.creates();
    let (mut help_handed, mut help_pushed, mut video_handed, mut video_pushed) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for other in &sent_others {
        let reply = env.tg.replies(other.user_id, other.help_id).first().map(|call| call.at);
        let create = creates.iter().find(|c| c.body["prompt"] == other.prompt.as_str()).map(|c| c.at);
        if let (Some(reply), Some(handed)) = (reply, env.tg.handed_out_at(other.help_update)) {
            help_handed.push(reply.saturating_duration_since(handed));
            help_pushed.push(reply.saturating_duration_since(other.pushed));
        }
        if let (Some(create), Some(handed)) = (create, env.tg.handed_out_at(other.video_update)) {
            video_handed.push(create.saturating_duration_since(handed));
            video_pushed.push(create.saturating_duration_since(other.pushed));
        }
    }
    let flood_creates =
        creates.iter().filter(|c| c.body["prompt"].as_str().is_some_and(|p| p.starts_with("flood"))).count();
    let member_texts = env.tg.sent_texts(FLOODER);
    let stranger_texts = env.tg.sent_texts(FLOOD_STRANGER);
    println!("results");
    println!(
        "  pushed {} flood updates and {} others' commands in {:.3} s",
        2 * n,
        2 * expected,
        pushed_all.as_secs_f64()
    );
    println!(
        "  others answered: /help {}/{expected}, /video created {}/{expected}",
        help_handed.len(),
        video_handed.len()
    );
    println!("  others' latency             p50 ms     p99 ms     max ms   target");
    let print_flood = |label: &str, samples: &[Duration], target: bool| {
        let suffix = if target {
            format!("   p99 < 1 s: {}", verdict(percentile(samples, 0.99).is_some_and(|p99| p99 < FLOOD_P99_TARGET)))
        } else {
            String::new()
        };
        print_stats(&format!("  {label}"), samples, &suffix);
    };
    print_flood("/help  update → reply ", &help_handed, true);
    print_flood("/video update → create", &video_handed, true);
    print_flood("/help  pushed → reply ", &help_pushed, false);
    print_flood("/video pushed → create", &video_pushed, false);
    println!("  (update = handed out by getUpdates; pushed = queued at the fake Bot API, behind the flood)");
    println!(
        "  the flood: {flood_creates} create calls from the member's {} /video; answers sent: member {} ({} slow-down), stranger {} ({} not-allowed, {} slow-down)",
        n / 2,
        member_texts.len(),
        member_texts.iter().filter(|t| t.contains("Too many commands")).count(),
        stranger_texts.len(),
        stranger_texts.iter().filter(|t| t.contains("private")).count(),
        stranger_texts.iter().filter(|t| t.contains("Too many commands")).count(),
    );
    print_memory(&memory, false);
    report_logs(&bot);
    stop(&bot).await;
    waited?;
    if help_handed.len() != expected || video_handed.len() != expected {
        return Err("some other user's command was not answered".into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Modes `backlog` and `memory`
// ---------------------------------------------------------------------------

enum Prefill {
    /// `/video` commands through the bot (whose create answers stay pending), then SIGKILL.
    Bot(Pacing),
    /// Rows inserted straight into SQLite; much faster for 10,000 tasks.
    Sql,
}

async fn backlog(bin: &Path, args: &Args, prefill: Prefill) -> Result<(), String> {
    let n = args.n;
    // The first run must not poll: the restarted process is the one measured.
    let mut env = bench_env(bin, "3600", args).await;
    let db = env.dir.path().join("bot.db");
    let first = env.start_bot();
    wait_for_calls(&env.tg, Some(&first), "setMyCommands", 1, STARTUP_WAIT).await?;
    match prefill {
        Prefill::Bot(pacing) => {
            println!(
                "  prefill: {n} /video commands through the bot, {}; every create answer and query says pending",
                pacing.describe()
            );
            let started = Instant::now();
            send_commands(&env.tg, FIRST_USER, "backlog", n, pacing).await;
            let timeout = Duration::from_secs(60) + Duration::from_millis(20 * n as u64);
            wait_for_commands(&env, Some(&first), n, timeout).await?;
            println!("  prefill took {:.2} s; SIGKILL", started.elapsed().as_secs_f64());
            first.kill();
        }
        Prefill::Sql => {
            // The bot made the schema (its own migrations); stop it cleanly and add rows.
            first.terminate();
            first.wait_exit(Duration::from_secs(15)).await;
            first.kill();
            let started = Instant::now();
            insert_open_tasks(&db, n).await?;
            println!("  prefill: {n} running tasks inserted into SQLite in {:.2} s", started.elapsed().as_secs_f64());
        }
    }
    let open = make_all_due(&db).await?;
    if open.len() != n {
        return Err(format!("expected {n} open tasks in the database, found {}", open.len()));
    }
    println!("  all {n} tasks due at restart (next_poll_at = 0: the bot was down longer than the interval)");

    env.set_env("POLL_INTERVAL_SECS", "1");
    // The restart backlog, not the rate limit, is measured (unless --env sets one).
    if !args.extra_env.iter().any(|(key, _)| key == "VIDEO_API_QUERIES_PER_SECOND") {
        env.set_env("VIDEO_API_QUERIES_PER_SECOND", "10000");
    }
    println!(
        "  restart: same database, POLL_INTERVAL_SECS=1, VIDEO_API_QUERIES_PER_SECOND={}, RUST_LOG=warn",
        env.var("VIDEO_API_QUERIES_PER_SECOND").unwrap_or_default()
    );
    let queries_before = env.video.queries().len();
    let restarted = Instant::now();
    let bot = env.start_bot();
    let ready = wait_for_calls(&env.tg, Some(&bot), "setMyCommands", 2, STARTUP_WAIT).await?;

    // Generous: the watcher may take a few hundred tasks a round.
    let timeout = Duration::from_secs(120) + Duration::from_millis(30 * n as u64);
    let mut first_query: HashMap<String, Instant> = HashMap::new();
    let waited = wait_until(Some(&bot), timeout, &format!("a query of each of the {n} tasks"), || {
        for query in env.video.queries().into_iter().skip(queries_before) {
            first_query.entry(query.id).or_insert(query.at);
        }
        open.iter().all(|id| first_query.contains_key(id))
    })
    .await;
    let memory = memory_of(bot.pid());

    let times: Vec<Instant> = open.iter().filter_map(|id| first_query.get(id).copied()).collect();
    println!("results");
    println!("  tasks queried by the new process: {}/{n}", times.len());
    let since_start = |at: Instant| at.duration_since(restarted).as_secs_f64();
    println!("  start → setMyCommands:       {:8.3} s", since_start(ready));
    if let (Some(&first), Some(&last)) = (times.iter().min(), times.iter().max()) {
        println!("  start → first task queried:  {:8.3} s", since_start(first));
        println!("  start → every task queried:  {:8.3} s   <- backlog after a restart", since_start(last));
        let span = last.duration_since(first).as_secs_f64();
        if span > 0.0 {
            println!("  first → last:                {span:8.3} s   ({:.0} tasks/s)", times.len() as f64 / span);
        }
    }
    print_memory(&memory, false);
    report_logs(&bot);
    stop(&bot).await;
    waited
}

// ---------------------------------------------------------------------------
// Mode `watcher`
// ---------------------------------------------------------------------------

async fn watcher(bin: &Path, args: &Args) -> Result<(), String> {
    let n = args.n;
    let mut env = bench_env(bin, "3600", args).await;
    let interval_secs: u64 = env
        .var("POLL_INTERVAL_SECS")
        .filter(|_| args.extra_env.iter().any(|(key, _)| key == "POLL_INTERVAL_SECS"))
        .map_or(Ok(30), str::parse)
        .map_err(|_| "POLL_INTERVAL_SECS must be a number")?;
    env.set_env("POLL_INTERVAL_SECS", &interval_secs.to_string());
    let rate = env.var("VIDEO_API_QUERIES_PER_SECOND").unwrap_or("20 (default)").to_owned();
    let db = env.dir.path().join("bot.db");
    // The bot makes the schema (its own migrations); stop it cleanly and add rows.
    let first = env.start_bot();
    wait_for_calls(&env.tg, Some(&first), "setMyCommands", 1, STARTUP_WAIT).await?;
    first.terminate();
    first.wait_exit(Duration::from_secs(15)).await;
    first.kill();
    insert_open_tasks(&db, n).await?;
    let open = spread_due(&db, interval_secs * 1000).await?;
    let delay = Duration::from_millis(args.query_ms);
    for id in &open {
        env.video.script_task(id, vec![testkit::Reply::task(id, "pending").after(delay)]);
    }
    println!(
        "  {n} running tasks, next polls spread over one interval; POLL_INTERVAL_SECS={interval_secs}, \
         VIDEO_API_QUERIES_PER_SECOND={rate}, queries answered after {} ms, {} s run",
        args.query_ms, args.secs
    );

    let bot = env.start_bot();
    wait_for_calls(&env.tg, Some(&bot), "setMyCommands", 2, STARTUP_WAIT).await?;
    let started = Instant::now();
    let cpu_before = cpu_ticks(bot.pid());
    wait_until(Some(&bot), Duration::from_secs(args.secs) + Duration::from_secs(1), "the end of the run", || {
        started.elapsed() >= Duration::from_secs(args.secs)
    })
    .await?;
    let window = started.elapsed();
    let cpu_after = cpu_ticks(bot.pid());
    let memory = memory_of(bot.pid());

    let mut by_task: HashMap<String, Vec<Instant>> = HashMap::new();
    let mut in_window = 0;
    for query in env.video.queries() {
        if query.at >= started {
            in_window += 1;
            by_task.entry(query.id).or_default().push(query.at);
        }
    }
    let mut gaps = Vec::new();
    for times in by_task.values_mut() {
        times.sort_unstable();
        gaps.extend(times.windows(2).map(|pair| pair[1].duration_since(pair[0])));
    }
    println!("results");
    println!(
        "  queries: {in_window} in {:.1} s = {:.1}/s; {} of {n} tasks queried at least once",
        window.as_secs_f64(),
        in_window as f64 / window.as_secs_f64(),
        by_task.len()
    );
    let secs = |d: Option<Duration>| d.map_or("-".into(), |d| format!("{:.1} s", d.as_secs_f64()));
    println!(
        "  poll gap per task ({} gaps): median {}, p99 {}, max {}",
        gaps.len(),
        secs(percentile(&gaps, 0.5)),
        secs(percentile(&gaps, 0.99)),
        secs(gaps.iter().max().copied())
    );
    if let (Some(before), Some(after)) = (cpu_before, cpu_after) {
        let cpu = (after - before) as f64 / CLOCK_TICKS_PER_SEC / window.as_secs_f64();
        println!("  bot CPU: {:.1} % of one core", cpu * 100.0);
    }
    print_memory(&memory, false);
    report_logs(&bot);
    stop(&bot).await;
    Ok(())
}

/// Linux's USER_HZ, the unit of utime and stime in /proc/<pid>/stat.
const CLOCK_TICKS_PER_SEC: f64 = 100.0;

/// User plus system CPU time of `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces): state is the first,
    // utime the 12th, stime the 13th.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// Spreads the running tasks' next polls over the coming `interval_ms` (as in a
/// bot that has been following them for a while) and returns their upstream ids.
async fn spread_due(db: &Path, interval_ms: u64) -> Result<Vec<String>, String> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_millis() as i64;
    let mut conn = open_db(db).await?;
    sqlx::query("UPDATE tasks SET next_poll_at = ? + (id * 7919) % ? WHERE state = 'running'")
        .bind(now)
        .bind(interval_ms as i64)
        .execute(&mut conn)
        .await
        .map_err(|e| format!("database: {e}"))?;
    let rows = sqlx::query("SELECT upstream_id FROM tasks WHERE state = 'running'")
        .fetch_all(&mut conn)
        .await
        .map_err(|e| format!("database: {e}"))?;
    conn.close().await.map_err(|e| format!("database: {e}"))?;
    rows.iter()
        .map(|row| row.try_get("upstream_id"))
        .collect::<Result<Vec<String>, _>>()
        .map_err(|e| format!("database: {e}"))
}

// ---------------------------------------------------------------------------
// Mode `failover`
// ---------------------------------------------------------------------------

const POLLER_LINE: &str = "this replica polls Telegram for updates";

async fn failover(bin: &Path, args: &Args) -> Result<(), String> {
    let db = testkit::fresh_postgres_db().await;
    let mut env = TestEnv::start(bin).await;
    env.set_env("DATABASE_URL", &db);
    env.set_env("RUST_LOG", "info");
    for (key, value) in &args.extra_env {
        env.set_env(key, value);
    }
    println!("  two replicas in polling mode on {db}");
    let mut poller = env.start_bot();
    wait_log(&poller, POLLER_LINE, STARTUP_WAIT).await?;
    let mut follower = env.start_bot();
    wait_log(&follower, "another replica polls Telegram", STARTUP_WAIT).await?;
    let mut took = Vec::new();
    for round in 1..=3 {
        // Let the follower settle into its retry rhythm at a random phase.
        tokio::time::sleep(Duration::from_millis(1_000 + 700 * round)).await;
        let killed = Instant::now();
        poller.kill();
        wait_log(&follower, POLLER_LINE, Duration::from_secs(30)).await?;
        let elected = killed.elapsed();
        wait_until(Some(&follower), Duration::from_secs(30), "a getUpdates from the new poller", || {
            env.tg.attempts_of("getUpdates").iter().any(|call| call.at > killed)
        })
        .await?;
        let polling = env
            .tg
            .attempts_of("getUpdates")
            .iter()
            .filter(|call| call.at > killed)
            .map(|call| call.at.duration_since(killed))
            .min()
            .unwrap_or_default();
        println!(
            "  round {round}: SIGKILL → other replica holds the lock {:.2} s, → its first getUpdates {:.2} s",
            elected.as_secs_f64(),
            polling.as_secs_f64()
        );
        took.push(polling);
        // The killed replica comes back as the follower.
        let restarted = env.start_bot();
        wait_log(&restarted, "another replica polls Telegram", STARTUP_WAIT).await?;
        poller = std::mem::replace(&mut follower, restarted);
    }
    println!("results");
    println!(
        "  poller failover (SIGKILL → first getUpdates of the other replica): max {:.2} s of 3",
        took.iter().max().copied().unwrap_or_default().as_secs_f64()
    );
    stop(&poller).await;
    stop(&follower).await;
    testkit::drop_postgres_db(&db).await;
    Ok(())
}

/// Like `BotProcess::wait_log`, as an error instead of a panic.
async fn wait_log(bot: &BotProcess, needle: &str, timeout: Duration) -> Result<(), String> {
    wait_until(Some(bot), timeout, &format!("log line {needle:?}"), || bot.logs().contains(needle)).await
}

async fn open_db(db: &Path) -> Result<SqliteConnection, String> {
    SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .map_err(|e| format!("open {}: {e}", db.display()))
}

/// `n` tasks as the bot leaves them after a create answered "pending"
/// (migrations/0001_init.sql, store/tasks.rs): running, with an upstream id,
/// no lease, due now. No status message, so polling does not edit one.
async fn insert_open_tasks(db: &Path, n: usize) -> Result<(), String> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_millis() as i64;
    let mut conn = open_db(db).await?;
    let sql_error = |e: sqlx::Error| format!("prefill: {e}");
    let mut tx = conn.begin().await.map_err(sql_error)?;
    let first_id: i64 = sqlx::query("SELECT COALESCE(MAX(id), 0) + 1 AS next FROM tasks")
        .fetch_one(&mut *tx)
        .await
        .and_then(|row| row.try_get("next"))
        .map_err(sql_error)?;
    for i in 0..n as i64 {
        let user_id = FIRST_USER + i;
        sqlx::query(
            "INSERT INTO tasks (id, chat_id, user_id, command_msg_id, lang, prompt, model, orientation, size, duration, \
             image_file_ids, upstream_id, state, upstream_status, created_at, updated_at, day, next_poll_at) \
             VALUES (?, ?, ?, ?, 'en', ?, 'sora-2', 'portrait', 'large', 15, '[]', ?, 'running', 'pending', ?, ?, ?, 0)",
        )
        .bind(first_id + i)
        .bind(user_id)
        .bind(user_id)
        .bind(1 + i)
        .bind(format!("memory prompt {i}"))
        .bind(FakeVideoApi::task_id(i as usize + 1))
        .bind(now)
        .bind(now)
        .bind(now.div_euclid(86_400_000))
        .execute(&mut *tx)
        .await
        .map_err(sql_error)?;
    }
    tx.commit().await.map_err(sql_error)?;
    conn.close().await.map_err(sql_error)
}

/// Makes every running task due and returns their upstream ids. A prefill run
/// with POLL_INTERVAL_SECS=3600 scheduled them an hour ahead; a bot that was
/// down longer than its interval finds them all due, the worst case measured here.
async fn make_all_due(db: &Path) -> Result<Vec<String>, String> {
    let mut conn = open_db(db).await?;
    let sql_error = |e: sqlx::Error| format!("database: {e}");
    sqlx::query("UPDATE tasks SET next_poll_at = 0 WHERE state = 'running'")
        .execute(&mut conn)
        .await
        .map_err(sql_error)?;
    let rows = sqlx::query("SELECT upstream_id FROM tasks WHERE state = 'running' AND upstream_id IS NOT NULL")
        .fetch_all(&mut conn)
        .await
        .map_err(sql_error)?;
    let ids =
        rows.iter().map(|row| row.try_get("upstream_id")).collect::<Result<Vec<String>, _>>().map_err(sql_error)?;
    conn.close().await.map_err(sql_error)?;
    Ok(ids)
}

// ---------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------

/// Polls `done` every 50 ms; fails if the bot exits or `timeout` passes.
async fn wait_until(
    bot: Option<&BotProcess>,
    timeout: Duration,
    what: &str,
    mut done: impl FnMut() -> bool,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return Ok(());
        }
        if let Some(bot) = bot
            && let Some(status) = bot.exit_status()
        {
            return Err(format!(
                "the bot exited ({status}) while waiting for {what}\n--- bot logs ---\n{}",
                bot.logs()
            ));
        }
        if Instant::now() >= deadline {
            return Err(format!("no {what} within {timeout:?}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits for the `count`th successful call of `method` and returns when it arrived.
async fn wait_for_calls(
    tg: &FakeTelegram,
    bot: Option<&BotProcess>,
    method: &str,
    count: usize,
    timeout: Duration,
) -> Result<Instant, String> {
    wait_until(bot, timeout, &format!("{method} call #{count}"), || tg.calls_of(method).len() >= count).await?;
    Ok(tg.calls_of(method)[count - 1].at)
}

/// Peak (VmHWM) and current (VmRSS) resident memory, in KiB.
struct Memory {
    peak_kib: u64,
    current_kib: u64,
}

fn memory_of(pid: u32) -> Option<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        let line = status.lines().find(|line| line.starts_with(name))?;
        line[name.len()..].trim().trim_end_matches("kB").trim().parse().ok()
    };
    Some(Memory { peak_kib: field("VmHWM:")?, current_kib: field("VmRSS:")? })
}

fn print_memory(memory: &Option<Memory>, with_target: bool) {
    let Some(memory) = memory else {
        println!("  RSS: /proc/<pid>/status not readable");
        return;
    };
    let show = |kib: u64| format!("{:.1} MiB = {:.1} MB", kib as f64 / 1024.0, kib as f64 * 1024.0 / 1e6);
    let target = if with_target {
        let ok = memory.peak_kib * 1024 < RSS_TARGET_BYTES;
        format!("   target < 25 MB: {}", verdict(ok))
    } else {
        String::new()
    };
    println!("  bot peak RSS (VmHWM):    {}{target}", show(memory.peak_kib));
    println!("  bot current RSS (VmRSS): {}", show(memory.current_kib));
}

fn print_latency(label: &str, samples: &[Duration]) {
    let p99 = percentile(samples, 0.99);
    let ok = p99.is_some_and(|p99| p99 < P99_TARGET);
    print_stats(&format!("  {label}"), samples, &format!("   p99 < 2 ms: {}", verdict(ok)));
}

fn print_stats(label: &str, samples: &[Duration], suffix: &str) {
    let show = |d: Option<Duration>| d.map_or("-".into(), ms);
    println!(
        "{label} {:>10} {:>10} {:>10}{suffix}",
        show(percentile(samples, 0.50)),
        show(percentile(samples, 0.99)),
        show(samples.iter().max().copied()),
    );
}

/// Milliseconds with 3 decimals.
fn ms(duration: Duration) -> String {
    format!("{:.3}", duration.as_secs_f64() * 1e3)
}

/// Nearest-rank percentile.
fn percentile(samples: &[Duration], p: f64) -> Option<Duration> {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1));
    sorted.get(rank - 1).copied()
}

fn verdict(ok: bool) -> &'static str {
    if ok { "ok" } else { "MISSED" }
}

/// At RUST_LOG=warn a clean run logs nothing; show what it did log.
fn report_logs(bot: &BotProcess) {
    let logs = bot.logs();
    let lines: Vec<&str> = logs.lines().filter(|line| !line.trim().is_empty()).collect();
    if lines.is_empty() {
        println!("  bot logs: nothing at warn level");
        return;
    }
    println!("  bot logs: {} line(s) at warn level, first ones:", lines.len());
    for line in lines.iter().take(5) {
        println!("    {line}");
    }
}

/// SIGTERM, as a supervisor would stop it; SIGKILL if it hangs.
async fn stop(bot: &BotProcess) {
    bot.terminate();
    match bot.wait_exit(Duration::from_secs(15)).await {
        Some(status) if status.success() => {}
        Some(status) => println!("  note: the bot exited with {status} after SIGTERM"),
        None => {
            println!("  note: the bot did not stop within 15 s of SIGTERM; killed");
            bot.kill();
        }
    }
}
