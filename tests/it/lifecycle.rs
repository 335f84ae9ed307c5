//! Task lifecycle end to end (issue 3): the real binary follows a task from
//! `pending` to the delivered video, reports failures and timeouts, survives a
//! flaky video API and Telegram's 429s, and answers the task commands.
//!
//! Expected texts come from `sora_bot::texts` applied to the task as stored in
//! the bot's database, so every assertion is on the exact text the user sees.

use std::time::{Duration, Instant};

use serde_json::json;
use sora_bot::{
    store::Store,
    task::{Task, TaskState},
    texts::{self, Lang},
    watcher::MIN_EDIT_GAP,
};
use testkit::*;

use crate::bot_bin;

const WAIT: Duration = Duration::from_secs(15);
const EN: Lang = Lang::En;

async fn bot_with(vars: &[(&str, &str)]) -> (TestEnv, BotProcess) {
    TestEnv::start_with(bot_bin(), vars).await
}

/// The bot's own database, opened beside it (after it started and migrated it).
async fn store(env: &TestEnv) -> Store {
    Store::connect(env.var("DATABASE_URL").expect("DATABASE_URL set")).await.expect("open the bot's database")
}

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

/// Pushes `message` and returns its message id.
fn send(env: &TestEnv, message: Msg) -> i64 {
    let message = message.build();
    let id = message["message_id"].as_i64().expect("message id");
    env.tg.push_message(message);
    id
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

/// Successful edits of message `message_id` in `chat_id`, in order.
fn edits(env: &TestEnv, chat_id: i64, message_id: i32) -> Vec<Call> {
    env.tg
        .calls_of("editMessageText")
        .into_iter()
        .filter(|c| c.chat_id() == Some(chat_id) && c.body["message_id"] == json!(message_id))
        .collect()
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

#[tokio::test]
async fn status_tasks_cancel_and_again_answer_as_replies() {
    // A cancelled task keeps its slot until it ends upstream: room for three.
    let (env, _bot) = bot_with(&[("MAX_ACTIVE_PER_USER", "3")]).await;
    let chat = Chat::private(611);
    let user = User::new(611);
    let first = send(&env, Msg::text(&chat, &user, "/video a quiet harbour at dawn"));
    reply_text(&env, 611, first).await;
    let store = &store(&env).await;
    env.tg.add_photo("fox");
    let second =
        send(&env, Msg::photo(&chat, &user, "fox").caption("/video --landscape d=10 s=small a fox in the snow"));
    reply_text(&env, 611, second).await;
    let creates = env.video.wait_creates(2, WAIT).await;
    assert_eq!(creates[1].body["images"].as_array().map(Vec::len), Some(1), "{}", creates[1].body);

    // /status: the latest task; /status <id>; /status <upstream id>; unknown ids.
    let latest = send(&env, Msg::text(&chat, &user, "/status"));
    assert_eq!(reply_text(&env, 611, latest).await, texts::task_status(EN, &task(store, 2).await));
    let by_id = send(&env, Msg::text(&chat, &user, "/status 1"));
    let first_status = texts::task_status(EN, &task(store, 1).await);
    assert_eq!(reply_text(&env, 611, by_id).await, first_status);
    assert!(first_status.contains("a quiet harbour at dawn"), "{first_status}");
    let by_upstream = send(&env, Msg::text(&chat, &user, &format!("/status {}", FakeVideoApi::task_id(1))));
    assert_eq!(reply_text(&env, 611, by_upstream).await, first_status);
    let unknown = send(&env, Msg::text(&chat, &user, "/status 42"));
    assert_eq!(reply_text(&env, 611, unknown).await, texts::task_not_found(EN));

    // /tasks: the user's, most recent first.
    let list = send(&env, Msg::text(&chat, &user, "/tasks"));
    let recent = store.recent_for_user(611, 10).await.unwrap();
    assert_eq!(recent.iter().map(|t| t.id).collect::<Vec<_>>(), [2, 1]);
    assert_eq!(reply_text(&env, 611, list).await, texts::tasks_list(EN, &recent));

    // /cancel 1: answered, status message edited, no more messages about it;
    // it keeps its slot and is followed silently until it ends upstream.
    let upstream_1 = FakeVideoApi::task_id(1);
    env.video.wait_queries(&upstream_1, 1, WAIT).await;
    let cancel = send(&env, Msg::text(&chat, &user, "/cancel 1"));
    let answer = reply_text(&env, 611, cancel).await;
    assert_eq!(answer, texts::cancelled(EN, 1));
    assert!(answer.contains("cannot cancel"), "{answer}");
    let cancelled = task(store, 1).await;
    assert_eq!(cancelled.state, TaskState::Running, "still running upstream");
    assert!(cancelled.is_silenced());
    let status_1 = cancelled.status_msg_id.expect("status message of #1");
    assert_eq!(texts_of(&wait_edits(&env, 611, status_1, 1).await), [texts::task_status(EN, &cancelled)]);

    let again_cancel = send(&env, Msg::text(&chat, &user, "/cancel 1"));
    assert!(reply_text(&env, 611, again_cancel).await.starts_with("Video #1 can no longer be stopped"));
    let bare_cancel = send(&env, Msg::text(&chat, &user, "/cancel"));
    assert_eq!(reply_text(&env, 611, bare_cancel).await, texts::cancel_usage(EN));
    env.video.script_task(&upstream_1, vec![Reply::completed(&upstream_1, &env.video.file_url("cancelled.mp4"))]);

    // /again: a third task with the same prompt, options and photo as the last request.
    let again = send(&env, Msg::text(&chat, &user, "/again"));
    let creates = env.video.wait_creates(3, WAIT).await;
    assert_eq!(creates[2].body, creates[1].body, "the same create request again");
    // The reply comes after the create answer is stored: read the row after it.
    let again_reply = reply_text(&env, 611, again).await;
    let (second_task, third) = (task(store, 2).await, task(store, 3).await);
    assert_eq!(third.prompt, "a fox in the snow");
    assert_eq!(third.options, second_task.options);
    assert_eq!(third.image_file_ids, second_task.image_file_ids);
    assert_eq!(again_reply, texts::task_status(EN, &running(&third, "pending", None)));

    // Once it ends upstream it ends here as cancelled, without its video.
    let deadline = Instant::now() + WAIT;
    while task(store, 1).await.state != TaskState::Cancelled {
        assert!(Instant::now() < deadline, "the cancelled task ends when the API finishes it");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let queried = env.video.queries_of(&upstream_1).len();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(env.video.queries_of(&upstream_1).len(), queried, "an ended task is not polled");
    assert!(env.tg.attempts_of("sendVideo").is_empty(), "a cancelled task's video is not delivered");
    assert_eq!(env.video.creates().len(), 3);
    // Every command got exactly one answer, as a reply to it.
    for command in [latest, by_id, by_upstream, unknown, list, cancel, again_cancel, bare_cancel, again] {
        assert_eq!(replies(&env, 611, command).len(), 1, "one reply to message {command}");
    }
}

#[tokio::test]
async fn in_a_group_tasks_lists_the_chats_tasks_and_others_tasks_stay_private() {
    let (env, _bot) = bot_with(&[]).await;
    let group = Chat::group(-100_620);
    let (alice, bob) = (User::new(621), User::new(622));
    let private = send(&env, Msg::text(&Chat::private(621), &alice, "/video alice alone at home"));
    reply_text(&env, 621, private).await;
    let alice_group = send(&env, Msg::text(&group, &alice, "/video alice in the group"));
    reply_text(&env, -100_620, alice_group).await;
    let bob_group = send(&env, Msg::text(&group, &bob, "/video bob in the group"));
    reply_text(&env, -100_620, bob_group).await;
    let store = store(&env).await;

    let in_group = send(&env, Msg::text(&group, &alice, "/tasks"));
    let chat_tasks = store.recent_for_chat(-100_620, 10).await.unwrap();
    assert_eq!(chat_tasks.iter().map(|t| t.id).collect::<Vec<_>>(), [3, 2]);
    let listed = reply_text(&env, -100_620, in_group).await;
    assert_eq!(listed, texts::tasks_list(EN, &chat_tasks));
    assert!(!listed.contains("alone at home"), "{listed}");

    let in_private = send(&env, Msg::text(&Chat::private(621), &alice, "/tasks"));
    let alice_tasks = store.recent_for_user(621, 10).await.unwrap();
    assert_eq!(alice_tasks.iter().map(|t| t.id).collect::<Vec<_>>(), [2, 1]);
    assert_eq!(reply_text(&env, 621, in_private).await, texts::tasks_list(EN, &alice_tasks));

    // Bob sees the group's tasks but not Alice's private one, and cannot cancel Alice's.
    let peek = send(&env, Msg::text(&group, &bob, "/status 1"));
    assert_eq!(reply_text(&env, -100_620, peek).await, texts::task_not_found(EN));
    let shared = send(&env, Msg::text(&group, &bob, "/status 2"));
    assert_eq!(reply_text(&env, -100_620, shared).await, texts::task_status(EN, &task(&store, 2).await));
    let steal = send(&env, Msg::text(&group, &bob, "/cancel 2"));
    assert_eq!(reply_text(&env, -100_620, steal).await, texts::task_not_found(EN));
    assert_eq!(task(&store, 2).await.state, TaskState::Running);
}

#[tokio::test]
async fn the_same_update_delivered_twice_creates_one_task() {
    let (env, _bot) = bot_with(&[]).await;
    let chat = Chat::private(631);
    let command = Msg::text(&chat, &User::new(631), "/video a lighthouse in a storm").build();
    let command_id = command["message_id"].as_i64().unwrap();
    let first = env.tg.push_message(command.clone());
    let second = env.tg.push_message(command);
    assert_ne!(first, second, "two updates carrying one message");

    env.video.wait_creates(1, WAIT).await;
    reply_text(&env, 631, command_id).await;
    let deadline = Instant::now() + WAIT;
    while env.tg.handed_out_at(second).is_none() {
        assert!(Instant::now() < deadline, "second update handed out");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(env.video.creates().len(), 1, "{}", env.video.dump());
    assert_eq!(replies(&env, 631, command_id).len(), 1, "{}", env.tg.dump());
    assert_eq!(store(&env).await.recent_for_chat(631, 10).await.unwrap().len(), 1);
}
