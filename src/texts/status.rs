//! Texts about tasks: their status, lists, failures and delivery.

use super::{CAPTION_LIMIT, Lang, MESSAGE_LIMIT, cut, shape_name, size_name};
use crate::{
    config::UNKNOWN_HOLD_MAX,
    task::{RELEASED, Task, TaskState},
    video_api::{ApiError, Stage},
};

/// Why a task failed when the video API said it was done again and again but
/// sent no video. Stored with the task as it is (so it reads the same in logs
/// and in the database) and shown in the reader's language.
pub const NO_VIDEO_REASON: &str = "the video API sent no video";

/// A failure reason in `lang`: the bot's own reasons are translated, the
/// video API's are shown as it gave them.
fn reason_text(lang: Lang, reason: &str) -> &str {
    if reason == NO_VIDEO_REASON {
        return lang.pick(NO_VIDEO_REASON, "视频接口没有发送视频");
    }
    if lang == Lang::En {
        return reason;
    }
    // The codes the bot itself stores as a task's reason; the video API's own
    // words are shown as they came.
    match reason {
        "photos unusable" => "照片无法使用",
        "model_unavailable" => "视频接口已不再提供这个模型",
        "unauthorized" => "视频接口拒绝了机器人的密钥",
        "quota_exhausted" => "视频接口额度已用完",
        "rate_limited" => "视频接口繁忙（限流）",
        "upstream" => "视频接口无法生成这个视频",
        "gateway" => "视频接口的网关出错",
        "unreachable" => "无法连接视频接口",
        "bad_response" => "无法读取视频接口的回复",
        "timeout" => "视频接口没有及时回复",
        "network" => "网络出错",
        _ => reason,
    }
}

/// What a running task's upstream status means, in words a user understands;
/// `None` for a word we do not know. Each model family has its own words.
fn upstream_label(lang: Lang, upstream: &str) -> Option<&'static str> {
    let label = match Stage::of(upstream) {
        _ if upstream.trim().is_empty() => lang.pick("⏳ queued", "⏳ 排队中"),
        Stage::Queued => lang.pick("⏳ queued", "⏳ 排队中"),
        Stage::DownloadingImages => lang.pick("📥 downloading your photos", "📥 正在下载你的照片"),
        Stage::Generating => lang.pick("🎬 making the video", "🎬 正在生成视频"),
        Stage::Generated => lang.pick("🎞 video made, finishing it", "🎞 视频已生成，正在收尾"),
        Stage::Upscaling => lang.pick("✨ upscaling", "✨ 正在提升画质"),
        // Only while the video API has said "done" without sending the video yet.
        Stage::Done => lang.pick("📦 almost done, waiting for the video", "📦 即将完成，正在等待视频"),
        // A failure ends the task at once: a running task shows one only if an
        // older version stored it, and then as it is, like an unknown word.
        Stage::Failed | Stage::Unknown => return None,
    };
    Some(label)
}

/// A human label for the task's state (upstream status for running tasks).
pub(super) fn state_label(lang: Lang, task: &Task) -> String {
    let upstream = task.upstream_status.as_deref().unwrap_or("");
    let label = match task.state {
        _ if task.state.is_open() && task.is_silenced() => lang.pick(
            "🛑 no longer followed (the video API may still be making it)",
            "🛑 已停止跟踪（视频接口可能仍在生成）",
        ),
        TaskState::Submitting => lang.pick("⏳ submitting", "⏳ 提交中"),
        TaskState::Running => match upstream_label(lang, upstream) {
            Some(label) => label,
            // Shown as the video API gave it, so a user can still look it up.
            None => return format!("⏳ {}", cut(upstream.trim(), 40)),
        },
        TaskState::Delivering => lang.pick("📤 sending the video", "📤 正在发送视频"),
        TaskState::Done => lang.pick("✅ done", "✅ 已完成"),
        TaskState::Failed => lang.pick("❌ failed", "❌ 失败"),
        TaskState::TimedOut => lang.pick("⌛ timed out", "⌛ 超时"),
        TaskState::Cancelled => lang.pick("🛑 no longer followed", "🛑 已停止跟踪"),
        TaskState::Unknown => lang.pick("❓ outcome unknown", "❓ 结果未知"),
        TaskState::Rejected => lang.pick("🚫 not created", "🚫 未创建"),
    };
    match (task.state, task.progress_pct) {
        (TaskState::Running, Some(pct)) => format!("{label} {pct}%"),
        _ => label.to_owned(),
    }
}

/// `sora-2 · landscape · large · 15s · 2 photos`
fn options_line(lang: Lang, task: &Task) -> String {
    let o = &task.options;
    let photos = match (lang, task.image_file_ids.len()) {
        (_, 0) => String::new(),
        (Lang::En, 1) => " · 1 photo".to_owned(),
        (Lang::En, n) => format!(" · {n} photos"),
        (Lang::Zh, n) => format!(" · {n} 张照片"),
    };
    let mut line = o.model.to_string();
    line.push_str(" · ");
    match lang {
        Lang::En => line.push_str(&o.shape.stored()),
        Lang::Zh => line.push_str(&shape_name(lang, o.shape)),
    }
    if let Some(size) = o.size {
        line.push_str(" · ");
        line.push_str(match lang {
            Lang::En => size.as_str(),
            Lang::Zh => size_name(lang, size),
        });
    }
    if let Some(seconds) = o.duration {
        line.push_str(&match lang {
            Lang::En => format!(" · {seconds}s"),
            Lang::Zh => format!(" · {seconds}秒"),
        });
    }
    line.push_str(&photos);
    line
}

/// The task's one status message: sent when created, edited as it moves, shown by `/status`.
pub fn task_status(lang: Lang, task: &Task) -> String {
    let upstream = task.upstream_id.as_deref().map(|id| format!("\n🆔 {id}")).unwrap_or_default();
    let error = match (task.state, task.error.as_deref()) {
        (TaskState::Unknown, _) => format!("\n{}", unknown_explained(lang, task)),
        (TaskState::Rejected, Some(RELEASED)) => format!(
            "\n{}",
            lang.pick(
                "An admin confirmed it was not made, so it no longer counts toward today's limit.",
                "管理员确认它没有生成，所以它不再计入今天的额度。",
            )
        ),
        (_, Some(e)) => format!("\n{}", cut(reason_text(lang, e), 300)),
        (_, None) => String::new(),
    };
    format!(
        "{} #{}: {}{upstream}\n{}\n📝 {}{error}",
        lang.pick("Video", "视频"),
        task.id,
        state_label(lang, task),
        options_line(lang, task),
        cut(&task.prompt, 200)
    )
}

pub fn tasks_list(lang: Lang, tasks: &[Task]) -> String {
    if tasks.is_empty() {
        return lang
            .pick("No videos yet. Try: /video a cat surfing at sunset", "还没有视频。试试：/video 日落时冲浪的猫")
            .to_owned();
    }
    let lines: Vec<String> = tasks
        .iter()
        .map(|task| format!("#{} {} · {}", task.id, state_label(lang, task), cut(&task.prompt, 40)))
        .collect();
    format!(
        "{}\n{}\n\n{}",
        lang.pick("🗂 Recent videos:", "🗂 最近的视频："),
        lines.join("\n"),
        lang.pick("Details: /status <id>", "详情：/status <编号>")
    )
}

pub fn task_not_found(lang: Lang) -> String {
    lang.pick(
        "🤷 No such video here. See /tasks for your recent ones.",
        "🤷 找不到这个视频。用 /tasks 查看最近的视频。",
    )
    .to_owned()
}

pub fn no_tasks_yet(lang: Lang) -> String {
    tasks_list(lang, &[])
}

pub fn cancel_usage(lang: Lang) -> String {
    lang.pick("Usage: /cancel <id>, e.g. /cancel 12 (see /tasks)", "用法：/cancel <编号>，例如 /cancel 12（见 /tasks）")
        .to_owned()
}

pub fn cancelled(lang: Lang, id: i64) -> String {
    match lang {
        Lang::En => format!(
            "🛑 Stopped following video #{id}. The video API cannot cancel it, so it keeps its place in your limits until it ends there."
        ),
        Lang::Zh => format!("🛑 已停止跟踪视频 #{id}。视频接口无法取消任务，在它结束前仍占用你的额度。"),
    }
}

pub fn not_cancellable(lang: Lang, task: &Task) -> String {
    match lang {
        Lang::En => format!("Video #{} can no longer be stopped: {}", task.id, state_label(lang, task)),
        Lang::Zh => format!("视频 #{} 已无法停止：{}", task.id, state_label(lang, task)),
    }
}

pub fn nothing_to_repeat(lang: Lang) -> String {
    lang.pick("Nothing to repeat yet. Start with /video <prompt>.", "还没有可以重复的请求。先发送 /video <描述>。")
        .to_owned()
}

/// The create call failed. A definite refusal says why and that nothing was
/// made; an answer that may have come after the job was taken says so.
pub fn api_error(lang: Lang, task_id: i64, error: &ApiError) -> String {
    if error.create_may_have_succeeded() {
        return create_unknown(lang, task_id);
    }
    let head = match error {
        ApiError::Unauthorized { .. } => lang.pick(
            "🔑 The video API refused the key. The bot owner needs to check it.",
            "🔑 视频接口拒绝了密钥，请联系机器人管理员检查。",
        ),
        ApiError::QuotaExhausted { .. } => lang.pick(
            "💳 The video API quota is used up. The bot owner needs to top it up.",
            "💳 视频接口额度已用完，请联系管理员充值。",
        ),
        ApiError::RateLimited { .. } => lang.pick(
            "🐢 The video API is busy (rate limit). Try again in a minute.",
            "🐢 视频接口繁忙（限流），请一分钟后再试。",
        ),
        _ => lang
            .pick("🌩 The video API is not reachable right now. Try again later.", "🌩 视频接口暂时不可用，请稍后再试。"),
    };
    let detail = error.user_message().map(|m| format!("\n({})", cut(m, 300))).unwrap_or_default();
    let note = lang.pick("No video was created.", "没有创建视频。");
    format!("{head}{detail}\n{note}")
}

/// The create call may have reached the API: never retried, so say so, and
/// claim nothing about what it cost.
pub fn create_unknown(lang: Lang, task_id: i64) -> String {
    let minutes = UNKNOWN_HOLD_MAX.as_secs() / 60;
    match lang {
        Lang::En => format!(
            "❓ Video #{task_id}: I got no clear answer from the video API, so the video may or may not have been made. \
             I will not send it again (that could make it twice). It counts toward today's limit and keeps its place \
             among your videos in progress for at most {minutes} minutes; I will tell you when that place is free. See /status {task_id}."
        ),
        Lang::Zh => format!(
            "❓ 视频 #{task_id}：视频接口没有给出明确答复，视频可能已生成也可能没有。\
             我不会再次提交（以免生成两次）。它计入今天的额度，并最多占用 {minutes} 分钟的生成中名额；名额释放时我会告诉你。详情：/status {task_id}。"
        ),
    }
}

/// What happened to a create with an unknown outcome, from its stored error
/// kind, and what the user can do: while it holds its slot, and after.
fn unknown_explained(lang: Lang, task: &Task) -> String {
    let cause = match (lang, task.error.as_deref()) {
        (Lang::En, Some("gateway")) => {
            "The video API's gateway answered with an error (502/504) after taking the request"
        }
        (Lang::Zh, Some("gateway")) => "视频接口的网关在收到请求后返回了错误（502/504）",
        (Lang::En, Some("timeout")) => "The video API did not answer in time",
        (Lang::Zh, Some("timeout")) => "视频接口没有及时答复",
        (Lang::En, Some("network")) => "The connection broke after the request was sent",
        (Lang::Zh, Some("network")) => "请求发出后连接中断了",
        (Lang::En, Some("bad_response")) => "The video API's answer could not be read",
        (Lang::Zh, Some("bad_response")) => "无法读取视频接口的答复",
        (Lang::En, None) => "The bot was restarted while sending the request",
        (Lang::Zh, None) => "发送请求时机器人重启了",
        (Lang::En, Some(_)) => "No clear answer came from the video API",
        (Lang::Zh, Some(_)) => "视频接口没有给出明确答复",
    };
    let minutes = UNKNOWN_HOLD_MAX.as_secs() / 60;
    match (lang, task.unknown_told_at.is_some()) {
        (Lang::En, false) => format!(
            "{cause}, so it may or may not be made. It is not sent again (that could make it twice). \
             It counts toward today's limit and keeps its place among your videos in progress for at most {minutes} minutes."
        ),
        (Lang::Zh, false) => format!(
            "{cause}，所以视频可能生成，也可能没有。不会再次提交（以免生成两次）。\
             它计入今天的额度，并最多占用 {minutes} 分钟的生成中名额。"
        ),
        (Lang::En, true) => format!(
            "{cause}, and no answer came later. Its place is free again; it still counts toward today's limit. \
             Send /again to try once more; if it was made after all, an admin can still have it sent to you."
        ),
        (Lang::Zh, true) => format!(
            "{cause}，之后也一直没有答复。名额已经释放；它仍计入今天的额度。\
             发送 /again 可以再试一次；如果视频其实已经生成，管理员仍可以把它发给你。"
        ),
    }
}

/// Told once, as a reply to the command, when an unknown outcome stops holding its slot.
pub fn unknown_hold_ended(lang: Lang, task: &Task) -> String {
    match lang {
        Lang::En => format!(
            "❓ Video #{}: no answer came from the video API, so I cannot tell whether it was made. \
             Your place is free again; it still counts toward today's limit. \
             If it was made after all, an admin can still have it sent to you.",
            task.id
        ),
        Lang::Zh => format!(
            "❓ 视频 #{}：视频接口一直没有答复，无法确定视频是否已生成。\
             你的名额已经释放；它仍计入今天的额度。如果视频其实已经生成，管理员仍可以把它发给你。",
            task.id
        ),
    }
}

/// Told to the requester when an admin gave an unknown outcome its upstream id.
pub fn unknown_attached(lang: Lang, task: &Task) -> String {
    match lang {
        Lang::En => format!(
            "🔎 Video #{}: an admin found it at the video API. I follow it now and send it here when it is ready.",
            task.id
        ),
        Lang::Zh => format!("🔎 视频 #{}：管理员在视频接口找到了它。我现在跟踪它，完成后发到这里。", task.id),
    }
}

/// Told to the requester when an admin released an unknown outcome, with the
/// credits it gave back (payments on).
pub fn unknown_released(lang: Lang, task: &Task, credits: Option<i64>) -> String {
    let back = match (lang, credits) {
        (_, None) => String::new(),
        (Lang::En, Some(credits)) => format!(" Its {credits} credits are back."),
        (Lang::Zh, Some(credits)) => format!("它的 {credits} 点已退回。"),
    };
    match lang {
        Lang::En => format!(
            "🚫 Video #{}: an admin confirmed it was not made. It no longer counts toward today's limit.{back}",
            task.id
        ),
        Lang::Zh => format!("🚫 视频 #{}：管理员确认它没有生成。它不再计入今天的额度。{back}", task.id),
    }
}

/// The request could not be stored, so nothing was sent to the paid API.
pub fn not_stored(lang: Lang) -> String {
    lang.pick(
        "😵 I could not save your request (database trouble), so I did not start it. Please try again in a minute.",
        "😵 无法保存你的请求（数据库出错），所以没有提交。请一分钟后再试。",
    )
    .to_owned()
}

/// Created upstream, but the answer could not be stored yet: the id is shown
/// so the video can still be found while the bot keeps trying.
pub fn created_not_saved(lang: Lang, task_id: i64, upstream_id: &str) -> String {
    match lang {
        Lang::En => format!(
            "⚠️ Video #{task_id} was created (id {upstream_id}), but I could not save it just now. I keep trying and will follow it once it is saved. If it never arrives, give this id to the bot owner."
        ),
        Lang::Zh => format!(
            "⚠️ 视频 #{task_id} 已创建（ID {upstream_id}），但暂时无法保存。我会继续重试，保存后照常跟踪。如果一直没有收到，请把这个 ID 告诉管理员。"
        ),
    }
}

/// The bot was stopped between sending a create and storing its answer.
pub fn lost_after_restart(lang: Lang, task: &Task) -> String {
    match lang {
        Lang::En => format!(
            "❓ Video #{}: I was restarted while creating it, so it may or may not have been made. I will not send it again (that could make it twice); it counts toward today's limit. Send /again for a new one.",
            task.id
        ),
        Lang::Zh => format!(
            "❓ 视频 #{}：创建时机器人重启了，视频可能已生成也可能没有。我不会再次提交（以免生成两次）；它计入今天的额度。发送 /again 可重新生成。",
            task.id
        ),
    }
}

pub fn not_an_image(lang: Lang) -> String {
    lang.pick(
        "📷 One of the files is not a JPEG, PNG or WebP image, so I did not start the video. Send photos, or images in one of those formats.",
        "📷 其中一个文件不是 JPEG、PNG 或 WebP 图片，所以没有开始生成。请发送照片，或这几种格式的图片。",
    )
    .to_owned()
}

pub fn images_too_large(lang: Lang, max_mb: u32) -> String {
    match lang {
        Lang::En => format!("📷 The photos are too large together (at most {max_mb} MB). Send fewer or smaller ones."),
        Lang::Zh => format!("📷 照片总大小超过上限（最多 {max_mb} MB）。请减少数量或缩小尺寸。"),
    }
}

pub fn image_error(lang: Lang) -> String {
    lang.pick(
        "📷 I could not read one of the photos. Send it again (as a photo, or a JPEG/PNG/WebP file).",
        "📷 无法读取其中一张照片。请重新发送（照片，或 JPEG/PNG/WebP 文件）。",
    )
    .to_owned()
}

/// Caption of the delivered video, within Telegram's caption limit.
pub fn video_caption(lang: Lang, task: &Task) -> String {
    let head = format!("✅ {} #{} · {}\n📝 ", lang.pick("Video", "视频"), task.id, options_line(lang, task));
    let room = CAPTION_LIMIT.saturating_sub(super::telegram_len(&head));
    format!("{head}{}", cut(&task.prompt, room))
}

/// The video could not be sent as a file (too large, or unreachable for Telegram): its link instead.
pub fn video_link(lang: Lang, task: &Task, url: &str) -> String {
    let head = match lang {
        Lang::En => {
            format!("✅ Video #{} is ready. I could not send the file here, so here is its link:\n{url}", task.id)
        }
        Lang::Zh => format!("✅ 视频 #{} 已完成。无法直接发送文件，这是视频链接：\n{url}", task.id),
    };
    cut(&head, MESSAGE_LIMIT)
}

pub fn task_failed(lang: Lang, task: &Task, reason: Option<&str>) -> String {
    let reason = reason
        .map(|r| cut(reason_text(lang, r), 500))
        .unwrap_or_else(|| lang.pick("no reason given", "未提供原因").to_owned());
    match lang {
        Lang::En => format!("❌ Video #{} failed: {reason}", task.id),
        Lang::Zh => format!("❌ 视频 #{} 生成失败：{reason}", task.id),
    }
}

pub fn task_timed_out(lang: Lang, task: &Task, minutes: u64) -> String {
    match lang {
        Lang::En => format!("⌛ Video #{} did not finish within {minutes} min, so I stopped waiting for it.", task.id),
        Lang::Zh => format!("⌛ 视频 #{} 在 {minutes} 分钟内没有完成，已停止等待。", task.id),
    }
}
