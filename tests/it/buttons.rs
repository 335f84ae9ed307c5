//! Buttons end to end: presses are `callback_query` updates built from the
//! `reply_markup` the bot really sent, answered by the real binary.

use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use sora_bot::task::TaskState;
use testkit::*;

use crate::*;

/// The `n`th reply (from 1) to `message_id`, waiting for it.
async fn reply(env: &TestEnv, chat_id: i64, message_id: i64, n: usize) -> Call {
    env.tg.wait_replies(chat_id, message_id, n, WAIT).await.remove(n - 1)
}

fn message_id(call: &Call) -> i64 {
    call.result["message_id"].as_i64().expect("a sent message")
}

fn labels(call: &Call) -> Vec<Vec<String>> {
    button_labels(&call.body["reply_markup"])
}

fn rows(rows: &[&[&str]]) -> Vec<Vec<String>> {
    rows.iter().map(|row| row.iter().map(|label| label.to_string()).collect()).collect()
}

/// The notice of the answer to a press (`None`: answered without one).
async fn notice(env: &TestEnv, callback_id: &str) -> Option<String> {
    env.tg.press_answer(callback_id, WAIT).await.body["text"].as_str().map(str::to_owned)
}

async fn wait_edit(env: &TestEnv, chat_id: i64, message_id: i64, what: &str, matches: impl Fn(&Call) -> bool) -> Call {
    let found = poll_until(WAIT, || edits(env, chat_id, message_id).into_iter().find(|c| matches(c))).await;
    found.unwrap_or_else(|| panic!("an edit of {message_id}: {what}\n{}", env.tg.dump()))
}

/// Makes upstream task `n` finish with a small video and waits for the sendVideo.
async fn finish_video(env: &TestEnv, n: usize) -> Call {
    let upstream = FakeVideoApi::task_id(n);
    let name = format!("v{n}.mp4");
    env.video.add_file(&name, vec![7; 1000]);
    env.video.script_task(&upstream, vec![Reply::completed(&upstream, &env.video.file_url(&name))]);
    let url = json!(env.video.file_url(&name));
    env.tg.wait_call("this task's video", WAIT, |c| c.is("sendVideo") && c.body["video"] == url).await
}

const ALICE: i64 = 7001;
const BOB: i64 = 7002;
const CAROL: i64 = 7003; // not allowed

#[tokio::test]
async fn status_buttons_refresh_and_stop_only_for_the_requester() {
    let group = Chat::group(-7100);
    let mut env = TestEnv::start(bot_bin()).await;
    env.remove_env("ALLOW_EVERYONE");
    env.set_env("ALLOWED_USER_IDS", &format!("{ALICE},{BOB}"));
    let _bot = env.start_bot();
    env.tg.wait_for("setMyCommands", 1, WAIT).await;
    let (alice, bob, carol) = (User::new(ALICE), User::new(BOB), User::new(CAROL));

    let upstream = FakeVideoApi::task_id(1);
    env.video.script_task(
        &upstream,
        vec![Reply::json(200, json!({"id": upstream, "status": "processing", "progress": 42}))],
    );
    let command = send(&env, Msg::text(&group, &alice, "/video a lighthouse in a storm"));
    let status = reply(&env, group.id, command, 1).await;
    assert_eq!(labels(&status), rows(&[&["🔄 Refresh", "✖ Stop"]]));
    let status_id = message_id(&status);

    let stranger = env.tg.press(&carol, &status, "✖ Stop");
    assert_eq!(notice(&env, &stranger).await.as_deref(), Some("🔒 This bot is private."));

    // Past the guard against refreshing what was shown moments ago.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let refresh = env.tg.press(&alice, &status, "🔄 Refresh");
    assert_eq!(notice(&env, &refresh).await, None);
    let refreshed =
        wait_edit(&env, group.id, status_id, "42% with its buttons", |c| c.text().unwrap().contains("42%")).await;
    assert_eq!(labels(&refreshed), rows(&[&["🔄 Refresh", "✖ Stop"]]));

    let not_hers = env.tg.press(&bob, &status, "✖ Stop");
    assert!(notice(&env, &not_hers).await.unwrap().starts_with("Not yours"));
    let store = store(&env).await;
    assert_eq!(store.task(1).await.unwrap().unwrap().state, TaskState::Running);

    // `/status` shows the task with the same buttons; Stop works from that copy too.
    let asked = send(&env, Msg::text(&group, &alice, "/status 1"));
    let copy = reply(&env, group.id, asked, 1).await;
    assert_eq!(labels(&copy), rows(&[&["🔄 Refresh", "✖ Stop"]]));
    let stop = env.tg.press(&alice, &copy, "✖ Stop");
    assert_eq!(notice(&env, &stop).await.as_deref(), Some("Stopped."));
    // The job goes on upstream: still open and holding its slot, but silenced.
    let stopped = store.task(1).await.unwrap().unwrap();
    assert!(stopped.state == TaskState::Running && stopped.is_silenced(), "{stopped:?}");
    for message in [status_id, message_id(&copy)] {
        let stopped = wait_edit(&env, group.id, message, "no longer followed", |c| {
            c.text().unwrap().contains("no longer followed")
        })
        .await;
        assert!(
            stopped.body.get("reply_markup").is_none(),
            "the buttons go when the task is stopped: {}",
            stopped.body
        );
    }

    let again = env.tg.press(&alice, &status, "✖ Stop");
    assert_eq!(notice(&env, &again).await.as_deref(), Some("Already finished."));
    assert_eq!(env.video.creates().len(), 1);
}

#[tokio::test]
async fn video_buttons_are_new_requests_of_whoever_pressed() {
    video_buttons(&[]).await;
}

#[tokio::test]
async fn video_buttons_on_postgres() {
    let url = fresh_postgres_db().await;
    video_buttons(&[("DATABASE_URL", &url)]).await;
    drop_postgres_db(&url).await;
}

async fn video_buttons(vars: &[(&str, &str)]) {
    let group = Chat::group(-7200);
    let (env, _bot) = bot_with(&[&[("DAILY_LIMIT_PER_USER", "2")], vars].concat()).await;
    let (alice, bob) = (User::new(ALICE), User::new(BOB));
    let command = send(&env, Msg::text(&group, &alice, "/video --landscape d=10 a fox in the snow"));
    reply(&env, group.id, command, 1).await;
    let video = finish_video(&env, 1).await;
    assert_eq!(labels(&video), rows(&[&["🔁 Again", "↕ Portrait", "⭐ Pro", "🎬 Model"]]));
    let video_id = message_id(&video);

    // Bob presses Pro; Telegram delivers that update twice: one request only.
    let data = button_data(&video.body["reply_markup"], "⭐ Pro").unwrap();
    let (pro, update) = callback_query(&bob, &video.result, &data);
    env.tg.push_update(update.clone());
    env.tg.push_update(update);
    assert_eq!(notice(&env, &pro).await.as_deref(), Some("On it…"));
    let creates = env.video.wait_creates(2, WAIT).await;
    assert_eq!(
        creates[1].body,
        json!({"images": [], "model": "sora-2-pro", "orientation": "landscape", "prompt": "a fox in the snow", "size": "large", "duration": 15})
    );
    // The press leaves a message saying who asked; the request's replies answer it.
    let request = reply(&env, group.id, video_id, 1).await;
    assert!(request.text().unwrap().contains("⭐ Pro: requested by User 7002"), "{:?}", request.text());
    let status = reply(&env, group.id, message_id(&request), 1).await;
    assert!(status.text().unwrap().contains("#2"), "{:?}", status.text());
    let store = store(&env).await;
    let second = store.task(2).await.unwrap().unwrap();
    assert_eq!((second.user_id, second.chat_id), (BOB, group.id), "Bob's request");

    let flip = env.tg.press(&bob, &video, "↕ Portrait");
    assert_eq!(notice(&env, &flip).await.as_deref(), Some("On it…"));
    let creates = env.video.wait_creates(3, WAIT).await;
    assert_eq!(creates[2].body["orientation"], "portrait");
    assert_eq!((creates[2].body["model"].clone(), creates[2].body["duration"].clone()), (json!("sora-2"), json!(10)));

    // Bob has used his 2 for today: refused in the notice, nothing created or said.
    let over = env.tg.press(&bob, &video, "🔁 Again");
    let refused = notice(&env, &over).await.unwrap();
    assert!(refused.contains("used all 2 videos"), "{refused}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(env.video.creates().len(), 3);
    assert_eq!(env.tg.replies(group.id, video_id).len(), 2, "no message for the refused press");
    // Twice in the update stream, but one answer: the second was recognised.
    assert_eq!(
        env.tg.calls_of("answerCallbackQuery").iter().filter(|c| c.body["callback_query_id"] == json!(pro)).count(),
        1
    );
}

#[tokio::test]
async fn mistakes_offer_buttons_that_run_the_fixed_request() {
    let (env, _bot) = bot_with(&[]).await;
    let me = User::new(7301);
    let chat = Chat::private(7301);

    let wrong = send(&env, Msg::text(&chat, &me, "/video d=25 --landscape a cat on a roof"));
    let error = reply(&env, chat.id, wrong, 1).await;
    assert!(error.text().unwrap().contains("not 25"), "{:?}", error.text());
    assert_eq!(labels(&error), rows(&[&["10 s", "15 s"]]));
    let data = button_data(&error.body["reply_markup"], "15 s").unwrap();
    assert!(data.len() <= 64 && !data.contains("cat"), "the text stays on the server: {data}");
    let fix = env.tg.press(&me, &error, "15 s");
    notice(&env, &fix).await;
    let create = &env.video.wait_creates(1, WAIT).await[0];
    assert_eq!(create.body["duration"], 15);
    assert_eq!(create.body["orientation"], "landscape");
    assert_eq!(create.body["prompt"], "a cat on a roof");

    let unknown = send(&env, Msg::text(&chat, &me, "/video --colour red a rose"));
    let error = reply(&env, chat.id, unknown, 1).await;
    assert_eq!(labels(&error), rows(&[&["Use as prompt"]]));
    env.tg.press(&me, &error, "Use as prompt");
    let create = &env.video.wait_creates(2, WAIT).await[1];
    assert_eq!(create.body["prompt"], "--colour red a rose");
    assert_eq!(create.body["orientation"], "portrait", "the defaults");

    let zh = User::new(7302).lang("zh-hans");
    let wrong = send(&env, Msg::text(&Chat::private(7302), &zh, "/video --pro d=10 院子里的猫"));
    let error = reply(&env, 7302, wrong, 1).await;
    assert_eq!(labels(&error), rows(&[&["15 秒", "25 秒"]]));
    // Chinese all the way: the request message, the status buttons, the video's buttons.
    env.tg.press(&zh, &error, "25 秒");
    let request = reply(&env, 7302, message_id(&error), 1).await;
    assert_eq!(request.text().unwrap(), "▶️ 25 秒：由 User 7302 请求\n📝 院子里的猫");
    let status = reply(&env, 7302, message_id(&request), 1).await;
    assert!(status.text().unwrap().contains("sora-2-pro · 竖屏 · 大 (1080p) · 25秒"), "{:?}", status.text());
    assert_eq!(labels(&status), rows(&[&["🔄 刷新", "✖ 停止"]]));
    let video = finish_video(&env, 3).await;
    assert_eq!(labels(&video), rows(&[&["🔁 再来一次", "↔ 横屏", "🎬 模型"]]), "no Pro button under a pro video");
}

#[tokio::test]
async fn a_bare_video_asks_for_the_prompt_and_takes_text_or_a_photo() {
    let (env, _bot) = bot_with(&[]).await;
    let me = User::new(7401);
    let chat = Chat::private(7401);
    let bare = send(&env, Msg::text(&chat, &me, "/video"));
    let question = reply(&env, chat.id, bare, 1).await;
    assert!(question.text().unwrap().starts_with("✍️ What should the video show?"), "{:?}", question.text());
    assert_eq!(question.body["reply_markup"]["force_reply"], json!(true));
    assert_eq!(question.body["reply_markup"]["selective"], json!(true));

    let answer = send(&env, Msg::text(&chat, &me, "a cat surfing at sunset").reply_to(&question.result));
    let status = reply(&env, chat.id, answer, 1).await;
    let create = &env.video.wait_creates(1, WAIT).await[0];
    assert_eq!(
        create.body,
        json!({"images": [], "model": "sora-2", "orientation": "portrait", "prompt": "a cat surfing at sunset", "size": "large", "duration": 15})
    );

    // A question is answered once: another video, another question.
    let bare = send(&env, Msg::text(&chat, &me, "/video"));
    let question = reply(&env, chat.id, bare, 1).await;
    let photo = env.tg.add_photo("dog");
    send(&env, Msg::photo(&chat, &me, "dog").caption("a dog on a skateboard").reply_to(&question.result));
    let create = &env.video.wait_creates(2, WAIT).await[1];
    assert_eq!(create.body["prompt"], "a dog on a skateboard");
    let data_url = format!("data:image/jpeg;base64,{}", base64::engine::general_purpose::STANDARD.encode(&photo));
    assert_eq!(create.body["images"], json!([data_url]));

    // A reply to any other message of the bot is not an answer.
    send(&env, Msg::text(&chat, &me, "thanks").reply_to(&status.result));
    let zh = User::new(7402).lang("zh");
    let bare = send(&env, Msg::text(&Chat::private(7402), &zh, "/video"));
    assert!(reply(&env, 7402, bare, 1).await.text().unwrap().starts_with("✍️ 视频要展示什么"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(env.video.creates().len(), 2);
}

#[tokio::test]
async fn settings_per_user_and_per_group_for_group_admins_only() {
    let (env, _bot) = bot_with(&[]).await;
    let me = User::new(7501);
    let private = Chat::private(7501);
    let shown = send(&env, Msg::text(&private, &me, "/settings"));
    let settings = reply(&env, private.id, shown, 1).await;
    assert_eq!(
        labels(&settings),
        rows(&[
            &["🎬 Model: Sora 2 ›"],
            &["✓ Portrait", "Landscape"],
            &["✓ Large (1080p)", "Small (720p)"],
            &["10 s", "✓ 15 s"],
            &["↩ Bot defaults"]
        ])
    );
    let press = env.tg.press(&me, &settings, "Landscape");
    assert_eq!(notice(&env, &press).await.as_deref(), Some("Saved."));
    let edited = wait_edit(&env, private.id, message_id(&settings), "landscape chosen", |_| true).await;
    assert_eq!(labels(&edited)[1], ["Portrait", "✓ Landscape"]);
    send(&env, Msg::text(&private, &me, "/video a cat"));
    assert_eq!(env.video.wait_creates(1, WAIT).await[0].body["orientation"], "landscape");
    send(&env, Msg::text(&private, &me, "/video --portrait a dog"));
    assert_eq!(env.video.wait_creates(2, WAIT).await[1].body["orientation"], "portrait", "options still override");

    let group = Chat::group(-7500);
    let (admin, member) = (User::new(7502), User::new(7503));
    env.tg.add_chat_admin(group.id, admin.id);
    let shown = send(&env, Msg::text(&group, &member, "/settings"));
    let settings = reply(&env, group.id, shown, 1).await;
    assert!(settings.text().unwrap().contains("group admins"), "{:?}", settings.text());
    // The models are a submenu: opening it changes nothing, so anyone may.
    let opened = env.tg.press(&member, &settings, "🎬 Model: Sora 2 ›");
    assert_eq!(notice(&env, &opened).await, None);
    let menu = wait_keyboard_edit(&env, group.id, message_id(&settings), 1).await;
    assert_eq!(labels(&menu)[0], ["✓ Sora 2", "Sora 2 Pro"]);
    assert_eq!(labels(&menu).last().unwrap(), &["↩ Back"]);
    let refused = env.tg.press(&member, &menu, "Sora 2 Pro");
    assert!(notice(&env, &refused).await.unwrap().starts_with("Only this group's admins"));
    let chosen = env.tg.press(&admin, &menu, "Sora 2 Pro");
    assert_eq!(notice(&env, &chosen).await.as_deref(), Some("Saved."));
    let edited = wait_edit(&env, group.id, message_id(&settings), "pro chosen", |_| true).await;
    assert_eq!(labels(&edited)[0], ["🎬 Model: Sora 2 Pro ›"]);
    assert_eq!(labels(&edited)[3], ["✓ 15 s", "25 s"], "pro's own durations");
    send(&env, Msg::text(&group, &member, "/video a parade"));
    let create = &env.video.wait_creates(3, WAIT).await[2];
    assert_eq!((create.body["model"].clone(), create.body["duration"].clone()), (json!("sora-2-pro"), json!(15)));
    assert_eq!(create.body["orientation"], "portrait", "the group's settings, not anyone's private ones");
    assert!(env.tg.attempts_of("getChatMember").len() >= 2, "group admin rights asked of Telegram");
}

/// Types `@bot query` as `from` and returns the bot's answer.
async fn ask_inline(env: &TestEnv, from: &User, query: &str) -> Call {
    let (id, update) = inline_query(from, query);
    env.tg.push_update(update);
    env.tg
        .wait_call("answerInlineQuery", WAIT, |c| c.is("answerInlineQuery") && c.body["inline_query_id"] == json!(id))
        .await
}

#[tokio::test]
async fn inline_queries_list_only_the_users_own_videos() {
    let (env, _bot) = bot_with(&[]).await;
    let (alice, bob) = (User::new(ALICE), User::new(BOB));
    let command = send(&env, Msg::text(&Chat::private(ALICE), &alice, "/video a red balloon"));
    reply(&env, ALICE, command, 1).await;
    let hers = finish_video(&env, 1).await;
    let command = send(&env, Msg::text(&Chat::private(BOB), &bob, "/video a blue balloon"));
    reply(&env, BOB, command, 1).await;
    finish_video(&env, 2).await;
    let store = store(&env).await;
    for task in [1, 2] {
        let deadline = std::time::Instant::now() + WAIT;
        while store.task(task).await.unwrap().unwrap().state != TaskState::Done {
            assert!(std::time::Instant::now() < deadline, "task {task} done");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    let all = ask_inline(&env, &alice, "").await;
    let results = all.body["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0]["type"], "video");
    assert_eq!(results[0]["video_file_id"], hers.result["video"]["file_id"]);
    assert!(results[0]["title"].as_str().unwrap().contains("a red balloon"));
    assert_eq!(all.body["is_personal"], json!(true));
    let none: Value = ask_inline(&env, &alice, "blue").await.body["results"].clone();
    assert_eq!(none, json!([]), "Bob's video is not hers to share");
}
