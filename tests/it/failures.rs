//! Inside failures: when the database fails under a command or a press, the
//! user hears so in their language (and that nothing was charged), nothing
//! is charged, and the log has exactly one line for it, naming the update
//! (and the task, where there is one) but never the user's words.
//!
//! One bot per backend walks through the commands and the button kinds, a
//! table of cases: each breaks what its update reads (on SQLite the tables
//! are renamed away under the running bot; on PostgreSQL every connection is
//! cut at a proxy), sends the update, checks the answer and the log, and
//! mends the database for the next case.

use std::{
    sync::atomic::{AtomicI64, Ordering},
    time::Duration,
};

use serde_json::{Value, json};
use testkit::*;

use crate::{WAIT, bot_bin, msg_id};

const INSIDE: &str = "⚠️ Something went wrong on our side; nothing was charged. Please try again in a minute.";
const INSIDE_ZH: &str = "⚠️ 我们这边出了点问题，没有产生任何费用。请过一分钟再试。";
/// `/video` whose request could not be stored: nothing was sent to the video API.
const NOT_STORED: &str =
    "😵 I could not save your request (database trouble), so I did not start it. Please try again in a minute.";

/// A payment whose invoice could not be read: the Stars were taken, so not "nothing was charged".
const NOT_CREDITED: &str = "⚠️ Your payment arrived but could not be credited automatically. An admin will fix it: /paysupport (payment id charge-8801).";

/// A word of every prompt below: the log must never carry it.
const PROMPT_WORD: &str = "lantern";

/// The bot under test and how updates reach it.
struct Line {
    env: TestEnv,
    bot: BotProcess,
    /// Posted to the bot's webhook instead of polled: on PostgreSQL a poller
    /// whose lock connection is cut stops polling, which would hold every
    /// update until the database is back.
    webhook: Option<String>,
    next_update: AtomicI64,
}

/// Where the answer to an update shows.
enum Answer {
    Reply { chat_id: i64, message_id: i64 },
    Notice(String),
}

impl Line {
    async fn polled(vars: &[(&str, &str)]) -> Line {
        let (env, bot) = TestEnv::start_with(bot_bin(), vars).await;
        Line { env, bot, webhook: None, next_update: AtomicI64::new(0) }
    }

    async fn hooked(vars: &[(&str, &str)]) -> Line {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let base = format!("http://127.0.0.1:{port}");
        let mut env = TestEnv::start(bot_bin()).await;
        for (key, value) in vars {
            env.set_env(key, value);
        }
        env.set_env("HTTP_BIND", &format!("127.0.0.1:{port}"));
        env.set_env("PUBLIC_BASE_URL", &base);
        env.set_env("WEBHOOK_SECRET", "failures_secret_1");
        let bot = env.start_bot();
        bot.wait_log("receiving updates by webhook", WAIT).await;
        Line { env, bot, webhook: Some(format!("{base}/telegram/webhook")), next_update: AtomicI64::new(1_000_000) }
    }

    /// Hands `update` to the bot; its update id.
    async fn push(&self, mut update: Value) -> i64 {
        let Some(url) = &self.webhook else { return self.env.tg.push_update(update) };
        let id = self.next_update.fetch_add(1, Ordering::Relaxed);
        update["update_id"] = json!(id);
        let posted = reqwest::Client::new()
            .post(url)
            .header("X-Telegram-Bot-Api-Secret-Token", "failures_secret_1")
            .json(&update)
            .send()
            .await
            .expect("POST webhook");
        assert!(posted.status().is_success(), "{}", posted.status());
        id
    }

    async fn message(&self, message: Msg) -> (i64, Answer) {
        self.built(message.build()).await
    }

    async fn built(&self, message: Value) -> (i64, Answer) {
        let answer = Answer::Reply { chat_id: message["chat"]["id"].as_i64().unwrap(), message_id: msg_id(&message) };
        (self.push(json!({ "message": message })).await, answer)
    }

    /// Presses `label` under `message` (a message the bot sent, with its buttons).
    async fn press(&self, user: &User, message: &Value, label: &str) -> (i64, Answer) {
        let data = button_data(&message["reply_markup"], label).unwrap_or_else(|| panic!("no {label:?}: {message}"));
        let (callback_id, update) = callback_query(user, message, &data);
        (self.push(update).await, Answer::Notice(callback_id))
    }

    async fn answer_text(&self, answer: &Answer) -> String {
        match answer {
            Answer::Reply { chat_id, message_id } => self.env.tg.wait_reply_text(*chat_id, *message_id, WAIT).await,
            Answer::Notice(callback_id) => {
                let call = self.env.tg.press_answer(callback_id, WAIT).await;
                call.body["text"].as_str().unwrap_or_default().to_owned()
            }
        }
    }

    /// `text` from `user` in their private chat, and the bot's first reply (as sent).
    async fn ask(&self, user: &User, text: &str) -> Call {
        let (_, answer) = self.message(Msg::text(&Chat::private(user.id), user, text)).await;
        let Answer::Reply { chat_id, message_id } = answer else { unreachable!() };
        self.env.tg.wait_replies(chat_id, message_id, 1, WAIT).await.remove(0)
    }

    /// The log lines at WARN or ERROR that name `update_id`.
    fn failure_lines(&self, update_id: i64) -> Vec<String> {
        let (spaced, closed) = (format!("update_id={update_id} "), format!("update_id={update_id}}}"));
        self.bot
            .logs()
            .lines()
            .filter(|line| line.contains(" WARN ") || line.contains(" ERROR "))
            .filter(|line| line.contains(&spaced) || line.contains(&closed))
            .map(str::to_owned)
            .collect()
    }
}

/// Makes the store fail under the running bot, and mends it.
enum Breaker {
    /// Renames the case's tables away and back.
    Sqlite(sqlx::SqlitePool),
    /// Cuts every connection to PostgreSQL and refuses new ones until restored.
    Postgres(CutProxy),
}

impl Breaker {
    async fn sqlite(env: &TestEnv) -> Breaker {
        Breaker::Sqlite(sqlx::SqlitePool::connect(env.var("DATABASE_URL").unwrap()).await.unwrap())
    }

    async fn fail(&self, tables: &[&str]) {
        match self {
            Breaker::Sqlite(pool) => {
                for table in tables {
                    let sql = format!("ALTER TABLE {table} RENAME TO {table}_gone");
                    sqlx::query(&sql).execute(pool).await.unwrap();
                }
            }
            Breaker::Postgres(proxy) => proxy.cut(),
        }
    }

    async fn mend(&self, tables: &[&str]) {
        match self {
            Breaker::Sqlite(pool) => {
                for table in tables {
                    let sql = format!("ALTER TABLE {table}_gone RENAME TO {table}");
                    sqlx::query(&sql).execute(pool).await.unwrap();
                }
            }
            Breaker::Postgres(proxy) => proxy.restore(),
        }
    }
}

/// What a case sends.
enum Send<'a> {
    Text(&'a str),
    /// An answer to the guided question `.0`.
    Reply(&'a Value, &'a str),
    /// A press of the button labelled `.1` under the message `.0`.
    Press(&'a Value, &'a str),
    /// A message as built (a payment, say).
    Message(&'a Value),
}

struct Case<'a> {
    what: &'a str,
    /// What breaks (SQLite); on PostgreSQL everything does.
    tables: &'a [&'a str],
    user: &'a User,
    send: Send<'a>,
    answer: &'a str,
    /// The task the one log line names.
    task: Option<i64>,
}

async fn check(line: &Line, breaker: &Breaker, case: Case<'_>) {
    breaker.fail(case.tables).await;
    let chat = Chat::private(case.user.id);
    let (update_id, answer) = match case.send {
        Send::Text(text) => line.message(Msg::text(&chat, case.user, text)).await,
        Send::Reply(question, text) => line.message(Msg::text(&chat, case.user, text).reply_to(question)).await,
        Send::Press(message, label) => line.press(case.user, message, label).await,
        Send::Message(message) => line.built(message.clone()).await,
    };
    let first = line.answer_text(&answer).await;
    // Whatever else the update logs comes before its answer; a moment for stragglers.
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The last reply: a bare `/video` asks its question first.
    let said = match answer {
        Answer::Reply { chat_id, message_id } => {
            line.env.tg.replies(chat_id, message_id).last().and_then(Call::text).map_or(first, str::to_owned)
        }
        Answer::Notice(_) => first,
    };
    let lines = line.failure_lines(update_id);
    breaker.mend(case.tables).await;
    assert_eq!(said, case.answer, "{}", case.what);
    assert_eq!(lines.len(), 1, "{}: one line for the failure: {lines:#?}", case.what);
    assert!(!lines[0].contains(PROMPT_WORD), "{}: the user's words are not logged: {}", case.what, lines[0]);
    if let Some(task) = case.task {
        assert!(lines[0].contains(&format!("task={task}")), "{}: the line names task {task}: {}", case.what, lines[0]);
    }
}

fn with_markup(message: &Value, markup: &Value) -> Value {
    let mut message = message.clone();
    message["reply_markup"] = markup.clone();
    message
}

#[tokio::test]
async fn every_command_and_button_failing_on_sqlite_is_answered_once_and_charges_nothing() {
    let line = Line::polled(&[
        ("PAYMENTS", "stars"),
        ("CREDIT_PACKS", "10:150,50:600"),
        ("FREE_CREDITS", "5"),
        ("DAILY_LIMIT_PER_USER", "20"),
        ("MAX_ACTIVE_PER_USER", "5"),
    ])
    .await;
    let env = &line.env;
    let me = User::new(8801);
    let zh = User::new(8802).lang("zh");

    // Task 1 delivered (its video carries Again, the other orientation, Pro, Model) ...
    line.ask(&me, "/video --landscape a paper lantern on a lake").await;
    let upstream = FakeVideoApi::task_id(1);
    env.video.add_file("v1.mp4", vec![7; 1000]);
    env.video.script_task(&upstream, vec![Reply::completed(&upstream, &env.video.file_url("v1.mp4"))]);
    let video = env.tg.wait_for("sendVideo", 1, WAIT).await.remove(0).result;
    // ... and its model menu opened.
    let (_, opened) = line.press(&me, &video, "🎬 Model").await;
    line.answer_text(&opened).await;
    let menu = crate::wait_keyboard_edit(env, me.id, msg_id(&video), 1).await;
    let menu = with_markup(&video, &menu.body["reply_markup"]);
    let other_model = button_labels(&menu["reply_markup"])[0][0].clone();
    // Task 2 running, under its status message (Refresh, Stop).
    let upstream = FakeVideoApi::task_id(2);
    env.video.script_task(&upstream, vec![Reply::task(&upstream, "processing")]);
    let status = line.ask(&me, "/video a lantern in the rain").await.result;
    assert!(status["text"].as_str().unwrap().contains("#2"), "{status}");
    let settings = line.ask(&me, "/settings").await.result;
    let mistake = line.ask(&me, "/video d=25 a lantern on a roof").await.result;
    let question = line.ask(&me, "/video").await.result;
    let packs = line.ask(&me, "/buy").await.result;
    // A purchase paid for, to arrive when its invoice cannot be read.
    let (_, bought) = line.press(&me, &packs, "50 credits · 600 ⭐").await;
    line.answer_text(&bought).await;
    let invoice = env.tg.wait_for("sendInvoice", 1, WAIT).await.remove(0);
    let paid = successful_payment(&Chat::private(me.id), &me, &Payment::of_invoice(&invoice.body), "charge-8801");
    let quota = line.ask(&me, "/quota").await.text().unwrap().to_owned();
    let balance = line.ask(&me, "/balance").await.text().unwrap().to_owned();
    let creates = env.video.creates().len();

    // A SQLite store serves the chats' settings from memory (read at start),
    // so their read cannot fail here; it can on PostgreSQL, below.
    let breaker = Breaker::sqlite(env).await;
    let tasks: &[&str] = &["tasks"];
    let task = Some(2);
    #[rustfmt::skip]
    let cases = [
        // ---- commands ----
        Case { what: "/video", tables: tasks, user: &me, send: Send::Text("/video a lantern at dawn"), answer: NOT_STORED, task: None },
        Case { what: "/status", tables: tasks, user: &me, send: Send::Text("/status"), answer: INSIDE, task: None },
        Case { what: "/status 2", tables: tasks, user: &me, send: Send::Text("/status 2"), answer: INSIDE, task },
        Case { what: "/tasks in Chinese", tables: tasks, user: &zh, send: Send::Text("/tasks"), answer: INSIDE_ZH, task: None },
        Case { what: "/quota", tables: tasks, user: &me, send: Send::Text("/quota"), answer: INSIDE, task: None },
        Case { what: "/cancel 2", tables: tasks, user: &me, send: Send::Text("/cancel 2"), answer: INSIDE, task },
        Case { what: "/again", tables: tasks, user: &me, send: Send::Text("/again"), answer: INSIDE, task: None },
        Case { what: "/balance", tables: &["credit_balances"], user: &me, send: Send::Text("/balance"), answer: INSIDE, task: None },
        Case { what: "/buy", tables: &["credit_balances"], user: &me, send: Send::Text("/buy"), answer: INSIDE, task: None },
        Case { what: "guided answer", tables: &["guided_questions"], user: &me, send: Send::Reply(&question, "a lantern festival"), answer: INSIDE, task: None },
        Case { what: "bare /video, its question not stored", tables: &["guided_questions"], user: &me, send: Send::Text("/video"), answer: INSIDE, task: None },
        Case { what: "payment, its invoice unreadable", tables: &["invoices"], user: &me, send: Send::Message(&paid), answer: NOT_CREDITED, task: None },
        // ---- buttons ----
        Case { what: "any press, presses unrecorded", tables: &["button_presses"], user: &me, send: Send::Press(&menu, "↩ Back"), answer: INSIDE, task: Some(1) },
        Case { what: "refresh", tables: tasks, user: &me, send: Send::Press(&status, "🔄 Refresh"), answer: INSIDE, task },
        Case { what: "stop", tables: tasks, user: &me, send: Send::Press(&status, "✖ Stop"), answer: INSIDE, task },
        Case { what: "again", tables: tasks, user: &me, send: Send::Press(&video, "🔁 Again"), answer: INSIDE, task: Some(1) },
        Case { what: "other orientation", tables: tasks, user: &me, send: Send::Press(&video, "↕ Portrait"), answer: INSIDE, task: Some(1) },
        Case { what: "pro", tables: tasks, user: &me, send: Send::Press(&video, "⭐ Pro"), answer: INSIDE, task: Some(1) },
        Case { what: "another model", tables: tasks, user: &me, send: Send::Press(&menu, &other_model), answer: INSIDE, task: Some(1) },
        Case { what: "settings choice", tables: &["chat_settings"], user: &me, send: Send::Press(&settings, "Landscape"), answer: INSIDE, task: None },
        Case { what: "fix button", tables: &["pending_requests"], user: &me, send: Send::Press(&mistake, "15 s"), answer: INSIDE, task: None },
        Case { what: "buy button", tables: &["invoices"], user: &me, send: Send::Press(&packs, "10 credits · 150 ⭐"), answer: INSIDE, task: None },
        // Last: the same press within a few seconds is refused as a repeat.
        Case { what: "model menu", tables: tasks, user: &me, send: Send::Press(&video, "🎬 Model"), answer: INSIDE, task: Some(1) },
    ];
    for case in cases {
        check(&line, &breaker, case).await;
    }

    // Mended: nothing was charged, nothing was sent to the video API, and the
    // fix buttons and the question still work.
    assert_eq!(line.ask(&me, "/quota").await.text().unwrap(), quota);
    assert_eq!(line.ask(&me, "/balance").await.text().unwrap(), balance);
    assert_eq!(env.video.creates().len(), creates, "no create while failing");
    let (_, answered) =
        line.message(Msg::text(&Chat::private(me.id), &me, "a lantern festival").reply_to(&question)).await;
    line.answer_text(&answered).await;
    // The same press again within 5 s would be refused as a repeat.
    tokio::time::sleep(Duration::from_secs(5)).await;
    line.press(&me, &mistake, "15 s").await;
    env.video.wait_creates(creates + 2, WAIT).await;
}

#[tokio::test]
async fn commands_and_buttons_failing_on_a_cut_postgres_are_answered_once() {
    let proxy = CutProxy::start().await;
    let database = fresh_postgres_db().await;
    // Warnings and errors only: the lines still name their update and task.
    let quiet = "warn,sora_bot::updates=info";
    let line = Line::hooked(&[("DATABASE_URL", &proxy.url_to(&database)), ("RUST_LOG", quiet)]).await;
    let env = &line.env;
    let me = User::new(8901);
    let zh = User::new(8902).lang("zh");

    let upstream = FakeVideoApi::task_id(1);
    env.video.script_task(&upstream, vec![Reply::task(&upstream, "processing")]);
    let status = line.ask(&me, "/video a lantern in the fog").await.result;
    let settings = line.ask(&me, "/settings").await.result;
    let quota = line.ask(&me, "/quota").await.text().unwrap().to_owned();
    let question = line.ask(&me, "/video").await.result;
    let mistake = line.ask(&me, "/video d=25 a lantern on a bridge").await.result;

    let breaker = Breaker::Postgres(proxy);
    #[rustfmt::skip]
    let cases = [
        Case { what: "/video", tables: &[], user: &me, send: Send::Text("/video a lantern at noon"), answer: INSIDE, task: None },
        Case { what: "/status 1", tables: &[], user: &me, send: Send::Text("/status 1"), answer: INSIDE, task: Some(1) },
        Case { what: "/quota in Chinese", tables: &[], user: &zh, send: Send::Text("/quota"), answer: INSIDE_ZH, task: None },
        Case { what: "guided answer", tables: &[], user: &me, send: Send::Reply(&question, "a lantern parade"), answer: INSIDE, task: None },
        Case { what: "bare /video", tables: &[], user: &zh, send: Send::Text("/video"), answer: INSIDE_ZH, task: None },
        Case { what: "refresh", tables: &[], user: &me, send: Send::Press(&status, "🔄 Refresh"), answer: INSIDE, task: Some(1) },
        Case { what: "settings choice", tables: &[], user: &me, send: Send::Press(&settings, "Landscape"), answer: INSIDE, task: None },
        Case { what: "/settings", tables: &[], user: &me, send: Send::Text("/settings"), answer: INSIDE, task: None },
        Case { what: "fix button", tables: &[], user: &me, send: Send::Press(&mistake, "10 s"), answer: INSIDE, task: None },
    ];
    for case in cases {
        check(&line, &breaker, case).await;
    }

    assert_eq!(line.ask(&me, "/quota").await.text().unwrap(), quota, "nothing was counted");
    assert_eq!(env.video.creates().len(), 1, "no create while cut");
    drop(line);
    drop_postgres_db(&database).await;
}
