//! Mode `busy`: a group whose send budget is used up, simultaneous presses,
//! and a backlog waiting at start, with Telegram's send limits on.

use super::*;

const GROUP: i64 = -3_000_000;
const FIRST_MEMBER: i64 = 3_000_000;
/// Members whose `/video` come after the group used its 20 messages a minute.
const OTHERS: usize = 20;
const PRESSERS: usize = 20;
/// A backlog of one getUpdates batch: chatter and `/video` from different members.
const BACKLOG_CHATTER: usize = 40;
const BACKLOG_VIDEOS: usize = 60;
const BUSY_P99_TARGET: Duration = Duration::from_secs(1);

async fn busy_env(bin: &Path, args: &Args, poll_interval_secs: &str) -> TestEnv {
    let mut env = TestEnv::start(bin).await;
    for (key, value) in NO_LIMITS {
        env.set_env(key, value);
    }
    env.set_env("POLL_INTERVAL_SECS", poll_interval_secs);
    env.set_env("RUST_LOG", "warn");
    env.set_env("TELEGRAM_SEND_LIMITS", "telegram");
    env.set_env("COMMANDS_PER_MINUTE", "20");
    for (key, value) in &args.extra_env {
        env.set_env(key, value);
    }
    env
}

fn create_at(env: &TestEnv, prompt: &str) -> Option<Instant> {
    env.video.creates().iter().find(|c| c.body["prompt"] == prompt).map(|c| c.at)
}

pub(crate) async fn busy(bin: &Path, args: &Args) -> Result<(), String> {
    println!("  Telegram send limits on (20 messages a minute per group), COMMANDS_PER_MINUTE=20");
    let budget = budget_used_up(bin, args).await?;
    let presses = simultaneous_presses(bin, args).await?;
    backlog_at_start(bin, args).await?;
    if !budget || !presses {
        return Err("a p99 over its target".into());
    }
    Ok(())
}

/// 22 `/video`, a bare `/video` and 25 `/settings` in a group, then 20 other
/// members' `/video`: update → create for those.
async fn budget_used_up(bin: &Path, args: &Args) -> Result<bool, String> {
    let env = busy_env(bin, args, "3600").await;
    let bot = env.start_bot();
    wait_for_calls(&env.tg, Some(&bot), "setMyCommands", 1, STARTUP_WAIT).await?;
    let group = Chat::group(GROUP);
    let member = |i: usize| User::new(FIRST_MEMBER + i as i64);
    for i in 0..22 {
        env.tg.push_message(Msg::text(&group, &member(i), &format!("/video budget {i}")).build());
    }
    wait_until(Some(&bot), Duration::from_secs(30), "22 creates", || env.video.creates().len() >= 22).await?;
    env.tg.push_message(Msg::text(&group, &member(100), "/video").build());
    for i in 0..25 {
        env.tg.push_message(Msg::text(&group, &member(200 + i), "/settings").build());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut sent = Vec::new();
    for i in 0..OTHERS {
        let prompt = format!("other member {i}");
        let update = env.tg.push_message(Msg::text(&group, &member(300 + i), &format!("/video {prompt}")).build());
        sent.push((prompt, update, Instant::now()));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let waited = wait_until(Some(&bot), Duration::from_secs(60), "the other members' creates", || {
        sent.iter().all(|(prompt, _, _)| create_at(&env, prompt).is_some())
    })
    .await;
    let (mut handed, mut pushed) = (Vec::new(), Vec::new());
    for (prompt, update, at) in &sent {
        if let (Some(create), Some(out)) = (create_at(&env, prompt), env.tg.handed_out_at(*update)) {
            handed.push(create.saturating_duration_since(out));
            pushed.push(create.saturating_duration_since(*at));
        }
    }
    let ok = percentile(&handed, 0.99).is_some_and(|p99| p99 < BUSY_P99_TARGET) && handed.len() == OTHERS;
    println!(
        "a group with its send budget used up (22 /video, a bare /video, 25 /settings, then {OTHERS} members' /video)"
    );
    println!("  latency                     p50 ms     p99 ms     max ms   target");
    print_stats("  /video update → create", &handed, &format!("   p99 < 1 s: {}", verdict(ok)));
    print_stats("  /video pushed → create", &pushed, "");
    report_logs(&bot);
    stop(&bot).await;
    waited?;
    Ok(ok)
}

/// A delivered video in a group; 20 members press `🔁 Again` at once.
async fn simultaneous_presses(bin: &Path, args: &Args) -> Result<bool, String> {
    // The watcher delivers the video: it polls every second here.
    let env = busy_env(bin, args, "1").await;
    let bot = env.start_bot();
    wait_for_calls(&env.tg, Some(&bot), "setMyCommands", 1, STARTUP_WAIT).await?;
    let group = Chat::group(GROUP - 1);
    let upstream = FakeVideoApi::task_id(1);
    env.video.add_file("busy.mp4", vec![7; 1000]);
    env.video.script_task(&upstream, vec![testkit::Reply::completed(&upstream, &env.video.file_url("busy.mp4"))]);
    env.tg.push_message(Msg::text(&group, &User::new(FIRST_MEMBER), "/video a fox in the snow").build());
    wait_for_calls(&env.tg, Some(&bot), "sendVideo", 1, Duration::from_secs(30)).await?;
    let video = env.tg.calls_of("sendVideo").remove(0);
    let mut presses = Vec::new();
    for i in 0..PRESSERS {
        let pressed = Instant::now();
        presses.push((env.tg.press(&User::new(FIRST_MEMBER + 1 + i as i64), &video, "🔁 Again"), pressed));
    }
    let typed = env.tg.push_message(Msg::text(&group, &User::new(FIRST_MEMBER + 99), "/video typed meanwhile").build());
    let typed_at = Instant::now();
    let answer_of = |id: &str| {
        env.tg.calls_of("answerCallbackQuery").into_iter().find(|c| c.body["callback_query_id"] == id).map(|c| c.at)
    };
    let waited = wait_until(Some(&bot), Duration::from_secs(30), "every press answered", || {
        presses.iter().all(|(id, _)| answer_of(id).is_some()) && create_at(&env, "typed meanwhile").is_some()
    })
    .await;
    let answers: Vec<Duration> = presses
        .iter()
        .filter_map(|(id, pressed)| answer_of(id).map(|at| at.saturating_duration_since(*pressed)))
        .collect();
    let typed_create = create_at(&env, "typed meanwhile")
        .map(|at| at.saturating_duration_since(env.tg.handed_out_at(typed).unwrap_or(typed_at)));
    let ok = percentile(&answers, 0.99).is_some_and(|p99| p99 < BUSY_P99_TARGET) && answers.len() == PRESSERS;
    println!("{PRESSERS} members press 🔁 Again at once");
    println!("  latency                     p50 ms     p99 ms     max ms   target");
    print_stats("  press → answer        ", &answers, &format!("   p99 < 1 s: {}", verdict(ok)));
    println!("  a /video typed meanwhile: update → create {}", typed_create.map_or("never".into(), ms));
    report_logs(&bot);
    stop(&bot).await;
    waited?;
    Ok(ok)
}

/// 100 updates of one group waiting at start: created, told, lost.
async fn backlog_at_start(bin: &Path, args: &Args) -> Result<(), String> {
    let env = busy_env(bin, args, "3600").await;
    let group = Chat::group(GROUP - 2);
    for i in 0..BACKLOG_CHATTER + BACKLOG_VIDEOS {
        let member = User::new(FIRST_MEMBER + i as i64);
        let text = if i % 5 < 2 { format!("chatter {i}") } else { format!("/video backlog {i}") };
        env.tg.push_message(Msg::text(&group, &member, &text).build());
    }
    let started = Instant::now();
    let bot = env.start_bot();
    let waited = wait_until(Some(&bot), Duration::from_secs(60), "every backlog /video created", || {
        env.video.creates().len() >= BACKLOG_VIDEOS
    })
    .await;
    let took = started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let created = env.video.creates().len();
    let told = env.tg.sent_texts(group.id).iter().filter(|t| t.contains("Too busy")).count();
    println!(
        "a backlog of {} updates in one group ({BACKLOG_CHATTER} chatter, {BACKLOG_VIDEOS} /video) waiting at start",
        BACKLOG_CHATTER + BACKLOG_VIDEOS
    );
    println!(
        "  created {created}, told {told}, lost {} (all created {:.1} s after the start)",
        BACKLOG_VIDEOS.saturating_sub(created + told),
        took.as_secs_f64()
    );
    report_logs(&bot);
    stop(&bot).await;
    waited
}
