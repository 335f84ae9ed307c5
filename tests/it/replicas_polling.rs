//! Long polling with more than one process: on PostgreSQL replicas elect one
//! poller and another takes over when it dies; on SQLite a second process
//! refuses to start; a 409 Conflict from Telegram is explained once.

use std::time::Duration;

use testkit::*;

use crate::*;
/// A follower tries for the poller lock every few seconds; the lock of a
/// killed poller goes with its database session at once.
const TAKE_OVER: Duration = Duration::from_secs(10);

const POLLER: &str = "this replica polls Telegram for updates";
const FOLLOWER: &str = "another replica polls Telegram";
const POLLING: &str = "receiving updates by long polling";

/// Sends `text` as a new message and returns its message id.
fn say(env: &TestEnv, chat: &Chat, text: &str) -> i64 {
    let message = Msg::text(chat, &User::new(chat.id), text).build();
    let id = message["message_id"].as_i64().expect("message_id");
    env.tg.push_message(message);
    id
}

/// Waits for the answer to `command_id` and then checks it stays the only one.
async fn answered_once(env: &TestEnv, chat: &Chat, command_id: i64) {
    env.tg.wait_replies(chat.id, command_id, 1, WAIT).await;
    // Long enough for a second poller's getUpdates to have handed it out too.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let replies = env.tg.replies(chat.id, command_id);
    assert_eq!(replies.len(), 1, "answered {} times:\n{}", replies.len(), env.tg.dump());
}

#[tokio::test]
async fn replicas_on_postgres_poll_one_at_a_time_and_take_over_from_a_killed_poller() {
    let db = fresh_postgres_db().await;
    let env = TestEnv::start(bot_bin()).await.env("DATABASE_URL", &db);
    let first = env.start_bot();
    first.wait_log(POLLER, WAIT).await;
    let second = env.start_bot();
    second.wait_log(FOLLOWER, WAIT).await;

    let chat = Chat::private(7001);
    let help = say(&env, &chat, "/help");
    answered_once(&env, &chat, help).await;
    say(&env, &chat, "/video a lighthouse in a storm");
    env.video.wait_creates(1, WAIT).await;
    // Only the poller polls: the follower never started its long-polling loop.
    assert!(first.logs().contains(POLLING));
    assert!(!second.logs().contains(POLLING) && !second.logs().contains(POLLER), "{}", second.logs());

    first.kill();
    second.wait_log(POLLER, TAKE_OVER).await;
    second.wait_log(POLLING, WAIT).await;

    let help = say(&env, &chat, "/help");
    answered_once(&env, &chat, help).await;
    say(&env, &chat, "/video a second lighthouse");
    env.video.wait_creates(2, WAIT).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    // The fake hands the first /video out again to the new poller (it keeps no
    // confirmed offset); it is still created only once.
    let creates = env.video.creates();
    assert_eq!(creates.len(), 2, "{}", env.video.dump());
    // Not just "409": a log line's timestamp may hold those digits.
    assert!(!second.logs().contains("409 Conflict"), "{}", second.logs());

    second.terminate();
    second.wait_exit(WAIT).await.expect("stops on SIGTERM");
    drop_postgres_db(&db).await;
}

#[tokio::test]
async fn a_second_process_on_one_sqlite_database_refuses_to_start() {
    let (env, _first) = TestEnv::start_with(bot_bin(), &[]).await;
    let second = env.start_bot();
    let status = second.wait_exit(WAIT).await.expect("the second process exits");
    assert!(!status.success(), "{status}");
    let logs = second.logs();
    let lines: Vec<&str> = logs.lines().filter(|line| line.contains("already running")).collect();
    assert_eq!(lines.len(), 1, "{logs}");
    assert!(lines[0].contains("bot.db.lock") && lines[0].contains("PostgreSQL"), "{}", lines[0]);
    assert_eq!(logs.lines().filter(|line| line.contains("ERROR")).count(), 1, "{logs}");
}

#[tokio::test]
async fn a_409_conflict_is_explained_once_per_streak() {
    let env = TestEnv::start(bot_bin()).await;
    env.tg.fail_next("getUpdates", 2, Failure::Conflict);
    let bot = env.start_bot();
    let chat = Chat::private(7002);
    let help = say(&env, &chat, "/help");
    // Polling goes on after the conflicts (teloxide waits 1 s, then 2 s).
    env.tg.wait_replies(chat.id, help, 1, WAIT).await;
    assert_eq!(env.tg.attempts_of("getUpdates").iter().filter(|call| call.failed).count(), 2);
    let logs = bot.logs();
    let explained: Vec<&str> = logs.lines().filter(|line| line.contains("409 Conflict")).collect();
    assert_eq!(explained.len(), 1, "{logs}");
    assert!(explained[0].contains("another process is polling this bot token"), "{}", explained[0]);
    assert!(!logs.contains("terminated by other getUpdates"), "the raw error is not repeated per retry:\n{logs}");
}
