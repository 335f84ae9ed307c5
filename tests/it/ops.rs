//! Running the bot: webhook and long polling, `/healthz`, `/metrics`, a
//! graceful SIGTERM, and no secret anywhere over a whole mixed run.

mod logs;
mod secrets;
mod shutdown;
mod start;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::Connection;
use sqlx::postgres::PgConnection;
use testkit::*;

use crate::*;
const WEBHOOK_SECRET: &str = "some_secret_1";

async fn started(env: &TestEnv) -> BotProcess {
    let bot = env.start_bot();
    env.tg.wait_for("setMyCommands", 1, WAIT).await;
    bot
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// Whether the bot answered `message` at all (any method replying to it).
fn answered(env: &TestEnv, message: &Value) -> bool {
    let id = json!(msg_id(message));
    env.tg.calls().iter().any(|c| c.body["reply_parameters"]["message_id"] == id || c.body["reply_to_message_id"] == id)
}

// ---------------------------------------------------------------------------
// Webhook mode
// ---------------------------------------------------------------------------

/// A bot receiving updates by webhook on a port of its own.
struct WebhookBot {
    env: TestEnv,
    bot: BotProcess,
    port: u16,
    next_update_id: i64,
}

impl WebhookBot {
    async fn start(vars: &[(&str, &str)]) -> WebhookBot {
        let port = free_port();
        let mut env = TestEnv::start(bot_bin()).await;
        env.set_env("HTTP_BIND", &format!("127.0.0.1:{port}"));
        env.set_env("PUBLIC_BASE_URL", &format!("http://127.0.0.1:{port}"));
        env.set_env("WEBHOOK_SECRET", WEBHOOK_SECRET);
        env.set_env("IMAGE_MODE", "data");
        for (key, value) in vars {
            env.set_env(key, value);
        }
        let bot = started(&env).await;
        bot.wait_log("receiving updates by webhook", WAIT).await;
        WebhookBot { env, bot, port, next_update_id: 1 }
    }

    /// POSTs `{"update_id": N, "message": message}` as Telegram would.
    async fn post(&mut self, message: &Value, secret: Option<&str>) -> u16 {
        let update = json!({"update_id": self.next_update_id, "message": message});
        self.next_update_id += 1;
        let mut request = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{}/telegram/webhook", self.port))
            .header("content-type", "application/json")
            .body(update.to_string());
        if let Some(secret) = secret {
            request = request.header("X-Telegram-Bot-Api-Secret-Token", secret);
        }
        request.send().await.expect("POST webhook").status().as_u16()
    }

    /// Delivers `message` with the right secret; Telegram expects a 200.
    async fn deliver(&mut self, message: &Value) {
        let status = self.post(message, Some(WEBHOOK_SECRET)).await;
        assert_eq!(status, 200, "webhook refused a genuine update");
    }
}

#[tokio::test]
async fn webhook_mode_registers_the_webhook_and_only_takes_updates_with_the_secret() {
    let mut hook = WebhookBot::start(&[]).await;
    let url = format!("http://127.0.0.1:{}/telegram/webhook", hook.port);

    let set = hook.env.tg.wait_for("setWebhook", 1, WAIT).await;
    assert_eq!(set[0].body["url"], json!(url), "{}", set[0].body);
    assert_eq!(set[0].body["secret_token"], json!(WEBHOOK_SECRET), "{}", set[0].body);
    // Every kind the bot handles, whatever an earlier setWebhook asked for.
    assert_eq!(set[0].body["allowed_updates"], json!(["message", "inline_query", "callback_query"]), "{}", set[0].body);

    let chat = Chat::private(601);
    let user = User::new(601);
    let forged = Msg::text(&chat, &user, "/video a forged cat").build();
    assert_eq!(hook.post(&forged, Some("wrong_secret_2")).await, 401, "wrong secret");
    let anonymous = Msg::text(&chat, &user, "/video an anonymous cat").build();
    assert_eq!(hook.post(&anonymous, None).await, 401, "no secret");

    let genuine = Msg::text(&chat, &user, "/video a cat").build();
    assert_eq!(hook.post(&genuine, Some(WEBHOOK_SECRET)).await, 200);
    let create = &hook.env.video.wait_creates(1, WAIT).await[0];
    assert_eq!(create.body["prompt"], "a cat");
    let reply = reply_to(&hook.env.tg, &genuine).await;
    assert!(reply.contains(&FakeVideoApi::task_id(1)), "{reply}");

    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(hook.env.video.creates().len(), 1, "{}", hook.env.video.dump());
    assert!(!answered(&hook.env, &forged) && !answered(&hook.env, &anonymous), "{}", hook.env.tg.dump());
    assert!(hook.env.tg.attempts_of("getUpdates").is_empty(), "long polling in webhook mode");
    assert!(hook.bot.exit_status().is_none());
}

/// A Bot API in front of the fake that reports a webhook still set (say by an
/// earlier webhook deployment: the bot leaves its webhook in place when it
/// stops, for the other replicas). The fake itself answers getWebhookInfo
/// with `true`, which teloxide cannot read, so it would never delete anything.
struct WebhookStillSet {
    url: String,
    asked: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl WebhookStillSet {
    async fn start(fake: &FakeTelegram) -> WebhookStillSet {
        let upstream = fake.url();
        let asked = Arc::new(AtomicUsize::new(0));
        let counter = asked.clone();
        let client = reqwest::Client::new();
        let app = axum::Router::new().fallback(move |method: axum::http::Method, uri: axum::http::Uri, headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let (upstream, client, counter) = (upstream.clone(), client.clone(), counter.clone());
            async move {
                use axum::response::IntoResponse;
                if uri.path().to_ascii_lowercase().ends_with("/getwebhookinfo") {
                    counter.fetch_add(1, Ordering::SeqCst);
                    let info = json!({"ok": true, "result": {"url": "https://old.example/telegram/webhook", "has_custom_certificate": false, "pending_update_count": 0}});
                    return ([(axum::http::header::CONTENT_TYPE, "application/json")], info.to_string()).into_response();
                }
                let target = format!("{upstream}{}", uri.path_and_query().map(|pq| pq.as_str()).unwrap_or("/"));
                let mut request = client.request(method, target).body(body);
                if let Some(content_type) = headers.get(axum::http::header::CONTENT_TYPE) {
                    request = request.header(axum::http::header::CONTENT_TYPE, content_type);
                }
                match request.send().await {
                    Ok(response) => {
                        let status = response.status();
                        let bytes = response.bytes().await.unwrap_or_default();
                        (status, [(axum::http::header::CONTENT_TYPE, "application/json")], bytes).into_response()
                    }
                    Err(_) => axum::http::StatusCode::BAD_GATEWAY.into_response(),
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("proxy");
        });
        WebhookStillSet { url, asked, task }
    }
}

impl Drop for WebhookStillSet {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test]
async fn long_polling_mode_deletes_a_leftover_webhook_before_polling() {
    let mut env = TestEnv::start(bot_bin()).await;
    let api = WebhookStillSet::start(&env.tg).await;
    env.set_env("TELOXIDE_API_URL", &api.url);
    let _bot = started(&env).await;

    env.tg.wait_for("getUpdates", 1, WAIT).await;
    assert!(api.asked.load(Ordering::SeqCst) >= 1, "never asked for the webhook");
    let calls = env.tg.calls();
    let delete = calls
        .iter()
        .position(|c| c.is("deleteWebhook"))
        .unwrap_or_else(|| panic!("no deleteWebhook\n{}", env.tg.dump()));
    let poll = calls.iter().position(|c| c.is("getUpdates")).expect("getUpdates");
    assert!(delete < poll, "deleteWebhook after getUpdates\n{}", env.tg.dump());
    assert!(env.tg.attempts_of("setWebhook").is_empty());

    // And it really polls: a command gets through.
    let chat = Chat::private(605);
    let command = Msg::text(&chat, &User::new(605), "/video a polled cat").build();
    env.tg.push_message(command.clone());
    assert!(reply_to(&env.tg, &command).await.contains("queued"));
}

// ---------------------------------------------------------------------------
// /healthz and /metrics
// ---------------------------------------------------------------------------

#[tokio::test]
async fn healthz_is_ok_while_the_sqlite_database_is_up() {
    let env = TestEnv::start(bot_bin()).await;
    let bot = started(&env).await;
    let addr = bot.http_addr(WAIT).await;
    let (status, body) = get(addr, "/healthz").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(get(addr, "/no-such-page").await.0, 404);
}

#[tokio::test]
async fn healthz_turns_503_when_the_postgres_database_goes_away() {
    let db = fresh_postgres_db().await;
    let env = TestEnv::start(bot_bin()).await.env("DATABASE_URL", &db);
    let bot = started(&env).await;
    let addr = bot.http_addr(WAIT).await;
    let (status, body) = get(addr, "/healthz").await;
    assert_eq!(status, 200, "{body}");

    let name = db.rsplit('/').next().expect("database name");
    let mut admin = PgConnection::connect(POSTGRES_ADMIN_URL).await.expect("connect as admin");
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)")).execute(&mut admin).await.expect("DROP DATABASE");
    let _ = admin.close().await;

    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    loop {
        let (status, _) = get(addr, "/healthz").await;
        seen.push(status);
        if status == 503 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "healthz never said 503 after the database was dropped: {seen:?}\n{}",
            bot.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(bot.exit_status().is_none(), "the bot should stay up to report it:\n{}", bot.logs());
}

/// `name{labels} value` lines of a Prometheus text page (comments skipped).
fn parse_prometheus(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("not a sample line: {line:?}"));
            let value = value.parse().unwrap_or_else(|_| panic!("not a number in {line:?}"));
            (series.to_owned(), value)
        })
        .collect()
}

#[tokio::test]
async fn metrics_count_commands_creates_and_video_api_latency() {
    let env = TestEnv::start(bot_bin()).await;
    let bot = started(&env).await;
    let addr = bot.http_addr(WAIT).await;
    let chat = Chat::private(602);
    let user = User::new(602);

    let ok = Msg::text(&chat, &user, "/video a cat").build();
    env.tg.push_message(ok.clone());
    assert!(reply_to(&env.tg, &ok).await.contains("queued"));
    let bad = Msg::text(&chat, &user, "/video --bogus a cat").build();
    env.tg.push_message(bad.clone());
    assert!(reply_to(&env.tg, &bad).await.contains("Unknown option"));
    env.video.push_create(Reply::json(500, json!({"error": {"message": "upstream exploded"}})));
    let failing = Msg::text(&chat, &user, "/video a dog").build();
    env.tg.push_message(failing.clone());
    assert!(reply_to(&env.tg, &failing).await.contains("not reachable"));
    let help = Msg::text(&chat, &user, "/help").build();
    env.tg.push_message(help.clone());
    reply_to(&env.tg, &help).await;

    let (status, text) = get(addr, "/metrics").await;
    assert_eq!(status, 200, "{text}");
    let samples = parse_prometheus(&text);
    let value = |series: &str| samples.get(series).copied().unwrap_or_else(|| panic!("no {series} in\n{text}"));
    assert!(value(r#"sora_commands_total{kind="video"}"#) >= 3.0, "{text}");
    assert!(value(r#"sora_commands_total{kind="help"}"#) >= 1.0, "{text}");
    assert_eq!(value(r#"sora_creates_total{outcome="created"}"#), 1.0, "{text}");
    assert_eq!(value(r#"sora_creates_total{outcome="upstream"}"#), 1.0, "the 500 is counted by its error kind\n{text}");
    assert_eq!(value("sora_open_tasks"), 1.0, "{text}");
    assert!(
        samples
            .keys()
            .any(|series| series.starts_with("sora_video_api_seconds") && series.contains(r#"operation="create""#)),
        "{text}"
    );
    let create_count = samples
        .iter()
        .find(|(series, _)| {
            series.starts_with("sora_video_api_seconds_count") && series.contains(r#"operation="create""#)
        })
        .map(|(_, value)| *value);
    assert_eq!(create_count, Some(2.0), "two create calls timed\n{text}");
    assert!(text.contains("# TYPE sora_commands_total counter"), "{text}");
}
