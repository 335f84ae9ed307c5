//! Models as data: the default follows the video API's listing, a retired
//! model is answered with others to press, `/models`, and cost per model
//! against every daily limit.

use serde_json::json;
use testkit::*;

use crate::{WAIT, bot_with, send, store};

async fn reply(env: &TestEnv, chat_id: i64, message_id: i64, n: usize) -> Call {
    env.tg.wait_replies(chat_id, message_id, n, WAIT).await.remove(n - 1)
}

async fn say(env: &TestEnv, chat: &Chat, user: &User, text: &str) -> String {
    let message = Msg::text(chat, user, text).build();
    env.tg.push_message(message.clone());
    crate::reply_to(&env.tg, &message).await
}

/// The fakes, with the video API listing `models`, and the bot with `vars`.
async fn bot_listing(models: &[&str], vars: &[(&str, &str)]) -> (TestEnv, BotProcess) {
    let mut env = TestEnv::start(crate::bot_bin()).await;
    env.video.set_models(models);
    for (key, value) in vars {
        env.set_env(key, value);
    }
    let bot = env.start_bot();
    env.tg.wait_for("setMyCommands", 1, WAIT).await;
    (env, bot)
}

#[tokio::test]
async fn the_default_is_the_first_listed_model_and_the_log_says_why() {
    let (env, bot) = bot_listing(&["jimeng-video-3.0", "veo3.1-fast"], &[]).await;
    bot.wait_log("default model: veo3.1-fast (first model of VIDEO_MODELS the video API lists)", WAIT).await;
    send(&env, Msg::text(&Chat::private(61), &User::new(61), "/video --landscape a lighthouse"));
    let create = &env.video.wait_creates(1, WAIT).await[0];
    assert_eq!(
        create.body,
        json!({"images": [], "model": "veo3.1-fast", "prompt": "a lighthouse", "aspect_ratio": "16:9",
               "enhance_prompt": true, "enable_upsample": true})
    );
    // A DEFAULT_MODEL the video API does not list is passed over, and said so.
    let (env, bot) = bot_listing(&["grok-video-3"], &[("DEFAULT_MODEL", "sora-2")]).await;
    bot.wait_log("default model: grok-video-3 (DEFAULT_MODEL sora-2 is not listed by the video API", WAIT).await;
    send(&env, Msg::text(&Chat::private(62), &User::new(62), "/video a lighthouse"));
    let create = &env.video.wait_creates(1, WAIT).await[0];
    assert_eq!(
        create.body,
        json!({"images": [], "model": "grok-video-3", "prompt": "a lighthouse", "aspect_ratio": "2:3", "size": "720P"})
    );
}

#[tokio::test]
async fn a_relay_without_a_listing_leaves_the_configuration_in_charge() {
    let mut env = TestEnv::start(crate::bot_bin()).await;
    env.video.answer_models(Reply::status(404, "404 page not found"));
    env.set_env("VIDEO_MODELS", "sora-2,veo3.1");
    let bot = env.start_bot();
    env.tg.wait_for("setMyCommands", 1, WAIT).await;
    bot.wait_log("could not list the video API's models", WAIT).await;
    bot.wait_log("default model: sora-2 (first model of VIDEO_MODELS (the video API has not listed", WAIT).await;
    let models = say(&env, &Chat::private(63), &User::new(63), "/models").await;
    assert!(models.contains("? Sora 2 — sora-2, sora (default)") && models.contains("? Veo 3.1 — veo3.1"), "{models}");
    assert!(!models.contains("grok"), "only VIDEO_MODELS are offered: {models}");
    assert_eq!(bot.logs().matches("could not list the video API's models").count(), 1);
}

#[tokio::test]
async fn a_retired_model_is_refused_with_others_to_press_and_nothing_counted() {
    let listed = ["sora-2", "veo3.1-fast", "veo3.1", "jimeng-video-3.0", "grok-video-3"];
    let (env, bot) = bot_listing(
        &listed,
        &[("DAILY_LIMIT_PER_USER", "1"), ("VIDEO_MODELS", "sora-2,veo3.1-fast,veo3.1,jimeng-video-3.0,grok-video-3")],
    )
    .await;
    env.video.retire("sora-2");
    let group = Chat::group(-6400);
    let (ann, bob) = (User::new(6401), User::new(6402).lang("zh"));
    let command = send(&env, Msg::text(&group, &ann, "/video --landscape s=small two huskies"));
    let refused = reply(&env, group.id, command, 1).await;
    assert_eq!(
        refused.text().unwrap(),
        "🚫 sora-2 is no longer available from the video API. Nothing was counted. Try another model:"
    );
    assert_eq!(
        crate::buttons_labels(&refused),
        [vec!["🎬 Veo 3.1 Fast".to_owned(), "🎬 Veo 3.1".to_owned()], vec!["🎬 Jimeng 3.0".to_owned()]]
    );
    bot.wait_log("default model: veo3.1-fast", WAIT).await;
    let store = store(&env).await;
    let task = store.task(1).await.unwrap().unwrap();
    assert_eq!(task.state, sora_bot::task::TaskState::Rejected);

    // Bob presses: the same request with that model, as his own.
    let press = env.tg.press(&bob, &refused, "🎬 Jimeng 3.0");
    env.tg.press_answer(&press, WAIT).await;
    let creates = env.video.wait_creates(2, WAIT).await;
    assert_eq!(
        creates[1].body,
        json!({"images": [], "model": "jimeng-video-3.0", "prompt": "two huskies", "aspect_ratio": "16:9", "size": "1280x720"})
    );
    let pressed = store.task(2).await.unwrap().unwrap();
    assert_eq!(pressed.user_id, bob.id);

    // Nothing was counted for ann: her one video a day is still there, and
    // without m= it goes to the new default at once.
    let quota = say(&env, &group, &ann, "/quota").await;
    assert!(quota.contains("Today: 1 of 1 units left"), "{quota}");
    send(&env, Msg::text(&group, &ann, "/video a fox"));
    assert_eq!(env.video.wait_creates(3, WAIT).await[2].body["model"], "veo3.1-fast");

    // Chinese users read it in Chinese; /models marks it unavailable.
    let zh = say(&env, &Chat::private(6403), &User::new(6403).lang("zh"), "/video m=sora-2 一只猫").await;
    assert_eq!(zh, "🚫 视频接口已不再提供 sora-2，本次不计入额度。换一个模型试试：");
    let models = say(&env, &Chat::private(6404), &User::new(6404), "/models").await;
    assert!(
        models.contains("✗ Sora 2 — sora-2") && models.contains("✓ Veo 3.1 Fast — veo3.1-fast, veo (default)"),
        "{models}"
    );
}

#[tokio::test]
async fn models_lists_what_each_model_can_vary_in_both_languages() {
    let (env, _bot) = bot_with(&[]).await;
    let en = say(&env, &Chat::private(65), &User::new(65), "/models").await;
    let expected_en = [
        "🎬 Models (m=<name> in /video):",
        "✓ Sora 2 — sora-2, sora (default)\nPortrait, Landscape · Large (1080p), Small (720p) · 15 s, 10 s · ≤ 4 photos · cost 1",
        "✓ Veo 3.1 Fast — veo3.1-fast, veo\nPortrait, Landscape · Large (1080p), Small (720p) · ≤ 1 photo · cost 1",
        "✓ Jimeng 3.0 — jimeng-video-3.0, jimeng\nPortrait, Landscape, Square, 4:3, 3:4, 21:9 · Large (1080p), Small (720p) · ≤ 4 photos · cost 1",
        "✓ Grok Video 3 — grok-video-3, grok\n2:3, 3:2, Square · ≤ 4 photos · cost 1",
        "✓ served now · ✗ not served now · ? not known yet",
    ];
    for part in expected_en {
        assert!(en.contains(part), "{part:?} in\n{en}");
    }
    let zh = say(&env, &Chat::private(66), &User::new(66).lang("zh"), "/models").await;
    assert!(zh.starts_with("🎬 可用模型（/video 中写 m=<名称>）："), "{zh}");
    assert!(
        zh.contains(
            "✓ Veo 3.1 Fast — veo3.1-fast, veo\n竖屏、横屏 · 大 (1080p)、小 (720p) · 最多 1 张照片 · 每个视频计 1 点"
        ),
        "{zh}"
    );
}

/// Each daily limit counts a video as its model's cost: veo costs 2 here.
async fn cost_story(database: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("models.toml");
    std::fs::write(&file, "[[model]]\nname = \"veo3.1-fast\"\ncost = 2\n").unwrap();
    let mut vars = vec![
        ("VIDEO_MODELS_FILE", file.to_str().unwrap()),
        ("DAILY_LIMIT_PER_USER", "3"),
        ("DAILY_LIMIT_PER_CHAT", "5"),
        ("DAILY_LIMIT_TOTAL", "7"),
    ];
    if let Some(url) = database {
        vars.push(("DATABASE_URL", url));
    }
    let (env, _bot) = bot_with(&vars).await;
    let group = Chat::group(-6600);
    let (a, b, c) = (User::new(6601), User::new(6602), User::new(6603));
    // a: veo (2) fits 3; a second veo (2 + 2 > 3) does not; sora (1) does.
    send(&env, Msg::text(&group, &a, "/video m=veo one"));
    env.video.wait_creates(1, WAIT).await;
    let refused = say(&env, &group, &a, "/video m=veo two").await;
    assert!(refused.contains("This model costs more than the 1 left of your 3 for today"), "per user: {refused}");
    send(&env, Msg::text(&group, &a, "/video m=sora-2 three"));
    env.video.wait_creates(2, WAIT).await;
    // The group has used 3 of 5: b's veo fits (5), c's then does not.
    send(&env, Msg::text(&group, &b, "/video m=veo four"));
    env.video.wait_creates(3, WAIT).await;
    let refused = say(&env, &group, &c, "/video m=veo five").await;
    assert!(refused.contains("This group has used all 5"), "per chat: {refused}");
    // Everyone together has used 5 of 7: c's private veo fits, then nothing does.
    let private = Chat::private(6603);
    send(&env, Msg::text(&private, &c, "/video m=veo six"));
    env.video.wait_creates(4, WAIT).await;
    let refused = say(&env, &private, &c, "/video m=sora-2 seven").await;
    assert!(refused.contains("all 7 videos it may make today"), "total: {refused}");
    let quota = say(&env, &private, &c, "/quota").await;
    assert!(quota.contains("Today: 1 of 3 units left") && quota.contains("Whole bot today: 0 of 7 left"), "{quota}");
    assert_eq!(env.video.creates().len(), 4, "nothing refused reached the video API");
    let store = store(&env).await;
    assert_eq!(store.usage(6603, 6603, 0).await.unwrap().used_total_today, 7);
}

#[tokio::test]
async fn cost_counts_against_every_daily_limit_on_sqlite() {
    cost_story(None).await;
}

#[tokio::test]
async fn cost_counts_against_every_daily_limit_on_postgres() {
    let database = fresh_postgres_db().await;
    cost_story(Some(&database)).await;
    drop_postgres_db(&database).await;
}

#[tokio::test]
async fn a_bad_models_file_stops_the_start_with_one_line_naming_entry_and_field() {
    let mut env = TestEnv::start(crate::bot_bin()).await;
    let file = env.dir.path().join("models.toml");
    std::fs::write(&file, "[[model]]\nname = \"kling-v2\"\nfamily = \"veo\"\nshapes = [\"wide\"]\n").unwrap();
    env.set_env("VIDEO_MODELS_FILE", file.to_str().unwrap());
    let bot = env.start_bot();
    let status = bot.wait_exit(WAIT).await.expect("exits");
    assert!(!status.success());
    let line = bot.wait_log("VIDEO_MODELS_FILE", WAIT).await;
    assert!(
        line.ends_with(&format!(
            "VIDEO_MODELS_FILE: {}: [[model]] #1 \"kling-v2\", field `shapes`: \"wide\" is not an aspect ratio like 16:9",
            file.display()
        )),
        "{line}"
    );
    assert_eq!(bot.logs().trim().lines().count(), 1, "{}", bot.logs());
}
