//! Running the bot: webhook and long polling, `/healthz`, `/metrics`, a
//! graceful SIGTERM, and no secret anywhere over a whole mixed run.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::Connection;
use sqlx::postgres::PgConnection;
use testkit::*;

use crate::bot_bin;

const WAIT: Duration = Duration::from_secs(15);
const WEBHOOK_SECRET: &str = "some_secret_1";

async fn started(env: &TestEnv) -> BotProcess {
    let bot = env.start_bot();
    env.tg.wait_for("setMyCommands", 1, WAIT).await;
    bot
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn msg_id(message: &Value) -> i64 {
    message["message_id"].as_i64().expect("message_id")
}

/// The reply the bot sent to `message`, waiting for it.
async fn reply_to(env: &TestEnv, message: &Value) -> String {
    let (chat_id, id) = (message["chat"]["id"].as_i64().expect("chat id"), msg_id(message));
    let call = env
        .tg
        .wait_call(&format!("a reply to message {id}"), WAIT, |c| {
            c.is("sendMessage") && c.chat_id() == Some(chat_id) && c.body["reply_parameters"]["message_id"] == json!(id)
        })
        .await;
    call.text().unwrap_or_default().to_owned()
}

/// Whether the bot answered `message` at all (any method replying to it).
fn answered(env: &TestEnv, message: &Value) -> bool {
    let id = json!(msg_id(message));
    env.tg.calls().iter().any(|c| c.body["reply_parameters"]["message_id"] == id || c.body["reply_to_message_id"] == id)
}

async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client");
    let response =
        client.get(format!("http://{addr}{path}")).send().await.unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
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
    let reply = reply_to(&hook.env, &genuine).await;
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
    assert!(reply_to(&env, &command).await.contains("queued"));
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
    assert!(reply_to(&env, &ok).await.contains("queued"));
    let bad = Msg::text(&chat, &user, "/video --bogus a cat").build();
    env.tg.push_message(bad.clone());
    assert!(reply_to(&env, &bad).await.contains("Unknown option"));
    env.video.push_create(Reply::json(500, json!({"error": {"message": "upstream exploded"}})));
    let failing = Msg::text(&chat, &user, "/video a dog").build();
    env.tg.push_message(failing.clone());
    assert!(reply_to(&env, &failing).await.contains("not reachable"));
    let help = Msg::text(&chat, &user, "/help").build();
    env.tg.push_message(help.clone());
    reply_to(&env, &help).await;

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

// ---------------------------------------------------------------------------
// Secrets
// ---------------------------------------------------------------------------

/// The part of the bot token that is a secret (the part before `:` is the bot's public id).
fn token_secret() -> &'static str {
    &TOKEN[TOKEN.find(':').expect("token has a colon") + 1..]
}

/// Finds a secret in `text`; names it. A Telegram file URL counts unless
/// its token was redacted.
fn secret_in(text: &str) -> Option<&'static str> {
    let secrets =
        [(token_secret(), "the bot token"), (VIDEO_API_KEY, "the API key"), (WEBHOOK_SECRET, "the webhook secret")];
    if let Some((_, name)) = secrets.into_iter().find(|(secret, _)| text.contains(secret)) {
        return Some(name);
    }
    text.match_indices("/file/bot")
        .any(|(at, marker)| !text[at + marker.len()..].starts_with("[REDACTED]"))
        .then_some("a Telegram file URL")
}

/// Everything observable from outside: Telegram calls (bodies and uploaded
/// file names), video API requests (bodies, headers but `authorization`),
/// the bot's HTTP pages and every log line.
async fn assert_no_secrets(hook: &WebhookBot) {
    let env = &hook.env;
    for call in env.tg.calls() {
        let mut body = call.body.clone();
        if call.is("setWebhook") {
            // The one place the webhook secret must go: to Telegram itself.
            assert_eq!(body["secret_token"], json!(WEBHOOK_SECRET));
            body["secret_token"] = Value::Null;
        }
        if let Some(found) = secret_in(&body.to_string()) {
            panic!("{found} in Telegram call {}: {body}", call.method);
        }
        for file in &call.files {
            assert!(
                secret_in(file.file_name.as_deref().unwrap_or_default()).is_none(),
                "secret in an uploaded file name"
            );
        }
    }
    for create in env.video.creates() {
        if let Some(found) = secret_in(&create.body.to_string()) {
            panic!("{found} sent to the video API: {}", create.body);
        }
        for (name, value) in &create.headers {
            assert!(name == "authorization" || secret_in(value).is_none(), "secret in create header {name}: {value}");
        }
    }
    for query in env.video.queries() {
        assert!(secret_in(&query.id).is_none());
        for (name, value) in &query.headers {
            assert!(name == "authorization" || secret_in(value).is_none(), "secret in query header {name}: {value}");
        }
    }
    let addr: SocketAddr = format!("127.0.0.1:{}", hook.port).parse().expect("addr");
    for path in ["/metrics", "/healthz"] {
        let (_, body) = get(addr, path).await;
        assert!(secret_in(&body).is_none(), "secret in {path}:\n{body}");
    }
    let logs = hook.bot.logs();
    assert!(logs.contains("TRACE") && logs.lines().count() > 100, "the run was not logged in full:\n{logs}");
    for line in logs.lines() {
        if let Some(found) = secret_in(line) {
            panic!("{found} in a log line: {line}");
        }
    }
}

#[tokio::test]
async fn no_secret_leaves_the_bot_over_a_whole_mixed_run() {
    // Everything logged, third-party crates included.
    let mut hook = WebhookBot::start(&[("RUST_LOG", "trace"), ("MAX_ACTIVE_PER_USER", "20")]).await;
    let chat = Chat::private(604);
    let user = User::new(604);
    let tg_url = hook.env.tg.url();

    // 1. A text command; its task later fails with a reason that quotes the
    //    key and a Telegram file URL, as a careless relay might.
    let text = Msg::text(&chat, &user, "/video a cat surfing at sunset").build();
    hook.deliver(&text).await;
    assert!(reply_to(&hook.env, &text).await.contains("queued"));
    let echo = format!(
        "Incorrect API key provided: {VIDEO_API_KEY}; image {tg_url}/file/bot{TOKEN}/photos/x.jpg (Bearer {VIDEO_API_KEY})"
    );
    hook.env.video.script_task(&FakeVideoApi::task_id(1), vec![Reply::failed(&FakeVideoApi::task_id(1), &echo)]);

    // 2. A photo captioned with the command (data mode: the bot downloads it by its file URL).
    hook.env.tg.add_photo("secret-photo");
    let photo = Msg::photo(&chat, &user, "secret-photo").caption("/video --landscape wave hello").build();
    hook.deliver(&photo).await;
    assert!(reply_to(&hook.env, &photo).await.contains("queued"));
    // It completes, and the video is delivered.
    let video_url = hook.env.video.file_url("done.mp4");
    hook.env.video.add_file("done.mp4", vec![0u8; 4096]);
    hook.env
        .video
        .script_task(&FakeVideoApi::task_id(2), vec![Reply::completed(&FakeVideoApi::task_id(2), &video_url)]);

    // 3. An album of two, the caption on the first.
    hook.env.tg.add_photo("secret-a1");
    hook.env.tg.add_photo("secret-a2");
    let first = Msg::photo(&chat, &user, "secret-a1").album("secret-album").caption("/video two friends").build();
    let second = Msg::photo(&chat, &user, "secret-a2").album("secret-album").build();
    hook.deliver(&first).await;
    hook.deliver(&second).await;
    let reply = reply_to(&hook.env, &first).await;
    assert!(reply.contains("queued"), "{reply}");
    assert_eq!(hook.env.video.creates()[2].body["images"].as_array().map(Vec::len), Some(2));

    // 4. A reply to an image sent as a file.
    hook.env.tg.add_document("secret-doc");
    let document = Msg::document(&chat, &user, "secret-doc", "image/png", "scan.png").build();
    hook.deliver(&document).await;
    let animate = Msg::text(&chat, &user, "/video animate this").reply_to(&document).build();
    hook.deliver(&animate).await;
    assert!(reply_to(&hook.env, &animate).await.contains("queued"));

    // 5. Failing creates: an outage, and a 401 that echoes the key.
    hook.env.video.push_create(Reply::json(500, json!({"error": {"message": "upstream exploded"}})));
    let outage = Msg::text(&chat, &user, "/video during an outage").build();
    hook.deliver(&outage).await;
    assert!(reply_to(&hook.env, &outage).await.contains("not reachable"));
    let refused_body = json!({"error": {"message": echo, "type": "auth", "code": "invalid_api_key"}});
    hook.env.video.push_create(Reply::json(401, refused_body));
    let refused = Msg::text(&chat, &user, "/video with a bad key").build();
    hook.deliver(&refused).await;
    assert!(reply_to(&hook.env, &refused).await.contains("refused the key"));

    // 6. Looking around.
    for command in ["/status", "/status 1", "/tasks", "/quota", "/again", "/cancel 3", "/help"] {
        let message = Msg::text(&chat, &user, command).build();
        hook.deliver(&message).await;
        reply_to(&hook.env, &message).await;
    }

    // The failed task told its reason; the completed one was delivered.
    hook.env.tg.wait_text(chat.id, "#1 failed", WAIT).await;
    hook.env.tg.wait_call("the finished video", WAIT, |c| c.is("sendVideo") || c.is("sendDocument")).await;
    // A forged update is refused (and its secret attempt is not logged).
    let forged = Msg::text(&chat, &user, "/video forged").build();
    assert_eq!(hook.post(&forged, Some("wrong_secret_2")).await, 401);

    assert_no_secrets(&hook).await;
}
