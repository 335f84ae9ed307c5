use super::*;

// ---- interpret_query ------------------------------------------------

fn report(v: Value) -> TaskReport {
    interpret_query(&v).expect("interpretable")
}

/// `word` in lower case, upper case and a mixed case with spaces around.
fn in_every_case(word: &str) -> [String; 3] {
    let mixed: String =
        word.chars().enumerate().map(|(i, c)| if i % 2 == 0 { c.to_ascii_uppercase() } else { c }).collect();
    [word.to_owned(), word.to_ascii_uppercase(), format!(" {mixed} ")]
}

const RUNNING: [&str; 10] = [
    "pending",
    "queued",
    "processing",
    "in_progress",
    "not_start",
    "submitted",
    "image_downloading",
    "video_generating",
    "video_generation_completed",
    "video_upsampling",
];
const DONE: [&str; 4] = ["completed", "success", "succeeded", "video_upsampling_completed"];
const FAILED: [&str; 5] = ["failed", "failure", "error", "cancelled", "canceled"];

#[test]
fn running_statuses_of_every_family_in_any_case() {
    for word in RUNNING {
        for status in in_every_case(word) {
            let r = report(json!({"id": "x", "status": status, "video_url": "https://cdn.example/v.mp4"}));
            assert_eq!(r.phase, TaskPhase::Running, "{status:?}");
            assert_eq!(r.status, status, "raw status kept");
        }
    }
}

#[test]
fn done_statuses_with_url_in_any_case() {
    for word in DONE {
        for status in in_every_case(word) {
            let r = report(json!({
                "status": status,
                "video_url": "https://cdn.example/v.mp4",
                "thumbnail_url": "https://cdn.example/t.jpg",
                "enhanced_prompt": "a cat, cinematic",
            }));
            assert_eq!(r.phase, TaskPhase::Completed { video_url: "https://cdn.example/v.mp4".into() }, "{status:?}");
            assert_eq!(r.thumbnail_url.as_deref(), Some("https://cdn.example/t.jpg"));
            assert_eq!(r.enhanced_prompt.as_deref(), Some("a cat, cinematic"));
        }
    }
}

#[test]
fn done_statuses_without_url_are_their_own_phase() {
    for word in DONE {
        for status in in_every_case(word) {
            for body in [
                json!({"status": status}),
                json!({"status": status, "video_url": null}),
                json!({"status": status, "video_url": ""}),
                json!({"status": status, "video_url": "   "}),
                json!({"status": status, "video_url": 42}),
            ] {
                assert_eq!(report(body.clone()).phase, TaskPhase::DoneWithoutVideo, "{body}");
            }
        }
    }
}

#[test]
fn failed_statuses_in_any_case() {
    let suffixed = ["content_policy_failed", "upload_failed", "Moderation_Failed", "VIDEO_GENERATION_FAILED"];
    for word in FAILED.into_iter().chain(suffixed) {
        for status in in_every_case(word) {
            // A video URL beside a failure status does not make it a success.
            let r = report(json!({"status": status, "video_url": "https://cdn.example/v.mp4"}));
            assert_eq!(r.phase, TaskPhase::Failed { reason: None }, "{status:?}");
            assert_eq!(r.status, status);
        }
    }
    // "failed" somewhere else than at the end is not a failure status.
    assert_eq!(report(json!({"status": "failed_over"})).phase, TaskPhase::Running);
    assert_eq!(report(json!({"status": "_failed_"})).phase, TaskPhase::Running);
}

#[test]
fn stages_name_what_each_word_means() {
    let expected = [
        ("pending", Stage::Queued),
        ("QUEUED", Stage::Queued),
        ("Not_Start", Stage::Queued),
        ("submitted", Stage::Queued),
        ("IMAGE_DOWNLOADING", Stage::DownloadingImages),
        ("processing", Stage::Generating),
        ("in_progress", Stage::Generating),
        ("Video_Generating", Stage::Generating),
        ("video_generation_completed", Stage::Generated),
        ("VIDEO_UPSAMPLING", Stage::Upscaling),
        ("video_upsampling_completed", Stage::Done),
        ("Succeeded", Stage::Done),
        ("canceled", Stage::Failed),
        ("video_upsampling_failed", Stage::Failed),
        ("warming_up", Stage::Unknown),
        ("", Stage::Unknown),
    ];
    for (status, stage) in expected {
        assert_eq!(Stage::of(status), stage, "{status:?}");
    }
}

#[test]
fn unknown_status_is_running_and_kept() {
    let r = report(json!({"status": "Rendering frames", "video_url": "https://x/v.mp4"}));
    assert_eq!(r.phase, TaskPhase::Running);
    assert_eq!(r.status, "Rendering frames");
    let r = report(json!({"status": ""}));
    assert_eq!(r.phase, TaskPhase::Running);
}

fn progress_of(body: Value) -> Option<u8> {
    report(body).progress_pct
}

#[test]
fn progress_below_one_is_a_fraction_from_one_up_a_percentage_top_level_or_nested() {
    // The same 45 % in every form a family sends it.
    for value in [json!(0.45), json!(45), json!("45"), json!("45%"), json!(" 45 % "), json!("0.45"), json!(45.9)] {
        assert_eq!(progress_of(json!({"status": "processing", "progress": value.clone()})), Some(45), "top {value}");
        assert_eq!(
            progress_of(json!({"status": "processing", "detail": {"pending_info": {"progress_pct": value.clone()}}})),
            Some(45),
            "nested {value}"
        );
    }
    let cases = [
        (json!(0), 0),
        (json!(0.29), 29),
        (json!(0.999), 99),
        (json!(1.7), 1),
        (json!(99.6), 99),
        (json!(100), 100),
        (json!("0.5%"), 0),
        (json!("64%"), 64),
    ];
    for (value, pct) in cases {
        assert_eq!(progress_of(json!({"status": "processing", "progress": value.clone()})), Some(pct), "top {value}");
        assert_eq!(
            progress_of(json!({"status": "processing", "detail": {"pending_info": {"progress_pct": value.clone()}}})),
            Some(pct),
            "nested {value}"
        );
    }
}

#[test]
fn progress_of_one_is_the_whole_only_in_soras_fraction_field() {
    for one in [json!(1), json!(1.0), json!("1")] {
        assert_eq!(progress_of(json!({"status": "processing", "progress": one.clone()})), Some(1), "top {one}");
        assert_eq!(
            progress_of(json!({"status": "processing", "detail": {"pending_info": {"progress_pct": one.clone()}}})),
            Some(100),
            "nested {one}"
        );
    }
    // With a percent sign it is 1 % wherever it is.
    assert_eq!(
        progress_of(json!({"status": "processing", "detail": {"pending_info": {"progress_pct": "1%"}}})),
        Some(1)
    );
}

#[test]
fn progress_nested_wins_over_top_level() {
    let r = report(json!({"status": "processing", "progress": 10, "detail": {"pending_info": {"progress_pct": 0.8}}}));
    assert_eq!(r.progress_pct, Some(80));
    // An unusable nested value falls back to the top-level one.
    let r = report(json!({"status": "processing", "progress": 10, "detail": {"pending_info": {"progress_pct": null}}}));
    assert_eq!(r.progress_pct, Some(10));
    let r = report(json!({"status": "processing", "progress": 0.1, "detail": {"pending_info": {"progress_pct": "x"}}}));
    assert_eq!(r.progress_pct, Some(10));
}

#[test]
fn progress_clamped_and_garbage_ignored() {
    let r = report(json!({"status": "processing", "progress": 150}));
    assert_eq!(r.progress_pct, Some(100));
    let r = report(json!({"status": "processing", "detail": {"pending_info": {"progress_pct": "250%"}}}));
    assert_eq!(r.progress_pct, Some(100));
    let r = report(json!({"status": "processing", "progress": 1e300}));
    assert_eq!(r.progress_pct, Some(100));
    for bad in [
        json!(-5),
        json!(-0.1),
        json!("-3%"),
        json!("NaN"),
        json!("nan"),
        json!("inf"),
        json!("abc"),
        json!("%"),
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
    let r = report(json!({
        "status": "failed",
        "error": "prompt rejected",
        "fail_reason": "other",
        "failure_reason": "other",
        "detail": {"failure_reason": "other"},
    }));
    assert_eq!(r.phase, TaskPhase::Failed { reason: Some("prompt rejected".into()) });
}

#[test]
fn failure_reason_from_error_object() {
    let r = report(json!({"status": "error", "error": {"message": " content policy ", "code": "x"}}));
    assert_eq!(r.phase, TaskPhase::Failed { reason: Some("content policy".into()) });
}

#[test]
fn failure_reason_from_fail_reason() {
    let r = report(json!({
        "status": "FAILURE",
        "error": null,
        "fail_reason": " no faces allowed ",
        "failure_reason": "other",
        "detail": {"failure_reason": "other"},
    }));
    assert_eq!(r.phase, TaskPhase::Failed { reason: Some("no faces allowed".into()) });
}

#[test]
fn failure_reason_from_failure_reason() {
    let r = report(json!({
        "status": "video_generation_failed",
        "error": {"message": ""},
        "fail_reason": "",
        "failure_reason": "image could not be downloaded",
        "detail": {"pending_info": {"failure_reason": "other"}},
    }));
    assert_eq!(r.phase, TaskPhase::Failed { reason: Some("image could not be downloaded".into()) });
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
