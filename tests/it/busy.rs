//! Busy groups and careless fingers: with Telegram's send limits on, no chat
//! waits behind its own send budget, a backlog is handled in full, questions
//! and fix buttons act once for the person they belong to, repeated taps do
//! nothing twice, and every press is answered within a second.
//! The real binary against the fakes (which answer at once: the bot's own
//! limiter is what holds its sends).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use testkit::*;

use crate::*;

/// What "at once" is allowed to take here; the figures printed are the measure
/// (two cores shared by several test binaries make a second too tight to assert).
const AT_ONCE: Duration = Duration::from_secs(3);

const SEND_LIMITS: (&str, &str) = ("TELEGRAM_SEND_LIMITS", "telegram");
/// Busy groups run more videos at once than the default cost guards allow.
const ROOMY: [(&str, &str); 2] = [("MAX_ACTIVE_TOTAL", "1000"), ("MAX_ACTIVE_PER_USER", "100")];

fn p99(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 * 0.99).ceil() as usize).clamp(1, samples.len()) - 1]
}

/// The `n`th reply (from 1) to `message_id`, waiting for it.
async fn reply(env: &TestEnv, chat_id: i64, message_id: i64, n: usize) -> Call {
    env.tg.wait_replies(chat_id, message_id, n, WAIT).await.remove(n - 1)
}

/// The create whose prompt is `prompt`, waiting for it.
async fn create_of(env: &TestEnv, prompt: &str) -> testkit::CreateCall {
    let found = poll_until(WAIT, || env.video.creates().into_iter().find(|c| c.body["prompt"] == json!(prompt))).await;
    found.unwrap_or_else(|| panic!("a create of {prompt:?}\n{}", env.video.dump()))
}

fn creates_of(env: &TestEnv, prompt: &str) -> usize {
    env.video.creates().iter().filter(|c| c.body["prompt"] == json!(prompt)).count()
}

/// When the press `callback_id` was answered, and with what notice.
async fn answered(env: &TestEnv, callback_id: &str) -> (Instant, Option<String>) {
    let call = env.tg.press_answer(callback_id, WAIT).await;
    (call.at, call.body["text"].as_str().map(str::to_owned))
}

#[tokio::test]
async fn a_group_with_its_send_budget_used_up_still_creates_other_members_videos_at_once() {
    let (env, _bot) = bot_with(&[SEND_LIMITS, ROOMY[0], ROOMY[1]]).await;
    let group = Chat::group(-9100);
    // 22 members' videos: their status messages use up the group's 20 a minute.
    for i in 0..22 {
        send(&env, Msg::text(&group, &User::new(9100 + i), &format!("/video budget filler {i}")));
    }
    env.video.wait_creates(22, WAIT).await;
    // Everything that used to wait for its own send while holding the chat:
    // a guided question, /settings, /status with buttons, a mistake with fix buttons.
    send(&env, Msg::text(&group, &User::new(9200), "/video"));
    send(&env, Msg::text(&group, &User::new(9201), "/settings"));
    send(&env, Msg::text(&group, &User::new(9100), "/status 1"));
    send(&env, Msg::text(&group, &User::new(9202), "/video --d 25 a cat"));
    tokio::time::sleep(Duration::from_millis(300)).await;

    let pushed = Instant::now();
    for i in 0..5 {
        send(&env, Msg::text(&group, &User::new(9300 + i), &format!("/video another member {i}")));
    }
    let mut waits = Vec::new();
    for i in 0..5 {
        waits.push(create_of(&env, &format!("another member {i}")).await.at.duration_since(pushed));
    }
    let p99 = p99(&mut waits);
    eprintln!("send budget used up: other members' update → create p99 {p99:?} ({waits:?})");
    assert!(p99 < AT_ONCE, "{waits:?}");
}

#[tokio::test]
async fn a_backlog_of_a_hundred_updates_of_one_group_is_handled_in_full() {
    let mut env = TestEnv::start(bot_bin()).await;
    for (key, value) in [SEND_LIMITS, ROOMY[0], ROOMY[1]] {
        env.set_env(key, value);
    }
    let group = Chat::group(-9400);
    // Waiting before the bot starts: one getUpdates batch.
    for i in 0..100 {
        let member = User::new(9400 + i);
        let text = if i % 5 < 2 { format!("chatter {i}") } else { format!("/video backlog {i}") };
        send(&env, Msg::text(&group, &member, &text));
    }
    let _bot = env.start_bot();
    let created = env.video.wait_creates(60, WAIT).await.len();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let created = created.max(env.video.creates().len());
    let told = env.tg.sent_texts(group.id).iter().filter(|t| t.contains("Too busy")).count();
    eprintln!("100-update backlog: created {created} of 60, told {told}, lost {}", 60 - created - told);
    assert_eq!(created, 60);
}

#[tokio::test]
async fn a_guided_question_belongs_to_the_asker_and_is_answered_once() {
    let (env, _bot) = bot_with(&[("COMMANDS_PER_MINUTE", "20")]).await;
    let group = Chat::group(-9500);
    let (ann, bob) = (User::new(9501), User::new(9502));
    let bare = send(&env, Msg::text(&group, &ann, "/video"));
    let question = reply(&env, group.id, bare, 1).await;

    let haha = send(&env, Msg::text(&group, &bob, "haha what is this").reply_to(&question.result));
    let told = reply(&env, group.id, haha, 1).await;
    assert!(told.text().unwrap().contains("someone else"), "{:?}", told.text());

    send(&env, Msg::text(&group, &ann, "a lighthouse at dawn").reply_to(&question.result));
    create_of(&env, "a lighthouse at dawn").await;
    let twice = send(&env, Msg::text(&group, &ann, "a lighthouse at dusk").reply_to(&question.result));
    assert!(reply(&env, group.id, twice, 1).await.text().unwrap().contains("already answered"));

    // A dozen answers in a second: one request, and the rate limit sees them all.
    let bare = send(&env, Msg::text(&group, &ann, "/video"));
    let question = reply(&env, group.id, bare, 1).await;
    for i in 0..12 {
        send(&env, Msg::text(&group, &ann, &format!("a storm {i}")).reply_to(&question.result));
    }
    env.tg.wait_text(group.id, "Too many commands", WAIT).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let storms =
        env.video.creates().iter().filter(|c| c.body["prompt"].as_str().unwrap().starts_with("a storm")).count();
    assert_eq!(storms, 1);
    assert_eq!(creates_of(&env, "a lighthouse at dusk"), 0);
    assert_eq!(env.video.creates().len(), 2, "bob's reply cost nothing");
}

#[tokio::test]
async fn an_album_answering_the_question_is_one_request_with_all_its_photos() {
    let (env, _bot) = bot_with(&[]).await;
    let chat = Chat::private(9601);
    let me = User::new(9601);
    let bare = send(&env, Msg::text(&chat, &me, "/video"));
    let question = reply(&env, chat.id, bare, 1).await;
    for i in 1..=3 {
        let prefix = format!("answer-{i}");
        env.tg.add_photo(&prefix);
        let mut photo = Msg::photo(&chat, &me, &prefix).album("answer-album").reply_to(&question.result);
        if i == 2 {
            photo = photo.caption("three photos, one story");
        }
        send(&env, photo);
    }
    let create = create_of(&env, "three photos, one story").await;
    assert_eq!(create.body["images"].as_array().map(Vec::len), Some(3), "{}", create.body);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(env.video.creates().len(), 1);
    assert!(!env.tg.sent_texts(chat.id).iter().any(|t| t.starts_with("⚠️")), "{}", env.tg.dump());
}

#[tokio::test]
async fn fix_buttons_act_once_for_the_asker_and_then_go() {
    let (env, _bot) = bot_with(&[]).await;
    let group = Chat::group(-9700);
    let (ann, bob) = (User::new(9701), User::new(9702));
    env.tg.add_photo("fix");
    let wrong = send(&env, Msg::photo(&group, &ann, "fix").caption("/video --d 25 a cat on a roof"));
    let error = reply(&env, group.id, wrong, 1).await;

    let bobs = env.tg.press(&bob, &error, "15 s");
    assert!(answered(&env, &bobs).await.1.unwrap().starts_with("Not yours"));
    let first = env.tg.press(&ann, &error, "15 s");
    let second = env.tg.press(&ann, &error, "10 s");
    answered(&env, &first).await;
    answered(&env, &second).await;
    let create = create_of(&env, "a cat on a roof").await;
    assert_eq!(create.body["duration"], json!(15));
    let gone = wait_keyboard_edit(&env, group.id, error.result["message_id"].as_i64().unwrap(), 1).await;
    assert_eq!(gone.body["reply_markup"]["inline_keyboard"], json!([]), "{}", gone.body);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(env.video.creates().len(), 1, "one paid video, ann's");
}

/// A finished video under `command` in `chat`, with its buttons.
async fn delivered(env: &TestEnv, chat: &Chat, from: &User, prompt: &str) -> Call {
    let command = send(env, Msg::text(chat, from, &format!("/video {prompt}")));
    reply(env, chat.id, command, 1).await;
    let n = env.video.creates().len();
    let upstream = FakeVideoApi::task_id(n);
    let name = format!("v{n}.mp4");
    env.video.add_file(&name, vec![7; 1000]);
    env.video.script_task(&upstream, vec![Reply::completed(&upstream, &env.video.file_url(&name))]);
    let url = json!(env.video.file_url(&name));
    env.tg.wait_call("the video", WAIT, |c| c.is("sendVideo") && c.body["video"] == url).await
}

#[tokio::test]
async fn taps_repeats_do_nothing_twice_every_press_is_answered_and_menus_are_free() {
    let (env, _bot) = bot_with(&[SEND_LIMITS, ROOMY[0], ROOMY[1], ("COMMANDS_PER_MINUTE", "20")]).await;
    let group = Chat::group(-9800);
    let ann = User::new(9801);
    let video = delivered(&env, &group, &ann, "a fox in the snow").await;

    // Ten taps of Again in half a second: one new video.
    let taps: Vec<String> = (0..10).map(|_| env.tg.press(&ann, &video, "🔁 Again")).collect();
    for tap in &taps {
        answered(&env, tap).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(creates_of(&env, "a fox in the snow"), 2, "{}", env.video.dump());

    // Twenty members pressing Again at once: each answered within a second.
    let mut presses = Vec::new();
    for i in 0..20 {
        let pressed = Instant::now();
        presses.push((pressed, env.tg.press(&User::new(9900 + i), &video, "🔁 Again")));
    }
    let mut waits = Vec::new();
    for (pressed, id) in &presses {
        waits.push(answered(&env, id).await.0.duration_since(*pressed));
    }
    let p99 = p99(&mut waits);
    eprintln!("20 simultaneous presses: press → answer p99 {p99:?}");
    assert!(p99 < AT_ONCE, "{waits:?}");

    // Menu presses are not commands: /settings, four taps, then /video (in
    // another group: this one's send budget went on the twenty requests).
    let group = Chat::group(-9810);
    let bob = User::new(9802);
    let shown = send(&env, Msg::text(&group, &bob, "/settings"));
    let menu = reply(&env, group.id, shown, 1).await;
    let menu_id = menu.result["message_id"].as_i64().unwrap();
    let opened = env.tg.press(&bob, &menu, "🎬 Model: Sora 2 ›");
    answered(&env, &opened).await;
    let models = wait_keyboard_edit(&env, group.id, menu_id, 1).await;
    let in_models = with_markup(&menu.result, &models.body);
    for label in ["↩ Back", "🎬 Model: Sora 2 ›", "↩ Back"] {
        let on = if label == "↩ Back" { &in_models } else { &menu.result };
        let data = testkit::button_data(&on["reply_markup"], label).expect("the button");
        let (id, update) = testkit::callback_query(&bob, on, &data);
        env.tg.push_update(update);
        answered(&env, &id).await;
    }
    for i in 0..4 {
        send(&env, Msg::text(&group, &bob, &format!("/video after the menu {i}")));
    }
    create_of(&env, "after the menu 3").await;
}

/// `message` as it is after an edit that gave it `edit`'s buttons.
fn with_markup(message: &Value, edit: &Value) -> Value {
    let mut message = message.clone();
    message["reply_markup"] = edit["reply_markup"].clone();
    message
}

#[tokio::test]
async fn a_long_prompt_still_gets_an_inline_video_with_its_buttons() {
    let (env, _bot) = bot_with(&[]).await;
    let chat = Chat::private(10001);
    let prompt = format!("{} {}", "a very long story about a cat".repeat(32), "🐱".repeat(30));
    let video = delivered(&env, &chat, &User::new(10001), &prompt).await;
    let caption = video.body["caption"].as_str().unwrap();
    assert!(caption.encode_utf16().count() <= 1024, "{}", caption.encode_utf16().count());
    assert!(buttons_labels(&video).concat().contains(&"🔁 Again".to_owned()));
}

/// `@bot query` from `user` with `offset` (the last answer's next_offset); the answer.
async fn search(env: &TestEnv, user: &User, query: &str, offset: &str) -> Call {
    let (id, mut update) = testkit::inline_query(user, query);
    update["inline_query"]["offset"] = json!(offset);
    env.tg.push_update(update);
    env.tg
        .wait_call("answerInlineQuery", WAIT, |c| c.is("answerInlineQuery") && c.body["inline_query_id"] == json!(id))
        .await
}

#[tokio::test]
async fn inline_search_matches_any_script_in_any_case_and_pages() {
    let (env, _bot) = bot_with(&[]).await;
    let user = User::new(10101);
    let chat = Chat::private(10101);
    for prompt in ["Ölfeld im Regen", "Кот на крыше", "a plain cat"] {
        delivered(&env, &chat, &user, prompt).await;
    }
    poll_until(WAIT, || (env.tg.calls_of("sendVideo").len() == 3).then_some(())).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    for (query, title) in [("ölfeld", "Ölfeld"), ("ÖLFELD", "Ölfeld"), ("кот", "Кот"), ("КОТ", "Кот")] {
        let found = search(&env, &user, query, "").await;
        let results = found.body["results"].as_array().unwrap().clone();
        assert_eq!(results.len(), 1, "{query}: {}", found.body);
        assert!(results[0]["title"].as_str().unwrap().contains(title), "{}", found.body);
    }
    // Pages: an offset continues below the last one given.
    let all = search(&env, &user, "", "").await;
    assert_eq!(all.body["results"].as_array().unwrap().len(), 3);
    let next = search(&env, &user, "", "2").await;
    let ids: Vec<&str> = next.body["results"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["1"]);
}

#[tokio::test]
async fn a_failing_admin_check_is_answered_try_again_at_once_and_a_429_is_retried() {
    let (env, _bot) = bot_with(&[]).await;
    let group = Chat::group(-10200);
    let admin = User::new(10201);
    env.tg.add_chat_admin(group.id, admin.id);
    let shown = send(&env, Msg::text(&group, &admin, "/settings"));
    let menu = reply(&env, group.id, shown, 1).await;

    env.tg.fail_next("getChatMember", 1, Failure::ServerError);
    let pressed = Instant::now();
    let press = env.tg.press(&admin, &menu, "Landscape");
    let (at, notice) = answered(&env, &press).await;
    eprintln!("getChatMember 500: answered after {:?}", at.duration_since(pressed));
    assert!(notice.unwrap().contains("try again"));
    assert!(at.duration_since(pressed) < AT_ONCE);

    // A 429 is waited out; the answer is remembered for the next press.
    env.tg.fail_next("getChatMember", 1, Failure::RetryAfter(1));
    let press = env.tg.press(&admin, &menu, "✓ Portrait");
    let (_, notice) = answered(&env, &press).await;
    assert!(notice.unwrap().contains("try again"));
    poll_until(WAIT, || (env.tg.calls_of("getChatMember").len() == 1).then_some(())).await.expect("retried");
    let press = env.tg.press(&admin, &menu, "↩ Bot defaults");
    assert_eq!(answered(&env, &press).await.1.as_deref(), Some("Saved."));
}

#[tokio::test]
async fn refresh_queries_a_task_at_most_every_three_seconds_and_forged_data_is_refused() {
    let (env, _bot) = bot_with(&[("POLL_INTERVAL_SECS", "60")]).await;
    let group = Chat::group(-10300);
    let ann = User::new(10301);
    for n in [1, 2] {
        let upstream = FakeVideoApi::task_id(n);
        env.video.script_task(&upstream, vec![Reply::json(200, json!({"id": upstream, "status": "processing"}))]);
    }
    let first = send(&env, Msg::text(&group, &ann, "/video first"));
    let first_status = reply(&env, group.id, first, 1).await;
    let second = send(&env, Msg::text(&group, &ann, "/video second"));
    let second_status = reply(&env, group.id, second, 1).await;
    tokio::time::sleep(Duration::from_millis(3100)).await;

    // Fifteen members pressing at once, then again after a second: one query.
    for round in 0..2 {
        let presses: Vec<String> =
            (0..15).map(|i| env.tg.press(&User::new(10310 + i), &first_status, "🔄 Refresh")).collect();
        for press in &presses {
            answered(&env, press).await;
        }
        if round == 0 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(env.video.queries_of(&FakeVideoApi::task_id(1)).len(), 1);

    // Task 1's Refresh on task 2's status message: refused, nothing redrawn.
    let (id, update) = testkit::callback_query(&ann, &second_status.result, "r:1");
    env.tg.push_update(update);
    assert!(answered(&env, &id).await.1.unwrap().contains("expired"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(edits(&env, group.id, second_status.result["message_id"].as_i64().unwrap()).is_empty());
}

#[tokio::test]
async fn chinese_help_and_errors_have_no_english_placeholders() {
    let (env, _bot) = bot_with(&[]).await;
    let zh = User::new(10401).lang("zh");
    let chat = Chat::private(10401);
    let help = Msg::text(&chat, &zh, "/help").build();
    env.tg.push_message(help.clone());
    let text = reply_to(&env.tg, &help).await;
    assert!(text.contains("/video [选项] <描述>") && !text.contains("<prompt>"), "{text}");
    let wrong = Msg::text(&chat, &zh, "/video --d 99 一只猫").build();
    env.tg.push_message(wrong.clone());
    let text = reply_to(&env.tg, &wrong).await;
    assert!(!text.contains("[options]"), "{text}");
}
