//! No secret leaves the bot: logs, replies, requests.

use super::*;

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
    assert!(reply_to(&hook.env.tg, &text).await.contains("queued"));
    let echo = format!(
        "Incorrect API key provided: {VIDEO_API_KEY}; image {tg_url}/file/bot{TOKEN}/photos/x.jpg (Bearer {VIDEO_API_KEY})"
    );
    hook.env.video.script_task(&FakeVideoApi::task_id(1), vec![Reply::failed(&FakeVideoApi::task_id(1), &echo)]);

    // 2. A photo captioned with the command (data mode: the bot downloads it by its file URL).
    hook.env.tg.add_photo("secret-photo");
    let photo = Msg::photo(&chat, &user, "secret-photo").caption("/video --landscape wave hello").build();
    hook.deliver(&photo).await;
    assert!(reply_to(&hook.env.tg, &photo).await.contains("queued"));
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
    let reply = reply_to(&hook.env.tg, &first).await;
    assert!(reply.contains("queued"), "{reply}");
    assert_eq!(hook.env.video.creates()[2].body["images"].as_array().map(Vec::len), Some(2));

    // 4. A reply to an image sent as a file.
    hook.env.tg.add_document("secret-doc");
    let document = Msg::document(&chat, &user, "secret-doc", "image/png", "scan.png").build();
    hook.deliver(&document).await;
    let animate = Msg::text(&chat, &user, "/video animate this").reply_to(&document).build();
    hook.deliver(&animate).await;
    assert!(reply_to(&hook.env.tg, &animate).await.contains("queued"));

    // 5. Failing creates: an outage, and a 401 that echoes the key.
    hook.env.video.push_create(Reply::json(500, json!({"error": {"message": "upstream exploded"}})));
    let outage = Msg::text(&chat, &user, "/video during an outage").build();
    hook.deliver(&outage).await;
    assert!(reply_to(&hook.env.tg, &outage).await.contains("not reachable"));
    let refused_body = json!({"error": {"message": echo, "type": "auth", "code": "invalid_api_key"}});
    hook.env.video.push_create(Reply::json(401, refused_body));
    let refused = Msg::text(&chat, &user, "/video with a bad key").build();
    hook.deliver(&refused).await;
    assert!(reply_to(&hook.env.tg, &refused).await.contains("refused the key"));

    // 6. Looking around.
    for command in ["/status", "/status 1", "/tasks", "/quota", "/again", "/cancel 3", "/help"] {
        let message = Msg::text(&chat, &user, command).build();
        hook.deliver(&message).await;
        reply_to(&hook.env.tg, &message).await;
    }

    // The failed task told its reason; the completed one was delivered.
    hook.env.tg.wait_text(chat.id, "#1 failed", WAIT).await;
    hook.env.tg.wait_call("the finished video", WAIT, |c| c.is("sendVideo") || c.is("sendDocument")).await;
    // A forged update is refused (and its secret attempt is not logged).
    let forged = Msg::text(&chat, &user, "/video forged").build();
    assert_eq!(hook.post(&forged, Some("wrong_secret_2")).await, 401);

    assert_no_secrets(&hook).await;
}
