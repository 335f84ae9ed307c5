//! The real bot under hundreds of junk updates: no crash, no money spent.

use super::*;

// ---------------------------------------------------------------------------
// The real bot under junk updates
// ---------------------------------------------------------------------------

/// Fixed, so a failure can be replayed; change it to explore.
const SEED: u64 = 0x0005_eed0_fb07;
const JUNK_UPDATES: usize = 300;

fn random_text(rng: &mut StdRng, max_len: usize) -> String {
    let len = rng.random_range(0..=max_len);
    (0..len)
        .map(|_| {
            if rng.random_bool(0.3) {
                ALPHABET[rng.random_range(0..ALPHABET.len())].to_owned()
            } else {
                char::from_u32(rng.random_range(0..0x11_0000)).map(String::from).unwrap_or_default()
            }
        })
        .collect()
}

/// A `/video` command that can never be a valid request: its first option is
/// an unknown key, however the junk after it looks.
fn invalid_video(rng: &mut StdRng) -> String {
    let head =
        ["/video --bogus", "/video bogus=", "/video —bogus", "/video@SoraTestBot --bogus", "/video --bogus=1 --pro"]
            [rng.random_range(0..5)];
    let sep = [" ", "\n", "", "="][rng.random_range(0..4)];
    format!("{head}{sep}{}", random_text(rng, 60))
}

/// Texts that are not `/video` requests for this bot at all.
fn not_for_us(rng: &mut StdRng) -> String {
    let options = [
        "/video@OtherBot a perfectly good cat".to_owned(),
        "/".to_owned(),
        String::new(),
        "video a cat without the slash".to_owned(),
        format!("/unknowncommand {}", random_text(rng, 20)),
        format!("/video{}", random_text(rng, 10).replace(char::is_whitespace, "")),
        "/video".to_owned(),
        "/video --".to_owned(),
        "/video --pro --landscape".to_owned(),
        "/video d=25 a sora-2 video cannot be 25 s".to_owned(),
        random_text(rng, 200),
    ];
    let pick = rng.random_range(0..options.len());
    options[pick].clone()
}

fn some_text(rng: &mut StdRng) -> String {
    if rng.random_bool(0.7) { invalid_video(rng) } else { not_for_us(rng) }
}

fn junk_entities(rng: &mut StdRng) -> Value {
    let kinds = ["bot_command", "bold", "mention", "url", "text_link", "custom_emoji", "no_such_entity"];
    let n = rng.random_range(0..4);
    (0..n)
        .map(|_| {
            let kind = kinds[rng.random_range(0..kinds.len())];
            let offset = [0u64, 3, 4_000, u32::MAX as u64][rng.random_range(0..4)];
            let length = [0u64, 1, 6, 99_999, u32::MAX as u64][rng.random_range(0..5)];
            json!({"type": kind, "offset": offset, "length": length, "url": "https://example.invalid"})
        })
        .collect()
}

/// One malformed-but-deliverable update of a random kind.
fn junk_update(rng: &mut StdRng, i: usize) -> Value {
    let user = User::new(700_000 + (i as i64 % 7)).lang(["en", "zh-hans", "", "xx-YY", "ZH"][i % 5]);
    let chat = if rng.random_bool(0.3) { Chat::group(-100_700_000 - (i as i64 % 3)) } else { Chat::private(user.id) };
    let kind = rng.random_range(0..14);
    let mut message = match kind {
        // Texts with bogus entities.
        0 | 1 => {
            let mut m = Msg::text(&chat, &user, &some_text(rng)).build();
            m["entities"] = junk_entities(rng);
            m
        }
        // A huge command text.
        2 => {
            let filler = random_text(rng, 30).repeat(rng.random_range(100..1_000));
            Msg::text(&chat, &user, &format!("/video --bogus {filler}")).build()
        }
        // Missing `from`, in a private chat, a group or a channel.
        3 => {
            let mut m = Msg::text(&chat, &user, &some_text(rng)).build();
            m.as_object_mut().unwrap().remove("from");
            if rng.random_bool(0.5) {
                m["chat"] = json!({"id": -100_123_456, "type": "channel", "title": "A channel"});
            }
            m
        }
        // A photo with no sizes at all, captioned.
        4 => {
            let mut m = Msg::photo(&chat, &user, "nosizes").caption(&invalid_video(rng)).build();
            m["photo"] = json!([]);
            m
        }
        // A photo whose sizes are nonsense.
        5 => {
            let mut m = Msg::photo(&chat, &user, "odd").caption(&invalid_video(rng)).build();
            m["photo"] = json!([{"file_id": "", "file_unique_id": "", "width": 0, "height": 0},
                                {"file_id": "x", "file_unique_id": "y", "width": u32::MAX, "height": u32::MAX, "file_size": 0}]);
            m["caption_entities"] = junk_entities(rng);
            m
        }
        // Documents with odd (or invalid) mime types.
        6 => {
            let mime = [
                "application/x-msdownload",
                "",
                "image/",
                "IMAGE/PNG",
                "image/jpeg; charset=utf-8",
                "%%%",
                "image/svg+xml",
                "text/plain",
            ][rng.random_range(0..8)];
            let mut m = Msg::document(&chat, &user, "weird-doc", mime, &random_text(rng, 20))
                .caption(&invalid_video(rng))
                .build();
            if rng.random_bool(0.3) {
                m["document"].as_object_mut().unwrap().remove("mime_type");
            }
            m
        }
        // Reply chains, a few levels deep, with photos and junk inside.
        7 => {
            let mut replied = Msg::photo(&chat, &user, "chain").build();
            for _ in 0..rng.random_range(1..5) {
                let mut next = Msg::text(&chat, &user, &random_text(rng, 40)).build();
                next["reply_to_message"] = replied;
                replied = next;
            }
            let mut m = Msg::text(&chat, &user, &invalid_video(rng)).build();
            m["reply_to_message"] = replied;
            m
        }
        // A reply to a message that is itself malformed (no chat).
        8 => {
            let mut m = Msg::text(&chat, &user, &invalid_video(rng)).build();
            m["reply_to_message"] = json!({"message_id": -5, "date": 0, "text": random_text(rng, 10)});
            m
        }
        // Album photos, some captioned with junk, with random group ids.
        9 => {
            let group = format!("fuzz-album-{}", rng.random_range(0..5));
            let mut msg = Msg::photo(&chat, &user, "album-junk").album(&group);
            if rng.random_bool(0.5) {
                msg = msg.caption(&invalid_video(rng));
            }
            msg.build()
        }
        // Fields of the wrong type: the update cannot be read as a message.
        10 => {
            let mut m = Msg::text(&chat, &user, &invalid_video(rng)).build();
            match rng.random_range(0..4) {
                0 => m["text"] = json!(12345),
                1 => m["from"] = json!("nobody"),
                2 => m["chat"] = json!(null),
                _ => m["date"] = json!("yesterday"),
            }
            m
        }
        // Unknown fields everywhere.
        11 => {
            let mut m = Msg::text(&chat, &user, &some_text(rng)).build();
            m["zz_future_field"] = json!({"nested": [1, 2, {"deep": random_text(rng, 10)}]});
            m["from"]["zz_future_flag"] = json!(true);
            m["chat"]["zz_future_chat"] = json!(null);
            m
        }
        // Empty and whitespace-only texts, and a caption on a text message.
        12 => {
            let mut m =
                Msg::text(&chat, &user, ["", " ", "\n\n", "\u{202E}/video --bogus"][rng.random_range(0..4)]).build();
            m["caption"] = json!("/video a caption on a text message is not a command");
            m.as_object_mut().unwrap().remove("entities");
            m
        }
        // Non-message updates and edits (the bot only acts on new messages).
        _ => {
            let inner = Msg::text(&chat, &user, &invalid_video(rng)).build();
            let key = ["edited_message", "channel_post", "callback_query", "zz_unknown_update", "message_reaction"]
                [rng.random_range(0..5)];
            return json!({ key: inner, "zz_unknown": random_text(rng, 10) });
        }
    };
    if rng.random_bool(0.2) {
        let odd_id = [0, -1, i32::MAX as i64, i64::MAX][rng.random_range(0..4)];
        message["message_id"] = json!(odd_id);
    }
    json!({ "message": message, "zz_unknown": 1 })
}

#[tokio::test]
async fn hundreds_of_junk_updates_neither_crash_the_bot_nor_spend_money() {
    let env = TestEnv::start(bot_bin()).await;
    let bot = env.start_bot();
    env.tg.wait_for("setMyCommands", 1, WAIT).await;
    // A photo some junk replies to, so the bot may really download it.
    env.tg.add_photo("chain");

    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(SEED);
    for i in 0..JUNK_UPDATES {
        env.tg.push_update(junk_update(&mut rng, i));
    }

    let chat = Chat::private(799_999);
    let valid = Msg::text(&chat, &User::new(799_999), "/video ok").build();
    env.tg.push_message(valid.clone());
    let reply = env
        .tg
        .wait_call("the reply to the one valid /video", WAIT, |call| {
            call.is("sendMessage")
                && call.chat_id() == Some(chat.id)
                && call.body["reply_parameters"]["message_id"] == valid["message_id"]
        })
        .await;
    assert!(reply.text().unwrap_or_default().contains(&FakeVideoApi::task_id(1)), "{:?}", reply.text());

    // Albums close after about a second: give late junk its chance to misbehave.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(bot.exit_status().is_none(), "the bot died:\n{}", bot.logs());
    let logs = bot.logs();
    assert!(!logs.contains("panicked at"), "the bot panicked (seed {SEED:#x}):\n{logs}");
    let creates = env.video.creates();
    assert_eq!(creates.len(), 1, "only the valid request costs money (seed {SEED:#x}):\n{}", env.video.dump());
    assert_eq!(creates[0].body["prompt"], "ok");
    // Every junk `/video` got an answer or was ignored; none got a status message.
    for call in env.tg.calls_of("sendMessage") {
        let text = call.text().unwrap_or_default();
        assert!(!text.contains("🆔") || call.chat_id() == Some(chat.id), "a status message for junk: {text}");
    }
    // And it still answers afterwards.
    let help = Msg::text(&chat, &User::new(799_999), "/help").build();
    env.tg.push_message(help);
    env.tg.wait_text(chat.id, "/video [options] <prompt>", WAIT).await;
    eprintln!(
        "fuzzed {JUNK_UPDATES} updates in {:?}: {} replies, {} getFile calls",
        started.elapsed(),
        env.tg.calls_of("sendMessage").len(),
        env.tg.attempts_of("getFile").len()
    );
}
