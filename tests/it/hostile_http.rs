//! The bot's HTTP port under hostile clients, in webhook mode: the secret is
//! checked before any body is read, silent clients are closed, the connection
//! cap holds while `/healthz` still answers, `/metrics` is private, and the
//! media proxy fetches each photo once however many ask for it.

use std::time::Duration;

use serde_json::{Value, json};
use testkit::*;

use crate::*;
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
const SECRET: &str = "hostile_test_secret";

struct Hooked {
    env: TestEnv,
    bot: BotProcess,
    base: String,
}

async fn webhook_bot(vars: &[(&str, &str)]) -> Hooked {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let mut env = TestEnv::start(bot_bin()).await;
    env.set_env("HTTP_BIND", &format!("127.0.0.1:{port}"));
    env.set_env("PUBLIC_BASE_URL", &base);
    env.set_env("WEBHOOK_SECRET", SECRET);
    for (key, value) in vars {
        env.set_env(key, value);
    }
    let bot = env.start_bot();
    bot.wait_log("receiving updates by webhook", WAIT).await;
    Hooked { env, bot, base }
}

impl Hooked {
    fn addr(&self) -> String {
        self.base.trim_start_matches("http://").to_owned()
    }

    async fn connect(&self) -> TcpStream {
        TcpStream::connect(self.addr()).await.expect("connect")
    }

    async fn post_update(&self, body: &str, secret: Option<&str>) -> reqwest::Response {
        let mut request = reqwest::Client::new()
            .post(format!("{}/telegram/webhook", self.base))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(secret) = secret {
            request = request.header("X-Telegram-Bot-Api-Secret-Token", secret);
        }
        request.send().await.expect("POST webhook")
    }
}

/// Everything the server sends until it closes the connection (or `WAIT` passes: `None`).
async fn read_until_closed(stream: &mut (impl AsyncRead + Unpin)) -> Option<String> {
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    let read_all = async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => answer.extend_from_slice(&buffer[..n]),
            }
        }
    };
    tokio::time::timeout(WAIT, read_all).await.ok()?;
    Some(String::from_utf8_lossy(&answer).into_owned())
}

fn head(secret: Option<&str>, content_length: u64) -> String {
    let secret = secret.map(|s| format!("X-Telegram-Bot-Api-Secret-Token: {s}\r\n")).unwrap_or_default();
    format!(
        "POST /telegram/webhook HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\n{secret}Content-Length: {content_length}\r\n\r\n"
    )
}

#[tokio::test]
async fn the_secret_is_checked_before_any_body_is_read() {
    let hook = webhook_bot(&[]).await;
    for secret in [None, Some("wrong_secret"), Some("hostile_test_secre")] {
        // A body announced, none sent: the answer must not wait for it.
        for length in [1_500_000, 2_000_000_000] {
            let mut stream = hook.connect().await;
            stream.write_all(head(secret, length).as_bytes()).await.unwrap();
            let answer =
                read_until_closed(&mut stream).await.unwrap_or_else(|| panic!("{secret:?}: no answer and not closed"));
            assert!(answer.starts_with("HTTP/1.1 401"), "{secret:?}, {length}: {answer}");
        }
    }
    // The genuine secret with an oversized body is refused from its length alone.
    let mut stream = hook.connect().await;
    stream.write_all(head(Some(SECRET), 2_000_000).as_bytes()).await.unwrap();
    let answer = read_until_closed(&mut stream).await.expect("answered and closed");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    // And without a length (chunked), once it passes the limit. The server
    // may close while the client is still sending, and the kernel may then
    // reset the connection before the client reads the answer: a refusal
    // either way, and the log says which limit it was.
    let answer = send_chunked(&hook, Some(SECRET), 1_100_000).await;
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 413"), "{answer}");
    hook.bot.wait_log("over the size limit", WAIT).await;
    let answer = send_chunked(&hook, None, 1_100_000).await;
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 401"), "{answer}");
}

/// Posts a chunked update of `len` bytes, ignoring a connection closed under
/// the writer, and returns what the server answered before closing.
async fn send_chunked(hook: &Hooked, secret: Option<&str>, len: usize) -> String {
    let stream = hook.connect().await;
    let (mut reader, mut writer) = stream.into_split();
    let secret = secret.map(|s| format!("X-Telegram-Bot-Api-Secret-Token: {s}\r\n")).unwrap_or_default();
    let head = format!(
        "POST /telegram/webhook HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\n{secret}Transfer-Encoding: chunked\r\n\r\n"
    );
    let sending = tokio::spawn(async move {
        let chunk = vec![b'x'; 64 * 1024];
        writer.write_all(head.as_bytes()).await?;
        for _ in 0..len.div_ceil(chunk.len()) {
            writer.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).await?;
            writer.write_all(&chunk).await?;
            writer.write_all(b"\r\n").await?;
        }
        writer.write_all(b"0\r\n\r\n").await
    });
    let answer = read_until_closed(&mut reader).await.expect("the server answers or closes");
    sending.abort();
    answer
}

#[tokio::test]
async fn silent_and_slow_clients_are_closed_within_seconds() {
    let hook = webhook_bot(&[]).await;
    // Connected, never a byte.
    let mut silent = hook.connect().await;
    // A request head trickling in, one byte every 300 ms: never complete in time.
    let mut trickle = hook.connect().await;
    let trickling = tokio::spawn(async move {
        for byte in head(None, 10).bytes().cycle().take(200) {
            if trickle.write_all(&[byte]).await.is_err() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        false
    });
    // The right secret, then a body that stops after 10 of its 1000 bytes.
    let mut stalled = hook.connect().await;
    stalled.write_all(head(Some(SECRET), 1000).as_bytes()).await.unwrap();
    stalled.write_all(b"{\"update_id").await.unwrap();

    assert_eq!(read_until_closed(&mut silent).await.as_deref(), Some(""), "silent client closed without an answer");
    assert!(read_until_closed(&mut stalled).await.is_some(), "stalled body closed");
    assert!(trickling.await.unwrap(), "slow request head cut off");
    // Still serving.
    assert_eq!(reqwest::get(format!("{}/healthz", hook.base)).await.unwrap().status(), 200);
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0)
}

#[tokio::test]
async fn the_connection_cap_holds_and_healthz_still_answers() {
    const CAP: usize = 16;
    let hook = webhook_bot(&[("HTTP_MAX_CONNECTIONS", &CAP.to_string())]).await;
    assert_eq!(reqwest::get(format!("{}/healthz", hook.base)).await.unwrap().status(), 200);
    let before = open_fds(hook.bot.pid());
    let mut idle = Vec::new();
    for _ in 0..200 {
        idle.push(hook.connect().await);
    }
    // Accepted after all the idle ones: each of those was let in or closed by then.
    let healthz = reqwest::Client::new().get(format!("{}/healthz", hook.base)).send().await.expect("healthz answers");
    assert_eq!(healthz.status(), 200);
    let bound = before + CAP + 4;
    let held = poll_until(Duration::from_secs(4), || (open_fds(hook.bot.pid()) <= bound).then_some(())).await;
    assert!(held.is_some(), "{} fds open, cap allows {bound}", open_fds(hook.bot.pid()));
    let metrics = reqwest::get(format!("{}/metrics", hook.base)).await.unwrap().text().await.unwrap();
    let evicted = metrics.lines().find(|l| l.starts_with("sora_http_connections_evicted_total")).unwrap_or_default();
    assert!(
        evicted.split_whitespace().last().and_then(|n| n.parse::<u64>().ok()).is_some_and(|n| n >= 150),
        "{evicted}"
    );
    // A genuine update gets through as well.
    let update = json!({"update_id": 1, "message": Msg::text(&Chat::private(801), &User::new(801), "/help").build()});
    assert_eq!(hook.post_update(&update.to_string(), Some(SECRET)).await.status(), 200);
    hook.env.tg.wait_text(801, "/video", WAIT).await;
    drop(idle);
}

#[tokio::test]
async fn an_unreadable_update_is_acknowledged_and_logged_without_its_content() {
    let hook = webhook_bot(&[]).await;
    let response = hook.post_update(r#"{"update_id": 4242, "message": "my very private words"}"#, Some(SECRET)).await;
    assert_eq!(response.status(), 200, "Telegram must not resend it");
    let line = hook.bot.wait_log("unparseable webhook update ignored", WAIT).await;
    assert!(line.contains("WARN") && line.contains("4242") && line.contains("bytes="), "{line}");
    assert_eq!(hook.post_update("{not json at all: private", Some(SECRET)).await.status(), 200);
    poll_until(WAIT, || (hook.bot.logs().matches("unparseable webhook update ignored").count() == 2).then_some(()))
        .await
        .expect("second warning");
    let logs = hook.bot.logs();
    assert!(!logs.contains("private words") && !logs.contains("not json at all"), "{logs}");
}

#[tokio::test]
async fn metrics_are_for_loopback_or_the_bearer_of_the_token() {
    let hook = webhook_bot(&[]).await;
    assert_eq!(reqwest::get(format!("{}/metrics", hook.base)).await.unwrap().status(), 200, "loopback, no token set");

    let token = "metrics-token-0123456789";
    let hook = webhook_bot(&[("METRICS_TOKEN", token)]).await;
    let url = format!("{}/metrics", hook.base);
    let client = reqwest::Client::new();
    assert_eq!(client.get(&url).send().await.unwrap().status(), 401, "a token set: loopback needs it too");
    assert_eq!(client.get(&url).bearer_auth("metrics-token-0123456788").send().await.unwrap().status(), 401);
    let ok = client.get(&url).bearer_auth(token).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    assert!(ok.text().await.unwrap().contains("sora_"));
    assert!(!hook.bot.logs().contains(token));
}

#[tokio::test]
async fn concurrent_media_requests_share_one_telegram_download() {
    let hook = webhook_bot(&[("IMAGE_MODE", "proxy")]).await;
    let photo = hook.env.tg.add_photo("shared");
    let update = json!({"update_id": 1, "message": Msg::photo(&Chat::private(802), &User::new(802), "shared").caption("/video wave").build()});
    assert_eq!(hook.post_update(&update.to_string(), Some(SECRET)).await.status(), 200);
    let create = &hook.env.video.wait_creates(1, WAIT).await[0];
    let url = create.body["images"][0].as_str().expect("a proxied image URL").to_owned();
    let get_files_before = hook.env.tg.calls_of("getFile").len();
    let downloads_before = hook.env.tg.downloads();

    let client = reqwest::Client::new();
    let fetches = (0..20).map(|_| {
        let (client, url) = (client.clone(), url.clone());
        tokio::spawn(async move {
            let response = client.get(&url).send().await.unwrap();
            (response.status().as_u16(), response.bytes().await.unwrap().to_vec())
        })
    });
    for fetch in futures_util::future::join_all(fetches).await {
        let (status, bytes) = fetch.unwrap();
        assert_eq!(status, 200);
        assert!(bytes == photo, "every client gets the whole photo");
    }
    assert_eq!(hook.env.tg.calls_of("getFile").len() - get_files_before, 1, "one getFile");
    assert_eq!(hook.env.tg.downloads() - downloads_before, 1, "one download");
    let value: Value = create.body.clone();
    assert!(!value.to_string().contains(TOKEN));
}
