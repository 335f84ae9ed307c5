use super::*;

// ---- pure helpers ---------------------------------------------------

#[test]
fn create_request_serialisation_and_debug() {
    let images =
        vec!["data:image/jpeg;base64,AAAAverylongsecret".to_owned(), "https://x/file/bot1:AA/p.jpg".to_owned()];
    let req = CreateRequest::new(&images, "a cat", &VideoOptions::STANDARD, Family::Sora);
    let s = serde_json::to_string(&req).unwrap();
    assert_eq!(
        s,
        r#"{"images":["data:image/jpeg;base64,AAAAverylongsecret","https://x/file/bot1:AA/p.jpg"],"model":"sora-2","orientation":"portrait","prompt":"a cat","size":"large","duration":15}"#
    );
    let d = format!("{req:?}");
    assert!(d.contains("2 image(s)"), "{d}");
    assert!(!d.contains("base64") && !d.contains("file/bot"), "{d}");
}

#[test]
fn video_api_debug_hides_key() {
    let api = VideoApi::new("https://yunwu.ai/", SecretString::from(KEY));
    let d = format!("{api:?}");
    assert!(!d.contains(KEY), "{d}");
    assert!(d.contains("https://yunwu.ai\""), "trailing slash trimmed: {d}");
}

#[tokio::test]
async fn create_sends_exact_request() {
    let (base, log) = fake(200, r#"{"id":"sora-2:task_01k7znn323fywsam5cjy0btrwj","status":"pending","status_update_time":1760925748868,"extra":[1]}"#).await;
    // A trailing slash on the base URL is tolerated.
    let created = create_with(&api(&format!("{base}/"))).await.unwrap();
    assert_eq!(created, Created { id: "sora-2:task_01k7znn323fywsam5cjy0btrwj".into(), status: "pending".into() });

    // The fake routes only POST /v1/video/create to `creates`.
    let creates = log.creates();
    assert_eq!((creates.len(), log.queries().len()), (1, 0), "exactly one request, no retry");
    let req = &creates[0];
    assert_eq!(req.headers["authorization"], format!("Bearer {KEY}"));
    assert_eq!(req.headers["content-type"], "application/json");
    assert_eq!(req.headers["accept"], "application/json");
    let body = req.body.clone();
    assert_eq!(
        body,
        json!({
            "images": ["https://img.example/a.jpg", "data:image/png;base64,iVBOR"],
            "model": "sora-2",
            "orientation": "portrait",
            "prompt": "a red fox in snow",
            "size": "large",
            "duration": 15,
        })
    );
    assert!(body["duration"].is_u64(), "duration is a JSON number");
}

#[tokio::test]
async fn create_without_status_defaults_to_pending() {
    let (base, _fake) = fake(200, r#"{"id":"task_9"}"#).await;
    assert_eq!(create_with(&api(&base)).await.unwrap(), Created { id: "task_9".into(), status: "pending".into() });
}

#[tokio::test]
async fn create_without_id_is_bad_response() {
    for body in [r#"{"status":"pending"}"#, r#"{"id":"","status":"pending"}"#, r#"{"id":null}"#, "[]"] {
        let (base, _fake) = fake(200, body).await;
        let err = create_with(&api(&base)).await.unwrap_err();
        assert!(matches!(err, ApiError::BadResponse { .. }), "{body}: {err:?}");
    }
}

#[tokio::test]
async fn create_empty_images_is_an_empty_list() {
    let (base, log) = fake(200, r#"{"id":"t"}"#).await;
    api(&base)
        .create(&CreateRequest::new(
            &[],
            "p",
            &VideoOptions {
                shape: crate::models::Shape::LANDSCAPE,
                size: Some(crate::models::Size::Small),
                duration: Some(10),
                ..VideoOptions::STANDARD
            },
            Family::Sora,
        ))
        .await
        .unwrap();
    let body = log.creates()[0].body.clone();
    assert_eq!(body["images"], json!([]));
    assert_eq!(body["duration"], json!(10));
}

#[tokio::test]
async fn query_encodes_id_and_interprets() {
    let (base, log) = fake(
        200,
        r#"{"id":"sora-2:task_01","status":"completed","video_url":"https://cdn.example/v.mp4","detail":{"pending_info":{"progress_pct":1.0}}}"#,
    )
    .await;
    let r = api(&base).query("sora-2:task_01").await.unwrap();
    assert_eq!(r.phase, TaskPhase::Completed { video_url: "https://cdn.example/v.mp4".into() });
    assert_eq!(r.progress_pct, Some(100));

    // The fake routes only GET /v1/video/query to `queries`.
    let queries = log.queries();
    let req = &queries[0];
    assert_eq!(req.id, "sora-2:task_01");
    assert_eq!(req.raw_query.as_deref(), Some("id=sora-2%3Atask_01"));
    assert_eq!(req.headers["authorization"], format!("Bearer {KEY}"));
    assert_eq!(req.headers["accept"], "application/json");
}

#[tokio::test]
async fn query_id_with_reserved_chars_round_trips() {
    let (base, log) = fake(200, r#"{"status":"queued"}"#).await;
    let id = "a&b=c d/é?#";
    assert_eq!(api(&base).query(id).await.unwrap().phase, TaskPhase::Running);
    assert_eq!(log.queries()[0].id, id);
}

#[tokio::test]
async fn query_without_status_is_bad_response() {
    let (base, _fake) = fake(200, r#"{"error":{"message":"task not found"}}"#).await;
    let err = api(&base).query("t").await.unwrap_err();
    assert!(matches!(err, ApiError::BadResponse { .. }), "{err:?}");
}

// ---- list_models ------------------------------------------------------

/// A video API whose `/v1/models` answers `status` and `body`.
async fn listing(status: u16, body: &str) -> (VideoApi, FakeVideoApi) {
    let fake = FakeVideoApi::start().await;
    fake.answer_models(Reply::status(status, body));
    (api(&fake.url()), fake)
}

#[tokio::test]
async fn list_models_sends_auth_and_reads_ids_in_order() {
    let fake = FakeVideoApi::start().await;
    fake.set_models(&["veo3.1-fast", "sora-2", "grok-video-3"]);
    let models = api(&format!("{}/", fake.url())).list_models().await.unwrap();
    assert_eq!(models, ["veo3.1-fast", "sora-2", "grok-video-3"]);

    let calls = fake.model_listings();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].headers["authorization"], format!("Bearer {KEY}"));
    assert_eq!(calls[0].headers["accept"], "application/json");
    assert!((fake.creates().len(), fake.queries().len()) == (0, 0));
}

#[tokio::test]
async fn list_models_is_tolerant() {
    let body = json!({
        "object": "list",
        "success": true,
        "data": [
            {"id": " veo3.1 ", "object": "model", "owned_by": "vertex", "permission": [{"allow_view": true}]},
            {"id": 42},
            {"id": null},
            {"id": ""},
            {"object": "model"},
            "sora-2",
            {"id": "veo3.1"},
            {"id": "sora-2-pro", "extra": {"nested": [1, 2]}},
        ],
    });
    let (api, _fake) = listing(200, &body.to_string()).await;
    assert_eq!(api.list_models().await.unwrap(), ["veo3.1", "sora-2-pro"]);

    let (api, _fake) = listing(200, r#"{"data":[]}"#).await;
    assert_eq!(api.list_models().await.unwrap(), Vec::<String>::new());
}

#[tokio::test]
async fn list_models_without_a_data_list_is_bad_response() {
    for body in [r#"{"object":"list"}"#, r#"{"data":null}"#, r#"{"data":{"id":"sora-2"}}"#, "[]", "<html>hi</html>", ""]
    {
        let (api, _fake) = listing(200, body).await;
        let err = api.list_models().await.unwrap_err();
        assert!(matches!(err, ApiError::BadResponse { .. }), "{body}: {err:?}");
    }
}

#[tokio::test]
async fn list_models_errors_are_classified_as_for_other_calls() {
    let (api, _fake) = listing(404, "404 page not found").await;
    assert_eq!(api.list_models().await.unwrap_err(), ApiError::Upstream { status: 404, message: None });
    let (api, _fake) = listing(401, r#"{"error":{"message":"无效的令牌","code":"invalid_token"}}"#).await;
    assert_eq!(api.list_models().await.unwrap_err(), ApiError::Unauthorized { message: Some("无效的令牌".into()) });
    let (api, _fake) = listing(502, "<html>Bad Gateway</html>").await;
    assert_eq!(api.list_models().await.unwrap_err(), ApiError::Gateway { status: 502 });
}

#[tokio::test]
async fn list_models_gives_up_at_its_timeout() {
    let (api, _fake) = listing(200, r#"{"data":[]}"#).await;
    _fake.answer_models(Reply::never());
    let api = api.with_models_timeout(Duration::from_millis(300));
    let started = std::time::Instant::now();
    let err = api.list_models().await.unwrap_err();
    assert!(matches!(err, ApiError::Timeout { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(format!("{:?}", VideoApi::new("http://x", SecretString::from(KEY))).contains("models_timeout: 10s"));
}

#[tokio::test]
async fn a_base_url_that_does_not_parse_fails_each_call_without_a_panic() {
    let api = VideoApi::new("not a url", SecretString::from(KEY));
    assert!(matches!(create_with(&api).await.unwrap_err(), ApiError::Unreachable { .. }));
    assert!(matches!(api.query("task_1").await.unwrap_err(), ApiError::Unreachable { .. }));
    assert!(matches!(api.list_models().await.unwrap_err(), ApiError::Unreachable { .. }));
}
