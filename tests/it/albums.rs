//! Album photos are kept only for users who may use `/video`: a stranger's
//! album is not remembered (in memory with SQLite, in the database with
//! PostgreSQL), while an allowed user's album is, so a reply to one of its
//! photos brings the whole album.

use std::time::Duration;

use serde_json::{Value, json};
use sqlx::{AnyPool, Row};
use testkit::*;

use crate::*;
const ALLOWED: i64 = 7001;
const OTHER_ALLOWED: i64 = 7003;
const STRANGER: i64 = 7002;

/// The create whose prompt is `prompt`, waiting for it.
async fn create_with_prompt(env: &TestEnv, prompt: &str) -> Value {
    let found =
        poll_until(WAIT, || env.video.creates().into_iter().find(|create| create.body["prompt"] == json!(prompt)))
            .await;
    found.unwrap_or_else(|| panic!("no create for {prompt:?}\n{}", env.video.dump())).body
}

fn image_count(create: &Value) -> usize {
    create["images"].as_array().map_or(0, Vec::len)
}

/// An uncaptioned album of three in `chat` from `author`, its last photo returned.
fn push_album(env: &TestEnv, chat: &Chat, author: i64, group: &str) -> Value {
    let mut last = Value::Null;
    for i in 1..=3 {
        let prefix = format!("{group}-{i}");
        env.tg.add_photo(&prefix);
        last = Msg::photo(chat, &User::new(author), &prefix).album(group).build();
        env.tg.push_message(last.clone());
    }
    last
}

async fn strangers_albums_are_not_kept(postgres_url: Option<&str>) {
    let mut env = TestEnv::start(bot_bin()).await;
    env.set_env("ALLOW_EVERYONE", "false");
    env.set_env("ALLOWED_USER_IDS", &format!("{ALLOWED},{OTHER_ALLOWED}"));
    if let Some(url) = postgres_url {
        env.set_env("DATABASE_URL", url);
    }
    let _bot = env.start_bot();
    env.tg.wait_for("setMyCommands", 1, WAIT).await;

    let chat = Chat::group(-7000);
    let strangers = push_album(&env, &chat, STRANGER, "stranger-album");
    let allowed = push_album(&env, &chat, OTHER_ALLOWED, "allowed-album");
    // Every photo handled, and the in-process album window (a second) closed.
    let last = env.tg.push_message(Msg::text(&chat, &User::new(STRANGER), "just chatting").build());
    assert!(poll_until(WAIT, || env.tg.handed_out_at(last)).await.is_some(), "the album never reached the bot");
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let user = User::new(ALLOWED);
    env.tg.push_message(Msg::text(&chat, &user, "/video the stranger's photo").reply_to(&strangers).build());
    env.tg.push_message(Msg::text(&chat, &user, "/video the allowed album").reply_to(&allowed).build());
    let stranger_create = create_with_prompt(&env, "the stranger's photo").await;
    assert_eq!(image_count(&stranger_create), 1, "only the replied photo: the stranger's album was not kept");
    let allowed_create = create_with_prompt(&env, "the allowed album").await;
    assert_eq!(image_count(&allowed_create), 3, "an allowed user's album is kept");

    if let Some(url) = postgres_url {
        sqlx::any::install_default_drivers();
        let pool = AnyPool::connect(url).await.expect("connect");
        let rows = sqlx::query("SELECT media_group_id, COUNT(*) AS n FROM album_photos GROUP BY media_group_id")
            .fetch_all(&pool)
            .await
            .unwrap();
        let groups: Vec<(String, i64)> = rows.iter().map(|row| (row.get("media_group_id"), row.get("n"))).collect();
        assert_eq!(groups, [("allowed-album".to_owned(), 3)]);
        pool.close().await;
    }
}

#[tokio::test]
async fn a_strangers_album_is_not_kept_on_sqlite() {
    strangers_albums_are_not_kept(None).await;
}

#[tokio::test]
async fn a_strangers_album_is_not_kept_on_postgres() {
    let url = fresh_postgres_db().await;
    strangers_albums_are_not_kept(Some(&url)).await;
    drop_postgres_db(&url).await;
}
