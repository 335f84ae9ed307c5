//! Inside failures: when the database fails under a command or a press, the
//! user hears so (and that nothing was charged) instead of nothing.

use testkit::*;

use crate::{WAIT, bot_with, send};

#[tokio::test]
async fn a_command_and_a_press_failing_inside_are_answered() {
    let (env, bot) = bot_with(&[]).await;
    let (chat, user) = (Chat::private(8801), User::new(8801));
    let command = send(&env, Msg::text(&chat, &user, "/video a lantern"));
    let status = env.tg.wait_replies(chat.id, command, 1, WAIT).await.remove(0);

    // The tasks table goes away underneath the running bot.
    let pool = sqlx::SqlitePool::connect(env.var("DATABASE_URL").unwrap()).await.unwrap();
    sqlx::query("ALTER TABLE tasks RENAME TO tasks_gone").execute(&pool).await.unwrap();

    let asked = send(&env, Msg::text(&chat, &user, "/status"));
    let answer = env.tg.wait_reply_text(chat.id, asked, WAIT).await;
    assert_eq!(answer, "⚠️ Something went wrong on our side; nothing was charged. Please try again in a minute.");

    let zh = User::new(8801).lang("zh");
    let asked = send(&env, Msg::text(&chat, &zh, "/tasks"));
    assert_eq!(
        env.tg.wait_reply_text(chat.id, asked, WAIT).await,
        "⚠️ 我们这边出了点问题，没有产生任何费用。请过一分钟再试。"
    );

    let press = env.tg.press(&user, &status, "✖ Stop");
    let answered = env.tg.press_answer(&press, WAIT).await;
    assert_eq!(
        answered.body["text"].as_str(),
        Some("⚠️ Something went wrong on our side; nothing was charged. Please try again in a minute.")
    );
    assert!(bot.logs().contains("an update's handler failed"), "{}", bot.logs());
    assert_eq!(env.video.creates().len(), 1, "nothing more was sent to the video API");
}
