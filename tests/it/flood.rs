//! Availability under a flood: one chat (a member's or a stranger's) sending
//! hundreds of commands never delays other chats, and commands over the
//! per-user rate limit cost nothing. The real binary against the fakes.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::{AnyPool, Row};
use testkit::*;

use crate::*;
/// How long we watch for something that must not happen.
const QUIET: Duration = Duration::from_millis(1000);
/// Generous: measured answers come within milliseconds (examples/loadgen
/// `flood` gives the figures); this only catches waiting behind the flood,
/// which took minutes before.
const PROMPT: Duration = Duration::from_secs(8);
const FLOOD: usize = 300;
const SLOW_DOWN: &str = "Too many commands";

/// Pushes `n` commands from `user` in their private chat, `/help` and `/video` in turn.
fn flood(env: &TestEnv, user: i64, n: usize) {
    let (chat, from) = (Chat::private(user), User::new(user));
    for i in 0..n {
        let text = if i % 2 == 0 { "/help".to_owned() } else { format!("/video flood {i}") };
        env.tg.push_message(Msg::text(&chat, &from, &text).build());
    }
}

/// `user` sends `/help` and `/video <prompt>` right after a flood; asserts both
/// are answered within `PROMPT` of being pushed.
async fn answered_promptly(env: &TestEnv, user: i64, prompt: &str) {
    let (chat, from) = (Chat::private(user), User::new(user));
    let help = Msg::text(&chat, &from, "/help").build();
    let video = Msg::text(&chat, &from, &format!("/video {prompt}")).build();
    let pushed = Instant::now();
    env.tg.push_message(help.clone());
    env.tg.push_message(video.clone());
    let reply = env.tg.wait_replies(chat.id, msg_id(&help), 1, WAIT).await;
    assert!(reply[0].text().unwrap_or_default().contains("/video [options] <prompt>"));
    let help_after = pushed.elapsed();
    let create = poll_until(WAIT, || env.video.creates().into_iter().find(|c| c.body["prompt"] == json!(prompt))).await;
    let create_after = create.expect("the other user's create").at.duration_since(pushed);
    eprintln!("other user: /help answered after {help_after:?}, /video created after {create_after:?}");
    assert!(help_after < PROMPT && create_after < PROMPT, "help {help_after:?}, create {create_after:?}");
    env.tg.wait_replies(chat.id, msg_id(&video), 1, WAIT).await;
}

async fn tasks_of(env: &TestEnv, user: i64) -> i64 {
    sqlx::any::install_default_drivers();
    let url = env.var("DATABASE_URL").expect("DATABASE_URL");
    let pool = AnyPool::connect(url).await.expect("open the bot's database");
    let row = sqlx::query("SELECT COUNT(*) AS n FROM tasks WHERE user_id = $1")
        .bind(user)
        .fetch_one(&pool)
        .await
        .expect("count tasks");
    pool.close().await;
    row.get::<i64, _>("n")
}

/// With Telegram's real per-chat send limits (one message a second per chat),
/// a member's flood of 300 commands: others are answered at once, only the
/// burst is handled, and the flooder is told once to slow down.
#[tokio::test]
async fn a_members_flood_never_delays_another_chat() {
    let (env, bot) =
        TestEnv::start_with(bot_bin(), &[("TELEGRAM_SEND_LIMITS", "telegram"), ("COMMANDS_PER_MINUTE", "20")]).await;
    let flooder = 7001;
    flood(&env, flooder, FLOOD);
    answered_promptly(&env, 7002, "the other user's cat").await;

    // The burst of 5: /help, /video, /help, /video, /help. Everything after
    // it was dropped before any database or API work.
    // Three help texts, two status messages and the notice, at one a second.
    let all_out = poll_until(WAIT, || (env.tg.sent_texts(flooder).len() >= 6).then_some(())).await;
    assert!(all_out.is_some(), "{}", env.tg.dump());
    tokio::time::sleep(QUIET).await;
    assert_eq!(env.tg.sent_texts(flooder).len(), 6, "{}", env.tg.dump());
    let creates = env.video.creates();
    assert_eq!(creates.len(), 3, "{}", env.video.dump());
    assert_eq!(
        creates.iter().filter(|c| c.body["prompt"].as_str().unwrap_or_default().starts_with("flood")).count(),
        2
    );
    assert_eq!(tasks_of(&env, flooder).await, 2);
    let notices = env.tg.sent_texts(flooder).iter().filter(|text| text.contains(SLOW_DOWN)).count();
    assert_eq!(notices, 1, "{}", env.tg.dump());
    let helps = env.tg.sent_texts(flooder).iter().filter(|text| text.contains("/video [options] <prompt>")).count();
    assert_eq!(helps, 3);
    assert!(bot.logs().contains("over the command rate limit"), "{}", bot.logs());
}

/// A stranger's flood of commands, chatter and album photos: one "not allowed"
/// notice, /help within the rate limit, nothing paid, and a member is answered at once.
#[tokio::test]
async fn a_strangers_flood_is_bounded_and_delays_nobody() {
    let member = 7101;
    let stranger = 7102;
    let mut env = TestEnv::start(bot_bin()).await;
    env.remove_env("ALLOW_EVERYONE");
    env.set_env("ALLOWED_USER_IDS", &member.to_string());
    env.set_env("COMMANDS_PER_MINUTE", "20");
    let _bot = env.start_bot();
    env.tg.wait_for("setMyCommands", 1, WAIT).await;

    let (chat, from) = (Chat::private(stranger), User::new(stranger));
    for i in 0..FLOOD {
        let text = ["/video a stranger's cat", "/help", "just chatting"][i % 3];
        env.tg.push_message(Msg::text(&chat, &from, text).build());
    }
    env.tg.add_photo("stranger-album");
    for i in 0..50 {
        env.tg.push_message(Msg::photo(&chat, &from, "stranger-album").album(&format!("stranger-{i}")).build());
    }
    answered_promptly(&env, member, "a member's cat").await;

    tokio::time::sleep(QUIET).await;
    let texts = env.tg.sent_texts(stranger);
    assert_eq!(
        texts.iter().filter(|t| t.contains("private") && t.contains(&stranger.to_string())).count(),
        1,
        "{texts:?}"
    );
    assert_eq!(texts.iter().filter(|t| t.contains("/video [options] <prompt>")).count(), 5, "{texts:?}");
    // One notice a minute whatever it says: the refusal used it up.
    assert_eq!(texts.len(), 6, "{texts:?}");
    assert_eq!(env.video.creates().len(), 1, "{}", env.video.dump());
    assert!(env.tg.attempts_of("getFile").is_empty(), "a stranger's photo was downloaded");
}

/// Answers leave the outbox in the order of the commands, as replies to them.
#[tokio::test]
async fn a_chats_answers_keep_their_order() {
    let (env, _bot) = TestEnv::start_with(bot_bin(), &[("COMMANDS_PER_MINUTE", "0")]).await;
    let (chat, from) = (Chat::private(7201), User::new(7201));
    let commands: Vec<Value> =
        (0..30).map(|i| Msg::text(&chat, &from, ["/help", "/quota", "/tasks"][i % 3]).build()).collect();
    for command in &commands {
        env.tg.push_message(command.clone());
    }
    let last = commands.last().expect("commands");
    env.tg.wait_replies(chat.id, msg_id(last), 1, WAIT).await;
    let answered: Vec<i64> = env
        .tg
        .calls_of("sendMessage")
        .iter()
        .filter(|call| call.chat_id() == Some(chat.id))
        .filter_map(|call| call.body["reply_parameters"]["message_id"].as_i64())
        .collect();
    let expected: Vec<i64> = commands.iter().map(msg_id).collect();
    assert_eq!(answered, expected);
}

/// A burst of `/video` from many chats: every one is created once and
/// answered, with at most 32 creates in flight at a time (each is an open
/// connection to the video API; the rest wait their turn as stored requests).
#[tokio::test]
async fn a_burst_of_videos_keeps_a_bounded_number_of_creates_in_flight() {
    const BURST: usize = 100;
    const AT_ONCE: usize = 32; // `bot::SUBMISSIONS_AT_ONCE`
    let (env, _bot) = TestEnv::start_with(bot_bin(), &[("MAX_ACTIVE_TOTAL", "1000")]).await;
    for n in 0..BURST {
        env.video.push_create(Reply::task(&FakeVideoApi::task_id(n), "queued").after(Duration::from_millis(300)));
    }
    let commands: Vec<(Chat, Value)> = (0..BURST as i64)
        .map(|n| {
            let (chat, from) = (Chat::private(7300 + n), User::new(7300 + n));
            let command = Msg::text(&chat, &from, &format!("/video burst {n}")).build();
            (chat, command)
        })
        .collect();
    for (_, command) in &commands {
        env.tg.push_message(command.clone());
    }
    for (chat, command) in &commands {
        env.tg.wait_replies(chat.id, msg_id(command), 1, WAIT).await;
    }
    let creates = env.video.creates();
    assert_eq!(creates.len(), BURST, "one create per command");
    // The most creates waiting for their answer at one moment: at each
    // arrival, those that came before it and were not answered yet.
    let in_flight = |call: &CreateCall| {
        creates.iter().filter(|other| other.at <= call.at && other.answered_at.is_none_or(|a| a > call.at)).count()
    };
    let most = creates.iter().map(in_flight).max().unwrap_or(0);
    eprintln!("at most {most} creates in flight");
    assert!(most <= AT_ONCE, "{most} creates in flight at once");
    assert!(most >= AT_ONCE / 2, "only {most} at once: the burst was not run side by side");
}
