//! Creates whose outcome is unknown (a 504 after the request was sent): the
//! requester's slot is held for a short while only, then freed with one
//! message; admins list them (`/unknown`), give one its upstream id
//! (`/attach`, after which it is delivered once, by any replica) or end it as
//! not made (`/release`). Each story runs on SQLite and on PostgreSQL.

use std::time::Duration;

use sora_bot::task::TaskState;
use testkit::*;

use crate::*;

const ADMIN: i64 = 9;
/// The gateway answer that leaves a create's outcome unknown.
fn gateway_timeout() -> Reply {
    Reply::status(504, "<html><body>504 Gateway Time-out</body></html>")
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// The fakes on a fresh database of `backend`, with an admin.
async fn setup(backend: Backend, vars: &[(&str, &str)]) -> (TestEnv, Option<String>) {
    let mut env = TestEnv::start(bot_bin()).await.env("ADMIN_USER_IDS", &ADMIN.to_string());
    let postgres = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(fresh_postgres_db().await),
    };
    if let Some(url) = &postgres {
        env.set_env("DATABASE_URL", url);
    }
    for (key, value) in vars {
        env.set_env(key, value);
    }
    (env, postgres)
}

/// The bot, once it polls Telegram or (a replica on PostgreSQL) knows another one does.
async fn started(env: &TestEnv) -> BotProcess {
    let bot = env.start_bot();
    let replica = env.var("DATABASE_URL").is_some_and(|url| url.starts_with("postgres"));
    bot.wait_log(if replica { "polls Telegram" } else { "receiving updates" }, WAIT).await;
    bot
}

/// `text` from `user` in their private chat; returns the message id.
fn say(env: &TestEnv, user: i64, text: &str) -> i64 {
    send(env, Msg::text(&Chat::private(user), &User::new(user), text))
}

/// The `n`th reply to `command` in `user`'s private chat.
async fn nth_reply(env: &TestEnv, user: i64, command: i64, n: usize) -> String {
    let replies = env.tg.wait_replies(user, command, n, WAIT).await;
    replies[n - 1].text().unwrap_or_default().to_owned()
}

/// `text` from `user`, and the bot's first answer to it.
async fn ask(env: &TestEnv, user: i64, text: &str) -> String {
    let command = say(env, user, text);
    nth_reply(env, user, command, 1).await
}

/// A `/video` from `user` whose create answers 504: task `#expected_id`, unknown.
async fn unknown_video(env: &TestEnv, user: i64, prompt: &str) -> i64 {
    env.video.push_create(gateway_timeout());
    let command = say(env, user, &format!("/video {prompt}"));
    let text = nth_reply(env, user, command, 1).await;
    assert!(text.contains("may or may not") && text.contains("at most 10 minutes"), "{text}");
    command
}

// ---------------------------------------------------------------------------
// The hold
// ---------------------------------------------------------------------------

/// The hold is the shorter of 10 minutes and TASK_TIMEOUT_SECS, so 3 s here.
/// On PostgreSQL two replicas race to tell; a restart after the message does
/// not repeat it.
async fn the_hold_ends_with_one_message(backend: Backend) {
    let vars = [("TASK_TIMEOUT_SECS", "3"), ("MAX_ACTIVE_PER_USER", "1"), ("DAILY_LIMIT_PER_USER", "5")];
    let (env, postgres) = setup(backend, &vars).await;
    let first = started(&env).await;
    let second = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(started(&env).await),
    };
    let user = 3000 + backend as i64;
    let command = unknown_video(&env, user, "a red kite over the hills").await;

    let held = ask(&env, user, "/video another kite").await;
    assert!(held.contains("already have 1 videos in progress"), "the unknown one holds the slot: {held}");
    let status = ask(&env, user, "/status 1").await;
    assert!(status.contains("outcome unknown") && status.contains("gateway"), "{status}");
    assert!(status.contains("keeps its place") && !status.contains("\ngateway"), "in words: {status}");

    let told = nth_reply(&env, user, command, 2).await;
    assert!(told.contains("no answer came") && told.contains("still counts toward today's limit"), "{told}");
    let status = ask(&env, user, "/status 1").await;
    assert!(status.contains("Its place is free again") && status.contains("/again"), "{status}");
    let next = ask(&env, user, "/video a third kite").await;
    assert!(next.contains("#2"), "the slot is free: {next}");
    let quota = ask(&env, user, "/quota").await;
    assert!(quota.contains("3 of 5 units left"), "the unknown one still counts for the day: {quota}");

    // A restart (on PostgreSQL: of the replica that polls, with the other
    // still there) does not tell anyone again.
    first.kill();
    let restarted = started(&env).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let replies = env.tg.replies(user, command);
    assert_eq!(replies.len(), 2, "told once\n{}", env.tg.dump());
    let logs = format!("{}{}", restarted.logs(), second.as_ref().map(BotProcess::logs).unwrap_or_default());
    assert!(first.logs().contains("no longer holds its slot") || logs.contains("no longer holds its slot"));
    drop((restarted, second));
    if let Some(url) = postgres {
        drop_postgres_db(&url).await;
    }
}

#[tokio::test]
async fn an_unknown_outcome_frees_its_slot_after_the_hold_and_tells_the_requester_once_on_sqlite() {
    the_hold_ends_with_one_message(Backend::Sqlite).await;
}

#[tokio::test]
async fn an_unknown_outcome_frees_its_slot_after_the_hold_and_tells_the_requester_once_on_postgres() {
    the_hold_ends_with_one_message(Backend::Postgres).await;
}

// ---------------------------------------------------------------------------
// /unknown and /attach
// ---------------------------------------------------------------------------

/// The bot restarts between the 504 and the admin's `/attach`; the video is
/// then followed and delivered once, as a reply to the original command.
#[tokio::test]
async fn an_admin_attaches_an_unknown_outcome_after_a_restart_and_it_is_delivered_once_on_sqlite() {
    let (env, _) = setup(Backend::Sqlite, &[]).await;
    let bot = started(&env).await;
    let user = 3100;
    let command = unknown_video(&env, user, "a lighthouse in a storm").await;
    bot.terminate();
    bot.wait_exit(WAIT).await.expect("stops");
    let bot = started(&env).await;

    let list = ask(&env, ADMIN, "/unknown").await;
    assert!(list.starts_with("❓ 1 with an unknown outcome"), "{list}");
    assert!(list.contains("#1 · ") && list.contains("user 3100 · chat 3100 · holds a slot · “a lighthouse"), "{list}");

    let upstream = "sora-2:task_found_in_console";
    env.video.add_file("lighthouse.mp4", vec![0; 64]);
    env.video.script_task(upstream, vec![Reply::completed(upstream, &env.video.file_url("lighthouse.mp4"))]);
    let attached = ask(&env, ADMIN, &format!("/attach 1 {upstream}")).await;
    assert_eq!(
        attached,
        format!("✅ #1 is now followed as {upstream}; its video goes to chat {user} as a reply to the request.")
    );
    let found = nth_reply(&env, user, command, 2).await;
    assert!(found.contains("an admin found it"), "{found}");

    let video = env.tg.wait_for("sendVideo", 1, WAIT).await;
    assert_eq!(video[0].chat_id(), Some(user));
    assert_eq!(video[0].body["reply_parameters"]["message_id"], serde_json::json!(command));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(env.tg.attempts_of("sendVideo").len(), 1, "delivered once");
    assert_eq!(env.video.creates().len(), 1, "never created again");
    let store = crate::store(&env).await;
    assert_eq!(store.task(1).await.unwrap().unwrap().state, TaskState::Done);
    assert!(ask(&env, ADMIN, "/unknown").await.contains("No video has an unknown outcome"));
    let again = ask(&env, ADMIN, "/attach 1 sora-2:task_other").await;
    assert!(again.contains("not unknown") && again.contains("nothing changed"), "{again}");
    let line = bot.wait_log("admin attached an upstream id", WAIT).await;
    assert!(line.contains("admin_id=9") && line.contains("task=1") && line.contains(upstream), "{line}");
}

/// Two replicas on PostgreSQL polling Telegram in turn: the 504 on the first,
/// which is killed and started again; `/unknown` and `/attach` on the second,
/// which then stops; the first delivers the video, once.
#[tokio::test]
async fn an_admin_attaches_an_unknown_outcome_and_another_replica_delivers_it_once_on_postgres() {
    let (env, postgres) = setup(Backend::Postgres, &[]).await;
    let a = env.start_bot();
    a.wait_log("this replica polls Telegram", WAIT).await;
    let b = started(&env).await;
    let user = 3200;
    let command = unknown_video(&env, user, "a tram at night").await;

    // The restart between the 504 and the /attach: the second replica polls now.
    a.kill();
    b.wait_log("this replica polls Telegram", Duration::from_secs(15)).await;
    let a = started(&env).await;

    let list = ask(&env, ADMIN, "/unknown").await;
    assert!(list.contains("#1 · ") && list.contains("user 3200"), "{list}");
    let upstream = "sora-2:task_tram";
    env.video.add_file("tram.mp4", vec![0; 64]);
    env.video.script_task(upstream, vec![Reply::task(upstream, "processing")]);
    let attached = ask(&env, ADMIN, &format!("/attach #1 {upstream}")).await;
    assert!(attached.contains("is now followed as sora-2:task_tram"), "{attached}");
    env.video.wait_queries(upstream, 1, WAIT).await;
    // The replica that attached it stops; the other one takes it over.
    b.terminate();
    b.wait_exit(WAIT).await.expect("stops");
    env.video.script_task(upstream, vec![Reply::completed(upstream, &env.video.file_url("tram.mp4"))]);

    let video = env.tg.wait_for("sendVideo", 1, Duration::from_secs(30)).await;
    assert_eq!(video[0].body["reply_parameters"]["message_id"], serde_json::json!(command));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(env.tg.attempts_of("sendVideo").len(), 1, "delivered once\n{}", env.tg.dump());
    assert_eq!(env.video.creates().len(), 1);
    assert!(a.logs().contains("video delivered"), "the other replica delivered it:\n{}", a.logs());
    drop(a);
    if let Some(url) = postgres {
        drop_postgres_db(&url).await;
    }
}

// ---------------------------------------------------------------------------
// /release, and who may do it
// ---------------------------------------------------------------------------

async fn release_gives_back_the_day(backend: Backend) {
    let (env, postgres) = setup(backend, &[("DAILY_LIMIT_PER_USER", "1")]).await;
    let bot = started(&env).await;
    let user = 3300 + backend as i64;
    let command = unknown_video(&env, user, "a fox in the snow").await;
    assert!(ask(&env, user, "/video a second fox").await.contains("used all 1 videos"));

    // Not an admin: what any unknown command gets (nothing), and nothing changes.
    let refused = say(&env, user, "/release 1");
    let listed = say(&env, user, "/unknown");
    // An admin's /help lists the admin commands; a user's does not.
    assert!(!ask(&env, user, "/help").await.contains("/release"), "admin section for admins only");
    assert!(env.tg.replies(user, refused).is_empty() && env.tg.replies(user, listed).is_empty());
    let help = ask(&env, ADMIN, "/help").await;
    assert!(help.contains("Admin commands") && help.contains("/attach <number> <upstream id>"), "{help}");

    assert_eq!(ask(&env, ADMIN, "/release").await, texts_release_usage());
    let released = ask(&env, ADMIN, "/release 1").await;
    assert_eq!(released, format!("✅ #1 released as not made; user {user} has the slot and today's count back."));
    let told = nth_reply(&env, user, command, 2).await;
    assert!(told.contains("confirmed it was not made"), "{told}");
    let status = ask(&env, user, "/status 1").await;
    assert!(status.contains("not created") && status.contains("no longer counts"), "{status}");
    assert!(ask(&env, user, "/video a third fox").await.contains("#2"), "the day's count came back");
    assert!(ask(&env, ADMIN, "/release 1").await.contains("nothing changed"));
    assert!(ask(&env, ADMIN, "/release 99").await.contains("no video #99"));

    // The admin commands are not in the command menu.
    let menus = env.tg.calls_of("setMyCommands");
    assert!(!menus.is_empty());
    for menu in menus {
        let text = menu.body["commands"].to_string();
        assert!(!text.contains("unknown") && !text.contains("attach") && !text.contains("release"), "{text}");
    }
    let line = bot.wait_log("admin released an unknown outcome", WAIT).await;
    assert!(line.contains("admin_id=9") && line.contains("task=1"), "{line}");
    if let Some(url) = postgres {
        drop(bot);
        drop_postgres_db(&url).await;
    }
}

fn texts_release_usage() -> String {
    sora_bot::texts::release_usage(sora_bot::texts::Lang::En)
}

#[tokio::test]
async fn an_admin_releases_an_unknown_outcome_and_the_day_comes_back_on_sqlite() {
    release_gives_back_the_day(Backend::Sqlite).await;
}

#[tokio::test]
async fn an_admin_releases_an_unknown_outcome_and_the_day_comes_back_on_postgres() {
    release_gives_back_the_day(Backend::Postgres).await;
}
