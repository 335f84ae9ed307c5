//! Every user-facing text, in English and Chinese. Pure functions of values;
//! plain text (no parse mode), so user prompts need no escaping (with a
//! parse mode, one unescaped `.` or `<` in a prompt makes Telegram refuse the whole message).

use crate::{
    command::ParseError,
    config::Limits,
    models::ModelName,
    store::{Refusal, Usage},
};

pub use crate::lang::Lang;

mod status;
pub use status::*;
mod buttons;
pub use buttons::*;
mod models;
pub use models::*;
mod payments;
pub use payments::*;
mod admin;
pub use admin::*;

/// Telegram's limits: 4096 characters per message, 1024 per caption, counted
/// in UTF-16 code units (an emoji is two); longer ones are refused.
pub const MESSAGE_LIMIT: usize = 4096;
pub const CAPTION_LIMIT: usize = 1024;

/// Length as Telegram counts it: UTF-16 code units.
pub fn telegram_len(text: &str) -> usize {
    text.encode_utf16().count()
}

/// Cuts to at most `max` UTF-16 code units (Telegram's count), marking the
/// cut with `…`; never splits a character.
pub fn cut(text: &str, max: usize) -> String {
    if telegram_len(text) <= max {
        return text.to_owned();
    }
    let room = max.saturating_sub('…'.len_utf16());
    let mut used = 0;
    let mut out: String = text
        .chars()
        .take_while(|c| {
            used += c.len_utf16();
            used <= room
        })
        .collect();
    out.push('…');
    out
}

const FORM: &str = "/video [options] <prompt>";
const FORM_ZH: &str = "/video [选项] <描述>";

/// The command's form, in the reader's words.
fn form(lang: Lang) -> &'static str {
    lang.pick(FORM, FORM_ZH)
}

pub fn help(lang: Lang) -> String {
    match lang {
        Lang::En => format!(
            "🎬 I turn your words (and photos) into AI videos.\n\n\
             {FORM}\n\n\
             Examples:\n\
             /video a cat surfing at sunset\n\
             /video --landscape --d 10 two huskies in a courtyard\n\
             /video model=pro o=landscape a drone shot over Hong Kong at night\n\n\
             Options (before the prompt):\n\
             • model / m: a model from /models (veo, pro, …)\n\
             • orientation / o: portrait, landscape, square, 4:3 … (what the model makes)\n\
             • size / s: large (1080p), small (720p)\n\
             • duration / d: seconds, where the model has a choice\n\
             • flags: --pro --portrait --landscape\n\
             • -- ends the options\n\n\
             📷 Photos: send a photo (or album) with /video … as its caption, or reply to a photo with /video …. In groups these two ways always work.\n\n\
             /status [id] · /tasks · /cancel <id> · /again · /quota · /settings · /models"
        ),
        Lang::Zh => format!(
            "🎬 我可以把文字（和照片）变成 AI 视频。\n\n\
             {FORM_ZH}\n\n\
             示例：\n\
             /video 日落时冲浪的猫\n\
             /video --landscape --d 10 院子里的两只哈士奇\n\
             /video model=pro o=横屏 夜晚香港的航拍镜头\n\n\
             选项（写在描述前面）：\n\
             • model / m：/models 中的模型（veo、pro 等）\n\
             • orientation / o：portrait（竖屏）、landscape（横屏）、square（方形）、4:3 等（视模型而定）\n\
             • size / s：large（1080p）、small（720p）\n\
             • duration / d：秒数（模型可选时）\n\
             • 快捷：--pro --portrait --landscape\n\
             • -- 表示选项结束\n\n\
             📷 照片：发送照片（或相册）并以 /video … 作为说明，或回复一张照片发送 /video …。群组里这两种方式总是可用。\n\n\
             /status [编号] · /tasks · /cancel <编号> · /again · /quota · /settings · /models"
        ),
    }
}

/// The Telegram command menu for Chinese users (the English one comes from the
/// `Command` enum's doc comments; same command form as teloxide sends).
pub const ZH_COMMAND_MENU: [(&str, &str); 13] = [
    ("/start", "开始：使用说明"),
    ("/help", "使用说明和示例"),
    ("/video", "生成视频：/video [选项] <描述>"),
    ("/status", "视频状态：/status [编号]"),
    ("/tasks", "最近的视频"),
    ("/cancel", "停止跟踪视频：/cancel <编号>"),
    ("/again", "重复上一次请求"),
    ("/quota", "今日剩余额度"),
    ("/settings", "默认模型、方向、尺寸、时长"),
    ("/models", "可用的模型和费用"),
    ("/buy", "用 Telegram 星星购买点数"),
    ("/balance", "点数余额和最近记录"),
    ("/paysupport", "付款帮助和退款"),
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
        (Lang::En, ParseError::UnknownModel { value, offered }) => {
            format!("“{}” is not a model here. Models: {}.", cut(value, 40), join(offered, ", "))
        }
        (Lang::Zh, ParseError::UnknownModel { value, offered }) => {
            format!("这里没有模型“{}”。可用模型：{}。", cut(value, 40), join(offered, "、"))
        }
        (Lang::En, ParseError::BadDuration { model, duration, offered }) if offered.is_empty() => {
            format!("{model} has no duration choice (not {duration} s): leave d= out.")
        }
        (Lang::Zh, ParseError::BadDuration { model, duration, offered }) if offered.is_empty() => {
            format!("{model} 不能选择时长（不支持 {duration} 秒）：请去掉 d=。")
        }
        (Lang::En, ParseError::BadDuration { model, duration, offered }) => {
            format!("{model} makes {} second videos, not {duration}.", join_durations(offered, " or "))
        }
        (Lang::Zh, ParseError::BadDuration { model, duration, offered }) => {
            format!("{model} 只支持 {} 秒，不支持 {duration} 秒。", join_durations(offered, " 或 "))
        }
        (Lang::En, ParseError::BadShape { model, value, offered }) => {
            format!("{model} does not make “{}” videos. It makes: {}.", cut(value, 20), offered_shapes(lang, offered))
        }
        (Lang::Zh, ParseError::BadShape { model, value, offered }) => {
            format!("{model} 不支持“{}”。可选：{}。", cut(value, 20), offered_shapes(lang, offered))
        }
        (Lang::En, ParseError::BadSize { model, offered, .. }) if offered.is_empty() => {
            format!("{model} has no size choice: leave s= out.")
        }
        (Lang::Zh, ParseError::BadSize { model, offered, .. }) if offered.is_empty() => {
            format!("{model} 不能选择尺寸：请去掉 s=。")
        }
        (Lang::En, ParseError::BadSize { model, value, offered }) => {
            format!("{model} does not offer size “{}”. Sizes: {}.", cut(value, 20), offered_sizes(lang, offered))
        }
        (Lang::Zh, ParseError::BadSize { model, value, offered }) => {
            format!("{model} 不支持尺寸“{}”。可选：{}。", cut(value, 20), offered_sizes(lang, offered))
        }
        (Lang::En, ParseError::Repeated(key)) => format!("Option {key} is given twice."),
        (Lang::Zh, ParseError::Repeated(key)) => format!("选项 {key} 重复了。"),
    };
    let example = lang.pick(
        "Example: /video --landscape d=10 a cat surfing at sunset",
        "示例：/video --landscape d=10 日落时冲浪的猫",
    );
    format!("⚠️ {what}\n\n{}\n{example}", form(lang))
}

fn join_durations(durations: &[u32], sep: &str) -> String {
    let mut sorted = durations.to_vec();
    sorted.sort_unstable();
    join(&sorted, sep)
}

fn join(items: &[impl std::fmt::Display], sep: &str) -> String {
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join(sep)
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

/// A command dropped because its chat had too many updates waiting.
pub fn too_busy(lang: Lang) -> String {
    lang.pick(
        "⏳ Too busy right now: this command was not handled. Please send it again in a minute.",
        "⏳ 现在太忙：这条命令没有被处理。请过一分钟再发送一次。",
    )
    .to_owned()
}

/// A command or press failed on our side (the database, say) before anything was sent to the video API.
pub fn inside_failure(lang: Lang) -> String {
    lang.pick(
        "⚠️ Something went wrong on our side; nothing was charged. Please try again in a minute.",
        "⚠️ 我们这边出了点问题，没有产生任何费用。请过一分钟再试。",
    )
    .to_owned()
}

pub fn too_many_images(lang: Lang, given: usize, max: usize, model: ModelName) -> String {
    match (lang, max) {
        (Lang::En, 0) => format!("⚠️ {model} makes videos from words only: send it without photos."),
        (Lang::En, _) => {
            format!("⚠️ {given} photos is too many: {model} takes at most {max}. Send fewer and try again.")
        }
        (Lang::Zh, 0) => format!("⚠️ {model} 只根据文字生成视频：请不要附带照片。"),
        (Lang::Zh, _) => format!("⚠️ 照片太多（{given} 张）：{model} 最多 {max} 张。请减少后重试。"),
    }
}

/// A refused request: why, and when to try again. `now_ms` to tell the hours until UTC midnight.
pub fn refusal(lang: Lang, refusal: Refusal, now_ms: i64) -> String {
    match refusal {
        Refusal::DailyLimit { limit, left } if left > 0 => too_costly(lang, Whose::Yours, left, limit, now_ms),
        Refusal::ChatDaily { limit, left } if left > 0 => too_costly(lang, Whose::Group, left, limit, now_ms),
        Refusal::TotalDaily { limit, left } if left > 0 => too_costly(lang, Whose::Bot, left, limit, now_ms),
        Refusal::DailyLimit { limit, .. } => {
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
        Refusal::TotalDaily { limit, .. } => {
            let hours = hours_until_utc_midnight(now_ms);
            match lang {
                Lang::En => format!(
                    "⏳ The bot has made all {limit} videos it may make today. Try again in about {hours} h (00:00 UTC)."
                ),
                Lang::Zh => format!("⏳ 机器人今天的 {limit} 个视频总额度已用完。约 {hours} 小时后（UTC 0 点）再试。"),
            }
        }
        Refusal::Credits { balance, price } => credits_short(lang, balance, price),
        Refusal::ChatDaily { limit, .. } => {
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

/// Whose daily limit a refusal is about.
enum Whose {
    Yours,
    Group,
    Bot,
}

/// Some of the day is left, but less than the chosen model costs.
fn too_costly(lang: Lang, whose: Whose, left: u32, limit: u32, now_ms: i64) -> String {
    let hours = hours_until_utc_midnight(now_ms);
    let whose = match (lang, whose) {
        (Lang::En, Whose::Yours) => "your",
        (Lang::En, Whose::Group) => "this group's",
        (Lang::En, Whose::Bot) => "the bot's",
        (Lang::Zh, Whose::Yours) => "你",
        (Lang::Zh, Whose::Group) => "本群",
        (Lang::Zh, Whose::Bot) => "机器人",
    };
    match lang {
        Lang::En => format!(
            "⏳ This model costs more than the {left} left of {whose} {limit} for today. Pick a cheaper one (/models) or try again in about {hours} h (00:00 UTC)."
        ),
        Lang::Zh => format!(
            "⏳ 这个模型的点数超过了{whose}今天剩余的 {left} 点（共 {limit} 点）。换一个便宜的模型（/models），或约 {hours} 小时后（UTC 0 点）再试。"
        ),
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
        lines.push(match (lang, limits.daily_per_user) {
            (Lang::En, Some(limit)) => {
                format!("📊 Today: {} of {limit} units left.", limit.saturating_sub(usage.used_today))
            }
            (Lang::Zh, Some(limit)) => {
                format!("📊 今日剩余：{} / {limit} 点。", limit.saturating_sub(usage.used_today))
            }
            (Lang::En, None) => format!("📊 Today: {} units used, no daily limit.", usage.used_today),
            (Lang::Zh, None) => format!("📊 今日已用：{} 点，不限每日额度。", usage.used_today),
        });
        lines.push(match (lang, limits.max_active_per_user) {
            (Lang::En, Some(limit)) => format!("In progress: {} of {limit}.", usage.active_user),
            (Lang::Zh, Some(limit)) => format!("生成中：{} / {limit}。", usage.active_user),
            (Lang::En, None) => format!("In progress: {}.", usage.active_user),
            (Lang::Zh, None) => format!("生成中：{}。", usage.active_user),
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
    lines.push(
        lang.pick(
            "A video counts its model's cost in units (/models). Resets at 00:00 UTC.",
            "每个视频按其模型的点数计算（/models）。UTC 0 点重置。",
        )
        .to_owned(),
    );
    lines.join("\n")
}

#[cfg(test)]
mod tests;
