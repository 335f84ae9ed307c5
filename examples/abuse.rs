//! Hostile clients against the bot's HTTP port (webhook mode), 127.0.0.1 only,
//! bounded in count and time. Drives the real release binary against the
//! test harness's fakes and prints the bot's RSS and open file descriptors,
//! and the latency of `/healthz` and of a genuine webhook update meanwhile.
//!
//! ```text
//! cargo build --release --bin sora-bot && cargo run --release --example abuse -- [hostile|media|all]
//! ```
//!
//! - `hostile`: 1,000 connections held open for 20 s (a third idle, a third
//!   sending a request head one byte a second, a third sending 2 MB webhook
//!   bodies without a secret at 16 KB/s), each reopened as soon as the bot
//!   closes it; every 200 ms a `/healthz` and a genuine `/help` update.
//! - `media`: 40 concurrent GETs of one 19 MB photo through the media proxy:
//!   getFile calls, downloads, RSS.
//!
//! Needs about 1,100 file descriptors in this process (`ulimit -n`).

use std::{
    path::Path,
    process::ExitCode,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::json;
use testkit::{BotProcess, Chat, Msg, TestEnv, User, fake_jpeg, percentile, photo_size_id};
use tokio::{io::AsyncWriteExt, net::TcpStream};

const SECRET: &str = "abuse_benchmark_secret";
const HOSTILE: usize = 1_000;
const HOLD: Duration = Duration::from_secs(20);
const PROBE_EVERY: Duration = Duration::from_millis(200);
const MEDIA_CLIENTS: usize = 40;
const MEDIA_BYTES: usize = 19 * 1024 * 1024;
const WAIT: Duration = Duration::from_secs(20);

#[tokio::main]
async fn main() -> ExitCode {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "all".to_owned());
    let bin = match testkit::bot_binary() {
        Ok(bin) => bin,
        Err(error) => {
            eprintln!("abuse: {error}");
            return ExitCode::FAILURE;
        }
    };
    match mode.as_str() {
        "hostile" => hostile(&bin).await,
        "media" => media(&bin).await,
        "all" => {
            hostile(&bin).await;
            media(&bin).await;
        }
        other => {
            eprintln!("abuse: unknown mode {other:?} (hostile, media or all)");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

struct Bot {
    env: TestEnv,
    process: BotProcess,
    addr: String,
}

async fn start_bot(bin: &Path, image_mode: &str) -> Bot {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let mut env = TestEnv::start(bin).await;
    env.set_env("HTTP_BIND", &addr);
    env.set_env("PUBLIC_BASE_URL", &format!("http://{addr}"));
    env.set_env("WEBHOOK_SECRET", SECRET);
    env.set_env("IMAGE_MODE", image_mode);
    env.set_env("RUST_LOG", "warn");
    let process = env.start_bot();
    env.tg.wait_for("setWebhook", 1, WAIT).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    Bot { env, process, addr }
}

/// Current and peak RSS (KiB) and open file descriptors of `pid`.
fn sample(pid: u32) -> (u64, u64, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0);
    (field("VmRSS:"), field("VmHWM:"), fds)
}

fn mb(kib: u64) -> String {
    format!("{:.1} MB", kib as f64 * 1024.0 / 1e6)
}

#[derive(Clone, Copy)]
enum Kind {
    Idle,
    SlowHead,
    SlowBody,
}

/// Keeps one hostile connection open until `stop`, reopening it whenever the bot closes it.
async fn hostile_client(addr: String, kind: Kind, stop: Arc<AtomicBool>, opened: Arc<AtomicUsize>) {
    let head = "POST /telegram/webhook HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\nContent-Length: 2000000\r\n\r\n";
    while !stop.load(Ordering::Relaxed) {
        let Ok(mut stream) = TcpStream::connect(&addr).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        opened.fetch_add(1, Ordering::Relaxed);
        let chunk = vec![b'x'; 16 * 1024];
        let mut sent = 0usize;
        loop {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let result = match kind {
                // Nothing to send; a read tells when the bot closes.
                Kind::Idle => {
                    let mut buffer = [0u8; 1];
                    match tokio::time::timeout(
                        Duration::from_secs(1),
                        tokio::io::AsyncReadExt::read(&mut stream, &mut buffer),
                    )
                    .await
                    {
                        Ok(Ok(0) | Err(_)) => Err(()),
                        _ => Ok(()),
                    }
                }
                Kind::SlowHead => {
                    let byte = head.as_bytes()[sent % 40];
                    sent += 1;
                    let written = stream.write_all(&[byte]).await.map_err(|_| ());
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    written
                }
                Kind::SlowBody => {
                    let written = if sent == 0 {
                        stream.write_all(head.as_bytes()).await
                    } else {
                        stream.write_all(&chunk).await
                    };
                    sent += 1;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    written.map_err(|_| ())
                }
            };
            if result.is_err() {
                break;
            }
        }
    }
}

fn show(name: &str, mut latencies: Vec<Duration>, failures: usize) {
    latencies.sort();
    println!(
        "  {name}: {} answered, {failures} failed; p50 {:?}, p99 {:?}, max {:?}",
        latencies.len(),
        percentile(&latencies, 0.5).unwrap_or_default(),
        percentile(&latencies, 0.99).unwrap_or_default(),
        latencies.last().copied().unwrap_or_default()
    );
}

async fn hostile(bin: &Path) {
    let bot = start_bot(bin, "data").await;
    let pid = bot.process.pid();
    let (rss0, _, fds0) = sample(pid);
    println!("hostile: {HOSTILE} connections for {HOLD:?} against {} (HTTP_MAX_CONNECTIONS default)", bot.addr);
    println!("  before: RSS {}, {fds0} fds", mb(rss0));

    let stop = Arc::new(AtomicBool::new(false));
    let opened = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for i in 0..HOSTILE {
        let kind = [Kind::Idle, Kind::SlowHead, Kind::SlowBody][i % 3];
        clients.push(tokio::spawn(hostile_client(bot.addr.clone(), kind, stop.clone(), opened.clone())));
    }

    let started = Instant::now();
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).timeout(Duration::from_secs(10)).build().unwrap();
    let (mut health, mut health_failed) = (Vec::new(), 0);
    let (mut hook, mut hook_failed) = (Vec::new(), 0);
    let mut replies = Vec::new();
    let (mut peak_rss, mut peak_fds) = (0u64, 0usize);
    let mut update_id = 1;
    while started.elapsed() < HOLD {
        tokio::time::sleep(PROBE_EVERY).await;
        let (rss, _, fds) = sample(pid);
        peak_rss = peak_rss.max(rss);
        peak_fds = peak_fds.max(fds);

        let t = Instant::now();
        match client.get(format!("http://{}/healthz", bot.addr)).send().await {
            Ok(r) if r.status() == 200 => health.push(t.elapsed()),
            _ => health_failed += 1,
        }

        let user = 900_000 + update_id;
        let message = Msg::text(&Chat::private(user), &User::new(user), "/help").build();
        let body = json!({"update_id": update_id, "message": message}).to_string();
        update_id += 1;
        let t = Instant::now();
        let posted = client
            .post(format!("http://{}/telegram/webhook", bot.addr))
            .header("content-type", "application/json")
            .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
            .body(body)
            .send()
            .await;
        match posted {
            Ok(r) if r.status() == 200 => {
                hook.push(t.elapsed());
                let reply = bot
                    .env
                    .tg
                    .wait_call("help reply", Duration::from_secs(10), |c| {
                        c.is("sendMessage") && c.chat_id() == Some(user)
                    })
                    .await;
                let _ = reply;
                replies.push(t.elapsed());
            }
            _ => hook_failed += 1,
        }
    }
    let (rss_end, hwm, fds_end) = sample(pid);
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        let _ = client.await;
    }
    println!(
        "  hostile connections opened (incl. reopened after the bot closed them): {}",
        opened.load(Ordering::Relaxed)
    );
    println!(
        "  during: peak RSS {} (sampled), VmHWM {}, end RSS {}; peak fds {peak_fds}, end {fds_end}",
        mb(peak_rss),
        mb(hwm),
        mb(rss_end)
    );
    show("GET /healthz", health, health_failed);
    show("webhook POST (genuine /help) → 200", hook, hook_failed);
    show("webhook POST → /help reply sent", replies, 0);
    bot.process.terminate();
    bot.process.wait_exit(WAIT).await;
}

async fn media(bin: &Path) {
    let bot = start_bot(bin, "proxy").await;
    let pid = bot.process.pid();
    bot.env.tg.add_photo("big");
    bot.env.tg.add_file(&photo_size_id("big", "large"), fake_jpeg("big", MEDIA_BYTES));
    let chat = Chat::private(700);
    let message = Msg::photo(&chat, &User::new(700), "big").caption("/video big photo").build();
    let body = json!({"update_id": 1, "message": message}).to_string();
    let client = reqwest::Client::new();
    let status = client
        .post(format!("http://{}/telegram/webhook", bot.addr))
        .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .map(|r| r.status().as_u16());
    assert_eq!(status.ok(), Some(200));
    let create = &bot.env.video.wait_creates(1, WAIT).await[0];
    let url = create.body["images"][0].as_str().expect("proxied image URL").to_owned();
    let (rss0, _, _) = sample(pid);
    let get_files = bot.env.tg.calls_of("getFile").len();
    let downloads = bot.env.tg.downloads();

    let started = Instant::now();
    let peak = Arc::new(AtomicUsize::new(0));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak, sampling) = (peak.clone(), sampling.clone());
        tokio::spawn(async move {
            while sampling.load(Ordering::Relaxed) {
                peak.fetch_max(sample(pid).0 as usize, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let fetches: Vec<_> = (0..MEDIA_CLIENTS)
        .map(|_| {
            let (client, url) = (reqwest::Client::new(), url.clone());
            tokio::spawn(async move {
                let response = client.get(&url).send().await.ok()?;
                let status = response.status().as_u16();
                Some((status, response.bytes().await.ok()?.len()))
            })
        })
        .collect();
    let mut complete = 0;
    for fetch in fetches {
        if let Ok(Some((200, len))) = fetch.await
            && len == MEDIA_BYTES
        {
            complete += 1;
        }
    }
    let elapsed = started.elapsed();
    sampling.store(false, Ordering::Relaxed);
    let _ = sampler.await;
    let (rss_end, hwm, _) = sample(pid);
    println!("media: {MEDIA_CLIENTS} concurrent GETs of one {} MB photo", MEDIA_BYTES / (1024 * 1024));
    println!("  complete 200 answers: {complete}/{MEDIA_CLIENTS} in {elapsed:?}");
    println!(
        "  getFile calls: {}, downloads from Telegram: {}",
        bot.env.tg.calls_of("getFile").len() - get_files,
        bot.env.tg.downloads() - downloads
    );
    println!(
        "  RSS before {}, peak (sampled) {}, VmHWM {}, after {}",
        mb(rss0),
        mb(peak.load(Ordering::Relaxed) as u64),
        mb(hwm),
        mb(rss_end)
    );
    bot.process.terminate();
    bot.process.wait_exit(WAIT).await;
}
