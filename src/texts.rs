//! Every user-facing text, in English and Chinese. Pure functions of values;
//! plain text (no parse mode), so user prompts need no escaping (with a
//! parse mode, one unescaped `.` or `<` in a prompt makes Telegram refuse the whole message).

use crate::{
    command::{Orientation, ParseError, Size, VideoOptions},
    config::Limits,
    store::{Refusal, Usage},
    task::{Task, TaskState},
    video_api::ApiError,
};

pub use crate::lang::Lang;

/// Telegram's limits: 4096 characters per message, 1024 per caption; longer ones are refused.
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
             /status [id] · /tasks · /cancel <id> · /again · /quota · /settings"
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
             /status [编号] · /tasks · /cancel <编号> · /again · /quota · /settings"
        ),
    }
}

/// The Telegram command menu for Chinese users (the English one comes from the
/// `Command` enum's doc comments; same command form as teloxide sends).
pub const ZH_COMMAND_MENU: [(&str, &str); 9] = [
    ("/start", "开始：使用说明"),
    ("/help", "使用说明和示例"),
    ("/video", "生成视频：/video [选项] <描述>"),
    ("/status", "视频状态：/status [编号]"),
    ("/tasks", "最近的视频"),
    ("/cancel", "停止跟踪视频：/cancel <编号>"),
    ("/again", "重复上一次请求"),
    ("/quota", "今日剩余额度"),
    ("/settings", "默认模型、方向、尺寸、时长"),
];

pub fn parse_error(lang: Lang, error: &ParseError) -> String {
    let what = match (lang, error) {
        (Lang::En, ParseError::EmptyPrompt) => "Please add a prompt after the options.".to_owned(),
        (Lang::Zh, ParseError::EmptyPrompt) => "请在选项后面写上视频描述。".to_owned(),
        (Lang::En, ParseError::UnknownOption(key)) => {
            format!("Unknown option “{}”. Use -- before a prompt that starts with a dash.", cut(key, 40))
        }
        (Lang::Zh, ParseError::UnknownOption(key)) => {
            format!("未知选项“{}”。如果描述以横线开头，请先写 --。", cut(key, 40))
        }
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
    let example = lang.pick(
        "Example: /video --landscape d=10 a cat surfing at sunset",
        "示例：/video --landscape d=10 日落时冲浪的猫",
    );
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
    lang.pick(
        "⏳ Too many commands: please wait a minute. Commands sent meanwhile are ignored.",
        "⏳ 命令太多：请等一分钟。期间发送的命令会被忽略。",
    )
    .to_owned()
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
                Lang::En => {
                    format!("⏳ You have used all {limit} videos for today. Try again in about {hours} h (00:00 UTC).")
                }
                Lang::Zh => format!("⏳ 今天的 {limit} 个视频额度已用完。约 {hours} 小时后（UTC 0 点）再试。"),
            }
        }
        Refusal::UserActive { limit } => match lang {
            Lang::En => format!("⏳ You already have {limit} videos in progress. Try again when one is finished."),
            Lang::Zh => format!("⏳ 你已有 {limit} 个视频在生成中。等其中一个完成后再试。"),
        },
        Refusal::TotalActive { .. } => lang
            .pick(
                "⏳ The bot is busy with other videos. Try again in a few minutes.",
                "⏳ 机器人正忙于生成其他视频。请几分钟后再试。",
            )
            .to_owned(),
        Refusal::TotalDaily { limit } => {
            let hours = hours_until_utc_midnight(now_ms);
            match lang {
                Lang::En => format!(
                    "⏳ The bot has made all {limit} videos it may make today. Try again in about {hours} h (00:00 UTC)."
                ),
                Lang::Zh => format!("⏳ 机器人今天的 {limit} 个视频总额度已用完。约 {hours} 小时后（UTC 0 点）再试。"),
            }
        }
        Refusal::ChatDaily { limit } => {
            let hours = hours_until_utc_midnight(now_ms);
            match lang {
                Lang::En => format!(
                    "⏳ This group has used all {limit} videos for today. Try again in about {hours} h (00:00 UTC)."
                ),
                Lang::Zh => format!("⏳ 本群今天的 {limit} 个视频额度已用完。约 {hours} 小时后（UTC 0 点）再试。"),
            }
        }
    }
}

fn hours_until_utc_midnight(now_ms: i64) -> i64 {
    let day_ms = 86_400_000;
    let left = day_ms - now_ms.rem_euclid(day_ms);
    (left + 3_599_999) / 3_600_000
}

/// Every limit that applies to this user here, with what is left.
pub fn quota(lang: Lang, usage: &Usage, limits: &Limits, admin: bool, in_group: bool) -> String {
    let mut lines = Vec::new();
    if admin {
        lines.push(match lang {
            Lang::En => format!(
                "👑 Admin: no personal or group limits. Used today: {}. In progress: {}.",
                usage.used_today, usage.active_user
            ),
            Lang::Zh => format!(
                "👑 管理员：不受个人和群组限制。今日已用：{}。生成中：{}。",
                usage.used_today, usage.active_user
            ),
        });
    } else {
        let left = limits.daily_per_user.saturating_sub(usage.used_today);
        lines.push(match lang {
            Lang::En => format!("📊 Today: {left} of {} videos left.", limits.daily_per_user),
            Lang::Zh => format!("📊 今日剩余：{left} / {} 个视频。", limits.daily_per_user),
        });
        lines.push(match lang {
            Lang::En => format!("In progress: {} of {}.", usage.active_user, limits.max_active_per_user),
            Lang::Zh => format!("生成中：{} / {}。", usage.active_user, limits.max_active_per_user),
        });
        if let Some(limit) = limits.daily_per_chat.filter(|_| in_group) {
            let left = limit.saturating_sub(usage.used_chat_today);
            lines.push(match lang {
                Lang::En => format!("This group today: {left} of {limit} left."),
                Lang::Zh => format!("本群今日剩余：{left} / {limit}。"),
            });
        }
    }
    if usage.cancelled_running > 0 {
        lines.push(match lang {
            Lang::En => format!(
                "🛑 {} stopped with /cancel still count until the video API finishes them.",
                usage.cancelled_running
            ),
            Lang::Zh => format!("🛑 {} 个已用 /cancel 停止的视频在视频接口完成前仍占用额度。", usage.cancelled_running),
        });
    }
    if let Some(limit) = limits.daily_total {
        let left = limit.saturating_sub(usage.used_total_today);
        lines.push(match lang {
            Lang::En => format!("Whole bot today: {left} of {limit} left."),
            Lang::Zh => format!("整个机器人今日剩余：{left} / {limit}。"),
        });
    }
    lines.push(lang.pick("Resets at 00:00 UTC.", "UTC 0 点重置。").to_owned());
    lines.join("\n")
}

/// A human label for the task's state (upstream status for running tasks).
fn state_label(lang: Lang, task: &Task) -> String {
    let upstream = task.upstream_status.as_deref().unwrap_or("").to_ascii_lowercase();
    let label = match task.state {
        _ if task.state.is_open() && task.is_silenced() => lang.pick(
            "🛑 no longer followed (the video API may still be making it)",
            "🛑 已停止跟踪（视频接口可能仍在生成）",
        ),
        TaskState::Submitting => lang.pick("⏳ submitting", "⏳ 提交中"),
        TaskState::Running => match upstream.as_str() {
            "" | "pending" | "queued" => lang.pick("⏳ queued", "⏳ 排队中"),
            "processing" | "in_progress" => lang.pick("🎬 generating", "🎬 生成中"),
            other => return format!("⏳ {}", cut(other, 40)),
        },
        TaskState::Delivering => lang.pick("📤 sending the video", "📤 正在发送视频"),
        TaskState::Done => lang.pick("✅ done", "✅ 已完成"),
        TaskState::Failed => lang.pick("❌ failed", "❌ 失败"),
        TaskState::TimedOut => lang.pick("⌛ timed out", "⌛ 超时"),
        TaskState::Cancelled => lang.pick("🛑 no longer followed", "🛑 已停止跟踪"),
        TaskState::Unknown => lang.pick("❓ state unknown", "❓ 状态未知"),
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
    match lang {
        Lang::En => format!("{} · {} · {} · {}s{photos}", o.model, o.orientation, o.size, o.duration),
        Lang::Zh => format!(
            "{} · {} · {} · {}秒{photos}",
            o.model,
            orientation_name(lang, o.orientation),
            size_name(lang, o.size),
            o.duration
        ),
    }
}

/// The task's one status message: sent when created, edited as it moves, shown by `/status`.
pub fn task_status(lang: Lang, task: &Task) -> String {
    let upstream = task.upstream_id.as_deref().map(|id| format!("\n🆔 {id}")).unwrap_or_default();
    let error = task.error.as_deref().map(|e| format!("\n{}", cut(e, 300))).unwrap_or_default();
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
    match lang {
        Lang::En => format!(
            "❓ Video #{task_id}: I got no clear answer from the video API, so the video may or may not have been made. \
             I will not send it again (that could make it twice); it counts toward your limits for now. Check /tasks later or try /again."
        ),
        Lang::Zh => format!(
            "❓ 视频 #{task_id}：视频接口没有给出明确答复，视频可能已生成也可能没有。\
             我不会再次提交（以免生成两次）；它暂时计入你的额度。稍后用 /tasks 查看，或发送 /again。"
        ),
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
            "❓ Video #{}: I was restarted while creating it, so it may or may not have been made. I will not send it again (that could make it twice); send /again for a new one.",
            task.id
        ),
        Lang::Zh => format!(
            "❓ 视频 #{}：创建时机器人重启了，视频可能已生成也可能没有。我不会再次提交（以免生成两次）；发送 /again 可重新生成。",
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

pub fn internal_error(lang: Lang) -> String {
    lang.pick("😵 Something went wrong on my side. Please try again in a moment.", "😵 机器人内部出错了，请稍后再试。")
        .to_owned()
}

/// Caption of the delivered video, within Telegram's caption limit.
pub fn video_caption(lang: Lang, task: &Task) -> String {
    let head = format!("✅ {} #{} · {}\n📝 ", lang.pick("Video", "视频"), task.id, options_line(lang, task));
    let room = CAPTION_LIMIT.saturating_sub(head.chars().count());
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
    let reason = reason.map(|r| cut(r, 500)).unwrap_or_else(|| lang.pick("no reason given", "未提供原因").to_owned());
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

// ---- Buttons, guided /video, /settings, inline sharing (phones) ----

pub fn button_refresh(lang: Lang) -> &'static str {
    lang.pick("🔄 Refresh", "🔄 刷新")
}

pub fn button_stop(lang: Lang) -> &'static str {
    lang.pick("✖ Stop", "✖ 停止")
}

pub fn button_again(lang: Lang) -> &'static str {
    lang.pick("🔁 Again", "🔁 再来一次")
}

pub fn button_pro(lang: Lang) -> &'static str {
    lang.pick("⭐ Pro", "⭐ Pro 版")
}

/// `↔ Landscape` / `↕ Portrait`: the orientation the button asks for.
pub fn button_orientation(lang: Lang, orientation: Orientation) -> String {
    let arrow = match orientation {
        Orientation::Landscape => "↔",
        Orientation::Portrait => "↕",
    };
    format!("{arrow} {}", orientation_name(lang, orientation))
}

pub fn button_seconds(lang: Lang, seconds: u32) -> String {
    match lang {
        Lang::En => format!("{seconds} s"),
        Lang::Zh => format!("{seconds} 秒"),
    }
}

pub fn button_as_prompt(lang: Lang) -> &'static str {
    lang.pick("Use as prompt", "作为描述使用")
}

pub fn button_reset(lang: Lang) -> &'static str {
    lang.pick("↩ Bot defaults", "↩ 恢复默认")
}

/// An option value as users of this language call it.
pub fn orientation_name(lang: Lang, orientation: Orientation) -> &'static str {
    match orientation {
        Orientation::Landscape => lang.pick("Landscape", "横屏"),
        Orientation::Portrait => lang.pick("Portrait", "竖屏"),
    }
}

pub fn size_name(lang: Lang, size: Size) -> &'static str {
    match size {
        Size::Large => lang.pick("Large (1080p)", "大 (1080p)"),
        Size::Small => lang.pick("Small (720p)", "小 (720p)"),
    }
}

/// Short notices shown by Telegram when a press did nothing (at most 200 characters).
pub fn press_not_yours(lang: Lang) -> &'static str {
    lang.pick(
        "Not yours: only the person who asked (or an admin) can stop it.",
        "不是你的视频：只有发起人（或管理员）可以停止。",
    )
}

pub fn press_already_finished(lang: Lang) -> &'static str {
    lang.pick("Already finished.", "已经结束了。")
}

pub fn press_gone(lang: Lang) -> &'static str {
    lang.pick("This button has expired. Send the command again.", "按钮已失效，请重新发送命令。")
}

pub fn press_stopped(lang: Lang) -> &'static str {
    lang.pick("Stopped.", "已停止。")
}

pub fn press_up_to_date(lang: Lang) -> &'static str {
    lang.pick("Up to date.", "已是最新状态。")
}

pub fn press_not_allowed(lang: Lang) -> &'static str {
    lang.pick("🔒 This bot is private.", "🔒 这是私人机器人。")
}

pub fn press_working(lang: Lang) -> &'static str {
    lang.pick("On it…", "正在处理…")
}

/// The message a re-request button leaves in the chat: it is the presser's
/// request, and the replies about it answer it.
pub fn press_request(lang: Lang, who: &str, what: &str, prompt: &str) -> String {
    match lang {
        Lang::En => format!("{what}: requested by {who}\n📝 {}", cut(prompt, 200)),
        Lang::Zh => format!("{what}：由 {who} 请求\n📝 {}", cut(prompt, 200)),
    }
}

/// Asks for the prompt after a bare `/video` (sent with ForceReply). The
/// answer is recognised by this opening, in either language.
pub fn ask_prompt(lang: Lang) -> String {
    match lang {
        Lang::En => format!(
            "{ASK_PROMPT_MARK} What should the video show? Reply with a description (you can attach a photo and write it as the caption)."
        ),
        Lang::Zh => format!("{ASK_PROMPT_MARK} 视频要展示什么？请回复一段描述（也可以发送照片并把描述写在说明里）。"),
    }
}

pub const ASK_PROMPT_MARK: &str = "✍️";

pub fn ask_prompt_placeholder(lang: Lang) -> &'static str {
    lang.pick("a cat surfing at sunset", "日落时冲浪的猫")
}

/// `/settings`: what is in force here and who may change it.
pub fn settings(lang: Lang, current: &VideoOptions, in_group: bool) -> String {
    let line = format!(
        "{} · {} · {} · {}",
        current.model,
        orientation_name(lang, current.orientation),
        size_name(lang, current.size),
        button_seconds(lang, current.duration)
    );
    match (lang, in_group) {
        (Lang::En, false) => {
            format!("⚙️ Your defaults for /video:\n{line}\n\nOptions in a /video command still override them.")
        }
        (Lang::En, true) => format!(
            "⚙️ This group's defaults for /video:\n{line}\n\nOnly group admins can change them. Options in a /video command still override them."
        ),
        (Lang::Zh, false) => format!("⚙️ 你的 /video 默认设置：\n{line}\n\n/video 命令里的选项仍然优先。"),
        (Lang::Zh, true) => {
            format!("⚙️ 本群的 /video 默认设置：\n{line}\n\n只有群管理员可以修改。/video 命令里的选项仍然优先。")
        }
    }
}

pub fn press_saved(lang: Lang) -> &'static str {
    lang.pick("Saved.", "已保存。")
}

pub fn press_admins_only(lang: Lang) -> &'static str {
    lang.pick("Only this group's admins can change its defaults.", "只有本群管理员可以修改默认设置。")
}

/// Title of an inline result: the video's prompt.
pub fn inline_title(task: &Task) -> String {
    format!("#{} {}", task.id, cut(&task.prompt, 60))
}

#[cfg(test)]
mod tests;
