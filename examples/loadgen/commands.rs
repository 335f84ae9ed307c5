//! Modes `commands` and `floor`: latency the bot adds to a `/video`, and the same load answered by a minimal client.

use super::*;

pub(crate) async fn commands(bin: &Path, args: &Args) -> Result<(), String> {
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
    let cpu = bot.and_then(|bot| cpu_ticks_split(bot.pid()));

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
    if let Some((user, system)) = cpu {
        let seconds = (user + system) as f64 / CLOCK_TICKS_PER_SEC;
        println!(
            "  bot CPU (user + system, start-up and warm-up included): {seconds:.2} s = {:.2} s per 1,000 commands   target ≤ {CPU_TARGET_PER_1000} s: {}",
            seconds * 1000.0 / expected as f64,
            verdict(seconds * 1000.0 / expected as f64 <= CPU_TARGET_PER_1000)
        );
        println!(
            "  of which user {:.2} s, system {:.2} s",
            user as f64 / CLOCK_TICKS_PER_SEC,
            system as f64 / CLOCK_TICKS_PER_SEC
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

/// CPU seconds per 1,000 `/video`: a third of a Python (aiogram) bot's on the same load.
const CPU_TARGET_PER_1000: f64 = 0.7;

/// Both fakes and the bot's configuration for a benchmark run.
pub(crate) async fn bench_env(bin: &Path, poll_interval_secs: &str, args: &Args) -> TestEnv {
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
pub(crate) struct Sent {
    user_id: i64,
    message_id: i64,
    prompt: String,
    update_id: i64,
}

/// Pushes `n` commands, each from its own user (`first_user + i`) in their
/// private chat, `pacing.batch` at a time on a fixed schedule (a late batch
/// does not shift the ones after it, so the offered rate holds).
pub(crate) async fn send_commands(
    tg: &FakeTelegram,
    first_user: i64,
    label: &str,
    n: usize,
    pacing: Pacing,
) -> Vec<Sent> {
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
pub(crate) async fn wait_for_commands(
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
pub(crate) struct CommandsRun {
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

pub(crate) fn create_answered(creates: &[&CreateCall]) -> Option<Instant> {
    creates.first()?.answered_at
}

/// Pairs every sent command with its create call (by prompt) and its reply (by
/// chat, as a reply to the command) and takes the latencies.
pub(crate) fn match_commands(env: &TestEnv, sent: &[Sent]) -> CommandsRun {
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
pub(crate) struct FloorClient {
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

pub(crate) async fn floor_loop(api: String, create_url: String) {
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
