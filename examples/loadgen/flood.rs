//! Mode `flood`: a member and a stranger flood while other users are served.

use super::*;

pub(crate) const FLOODER: i64 = 2_000_000;
pub(crate) const FLOOD_STRANGER: i64 = 2_000_001;
pub(crate) const FIRST_OTHER: i64 = 2_100_000;
/// 20 other users, in waves spread over the flood's second. More would
/// measure Throttle's 30 messages/s for the whole bot, not the flood.
pub(crate) const OTHERS_PER_WAVE: usize = 4;
pub(crate) const WAVES: usize = 5;
/// The flood is pushed in this many slices, one every `FLOOD_TICK`.
pub(crate) const FLOOD_TICKS: usize = 100;
pub(crate) const FLOOD_TICK: Duration = Duration::from_millis(10);
pub(crate) const FLOOD_P99_TARGET: Duration = Duration::from_secs(1);

/// The others' `/help` and `/video` of one wave.
pub(crate) struct OtherCommands {
    user_id: i64,
    help_id: i64,
    help_update: i64,
    prompt: String,
    video_update: i64,
    pushed: Instant,
}

pub(crate) async fn flood(bin: &Path, args: &Args) -> Result<(), String> {
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
