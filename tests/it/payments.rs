//! Paying with Telegram Stars on the real binary: the whole purchase, tampered
//! pre-checkouts, a charge delivered twice and after a restart on PostgreSQL
//! with two replicas, credits back for videos that were not made, a race for
//! the last credit, the admins' refund and grant, and nothing at all with
//! payments off.

use std::time::Duration;

use serde_json::{Value, json};
use sora_bot::store::{CreditReason, Movement, Store};
use testkit::*;

use crate::*;

const PAYING: &[(&str, &str)] = &[("PAYMENTS", "stars"), ("CREDIT_PACKS", "10:150,50:600")];
const TEN: &str = "10 credits · 150 ⭐";
const WEBHOOK_SECRET: &str = "payments_secret_1";

/// `/buy` in `chat`, then a press on `label`: the invoice the bot sent.
async fn invoice(env: &TestEnv, chat: &Chat, user: &User, label: &str) -> Call {
    let before = env.tg.calls_of("sendInvoice").len();
    let command = send(env, Msg::text(chat, user, "/buy"));
    let menu = env.tg.wait_replies(chat.id, command, 1, WAIT).await.remove(0);
    let press = env.tg.press(user, &menu, label);
    env.tg.press_answer(&press, WAIT).await;
    env.tg.wait_for("sendInvoice", before + 1, WAIT).await.remove(before)
}

/// The whole purchase: invoice, pre-checkout, payment. Returns the reply to the payment.
async fn buy(env: &TestEnv, user: &User, label: &str, charge_id: &str) -> String {
    let chat = Chat::private(user.id);
    let sent = invoice(env, &chat, user, label).await;
    let payment = Payment::of_invoice(&sent.body);
    let query = env.tg.pre_checkout(user, &payment);
    let answer = env.tg.pre_checkout_answer(&query, WAIT).await;
    assert_eq!(answer.body["ok"], json!(true), "{}", answer.body);
    let paid = env.tg.pay(&chat, user, &payment, charge_id);
    reply_to(&env.tg, &paid).await
}

/// `/<command>` from `user` in their private chat; the bot's reply.
async fn ask(env: &TestEnv, user: &User, text: &str) -> String {
    let message = Msg::text(&Chat::private(user.id), user, text).build();
    env.tg.push_message(message.clone());
    reply_to(&env.tg, &message).await
}

fn table(movements: &[Movement]) -> String {
    let mut out =
        String::from("id | user | delta | reason     | balance after | task | charge      | stars | by admin\n");
    for m in movements {
        let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_else(|| "-".into());
        out += &format!(
            "{} | {} | {:+} | {:<10} | {} | {} | {} | {} | {}\n",
            m.id,
            m.user_id,
            m.delta,
            m.reason.as_str(),
            m.balance_after,
            opt(m.task_id),
            m.charge_id.as_deref().unwrap_or("-"),
            opt(m.stars),
            opt(m.by_user),
        );
    }
    out
}

async fn balance(store: &Store, user_id: i64) -> i64 {
    store.balance(user_id).await.unwrap()
}

// ---------------------------------------------------------------------------
// Buying
// ---------------------------------------------------------------------------

/// /buy, a pack, the Stars invoice, the pre-checkout, the payment, the new
/// balance, a video paid with one credit; in English and in Chinese.
#[tokio::test]
async fn a_whole_purchase_in_english_and_chinese() {
    let (env, _bot) = bot_with(PAYING).await;
    let menus = env.tg.wait_for("setMyCommands", 2, WAIT).await;
    for menu in &menus {
        let names: Vec<&str> =
            menu.body["commands"].as_array().unwrap().iter().map(|c| c["command"].as_str().unwrap()).collect();
        assert_eq!(&names[names.len() - 3..], ["/buy", "/balance", "/paysupport"], "{names:?}");
    }
    let polls = env.tg.wait_for("getUpdates", 1, WAIT).await;
    assert!(
        polls[0].body["allowed_updates"].as_array().unwrap().contains(&json!("pre_checkout_query")),
        "{}",
        polls[0].body
    );

    let ann = User::new(8001);
    let chat = Chat::private(ann.id);
    let command = send(&env, Msg::text(&chat, &ann, "/buy"));
    let menu = env.tg.wait_replies(chat.id, command, 1, WAIT).await.remove(0);
    println!("EN /buy:\n{}\nbuttons: {:?}", menu.text().unwrap(), buttons_labels(&menu));
    assert_eq!(buttons_labels(&menu), [[TEN], ["50 credits · 600 ⭐"]]);
    let press = env.tg.press(&ann, &menu, TEN);
    env.tg.press_answer(&press, WAIT).await;
    let sent = env.tg.wait_for("sendInvoice", 1, WAIT).await.remove(0);
    assert_eq!(sent.chat_id(), Some(ann.id));
    assert_eq!(sent.body["currency"], "XTR");
    assert_eq!(sent.body["prices"], json!([{"label": "10 credits", "amount": 150}]));
    assert!(sent.body.get("provider_token").is_none_or(|token| token == ""), "{}", sent.body);
    let payload = sent.body["payload"].as_str().unwrap();
    assert!(payload.starts_with(&format!("credits:10:150:{}:", ann.id)), "{payload}");
    println!("EN invoice: {} — {}", sent.body["title"], sent.body["description"]);

    let payment = Payment::of_invoice(&sent.body);
    let query = env.tg.pre_checkout(&ann, &payment);
    let answer = env.tg.pre_checkout_answer(&query, WAIT).await;
    assert_eq!(answer.body["ok"], json!(true));
    let paid = env.tg.pay(&chat, &ann, &payment, "charge-en-1");
    let thanks = reply_to(&env.tg, &paid).await;
    println!("EN payment: {thanks}");
    assert_eq!(thanks, "✅ Thank you! 10 credits added. Balance: 10 credits.");

    let video = send(&env, Msg::text(&chat, &ann, "/video a paid cat"));
    env.tg.wait_replies(chat.id, video, 1, WAIT).await;
    assert_eq!(env.video.creates().len(), 1);
    let shown = ask(&env, &ann, "/balance").await;
    println!("EN /balance:\n{shown}");
    assert!(shown.starts_with("💳 Credits: 9\n"), "{shown}");
    assert!(shown.contains("−1 video #1 → 9") && shown.contains("+10 bought (150 ⭐) → 10"), "{shown}");
    let quota = ask(&env, &ann, "/quota").await;
    assert!(quota.starts_with("💳 Credits: 9"), "the balance comes first: {quota}");

    let mei = User::new(8002).lang("zh-hans");
    let zh = buy(&env, &mei, "50 点 · 600 ⭐", "charge-zh-1").await;
    let sent = env.tg.calls_of("sendInvoice").remove(1);
    println!("ZH invoice: {} — {}", sent.body["title"], sent.body["description"]);
    println!("ZH payment: {zh}");
    assert_eq!(zh, "✅ 谢谢！已到账 50 点。余额：50 点。");
    let shown = ask(&env, &mei, "/balance").await;
    println!("ZH /balance:\n{shown}");
    assert!(shown.starts_with("💳 点数：50\n") && shown.contains("+50 购买（600 ⭐） → 50"), "{shown}");
    let support = ask(&env, &mei, "/paysupport").await;
    assert!(support.contains("付款问题"), "{support}");
}

/// A changed price, an altered payload, another user's invoice, and junk:
/// each pre-checkout is refused with a short reason in the payer's language;
/// only the invoice as made is accepted. In a group the invoice goes to the
/// presser's private chat, or into the group when the bot cannot write there.
#[tokio::test]
async fn tampered_pre_checkouts_are_refused() {
    let (env, _bot) = bot_with(PAYING).await;
    let ann = User::new(8011);
    let sent = invoice(&env, &Chat::private(ann.id), &ann, TEN).await;
    let genuine = Payment::of_invoice(&sent.body);
    let refused = |from: &User, payment: Payment| {
        let query = env.tg.pre_checkout(from, &payment);
        let tg = env.tg.clone();
        async move {
            let answer = tg.pre_checkout_answer(&query, WAIT).await;
            assert_eq!(answer.body["ok"], json!(false), "{}", answer.body);
            answer.body["error_message"].as_str().unwrap().to_owned()
        }
    };
    let cheaper = Payment { total_amount: 1, ..genuine.clone() };
    assert_eq!(refused(&ann, cheaper).await, "The price does not match the invoice. Use /buy again.");
    let dollars = Payment { currency: "USD".into(), ..genuine.clone() };
    assert_eq!(refused(&ann, dollars).await, "The price does not match the invoice. Use /buy again.");
    let more = Payment { payload: genuine.payload.replace("credits:10:", "credits:50:"), ..genuine.clone() };
    assert_eq!(refused(&ann, more).await, "This invoice is not valid. Use /buy for a new one.");
    let junk = Payment { payload: "free-credits-please".into(), ..genuine.clone() };
    assert_eq!(refused(&ann, junk).await, "This invoice is not valid. Use /buy for a new one.");
    let mei = User::new(8012).lang("zh");
    assert_eq!(refused(&mei, genuine.clone()).await, "这是别人的账单。请用 /buy 获取你自己的。");
    let query = env.tg.pre_checkout(&ann, &genuine);
    assert_eq!(env.tg.pre_checkout_answer(&query, WAIT).await.body["ok"], json!(true));

    // In a group: the presser's private chat first ...
    let group = Chat::group(-1008010);
    let sent = invoice(&env, &group, &ann, TEN).await;
    assert_eq!(sent.chat_id(), Some(ann.id), "the invoice goes to the presser privately");
    // ... else into the group, for them only.
    env.tg.fail_next(
        "sendInvoice",
        1,
        Failure::Forbidden("Forbidden: bot can't initiate conversation with a user".into()),
    );
    let sent = invoice(&env, &group, &ann, TEN).await;
    assert_eq!(sent.chat_id(), Some(group.id));
    assert!(sent.body["description"].as_str().unwrap().contains("For User 8011"), "{}", sent.body);
    env.tg.wait_text(group.id, "Your invoice is below", WAIT).await;
    let in_group = Payment::of_invoice(&sent.body);
    let bob = User::new(8013);
    assert_eq!(refused(&bob, in_group).await, "This invoice is someone else's. Use /buy for your own.");
}

// ---------------------------------------------------------------------------
// Exactly once, across replicas and restarts
// ---------------------------------------------------------------------------

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

async fn post(port: u16, update: &Value) {
    let response = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/telegram/webhook"))
        .header("content-type", "application/json")
        .header("X-Telegram-Bot-Api-Secret-Token", WEBHOOK_SECRET)
        .body(update.to_string())
        .send()
        .await
        .expect("POST webhook");
    assert_eq!(response.status().as_u16(), 200);
}

/// Two replicas on one PostgreSQL database: the same successful payment
/// reaches both at once, then again after both restarted. One credit, one
/// "thank you", one `bought` row.
#[tokio::test]
async fn a_charge_delivered_twice_and_after_a_restart_is_credited_once_on_postgres_with_two_replicas() {
    let database_url = fresh_postgres_db().await;
    let mut env = TestEnv::start(bot_bin()).await;
    let ports = [free_port(), free_port()];
    env.set_env("DATABASE_URL", &database_url);
    env.set_env("WEBHOOK_SECRET", WEBHOOK_SECRET);
    env.set_env("PUBLIC_BASE_URL", &format!("http://127.0.0.1:{}", ports[0]));
    env.set_env("IMAGE_MODE", "data");
    for (key, value) in PAYING {
        env.set_env(key, value);
    }
    let start = |env: &mut TestEnv, port: u16| {
        env.set_env("HTTP_BIND", &format!("127.0.0.1:{port}"));
        env.start_bot()
    };
    let mut bots = Vec::new();
    for port in ports {
        let bot = start(&mut env, port);
        bot.wait_log("receiving updates by webhook", WAIT).await;
        bots.push(bot);
    }
    let hook = env.tg.wait_for("setWebhook", 1, WAIT).await.remove(0);
    assert!(hook.body["allowed_updates"].as_array().unwrap().contains(&json!("pre_checkout_query")));

    // /buy on one replica, the press on the other, the pre-checkout on the first.
    let ann = User::new(8021);
    let chat = Chat::private(ann.id);
    let command = Msg::text(&chat, &ann, "/buy").build();
    post(ports[0], &json!({"update_id": 1, "message": command})).await;
    let menu = env.tg.wait_replies(chat.id, msg_id(&command), 1, WAIT).await.remove(0);
    let data = button_data(&menu.body["reply_markup"], TEN).unwrap();
    let (_, mut press) = callback_query(&ann, &menu.result, &data);
    press["update_id"] = json!(2);
    post(ports[1], &press).await;
    let sent = env.tg.wait_for("sendInvoice", 1, WAIT).await.remove(0);
    let payment = Payment::of_invoice(&sent.body);
    let (query, mut checkout) = pre_checkout_query(&ann, &payment);
    checkout["update_id"] = json!(3);
    post(ports[0], &checkout).await;
    assert_eq!(env.tg.pre_checkout_answer(&query, WAIT).await.body["ok"], json!(true));

    let paid = successful_payment(&chat, &ann, &payment, "charge-pg-1");
    let update = json!({"update_id": 4, "message": paid});
    tokio::join!(post(ports[0], &update), post(ports[1], &update));
    env.tg.wait_text(chat.id, "10 credits added", WAIT).await;
    for bot in &bots {
        bot.kill();
    }
    let bot = start(&mut env, ports[0]);
    bot.wait_log("receiving updates by webhook", WAIT).await;
    post(ports[0], &update).await;
    // The redelivery is handled (and logged) without a second credit.
    bot.wait_log("credited before, not again", WAIT).await;

    let thanks = env.tg.sent_texts(chat.id).into_iter().filter(|t| t.contains("credits added")).count();
    assert_eq!(thanks, 1, "{}", env.tg.dump());
    let store = Store::connect(&database_url).await.unwrap();
    assert_eq!(balance(&store, ann.id).await, 10);
    let bought: Vec<_> =
        store.all_movements().await.unwrap().into_iter().filter(|m| m.reason == CreditReason::Bought).collect();
    assert_eq!(bought.len(), 1, "{bought:?}");
    println!("{}", table(&store.all_movements().await.unwrap()));
    store.close().await;
    bot.kill();
    drop_postgres_db(&database_url).await;
}

// ---------------------------------------------------------------------------
// Spending and giving back
// ---------------------------------------------------------------------------

/// A video that fails upstream and one the video API refuses give their
/// credits back; a delivered one keeps them. Admins pay nothing.
#[tokio::test]
async fn credits_come_back_after_a_failed_and_a_refused_video() {
    let mut vars = PAYING.to_vec();
    vars.push(("ADMIN_USER_IDS", "8030"));
    let (env, _bot) = bot_with(&vars).await;
    let admin = User::new(8030);
    let ann = User::new(8031);
    let chat = Chat::private(ann.id);
    assert_eq!(ask(&env, &admin, "/grant 8031 3").await, "✅ User 8031: +3 credits. Balance: 3.");

    env.video.script_task(&FakeVideoApi::task_id(1), vec![Reply::failed(&FakeVideoApi::task_id(1), "moderation")]);
    let failed = send(&env, Msg::text(&chat, &ann, "/video a failing cat"));
    let replies = env.tg.wait_replies(chat.id, failed, 2, Duration::from_secs(30)).await;
    assert!(replies[1].text().unwrap().contains("moderation"), "{}", env.tg.dump());
    let store = crate::store(&env).await;
    // Given back in the transaction that ends the task, which the failure message follows.
    assert_eq!(balance(&store, ann.id).await, 3, "a failed video gives its credit back");

    env.video.push_create(Reply::json(400, json!({"error": {"message": "prompt refused", "type": "invalid_request"}})));
    let refused = send(&env, Msg::text(&chat, &ann, "/video a refused cat"));
    env.tg.wait_replies(chat.id, refused, 1, WAIT).await;
    assert_eq!(env.video.creates().len(), 2);
    assert_eq!(balance(&store, ann.id).await, 3, "a refused create gives its credit back");

    let admin_video = send(&env, Msg::text(&Chat::private(admin.id), &admin, "/video an admin's cat"));
    env.tg.wait_replies(admin.id, admin_video, 1, WAIT).await;
    assert_eq!(env.video.creates().len(), 3, "admins pay nothing");
    let reasons: Vec<_> =
        store.movements(ann.id, 10).await.unwrap().iter().rev().map(|m| (m.reason, m.delta)).collect();
    use CreditReason as R;
    assert_eq!(reasons, [(R::Granted, 3), (R::Spent, -1), (R::GivenBack, 1), (R::Spent, -1), (R::GivenBack, 1)]);
    assert!(store.movements(admin.id, 10).await.unwrap().is_empty());
    println!("{}", table(&store.all_movements().await.unwrap()));
}

/// Two /video at once on a balance of one credit: one is made, the other is
/// refused before any call, with the packs to buy.
#[tokio::test]
async fn two_videos_race_for_the_last_credit() {
    let mut vars = PAYING.to_vec();
    vars.extend([("ADMIN_USER_IDS", "8040"), ("MAX_ACTIVE_PER_USER", "5")]);
    let (env, _bot) = bot_with(&vars).await;
    let ann = User::new(8041);
    ask(&env, &User::new(8040), "/grant 8041 1").await;
    // Her private chat and a group: two chats, handled side by side.
    let group = Chat::group(-1008040);
    let a = send(&env, Msg::text(&Chat::private(ann.id), &ann, "/video racing cat one"));
    let b = send(&env, Msg::text(&group, &ann, "/video racing cat two"));
    let first = env.tg.wait_replies(ann.id, a, 1, WAIT).await.remove(0);
    let second = env.tg.wait_replies(group.id, b, 1, WAIT).await.remove(0);
    assert_eq!(env.video.creates().len(), 1, "one wins");
    let refusal = [&first, &second].into_iter().find(|c| c.text().unwrap().starts_with("💳")).expect("one refused");
    assert_eq!(refusal.text().unwrap(), "💳 This video costs 1 credits and you have 0. Buy credits:");
    assert_eq!(buttons_labels(refusal), [[TEN], ["50 credits · 600 ⭐"]]);
    assert_eq!(balance(&crate::store(&env).await, ann.id).await, 0);
}

// ---------------------------------------------------------------------------
// Admins
// ---------------------------------------------------------------------------

/// /refund returns the Stars only while the charge's credits are all there;
/// a refund Telegram refuses changes nothing; /grant adds and takes; only
/// admins may do either.
#[tokio::test]
async fn admins_refund_and_grant() {
    let mut vars = PAYING.to_vec();
    vars.push(("ADMIN_USER_IDS", "8050"));
    let (env, _bot) = bot_with(&vars).await;
    let admin = User::new(8050);
    let ann = User::new(8051);
    buy(&env, &ann, TEN, "charge-r-1").await;
    let video = send(&env, Msg::text(&Chat::private(ann.id), &ann, "/video a cat"));
    env.tg.wait_replies(ann.id, video, 1, WAIT).await;

    let spent = ask(&env, &admin, "/refund charge-r-1").await;
    assert_eq!(spent, "Not refunded: user 8051 has 9 credits left of this payment's 10. Nothing was changed.");
    assert!(env.tg.calls_of("refundStarPayment").is_empty());
    assert_eq!(ask(&env, &admin, "/grant 8051 +1").await, "✅ User 8051: +1 credits. Balance: 10.");

    env.tg.fail_next("refundStarPayment", 1, Failure::BadRequest("Bad Request: CHARGE_NOT_FOUND".into()));
    let refused = ask(&env, &admin, "/refund charge-r-1").await;
    assert!(refused.starts_with("⚠️ Telegram did not refund"), "{refused}");
    let store = crate::store(&env).await;
    assert_eq!(balance(&store, ann.id).await, 10, "credits put back");

    let done = ask(&env, &admin, "/refund charge-r-1").await;
    assert_eq!(done, "↩️ Refunded 150 ⭐ to user 8051; 10 credits removed. Their balance: 0.");
    let call = env.tg.wait_for("refundStarPayment", 1, WAIT).await.remove(0);
    assert_eq!(
        (call.body["user_id"].clone(), call.body["telegram_payment_charge_id"].clone()),
        (json!(8051), json!("charge-r-1"))
    );
    assert_eq!(
        ask(&env, &admin, "/refund charge-r-1").await,
        "This payment of user 8051 was refunded before; nothing done."
    );
    assert_eq!(ask(&env, &admin, "/refund nothing-like-it").await, "No payment with this charge id.");

    assert_eq!(ask(&env, &admin, "/grant 8051 5").await, "✅ User 8051: +5 credits. Balance: 5.");
    assert_eq!(ask(&env, &admin, "/grant 8051 −8").await, "✅ User 8051: -5 credits. Balance: 0.");
    assert!(ask(&env, &admin, "/grant 8051").await.starts_with("Usage: /grant"));
    assert_eq!(ask(&env, &ann, "/grant 8051 100").await, "🔒 Only the bot's admins can do that.");
    assert_eq!(ask(&env, &ann, "/refund charge-r-1").await, "🔒 Only the bot's admins can do that.");
    let shown = ask(&env, &ann, "/balance").await;
    println!("after refund and grants:\n{shown}");
    println!("{}", table(&store.all_movements().await.unwrap()));
}

// ---------------------------------------------------------------------------
// Payments off
// ---------------------------------------------------------------------------

/// The default: no payment commands, no pre-checkout updates asked for, and
/// /video costs no credits.
#[tokio::test]
async fn with_payments_off_nothing_changes() {
    let (env, _bot) = bot_with(&[]).await;
    let polls = env.tg.wait_for("getUpdates", 1, WAIT).await;
    assert_eq!(polls[0].body["allowed_updates"], json!(["message", "inline_query", "callback_query"]));
    let ann = User::new(8061);
    let chat = Chat::private(ann.id);
    let buy = send(&env, Msg::text(&chat, &ann, "/buy"));
    let video = send(&env, Msg::text(&chat, &ann, "/video a free cat"));
    env.tg.wait_replies(chat.id, video, 1, WAIT).await;
    assert!(env.tg.replies(chat.id, buy).is_empty(), "/buy is not a command with payments off");
    assert_eq!(env.video.creates().len(), 1);
    let quota = ask(&env, &ann, "/quota").await;
    assert!(quota.starts_with("📊 Today"), "{quota}");
    assert!(crate::store(&env).await.all_movements().await.unwrap().is_empty());
}
