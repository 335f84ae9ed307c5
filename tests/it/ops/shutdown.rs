//! SIGTERM: what is in flight finishes, then the bot exits 0.

use super::*;

// ---------------------------------------------------------------------------
// SIGTERM
// ---------------------------------------------------------------------------

#[tokio::test]
async fn sigterm_finishes_the_create_in_flight_replies_and_exits_0() {
    let env = TestEnv::start(bot_bin()).await;
    let bot = started(&env).await;
    let slow = Duration::from_secs(2);
    let task = "sora-2:task_slow";
    env.video.push_create(Reply::json(200, json!({"id": task, "status": "pending"})).after(slow));

    let chat = Chat::private(603);
    let command = Msg::text(&chat, &User::new(603), "/video a slow cat").build();
    env.tg.push_message(command.clone());
    env.video.wait_creates(1, WAIT).await;
    let signalled = Instant::now();
    bot.terminate();

    let status = bot
        .wait_exit(Duration::from_secs(10))
        .await
        .unwrap_or_else(|| panic!("still running 10 s after SIGTERM\n{}", bot.logs()));
    let took = signalled.elapsed();
    assert!(status.success(), "exit status {status}\n{}", bot.logs());
    let create = &env.video.creates()[0];
    assert!(create.answered_at.is_some(), "the create call was cut off");
    assert!(took >= slow - Duration::from_millis(500), "exited after {took:?}, before the create answered");

    // The reply for the in-flight command went out before the process ended.
    let reply = env.tg.sent_texts(chat.id);
    assert!(reply.iter().any(|text| text.contains(task)), "no status reply before exit: {reply:?}\n{}", env.tg.dump());
    assert!(bot.logs().contains("stopping"), "{}", bot.logs());
}

#[tokio::test]
async fn sigterm_waits_for_an_album_still_being_collected() {
    let env = TestEnv::start(bot_bin()).await;
    let bot = started(&env).await;
    let chat = Chat::private(606);
    let user = User::new(606);
    env.tg.add_photo("shutdown-a1");
    env.tg.add_photo("shutdown-a2");
    let first = env.tg.push_message(
        Msg::photo(&chat, &user, "shutdown-a1").album("shutdown").caption("/video an album at closing time").build(),
    );
    env.tg.push_message(Msg::photo(&chat, &user, "shutdown-a2").album("shutdown").build());
    let handed_out = poll_until(WAIT, || env.tg.handed_out_at(first)).await;
    assert!(handed_out.is_some(), "the album never reached the bot");
    bot.terminate();

    let status = bot.wait_exit(WAIT).await.unwrap_or_else(|| panic!("still running after SIGTERM\n{}", bot.logs()));
    assert!(status.success(), "exit status {status}\n{}", bot.logs());
    let creates = env.video.creates();
    assert_eq!(creates.len(), 1, "the album's request was dropped at shutdown");
    assert_eq!(creates[0].body["images"].as_array().map(Vec::len), Some(2));
    assert!(
        env.tg.sent_texts(chat.id).iter().any(|text| text.contains("an album at closing time")),
        "{}",
        env.tg.dump()
    );
}

#[tokio::test]
async fn a_webhook_replica_stops_gracefully_refuses_new_updates_and_leaves_the_webhook_for_the_others() {
    let mut hook = WebhookBot::start(&[]).await;
    let task = "sora-2:task_slow_hook";
    hook.env
        .video
        .push_create(Reply::json(200, json!({"id": task, "status": "pending"})).after(Duration::from_secs(2)));
    let chat = Chat::private(607);
    let user = User::new(607);
    let in_flight = Msg::text(&chat, &user, "/video a slow cat").build();
    hook.deliver(&in_flight).await;
    hook.env.video.wait_creates(1, WAIT).await;
    hook.bot.terminate();
    hook.bot.wait_log("stopping", WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Telegram keeps retrying an update that was not taken, so another replica gets it.
    let late = Msg::text(&chat, &user, "/video too late").build();
    let update = json!({"update_id": 99, "message": late});
    let late_status = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{}/telegram/webhook", hook.port))
        .header("X-Telegram-Bot-Api-Secret-Token", WEBHOOK_SECRET)
        .header("content-type", "application/json")
        .body(update.to_string())
        .send()
        .await
        .map(|response| response.status().as_u16());
    assert!(matches!(late_status, Ok(503) | Err(_)), "an update was accepted while stopping: {late_status:?}");

    let status =
        hook.bot.wait_exit(WAIT).await.unwrap_or_else(|| panic!("still running after SIGTERM\n{}", hook.bot.logs()));
    assert!(status.success(), "exit status {status}\n{}", hook.bot.logs());
    assert!(
        hook.env.tg.sent_texts(chat.id).iter().any(|text| text.contains(task)),
        "no status reply before exit\n{}",
        hook.env.tg.dump()
    );
    assert_eq!(hook.env.video.creates().len(), 1);
    assert!(hook.env.tg.attempts_of("deleteWebhook").is_empty(), "a stopping replica removed the shared webhook");
}

/// Polling: after SIGTERM no update is taken any more, not even one that the
/// long poll in flight would have returned; the next start handles it. With
/// nothing in flight the bot exits at once, without waiting out the long poll.
#[tokio::test]
async fn sigterm_stops_taking_updates_at_once_while_polling() {
    let env = TestEnv::start(bot_bin()).await;
    let bot = started(&env).await;
    bot.wait_log("receiving updates by long polling", WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let signalled = Instant::now();
    bot.terminate();
    bot.wait_log("stopping: no new updates", WAIT).await;
    let chat = Chat::private(609);
    let late = Msg::text(&chat, &User::new(609), "/video sent after the signal").build();
    env.tg.push_message(late.clone());

    let status = bot.wait_exit(WAIT).await.unwrap_or_else(|| panic!("still running\n{}", bot.logs()));
    assert!(status.success(), "{status}\n{}", bot.logs());
    assert!(signalled.elapsed() < Duration::from_secs(5), "waited out the long poll: {:?}", signalled.elapsed());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(env.video.creates().is_empty() && !answered(&env, &late), "taken while stopping\n{}", env.tg.dump());

    let _next = started(&env).await;
    assert!(reply_to(&env.tg, &late).await.contains("#1"), "the next start handles it");
}

/// `sora-bot healthcheck` (the image's HEALTHCHECK) says whether the running
/// bot's /healthz answers 200.
#[tokio::test]
async fn the_healthcheck_command_asks_the_running_bot() {
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let env = TestEnv::start(bot_bin()).await.env("HTTP_BIND", &bind);
    let bot = started(&env).await;
    bot.wait_log("receiving updates", WAIT).await;
    // Off the test's runtime: the fakes the bot talks to run on it.
    let check = |bind: String| async move {
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(bot_bin())
                .arg("healthcheck")
                .env_clear()
                .env("HTTP_BIND", bind)
                .current_dir(std::env::temp_dir())
                .output()
                .expect("run sora-bot healthcheck")
        })
        .await
        .expect("healthcheck ran")
    };
    let healthy = check(bind.clone()).await;
    assert!(healthy.status.success(), "{}", String::from_utf8_lossy(&healthy.stderr));
    bot.terminate();
    bot.wait_exit(WAIT).await.expect("stops");
    let down = check(bind).await;
    assert!(!down.status.success());
    assert!(String::from_utf8_lossy(&down.stderr).contains("cannot connect"), "{down:?}");
}

/// The deployment files give a stop grace above what a stop may take with
/// the defaults: a create in flight (VIDEO_API_TIMEOUT_SECS, 60 s) and the
/// queued answers (10 s).
#[test]
fn the_deployment_files_give_a_stop_grace_above_the_create_time_out() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |name: &str| std::fs::read_to_string(root.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let compose = read("compose.yaml");
    let grace: u64 = compose
        .lines()
        .find_map(|line| line.trim().strip_prefix("stop_grace_period:"))
        .and_then(|value| value.trim().strip_suffix('s')?.parse().ok())
        .expect("the bot's stop_grace_period in compose.yaml");
    assert!(grace > 60 + 10, "stop_grace_period: {grace}s");
    assert!(compose.contains("sora-bot\", \"healthcheck\"") && compose.contains("profiles: [\"postgres\"]"));
    let dockerfile = read("Dockerfile");
    assert!(dockerfile.contains("docker stop -t 75") && dockerfile.contains("HEALTHCHECK"), "{dockerfile}");
    let readme = read("README.md");
    assert!(readme.contains("stop_grace_period: 75s") && readme.contains("VIDEO_API_TIMEOUT_SECS"));
    assert!(read(".env.example").contains("VIDEO_API_TIMEOUT_SECS=60"), "the default the grace is sized for");
}
