//! Delivery against the test kit's fake Bot API and video file server.

use testkit::FakeVideoApi;

use super::*;
use crate::{task::TaskState, test_support::Fakes};

const LIMIT: u64 = 10_000;

/// The buttons a delivered video of `task(id)` gets.
fn buttons(id: i64) -> InlineKeyboardMarkup {
    crate::keyboards::video(crate::lang::Lang::En, &task(id), &crate::models::Catalog::builtin())
}

fn task(id: i64) -> Task {
    Task {
        id,
        command_msg_id: 42,
        status_msg_id: Some(43),
        prompt: "a cat surfing".into(),
        state: TaskState::Delivering,
        upstream_status: Some("completed".into()),
        progress_pct: Some(100),
        ..Task::example()
    }
}

/// `len` bytes shaped like an MP4 file (an `ftyp` box first).
fn mp4(len: usize) -> Vec<u8> {
    let mut video: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    video[..8].copy_from_slice(b"\0\0\0\x18ftyp");
    video
}

fn temp_files_of(task_id: i64) -> usize {
    let prefix = format!("sora-bot-{task_id}-");
    std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with(&prefix))
        .count()
}

trait Deliver {
    async fn deliver(&self, http: &GuardedClient, task_id: i64, url: &str) -> Result<Delivered, DeliveryError>;
    async fn after_refused_url(&self, http: &GuardedClient, task_id: i64, url: &str) -> Delivered;
    fn assert_link_only(&self, url: &str);
}

impl Deliver for Fakes {
    async fn deliver(&self, http: &GuardedClient, task_id: i64, url: &str) -> Result<Delivered, DeliveryError> {
        deliver_with_limit(&self.telegram(), http, &task(task_id), url, &buttons(task_id), LIMIT)
            .await
            .map(|(how, _)| how)
    }

    /// Telegram could not fetch `url`; what did the bot do with it?
    async fn after_refused_url(&self, http: &GuardedClient, task_id: i64, url: &str) -> Delivered {
        self.refuse_next("sendVideo", "Bad Request: failed to get HTTP URL content");
        self.deliver(http, task_id, url).await.unwrap()
    }

    fn assert_link_only(&self, url: &str) {
        assert!(self.tg.calls_of("sendVideo").is_empty(), "{url}: nothing uploaded");
        let texts = self.tg.calls_of("sendMessage");
        assert_eq!(texts.len(), 1, "{url}");
        assert!(texts[0].text().unwrap().contains(url), "{url}");
    }
}

#[tokio::test]
async fn sends_by_url_as_a_playable_reply() {
    let fake = Fakes::start().await;
    let url = fake.api.add_file("v.mp4", vec![1; 100]);
    assert_eq!(fake.deliver(&fake.downloads(), 901, &url).await.unwrap(), Delivered::ByUrl);
    let sent = fake.tg.calls_of("sendVideo");
    assert_eq!(sent.len(), 1);
    let body = &sent[0].body;
    assert_eq!(body["video"], url.as_str());
    assert_eq!(body["supports_streaming"], true);
    assert_eq!(body["reply_parameters"]["message_id"], 42);
    assert_eq!(body["reply_parameters"]["allow_sending_without_reply"], true);
    assert!(body["caption"].as_str().unwrap().contains("a cat surfing"));
}

#[tokio::test]
async fn uploads_when_telegram_cannot_fetch_the_url() {
    for chunked in [false, true] {
        let fake = Fakes::start().await;
        let video = mp4(LIMIT as usize);
        let url = match chunked {
            false => fake.api.add_file("v.mp4", video.clone()),
            true => fake.api.add_chunked_file("v.mp4", video.clone()),
        };
        assert_eq!(fake.after_refused_url(&fake.downloads(), 902, &url).await, Delivered::Uploaded);
        let sent = fake.tg.calls_of("sendVideo");
        assert_eq!(sent.len(), 1, "only the upload succeeded");
        let upload = &sent[0].files.first().expect("multipart upload").bytes;
        assert_eq!(upload, &video, "the whole video was uploaded");
        assert!(!fake.tg.calls_of("sendChatAction").is_empty(), "uploading video… shown");
        assert_eq!(temp_files_of(902), 0, "temp file removed");
    }
}

#[tokio::test]
async fn sends_the_link_when_too_large_or_unavailable() {
    for (name, chunked, serve) in
        [("big.mp4", false, true), ("big-chunked.mp4", true, true), ("missing.mp4", false, false)]
    {
        let fake = Fakes::start().await;
        let big = vec![7; LIMIT as usize + 1];
        let url = match (serve, chunked) {
            (false, _) => fake.api.file_url(name),
            (true, false) => fake.api.add_file(name, big),
            (true, true) => fake.api.add_chunked_file(name, big),
        };
        fake.refuse_next("sendVideo", "Bad Request: wrong file identifier/HTTP URL specified");
        assert_eq!(fake.deliver(&fake.downloads(), 903, &url).await.unwrap(), Delivered::Link, "{name}");
        fake.assert_link_only(&url);
        let texts = fake.tg.calls_of("sendMessage");
        assert_eq!(texts[0].body["reply_parameters"]["message_id"], 42);
        assert_eq!(temp_files_of(903), 0, "{name}: temp file removed");
    }
}

#[tokio::test]
async fn a_closed_chat_is_a_permanent_error_without_a_download() {
    let fake = Fakes::start().await;
    let url = fake.api.add_file("v.mp4", vec![1; 100]);
    fake.refuse_next("sendVideo", "Forbidden: bot was blocked by the user");
    fake.refuse_next("sendMessage", "Forbidden: bot was blocked by the user");
    let error = fake.deliver(&fake.downloads(), 904, &url).await.unwrap_err();
    assert!(error.is_permanent());
    assert!(fake.tg.calls_of("sendChatAction").is_empty(), "no upload attempted");

    fake.refuse_next("sendVideo", "Bad Request: wrong file identifier/HTTP URL specified");
    fake.refuse_next("sendMessage", "Bad Gateway");
    let error = fake.deliver(&fake.downloads(), 904, "https://127.0.0.1:1/x.mp4").await.unwrap_err();
    assert!(!error.is_permanent(), "an unnamed Telegram error is retried");
}

#[tokio::test]
async fn internal_addresses_are_never_downloaded() {
    for url in [
        "http://169.254.169.254/latest/meta-data/iam",
        "http://10.0.0.1/v.mp4",
        "http://[::1]:8080/v.mp4",
        "http://[fd00::1]/v.mp4",
    ] {
        let fake = Fakes::start().await;
        assert_eq!(fake.after_refused_url(&fake.downloads(), 905, url).await, Delivered::Link, "{url}");
        fake.assert_link_only(url);
    }
    // The fake itself, when it is not the trusted video API origin: loopback.
    let fake = Fakes::start().await;
    let url = fake.api.add_file("v.mp4", mp4(100));
    let elsewhere = GuardedClient::new(Some(&"http://127.0.0.1:1/".parse().unwrap()));
    assert_eq!(fake.after_refused_url(&elsewhere, 905, &url).await, Delivered::Link);
    fake.assert_link_only(&url);
    assert_eq!(fake.api.file_requests(), 0, "no request reached the loopback address");
}

#[tokio::test]
async fn every_redirect_is_checked_and_at_most_three_are_followed() {
    // Trusted origin → loopback elsewhere (the bot's own /metrics, say): refused.
    let fake = Fakes::start().await;
    let inside = FakeVideoApi::start().await;
    let target = inside.add_file("secret.mp4", mp4(100));
    let url = fake.api.add_redirect("r.mp4", &target);
    assert_eq!(fake.after_refused_url(&fake.downloads(), 906, &url).await, Delivered::Link);
    fake.assert_link_only(&url);
    assert_eq!(inside.file_requests(), 0, "the redirect target was never fetched");

    // Redirects within the trusted origin are followed, up to three.
    let fake = Fakes::start().await;
    fake.api.add_file("v.mp4", mp4(100));
    fake.api.add_redirect("r1", "/files/v.mp4");
    fake.api.add_redirect("r2", "/files/r1");
    let url = fake.api.add_redirect("r3", &fake.api.file_url("r2"));
    assert_eq!(fake.after_refused_url(&fake.downloads(), 906, &url).await, Delivered::Uploaded);
    let url = fake.api.add_redirect("r4", "/files/r3");
    assert_eq!(fake.after_refused_url(&fake.downloads(), 906, &url).await, Delivered::Link, "four redirects");
}

#[tokio::test]
async fn only_videos_are_uploaded() {
    let fake = Fakes::start().await;
    let url = fake.api.add_page("page.mp4", "<html>an error page, or some internal file</html>");
    assert_eq!(fake.after_refused_url(&fake.downloads(), 907, &url).await, Delivered::Link);
    fake.assert_link_only(&url);
    assert_eq!(temp_files_of(907), 0);
    let url = fake.api.add_chunked_file("v.webm", [&[0x1A, 0x45, 0xDF, 0xA3][..], &[0; 96]].concat());
    assert_eq!(fake.after_refused_url(&fake.downloads(), 907, &url).await, Delivered::Uploaded);
}
