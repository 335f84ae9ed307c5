//! Money safety on the real binary: no paid create without a durable record,
//! every answer that may have come after the job was taken counted, the
//! upstream id never lost, cancelled tasks keep their slot, budgets, and
//! images checked before paying.

mod images;

use std::time::{Duration, Instant};

use serde_json::json;
use sora_bot::{
    store::Store,
    task::{Task, TaskState},
};
use testkit::*;

use crate::{bot_bin, get, send};
use tokio::{io::AsyncReadExt, net::TcpListener};

const WAIT: Duration = Duration::from_secs(20);

async fn reply(env: &TestEnv, chat_id: i64, command_id: i64) -> String {
    let calls = env.tg.wait_replies(chat_id, command_id, 1, WAIT).await;
    calls[0].text().unwrap_or_default().to_owned()
}

async fn tasks_of(store: &Store, user_ids: impl IntoIterator<Item = i64>) -> Vec<Task> {
    let mut tasks = Vec::new();
    for user_id in user_ids {
        tasks.extend(store.recent_for_user(user_id, 100).await.unwrap());
    }
    tasks
}

// ---------------------------------------------------------------------------
// A full disk
// ---------------------------------------------------------------------------

/// The database cannot grow: requests that cannot be stored get "try again
/// later" and no create; every create has its row; /healthz says 503.
#[tokio::test]
async fn a_full_sqlite_database_never_pays_without_a_row() {
    let mut env = TestEnv::start(bot_bin()).await;
    let first = env.start_bot();
    env.tg.wait_for("setMyCommands", 1, WAIT).await;
    first.terminate();
    first.wait_exit(WAIT).await.expect("stops");
    // max_page_count is clamped to the current size: from now on nothing grows.
    let url = format!("{}?max_page_count=1", env.var("DATABASE_URL").unwrap());
    env.set_env("DATABASE_URL", &url);
    let bot = env.start_bot();
    let addr = bot.http_addr(WAIT).await;
    bot.wait_log("receiving updates", WAIT).await;

    let users: Vec<i64> = (1000..1040).collect();
    let mut commands = Vec::new();
    for &user in &users {
        let prompt = format!("/video {} {}", user, "a very long prompt about a lighthouse ".repeat(60));
        commands.push((user, send(&env, Msg::text(&Chat::private(user), &User::new(user), &prompt))));
    }
    let mut refused = 0;
    for &(user, command) in &commands {
        let text = reply(&env, user, command).await;
        if text.contains("could not save your request") {
            refused += 1;
        }
    }
    let store = crate::store(&env).await;
    let stored = tasks_of(&store, users.iter().copied()).await;
    let creates = env.video.creates().len();
    println!(
        "full SQLite database: {} commands, {creates} creates, {} rows, {refused} refused",
        commands.len(),
        stored.len()
    );
    assert!(refused > 0, "the database never filled up");
    assert_eq!(creates, stored.len(), "every create has its row and no refused request was created");
    assert_eq!(creates + refused, commands.len(), "every command was answered one way or the other");
    assert_eq!(get(addr, "/healthz").await.0, 503, "a database that cannot be written is not healthy");
    assert!(bot.logs().contains("nothing was sent to the video API"), "{}", bot.logs());
}

// ---------------------------------------------------------------------------
// Answers that may come after the job was taken
// ---------------------------------------------------------------------------

/// A server that reads the request and closes the connection without a word.
async fn hang_up_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0; 64 * 1024];
                let _ = tokio::time::timeout(Duration::from_millis(300), socket.read(&mut buf)).await;
                drop(socket);
            });
        }
    });
    format!("http://{addr}")
}

/// With a daily limit of one, an answer that may have come after the job was
/// taken uses it up: the user is told "may or may not", and a second /video
/// is refused instead of paying again.
#[tokio::test]
async fn ambiguous_answers_are_counted_and_never_retried() {
    let (env, bot) =
        TestEnv::start_with(bot_bin(), &[("DAILY_LIMIT_PER_USER", "1"), ("MAX_ACTIVE_PER_USER", "5")]).await;
    let cases = [
        ("504 gateway page", Reply::status(504, "<html><body>504 Gateway Time-out</body></html>")),
        ("502 with JSON", Reply::json(502, json!({"error": {"message": "bad gateway"}}))),
        ("200 HTML", Reply::status(200, "<html>maintenance</html>")),
        ("200 truncated", Reply::status(200, r#"{"id": "sora-2:task_01k7zn"#)),
    ];
    for (n, (what, answer)) in cases.into_iter().enumerate() {
        let user = 2000 + n as i64;
        env.video.push_create(answer);
        let chat = Chat::private(user);
        let first = send(&env, Msg::text(&chat, &User::new(user), "/video a red kite over the hills"));
        let text = reply(&env, user, first).await;
        assert!(text.contains("may or may not"), "{what}: {text}");
        assert!(!text.contains("No video was created"), "{what}: {text}");
        let second = send(&env, Msg::text(&chat, &User::new(user), "/video a red kite over the hills"));
        let text = reply(&env, user, second).await;
        assert!(text.contains("used all 1 videos"), "{what}: the unknown one counts: {text}");
        assert_eq!(env.video.creates().len(), n + 1, "{what}: never retried, never paid twice");
    }
    let store = crate::store(&env).await;
    for task in tasks_of(&store, 2000..2004).await {
        assert_eq!(task.state, TaskState::Unknown, "{task:?}");
    }
    // A definite refusal costs nothing: the next /video goes ahead.
    env.video.push_create(Reply::json(429, json!({"error": {"message": "slow down"}})));
    let chat = Chat::private(2010);
    let first = send(&env, Msg::text(&chat, &User::new(2010), "/video a kite"));
    assert!(reply(&env, 2010, first).await.contains("No video was created"));
    let second = send(&env, Msg::text(&chat, &User::new(2010), "/video a kite"));
    assert!(reply(&env, 2010, second).await.contains("#"), "the quota was not used");
    assert_eq!(env.video.creates().len(), 6);
    drop(bot);
}

/// A connection broken after the request was sent is just as unknown; a
/// connection that could not be made is a definite "not created".
#[tokio::test]
async fn a_broken_connection_is_unknown_and_a_refused_one_is_not() {
    let hang_up = hang_up_server().await;
    let (env, _bot) =
        TestEnv::start_with(bot_bin(), &[("VIDEO_API_BASE_URL", &hang_up), ("DAILY_LIMIT_PER_USER", "1")]).await;
    let chat = Chat::private(2100);
    let first = send(&env, Msg::text(&chat, &User::new(2100), "/video waves"));
    assert!(reply(&env, 2100, first).await.contains("may or may not"));
    let second = send(&env, Msg::text(&chat, &User::new(2100), "/video waves"));
    assert!(reply(&env, 2100, second).await.contains("used all 1 videos"));

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let (env, _bot) = TestEnv::start_with(
        bot_bin(),
        &[("VIDEO_API_BASE_URL", &format!("http://{closed}")), ("DAILY_LIMIT_PER_USER", "1")],
    )
    .await;
    let first = send(&env, Msg::text(&chat, &User::new(2100), "/video waves"));
    assert!(reply(&env, 2100, first).await.contains("No video was created"));
    let second = send(&env, Msg::text(&chat, &User::new(2100), "/video waves"));
    assert!(reply(&env, 2100, second).await.contains("No video was created"), "the quota was not used");
}

// ---------------------------------------------------------------------------
// The database cut between the create and storing its answer
// ---------------------------------------------------------------------------

/// The create answers while the database is cut: the id is logged at ERROR
/// with the task number and shown to the user, the store is retried, and once
/// the database is back the task is followed and its video delivered.
#[tokio::test]
async fn the_upstream_id_survives_a_database_cut_between_create_and_store() {
    let proxy = CutProxy::start().await;
    let database = fresh_postgres_db().await;
    let through_proxy = proxy.url_to(&database);
    let (env, bot) = TestEnv::start_with(bot_bin(), &[("DATABASE_URL", &through_proxy)]).await;
    bot.wait_log("receiving updates", WAIT).await;
    let upstream = FakeVideoApi::task_id(1);
    env.video.push_create(Reply::task(&upstream, "pending").after(Duration::from_millis(1500)));
    env.video.script_task(&upstream, vec![Reply::completed(&upstream, &env.video.file_url("kite.mp4"))]);
    env.video.add_file("kite.mp4", vec![0; 64]);

    let chat = Chat::private(2200);
    let command = send(&env, Msg::text(&chat, &User::new(2200), "/video a kite in a storm"));
    env.video.wait_creates(1, WAIT).await;
    proxy.cut();
    let told = reply(&env, 2200, command).await;
    assert!(told.contains(&upstream) && told.contains("#1"), "the id is shown: {told}");
    let line = bot.wait_log("created upstream but could not store it", WAIT).await;
    assert!(line.contains("ERROR") && line.contains(&upstream) && line.contains("task=1"), "{line}");

    tokio::time::sleep(Duration::from_secs(2)).await;
    proxy.restore();
    bot.wait_log("created task stored after retrying", Duration::from_secs(60)).await;
    env.tg.wait_for("sendVideo", 1, Duration::from_secs(60)).await;
    let store = Store::connect(&database).await.unwrap();
    let task = store.task(1).await.unwrap().unwrap();
    assert_eq!(task.upstream_id.as_deref(), Some(upstream.as_str()));
    assert_eq!(env.video.creates().len(), 1, "never created twice");
    store.close().await;
    drop(bot);
    drop_postgres_db(&database).await;
}

// ---------------------------------------------------------------------------
// /cancel stops messages, not accounting
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_cancelled_task_keeps_its_slot_until_it_ends_upstream() {
    let (env, _bot) = TestEnv::start_with(bot_bin(), &[("MAX_ACTIVE_PER_USER", "1"), ("MAX_ACTIVE_TOTAL", "1")]).await;
    let chat = Chat::private(2300);
    let user = User::new(2300);
    let upstream = FakeVideoApi::task_id(1);
    env.video.script_task(&upstream, vec![Reply::task(&upstream, "processing")]);
    let first = send(&env, Msg::text(&chat, &user, "/video a slow sunrise"));
    assert!(reply(&env, 2300, first).await.contains("#1"));
    let cancel = send(&env, Msg::text(&chat, &user, "/cancel 1"));
    assert!(reply(&env, 2300, cancel).await.contains("keeps its place"));

    // Create + cancel in a loop cannot run more than one job upstream.
    for _ in 0..3 {
        let again = send(&env, Msg::text(&chat, &user, "/video another sunrise"));
        let text = reply(&env, 2300, again).await;
        assert!(text.contains("in progress") || text.contains("busy"), "{text}");
    }
    assert_eq!(env.video.creates().len(), 1);
    let quota = send(&env, Msg::text(&chat, &user, "/quota"));
    assert!(reply(&env, 2300, quota).await.contains("1 stopped with /cancel still count"));

    // The job ends upstream: the slot is free, and no video is sent.
    env.video.script_task(&upstream, vec![Reply::completed(&upstream, &env.video.file_url("sunrise.mp4"))]);
    let deadline = Instant::now() + WAIT;
    loop {
        let next = send(&env, Msg::text(&chat, &user, "/video a fast sunrise"));
        if reply(&env, 2300, next).await.contains("#2") {
            break;
        }
        assert!(Instant::now() < deadline, "the slot was never freed");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(env.video.creates().len(), 2);
    assert!(env.tg.attempts_of("sendVideo").is_empty(), "a cancelled task's video is not delivered");
    let store = crate::store(&env).await;
    assert_eq!(store.task(1).await.unwrap().unwrap().state, TaskState::Cancelled);
}

// ---------------------------------------------------------------------------
// Budgets
// ---------------------------------------------------------------------------

#[tokio::test]
async fn daily_budgets_for_everyone_and_per_group() {
    let (env, _bot) = TestEnv::start_with(
        bot_bin(),
        &[
            ("DAILY_LIMIT_TOTAL", "3"),
            ("DAILY_LIMIT_PER_CHAT", "1"),
            ("ADMIN_USER_IDS", "9"),
            ("MAX_ACTIVE_TOTAL", "50"),
        ],
    )
    .await;
    let group = Chat::group(-500);
    let in_group = |user: i64, text: &str| Msg::text(&group, &User::new(user), text);
    let private = |user: i64, text: &str| Msg::text(&Chat::private(user), &User::new(user), text);

    let a = send(&env, in_group(1, "/video one"));
    assert!(reply(&env, -500, a).await.contains("#1"));
    let b = send(&env, in_group(2, "/video two"));
    assert!(reply(&env, -500, b).await.contains("This group has used all 1 videos"));
    let admin = send(&env, in_group(9, "/video admin in the group"));
    assert!(reply(&env, -500, admin).await.contains("#2"), "admins are exempt from the group budget");
    let c = send(&env, private(3, "/video three"));
    assert!(reply(&env, 3, c).await.contains("#3"));
    let d = send(&env, private(4, "/video four"));
    assert!(reply(&env, 4, d).await.contains("has made all 3 videos"));
    let admin_private = send(&env, private(9, "/video admin alone"));
    assert!(reply(&env, 9, admin_private).await.contains("has made all 3 videos"), "the total binds admins too");
    assert_eq!(env.video.creates().len(), 3);

    let quota = send(&env, in_group(2, "/quota"));
    let text = reply(&env, -500, quota).await;
    assert!(text.contains("This group today: 0 of 1 left") && text.contains("Whole bot today: 0 of 3 left"), "{text}");
}
