use super::*;

// ---- interpret_query ------------------------------------------------

fn report(v: Value) -> TaskReport {
    interpret_query(&v).expect("interpretable")
}

#[test]
fn running_statuses() {
    for status in ["pending", "queued", "processing", "in_progress", "PENDING", " In_Progress "] {
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
        assert_eq!(r.phase, TaskPhase::Completed { video_url: "https://cdn.example/v.mp4".into() }, "{status}");
        assert_eq!(r.thumbnail_url.as_deref(), Some("https://cdn.example/t.jpg"));
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
    for status in ["failed", "error", "FAILED", "content_policy_failed", "upload_failed", "Moderation_Failed"] {
        let r = report(json!({"status": status}));
        assert_eq!(r.phase, TaskPhase::Failed { reason: None }, "{status}");
        assert_eq!(r.status, status);
    }
    // "failed" somewhere else than at the end is not a failure status.
    assert_eq!(report(json!({"status": "failed_over"})).phase, TaskPhase::Running);
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
    let r = report(json!({"status": "processing", "detail": {"pending_info": {"progress_pct": 0.42}}}));
    assert_eq!(r.progress_pct, Some(42));
    let r = report(json!({"status": "processing", "detail": {"pending_info": {"progress_pct": 0.29}}}));
    assert_eq!(r.progress_pct, Some(29));
    let r = report(json!({"status": "processing", "detail": {"pending_info": {"progress_pct": 0}}}));
    assert_eq!(r.progress_pct, Some(0));
    let r = report(json!({"status": "processing", "detail": {"pending_info": {"progress_pct": "0.5"}}}));
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
    let r = report(json!({"status": "processing", "progress": 10, "detail": {"pending_info": {"progress_pct": 0.8}}}));
    assert_eq!(r.progress_pct, Some(80));
    // An unusable fraction falls back to the percent form.
    let r = report(json!({"status": "processing", "progress": 10, "detail": {"pending_info": {"progress_pct": null}}}));
    assert_eq!(r.progress_pct, Some(10));
}

#[test]
fn progress_clamped_and_garbage_ignored() {
    let r = report(json!({"status": "processing", "progress": 150}));
    assert_eq!(r.progress_pct, Some(100));
    let r = report(json!({"status": "processing", "detail": {"pending_info": {"progress_pct": 1.7}}}));
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
        let r = report(json!({"status": "processing", "detail": {"pending_info": {"progress_pct": bad.clone()}}}));
        assert_eq!(r.progress_pct, None, "{bad}");
    }
}

#[test]
fn failure_reason_from_error_string() {
    let r = report(json!({"status": "failed", "error": "prompt rejected", "detail": {"failure_reason": "other"}}));
    assert_eq!(r.phase, TaskPhase::Failed { reason: Some("prompt rejected".into()) });
}

#[test]
fn failure_reason_from_error_object() {
    let r = report(json!({"status": "error", "error": {"message": " content policy ", "code": "x"}}));
    assert_eq!(r.phase, TaskPhase::Failed { reason: Some("content policy".into()) });
}

#[test]
fn failure_reason_from_pending_info() {
    let r = report(json!({
        "status": "failed",
        "error": null,
        "detail": {"pending_info": {"failure_reason": "too many people"}, "failure_reason": "other"},
    }));
    assert_eq!(r.phase, TaskPhase::Failed { reason: Some("too many people".into()) });
}

#[test]
fn failure_reason_from_detail() {
    let r = report(json!({
        "status": "generation_failed",
        "error": {"code": 1},
        "detail": {"pending_info": {"failure_reason": null}, "failure_reason": "server busy"},
    }));
    assert_eq!(r.phase, TaskPhase::Failed { reason: Some("server busy".into()) });
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
    let r = report(json!({"status": "processing", "detail": {"pending_info": "x"}, "thumbnail_url": 3}));
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
        assert!(matches!(interpret_query(&body), Err(ApiError::BadResponse { .. })), "{body}");
    }
}
