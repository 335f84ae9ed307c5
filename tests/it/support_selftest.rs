//! Tests of the test harness itself: the fakes, driven through teloxide and
//! reqwest exactly as the bot drives them.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::bot_bin;
use serde_json::json;
use teloxide::RequestError;
use teloxide::net::Download;
use teloxide::prelude::*;
use teloxide::types::{FileId, InputFile, MessageEntityKind, MessageId, UpdateKind};
use testkit::{BOT_USERNAME, Chat, Failure, FakeTelegram, FakeVideoApi, Msg, Reply, TOKEN, TestEnv, User};

const WAIT: Duration = Duration::from_secs(5);

async fn fake_and_bot() -> (FakeTelegram, Bot) {
    let fake = FakeTelegram::start().await;
    let bot = Bot::new(TOKEN).set_api_url(fake.url().parse().unwrap());
    (fake, bot)
}

async fn next_message(bot: &Bot, offset: i32) -> Message {
    let updates = bot.get_updates().offset(offset).timeout(1).await.expect("getUpdates");
    assert_eq!(updates.len(), 1, "{updates:#?}");
    match updates.into_iter().next().unwrap().kind {
        UpdateKind::Message(message) => message,
        other => panic!("not a message: {other:?}"),
    }
}

#[tokio::test]
async fn get_me_describes_the_test_bot() {
    let (_fake, bot) = fake_and_bot().await;
    let me = bot.get_me().await.expect("getMe");
    assert_eq!(me.username(), BOT_USERNAME);
    assert_eq!(me.id, UserId(123456789));
    assert!(me.is_bot);
}

#[tokio::test]
async fn wrong_token_is_unauthorized() {
    let fake = FakeTelegram::start().await;
    let bot = Bot::new("1:wrong").set_api_url(fake.url().parse().unwrap());
    let error = bot.get_me().await.expect_err("wrong token");
    assert!(matches!(error, RequestError::Api(teloxide::ApiError::InvalidToken)), "{error:?}");
}

#[tokio::test]
async fn send_message_is_recorded_and_answered_with_a_message() {
    let (fake, bot) = fake_and_bot().await;
    let sent = bot.send_message(ChatId(42), "hello").await.expect("sendMessage");
    assert_eq!(sent.text(), Some("hello"));
    assert_eq!(sent.chat.id, ChatId(42));
    assert!(sent.chat.is_private());
    assert_eq!(sent.id.0, 10_000);

    let in_group = bot.send_message(ChatId(-100_500), "hi all").await.expect("sendMessage");
    assert!(in_group.chat.is_supergroup());
    assert_eq!(in_group.id.0, 10_001);

    let calls = fake.wait_for("sendMessage", 2, WAIT).await;
    assert_eq!(calls[0].method, "sendMessage");
    assert_eq!(calls[0].body["chat_id"], json!(42));
    assert_eq!(fake.sent_texts(42), ["hello"]);
    assert_eq!(fake.wait_text(-100_500, "all", WAIT).await, "hi all");
}

#[tokio::test]
async fn edits_answer_the_edited_message() {
    let (fake, bot) = fake_and_bot().await;
    let edited = bot.edit_message_text(ChatId(42), MessageId(10_007), "now processing").await.expect("edit");
    assert_eq!(edited.id, MessageId(10_007));
    assert_eq!(edited.text(), Some("now processing"));
    assert_eq!(fake.calls_of("editMessageText").len(), 1);
}

#[tokio::test]
async fn scripted_429_surfaces_as_retry_after_and_is_recorded_as_failed() {
    let (fake, bot) = fake_and_bot().await;
    fake.fail_next("sendMessage", 1, Failure::RetryAfter(7));

    let error = bot.send_message(ChatId(42), "first").await.expect_err("429");
    assert!(matches!(error, RequestError::RetryAfter(seconds) if seconds.seconds() == 7), "{error:?}");
    bot.send_message(ChatId(42), "second").await.expect("only one failure was scripted");

    assert_eq!(fake.attempts_of("sendMessage").len(), 2);
    assert!(fake.attempts_of("sendMessage")[0].failed);
    assert_eq!(fake.sent_texts(42), ["second"]);
}

#[tokio::test]
async fn scripted_bad_request_carries_its_description() {
    let (fake, bot) = fake_and_bot().await;
    let description = "Bad Request: wrong file identifier/HTTP URL specified";
    fake.fail_next("sendVideo", 1, Failure::BadRequest(description.into()));
    let url = "https://example.com/v.mp4".parse().unwrap();
    let error = bot.send_video(ChatId(42), InputFile::url(url)).await.expect_err("400");
    assert!(matches!(error, RequestError::Api(teloxide::ApiError::WrongFileIdOrUrl)), "{error:?}");
    let attempt = &fake.attempts_of("sendVideo")[0];
    assert_eq!(attempt.body["video"], json!("https://example.com/v.mp4"));
    assert!(attempt.failed && attempt.files.is_empty());
}

#[tokio::test]
#[should_panic(expected = r#"sendMessage {"chat_id":42,"text":"hi"}"#)]
async fn wait_for_timeout_shows_what_the_bot_did_instead() {
    let (fake, bot) = fake_and_bot().await;
    bot.send_message(ChatId(42), "hi").await.unwrap();
    fake.wait_for("sendVideo", 1, Duration::from_millis(50)).await;
}

#[tokio::test]
async fn get_updates_hands_out_a_pushed_command() {
    let (fake, bot) = fake_and_bot().await;
    let (chat, user) = (Chat::private(7), User::new(7).lang("zh"));
    let update_id = fake.push_message(Msg::text(&chat, &user, "/video 一只猫").build());

    let message = next_message(&bot, 0).await;
    assert_eq!(message.text(), Some("/video 一只猫"));
    let entity = &message.entities().unwrap()[0];
    assert_eq!((entity.kind.clone(), entity.offset, entity.length), (MessageEntityKind::BotCommand, 0, 6));
    assert_eq!(message.from.as_ref().unwrap().language_code.as_deref(), Some("zh"));
    assert!(fake.handed_out_at(update_id).is_some());

    let later = bot.get_updates().offset(update_id as i32 + 1).timeout(0).await.unwrap();
    assert!(later.is_empty(), "confirmed updates are not handed out again");
}

#[tokio::test]
async fn long_poll_returns_an_update_pushed_while_waiting() {
    let (fake, bot) = fake_and_bot().await;
    let pusher = fake.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        pusher.push_message(Msg::text(&Chat::private(7), &User::new(7), "late").build());
    });
    assert_eq!(next_message(&bot, 0).await.text(), Some("late"));
}

#[tokio::test]
async fn photo_album_reply_deserializes_with_every_field() {
    let (fake, bot) = fake_and_bot().await;
    let (group, user) = (Chat::group(-100_123), User::new(9));
    let earlier = Msg::text(&group, &user, "look").build();
    let photo = Msg::photo(&group, &user, "cat")
        .caption("/video@SoraTestBot a cat")
        .album("album-1")
        .reply_to(&earlier)
        .id(77)
        .build();
    fake.push_message(photo);

    let message = next_message(&bot, 0).await;
    assert_eq!(message.id, MessageId(77));
    assert!(message.chat.is_supergroup());
    let sizes = message.photo().expect("a photo");
    assert_eq!(sizes.len(), 3);
    assert_eq!(sizes.last().unwrap().file.id.0, "cat-large");
    assert!(sizes[0].file.size < sizes[2].file.size);
    assert_eq!(message.caption(), Some("/video@SoraTestBot a cat"));
    let entity = &message.caption_entities().unwrap()[0];
    assert_eq!((entity.kind.clone(), entity.length), (MessageEntityKind::BotCommand, 18));
    assert_eq!(message.media_group_id().unwrap().0, "album-1");
    assert_eq!(message.reply_to_message().unwrap().text(), Some("look"));
}

#[tokio::test]
async fn image_document_deserializes() {
    let (fake, bot) = fake_and_bot().await;
    let user = User::new(5);
    fake.push_message(Msg::document(&Chat::private(5), &user, "doc-1", "image/png", "cat.png").build());
    let message = next_message(&bot, 0).await;
    let document = message.document().expect("a document");
    assert_eq!(document.file_name.as_deref(), Some("cat.png"));
    assert_eq!(document.mime_type.as_ref().unwrap().essence_str(), "image/png");
    assert_eq!(document.file.size as usize, fake.add_document("doc-1").len());
}

#[tokio::test]
async fn send_video_upload_is_recorded_with_its_bytes() {
    let (fake, bot) = fake_and_bot().await;
    let clip = b"\x00\x00\x00\x18ftypmp42 not really a video".to_vec();
    let sent = bot
        .send_video(ChatId(42), InputFile::memory(clip.clone()).file_name("clip.mp4"))
        .caption("done")
        .supports_streaming(true)
        .await
        .expect("sendVideo");
    assert_eq!(sent.video().expect("a video").file.size as usize, clip.len());
    assert_eq!(sent.caption(), Some("done"));

    let call = &fake.wait_for("sendVideo", 1, WAIT).await[0];
    let file = call.file("video").expect("uploaded video");
    assert_eq!(file.bytes, clip);
    assert_eq!(file.file_name.as_deref(), Some("clip.mp4"));
    assert_eq!(call.chat_id(), Some(42));
    assert_eq!(call.body["supports_streaming"], json!(true));
    assert_eq!(call.body["caption"], json!("done"));
}

#[tokio::test]
async fn get_file_and_download_return_the_registered_bytes() {
    let (fake, bot) = fake_and_bot().await;
    let large = fake.add_photo("dog");
    let file = bot.get_file(FileId("dog-large".into())).await.expect("getFile");
    assert_eq!(file.meta.size as usize, large.len());

    let mut downloaded = Vec::new();
    bot.download_file(&file.path, &mut downloaded).await.expect("download");
    assert_eq!(downloaded, large);
    assert_eq!(&downloaded[..3], [0xFF, 0xD8, 0xFF]);

    let unknown = bot.get_file(FileId("nope".into())).await.expect_err("unknown file");
    assert!(matches!(unknown, RequestError::Api(_)), "{unknown:?}");
}

#[tokio::test]
async fn video_api_default_create_answer_and_recorded_headers() {
    let api = FakeVideoApi::start().await;
    let client = reqwest::Client::new();
    let create = |prompt: &str| {
        client
            .post(format!("{}/v1/video/create", api.url()))
            .bearer_auth("sk-1")
            .json(&json!({"prompt": prompt}))
            .send()
    };
    let first: serde_json::Value = create("a").await.unwrap().json().await.unwrap();
    let second: serde_json::Value = create("b").await.unwrap().json().await.unwrap();
    assert_eq!((first["id"].as_str(), first["status"].as_str()), (Some("sora-2:task_1"), Some("pending")));
    assert_eq!(second["id"], json!(FakeVideoApi::task_id(2)));

    let creates = api.wait_creates(2, WAIT).await;
    assert_eq!(creates[0].headers["authorization"], "Bearer sk-1");
    assert_eq!(creates[1].body["prompt"], json!("b"));
    assert!(creates.iter().all(|create| create.answered_at.is_some()));
}

#[tokio::test]
async fn video_api_scripted_create_and_query_sequence() {
    let api = FakeVideoApi::start().await;
    api.push_create(Reply::json(401, json!({"error": {"message": "bad key"}})));
    let id = "sora-2:task_x";
    let video_url = api.file_url("x.mp4");
    api.add_file("x.mp4", b"mp4 bytes".to_vec());
    api.script_task(
        id,
        vec![Reply::task(id, "processing"), Reply::status(500, "oops"), Reply::completed(id, &video_url)],
    );

    let client = reqwest::Client::new();
    let create = client.post(format!("{}/v1/video/create", api.url())).json(&json!({})).send().await.unwrap();
    assert_eq!(create.status(), 401);

    let mut answers = Vec::new();
    for _ in 0..4 {
        let reply = client.get(format!("{}/v1/video/query", api.url())).query(&[("id", id)]).send().await.unwrap();
        answers.push((reply.status().as_u16(), reply.text().await.unwrap()));
    }
    assert!(answers[0].1.contains("processing"));
    assert_eq!(answers[1], (500, "oops".to_owned()));
    assert!(answers[2].1.contains(&video_url));
    assert_eq!(answers[3], answers[2], "the last reply repeats");
    assert_eq!(api.wait_queries(id, 4, WAIT).await[0].id, id);

    let video = client.get(&video_url).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(&video[..], b"mp4 bytes");
    let unscripted = client.get(format!("{}/v1/video/query?id=other", api.url())).send().await.unwrap();
    assert_eq!(unscripted.json::<serde_json::Value>().await.unwrap(), json!({"id": "other", "status": "pending"}));
}

#[tokio::test]
async fn video_api_delayed_answer_is_timestamped() {
    let api = FakeVideoApi::start().await;
    api.push_create(Reply::json(200, json!({"id": "t", "status": "pending"})).after(Duration::from_millis(300)));
    let client = reqwest::Client::new();
    client.post(format!("{}/v1/video/create", api.url())).json(&json!({})).send().await.unwrap();
    let create = &api.creates()[0];
    assert!(create.answered_at.unwrap() - create.at >= Duration::from_millis(300));
}

#[tokio::test]
async fn video_api_lists_models_as_scripted() {
    let api = FakeVideoApi::start().await;
    let client = reqwest::Client::new();
    let list = || client.get(format!("{}/v1/models", api.url())).bearer_auth("sk-1").send();

    // By default: every model of the built-in catalog, as OneAPI lists them.
    let listing: serde_json::Value = list().await.unwrap().json().await.unwrap();
    assert_eq!(listing["object"], json!("list"));
    let ids: Vec<&str> = listing["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, testkit::LISTED_MODELS);
    assert_eq!(listing["data"][0]["object"], json!("model"));

    api.set_models(&["veo3.1-fast"]);
    api.push_models(Reply::status(404, "404 page not found"));
    api.push_models(Reply::models(&["x"]).after(Duration::from_millis(200)));
    let not_found = list().await.unwrap();
    assert_eq!((not_found.status().as_u16(), not_found.text().await.unwrap()), (404, "404 page not found".to_owned()));
    let delayed: serde_json::Value = list().await.unwrap().json().await.unwrap();
    assert_eq!(delayed["data"][0]["id"], json!("x"));
    let listed: serde_json::Value = list().await.unwrap().json().await.unwrap();
    assert_eq!(listed["data"], json!([{"id": "veo3.1-fast", "object": "model", "owned_by": "custom"}]));

    api.answer_models(Reply::status(401, r#"{"error":{"message":"bad key"}}"#));
    assert_eq!(list().await.unwrap().status(), 401);
    assert_eq!(list().await.unwrap().status(), 401);
    api.set_models(&[]);
    let empty: serde_json::Value = list().await.unwrap().json().await.unwrap();
    assert_eq!(empty["data"], json!([]));

    let calls = api.wait_model_listings(7, WAIT).await;
    assert_eq!(calls[0].headers["authorization"], "Bearer sk-1");
    assert!(calls[3].at - calls[2].at >= Duration::from_millis(200), "the delayed answer held the next call back");
    assert!(api.creates().is_empty() && api.queries().is_empty());
}

#[tokio::test]
async fn video_api_refuses_a_retired_model_without_making_a_task() {
    let api = FakeVideoApi::start().await;
    api.retire("sora-2");
    // A script is for the next create that gets through.
    api.push_create(Reply::task("scripted", "queued"));
    let client = reqwest::Client::new();
    let create = |model: &str| {
        client.post(format!("{}/v1/video/create", api.url())).json(&json!({"model": model, "prompt": "p"})).send()
    };

    let refused = create("sora-2").await.unwrap();
    assert_eq!(refused.status(), 503);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(
        body,
        json!({"error": {"code": "model_not_found", "message": "当前分组 default 下对于模型 sora-2 无可用渠道", "type": "new_api_error"}})
    );
    let scripted: serde_json::Value = create("veo3.1-fast").await.unwrap().json().await.unwrap();
    assert_eq!(scripted["id"], json!("scripted"));
    assert_eq!(create("sora-2").await.unwrap().status(), 503);
    let made: serde_json::Value = create("sora-2-pro").await.unwrap().json().await.unwrap();
    assert_eq!(made["id"], json!(FakeVideoApi::task_id(2)), "refused creates do not count as tasks");

    let models: Vec<serde_json::Value> = api.creates().iter().map(|call| call.body["model"].clone()).collect();
    assert_eq!(
        models,
        [json!("sora-2"), json!("veo3.1-fast"), json!("sora-2"), json!("sora-2-pro")],
        "every call is recorded"
    );
}

#[tokio::test]
async fn fresh_postgres_db_is_an_empty_usable_database() {
    use sqlx::Connection;
    let url = testkit::fresh_postgres_db().await;
    let mut db = sqlx::PgConnection::connect(&url).await.expect("connect to the fresh database");
    let (tables,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'")
            .fetch_one(&mut db)
            .await
            .unwrap();
    assert_eq!(tables, 0);
    db.close().await.unwrap();
    testkit::drop_postgres_db(&url).await;
}

/// Logs like the bot (coloured, as a careless logger might), prints part
/// of its environment and exits 0 on SIGTERM.
const STAND_IN_BOT: &str = r#"#!/bin/sh
trap 'echo "INFO sora_bot: stopped"; exit 0' TERM
printf 'INFO sora_bot::http: http server listening \033[3maddr\033[0m\033[2m=\033[0m127.0.0.1:45678\n'
echo "token=$TELOXIDE_TOKEN db=$DATABASE_URL log=$RUST_LOG cargo=${CARGO_MANIFEST_DIR:-unset} cwd=$(pwd)" >&2
while true; do sleep 0.05; done
"#;

fn write_stand_in_bot(dir: &Path) -> PathBuf {
    let path = dir.join("stand-in-bot");
    std::fs::write(&path, STAND_IN_BOT).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[tokio::test]
async fn bot_process_runs_with_the_test_env_and_restarts() {
    let scripts = tempfile::tempdir().unwrap();
    let env = TestEnv::start(write_stand_in_bot(scripts.path())).await;

    let bot = env.start_bot();
    let addr = bot.http_addr(WAIT).await;
    assert_eq!(addr.to_string(), "127.0.0.1:45678");
    let line = bot.wait_log("token=", WAIT).await;
    let expected = format!(
        "token={TOKEN} db={} log=info,sora_bot=debug cargo=unset cwd={}",
        env.var("DATABASE_URL").unwrap(),
        env.dir.path().display()
    );
    assert_eq!(line, expected);
    bot.kill();
    assert!(!bot.wait_exit(WAIT).await.expect("killed").success());

    let restarted = env.start_bot();
    restarted.wait_log("listening", WAIT).await;
    restarted.terminate();
    assert!(restarted.wait_exit(WAIT).await.expect("terminated").success());
    assert!(restarted.logs().contains("INFO sora_bot: stopped"));
}

#[test]
fn bot_bin_points_at_the_built_binary() {
    assert!(bot_bin().is_file());
}
