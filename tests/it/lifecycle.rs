//! Task lifecycle end to end: the real binary follows a task from
//! `pending` to the delivered video, reports failures and timeouts, survives a
//! flaky video API and Telegram's 429s, and answers the task commands.
//!
//! Expected texts come from `sora_bot::texts` applied to the task as stored in
//! the bot's database, so every assertion is on the exact text the user sees.

mod commands;
mod status_words;

use std::time::{Duration, Instant};

use serde_json::json;
use sora_bot::{
    store::Store,
    task::{Task, TaskState},
    texts::{self, Lang},
    watcher::MIN_EDIT_GAP,
};
use testkit::*;

use crate::*;
const EN: Lang = Lang::En;

async fn task(store: &Store, id: i64) -> Task {
    store.task(id).await.expect("read task").unwrap_or_else(|| panic!("task #{id} stored"))
}

/// `task` as it looked while running with this upstream status and progress.
fn running(task: &Task, status: &str, progress_pct: Option<u8>) -> Task {
    Task {
        state: TaskState::Running,
        upstream_status: Some(status.into()),
        progress_pct,
        video_url: None,
        error: None,
        ..task.clone()
    }
}

fn replies(env: &TestEnv, chat_id: i64, command_id: i64) -> Vec<Call> {
    env.tg.replies(chat_id, command_id)
}

async fn wait_replies(env: &TestEnv, chat_id: i64, command_id: i64, n: usize) -> Vec<Call> {
    env.tg.wait_replies(chat_id, command_id, n, WAIT).await
}

/// The text of the first reply to `command_id`.
async fn reply_text(env: &TestEnv, chat_id: i64, command_id: i64) -> String {
    wait_replies(env, chat_id, command_id, 1).await[0].text().unwrap_or_default().to_owned()
}

async fn wait_edits(env: &TestEnv, chat_id: i64, message_id: i32, n: usize) -> Vec<Call> {
    let found = poll_until(WAIT, || {
        let found = edits(env, chat_id, message_id);
        (found.len() >= n).then_some(found)
    });
    found
        .await
        .unwrap_or_else(|| panic!("expected {n} edit(s) of message {message_id} in chat {chat_id}\n{}", env.tg.dump()))
}

/// Waits until task `id` is stored with a status message and returns that message's id.
async fn status_message_id(store: &Store, id: i64) -> i32 {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(message_id) = task(store, id).await.status_msg_id {
            return message_id;
        }
        assert!(Instant::now() < deadline, "task #{id} got no status message");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A recognisable "video" of `len` bytes.
fn video_bytes(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

fn texts_of(calls: &[Call]) -> Vec<String> {
    calls.iter().map(|c| c.text().unwrap_or_default().to_owned()).collect()
}

/// The query requests are `GET /v1/video/query?id=<id>` with the Bearer key,
/// no more often than the poll interval.
fn assert_queries_well_formed(env: &TestEnv, upstream_id: &str) {
    let queries = env.video.queries_of(upstream_id);
    assert!(!queries.is_empty(), "{upstream_id} was queried");
    for query in &queries {
        assert_eq!(query.headers["authorization"], format!("Bearer {VIDEO_API_KEY}"));
    }
    for pair in queries.windows(2) {
        let gap = pair[1].at.duration_since(pair[0].at);
        assert!(
            gap >= Duration::from_millis(800),
            "queries of {upstream_id} only {gap:?} apart (POLL_INTERVAL_SECS=1)"
        );
    }
}

#[tokio::test]
async fn pending_then_processing_with_progress_then_the_video_is_delivered_once() {
    let (env, _bot) = bot_with(&[]).await;
    let upstream_id = FakeVideoApi::task_id(1);
    // The status message is edited at most every MIN_EDIT_GAP: the API stays at
    // 42 % until the test has seen that edit, then completes.
    env.video.script_task(
        &upstream_id,
        vec![
            Reply::task(&upstream_id, "pending"),
            Reply::json(200, json!({"id": upstream_id, "status": "processing", "progress": 42})),
        ],
    );
    let chat = Chat::private(601);
    let prompt = "a red fox running through fresh snow";
    let command_id = send(&env, Msg::text(&chat, &User::new(601), &format!("/video {prompt}")));

    let status = wait_replies(&env, 601, command_id, 1).await.remove(0);
    let store = store(&env).await;
    let stored = task(&store, 1).await;
    assert_eq!(stored.upstream_id.as_deref(), Some(upstream_id.as_str()));
    assert_eq!(status.text(), Some(texts::task_status(EN, &running(&stored, "pending", None)).as_str()));
    let status_id = status_message_id(&store, 1).await;

    // Progress: one edit of the status message, not before MIN_EDIT_GAP.
    let progress = wait_edits(&env, 601, status_id, 1).await.remove(0);
    let progress_text = texts::task_status(EN, &running(&stored, "processing", Some(42)));
    assert!(progress_text.contains("42%"), "{progress_text}");
    assert_eq!(progress.text(), Some(progress_text.as_str()));
    let gap = progress.at.duration_since(status.at);
    assert!(gap >= MIN_EDIT_GAP, "progress edited {gap:?} after the status message");

    let video_url = env.video.file_url("v.mp4");
    env.video.add_file("v.mp4", video_bytes(1000));
    env.video.script_task(&upstream_id, vec![Reply::completed(&upstream_id, &video_url)]);

    let sent = env.tg.wait_for("sendVideo", 1, WAIT).await;
    let video = &sent[0].body;
    assert_eq!(sent[0].chat_id(), Some(601));
    assert_eq!(video["video"], json!(video_url));
    assert_eq!(video["supports_streaming"], json!(true));
    assert_eq!(video["reply_parameters"]["message_id"], json!(command_id));
    let caption = video["caption"].as_str().expect("caption");
    assert_eq!(caption, texts::video_caption(EN, &stored));
    assert!(caption.contains(prompt), "{caption}");

    let all_edits = wait_edits(&env, 601, status_id, 2).await;
    let done = task(&store, 1).await;
    assert_eq!(done.state, TaskState::Done);
    assert_eq!(done.video_url.as_deref(), Some(video_url.as_str()));
    assert_eq!(texts_of(&all_edits), [progress_text, texts::task_status(EN, &done)]);

    // Finished: no second video, no more edits, no more queries, nothing else said.
    let queried = env.video.queries_of(&upstream_id).len();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(env.tg.attempts_of("sendVideo").len(), 1, "{}", env.tg.dump());
    assert_eq!(edits(&env, 601, status_id).len(), 2);
    assert_eq!(env.video.queries_of(&upstream_id).len(), queried, "polling stopped after delivery");
    assert_eq!(env.tg.sent_texts(601), [status.text().unwrap().to_owned()]);
    assert_eq!(env.video.creates().len(), 1);
    assert_queries_well_formed(&env, &upstream_id);
}

#[tokio::test]
async fn a_failed_task_tells_the_user_why() {
    let (env, _bot) = bot_with(&[]).await;
    let upstream_id = FakeVideoApi::task_id(1);
    let reason = "content policy violation: depicts a real person";
    env.video
        .script_task(&upstream_id, vec![Reply::task(&upstream_id, "pending"), Reply::failed(&upstream_id, reason)]);
    let chat = Chat::private(602);
    let command_id = send(&env, Msg::text(&chat, &User::new(602), "/video the president riding a dragon"));

    let replied = wait_replies(&env, 602, command_id, 2).await;
    let store = store(&env).await;
    let failed = task(&store, 1).await;
    assert_eq!(failed.state, TaskState::Failed);
    assert_eq!(failed.error.as_deref(), Some(reason));
    assert_eq!(replied[1].text(), Some(texts::task_failed(EN, &failed, Some(reason)).as_str()));
    assert!(replied[1].text().unwrap().contains(reason));

    // The status message shows the end too, once; nothing else follows.
    let status_id = failed.status_msg_id.expect("status message stored");
    let final_edit = wait_edits(&env, 602, status_id, 1).await;
    assert_eq!(texts_of(&final_edit), [texts::task_status(EN, &failed)]);
    let queried = env.video.queries_of(&upstream_id).len();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(env.video.queries_of(&upstream_id).len(), queried, "polling stopped");
    assert_eq!(replies(&env, 602, command_id).len(), 2);
    assert!(env.tg.attempts_of("sendVideo").is_empty());
    assert_eq!(edits(&env, 602, status_id).len(), 1);
}

#[tokio::test]
async fn a_task_that_never_finishes_times_out_and_is_no_longer_polled() {
    let (env, _bot) = bot_with(&[("TASK_TIMEOUT_SECS", "3")]).await;
    let upstream_id = FakeVideoApi::task_id(1); // unscripted: pending forever
    let chat = Chat::private(603);
    let command_id = send(&env, Msg::text(&chat, &User::new(603), "/video a snail crossing the Sahara"));

    let status = wait_replies(&env, 603, command_id, 1).await.remove(0);
    let replied = wait_replies(&env, 603, command_id, 2).await;
    let after = replied[1].at.duration_since(status.at);
    assert!(after >= Duration::from_secs(2), "timed out after only {after:?}");
    let store = store(&env).await;
    let timed_out = task(&store, 1).await;
    assert_eq!(timed_out.state, TaskState::TimedOut);
    // TASK_TIMEOUT_SECS=3 is shown rounded up to whole minutes.
    assert_eq!(replied[1].text(), Some(texts::task_timed_out(EN, &timed_out, 1).as_str()));

    let status_id = timed_out.status_msg_id.expect("status message stored");
    let final_edit = wait_edits(&env, 603, status_id, 1).await;
    assert_eq!(texts_of(&final_edit), [texts::task_status(EN, &timed_out)]);
    let queried = env.video.queries_of(&upstream_id).len();
    assert!(queried >= 1);
    tokio::time::sleep(Duration::from_millis(3000)).await;
    assert_eq!(env.video.queries_of(&upstream_id).len(), queried, "querying stops after the timeout");
    assert_eq!(replies(&env, 603, command_id).len(), 2);
    assert!(env.tg.attempts_of("sendVideo").is_empty());
}

#[tokio::test]
async fn query_errors_are_retried_and_the_video_still_arrives_once() {
    let (env, _bot) = bot_with(&[]).await;
    let upstream_id = FakeVideoApi::task_id(1);
    let video_url = env.video.file_url("flaky.mp4");
    env.video.script_task(
        &upstream_id,
        vec![
            Reply::task(&upstream_id, "pending"),
            Reply::json(500, json!({"error": {"message": "upstream exploded"}})),
            Reply::json(500, json!({"error": {"message": "internal error", "type": "server", "code": "500"}})),
            Reply::json(500, json!({"error": {"message": "upstream exploded"}})),
            Reply::completed(&upstream_id, &video_url),
        ],
    );
    let chat = Chat::private(604);
    let command_id = send(&env, Msg::text(&chat, &User::new(604), "/video rain on a tin roof"));
    let status = reply_text(&env, 604, command_id).await;

    let sent = env.tg.wait_for("sendVideo", 1, WAIT).await;
    assert_eq!(sent[0].body["video"], json!(video_url));
    assert_eq!(sent[0].body["reply_parameters"]["message_id"], json!(command_id));
    assert!(env.video.queries_of(&upstream_id).len() >= 5, "{}", env.video.dump());
    let store = store(&env).await;
    let status_id = status_message_id(&store, 1).await;
    wait_edits(&env, 604, status_id, 1).await;
    assert_eq!(task(&store, 1).await.state, TaskState::Done);

    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(env.tg.attempts_of("sendVideo").len(), 1, "delivered once");
    assert_eq!(env.tg.sent_texts(604), [status], "the outage is not the user's business");
    assert_queries_well_formed(&env, &upstream_id);
}

#[tokio::test]
async fn when_telegram_cannot_fetch_the_url_the_video_is_downloaded_and_uploaded() {
    let (env, _bot) = bot_with(&[]).await;
    let upstream_id = FakeVideoApi::task_id(1);
    let bytes = video_bytes(300_000);
    env.video.add_file("clip.mp4", bytes.clone());
    let video_url = env.video.file_url("clip.mp4");
    env.video.script_task(&upstream_id, vec![Reply::completed(&upstream_id, &video_url)]);
    env.tg.fail_next(
        "sendVideo",
        1,
        Failure::BadRequest("Bad Request: wrong file identifier/HTTP URL specified".into()),
    );
    let chat = Chat::private(605);
    let prompt = "a paper boat in a gutter stream";
    let command_id = send(&env, Msg::text(&chat, &User::new(605), &format!("/video {prompt}")));
    let status = reply_text(&env, 605, command_id).await;

    let uploaded = env.tg.wait_for("sendVideo", 1, WAIT).await.remove(0);
    let attempts = env.tg.attempts_of("sendVideo");
    assert_eq!(attempts.len(), 2, "{}", env.tg.dump());
    assert!(attempts[0].failed);
    assert_eq!(attempts[0].body["video"], json!(video_url), "by URL first");
    assert_eq!(uploaded.chat_id(), Some(605));
    let file = uploaded.file("video").expect("the video uploaded as a file");
    assert_eq!(file.bytes.len(), bytes.len());
    assert!(file.bytes == bytes, "the exact bytes of the video");
    assert_eq!(uploaded.body["supports_streaming"], json!(true));
    assert_eq!(uploaded.body["reply_parameters"]["message_id"], json!(command_id));
    assert!(uploaded.body["caption"].as_str().unwrap_or_default().contains(prompt), "{}", uploaded.body);

    let actions = env.tg.calls_of("sendChatAction");
    assert!(
        actions.iter().any(|a| a.chat_id() == Some(605) && a.body["action"] == json!("upload_video")),
        "uploading video… shown: {}",
        env.tg.dump()
    );
    let store = store(&env).await;
    let status_id = status_message_id(&store, 1).await;
    wait_edits(&env, 605, status_id, 1).await;
    assert_eq!(task(&store, 1).await.state, TaskState::Done);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(env.tg.attempts_of("sendVideo").len(), 2, "no further video");
    assert_eq!(env.tg.sent_texts(605), [status], "no link: the upload worked");
}

/// The failed attempt and the successful retry of `method`, with the same request.
fn assert_retried_after_429(env: &TestEnv, method: &str) -> Call {
    let attempts = env.tg.attempts_of(method);
    assert_eq!(attempts.len(), 2, "{method}: one 429, one success\n{}", env.tg.dump());
    assert!(attempts[0].failed && !attempts[1].failed, "{method}");
    assert_eq!(attempts[0].body, attempts[1].body, "{method}: the same request again");
    let waited = attempts[1].at.duration_since(attempts[0].at);
    assert!(waited >= Duration::from_millis(950), "{method}: retried after {waited:?}, not retry_after=1");
    attempts[1].clone()
}

#[tokio::test]
async fn telegram_429s_are_waited_out_and_nothing_is_dropped() {
    let (env, _bot) = bot_with(&[]).await;
    let upstream_id = FakeVideoApi::task_id(1);
    let video_url = env.video.file_url("late.mp4");
    env.video.script_task(
        &upstream_id,
        vec![Reply::task(&upstream_id, "pending"), Reply::completed(&upstream_id, &video_url)],
    );
    for method in ["sendMessage", "editMessageText", "sendVideo"] {
        env.tg.fail_next(method, 1, Failure::RetryAfter(1));
    }
    let chat = Chat::private(606);
    let command_id = send(&env, Msg::text(&chat, &User::new(606), "/video fireworks over a frozen lake"));

    let status = wait_replies(&env, 606, command_id, 1).await.remove(0);
    let store = store(&env).await;
    let status_id = status_message_id(&store, 1).await;
    env.tg.wait_for("sendVideo", 1, WAIT).await;
    let final_edit = wait_edits(&env, 606, status_id, 1).await.remove(0);

    let status_retry = assert_retried_after_429(&env, "sendMessage");
    assert_eq!(status_retry.text(), status.text());
    let video = assert_retried_after_429(&env, "sendVideo");
    assert_eq!(video.body["video"], json!(video_url));
    assert_eq!(video.body["reply_parameters"]["message_id"], json!(command_id));
    let edit = assert_retried_after_429(&env, "editMessageText");
    let done = task(&store, 1).await;
    assert_eq!(done.state, TaskState::Done);
    assert_eq!(edit.text(), Some(texts::task_status(EN, &done).as_str()));
    assert_eq!(final_edit.text(), edit.text());

    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(env.tg.calls_of("sendVideo").len(), 1);
    assert_eq!(env.tg.calls_of("sendMessage").len(), 1);
    assert_eq!(env.tg.calls_of("editMessageText").len(), 1);
}
