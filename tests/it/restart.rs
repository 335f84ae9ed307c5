//! Restarts: after a crash (SIGKILL) or a clean stop (SIGTERM) the bot
//! resumes every open task from the database, creates no task twice and
//! delivers no video twice. Each scenario runs on SQLite and on PostgreSQL.

use std::time::{Duration, Instant};

use serde_json::json;
use sora_bot::{
    store::Store,
    task::{Task, TaskState},
    texts::{self, Lang},
};
use sqlx::{AnyPool, Row};
use testkit::*;

use crate::*;
/// The watcher's lease on a task lasts max(3 × POLL_INTERVAL_SECS, 30 s); after a
/// SIGKILL on PostgreSQL (several replicas possible) the next process takes the
/// dead one's tasks only when it runs out.
const LEASE_TTL: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// The two fakes, on a fresh database of `backend`. Drop with `finish`.
struct Setup {
    env: TestEnv,
    postgres_url: Option<String>,
}

impl Setup {
    async fn new(backend: Backend) -> Setup {
        let mut env = TestEnv::start(bot_bin()).await;
        let postgres_url = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(fresh_postgres_db().await),
        };
        if let Some(url) = &postgres_url {
            env.set_env("DATABASE_URL", url);
        }
        Setup { env, postgres_url }
    }

    fn database_url(&self) -> &str {
        self.env.var("DATABASE_URL").expect("DATABASE_URL set")
    }

    async fn start_bot(&self) -> BotProcess {
        let bot = self.env.start_bot();
        bot.wait_log("receiving updates", WAIT).await;
        bot
    }

    /// The bot's database, opened beside it (after it created it).
    async fn store(&self) -> Store {
        Store::connect(self.database_url()).await.expect("open the bot's database")
    }

    /// Direct SQL on the bot's database, for what the store does not offer.
    async fn sql(&self) -> AnyPool {
        sqlx::any::install_default_drivers();
        AnyPool::connect(self.database_url()).await.expect("connect to the bot's database")
    }

    async fn finish(self) {
        if let Some(url) = &self.postgres_url {
            drop_postgres_db(url).await;
        }
    }
}

const EN: Lang = Lang::En;

/// One `/video` request per user, each in its own private chat.
struct Request {
    chat_id: i64,
    message: serde_json::Value,
}

impl Request {
    fn new(user_id: i64, prompt: &str) -> Request {
        let message = Msg::text(&Chat::private(user_id), &User::new(user_id), &format!("/video {prompt}")).build();
        Request { chat_id: user_id, message }
    }

    fn id(&self) -> i64 {
        self.message["message_id"].as_i64().expect("message id")
    }
}

fn replies(env: &TestEnv, chat_id: i64, command_id: i64) -> Vec<Call> {
    env.tg.replies(chat_id, command_id)
}

async fn wait_reply(env: &TestEnv, chat_id: i64, command_id: i64, n: usize, timeout: Duration) -> Vec<Call> {
    env.tg.wait_replies(chat_id, command_id, n, timeout).await
}

/// Waits until the bot fetched these updates (so what it did with them shows).
async fn wait_handed_out(env: &TestEnv, update_ids: &[i64]) {
    let deadline = Instant::now() + WAIT;
    while !update_ids.iter().all(|&id| env.tg.handed_out_at(id).is_some()) {
        assert!(Instant::now() < deadline, "updates {update_ids:?} not fetched by the bot");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn task(store: &Store, id: i64) -> Task {
    store.task(id).await.expect("read task").unwrap_or_else(|| panic!("task #{id} stored"))
}

/// Sends the requests one after the other (so request k is task #k and upstream
/// `task_id(k)`), waits until each is created, stored with its status message
/// and polled once: three open tasks, pending upstream.
async fn open_three_tasks(setup: &Setup, store: &Store, base_user: i64) -> Vec<Request> {
    let env = &setup.env;
    let requests: Vec<Request> =
        ["a kite over a windy beach", "a train through autumn hills", "a jellyfish in neon light"]
            .iter()
            .enumerate()
            .map(|(i, prompt)| Request::new(base_user + i as i64, prompt))
            .collect();
    for (k, request) in requests.iter().enumerate() {
        env.tg.push_message(request.message.clone());
        env.video.wait_creates(k + 1, WAIT).await;
        wait_reply(env, request.chat_id, request.id(), 1, WAIT).await;
    }
    for k in 1..=3_i64 {
        let deadline = Instant::now() + WAIT;
        while task(store, k).await.status_msg_id.is_none() {
            assert!(Instant::now() < deadline, "task #{k} got no status message");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(task(store, k).await.upstream_id, Some(FakeVideoApi::task_id(k as usize)));
        env.video.wait_queries(&FakeVideoApi::task_id(k as usize), 1, WAIT).await;
    }
    requests
}

/// While the bot is down, every task completes upstream.
fn complete_all(env: &TestEnv) -> Vec<String> {
    (1..=3)
        .map(|k| {
            let id = FakeVideoApi::task_id(k);
            let url = env.video.file_url(&format!("v{k}.mp4"));
            env.video.script_task(&id, vec![Reply::completed(&id, &url)]);
            url
        })
        .collect()
}

/// Each request got its own video once, as a reply, and no task was created twice.
async fn assert_each_delivered_once(
    setup: &Setup,
    store: &Store,
    requests: &[Request],
    urls: &[String],
    since: Instant,
    timeout: Duration,
) {
    let env = &setup.env;
    env.tg.wait_for("sendVideo", 3, timeout).await;
    for k in 1..=3_i64 {
        let deadline = Instant::now() + WAIT;
        while task(store, k).await.state != TaskState::Done {
            assert!(Instant::now() < deadline, "task #{k} not done: {:?}", task(store, k).await);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // Long enough for a second delivery or a stray create to show.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let videos = env.tg.attempts_of("sendVideo");
    assert_eq!(videos.len(), 3, "one video per task\n{}", env.tg.dump());
    for (k, (request, url)) in requests.iter().zip(urls).enumerate() {
        let to_this: Vec<&Call> = videos.iter().filter(|v| v.chat_id() == Some(request.chat_id)).collect();
        assert_eq!(to_this.len(), 1, "request {k}: {}", env.tg.dump());
        assert_eq!(to_this[0].body["video"], json!(url));
        assert_eq!(to_this[0].body["reply_parameters"]["message_id"], json!(request.id()));
        // Polled again after the restart.
        let upstream_id = FakeVideoApi::task_id(k + 1);
        assert!(
            env.video.queries_of(&upstream_id).iter().any(|q| q.at >= since),
            "{upstream_id} polled after the restart"
        );
        // The status reply only: re-delivered commands are not answered again.
        assert_eq!(replies(env, request.chat_id, request.id()).len(), 1, "{}", env.tg.dump());
    }
    assert_eq!(env.video.creates().len(), 3, "one create per command overall\n{}", env.video.dump());
}

/// SIGKILL with three open tasks; they complete while the bot is down; the bot
/// starts again on the same database and the old updates are handed out again.
async fn crash_with_open_tasks(backend: Backend) {
    let setup = Setup::new(backend).await;
    let env = &setup.env;
    let bot = setup.start_bot().await;
    let store = setup.store().await;
    let requests = open_three_tasks(&setup, &store, 700 + 10 * (backend as i64)).await;

    bot.kill();
    assert!(bot.exit_status().is_some_and(|status| !status.success()));
    let urls = complete_all(env);

    let restarted_at = Instant::now();
    let bot = setup.start_bot().await;
    // getUpdates re-delivery after a crash: the same three commands again.
    let again: Vec<i64> = requests.iter().map(|request| env.tg.push_message(request.message.clone())).collect();
    wait_handed_out(env, &again).await;
    // PostgreSQL: the dead process's leases must run out first.
    let timeout = match backend {
        Backend::Sqlite => WAIT,
        Backend::Postgres => LEASE_TTL + WAIT,
    };
    assert_each_delivered_once(&setup, &store, &requests, &urls, restarted_at, timeout).await;
    if backend == Backend::Sqlite {
        let took = env.tg.calls_of("sendVideo").last().unwrap().at.duration_since(restarted_at);
        assert!(took < Duration::from_secs(10), "SQLite (one process) resumes at once, took {took:?}");
    }
    drop(bot);
    store.close().await;
    setup.finish().await;
}

#[tokio::test]
async fn a_crash_with_open_tasks_then_each_is_resumed_and_delivered_once_on_sqlite() {
    crash_with_open_tasks(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_crash_with_open_tasks_then_each_is_resumed_and_delivered_once_on_postgres() {
    crash_with_open_tasks(Backend::Postgres).await;
}

/// SIGKILL while the create call is out (sent, not answered): the stored row
/// stays `submitting`. After a restart the user hears the state is unknown; it
/// is never created again and no video follows.
async fn crash_between_create_and_store(backend: Backend) {
    let setup = Setup::new(backend).await;
    let bot = setup.start_bot().await;
    let request = Request::new(720 + backend as i64, "a hot air balloon over Cappadocia");
    setup.env.video.push_create(
        Reply::json(200, json!({"id": FakeVideoApi::task_id(1), "status": "pending"})).after(Duration::from_secs(5)),
    );
    setup.env.tg.push_message(request.message.clone());
    setup.env.video.wait_creates(1, WAIT).await;
    bot.kill();

    let store = setup.store().await;
    let stuck = task(&store, 1).await;
    assert_eq!(stuck.state, TaskState::Submitting);
    assert_eq!(stuck.upstream_id, None);
    assert!(replies(&setup.env, request.chat_id, request.id()).is_empty(), "nothing said before the crash");

    // SQLite: one process per file, so at start the row is certainly cut off.
    // PostgreSQL: only once the heartbeat of the replica that reserved it is
    // old; let that time pass in the database.
    if backend == Backend::Postgres {
        let sql = setup.sql().await;
        let aged = sqlx::query(
            "UPDATE replicas SET heartbeat_at = heartbeat_at - $1 WHERE id = (SELECT lease_owner FROM tasks WHERE id = $2)",
        )
            .bind(10 * 60 * 1000_i64)
            .bind(1_i64)
            .execute(&sql)
            .await
            .expect("age the lease");
        assert_eq!(aged.rows_affected(), 1);
        sql.close().await;
    }

    let bot = setup.start_bot().await;
    let restarted_at = Instant::now();
    let again = setup.env.tg.push_message(request.message.clone());
    wait_handed_out(&setup.env, &[again]).await;
    let told = wait_reply(&setup.env, request.chat_id, request.id(), 1, WAIT).await;
    assert_eq!(told[0].text(), Some(texts::lost_after_restart(EN, &stuck).as_str()));
    let took = told[0].at.duration_since(restarted_at);
    assert!(took < Duration::from_secs(10), "told within seconds of the restart, not minutes: {took:?}");
    let unknown = task(&store, 1).await;
    assert_eq!(unknown.state, TaskState::Unknown);

    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(setup.env.video.creates().len(), 1, "never created twice\n{}", setup.env.video.dump());
    assert!(setup.env.video.queries().is_empty(), "no upstream id, nothing to poll");
    assert!(setup.env.tg.attempts_of("sendVideo").is_empty());
    assert_eq!(replies(&setup.env, request.chat_id, request.id()).len(), 1, "told once\n{}", setup.env.tg.dump());
    drop(bot);
    store.close().await;
    setup.finish().await;
}

#[tokio::test]
async fn a_create_cut_off_by_a_crash_is_reported_unknown_and_not_retried_on_sqlite() {
    crash_between_create_and_store(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_create_cut_off_by_a_crash_is_reported_unknown_and_not_retried_on_postgres() {
    crash_between_create_and_store(Backend::Postgres).await;
}

/// SIGTERM with three open tasks: exit 0, leases released, tasks still open;
/// the next start resumes them at once and delivers each once.
async fn graceful_restart(backend: Backend) {
    let setup = Setup::new(backend).await;
    let env = &setup.env;
    let bot = setup.start_bot().await;
    let store = setup.store().await;
    let requests = open_three_tasks(&setup, &store, 740 + 10 * (backend as i64)).await;

    bot.terminate();
    let status = bot.wait_exit(WAIT).await.expect("exits after SIGTERM");
    assert!(status.success(), "exit status {status}\n{}", bot.logs());
    let sql = setup.sql().await;
    let rows = sqlx::query("SELECT id, state, lease_owner FROM tasks ORDER BY id").fetch_all(&sql).await.unwrap();
    assert_eq!(rows.len(), 3);
    for row in &rows {
        assert_eq!(row.get::<String, _>("state"), "running", "open tasks stay open");
        assert_eq!(row.get::<Option<String>, _>("lease_owner"), None, "lease released on a clean stop");
    }
    sql.close().await;
    let urls = complete_all(env);

    let restarted_at = Instant::now();
    let bot = setup.start_bot().await;
    assert_each_delivered_once(&setup, &store, &requests, &urls, restarted_at, WAIT).await;
    let took = env.tg.calls_of("sendVideo").last().unwrap().at.duration_since(restarted_at);
    assert!(took < Duration::from_secs(10), "resumed at once (no waiting for leases), took {took:?}");
    drop(bot);
    store.close().await;
    setup.finish().await;
}

#[tokio::test]
async fn a_graceful_restart_resumes_open_tasks_at_once_on_sqlite() {
    graceful_restart(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_graceful_restart_resumes_open_tasks_at_once_on_postgres() {
    graceful_restart(Backend::Postgres).await;
}
