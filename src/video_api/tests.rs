use super::*;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, Request};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

const KEY: &str = "sk-test-9f8e7d6c5b4a";

// ---- interpret_query ------------------------------------------------

fn report(v: Value) -> TaskReport {
    interpret_query(&v).expect("interpretable")
}

#[test]
fn running_statuses() {
    for status in [
        "pending",
        "queued",
        "processing",
        "in_progress",
        "PENDING",
        " In_Progress ",
    ] {
        let r = report(json!({"id": "x", "status": status}));
        assert_eq!(r.phase, TaskPhase::Running, "{status}");
        assert_eq!(r.status, status, "raw status kept");
    }
}

#[test]
fn completed_statuses_with_url() {
    for status in ["completed", "success", "succeeded", "Completed", "SUCCESS"] {
        let r = report(json!({
            "status": status,
            "video_url": "https://cdn.example/v.mp4",
            "thumbnail_url": "https://cdn.example/t.jpg",
            "enhanced_prompt": "a cat, cinematic",
        }));
        assert_eq!(
            r.phase,
            TaskPhase::Completed {
                video_url: "https://cdn.example/v.mp4".into()
            },
            "{status}"
        );
        assert_eq!(
            r.thumbnail_url.as_deref(),
            Some("https://cdn.example/t.jpg")
        );
        assert_eq!(r.enhanced_prompt.as_deref(), Some("a cat, cinematic"));
    }
}

#[test]
fn completed_without_url_is_running() {
    for body in [
        json!({"status": "completed"}),
        json!({"status": "completed", "video_url": null}),
        json!({"status": "succeeded", "video_url": ""}),
        json!({"status": "success", "video_url": "   "}),
        json!({"status": "completed", "video_url": 42}),
    ] {
        assert_eq!(report(body.clone()).phase, TaskPhase::Running, "{body}");
    }
}

#[test]
fn failed_statuses() {
    for status in [
        "failed",
        "error",
        "FAILED",
        "content_policy_failed",
        "upload_failed",
        "Moderation_Failed",
    ] {
        let r = report(json!({"status": status}));
        assert_eq!(r.phase, TaskPhase::Failed { reason: None }, "{status}");
        assert_eq!(r.status, status);
    }
    // "failed" somewhere else than at the end is not a failure status.
    assert_eq!(
        report(json!({"status": "failed_over"})).phase,
        TaskPhase::Running
    );
}

#[test]
fn unknown_status_is_running_and_kept() {
    let r = report(json!({"status": "Rendering frames", "video_url": "https://x/v.mp4"}));
    assert_eq!(r.phase, TaskPhase::Running);
    assert_eq!(r.status, "Rendering frames");
    let r = report(json!({"status": ""}));
    assert_eq!(r.phase, TaskPhase::Running);
}

#[test]
fn progress_fraction_form() {
    let r = report(
        json!({"status": "processing", "detail": {"pending_info": {"progress_pct": 0.42}}}),
    );
    assert_eq!(r.progress_pct, Some(42));
    let r = report(
        json!({"status": "processing", "detail": {"pending_info": {"progress_pct": 0.29}}}),
    );
    assert_eq!(r.progress_pct, Some(29));
    let r = report(
        json!({"status": "processing", "detail": {"pending_info": {"progress_pct": 0}}}),
    );
    assert_eq!(r.progress_pct, Some(0));
    let r = report(
        json!({"status": "processing", "detail": {"pending_info": {"progress_pct": "0.5"}}}),
    );
    assert_eq!(r.progress_pct, Some(50));
}

#[test]
fn progress_percent_form() {
    let r = report(json!({"status": "processing", "progress": 37}));
    assert_eq!(r.progress_pct, Some(37));
    let r = report(json!({"status": "processing", "progress": 37.9}));
    assert_eq!(r.progress_pct, Some(37));
    let r = report(json!({"status": "processing", "progress": "64%"}));
    assert_eq!(r.progress_pct, Some(64));
    let r = report(json!({"status": "processing", "progress": " 12 "}));
    assert_eq!(r.progress_pct, Some(12));
}

#[test]
fn progress_fraction_wins_over_percent() {
    let r = report(
        json!({"status": "processing", "progress": 10, "detail": {"pending_info": {"progress_pct": 0.8}}}),
    );
    assert_eq!(r.progress_pct, Some(80));
    // An unusable fraction falls back to the percent form.
    let r = report(
        json!({"status": "processing", "progress": 10, "detail": {"pending_info": {"progress_pct": null}}}),
    );
    assert_eq!(r.progress_pct, Some(10));
}

#[test]
fn progress_clamped_and_garbage_ignored() {
    let r = report(json!({"status": "processing", "progress": 150}));
    assert_eq!(r.progress_pct, Some(100));
    let r = report(
        json!({"status": "processing", "detail": {"pending_info": {"progress_pct": 1.7}}}),
    );
    assert_eq!(r.progress_pct, Some(100));
    let r = report(json!({"status": "processing", "progress": 1e300}));
    assert_eq!(r.progress_pct, Some(100));
    for bad in [
        json!(-5),
        json!(-0.1),
        json!("NaN"),
        json!("nan"),
        json!("inf"),
        json!("abc"),
        json!(true),
        json!([1]),
        json!({}),
    ] {
        let r = report(json!({"status": "processing", "progress": bad.clone()}));
        assert_eq!(r.progress_pct, None, "{bad}");
        let r = report(
            json!({"status": "processing", "detail": {"pending_info": {"progress_pct": bad.clone()}}}),
        );
        assert_eq!(r.progress_pct, None, "{bad}");
    }
}

#[test]
fn failure_reason_from_error_string() {
    let r = report(
        json!({"status": "failed", "error": "prompt rejected", "detail": {"failure_reason": "other"}}),
    );
    assert_eq!(
        r.phase,
        TaskPhase::Failed {
            reason: Some("prompt rejected".into())
        }
    );
}

#[test]
fn failure_reason_from_error_object() {
    let r = report(
        json!({"status": "error", "error": {"message": " content policy ", "code": "x"}}),
    );
    assert_eq!(
        r.phase,
        TaskPhase::Failed {
            reason: Some("content policy".into())
        }
    );
}

#[test]
fn failure_reason_from_pending_info() {
    let r = report(json!({
        "status": "failed",
        "error": null,
        "detail": {"pending_info": {"failure_reason": "too many people"}, "failure_reason": "other"},
    }));
    assert_eq!(
        r.phase,
        TaskPhase::Failed {
            reason: Some("too many people".into())
        }
    );
}

#[test]
fn failure_reason_from_detail() {
    let r = report(json!({
        "status": "generation_failed",
        "error": {"code": 1},
        "detail": {"pending_info": {"failure_reason": null}, "failure_reason": "server busy"},
    }));
    assert_eq!(
        r.phase,
        TaskPhase::Failed {
            reason: Some("server busy".into())
        }
    );
}

#[test]
fn nulls_everywhere_are_tolerated() {
    let r = report(json!({
        "id": null, "status": "pending", "video_url": null, "thumbnail_url": null,
        "enhanced_prompt": null, "status_update_time": null, "progress": null, "detail": null, "error": null,
    }));
    assert_eq!(
        r,
        TaskReport {
            status: "pending".into(),
            phase: TaskPhase::Running,
            progress_pct: None,
            thumbnail_url: None,
            enhanced_prompt: None,
        }
    );
    let r = report(json!({"status": "failed", "detail": {"pending_info": null}}));
    assert_eq!(r.phase, TaskPhase::Failed { reason: None });
    let r = report(json!({"status": "failed", "detail": "weird", "error": 7}));
    assert_eq!(r.phase, TaskPhase::Failed { reason: None });
    let r = report(
        json!({"status": "processing", "detail": {"pending_info": "x"}, "thumbnail_url": 3}),
    );
    assert_eq!(r.progress_pct, None);
    assert_eq!(r.thumbnail_url, None);
}

#[test]
fn missing_status_is_bad_response() {
    for body in [
        json!({"id": "x"}),
        json!({"status": null}),
        json!({"status": 3}),
        json!({"status": {"state": "done"}}),
        json!([]),
        json!("completed"),
        json!(null),
    ] {
        assert!(
            matches!(interpret_query(&body), Err(ApiError::BadResponse { .. })),
            "{body}"
        );
    }
}

// ---- pure helpers ---------------------------------------------------

#[test]
fn create_request_serialisation_and_debug() {
    let images = vec![
        "data:image/jpeg;base64,AAAAverylongsecret".to_owned(),
        "https://x/file/bot1:AA/p.jpg".to_owned(),
    ];
    let req = CreateRequest {
        images: &images,
        model: "sora-2",
        orientation: "portrait",
        prompt: "a cat",
        size: "large",
        duration: 15,
    };
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
    assert!(
        d.contains("https://yunwu.ai\""),
        "trailing slash trimmed: {d}"
    );
}

#[test]
fn scrubbing() {
    let s = scrub_secrets(
        r#"{"message":"bad key sk-test-9f8e7d6c5b4a, header Bearer abc.def; see https://api.telegram.org/file/bot123:AbC-d_e/photos/1.jpg; disk-full"}"#,
        KEY,
    );
    assert!(
        !s.contains("9f8e7d6c5b4a") && !s.contains("abc.def") && !s.contains("123:AbC"),
        "{s}"
    );
    assert!(
        s.contains("disk-full") && s.contains("/photos/1.jpg"),
        "{s}"
    );
    assert!(serde_json::from_str::<Value>(&s).is_ok(), "still JSON: {s}");
    // Masked keys echoed by relays are caught too.
    assert_eq!(
        scrub_secrets("token sk-ab**yz invalid", ""),
        "token sk-[REDACTED] invalid"
    );
}

#[test]
fn user_message_rules() {
    let m = |s: &str| ApiError::Upstream {
        status: 500,
        message: Some(s.to_owned()),
    };
    assert_eq!(m("  overloaded  ").user_message(), Some("overloaded"));
    assert_eq!(m("   ").user_message(), None);
    assert_eq!(m("key [REDACTED] invalid").user_message(), None);
    assert_eq!(m("send Bearer token").user_message(), None);
    assert_eq!(m("key sk-abc invalid").user_message(), None);
    assert_eq!(
        m("fetch https://api.telegram.org/file/bot[REDACTED]/a.jpg failed").user_message(),
        None
    );
    assert_eq!(
        m("disk-full on task_1").user_message(),
        Some("disk-full on task_1")
    );
    let long = "é".repeat(500);
    assert_eq!(m(&long).user_message().unwrap().chars().count(), 300);
    assert_eq!(
        ApiError::Timeout { request_sent: true }.user_message(),
        None
    );
    assert_eq!(
        ApiError::BadResponse { detail: "x".into() }.user_message(),
        None
    );
}

#[test]
fn transient_errors() {
    assert!(ApiError::RateLimited { message: None }.is_transient());
    assert!(
        ApiError::Upstream {
            status: 503,
            message: None
        }
        .is_transient()
    );
    assert!(
        !ApiError::Upstream {
            status: 404,
            message: None
        }
        .is_transient()
    );
    assert!(ApiError::Timeout { request_sent: true }.is_transient());
    assert!(
        ApiError::Network {
            detail: String::new()
        }
        .is_transient()
    );
    assert!(!ApiError::Unauthorized { message: None }.is_transient());
    assert!(!ApiError::QuotaExhausted { message: None }.is_transient());
    assert!(
        !ApiError::BadResponse {
            detail: String::new()
        }
        .is_transient()
    );
}

// ---- against a fake server -------------------------------------------

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    raw_query: Option<String>,
    params: HashMap<String, String>,
    headers: HeaderMap,
    body: String,
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// Serves `status` + `body` for every request, recording the requests.
async fn fake(status: u16, body: impl Into<String>) -> (String, Log) {
    let body: String = body.into();
    let log: Log = Arc::default();
    let seen = log.clone();
    let app = Router::new().fallback(move |req: Request| {
        let body = body.clone();
        let seen = seen.clone();
        async move {
            let (parts, req_body) = req.into_parts();
            let bytes = axum::body::to_bytes(req_body, usize::MAX).await.unwrap();
            let params = Query::<HashMap<String, String>>::try_from_uri(&parts.uri)
                .map(|q| q.0)
                .unwrap_or_default();
            seen.lock().unwrap().push(Seen {
                method: parts.method.to_string(),
                path: parts.uri.path().to_owned(),
                raw_query: parts.uri.query().map(str::to_owned),
                params,
                headers: parts.headers,
                body: String::from_utf8_lossy(&bytes).into_owned(),
            });
            Response::builder()
                .status(StatusCode::from_u16(status).unwrap())
                .header("content-type", "application/json")
                .body(Body::from(body))
                .unwrap()
        }
    });
    (serve(app).await, log)
}

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    format!("http://{addr}")
}

fn api(base: &str) -> VideoApi {
    VideoApi::new(base, SecretString::from(KEY))
}

fn sample_images() -> Vec<String> {
    vec![
        "https://img.example/a.jpg".to_owned(),
        "data:image/png;base64,iVBOR".to_owned(),
    ]
}

async fn create_with(api: &VideoApi) -> Result<Created, ApiError> {
    let images = sample_images();
    api.create(&CreateRequest {
        images: &images,
        model: "sora-2",
        orientation: "portrait",
        prompt: "a red fox in snow",
        size: "large",
        duration: 15,
    })
    .await
}

#[tokio::test]
async fn create_sends_exact_request() {
    let (base, log) = fake(200, r#"{"id":"sora-2:task_01k7znn323fywsam5cjy0btrwj","status":"pending","status_update_time":1760925748868,"extra":[1]}"#).await;
    // A trailing slash on the base URL is tolerated.
    let created = create_with(&api(&format!("{base}/"))).await.unwrap();
    assert_eq!(
        created,
        Created {
            id: "sora-2:task_01k7znn323fywsam5cjy0btrwj".into(),
            status: "pending".into()
        }
    );

    let seen = log.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "exactly one request, no retry");
    let req = &seen[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/v1/video/create");
    assert_eq!(
        req.headers["authorization"],
        format!("Bearer {KEY}").as_str()
    );
    assert_eq!(req.headers["content-type"], "application/json");
    assert_eq!(req.headers["accept"], "application/json");
    let body: Value = serde_json::from_str(&req.body).unwrap();
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
    let (base, _) = fake(200, r#"{"id":"task_9"}"#).await;
    assert_eq!(
        create_with(&api(&base)).await.unwrap(),
        Created {
            id: "task_9".into(),
            status: "pending".into()
        }
    );
}

#[tokio::test]
async fn create_without_id_is_bad_response() {
    for body in [
        r#"{"status":"pending"}"#,
        r#"{"id":"","status":"pending"}"#,
        r#"{"id":null}"#,
        "[]",
    ] {
        let (base, _) = fake(200, body).await;
        let err = create_with(&api(&base)).await.unwrap_err();
        assert!(
            matches!(err, ApiError::BadResponse { .. }),
            "{body}: {err:?}"
        );
    }
}

#[tokio::test]
async fn create_empty_images_is_an_empty_list() {
    let (base, log) = fake(200, r#"{"id":"t"}"#).await;
    api(&base)
        .create(&CreateRequest {
            images: &[],
            model: "sora-2",
            orientation: "landscape",
            prompt: "p",
            size: "small",
            duration: 10,
        })
        .await
        .unwrap();
    let body: Value = serde_json::from_str(&log.lock().unwrap()[0].body).unwrap();
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
    assert_eq!(
        r.phase,
        TaskPhase::Completed {
            video_url: "https://cdn.example/v.mp4".into()
        }
    );
    assert_eq!(r.progress_pct, Some(100));

    let seen = log.lock().unwrap().clone();
    let req = &seen[0];
    assert_eq!(req.method, "GET");
    assert_eq!(req.path, "/v1/video/query");
    assert_eq!(
        req.params.get("id").map(String::as_str),
        Some("sora-2:task_01")
    );
    assert_eq!(req.raw_query.as_deref(), Some("id=sora-2%3Atask_01"));
    assert_eq!(
        req.headers["authorization"],
        format!("Bearer {KEY}").as_str()
    );
    assert_eq!(req.headers["accept"], "application/json");
}

#[tokio::test]
async fn query_id_with_reserved_chars_round_trips() {
    let (base, log) = fake(200, r#"{"status":"queued"}"#).await;
    let id = "a&b=c d/é?#";
    assert_eq!(
        api(&base).query(id).await.unwrap().phase,
        TaskPhase::Running
    );
    assert_eq!(
        log.lock().unwrap()[0].params.get("id").map(String::as_str),
        Some(id)
    );
}

#[tokio::test]
async fn query_without_status_is_bad_response() {
    let (base, _) = fake(200, r#"{"error":{"message":"task not found"}}"#).await;
    let err = api(&base).query("t").await.unwrap_err();
    assert!(matches!(err, ApiError::BadResponse { .. }), "{err:?}");
}

#[tokio::test]
async fn unauthorized_with_message() {
    let (base, _) = fake(401, r#"{"error":{"message":"无效的令牌 invalid token","type":"new_api_error","code":"invalid_token"}}"#).await;
    let err = create_with(&api(&base)).await.unwrap_err();
    assert_eq!(
        err,
        ApiError::Unauthorized {
            message: Some("无效的令牌 invalid token".into())
        }
    );
    assert_eq!(err.user_message(), Some("无效的令牌 invalid token"));
    assert!(!err.is_transient());
}

#[tokio::test]
async fn forbidden_without_quota_is_unauthorized() {
    let (base, _) = fake(403, r#"{"message":"model not allowed for this token"}"#).await;
    let err = api(&base).query("t").await.unwrap_err();
    assert_eq!(
        err,
        ApiError::Unauthorized {
            message: Some("model not allowed for this token".into())
        }
    );
}

#[tokio::test]
async fn forbidden_quota_is_quota_exhausted() {
    let (base, _) = fake(
        403,
        r#"{"error":{"message":"用户额度不足, 剩余额度: $0.01","type":"new_api_error","code":"insufficient_user_quota"}}"#,
    )
    .await;
    let err = create_with(&api(&base)).await.unwrap_err();
    assert_eq!(
        err,
        ApiError::QuotaExhausted {
            message: Some("用户额度不足, 剩余额度: $0.01".into())
        }
    );
}

#[tokio::test]
async fn unauthorized_quota_message_and_402() {
    let (base, _) = fake(401, r#"{"message":"Insufficient quota for this key"}"#).await;
    let err = create_with(&api(&base)).await.unwrap_err();
    assert_eq!(
        err,
        ApiError::QuotaExhausted {
            message: Some("Insufficient quota for this key".into())
        }
    );

    let (base, _) = fake(402, "payment required").await;
    let err = create_with(&api(&base)).await.unwrap_err();
    assert_eq!(err, ApiError::QuotaExhausted { message: None });
}

#[tokio::test]
async fn rate_limited() {
    let (base, _) = fake(
        429,
        r#"{"error":{"message":"slow down","type":"rate_limit"}}"#,
    )
    .await;
    let err = api(&base).query("t").await.unwrap_err();
    assert_eq!(
        err,
        ApiError::RateLimited {
            message: Some("slow down".into())
        }
    );
    assert!(err.is_transient());
}

#[tokio::test]
async fn server_error_is_upstream() {
    let (base, _) = fake(500, r#"{"error":{"message":"upstream overloaded"}}"#).await;
    let err = api(&base).query("t").await.unwrap_err();
    assert_eq!(
        err,
        ApiError::Upstream {
            status: 500,
            message: Some("upstream overloaded".into())
        }
    );
    assert!(err.is_transient());

    // A non-JSON error body yields no message.
    let (base, _) = fake(502, "<html>Bad Gateway</html>").await;
    let err = create_with(&api(&base)).await.unwrap_err();
    assert_eq!(
        err,
        ApiError::Upstream {
            status: 502,
            message: None
        }
    );

    let (base, _) = fake(404, r#"{"error":"no such route"}"#).await;
    let err = create_with(&api(&base)).await.unwrap_err();
    assert_eq!(
        err,
        ApiError::Upstream {
            status: 404,
            message: Some("no such route".into())
        }
    );
    assert!(!err.is_transient());
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let (base, log) = fake(302, "").await;
    let err = create_with(&api(&base)).await.unwrap_err();
    assert_eq!(
        err,
        ApiError::Upstream {
            status: 302,
            message: None
        }
    );
    assert_eq!(log.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn ok_but_not_json_is_bad_response() {
    let (base, _) = fake(200, "not json").await;
    let err = create_with(&api(&base)).await.unwrap_err();
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
    let (base, _) = fake(200, garbage).await;
    let err = create_with(&api(&base)).await.unwrap_err();
    let ApiError::BadResponse { detail } = &err else {
        panic!("{err:?}")
    };
    assert!(!detail.contains(KEY), "{detail}");
    assert!(detail.chars().count() < 300, "{}", detail.len());
    assert!(!format!("{err} {err:?}").contains(KEY));
}

#[tokio::test]
async fn huge_body_is_capped() {
    let huge = format!(
        r#"{{"status":"pending","pad":"{}"}}"#,
        "a".repeat(2 * MAX_BODY_BYTES)
    );
    let (base, _) = fake(200, huge).await;
    let err = api(&base).query("t").await.unwrap_err();
    assert!(matches!(err, ApiError::BadResponse { .. }), "{err:?}");

    // Same for an error body: the status still classifies, no message.
    let huge = format!(
        r#"{{"message":"{}"}}"#,
        "a".repeat(2 * MAX_ERROR_BODY_BYTES)
    );
    let (base, _) = fake(503, huge).await;
    let err = api(&base).query("t").await.unwrap_err();
    assert_eq!(
        err,
        ApiError::Upstream {
            status: 503,
            message: None
        }
    );
}

#[tokio::test]
async fn silent_server_times_out_after_sending() {
    let hits = Arc::new(Mutex::new(0u32));
    let counter = hits.clone();
    let app = Router::new().fallback(move || {
        let counter = counter.clone();
        async move {
            *counter.lock().unwrap() += 1;
            tokio::time::sleep(Duration::from_secs(30)).await;
            "too late"
        }
    });
    let base = serve(app).await;
    let api = api(&base).with_timeouts(Duration::from_millis(300), Duration::from_millis(300));
    let started = std::time::Instant::now();
    let err = create_with(&api).await.unwrap_err();
    assert_eq!(err, ApiError::Timeout { request_sent: true });
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(*hits.lock().unwrap(), 1, "create is never retried");

    let err = api.query("t").await.unwrap_err();
    assert!(matches!(err, ApiError::Timeout { .. }), "{err:?}");
    assert!(err.is_transient());
}

#[tokio::test]
async fn closed_port_is_network() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let api = api(&format!("http://{addr}"));
    let err = create_with(&api).await.unwrap_err();
    match &err {
        ApiError::Network { detail } => {
            assert!(!detail.contains("http://"), "no URL: {detail}");
            assert!(detail.chars().count() <= MAX_DETAIL_CHARS);
        }
        other => panic!("{other:?}"),
    }
    assert!(err.is_transient());
    assert!(matches!(
        api.query("t").await,
        Err(ApiError::Network { .. })
    ));
}

#[tokio::test]
async fn echoed_key_is_hidden() {
    let (base, _) = fake(
        401,
        format!(
            r#"{{"error":{{"message":"invalid api key: {KEY}","code":"invalid_api_key"}}}}"#
        ),
    )
    .await;
    let err = create_with(&api(&base)).await.unwrap_err();
    assert!(matches!(err, ApiError::Unauthorized { .. }), "{err:?}");
    assert_eq!(err.user_message(), None);
    let shown = format!("{err} {err:?}");
    assert!(
        !shown.contains(KEY) && !shown.contains("9f8e7d6c5b4a"),
        "{shown}"
    );

    // Also when the relay echoes the header it got.
    let (base, _) = fake(
        500,
        format!(r#"{{"message":"auth header was Bearer {KEY}"}}"#),
    )
    .await;
    let err = api(&base).query("t").await.unwrap_err();
    assert_eq!(err.user_message(), None);
    assert!(!format!("{err:?}").contains("9f8e7d6c5b4a"));

    // And in task failure reasons.
    let (base, _) = fake(
        200,
        format!(r#"{{"status":"failed","error":"bad key {KEY}"}}"#),
    )
    .await;
    let r = api(&base).query("t").await.unwrap();
    assert!(!format!("{r:?}").contains("9f8e7d6c5b4a"), "{r:?}");
}
