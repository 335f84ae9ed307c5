//! Every user-facing text, in English and Chinese. Pure functions of values;
//! plain text (no parse mode), so user prompts need no escaping (PITFALLS 14).

use crate::{
    command::ParseError,
    config::Limits,
    store::{Refusal, Usage},
    task::{Task, TaskState},
    video_api::ApiError,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Zh,
}

impl Lang {
    /// From Telegram's `language_code` (`zh`, `zh-hans`, `zh-TW` → Chinese; anything else → English).
    pub fn from_code(code: Option<&str>) -> Lang {
        match code {
            Some(c) if c.to_ascii_lowercase().starts_with("zh") => Lang::Zh,
            _ => Lang::En,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }
}

/// Picks the text for the language.
fn t<'a>(lang: Lang, en: &'a str, zh: &'a str) -> &'a str {
    match lang {
        Lang::En => en,
        Lang::Zh => zh,
    }
}

/// Telegram's limits: 4096 characters per message, 1024 per caption (PITFALLS 11).
pub const MESSAGE_LIMIT: usize = 4096;
pub const CAPTION_LIMIT: usize = 1024;

/// Cuts to at most `max` characters, marking the cut with `…`.
pub fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

const FORM: &str = "/video [options] <prompt>";

pub fn help(lang: Lang) -> String {
    match lang {
        Lang::En => format!(
            "🎬 I turn your words (and photos) into Sora-2 videos.\n\n\
             {FORM}\n\n\
             Examples:\n\
             /video a cat surfing at sunset\n\
             /video --landscape --d 10 two huskies in a courtyard\n\
             /video model=pro o=landscape a drone shot over Hong Kong at night\n\n\
             Options (before the prompt):\n\
             • model / m: sora-2, pro\n\
             • orientation / o: portrait, landscape\n\
             • size / s: large (1080p), small (720p)\n\
             • duration / d: 10 or 15 (pro: 15 or 25)\n\
             • flags: --pro --portrait --landscape\n\
             • -- ends the options\n\n\
             📷 Photos: send a photo (or album) with /video … as its caption, or reply to a photo with /video …. In groups these two ways always work.\n\n\
             /status [id] · /tasks · /cancel <id> · /again · /quota"
        ),
        Lang::Zh => format!(
            "🎬 我可以把文字（和照片）变成 Sora-2 视频。\n\n\
             {FORM}\n\n\
             示例：\n\
             /video 日落时冲浪的猫\n\
             /video --landscape --d 10 院子里的两只哈士奇\n\
             /video model=pro o=横屏 夜晚香港的航拍镜头\n\n\
             选项（写在描述前面）：\n\
             • model / m：sora-2、pro\n\
             • orientation / o：portrait（竖屏）、landscape（横屏）\n\
             • size / s：large（1080p）、small（720p）\n\
             • duration / d：10 或 15（pro：15 或 25）\n\
             • 快捷：--pro --portrait --landscape\n\
             • -- 表示选项结束\n\n\
             📷 照片：发送照片（或相册）并以 /video … 作为说明，或回复一张照片发送 /video …。群组里这两种方式总是可用。\n\n\
             /status [编号] · /tasks · /cancel <编号> · /again · /quota"
        ),
    }
}

/// The Telegram command menu for Chinese users (the English one comes from the
/// `Command` enum's doc comments; same command form as teloxide sends).
pub const ZH_COMMAND_MENU: [(&str, &str); 8] = [
    ("/start", "开始：使用说明"),
    ("/help", "使用说明和示例"),
    ("/video", "生成视频：/video [选项] <描述>"),
    ("/status", "视频状态：/status [编号]"),
    ("/tasks", "最近的视频"),
    ("/cancel", "停止跟踪视频：/cancel <编号>"),
    ("/again", "重复上一次请求"),
    ("/quota", "今日剩余额度"),
];

pub fn parse_error(lang: Lang, error: &ParseError) -> String {
    let what = match (lang, error) {
        (Lang::En, ParseError::EmptyPrompt) => "Please add a prompt after the options.".to_owned(),
        (Lang::Zh, ParseError::EmptyPrompt) => "请在选项后面写上视频描述。".to_owned(),
        (Lang::En, ParseError::UnknownOption(key)) => format!("Unknown option “{}”. Use -- before a prompt that starts with a dash.", cut(key, 40)),
        (Lang::Zh, ParseError::UnknownOption(key)) => format!("未知选项“{}”。如果描述以横线开头，请先写 --。", cut(key, 40)),
        (Lang::En, ParseError::MissingValue(key)) => format!("Option {key} needs a value."),
        (Lang::Zh, ParseError::MissingValue(key)) => format!("选项 {key} 缺少取值。"),
        (Lang::En, ParseError::BadValue { key, value }) => format!("“{}” is not a valid {key}.", cut(value, 40)),
        (Lang::Zh, ParseError::BadValue { key, value }) => format!("“{}” 不是有效的 {key}。", cut(value, 40)),
        (Lang::En, ParseError::BadDuration { model, duration }) => {
            format!("{model} makes {} second videos, not {duration}.", join_durations(model.durations(), " or "))
        }
        (Lang::Zh, ParseError::BadDuration { model, duration }) => {
            format!("{model} 只支持 {} 秒，不支持 {duration} 秒。", join_durations(model.durations(), " 或 "))
        }
        (Lang::En, ParseError::Repeated(key)) => format!("Option {key} is given twice."),
        (Lang::Zh, ParseError::Repeated(key)) => format!("选项 {key} 重复了。"),
    };
    let example = t(lang, "Example: /video --landscape d=10 a cat surfing at sunset", "示例：/video --landscape d=10 日落时冲浪的猫");
    format!("⚠️ {what}\n\n{FORM}\n{example}")
}

fn join_durations(durations: &[u32], sep: &str) -> String {
    durations.iter().map(u32::to_string).collect::<Vec<_>>().join(sep)
}

pub fn not_allowed(lang: Lang, user_id: i64) -> String {
    match lang {
        Lang::En => format!("🔒 This bot is private. Ask its owner to add your user id: {user_id}"),
        Lang::Zh => format!("🔒 这是私人机器人。请让管理员添加你的用户 ID：{user_id}"),
    }
}

/// Sent at most once a minute to a user over the command rate limit.
pub fn slow_down(lang: Lang) -> String {
    t(lang, "⏳ Too many commands: please wait a minute. Commands sent meanwhile are ignored.", "⏳ 命令太多：请等一分钟。期间发送的命令会被忽略。").to_owned()
}

pub fn too_many_images(lang: Lang, given: usize, max: usize) -> String {
    match lang {
        Lang::En => format!("⚠️ {given} photos is too many: at most {max} per video. Send fewer and try again."),
        Lang::Zh => format!("⚠️ 照片太多（{given} 张）：每个视频最多 {max} 张。请减少后重试。"),
    }
}

/// A refused request: why, and when to try again. `now_ms` to tell the hours until UTC midnight.
pub fn refusal(lang: Lang, refusal: Refusal, now_ms: i64) -> String {
    match refusal {
        Refusal::DailyLimit { limit } => {
            let hours = hours_until_utc_midnight(now_ms);
            match lang {
                Lang::En => format!("⏳ You have used all {limit} videos for today. Try again in about {hours} h (00:00 UTC)."),
                Lang::Zh => format!("⏳ 今天的 {limit} 个视频额度已用完。约 {hours} 小时后（UTC 0 点）再试。"),
            }
        }
        Refusal::UserActive { limit } => match lang {
            Lang::En => format!("⏳ You already have {limit} videos in progress. Try again when one is finished."),
            Lang::Zh => format!("⏳ 你已有 {limit} 个视频在生成中。等其中一个完成后再试。"),
        },
        Refusal::TotalActive { .. } => {
            t(lang, "⏳ The bot is busy with other videos. Try again in a few minutes.", "⏳ 机器人正忙于生成其他视频。请几分钟后再试。")
                .to_owned()
        }
    }
}

fn hours_until_utc_midnight(now_ms: i64) -> i64 {
    let day_ms = 86_400_000;
    let left = day_ms - now_ms.rem_euclid(day_ms);
    (left + 3_599_999) / 3_600_000
}

pub fn quota(lang: Lang, usage: &Usage, limits: &Limits, admin: bool) -> String {
    if admin {
        return match lang {
            Lang::En => format!("👑 Admin: no personal limits. Used today: {}. In progress: {}.", usage.used_today, usage.active_user),
            Lang::Zh => format!("👑 管理员：不受个人限制。今日已用：{}。生成中：{}。", usage.used_today, usage.active_user),
        };
    }
    let left = limits.daily_per_user.saturating_sub(usage.used_today);
    match lang {
        Lang::En => format!(
            "📊 Today: {left} of {} videos left.\nIn progress: {} of {}.\nResets at 00:00 UTC.",
            limits.daily_per_user, usage.active_user, limits.max_active_per_user
        ),
        Lang::Zh => format!(
            "📊 今日剩余：{left} / {} 个视频。\n生成中：{} / {}。\nUTC 0 点重置。",
            limits.daily_per_user, usage.active_user, limits.max_active_per_user
        ),
    }
}

/// A human label for the task's state (upstream status for running tasks).
fn state_label(lang: Lang, task: &Task) -> String {
    let upstream = task.upstream_status.as_deref().unwrap_or("").to_ascii_lowercase();
    let label = match task.state {
        TaskState::Submitting => t(lang, "⏳ submitting", "⏳ 提交中"),
        TaskState::Running => match upstream.as_str() {
            "" | "pending" | "queued" => t(lang, "⏳ queued", "⏳ 排队中"),
            "processing" | "in_progress" => t(lang, "🎬 generating", "🎬 生成中"),
            other => return format!("⏳ {}", cut(other, 40)),
        },
        TaskState::Delivering => t(lang, "📤 sending the video", "📤 正在发送视频"),
        TaskState::Done => t(lang, "✅ done", "✅ 已完成"),
        TaskState::Failed => t(lang, "❌ failed", "❌ 失败"),
        TaskState::TimedOut => t(lang, "⌛ timed out", "⌛ 超时"),
        TaskState::Cancelled => t(lang, "🛑 no longer followed", "🛑 已停止跟踪"),
        TaskState::Unknown => t(lang, "❓ state unknown", "❓ 状态未知"),
        TaskState::Rejected => t(lang, "🚫 not created", "🚫 未创建"),
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
    format!("{} · {} · {} · {}s{photos}", o.model, o.orientation, o.size, o.duration)
}

/// The task's one status message: sent when created, edited as it moves, shown by `/status`.
pub fn task_status(lang: Lang, task: &Task) -> String {
    let upstream = task.upstream_id.as_deref().map(|id| format!("\n🆔 {id}")).unwrap_or_default();
    let error = task.error.as_deref().map(|e| format!("\n{}", cut(e, 300))).unwrap_or_default();
    format!(
        "{} #{}: {}{upstream}\n{}\n📝 {}{error}",
        t(lang, "Video", "视频"),
        task.id,
        state_label(lang, task),
        options_line(lang, task),
        cut(&task.prompt, 200)
    )
}

pub fn tasks_list(lang: Lang, tasks: &[Task]) -> String {
    if tasks.is_empty() {
        return t(lang, "No videos yet. Try: /video a cat surfing at sunset", "还没有视频。试试：/video 日落时冲浪的猫").to_owned();
    }
    let lines: Vec<String> =
        tasks.iter().map(|task| format!("#{} {} · {}", task.id, state_label(lang, task), cut(&task.prompt, 40))).collect();
    format!("{}\n{}\n\n{}", t(lang, "🗂 Recent videos:", "🗂 最近的视频："), lines.join("\n"), t(lang, "Details: /status <id>", "详情：/status <编号>"))
}

pub fn task_not_found(lang: Lang) -> String {
    t(lang, "🤷 No such video here. See /tasks for your recent ones.", "🤷 找不到这个视频。用 /tasks 查看最近的视频。").to_owned()
}

pub fn no_tasks_yet(lang: Lang) -> String {
    tasks_list(lang, &[])
}

pub fn cancel_usage(lang: Lang) -> String {
    t(lang, "Usage: /cancel <id>, e.g. /cancel 12 (see /tasks)", "用法：/cancel <编号>，例如 /cancel 12（见 /tasks）").to_owned()
}

pub fn cancelled(lang: Lang, id: i64) -> String {
    match lang {
        Lang::En => format!("🛑 Stopped following video #{id}. The video API cannot cancel it, so it may still count against the key."),
        Lang::Zh => format!("🛑 已停止跟踪视频 #{id}。视频接口无法取消任务，它可能仍会计费。"),
    }
}

pub fn not_cancellable(lang: Lang, task: &Task) -> String {
    match lang {
        Lang::En => format!("Video #{} is already finished: {}", task.id, state_label(lang, task)),
        Lang::Zh => format!("视频 #{} 已经结束：{}", task.id, state_label(lang, task)),
    }
}

pub fn nothing_to_repeat(lang: Lang) -> String {
    t(lang, "Nothing to repeat yet. Start with /video <prompt>.", "还没有可以重复的请求。先发送 /video <描述>。").to_owned()
}

/// The create call failed: not charged (except a timeout, see `create_unknown`).
pub fn api_error(lang: Lang, error: &ApiError) -> String {
    let head = match error {
        ApiError::Unauthorized { .. } => t(lang, "🔑 The video API refused the key. The bot owner needs to check it.", "🔑 视频接口拒绝了密钥，请联系机器人管理员检查。"),
        ApiError::QuotaExhausted { .. } => t(lang, "💳 The video API quota is used up. The bot owner needs to top it up.", "💳 视频接口额度已用完，请联系管理员充值。"),
        ApiError::RateLimited { .. } => t(lang, "🐢 The video API is busy (rate limit). Try again in a minute.", "🐢 视频接口繁忙（限流），请一分钟后再试。"),
        ApiError::Upstream { .. } | ApiError::Network { .. } => {
            t(lang, "🌩 The video API is not reachable right now. Try again later.", "🌩 视频接口暂时不可用，请稍后再试。")
        }
        ApiError::BadResponse { .. } => t(lang, "🌩 The video API gave an answer I could not read. Try again later.", "🌩 视频接口返回了无法识别的内容，请稍后再试。"),
        ApiError::Timeout { .. } => return create_unknown(lang),
    };
    let detail = error.user_message().map(|m| format!("\n({})", cut(m, 300))).unwrap_or_default();
    let note = t(lang, "No video was created.", "没有创建视频。");
    format!("{head}{detail}\n{note}")
}

/// The create call may have reached the API: never retried, so say so.
pub fn create_unknown(lang: Lang) -> String {
    t(
        lang,
        "❓ The video API did not answer in time. The video may or may not have been created; to avoid paying twice I will not retry. Check /tasks later or try /again.",
        "❓ 视频接口没有及时响应，视频可能已创建也可能没有；为避免重复计费，我不会自动重试。稍后用 /tasks 查看，或发送 /again。",
    )
    .to_owned()
}

/// The bot was restarted between sending a create and storing its answer.
pub fn lost_after_restart(lang: Lang, task: &Task) -> String {
    match lang {
        Lang::En => format!("❓ Video #{}: I was restarted while creating it, so its state is unknown. I will not retry it to avoid paying twice; send /again to make a new one.", task.id),
        Lang::Zh => format!("❓ 视频 #{}：创建时机器人重启了，状态未知。为避免重复计费，我不会自动重试；发送 /again 可重新生成。", task.id),
    }
}

pub fn image_error(lang: Lang) -> String {
    t(lang, "📷 I could not read one of the photos. Send it again (as a photo, or a JPEG/PNG/WebP file).", "📷 无法读取其中一张照片。请重新发送（照片，或 JPEG/PNG/WebP 文件）。")
        .to_owned()
}

pub fn internal_error(lang: Lang) -> String {
    t(lang, "😵 Something went wrong on my side. Please try again in a moment.", "😵 机器人内部出错了，请稍后再试。").to_owned()
}

/// Caption of the delivered video, within Telegram's caption limit.
pub fn video_caption(lang: Lang, task: &Task) -> String {
    let head = format!("✅ {} #{} · {}\n📝 ", t(lang, "Video", "视频"), task.id, options_line(lang, task));
    let room = CAPTION_LIMIT.saturating_sub(head.chars().count());
    format!("{head}{}", cut(&task.prompt, room))
}

/// The video could not be sent as a file (too large, or unreachable for Telegram): its link instead.
pub fn video_link(lang: Lang, task: &Task, url: &str) -> String {
    let head = match lang {
        Lang::En => format!("✅ Video #{} is ready. I could not send the file here, so here is its link:\n{url}", task.id),
        Lang::Zh => format!("✅ 视频 #{} 已完成。无法直接发送文件，这是视频链接：\n{url}", task.id),
    };
    cut(&head, MESSAGE_LIMIT)
}

pub fn task_failed(lang: Lang, task: &Task, reason: Option<&str>) -> String {
    let reason = reason.map(|r| cut(r, 500)).unwrap_or_else(|| t(lang, "no reason given", "未提供原因").to_owned());
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

#[cfg(test)]
mod tests;
