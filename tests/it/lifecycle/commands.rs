//! /status, /tasks, /cancel and /again, in private and in groups; updates delivered twice.

use super::*;

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
