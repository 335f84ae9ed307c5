//! `/video` end to end: the real binary against a fake Bot API and a fake video API.

use std::time::Duration;

use base64::Engine;
use serde_json::json;
use testkit::*;

use crate::*;

fn data_url(bytes: &[u8]) -> String {
    format!("data:image/jpeg;base64,{}", base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// No request to the video API, no Telegram call and no log line holds a secret.
fn assert_no_secrets(env: &TestEnv, bot: &BotProcess) {
    for call in env.tg.calls() {
        let body = call.body.to_string();
        assert!(
            !body.contains(TOKEN) && !body.contains(VIDEO_API_KEY),
            "secret in Telegram call {}: {body}",
            call.method
        );
    }
    for create in env.video.creates() {
        let body = create.body.to_string();
        assert!(!body.contains(TOKEN) && !body.contains("/file/bot"), "bot token sent to the video API: {body}");
        for (name, value) in &create.headers {
            assert!(name == "authorization" || !value.contains(VIDEO_API_KEY), "key in header {name}");
        }
    }
    let logs = bot.logs();
    let secret_half = &TOKEN[TOKEN.find(':').unwrap() + 1..];
    assert!(!logs.contains(secret_half), "bot token in logs:\n{logs}");
    assert!(!logs.contains(VIDEO_API_KEY), "API key in logs:\n{logs}");
}

#[tokio::test]
async fn private_text_command_creates_one_task_and_replies_with_its_id() {
    let (env, bot) = bot_with(&[]).await;
    let chat = Chat::private(501);
    let chatter = Msg::text(&chat, &User::new(501), "just chatting, my phone is +1 555 0100").build();
    env.tg.push_message(chatter.clone());
    let command = Msg::text(&chat, &User::new(501), "/video --landscape --d 10 two huskies in a courtyard").build();
    env.tg.push_message(command.clone());

    let creates = env.video.wait_creates(1, WAIT).await;
    let create = &creates[0];
    assert_eq!(
        create.body,
        json!({"images": [], "model": "sora-2", "orientation": "landscape", "prompt": "two huskies in a courtyard", "size": "large", "duration": 10})
    );
    assert_eq!(create.headers["authorization"], format!("Bearer {VIDEO_API_KEY}"));
    assert_eq!(create.headers["content-type"], "application/json");
    assert_eq!(create.headers["accept"], "application/json");

    let reply = env.tg.wait_reply_text(501, msg_id(&command), WAIT).await;
    assert!(reply.contains("#1"), "{reply}");
    assert!(reply.contains(&FakeVideoApi::task_id(1)), "{reply}");
    assert!(reply.contains("queued"), "{reply}");
    assert!(reply.contains("sora-2 · landscape · large · 10s"), "{reply}");
    assert_no_secrets(&env, &bot);
    // A plain message is not ours: no answer, and its text is not logged.
    assert!(env.tg.replies(501, chatter["message_id"].as_i64().unwrap()).is_empty());
    assert!(!bot.logs().contains("just chatting"), "{}", bot.logs());
}

#[tokio::test]
async fn the_command_menu_is_registered_in_english_and_chinese() {
    let env = TestEnv::start(bot_bin()).await;
    let bot = InProcess::start(&env).await;
    let menus = env.tg.wait_for("setMyCommands", 2, WAIT).await;
    let commands = |i: usize| -> Vec<String> {
        menus[i].body["commands"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["command"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = ["/start", "/help", "/video", "/status", "/tasks", "/cancel", "/again", "/quota", "/settings", "/models"];
    assert_eq!(commands(0), all);
    assert_eq!(commands(1), all);
    assert_eq!(menus[1].body["language_code"], "zh");
    assert!(menus[1].body["commands"][2]["description"].as_str().unwrap().contains("生成视频"));
    bot.stop().await;
}

#[tokio::test]
async fn chinese_user_gets_a_chinese_reply() {
    let env = TestEnv::start(bot_bin()).await;
    let bot = InProcess::start(&env).await;
    let chat = Chat::private(502);
    let command = Msg::text(&chat, &User::new(502).lang("zh-hans"), "/video o=横屏 夜晚香港的航拍镜头").build();
    env.tg.push_message(command.clone());
    let create = &env.video.wait_creates(1, WAIT).await[0];
    assert_eq!(create.body["orientation"], "landscape");
    assert_eq!(create.body["prompt"], "夜晚香港的航拍镜头");
    let reply = env.tg.wait_reply_text(502, msg_id(&command), WAIT).await;
    assert!(reply.contains("排队中"), "{reply}");
    bot.stop().await;
}

#[tokio::test]
async fn photo_with_the_command_as_caption_sends_its_largest_size() {
    let (env, bot) = bot_with(&[]).await;
    let chat = Chat::private(503);
    let large = env.tg.add_photo("cat");
    env.tg.push_message(Msg::photo(&chat, &User::new(503), "cat").caption("/video a cat surfing at sunset").build());

    let create = &env.video.wait_creates(1, WAIT).await[0];
    assert_eq!(create.body["images"], json!([data_url(&large)]));
    assert_eq!(create.body["prompt"], "a cat surfing at sunset");
    assert_no_secrets(&env, &bot);
}

#[tokio::test]
async fn album_of_three_with_the_caption_on_the_second_makes_one_request_with_three_images() {
    let (env, _bot) = bot_with(&[]).await;
    let chat = Chat::private(504);
    let user = User::new(504);
    let bytes: Vec<Vec<u8>> = ["a1", "a2", "a3"].iter().map(|p| env.tg.add_photo(p)).collect();
    env.tg.push_message(Msg::photo(&chat, &user, "a1").album("alb").id(31).build());
    env.tg.push_message(Msg::photo(&chat, &user, "a2").album("alb").id(32).caption("/video three friends").build());
    env.tg.push_message(Msg::photo(&chat, &user, "a3").album("alb").id(33).build());

    let create = &env.video.wait_creates(1, WAIT).await[0];
    let expected: Vec<String> = bytes.iter().map(|b| data_url(b)).collect();
    assert_eq!(create.body["images"], json!(expected));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(env.video.creates().len(), 1, "one create per album, never one per photo");
    env.tg.wait_reply_text(504, 32, WAIT).await;
}

#[tokio::test]
async fn reply_to_a_photo_and_to_an_image_document_uses_them() {
    let (env, _bot) = bot_with(&[]).await;
    let chat = Chat::private(505);
    let user = User::new(505);
    let photo_bytes = env.tg.add_photo("dog");
    let photo = Msg::photo(&chat, &user, "dog").build();
    env.tg.push_message(photo.clone());
    env.tg.push_message(Msg::text(&chat, &user, "/video make it dance").reply_to(&photo).build());
    let create = &env.video.wait_creates(1, WAIT).await[0];
    assert_eq!(create.body["images"], json!([data_url(&photo_bytes)]));

    let doc_bytes = env.tg.add_document("doc-png");
    let document = Msg::document(&chat, &user, "doc-png", "image/jpeg", "scan.jpg").build();
    env.tg.push_message(document.clone());
    env.tg.push_message(Msg::text(&chat, &user, "/video animate this").reply_to(&document).build());
    let creates = env.video.wait_creates(2, WAIT).await;
    assert_eq!(creates[1].body["images"], json!([data_url(&doc_bytes)]));
}

#[tokio::test]
async fn group_commands_for_us_work_and_for_another_bot_are_ignored() {
    let (env, _bot) = bot_with(&[]).await;
    let group = Chat::group(-100_777);
    let user = User::new(506);
    let other = Msg::text(&group, &user, "/video@OtherBot not for us").build();
    env.tg.push_message(other);
    let plain = Msg::text(&group, &user, "/video plain in a group").build();
    env.tg.push_message(plain.clone());
    let addressed = Msg::text(&group, &user, "/video@SoraTestBot addressed to us").build();
    env.tg.push_message(addressed.clone());

    let creates = env.video.wait_creates(2, WAIT).await;
    let mut prompts: Vec<&str> = creates.iter().map(|c| c.body["prompt"].as_str().unwrap()).collect();
    prompts.sort();
    assert_eq!(prompts, ["addressed to us", "plain in a group"]);
    env.tg.wait_reply_text(-100_777, msg_id(&plain), WAIT).await;
    env.tg.wait_reply_text(-100_777, msg_id(&addressed), WAIT).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(env.video.creates().len(), 2);
    assert_eq!(env.tg.sent_texts(-100_777).len(), 2, "nothing said about /video@OtherBot");
}

#[tokio::test]
async fn bad_options_and_empty_prompts_get_the_right_form_and_no_create() {
    let (env, _bot) = bot_with(&[]).await;
    let chat = Chat::private(507);
    let user = User::new(507);
    for (text, needle) in [
        ("/video --foo a cat", "Unknown option"),
        // A bare `/video` asks for the prompt instead (tests/buttons.rs).
        ("/video --landscape   ", "prompt"),
        ("/video d=25 a cat", "10 or 15"),
        ("/video size=huge a cat", "size"),
        ("/video --pro --pro a cat", "twice"),
    ] {
        let message = Msg::text(&chat, &user, text).build();
        env.tg.push_message(message.clone());
        let reply = env.tg.wait_reply_text(507, msg_id(&message), WAIT).await;
        assert!(reply.contains(needle) && reply.contains("/video [options] <prompt>"), "{text} → {reply}");
    }
    assert!(env.video.creates().is_empty());
}

#[tokio::test]
async fn too_many_photos_get_a_clear_reply_and_no_create() {
    let (env, _bot) = bot_with(&[("MAX_IMAGES", "2")]).await;
    let chat = Chat::private(508);
    let user = User::new(508);
    for (i, prefix) in ["m1", "m2", "m3"].iter().enumerate() {
        env.tg.add_photo(prefix);
        let mut msg = Msg::photo(&chat, &user, prefix).album("many").id(40 + i as i64);
        if i == 0 {
            msg = msg.caption("/video too many");
        }
        env.tg.push_message(msg.build());
    }
    let reply = env.tg.wait_reply_text(508, 40, WAIT).await;
    assert!(reply.contains("at most 2"), "{reply}");
    assert!(env.video.creates().is_empty());
}

/// The create call fails in `reply`-visible ways; nothing is retried.
async fn create_failure(reply: Reply, needle: &str, vars: &[(&str, &str)]) {
    let (env, bot) = bot_with(vars).await;
    env.video.push_create(reply);
    let chat = Chat::private(509);
    let message = Msg::text(&chat, &User::new(509), "/video a cat").build();
    env.tg.push_message(message.clone());
    let text = env.tg.wait_reply_text(509, msg_id(&message), WAIT).await;
    assert!(text.contains(needle), "expected {needle:?} in {text}");
    assert_eq!(env.video.creates().len(), 1, "a failed create is never retried");
    assert_no_secrets(&env, &bot);
}

#[tokio::test]
async fn video_api_401_says_the_key_was_refused() {
    let body = json!({"error": {"message": "invalid token", "type": "auth", "code": "invalid_api_key"}});
    create_failure(Reply::json(401, body), "refused the key", &[]).await;
}

#[tokio::test]
async fn video_api_429_says_try_again_later() {
    let body = json!({"error": {"message": "rate limited, slow down", "type": "rate", "code": "429"}});
    create_failure(Reply::json(429, body), "slow down", &[]).await;
}

#[tokio::test]
async fn video_api_500_with_its_json_error_says_it_is_unreachable() {
    let body = json!({"error": {"message": "upstream exploded", "type": "server_error"}});
    create_failure(Reply::json(500, body), "not reachable", &[]).await;
}

#[tokio::test]
async fn video_api_garbage_may_or_may_not_have_made_the_video() {
    create_failure(Reply::status(200, "<html>not json</html>"), "may or may not", &[]).await;
}

#[tokio::test]
async fn video_api_silence_is_reported_as_unknown_and_not_retried() {
    create_failure(Reply::never(), "may or may not", &[("VIDEO_API_TIMEOUT_SECS", "2")]).await;
}

#[tokio::test]
async fn proxy_mode_serves_the_photo_bytes_at_an_unguessable_expiring_url() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let (env, bot) = bot_with(&[
        ("HTTP_BIND", &format!("127.0.0.1:{port}")),
        ("PUBLIC_BASE_URL", &base),
        ("TASK_TIMEOUT_SECS", "3"),
    ])
    .await;
    let chat = Chat::private(510);
    let large = env.tg.add_photo("proxied");
    env.tg.push_message(Msg::photo(&chat, &User::new(510), "proxied").caption("/video wave hello").build());

    let create = &env.video.wait_creates(1, WAIT).await[0];
    let url = create.body["images"][0].as_str().unwrap().to_owned();
    let name = url.strip_prefix(&format!("{base}/media/")).expect("served under PUBLIC_BASE_URL");
    assert_eq!(name.len(), 32 + ".jpg".len());
    let fetched = reqwest::get(&url).await.unwrap();
    assert_eq!(fetched.status(), 200);
    assert_eq!(fetched.headers()["content-type"], "image/jpeg");
    assert_eq!(fetched.bytes().await.unwrap().to_vec(), large);

    for other in ["/media/00000000000000000000000000000000.jpg", "/media/..%2F..%2Fetc%2Fpasswd", "/media/", "/bot.db"]
    {
        assert_eq!(reqwest::get(format!("{base}{other}")).await.unwrap().status(), 404, "{other}");
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 404, "expired");
    assert_no_secrets(&env, &bot);
}

#[tokio::test]
async fn telegram_mode_is_opt_in_and_warns_at_start() {
    let (env, bot) = bot_with(&[("IMAGE_MODE", "telegram")]).await;
    bot.wait_log("contain the bot token", WAIT).await;
    let chat = Chat::private(511);
    env.tg.add_photo("tg");
    env.tg.push_message(Msg::photo(&chat, &User::new(511), "tg").caption("/video hi").build());
    let create = &env.video.wait_creates(1, WAIT).await[0];
    let url = create.body["images"][0].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/file/bot", env.tg.url())), "{url}");
}

#[tokio::test]
async fn bad_configuration_stops_the_bot_with_one_line_naming_the_variable() {
    let mut env = TestEnv::start(bot_bin()).await;
    env.set_env("DEFAULT_DURATION", "seven");
    let bot = env.start_bot();
    let status = bot.wait_exit(WAIT).await.expect("exits");
    assert!(!status.success());
    // The reader thread may still be copying the last line after the exit.
    let mut logs = bot.logs();
    for _ in 0..50 {
        if logs.contains('\n') {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        logs = bot.logs();
    }
    assert!(logs.contains("DEFAULT_DURATION"), "{logs}");
    assert_eq!(logs.trim().lines().count(), 1, "{logs}");
    assert!(env.tg.calls().is_empty(), "nothing started");
}
