use super::*;
use crate::{task::TaskState, watcher::fake::Fake};

const LIMIT: u64 = 10_000;

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

#[tokio::test]
async fn sends_by_url_as_a_playable_reply() {
    let fake = Fake::start().await;
    let url = fake.serve("/v.mp4", vec![1; 100], false);
    let how = deliver_with_limit(&fake.telegram(), &fake.downloads(), &task(901), &url, LIMIT).await.unwrap().0;
    assert_eq!(how, Delivered::ByUrl);
    let sent = fake.calls("sendVideo");
    assert_eq!(sent.len(), 1);
    let body = &sent[0].json;
    assert_eq!(body["video"], url.as_str());
    assert_eq!(body["supports_streaming"], true);
    assert_eq!(body["reply_parameters"]["message_id"], 42);
    assert_eq!(body["reply_parameters"]["allow_sending_without_reply"], true);
    assert!(body["caption"].as_str().unwrap().contains("a cat surfing"));
}

#[tokio::test]
async fn uploads_when_telegram_cannot_fetch_the_url() {
    for chunked in [false, true] {
        let fake = Fake::start().await;
        let video = mp4(LIMIT as usize);
        let url = fake.serve("/v.mp4", video.clone(), chunked);
        fake.refuse_next("sendVideo", "Bad Request: failed to get HTTP URL content");
        let how = deliver_with_limit(&fake.telegram(), &fake.downloads(), &task(902), &url, LIMIT).await.unwrap().0;
        assert_eq!(how, Delivered::Uploaded);
        let sent = fake.calls("sendVideo");
        assert_eq!(sent.len(), 1, "only the upload succeeded");
        let upload = sent[0].upload.as_ref().expect("multipart upload");
        assert!(upload.windows(video.len()).any(|w| w == video.as_slice()), "the whole video was uploaded");
        assert!(!fake.calls("sendChatAction").is_empty(), "uploading video… shown");
        assert_eq!(temp_files_of(902), 0, "temp file removed");
    }
}

#[tokio::test]
async fn sends_the_link_when_too_large_or_unavailable() {
    for (path, chunked, serve) in
        [("/big.mp4", false, true), ("/big-chunked.mp4", true, true), ("/missing.mp4", false, false)]
    {
        let fake = Fake::start().await;
        let url =
            if serve { fake.serve(path, vec![7; LIMIT as usize + 1], chunked) } else { format!("{}{path}", fake.base) };
        fake.refuse_next("sendVideo", "Bad Request: wrong file identifier/HTTP URL specified");
        let how = deliver_with_limit(&fake.telegram(), &fake.downloads(), &task(903), &url, LIMIT).await.unwrap().0;
        assert_eq!(how, Delivered::Link, "{path}");
        assert!(fake.calls("sendVideo").is_empty(), "{path}: nothing uploaded");
        let texts = fake.calls("sendMessage");
        assert_eq!(texts.len(), 1);
        assert!(texts[0].json["text"].as_str().unwrap().contains(&url));
        assert_eq!(texts[0].json["reply_parameters"]["message_id"], 42);
        assert_eq!(temp_files_of(903), 0, "{path}: temp file removed");
    }
}

#[tokio::test]
async fn a_closed_chat_is_a_permanent_error_without_a_download() {
    let fake = Fake::start().await;
    let url = fake.serve("/v.mp4", vec![1; 100], false);
    fake.refuse_next("sendVideo", "Forbidden: bot was blocked by the user");
    fake.refuse_next("sendMessage", "Forbidden: bot was blocked by the user");
    let error = deliver_with_limit(&fake.telegram(), &fake.downloads(), &task(904), &url, LIMIT).await.unwrap_err();
    assert!(error.is_permanent());
    assert!(fake.calls("sendChatAction").is_empty(), "no upload attempted");

    fake.refuse_next("sendVideo", "Bad Request: wrong file identifier/HTTP URL specified");
    fake.refuse_next("sendMessage", "Bad Gateway");
    let error = deliver_with_limit(&fake.telegram(), &fake.downloads(), &task(904), "https://127.0.0.1:1/x.mp4", LIMIT)
        .await
        .unwrap_err();
    assert!(!error.is_permanent(), "an unnamed Telegram error is retried");
}

/// Telegram could not fetch `url`; what did the bot do with it?
async fn after_refused_url(fake: &Fake, http: &GuardedClient, task_id: i64, url: &str) -> Delivered {
    fake.refuse_next("sendVideo", "Bad Request: failed to get HTTP URL content");
    deliver_with_limit(&fake.telegram(), http, &task(task_id), url, LIMIT).await.unwrap().0
}

fn assert_link_only(fake: &Fake, url: &str) {
    assert!(fake.calls("sendVideo").is_empty(), "{url}: nothing uploaded");
    let texts = fake.calls("sendMessage");
    assert_eq!(texts.len(), 1, "{url}");
    assert!(texts[0].json["text"].as_str().unwrap().contains(url), "{url}");
}

#[tokio::test]
async fn internal_addresses_are_never_downloaded() {
    for url in [
        "http://169.254.169.254/latest/meta-data/iam",
        "http://10.0.0.1/v.mp4",
        "http://[::1]:8080/v.mp4",
        "http://[fd00::1]/v.mp4",
    ] {
        let fake = Fake::start().await;
        assert_eq!(after_refused_url(&fake, &fake.downloads(), 905, url).await, Delivered::Link, "{url}");
        assert_link_only(&fake, url);
    }
    // The fake itself, when it is not the trusted video API origin: loopback.
    let fake = Fake::start().await;
    let url = fake.serve("/v.mp4", mp4(100), false);
    let elsewhere = GuardedClient::new(Some(&"http://127.0.0.1:1/".parse().unwrap()));
    assert_eq!(after_refused_url(&fake, &elsewhere, 905, &url).await, Delivered::Link);
    assert_link_only(&fake, &url);
    assert_eq!(fake.file_requests(), 0, "no request reached the loopback address");
}

#[tokio::test]
async fn every_redirect_is_checked_and_at_most_three_are_followed() {
    // Trusted origin → loopback elsewhere (the bot's own /metrics, say): refused.
    let fake = Fake::start().await;
    let inside = Fake::start().await;
    let target = inside.serve("/secret.mp4", mp4(100), false);
    let url = fake.redirect("/r.mp4", &target);
    assert_eq!(after_refused_url(&fake, &fake.downloads(), 906, &url).await, Delivered::Link);
    assert_link_only(&fake, &url);
    assert_eq!(inside.file_requests(), 0, "the redirect target was never fetched");

    // Redirects within the trusted origin are followed, up to three.
    let fake = Fake::start().await;
    fake.serve("/v.mp4", mp4(100), false);
    fake.redirect("/r1", "/v.mp4");
    fake.redirect("/r2", "/r1");
    let url = fake.redirect("/r3", &format!("{}/r2", fake.base));
    assert_eq!(after_refused_url(&fake, &fake.downloads(), 906, &url).await, Delivered::Uploaded);
    let url = fake.redirect("/r4", "/r3");
    let fake2 = fake.clone();
    assert_eq!(after_refused_url(&fake2, &fake.downloads(), 906, &url).await, Delivered::Link, "four redirects");
}

#[tokio::test]
async fn only_videos_are_uploaded() {
    let fake = Fake::start().await;
    let url = fake.serve("/page.mp4", b"<html>an error page, or some internal file</html>".to_vec(), false);
    assert_eq!(after_refused_url(&fake, &fake.downloads(), 907, &url).await, Delivered::Link);
    assert_link_only(&fake, &url);
    assert_eq!(temp_files_of(907), 0);
    let url = fake.serve("/v.webm", [&[0x1A, 0x45, 0xDF, 0xA3][..], &[0; 96]].concat(), true);
    assert_eq!(after_refused_url(&fake, &fake.downloads(), 907, &url).await, Delivered::Uploaded);
}
