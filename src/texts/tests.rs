use super::*;
use crate::{
    command::{ModelName, Shape, VideoOptions},
    task::Task,
    video_api::ApiError,
};

fn task() -> Task {
    Task {
        id: 7,
        prompt: "two huskies in a courtyard".into(),
        options: VideoOptions { shape: Shape::LANDSCAPE, ..VideoOptions::STANDARD },
        image_file_ids: vec!["a".into(), "b".into()],
        upstream_id: Some("sora-2:task_01".into()),
        upstream_status: Some("processing".into()),
        progress_pct: Some(42),
        ..Task::example()
    }
}

#[test]
fn language_follows_the_users_code() {
    assert_eq!(Lang::from_code(Some("zh-hans")), Lang::Zh);
    assert_eq!(Lang::from_code(Some("ZH")), Lang::Zh);
    assert_eq!(Lang::from_code(Some("en-US")), Lang::En);
    assert_eq!(Lang::from_code(Some("ru")), Lang::En);
    assert_eq!(Lang::from_code(None), Lang::En);
}

#[test]
fn status_message_shows_everything_a_phone_needs() {
    let text = task_status(Lang::En, &task());
    assert_eq!(
        text,
        "Video #7: 🎬 making the video 42%\n🆔 sora-2:task_01\nsora-2 · landscape · large · 15s · 2 photos\n📝 two huskies in a courtyard"
    );
    assert!(task_status(Lang::Zh, &task()).contains("🎬 正在生成视频 42%"));
}

#[test]
fn unknown_upstream_status_is_shown_as_is() {
    let mut t = task();
    t.upstream_status = Some("Warming_Up".into());
    t.progress_pct = None;
    assert!(task_status(Lang::En, &t).starts_with("Video #7: ⏳ Warming_Up\n"), "{}", task_status(Lang::En, &t));
    assert!(task_status(Lang::Zh, &t).starts_with("视频 #7: ⏳ Warming_Up\n"), "{}", task_status(Lang::Zh, &t));
}

/// The status line of a running task with this upstream status, without progress.
fn status_line(lang: Lang, upstream: Option<&str>) -> String {
    let t = Task { upstream_status: upstream.map(str::to_owned), progress_pct: None, ..task() };
    let text = task_status(lang, &t);
    let line = text.lines().next().unwrap();
    line.split_once(": ").unwrap().1.to_owned()
}

#[test]
fn status_words_of_every_family_are_shown_in_words_users_understand() {
    let expected = [
        (&["pending", "QUEUED", "Not_Start", "submitted"][..], "⏳ queued", "⏳ 排队中"),
        (&["image_downloading", "Image_Downloading"], "📥 downloading your photos", "📥 正在下载你的照片"),
        (&["processing", "In_Progress", "VIDEO_GENERATING"], "🎬 making the video", "🎬 正在生成视频"),
        (
            &["video_generation_completed", "VIDEO_GENERATION_COMPLETED"],
            "🎞 video made, finishing it",
            "🎞 视频已生成，正在收尾",
        ),
        (&["video_upsampling", "Video_Upsampling"], "✨ upscaling", "✨ 正在提升画质"),
        (
            &["SUCCESS", "completed", "Succeeded", "video_upsampling_completed"],
            "📦 almost done, waiting for the video",
            "📦 即将完成，正在等待视频",
        ),
    ];
    for (words, en, zh) in expected {
        for word in words {
            assert_eq!(status_line(Lang::En, Some(word)), en, "{word}");
            let chinese = status_line(Lang::Zh, Some(word));
            assert_eq!(chinese, zh, "{word}");
            assert!(!chinese.chars().any(|c| c.is_ascii_alphabetic()), "no English in {chinese:?}");
        }
    }
    assert_eq!(status_line(Lang::En, None), "⏳ queued");
    assert_eq!(status_line(Lang::Zh, Some(" ")), "⏳ 排队中");
}

#[test]
fn the_no_video_reason_is_shown_in_the_readers_language() {
    let failed = Task {
        state: crate::task::TaskState::Failed,
        error: Some(NO_VIDEO_REASON.into()),
        progress_pct: None,
        ..task()
    };
    assert_eq!(
        task_failed(Lang::En, &failed, Some(NO_VIDEO_REASON)),
        "❌ Video #7 failed: the video API sent no video"
    );
    assert_eq!(task_failed(Lang::Zh, &failed, Some(NO_VIDEO_REASON)), "❌ 视频 #7 生成失败：视频接口没有发送视频");
    assert!(
        task_status(Lang::En, &failed).ends_with("\nthe video API sent no video"),
        "{}",
        task_status(Lang::En, &failed)
    );
    assert!(task_status(Lang::Zh, &failed).ends_with("\n视频接口没有发送视频"), "{}", task_status(Lang::Zh, &failed));
    // The video API's own reasons are shown as it gave them.
    assert!(task_failed(Lang::Zh, &failed, Some("content policy")).ends_with("content policy"));
}

#[test]
fn caption_fits_telegrams_limit_with_a_huge_prompt() {
    let mut t = task();
    t.prompt = "🐺".repeat(5000);
    let caption = video_caption(Lang::Zh, &t);
    assert!(telegram_len(&caption) <= CAPTION_LIMIT);
    assert!(caption.ends_with('…'));
}

#[test]
fn cut_counts_characters_not_bytes() {
    assert_eq!(cut("日落时冲浪的猫", 3), "日落…");
    assert_eq!(cut("short", 10), "short");
    assert_eq!(cut("", 0), "");
}

#[test]
fn parse_errors_show_the_right_form() {
    for lang in [Lang::En, Lang::Zh] {
        for error in [
            ParseError::EmptyPrompt,
            ParseError::UnknownOption("foo".into()),
            ParseError::MissingValue("duration"),
            ParseError::BadValue { key: "size", value: "huge".into() },
            ParseError::BadDuration { model: ModelName::fixed("sora-2-pro"), duration: 10, offered: vec![15, 25] },
            ParseError::Repeated("model"),
        ] {
            let text = parse_error(lang, &error);
            assert!(text.contains(form(lang)), "{text}");
        }
    }
    assert!(
        parse_error(
            Lang::En,
            &ParseError::BadDuration { model: ModelName::fixed("sora-2-pro"), duration: 10, offered: vec![15, 25] }
        )
        .contains("15 or 25")
    );
}

#[test]
fn daily_refusal_says_when_to_come_back() {
    let one_hour_before_midnight = 86_400_000 * 100 - 3_600_000;
    let text = refusal(Lang::En, Refusal::DailyLimit { limit: 10, left: 0 }, one_hour_before_midnight);
    assert!(text.contains("about 1 h"), "{text}");
}

#[test]
fn stranger_sees_their_own_id() {
    assert!(not_allowed(Lang::En, 4242).contains("4242"));
    assert!(not_allowed(Lang::Zh, 4242).contains("4242"));
}

/// A user with two videos in progress (one stopped) on a busy day.
fn busy_day() -> Usage {
    Usage {
        used_today: 3,
        active_user: 2,
        active_total: 2,
        cancelled_running: 1,
        used_total_today: 7,
        used_chat_today: 4,
    }
}

/// Every limit set, the group and bot-wide budgets included.
fn every_limit() -> Limits {
    Limits {
        daily_per_user: Some(10),
        max_active_per_user: Some(2),
        max_active_total: Some(20),
        daily_total: Some(50),
        daily_per_chat: Some(5),
    }
}

#[test]
fn every_text_fits_a_message() {
    let t = task();
    let (usage, limits) = (Usage { active_user: 1, ..busy_day() }, every_limit());
    for lang in [Lang::En, Lang::Zh] {
        for text in [
            help(lang),
            tasks_list(lang, &vec![t.clone(); 10]),
            quota(lang, &usage, &limits, false, true),
            quota(lang, &usage, &limits, true, false),
            video_link(lang, &t, "https://v/x.mp4"),
            task_failed(lang, &t, Some(&"x".repeat(10_000))),
            api_error(lang, 1, &ApiError::RateLimited { message: Some("slow down".into()) }),
            created_not_saved(lang, 1, &"x".repeat(300)),
        ] {
            assert!(!text.is_empty() && telegram_len(&text) <= MESSAGE_LIMIT);
        }
    }
}

#[test]
fn quota_shows_every_limit_that_applies() {
    let (usage, limits) = (busy_day(), every_limit());
    let text = quota(Lang::En, &usage, &limits, false, true);
    for needle in [
        "7 of 10 units left",
        "In progress: 2 of 2",
        "This group today: 1 of 5",
        "1 stopped with /cancel",
        "Whole bot today: 43 of 50",
    ] {
        assert!(text.contains(needle), "{needle:?} in {text}");
    }
    let private = quota(Lang::En, &usage, &limits, false, false);
    assert!(!private.contains("group"), "{private}");
    let admin = quota(Lang::Zh, &usage, &limits, true, true);
    assert!(admin.contains("管理员") && admin.contains("43 / 50") && !admin.contains("本群"), "{admin}");
}

#[test]
fn an_answer_that_may_have_come_after_the_job_was_taken_claims_nothing() {
    for error in [
        ApiError::Gateway { status: 504 },
        ApiError::Timeout { request_sent: true },
        ApiError::BadResponse { detail: "html".into() },
    ] {
        let text = api_error(Lang::En, 7, &error);
        assert!(text.contains("may or may not") && text.contains("#7"), "{text}");
        assert!(!text.contains("No video was created"), "{text}");
    }
    let refused = api_error(Lang::En, 7, &ApiError::Upstream { status: 500, message: Some("overloaded".into()) });
    assert!(refused.contains("No video was created") && refused.contains("overloaded"), "{refused}");
}

#[test]
fn a_model_costing_more_than_is_left_says_so_and_points_to_cheaper_ones() {
    let noon = 12 * 3_600_000;
    let text = refusal(Lang::En, Refusal::DailyLimit { limit: 10, left: 1 }, noon);
    assert_eq!(
        text,
        "⏳ This model costs more than the 1 left of your 10 for today. Pick a cheaper one (/models) or try again in about 12 h (00:00 UTC)."
    );
    let zh = refusal(Lang::Zh, Refusal::ChatDaily { limit: 5, left: 2 }, noon);
    assert!(zh.contains("本群今天剩余的 2 点（共 5 点）") && zh.contains("/models"), "{zh}");
}

#[test]
fn an_unknown_outcome_says_what_happened_and_what_to_do() {
    let held =
        Task { state: crate::task::TaskState::Unknown, error: Some("gateway".into()), upstream_id: None, ..task() };
    let text = task_status(Lang::En, &held);
    assert!(text.contains("❓ outcome unknown") && text.contains("gateway answered with an error (502/504)"), "{text}");
    assert!(text.contains("at most 10 minutes") && !text.ends_with("gateway"), "{text}");
    let freed = Task { unknown_told_at: Some(1), ..held.clone() };
    let text = task_status(Lang::Zh, &freed);
    assert!(text.contains("名额已经释放") && text.contains("/again"), "{text}");
    let cut_off = Task { error: None, ..held };
    assert!(task_status(Lang::En, &cut_off).contains("restarted while sending"));
    let released =
        Task { state: crate::task::TaskState::Rejected, error: Some(crate::task::RELEASED.into()), ..task() };
    let text = task_status(Lang::En, &released);
    assert!(text.contains("🚫 not created") && text.contains("no longer counts"), "{text}");
}

#[test]
fn cuts_count_utf16_units_as_telegram_does() {
    // Every emoji is two units: 600 of them are 1,200, over a caption.
    let emoji = "🐱".repeat(600);
    let cut_emoji = cut(&emoji, CAPTION_LIMIT);
    assert_eq!(telegram_len(&cut_emoji), CAPTION_LIMIT - 1, "never half a pair: {}", telegram_len(&cut_emoji));
    assert!(cut_emoji.ends_with('…'));
    assert_eq!(cut("short", 10), "short");
    let mut task = crate::task::Task::example();
    task.prompt = "a".repeat(990) + &"🐱".repeat(40);
    assert!(telegram_len(&video_caption(Lang::En, &task)) <= CAPTION_LIMIT);
    assert!(telegram_len(&video_caption(Lang::Zh, &task)) <= CAPTION_LIMIT);
}

#[test]
fn chinese_texts_have_no_english_placeholders_or_status_words() {
    assert!(help(Lang::Zh).contains("/video [选项] <描述>"), "{}", help(Lang::Zh));
    assert!(!help(Lang::Zh).contains("<prompt>"));
    assert!(!parse_error(Lang::Zh, &crate::command::ParseError::EmptyPrompt).contains("options"));
    for reason in ["gateway", "photos unusable", "timeout", "model_unavailable"] {
        let mut failed = task();
        failed.state = crate::task::TaskState::Rejected;
        failed.error = Some(reason.into());
        let text = task_status(Lang::Zh, &failed);
        assert!(!text.contains(reason), "{text}");
        assert!(task_status(Lang::En, &failed).contains(reason), "English keeps the code");
    }
}
