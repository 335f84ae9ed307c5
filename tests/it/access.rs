//! Who may spend the API key, and how much: the access filter and the cost
//! guards, with the real binary against the fake Bot API and video API.

use std::time::Duration;

use serde_json::json;
use testkit::*;

use crate::*;
/// How long we watch for something that must not happen.
const QUIET: Duration = Duration::from_millis(700);

const ALICE: i64 = 1001; // in ALLOWED_USER_IDS
const STRANGER: i64 = 4242;
const ADMIN: i64 = 9001;

/// A bot that is not open to everyone; `vars` configure who may use it.
async fn private_bot(vars: &[(&str, &str)]) -> (TestEnv, BotProcess) {
    let mut env = TestEnv::start(bot_bin()).await;
    env.remove_env("ALLOW_EVERYONE");
    for (key, value) in vars {
        env.set_env(key, value);
    }
    let bot = started(&env).await;
    (env, bot)
}

async fn started(env: &TestEnv) -> BotProcess {
    let bot = env.start_bot();
    env.tg.wait_for("setMyCommands", 1, WAIT).await;
    bot
}

/// `user` writes `text` in `chat`; returns the bot's reply.
async fn say(env: &TestEnv, chat: &Chat, user: &User, text: &str) -> String {
    let message = Msg::text(chat, user, text).build();
    env.tg.push_message(message.clone());
    reply_to(&env.tg, &message).await
}

async fn quiet() {
    tokio::time::sleep(QUIET).await;
}

#[tokio::test]
async fn a_stranger_is_told_the_bot_is_private_with_their_id_and_nothing_is_created() {
    let (env, _bot) = private_bot(&[("ALLOWED_USER_IDS", &ALICE.to_string())]).await;
    let chat = Chat::private(STRANGER);
    let stranger = User::new(STRANGER);

    let reply = say(&env, &chat, &stranger, "/video a cat").await;
    assert!(reply.contains("private") && reply.contains(&STRANGER.to_string()), "{reply}");

    // A photo captioned /video and the other paid commands are refused too,
    // silently: a stranger is told at most once a minute.
    env.tg.add_photo("stranger-cat");
    let photo = Msg::photo(&chat, &stranger, "stranger-cat").caption("/video a cat surfing").build();
    env.tg.push_message(photo.clone());
    let mut refused = vec![photo];
    for command in ["/again", "/quota", "/tasks"] {
        let message = Msg::text(&chat, &stranger, command).build();
        env.tg.push_message(message.clone());
        refused.push(message);
    }

    // A Chinese-speaking stranger is told in Chinese.
    let zh = Chat::private(STRANGER + 1);
    let reply = say(&env, &zh, &User::new(STRANGER + 1).lang("zh-hans"), "/video 一只猫").await;
    assert!(reply.contains("私人机器人") && reply.contains(&(STRANGER + 1).to_string()), "{reply}");

    // Help is for everyone.
    for command in ["/help", "/start"] {
        let reply = say(&env, &chat, &stranger, command).await;
        assert!(reply.contains("/video [options] <prompt>") && !reply.contains("private"), "{command} → {reply}");
    }

    quiet().await;
    assert!(env.video.creates().is_empty(), "a stranger spent money:\n{}", env.video.dump());
    assert!(env.tg.attempts_of("getFile").is_empty(), "a stranger's photo was downloaded");
    for message in &refused {
        assert!(env.tg.replies(chat.id, msg_id(message)).is_empty(), "a second notice within a minute: {message}");
    }
}

#[tokio::test]
async fn an_allowed_user_creates_a_video() {
    let (env, _bot) = private_bot(&[("ALLOWED_USER_IDS", &format!("{STRANGER}0, {ALICE}"))]).await;
    let chat = Chat::private(ALICE);
    let reply = say(&env, &chat, &User::new(ALICE), "/video a cat surfing at sunset").await;
    assert!(reply.contains("#1") && reply.contains(&FakeVideoApi::task_id(1)), "{reply}");
    let creates = env.video.creates();
    assert_eq!(creates.len(), 1);
    assert_eq!(creates[0].body["prompt"], "a cat surfing at sunset");

    // Allowed in any chat, groups included.
    let group = Chat::group(-100_1001);
    let reply = say(&env, &group, &User::new(ALICE), "/video a cat in a group").await;
    assert!(reply.contains("#2"), "{reply}");
    quiet().await;
    assert_eq!(env.video.creates().len(), 2);
}

#[tokio::test]
async fn every_member_of_an_allowed_group_may_create_but_only_there() {
    let group = Chat::group(-100_2002);
    let (env, _bot) =
        private_bot(&[("ALLOWED_USER_IDS", &ALICE.to_string()), ("ALLOWED_CHAT_IDS", &group.id.to_string())]).await;
    let member = User::new(2002);

    let reply = say(&env, &group, &member, "/video@SoraTestBot two huskies in a courtyard").await;
    assert!(reply.contains("#1"), "{reply}");
    assert_eq!(env.video.wait_creates(1, WAIT).await[0].body["prompt"], "two huskies in a courtyard");

    // The same person in a private chat, or in another group, is a stranger.
    let reply = say(&env, &Chat::private(2002), &member, "/video a private cat").await;
    assert!(reply.contains("private") && reply.contains("2002"), "{reply}");
    // In another group too, without a second notice within the minute.
    let other = Msg::text(&Chat::group(-100_2003), &member, "/video an other group's cat").build();
    env.tg.push_message(other.clone());
    quiet().await;
    assert!(env.tg.replies(-100_2003, msg_id(&other)).is_empty());
    assert_eq!(env.video.creates().len(), 1);
}

#[tokio::test]
async fn admins_have_no_personal_limits_but_users_are_told_why_and_when() {
    let (env, _bot) = private_bot(&[
        ("ALLOWED_USER_IDS", &ALICE.to_string()),
        ("ADMIN_USER_IDS", &ADMIN.to_string()),
        ("DAILY_LIMIT_PER_USER", "1"),
        ("MAX_ACTIVE_PER_USER", "1"),
    ])
    .await;

    // The admin goes over both the daily and the active limit.
    let admin_chat = Chat::private(ADMIN);
    let admin = User::new(ADMIN);
    for n in 1..=3 {
        let reply = say(&env, &admin_chat, &admin, &format!("/video admin video {n}")).await;
        assert!(reply.contains(&format!("#{n}")) && reply.contains("queued"), "admin video {n}: {reply}");
    }
    assert_eq!(env.video.creates().len(), 3);
    let reply = say(&env, &admin_chat, &admin, "/quota").await;
    assert!(reply.contains("Admin") && reply.contains("Used today: 3") && reply.contains("In progress: 3"), "{reply}");

    // Alice may make one video a day.
    let chat = Chat::private(ALICE);
    let alice = User::new(ALICE);
    let reply = say(&env, &chat, &alice, "/video my one video today").await;
    assert!(reply.contains("#4"), "{reply}");
    let reply = say(&env, &chat, &alice, "/video a second one").await;
    assert!(reply.contains("used all 1 videos for today"), "says why: {reply}");
    assert!(reply.contains("Try again in about") && reply.contains("00:00 UTC"), "says when: {reply}");
    let reply = say(&env, &chat, &alice, "/quota").await;
    assert!(reply.contains("Today: 0 of 1 units left") && reply.contains("In progress: 1 of 1"), "{reply}");

    quiet().await;
    let creates = env.video.creates();
    assert_eq!(creates.len(), 4, "{}", env.video.dump());
    assert_eq!(creates[3].body["prompt"], "my one video today");
}

#[tokio::test]
async fn a_user_with_videos_in_progress_waits_for_one_to_finish() {
    let (env, _bot) = private_bot(&[("ALLOWED_USER_IDS", &ALICE.to_string()), ("MAX_ACTIVE_PER_USER", "1")]).await;
    let chat = Chat::private(ALICE);
    let alice = User::new(ALICE);
    assert!(say(&env, &chat, &alice, "/video first").await.contains("#1"));
    let reply = say(&env, &chat, &alice, "/video second").await;
    assert!(reply.contains("1 videos in progress") && reply.contains("when one is finished"), "{reply}");
    quiet().await;
    assert_eq!(env.video.creates().len(), 1);
}

#[tokio::test]
async fn failed_creates_do_not_use_up_the_daily_quota() {
    let (env, _bot) = private_bot(&[("ALLOWED_USER_IDS", &ALICE.to_string()), ("DAILY_LIMIT_PER_USER", "1")]).await;
    let chat = Chat::private(ALICE);
    let alice = User::new(ALICE);

    env.video.push_create(Reply::json(500, json!({"error": {"message": "upstream exploded"}})));
    let reply = say(&env, &chat, &alice, "/video a cat").await;
    assert!(reply.contains("not reachable") && reply.contains("No video was created"), "{reply}");
    let reply = say(&env, &chat, &alice, "/quota").await;
    assert!(reply.contains("Today: 1 of 1 units left") && reply.contains("In progress: 0 of 2"), "{reply}");

    // The one video of the day is still there to make.
    let reply = say(&env, &chat, &alice, "/video a cat, again").await;
    assert!(reply.contains("queued") && reply.contains(&FakeVideoApi::task_id(2)), "{reply}");
    let reply = say(&env, &chat, &alice, "/quota").await;
    assert!(reply.contains("Today: 0 of 1 units left") && reply.contains("In progress: 1 of 2"), "{reply}");

    let reply = say(&env, &chat, &alice, "/video one too many").await;
    assert!(reply.contains("used all 1 videos for today"), "{reply}");
    quiet().await;
    assert_eq!(env.video.creates().len(), 2, "{}", env.video.dump());
}

#[tokio::test]
async fn quota_speaks_the_users_language() {
    let (env, _bot) = private_bot(&[
        ("ALLOWED_USER_IDS", "3001,3002,3003"),
        ("ADMIN_USER_IDS", &ADMIN.to_string()),
        ("DAILY_LIMIT_PER_USER", "7"),
    ])
    .await;
    let en = say(&env, &Chat::private(3001), &User::new(3001).lang("en"), "/quota").await;
    assert!(en.contains("Today: 7 of 7 units left") && en.contains("Resets at 00:00 UTC"), "{en}");
    let zh = say(&env, &Chat::private(3002), &User::new(3002).lang("zh"), "/quota").await;
    assert!(zh.contains("今日剩余：7 / 7 点") && zh.contains("UTC 0 点重置"), "{zh}");
    let zh_tw = say(&env, &Chat::private(3003), &User::new(3003).lang("zh-TW"), "/quota").await;
    assert!(zh_tw.contains("今日剩余"), "{zh_tw}");
    let admin_zh = say(&env, &Chat::private(ADMIN), &User::new(ADMIN).lang("zh-hans"), "/quota").await;
    assert!(admin_zh.contains("管理员：不受个人和群组限制"), "{admin_zh}");
}

/// Two users send `/video` at the same instant while one slot is left:
/// exactly one create call, and the other user hears that the bot is busy.
async fn race_for_the_last_slot(first: &TestEnv, second: &TestEnv) {
    let (a, b) = (User::new(5001), User::new(5002));
    let (chat_a, chat_b) = (Chat::private(a.id), Chat::private(b.id));
    let msg_a = Msg::text(&chat_a, &a, "/video the first cat").build();
    let msg_b = Msg::text(&chat_b, &b, "/video the second cat").build();
    first.tg.push_message(msg_a.clone());
    second.tg.push_message(msg_b.clone());

    let replies = [reply_to(&first.tg, &msg_a).await, reply_to(&second.tg, &msg_b).await];
    let created = replies.iter().filter(|r| r.contains("queued")).count();
    let busy = replies.iter().filter(|r| r.contains("busy with other videos")).count();
    assert_eq!((created, busy), (1, 1), "{replies:?}");

    quiet().await;
    let creates = first.video.creates();
    assert_eq!(creates.len(), 1, "{}", first.video.dump());
    let winner = if replies[0].contains("queued") { "the first cat" } else { "the second cat" };
    assert_eq!(creates[0].body["prompt"], winner);
}

const ONE_SLOT: [(&str, &str); 2] = [("ALLOWED_USER_IDS", "5001,5002"), ("MAX_ACTIVE_TOTAL", "1")];

#[tokio::test]
async fn one_slot_left_two_users_at_once_on_sqlite() {
    let (env, _bot) = private_bot(&ONE_SLOT).await;
    race_for_the_last_slot(&env, &env).await;
}

#[tokio::test]
async fn one_slot_left_two_users_at_once_on_postgres() {
    let db = fresh_postgres_db().await;
    let (env, bot) = private_bot(&[ONE_SLOT[0], ONE_SLOT[1], ("DATABASE_URL", &db)]).await;
    race_for_the_last_slot(&env, &env).await;
    bot.kill();
    drop_postgres_db(&db).await;
}

/// Two replicas on one PostgreSQL database, each with its own Telegram
/// connection (a fake getUpdates hands every update to every poller, which
/// real Telegram never does), sharing the video API: each takes one of the
/// two requests, and the shared cost guard still lets only one through.
#[tokio::test]
async fn one_slot_left_two_users_at_once_on_two_replicas_sharing_postgres() {
    let db = fresh_postgres_db().await;
    let mut first = TestEnv::start(bot_bin()).await;
    let mut second = TestEnv::start(bot_bin()).await;
    for env in [&mut first, &mut second] {
        env.remove_env("ALLOW_EVERYONE");
        env.set_env(ONE_SLOT[0].0, ONE_SLOT[0].1);
        env.set_env(ONE_SLOT[1].0, ONE_SLOT[1].1);
        env.set_env("DATABASE_URL", &db);
    }
    let video_url = first.video.url();
    second.set_env("VIDEO_API_BASE_URL", &video_url);
    let bot_one = started(&first).await;
    let bot_two = started(&second).await;

    race_for_the_last_slot(&first, &second).await;
    assert!(second.video.creates().is_empty(), "the second replica used the shared video API");
    bot_one.kill();
    bot_two.kill();
    drop_postgres_db(&db).await;
}
