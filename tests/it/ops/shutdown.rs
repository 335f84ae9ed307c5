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
