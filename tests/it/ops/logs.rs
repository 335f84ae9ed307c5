//! What the operator reads: warning and error lines name the update, chat,
//! user or task they are about, and why.

use super::*;

/// The line of `logs` containing `needle`, waiting for it.
async fn line_with(bot: &BotProcess, needle: &str) -> String {
    bot.wait_log(needle, WAIT).await
}

#[tokio::test]
async fn a_refused_create_is_logged_with_its_reason() {
    let env = TestEnv::start(bot_bin()).await;
    let bot = started(&env).await;
    env.video.push_create(Reply::json(500, json!({"error": {"message": "upstream exploded"}})));
    let chat = Chat::private(611);
    let command = Msg::text(&chat, &User::new(611), "/video a dog").build();
    env.tg.push_message(command.clone());
    reply_to(&env.tg, &command).await;
    let line = line_with(&bot, "create refused").await;
    for part in ["WARN", "task=1", "chat_id=611", "user_id=611", "kind=\"upstream\"", "upstream exploded"] {
        assert!(line.contains(part), "{part} missing: {line}");
    }
}

/// A handler that fails (its database is gone) is logged with the update,
/// chat, user and command it was handling, but not the user's text.
#[tokio::test]
async fn a_failed_handler_is_logged_with_the_update_chat_user_and_command() {
    let db = fresh_postgres_db().await;
    let env = TestEnv::start(bot_bin()).await.env("DATABASE_URL", &db);
    let bot = started(&env).await;
    bot.wait_log("polls Telegram", WAIT).await;
    let name = db.rsplit('/').next().expect("database name");
    let mut admin = PgConnection::connect(POSTGRES_ADMIN_URL).await.expect("connect as admin");
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)")).execute(&mut admin).await.expect("DROP DATABASE");
    let _ = admin.close().await;

    let chat = Chat::group(-612);
    let message = Msg::text(&chat, &User::new(613), "/status 12 my private words").build();
    let update_id = env.tg.push_message(message);
    let line = line_with(&bot, "an update's handler failed").await;
    for part in [
        "ERROR".to_owned(),
        format!("update_id={update_id}"),
        "chat_id=-612".to_owned(),
        "user_id=613".to_owned(),
        "kind=\"/status\"".to_owned(),
    ] {
        assert!(line.contains(&part), "{part} missing: {line}");
    }
    assert!(!line.contains("private words"), "{line}");
}
