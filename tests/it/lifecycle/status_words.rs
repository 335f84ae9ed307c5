//! The status words of the other model families (veo's `VIDEO_GENERATING`,
//! `video_upsampling`, …) and a "success" that never brings a video.

use super::*;

/// Waits until the last edit of the status message reads `text`.
async fn wait_last_edit(env: &TestEnv, chat_id: i64, message_id: i32, text: &str) {
    let shown = poll_until(WAIT, || {
        let found = edits(env, chat_id, message_id);
        found.last().filter(|edit| edit.text() == Some(text)).map(|_| ())
    });
    shown.await.unwrap_or_else(|| panic!("status message never showed {text:?}\n{}", env.tg.dump()));
}

#[tokio::test]
async fn success_without_a_video_three_times_in_a_row_fails_with_the_reason() {
    let (env, _bot) = bot_with(&[]).await;
    let store = store(&env).await;
    let empty_success = |id: &str| Reply::json(200, json!({"id": id, "status": "SUCCESS", "video_url": null}));
    let (en_id, zh_id) = (FakeVideoApi::task_id(1), FakeVideoApi::task_id(2));
    env.video.script_task(&en_id, vec![empty_success(&en_id)]);
    env.video.script_task(&zh_id, vec![empty_success(&zh_id)]);

    let english = send(&env, Msg::text(&Chat::private(621), &User::new(621), "/video a lighthouse in a storm"));
    reply_text(&env, 621, english).await;
    let chinese = send(&env, Msg::text(&Chat::private(622), &User::new(622).lang("zh-hans"), "/video 暴风雨中的灯塔"));
    reply_text(&env, 622, chinese).await;

    for (chat_id, command_id, upstream_id, id, lang, reason) in [
        (621, english, &en_id, 1, Lang::En, "the video API sent no video"),
        (622, chinese, &zh_id, 2, Lang::Zh, "视频接口没有发送视频"),
    ] {
        let replied = wait_replies(&env, chat_id, command_id, 2).await;
        let failed = task(&store, id).await;
        assert_eq!(failed.state, TaskState::Failed);
        assert_eq!(failed.error.as_deref(), Some(texts::NO_VIDEO_REASON));
        let told = replied[1].text().unwrap_or_default();
        assert_eq!(told, texts::task_failed(lang, &failed, Some(texts::NO_VIDEO_REASON)));
        assert!(told.contains(reason), "{told}");
        assert_eq!(env.video.queries_of(upstream_id).len(), 3, "failed at the third empty success, not the time-out");
        let status_id = failed.status_msg_id.expect("status message stored");
        wait_last_edit(&env, chat_id, status_id, &texts::task_status(lang, &failed)).await;
        assert!(texts::task_status(lang, &failed).ends_with(reason));
    }

    // Ended: no more queries, no video, nothing else said.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(env.video.queries_of(&en_id).len(), 3);
    assert_eq!(env.video.queries_of(&zh_id).len(), 3);
    assert!(env.tg.attempts_of("sendVideo").is_empty());
    assert_eq!(replies(&env, 621, english).len(), 2);
    assert_eq!(replies(&env, 622, chinese).len(), 2);
}

#[tokio::test]
async fn veo_generating_then_upscaling_then_upscaled_delivers_the_video() {
    let (env, _bot) = bot_with(&[]).await;
    let upstream_id = FakeVideoApi::task_id(1);
    env.video.script_task(&upstream_id, vec![Reply::task(&upstream_id, "VIDEO_GENERATING")]);
    let chat = Chat::private(623);
    let command_id = send(&env, Msg::text(&chat, &User::new(623), "/video a hummingbird in slow motion"));
    reply_text(&env, 623, command_id).await;
    let store = store(&env).await;
    let status_id = status_message_id(&store, 1).await;

    // The status message says what VIDEO_GENERATING means.
    let stored = task(&store, 1).await;
    let generating = texts::task_status(EN, &running(&stored, "VIDEO_GENERATING", None));
    assert!(generating.contains("🎬 making the video"), "{generating}");
    wait_last_edit(&env, 623, status_id, &generating).await;

    let video_url = env.video.add_file("upscaled.mp4", video_bytes(2000));
    env.video.script_task(
        &upstream_id,
        vec![
            Reply::task(&upstream_id, "video_upsampling"),
            Reply::json(
                200,
                json!({"id": upstream_id, "status": "video_upsampling_completed", "video_url": video_url}),
            ),
        ],
    );
    let sent = env.tg.wait_for("sendVideo", 1, WAIT).await;
    assert_eq!(sent[0].chat_id(), Some(623));
    assert_eq!(sent[0].body["video"], json!(video_url));
    assert_eq!(sent[0].body["reply_parameters"]["message_id"], json!(command_id));

    let deadline = Instant::now() + WAIT;
    let done = loop {
        let now = task(&store, 1).await;
        if now.state == TaskState::Done {
            break now;
        }
        assert!(Instant::now() < deadline, "task #1 not done: {:?}", now.state);
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(done.upstream_status.as_deref(), Some("video_upsampling_completed"));
    assert_eq!(done.video_url.as_deref(), Some(video_url.as_str()));
    wait_last_edit(&env, 623, status_id, &texts::task_status(EN, &done)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(env.tg.attempts_of("sendVideo").len(), 1, "delivered once");
}
