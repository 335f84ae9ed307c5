use super::*;

// ---- pure helpers ---------------------------------------------------

#[test]
fn scrubbing() {
    let s = scrub_secrets(
        r#"{"message":"bad key sk-test-9f8e7d6c5b4a, header Bearer abc.def; see https://api.telegram.org/file/bot123:AbC-d_e/photos/1.jpg; disk-full"}"#,
        KEY,
    );
    assert!(!s.contains("9f8e7d6c5b4a") && !s.contains("abc.def") && !s.contains("123:AbC"), "{s}");
    assert!(s.contains("disk-full") && s.contains("/photos/1.jpg"), "{s}");
    assert!(serde_json::from_str::<Value>(&s).is_ok(), "still JSON: {s}");
    // Masked keys echoed by relays are caught too.
    assert_eq!(scrub_secrets("token sk-ab**yz invalid", ""), "token sk-[REDACTED] invalid");
}

#[test]
fn user_message_rules() {
    let m = |s: &str| ApiError::Upstream { status: 500, message: Some(s.to_owned()) };
    assert_eq!(m("  overloaded  ").user_message(), Some("overloaded"));
    assert_eq!(m("   ").user_message(), None);
    assert_eq!(m("key [REDACTED] invalid").user_message(), None);
    assert_eq!(m("send Bearer token").user_message(), None);
    assert_eq!(m("key sk-abc invalid").user_message(), None);
    assert_eq!(m("fetch https://api.telegram.org/file/bot[REDACTED]/a.jpg failed").user_message(), None);
    assert_eq!(m("disk-full on task_1").user_message(), Some("disk-full on task_1"));
    let long = "é".repeat(500);
    assert_eq!(m(&long).user_message().unwrap().chars().count(), 300);
    assert_eq!(ApiError::Timeout { request_sent: true }.user_message(), None);
    assert_eq!(ApiError::BadResponse { detail: "x".into() }.user_message(), None);
}

#[test]
fn transient_errors() {
    assert!(ApiError::RateLimited { message: None }.is_transient());
    assert!(ApiError::Upstream { status: 503, message: None }.is_transient());
    assert!(!ApiError::Upstream { status: 404, message: None }.is_transient());
    assert!(ApiError::Timeout { request_sent: true }.is_transient());
    assert!(ApiError::Network { detail: String::new() }.is_transient());
    assert!(!ApiError::Unauthorized { message: None }.is_transient());
    assert!(!ApiError::QuotaExhausted { message: None }.is_transient());
    assert!(!ApiError::BadResponse { detail: String::new() }.is_transient());
}

// ---- against a fake server -------------------------------------------

#[tokio::test]
async fn unauthorized_with_message() {
    let (base, _fake) =
        fake(401, r#"{"error":{"message":"无效的令牌 invalid token","type":"new_api_error","code":"invalid_token"}}"#)
            .await;
    let err = create_with(&api(&base)).await.unwrap_err();
    assert_eq!(err, ApiError::Unauthorized { message: Some("无效的令牌 invalid token".into()) });
    assert_eq!(err.user_message(), Some("无效的令牌 invalid token"));
    assert!(!err.is_transient());
}

#[tokio::test]
async fn forbidden_without_quota_is_unauthorized() {
    let (base, _fake) = fake(403, r#"{"message":"model not allowed for this token"}"#).await;
    let err = api(&base).query("t").await.unwrap_err();
    assert_eq!(err, ApiError::Unauthorized { message: Some("model not allowed for this token".into()) });
}

#[tokio::test]
async fn forbidden_quota_is_quota_exhausted() {
    let (base, _fake) = fake(
        403,
        r#"{"error":{"message":"用户额度不足, 剩余额度: $0.01","type":"new_api_error","code":"insufficient_user_quota"}}"#,
    )
    .await;
    let err = create_with(&api(&base)).await.unwrap_err();
    assert_eq!(err, ApiError::QuotaExhausted { message: Some("用户额度不足, 剩余额度: $0.01".into()) });
}

#[tokio::test]
async fn unauthorized_quota_message_and_402() {
    let (base, _fake) = fake(401, r#"{"message":"Insufficient quota for this key"}"#).await;
    let err = create_with(&api(&base)).await.unwrap_err();
    assert_eq!(err, ApiError::QuotaExhausted { message: Some("Insufficient quota for this key".into()) });

    let (base, _fake) = fake(402, "payment required").await;
    let err = create_with(&api(&base)).await.unwrap_err();
    assert_eq!(err, ApiError::QuotaExhausted { message: None });
}

#[tokio::test]
async fn rate_limited() {
    let (base, _fake) = fake(429, r#"{"error":{"message":"slow down","type":"rate_limit"}}"#).await;
    let err = api(&base).query("t").await.unwrap_err();
    assert_eq!(err, ApiError::RateLimited { message: Some("slow down".into()) });
    assert!(err.is_transient());
}

#[tokio::test]
async fn server_error_is_upstream() {
    let (base, _fake) = fake(500, r#"{"error":{"message":"upstream overloaded"}}"#).await;
    let err = api(&base).query("t").await.unwrap_err();
    assert_eq!(err, ApiError::Upstream { status: 500, message: Some("upstream overloaded".into()) });
    assert!(err.is_transient());

    // A gateway's page: the job may have been taken behind it.
    let (base, _fake) = fake(502, "<html>Bad Gateway</html>").await;
    let err = create_with(&api(&base)).await.unwrap_err();
    assert_eq!(err, ApiError::Gateway { status: 502 });
    assert!(err.create_may_have_succeeded() && err.is_transient());
    // 504 even with JSON: the gateway lost the API's answer.
    let (base, _fake) = fake(504, r#"{"error":{"message":"upstream timed out"}}"#).await;
    assert_eq!(create_with(&api(&base)).await.unwrap_err(), ApiError::Gateway { status: 504 });
    // The API's own JSON error on a 5xx is a refusal.
    let (base, _fake) = fake(503, r#"{"error":{"message":"no channel available"}}"#).await;
    let err = create_with(&api(&base)).await.unwrap_err();
    assert!(matches!(err, ApiError::Upstream { status: 503, .. }) && !err.create_may_have_succeeded(), "{err:?}");

    let (base, _fake) = fake(404, r#"{"error":"no such route"}"#).await;
    let err = create_with(&api(&base)).await.unwrap_err();
    assert_eq!(err, ApiError::Upstream { status: 404, message: Some("no such route".into()) });
    assert!(!err.is_transient());
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let (base, log) = fake(302, "").await;
    let err = create_with(&api(&base)).await.unwrap_err();
    assert_eq!(err, ApiError::Gateway { status: 302 });
    assert_eq!(log.creates().len(), 1);
}

#[tokio::test]
async fn ok_but_not_json_is_bad_response() {
    let (base, _fake) = fake(200, "not json").await;
    let err = create_with(&api(&base)).await.unwrap_err();
    assert!(err.create_may_have_succeeded(), "a 2xx that cannot be read may have made the job");
    match &err {
        ApiError::BadResponse { detail } => assert!(detail.contains("not json"), "{detail}"),
        other => panic!("{other:?}"),
    }
    let err = api(&base).query("t").await.unwrap_err();
    assert!(matches!(err, ApiError::BadResponse { .. }), "{err:?}");
}

#[tokio::test]
async fn bad_response_detail_is_short_and_scrubbed() {
    let garbage = format!("oops {KEY} {}", "x".repeat(5000));
    let (base, _fake) = fake(200, garbage).await;
    let err = create_with(&api(&base)).await.unwrap_err();
    let ApiError::BadResponse { detail } = &err else { panic!("{err:?}") };
    assert!(!detail.contains(KEY), "{detail}");
    assert!(detail.chars().count() < 300, "{}", detail.len());
    assert!(!format!("{err} {err:?}").contains(KEY));
}

#[tokio::test]
async fn huge_body_is_capped() {
    let huge = format!(r#"{{"status":"pending","pad":"{}"}}"#, "a".repeat(2 * MAX_BODY_BYTES));
    let (base, _fake) = fake(200, huge).await;
    let err = api(&base).query("t").await.unwrap_err();
    assert!(matches!(err, ApiError::BadResponse { .. }), "{err:?}");

    // An error body too large to read: not provably the API's refusal.
    let huge = format!(r#"{{"message":"{}"}}"#, "a".repeat(2 * MAX_ERROR_BODY_BYTES));
    let (base, _fake) = fake(503, huge).await;
    let err = api(&base).query("t").await.unwrap_err();
    assert_eq!(err, ApiError::Gateway { status: 503 });
    // A 4xx is a refusal whatever its body.
    let huge = format!(r#"{{"message":"{}"}}"#, "a".repeat(2 * MAX_ERROR_BODY_BYTES));
    let (base, _fake) = fake(429, huge).await;
    let err = create_with(&api(&base)).await.unwrap_err();
    assert_eq!(err, ApiError::RateLimited { message: None });
    assert!(!err.create_may_have_succeeded());
}

#[tokio::test]
async fn silent_server_times_out_after_sending() {
    let fake = FakeVideoApi::start().await;
    fake.answer_all(Reply::never());
    let base = fake.url();
    let api = api(&base).with_timeouts(Duration::from_millis(300), Duration::from_millis(300));
    let started = std::time::Instant::now();
    let err = create_with(&api).await.unwrap_err();
    assert_eq!(err, ApiError::Timeout { request_sent: true });
    assert!(err.create_may_have_succeeded());
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(fake.creates().len(), 1, "create is never retried");

    let err = api.query("t").await.unwrap_err();
    assert!(matches!(err, ApiError::Timeout { .. }), "{err:?}");
    assert!(err.is_transient());
}

#[tokio::test]
async fn closed_port_is_unreachable() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let api = api(&format!("http://{addr}"));
    let err = create_with(&api).await.unwrap_err();
    assert!(!err.create_may_have_succeeded(), "nothing was sent");
    match &err {
        ApiError::Unreachable { detail } => {
            assert!(!detail.contains("http://"), "no URL: {detail}");
            assert!(detail.chars().count() <= MAX_DETAIL_CHARS);
        }
        other => panic!("{other:?}"),
    }
    assert!(err.is_transient());
    assert!(matches!(api.query("t").await, Err(ApiError::Unreachable { .. })));
}

#[tokio::test]
async fn echoed_key_is_hidden() {
    let (base, _fake) =
        fake(401, format!(r#"{{"error":{{"message":"invalid api key: {KEY}","code":"invalid_api_key"}}}}"#)).await;
    let err = create_with(&api(&base)).await.unwrap_err();
    assert!(matches!(err, ApiError::Unauthorized { .. }), "{err:?}");
    assert_eq!(err.user_message(), None);
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(KEY) && !shown.contains("9f8e7d6c5b4a"), "{shown}");

    // Also when the relay echoes the header it got.
    let (base, _fake) = fake(500, format!(r#"{{"message":"auth header was Bearer {KEY}"}}"#)).await;
    let err = api(&base).query("t").await.unwrap_err();
    assert_eq!(err.user_message(), None);
    assert!(!format!("{err:?}").contains("9f8e7d6c5b4a"));

    // And in task failure reasons.
    let (base, _fake) = fake(200, format!(r#"{{"status":"failed","error":"bad key {KEY}"}}"#)).await;
    let r = api(&base).query("t").await.unwrap();
    assert!(!format!("{r:?}").contains("9f8e7d6c5b4a"), "{r:?}");
}

// ---- a model the API does not serve ----------------------------------

/// What new-api answers a create for a model it has no channel for.
const RETIRED_503: &str = r#"{"error":{"code":"model_not_found","message":"当前分组 default 下对于模型 sora-2 无可用渠道","type":"new_api_error"}}"#;

#[tokio::test]
async fn retired_model_is_a_definite_refusal() {
    let (base, fake) = fake(503, RETIRED_503).await;
    let err = create_with(&api(&base)).await.unwrap_err();
    let message = "当前分组 default 下对于模型 sora-2 无可用渠道";
    assert_eq!(err, ApiError::ModelUnavailable { message: Some(message.into()) });
    assert!(!err.create_may_have_succeeded() && !err.is_transient());
    assert_eq!(err.kind(), "model_unavailable");
    assert_eq!(err.user_message(), Some(message));
    assert_eq!(fake.creates().len(), 1, "not retried");
}

#[tokio::test]
async fn model_unavailable_triggers() {
    let cases = [
        // The code alone, wherever relays put it, in any letter case.
        (503, r#"{"error":{"code":"model_not_found"}}"#, None),
        (400, r#"{"error":{"type":"MODEL_NOT_FOUND","message":"no"}}"#, Some("no")),
        (404, r#"{"code":"model_not_found","message":"x"}"#, Some("x")),
        // Gateway statuses too: a gateway does not make up this JSON.
        (502, RETIRED_503, Some("当前分组 default 下对于模型 sora-2 无可用渠道")),
        (
            504,
            r#"{"error":{"message":"当前分组 vip 下对于模型 veo3 无可用渠道（distributor）"}}"#,
            Some("当前分组 vip 下对于模型 veo3 无可用渠道（distributor）"),
        ),
        // OpenAI's wording, passed on by relays.
        (
            404,
            r#"{"error":{"message":"The model `sora-2` does not exist or you do not have access to it.","type":"invalid_request_error","code":null}}"#,
            Some("The model `sora-2` does not exist or you do not have access to it."),
        ),
        (400, r#"{"error":"Model Not Found: sora-2"}"#, Some("Model Not Found: sora-2")),
        (
            500,
            r#"{"message":"No available channel for model sora-2 under group default"}"#,
            Some("No available channel for model sora-2 under group default"),
        ),
        (400, r#"{"msg":"模型 sora-2 不存在"}"#, Some("模型 sora-2 不存在")),
    ];
    for (status, body, message) in cases {
        let (base, _fake) = fake(status, body).await;
        let err = create_with(&api(&base)).await.unwrap_err();
        assert_eq!(err, ApiError::ModelUnavailable { message: message.map(Into::into) }, "{status} {body}");
        assert!(!err.create_may_have_succeeded(), "{status} {body}");
    }
}

#[tokio::test]
async fn model_unavailable_look_alikes() {
    let cases = [
        // "not found" in a page that is not the API's JSON: as before.
        (404, "<html><h1>404 Not Found</h1>model not found</html>", ApiError::Upstream { status: 404, message: None }),
        (503, "model_not_found", ApiError::Gateway { status: 503 }),
        (502, "<html>model not found</html>", ApiError::Gateway { status: 502 }),
        // "not found" about something other than a model.
        (
            404,
            r#"{"error":"task not found"}"#,
            ApiError::Upstream { status: 404, message: Some("task not found".into()) },
        ),
        (
            401,
            r#"{"error":{"message":"token not found","code":"invalid_api_key"}}"#,
            ApiError::Unauthorized { message: Some("token not found".into()) },
        ),
        (
            404,
            r#"{"error":{"message":"route does not exist"}}"#,
            ApiError::Upstream { status: 404, message: Some("route does not exist".into()) },
        ),
        // A channel trouble not about a model, and a model that exists.
        (
            503,
            r#"{"error":{"message":"no channel available"}}"#,
            ApiError::Upstream { status: 503, message: Some("no channel available".into()) },
        ),
        (
            403,
            r#"{"message":"model not allowed for this token"}"#,
            ApiError::Unauthorized { message: Some("model not allowed for this token".into()) },
        ),
        // A code that only contains the words.
        (
            400,
            r#"{"error":{"code":"model_not_found_in_cache_refresh","message":"retry"}}"#,
            ApiError::Upstream { status: 400, message: Some("retry".into()) },
        ),
    ];
    for (status, body, expected) in cases {
        let (base, _fake) = fake(status, body).await;
        let err = create_with(&api(&base)).await.unwrap_err();
        assert_eq!(err, expected, "{status} {body}");
    }
}

#[tokio::test]
async fn a_2xx_is_never_a_model_refusal() {
    // A successful status is read as an answer, whatever it says.
    let (base, _fake) = fake(200, RETIRED_503).await;
    let err = create_with(&api(&base)).await.unwrap_err();
    assert!(matches!(err, ApiError::BadResponse { .. }), "{err:?}");
}
