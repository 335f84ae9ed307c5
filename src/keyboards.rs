//! Inline keyboards and the callback data of their buttons. Pure: markups are
//! built from stored values, and callback data is parsed back without I/O.
//!
//! Callback data names a stored row (a task, a pending request) and what to do
//! with it, never the request itself: it survives restarts, works on any
//! replica, stays far below Telegram's 64 bytes, and whoever presses is checked
//! against the stored row, so editing the data cannot act for someone else.

use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};

use crate::{
    command::{Model, Orientation, Size, VideoOptions},
    task::Task,
    texts::{self, Lang},
};

/// Telegram refuses callback data longer than this.
pub const MAX_CALLBACK_DATA: usize = 64;

/// What a button asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Press {
    /// Query the task now and show its status.
    Refresh(i64),
    /// Stop following the task (what `/cancel` does).
    Stop(i64),
    /// The task's request again, as the presser's.
    Again(i64),
    /// The task's request in the other orientation.
    Flip(i64),
    /// The task's request with sora-2-pro.
    Pro(i64),
    /// A pending request (refused for its duration) with this duration.
    Duration { pending: i64, seconds: u32 },
    /// A pending request (refused for an unknown option): all of it as the prompt.
    AsPrompt(i64),
    /// A `/settings` choice for the chat the keyboard is in.
    Setting(Setting),
}

/// One `/settings` button.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    Model(Model),
    Orientation(Orientation),
    Size(Size),
    Duration(u32),
    /// Back to the bot's defaults.
    Reset,
}

impl Press {
    pub fn data(self) -> String {
        match self {
            Press::Refresh(id) => format!("r:{id}"),
            Press::Stop(id) => format!("s:{id}"),
            Press::Again(id) => format!("a:{id}"),
            Press::Flip(id) => format!("o:{id}"),
            Press::Pro(id) => format!("p:{id}"),
            Press::Duration { pending, seconds } => format!("d:{pending}:{seconds}"),
            Press::AsPrompt(pending) => format!("u:{pending}"),
            Press::Setting(Setting::Model(model)) => format!("S:m:{model}"),
            Press::Setting(Setting::Orientation(orientation)) => format!("S:o:{orientation}"),
            Press::Setting(Setting::Size(size)) => format!("S:s:{size}"),
            Press::Setting(Setting::Duration(seconds)) => format!("S:d:{seconds}"),
            Press::Setting(Setting::Reset) => "S:x".to_owned(),
        }
    }

    /// `None` for anything this version did not write (old or forged data).
    pub fn parse(data: &str) -> Option<Press> {
        let id = |s: &str| s.parse::<i64>().ok().filter(|id| *id > 0);
        let (kind, rest) = data.split_once(':')?;
        Some(match kind {
            "r" => Press::Refresh(id(rest)?),
            "s" => Press::Stop(id(rest)?),
            "a" => Press::Again(id(rest)?),
            "o" => Press::Flip(id(rest)?),
            "p" => Press::Pro(id(rest)?),
            "u" => Press::AsPrompt(id(rest)?),
            "d" => {
                let (pending, seconds) = rest.split_once(':')?;
                Press::Duration { pending: id(pending)?, seconds: seconds.parse().ok()? }
            }
            "S" => Press::Setting(match rest.split_once(':') {
                None if rest == "x" => Setting::Reset,
                Some(("m", value)) => Setting::Model(value.parse().ok()?),
                Some(("o", value)) => Setting::Orientation(value.parse().ok()?),
                Some(("s", value)) => Setting::Size(value.parse().ok()?),
                Some(("d", value)) => Setting::Duration(value.parse().ok()?),
                _ => return None,
            }),
            _ => return None,
        })
    }

    fn button(self, label: impl Into<String>) -> InlineKeyboardButton {
        InlineKeyboardButton::callback(label, self.data())
    }
}

/// `🔄 Refresh` `✖ Stop` while the task is open; nothing once it ended (an
/// edit without a markup removes the buttons).
pub fn status(lang: Lang, task: &Task) -> Option<InlineKeyboardMarkup> {
    // A stopped task is still open upstream, but nothing is left to press.
    (task.state.is_open() && !task.is_silenced()).then(|| {
        InlineKeyboardMarkup::new([[
            Press::Refresh(task.id).button(texts::button_refresh(lang)),
            Press::Stop(task.id).button(texts::button_stop(lang)),
        ]])
    })
}

/// `🔁 Again`, the other orientation, and `⭐ Pro` unless it already was pro.
pub fn video(lang: Lang, task: &Task) -> InlineKeyboardMarkup {
    let other = flipped(task.options.orientation);
    let mut row = vec![
        Press::Again(task.id).button(texts::button_again(lang)),
        Press::Flip(task.id).button(texts::button_orientation(lang, other)),
    ];
    if task.options.model != Model::Sora2Pro {
        row.push(Press::Pro(task.id).button(texts::button_pro(lang)));
    }
    InlineKeyboardMarkup::new([row])
}

/// One button per duration the model accepts.
pub fn durations(lang: Lang, pending: i64, model: Model) -> InlineKeyboardMarkup {
    let row: Vec<_> = model
        .durations()
        .iter()
        .map(|&seconds| Press::Duration { pending, seconds }.button(texts::button_seconds(lang, seconds)))
        .collect();
    InlineKeyboardMarkup::new([row])
}

/// `Use as prompt`: the whole text, options and all, becomes the prompt.
pub fn as_prompt(lang: Lang, pending: i64) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new([[Press::AsPrompt(pending).button(texts::button_as_prompt(lang))]])
}

/// `/settings`: one row per option, the current value marked with `✓`.
pub fn settings(lang: Lang, current: &VideoOptions) -> InlineKeyboardMarkup {
    let mark = |chosen: bool, label: String| if chosen { format!("✓ {label}") } else { label };
    let models = [Model::Sora2, Model::Sora2Pro]
        .map(|m| Press::Setting(Setting::Model(m)).button(mark(m == current.model, m.to_string())));
    let orientations = [Orientation::Portrait, Orientation::Landscape].map(|o| {
        Press::Setting(Setting::Orientation(o))
            .button(mark(o == current.orientation, texts::orientation_name(lang, o).to_owned()))
    });
    let sizes = [Size::Large, Size::Small].map(|s| {
        Press::Setting(Setting::Size(s)).button(mark(s == current.size, texts::size_name(lang, s).to_owned()))
    });
    let durations: Vec<_> = current
        .model
        .durations()
        .iter()
        .map(|&d| {
            Press::Setting(Setting::Duration(d)).button(mark(d == current.duration, texts::button_seconds(lang, d)))
        })
        .collect();
    let reset = [Press::Setting(Setting::Reset).button(texts::button_reset(lang))];
    InlineKeyboardMarkup::new([models.to_vec(), orientations.to_vec(), sizes.to_vec(), durations, reset.to_vec()])
}

pub fn flipped(orientation: Orientation) -> Orientation {
    match orientation {
        Orientation::Portrait => Orientation::Landscape,
        Orientation::Landscape => Orientation::Portrait,
    }
}

#[cfg(test)]
mod tests {
    use teloxide::types::InlineKeyboardButtonKind;

    use super::*;
    use crate::task::TaskState;

    fn labels_and_data(markup: &InlineKeyboardMarkup) -> Vec<Vec<(String, String)>> {
        markup
            .inline_keyboard
            .iter()
            .map(|row| {
                row.iter()
                    .map(|b| match &b.kind {
                        InlineKeyboardButtonKind::CallbackData(data) => (b.text.clone(), data.clone()),
                        other => panic!("not a callback button: {other:?}"),
                    })
                    .collect()
            })
            .collect()
    }

    fn pairs(row: &[(&str, &str)]) -> Vec<Vec<(String, String)>> {
        vec![row.iter().map(|(l, d)| (l.to_string(), d.to_string())).collect()]
    }

    #[test]
    fn every_press_round_trips_within_the_limit() {
        let big = i64::MAX;
        let presses = [
            Press::Refresh(big),
            Press::Stop(1),
            Press::Again(big),
            Press::Flip(7),
            Press::Pro(big),
            Press::Duration { pending: big, seconds: 25 },
            Press::AsPrompt(big),
            Press::Setting(Setting::Model(Model::Sora2Pro)),
            Press::Setting(Setting::Orientation(Orientation::Landscape)),
            Press::Setting(Setting::Size(Size::Small)),
            Press::Setting(Setting::Duration(15)),
            Press::Setting(Setting::Reset),
        ];
        for press in presses {
            let data = press.data();
            assert!(data.len() <= MAX_CALLBACK_DATA, "{data}");
            assert_eq!(Press::parse(&data), Some(press), "{data}");
        }
    }

    #[test]
    fn forged_or_foreign_data_is_refused() {
        for data in [
            "",
            "r",
            "r:",
            "r:-3",
            "r:0",
            "r:abc",
            "x:1",
            "d:1",
            "d:1:x",
            "S:m:gpt",
            "S:q:1",
            "r:1:2",
            "s:99999999999999999999",
        ] {
            assert_eq!(Press::parse(data), None, "{data}");
        }
    }

    #[test]
    fn status_buttons_only_while_open() {
        let task = Task::example();
        assert_eq!(
            labels_and_data(&status(Lang::En, &task).unwrap()),
            pairs(&[("🔄 Refresh", "r:1"), ("✖ Stop", "s:1")])
        );
        assert_eq!(labels_and_data(&status(Lang::Zh, &task).unwrap()), pairs(&[("🔄 刷新", "r:1"), ("✖ 停止", "s:1")]));
        for state in TaskState::ALL.into_iter().filter(|s| !s.is_open()) {
            assert!(status(Lang::En, &Task { state, ..Task::example() }).is_none(), "{state:?}");
        }
    }

    #[test]
    fn video_buttons_offer_the_other_orientation_and_pro_unless_pro() {
        let portrait = Task { id: 12, ..Task::example() };
        assert_eq!(
            labels_and_data(&video(Lang::En, &portrait)),
            pairs(&[("🔁 Again", "a:12"), ("↔ Landscape", "o:12"), ("⭐ Pro", "p:12")])
        );
        let mut pro = portrait.clone();
        pro.options.model = Model::Sora2Pro;
        pro.options.orientation = Orientation::Landscape;
        assert_eq!(labels_and_data(&video(Lang::Zh, &pro)), pairs(&[("🔁 再来一次", "a:12"), ("↕ 竖屏", "o:12")]));
    }

    #[test]
    fn mistake_buttons() {
        assert_eq!(
            labels_and_data(&durations(Lang::En, 5, Model::Sora2)),
            pairs(&[("10 s", "d:5:10"), ("15 s", "d:5:15")])
        );
        assert_eq!(
            labels_and_data(&durations(Lang::Zh, 5, Model::Sora2Pro)),
            pairs(&[("15 秒", "d:5:15"), ("25 秒", "d:5:25")])
        );
        assert_eq!(labels_and_data(&as_prompt(Lang::En, 9)), pairs(&[("Use as prompt", "u:9")]));
    }

    #[test]
    fn settings_mark_the_current_values() {
        let current =
            VideoOptions { model: Model::Sora2, orientation: Orientation::Portrait, size: Size::Large, duration: 15 };
        let rows = labels_and_data(&settings(Lang::Zh, &current));
        let labels: Vec<Vec<&str>> = rows.iter().map(|r| r.iter().map(|(l, _)| l.as_str()).collect()).collect();
        assert_eq!(
            labels,
            vec![
                vec!["✓ sora-2", "sora-2-pro"],
                vec!["✓ 竖屏", "横屏"],
                vec!["✓ 大 (1080p)", "小 (720p)"],
                vec!["10 秒", "✓ 15 秒"],
                vec!["↩ 恢复默认"]
            ]
        );
        assert_eq!(rows[0][1].1, "S:m:sora-2-pro");
        assert_eq!(rows[4][0].1, "S:x");
    }
}
