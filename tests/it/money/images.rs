//! Images are checked before paying; media tokens end with their task.

use super::*;

// ---------------------------------------------------------------------------
// Images checked before paying; media tokens end with their task
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_file_that_is_not_an_image_costs_no_create_in_any_mode() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let proxy = [("HTTP_BIND", format!("127.0.0.1:{port}")), ("PUBLIC_BASE_URL", format!("http://127.0.0.1:{port}"))];
    for vars in [vec![], proxy.to_vec(), vec![("IMAGE_MODE", "telegram".to_owned())]] {
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (env, _bot) = TestEnv::start_with(bot_bin(), &vars).await;
        env.tg.add_file("fake-png", b"GIF89a not really a png".to_vec());
        let chat = Chat::private(2400);
        let command = send(
            &env,
            Msg::document(&chat, &User::new(2400), "fake-png", "image/png", "cat.png").caption("/video a cat"),
        );
        let text = reply(&env, 2400, command).await;
        assert!(text.contains("not a JPEG, PNG or WebP"), "{vars:?}: {text}");
        assert!(env.video.creates().is_empty(), "{vars:?}: no create");
    }
}

#[tokio::test]
async fn media_tokens_are_deleted_when_the_create_is_refused() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let (env, _bot) =
        TestEnv::start_with(bot_bin(), &[("HTTP_BIND", &format!("127.0.0.1:{port}")), ("PUBLIC_BASE_URL", &base)])
            .await;
    env.tg.add_photo("refused");
    env.video.push_create(Reply::json(401, json!({"error": {"message": "invalid token"}})));
    let chat = Chat::private(2500);
    let command = send(&env, Msg::photo(&chat, &User::new(2500), "refused").caption("/video wave"));
    let create = &env.video.wait_creates(1, WAIT).await[0];
    let url = create.body["images"][0].as_str().unwrap().to_owned();
    assert!(reply(&env, 2500, command).await.contains("refused the key"));
    let status = reqwest::get(&url).await.unwrap().status().as_u16();
    assert_eq!(status, 404, "the photo is no longer served once the create was refused");
}

/// Inline images are capped for the whole request, not per image: two
/// images of 11 MB (each under Telegram's 20 MB) make no create.
#[tokio::test]
async fn inline_images_are_capped_for_the_whole_request() {
    let (env, _bot) = TestEnv::start_with(bot_bin(), &[]).await;
    let big = |tag: u8| {
        let mut bytes = vec![tag; 11 * 1024 * 1024];
        bytes[..3].copy_from_slice(&[0xFF, 0xD8, 0xFF]);
        bytes
    };
    env.tg.add_file("big-one", big(1));
    env.tg.add_file("big-two", big(2));
    let chat = Chat::private(2600);
    let user = User::new(2600);
    let first = Msg::document(&chat, &user, "big-one", "image/jpeg", "one.jpg").build();
    env.tg.push_message(first.clone());
    let command = send(
        &env,
        Msg::document(&chat, &user, "big-two", "image/jpeg", "two.jpg").caption("/video both").reply_to(&first),
    );
    let text = reply(&env, 2600, command).await;
    assert!(text.contains("too large together"), "{text}");
    assert!(env.video.creates().is_empty(), "no create");
}
