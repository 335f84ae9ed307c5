//! Texts that come with a keyboard: button labels and what a press answers,
//! the guided `/video` question (a ForceReply), `/settings` and its choices,
//! inline sharing's results.

use super::{Lang, cut};
use crate::{
    command::VideoOptions,
    models::{ModelName, Shape, ShapeClass, Size},
    task::Task,
};

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
pub fn button_orientation(lang: Lang, class: ShapeClass) -> String {
    match class {
        ShapeClass::Wide => format!("↔ {}", lang.pick("Landscape", "横屏")),
        ShapeClass::Tall => format!("↕ {}", lang.pick("Portrait", "竖屏")),
        ShapeClass::Square => format!("⬜ {}", lang.pick("Square", "方形")),
    }
}

/// `🎬 Model`: the other models, under a delivered video.
pub fn button_models(lang: Lang) -> &'static str {
    lang.pick("🎬 Model", "🎬 模型")
}

pub fn button_back(lang: Lang) -> &'static str {
    lang.pick("↩ Back", "↩ 返回")
}

/// `/settings`: the button that opens the list of models.
pub fn button_model_menu(lang: Lang, current: &str) -> String {
    match lang {
        Lang::En => format!("🎬 Model: {current} ›"),
        Lang::Zh => format!("🎬 模型：{current} ›"),
    }
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

/// A shape as users of this language call it: a word for the classic
/// ratios, the ratio itself for the rest (`4:3`).
pub fn shape_name(lang: Lang, shape: Shape) -> String {
    match shape {
        Shape::PORTRAIT => lang.pick("Portrait", "竖屏").to_owned(),
        Shape::LANDSCAPE => lang.pick("Landscape", "横屏").to_owned(),
        Shape::SQUARE => lang.pick("Square", "方形").to_owned(),
        other => other.to_string(),
    }
}

/// `sora-2 · Portrait · Large (1080p) · 15 s`, without what the model does not vary.
pub fn options_line(lang: Lang, options: &VideoOptions) -> String {
    let mut line = format!("{} · {}", options.model, shape_name(lang, options.shape));
    if let Some(size) = options.size {
        line.push_str(" · ");
        line.push_str(size_name(lang, size));
    }
    if let Some(seconds) = options.duration {
        line.push_str(" · ");
        line.push_str(&button_seconds(lang, seconds));
    }
    line
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

pub fn press_not_your_question(lang: Lang) -> &'static str {
    lang.pick(
        "Not yours: only the person who asked can use these buttons.",
        "不是你的请求：只有发起人可以使用这些按钮。",
    )
}

/// The same button pressed again moments ago: it is already being handled.
pub fn press_repeated(lang: Lang) -> &'static str {
    lang.pick("Already on it.", "已在处理。")
}

/// A press dropped for the presser's command rate.
pub fn press_slow_down(lang: Lang) -> &'static str {
    lang.pick("Too many requests: wait a moment, then press again.", "请求太多：请稍等片刻再按。")
}

/// A press dropped because its chat has too many updates waiting.
pub fn press_busy(lang: Lang) -> &'static str {
    lang.pick("Too busy right now: press again in a moment.", "现在太忙：请稍后再按。")
}

/// Telegram could not say whether the presser is a group admin.
pub fn press_try_again(lang: Lang) -> &'static str {
    lang.pick("Could not check your rights just now: try again.", "暂时无法确认你的权限：请再试一次。")
}

/// A reply to someone else's guided question.
pub fn question_not_yours(lang: Lang) -> &'static str {
    lang.pick(
        "That question was for someone else. Send /video to ask for your own video.",
        "这个问题是问别人的。发送 /video 来制作你自己的视频。",
    )
}

/// A second answer to a guided question.
pub fn question_answered(lang: Lang) -> &'static str {
    lang.pick(
        "That question was already answered. Send /video for another video.",
        "这个问题已经回答过了。再发送 /video 可制作新视频。",
    )
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

/// `/settings`: what is in force here and who may change it; `stale`: the
/// chat's chosen model, no longer offered, replaced by the bot's default.
pub fn settings(lang: Lang, current: &VideoOptions, in_group: bool, stale: Option<ModelName>) -> String {
    let line = options_line(lang, current);
    let text = match (lang, in_group) {
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
    };
    match (stale, lang) {
        (None, _) => text,
        (Some(gone), Lang::En) => {
            format!("ℹ️ {gone} is no longer offered: {} is used instead.\n\n{text}", current.model)
        }
        (Some(gone), Lang::Zh) => format!("ℹ️ {gone} 已不再提供，现在使用 {}。\n\n{text}", current.model),
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
