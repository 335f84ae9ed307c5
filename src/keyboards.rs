//! Inline keyboards and the callback data of their buttons. Pure: markups are
//! built from stored values, and callback data is parsed back without I/O.
//!
//! Callback data names a stored row (a task, a pending request) and what to do
//! with it, never the request itself: it survives restarts, works on any
//! replica, stays far below Telegram's 64 bytes, and whoever presses is checked
//! against the stored row, so editing the data cannot act for someone else.

use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};

use crate::{
    command::VideoOptions,
    config::CreditPack,
    models::{Catalog, ModelName, ModelSpec, Shape, Size},
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
    /// The task's request with its model's pro model.
    Pro(i64),
    /// The task's request with another model (under a delivered video, or
    /// under a request the video API refused because its model is gone).
    Model { task: i64, model: ModelName },
    /// Under a delivered video: show the other models to choose from.
    Models(i64),
    /// Under a delivered video: back from the models to its own buttons.
    Back(i64),
    /// A pending request (refused for its duration) with this duration.
    Duration { pending: i64, seconds: u32 },
    /// A pending request (refused for an unknown option): all of it as the prompt.
    AsPrompt(i64),
    /// A `/settings` choice for the chat the keyboard is in.
    Setting(Setting),
    /// `/buy`: an invoice for this pack to whoever pressed. The figures are
    /// looked up among the packs offered now, so forged data buys nothing new.
    Buy(CreditPack),
}

/// One `/settings` button.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    Model(ModelName),
    Shape(Shape),
    Size(Size),
    Duration(u32),
    /// Back to the bot's defaults.
    Reset,
    /// Open the list of models (more than fit one row).
    ModelMenu,
    /// Back from the list of models.
    Main,
}

impl Setting {
    /// Only moves through the menu: nothing is stored.
    pub fn is_navigation(self) -> bool {
        matches!(self, Setting::ModelMenu | Setting::Main)
    }
}

impl Press {
    /// Whether acting on it makes a (paid) video: such presses count against
    /// the command rate; menus, refreshes and stops do not.
    pub fn makes_video(self) -> bool {
        matches!(
            self,
            Press::Again(_)
                | Press::Flip(_)
                | Press::Pro(_)
                | Press::Model { .. }
                | Press::Duration { .. }
                | Press::AsPrompt(_)
        )
    }

    pub fn data(self) -> String {
        match self {
            Press::Refresh(id) => format!("r:{id}"),
            Press::Stop(id) => format!("s:{id}"),
            Press::Again(id) => format!("a:{id}"),
            Press::Flip(id) => format!("o:{id}"),
            Press::Pro(id) => format!("p:{id}"),
            Press::Model { task, model } => format!("M:{task}:{model}"),
            Press::Models(id) => format!("m:{id}"),
            Press::Back(id) => format!("b:{id}"),
            Press::Duration { pending, seconds } => format!("d:{pending}:{seconds}"),
            Press::AsPrompt(pending) => format!("u:{pending}"),
            Press::Setting(Setting::Model(model)) => format!("S:m:{model}"),
            Press::Setting(Setting::Shape(shape)) => format!("S:o:{shape}"),
            Press::Setting(Setting::Size(size)) => format!("S:s:{size}"),
            Press::Setting(Setting::Duration(seconds)) => format!("S:d:{seconds}"),
            Press::Setting(Setting::Reset) => "S:x".to_owned(),
            Press::Setting(Setting::ModelMenu) => "S:M".to_owned(),
            Press::Setting(Setting::Main) => "S:b".to_owned(),
            Press::Buy(pack) => format!("B:{}:{}", pack.credits, pack.stars),
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
            "m" => Press::Models(id(rest)?),
            "b" => Press::Back(id(rest)?),
            "u" => Press::AsPrompt(id(rest)?),
            "M" => {
                let (task, model) = rest.split_once(':')?;
                Press::Model { task: id(task)?, model: model.parse().ok()? }
            }
            "B" => {
                let (credits, stars) = rest.split_once(':')?;
                Press::Buy(CreditPack { credits: credits.parse().ok()?, stars: stars.parse().ok()? })
            }
            "d" => {
                let (pending, seconds) = rest.split_once(':')?;
                Press::Duration { pending: id(pending)?, seconds: seconds.parse().ok()? }
            }
            "S" => Press::Setting(match rest.split_once(':') {
                None if rest == "x" => Setting::Reset,
                None if rest == "M" => Setting::ModelMenu,
                None if rest == "b" => Setting::Main,
                Some(("m", value)) => Setting::Model(value.parse().ok()?),
                Some(("o", value)) => Setting::Shape(value.parse().ok()?),
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

/// Under a delivered video: `🔁 Again`, the other orientation where the model
/// has both, `⭐ Pro` where the model names an offered pro model, and
/// `🎬 Model` where other models are offered.
pub fn video(lang: Lang, task: &Task, catalog: &Catalog) -> InlineKeyboardMarkup {
    let mut row = vec![Press::Again(task.id).button(texts::button_again(lang))];
    let spec = catalog.get(task.options.model);
    if let Some(other) = spec.and_then(|spec| spec.flipped(task.options.shape)) {
        row.push(Press::Flip(task.id).button(texts::button_orientation(lang, other.class())));
    }
    if catalog.pro_of(task.options.model).is_some() {
        row.push(Press::Pro(task.id).button(texts::button_pro(lang)));
    }
    if catalog.offered().iter().any(|m| m.name != task.options.model) {
        row.push(Press::Models(task.id).button(texts::button_models(lang)));
    }
    InlineKeyboardMarkup::new([row])
}

/// One button per model, each a re-request of the task with that model, two
/// to a row (labels fit a phone), and `↩` back to the video's own buttons.
pub fn model_choices(lang: Lang, task: i64, models: &[&ModelSpec]) -> InlineKeyboardMarkup {
    let mut rows = model_rows(task, models);
    rows.push(vec![Press::Back(task).button(texts::button_back(lang))]);
    InlineKeyboardMarkup::new(rows)
}

/// Under a request refused because its model is gone: the same request with
/// each of `models`.
pub fn alternatives(task: i64, models: &[&ModelSpec]) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new(model_rows(task, models))
}

fn model_rows(task: i64, models: &[&ModelSpec]) -> Vec<Vec<InlineKeyboardButton>> {
    models
        .chunks(2)
        .map(|pair| {
            pair.iter().map(|m| Press::Model { task, model: m.name }.button(format!("🎬 {}", m.label))).collect()
        })
        .collect()
}

/// `/buy` and a video the balance cannot pay: one pack a row.
pub fn packs(lang: Lang, packs: &[CreditPack]) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new(packs.iter().map(|&pack| [Press::Buy(pack).button(texts::pack_label(lang, pack))]))
}

/// One button per duration the model accepts, shortest first.
pub fn durations(lang: Lang, pending: i64, durations: &[u32]) -> InlineKeyboardMarkup {
    let mut durations = durations.to_vec();
    durations.sort_unstable();
    let row: Vec<_> = durations
        .iter()
        .map(|&seconds| Press::Duration { pending, seconds }.button(texts::button_seconds(lang, seconds)))
        .collect();
    InlineKeyboardMarkup::new([row])
}

/// `Use as prompt`: the whole text, options and all, becomes the prompt.
pub fn as_prompt(lang: Lang, pending: i64) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new([[Press::AsPrompt(pending).button(texts::button_as_prompt(lang))]])
}

fn mark(chosen: bool, label: String) -> String {
    if chosen { format!("✓ {label}") } else { label }
}

/// `/settings`: the model (a submenu), then one row per choice the model
/// has, the current value marked with `✓`.
pub fn settings(lang: Lang, current: &VideoOptions, catalog: &Catalog) -> InlineKeyboardMarkup {
    let label = catalog.get(current.model).map_or_else(|| current.model.to_string(), |m| m.label.clone());
    let mut rows = vec![vec![Press::Setting(Setting::ModelMenu).button(texts::button_model_menu(lang, &label))]];
    if let Some(spec) = catalog.get(current.model) {
        if spec.shapes.len() > 1 {
            rows.extend(spec.shapes.chunks(3).map(|shapes| {
                shapes
                    .iter()
                    .map(|&s| {
                        Press::Setting(Setting::Shape(s)).button(mark(s == current.shape, texts::shape_name(lang, s)))
                    })
                    .collect()
            }));
        }
        if spec.sizes.len() > 1 {
            rows.push(
                spec.sizes
                    .iter()
                    .map(|&s| {
                        let label = texts::size_name(lang, s).to_owned();
                        Press::Setting(Setting::Size(s)).button(mark(Some(s) == current.size, label))
                    })
                    .collect(),
            );
        }
        if spec.durations.len() > 1 {
            let mut durations = spec.durations.clone();
            durations.sort_unstable();
            rows.push(
                durations
                    .iter()
                    .map(|&d| {
                        let label = texts::button_seconds(lang, d);
                        Press::Setting(Setting::Duration(d)).button(mark(Some(d) == current.duration, label))
                    })
                    .collect(),
            );
        }
    }
    rows.push(vec![Press::Setting(Setting::Reset).button(texts::button_reset(lang))]);
    InlineKeyboardMarkup::new(rows)
}

/// `/settings` → model: every offered model, two to a row, and back.
pub fn settings_models(lang: Lang, current: ModelName, catalog: &Catalog) -> InlineKeyboardMarkup {
    let mut rows: Vec<Vec<InlineKeyboardButton>> = catalog
        .offered()
        .chunks(2)
        .map(|pair| {
            pair.iter()
                .map(|m| Press::Setting(Setting::Model(m.name)).button(mark(m.name == current, m.label.clone())))
                .collect()
        })
        .collect();
    rows.push(vec![Press::Setting(Setting::Main).button(texts::button_back(lang))]);
    InlineKeyboardMarkup::new(rows)
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
            Press::Model { task: big, model: ModelName::new(&"m".repeat(crate::models::MAX_NAME_LEN)).unwrap() },
            Press::Models(big),
            Press::Back(3),
            Press::Setting(Setting::Model(ModelName::fixed("sora-2-pro"))),
            Press::Setting(Setting::Shape(Shape::LANDSCAPE)),
            Press::Setting(Setting::Shape(Shape { width: 21, height: 9 })),
            Press::Setting(Setting::Size(Size::Small)),
            Press::Setting(Setting::Duration(15)),
            Press::Setting(Setting::Reset),
            Press::Setting(Setting::ModelMenu),
            Press::Setting(Setting::Main),
            Press::Buy(CreditPack { credits: u32::MAX, stars: u32::MAX }),
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
            "S:m:a b",
            "S:o:4x3",
            "M:1",
            "M:1:",
            "M:0:veo",
            "m:x",
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
    fn video_buttons_offer_the_other_orientation_pro_and_models_where_they_exist() {
        let catalog = Catalog::builtin();
        let portrait = Task { id: 12, ..Task::example() };
        assert_eq!(
            labels_and_data(&video(Lang::En, &portrait, &catalog)),
            pairs(&[("🔁 Again", "a:12"), ("↔ Landscape", "o:12"), ("⭐ Pro", "p:12"), ("🎬 Model", "m:12")])
        );
        let mut pro = portrait.clone();
        pro.options.model = ModelName::fixed("sora-2-pro");
        pro.options.shape = Shape::LANDSCAPE;
        assert_eq!(
            labels_and_data(&video(Lang::Zh, &pro, &catalog)),
            pairs(&[("🔁 再来一次", "a:12"), ("↕ 竖屏", "o:12"), ("🎬 模型", "m:12")])
        );
        // Grok's square has no other orientation, and grok names no pro model.
        let mut grok = portrait.clone();
        grok.options =
            VideoOptions { model: ModelName::fixed("grok-video-3"), shape: Shape::SQUARE, size: None, duration: None };
        assert_eq!(
            labels_and_data(&video(Lang::En, &grok, &catalog)),
            pairs(&[("🔁 Again", "a:12"), ("🎬 Model", "m:12")])
        );
        // Only one model offered: nothing else to choose.
        let alone = Catalog::offering(catalog.offered().to_vec(), &[ModelName::fixed("sora-2")]);
        assert_eq!(
            labels_and_data(&video(Lang::En, &portrait, &alone)),
            pairs(&[("🔁 Again", "a:12"), ("↔ Landscape", "o:12")])
        );
    }

    #[test]
    fn model_buttons_two_to_a_row() {
        let catalog = Catalog::builtin();
        let models: Vec<_> = catalog.offered()[2..5].iter().collect();
        assert_eq!(
            labels_and_data(&alternatives(7, &models)),
            vec![
                vec![
                    ("🎬 Veo 3.1 Fast".to_owned(), "M:7:veo3.1-fast".to_owned()),
                    ("🎬 Veo 3.1".to_owned(), "M:7:veo3.1".to_owned())
                ],
                vec![("🎬 Veo 3.1 Pro".to_owned(), "M:7:veo3.1-pro".to_owned())],
            ]
        );
        let rows = labels_and_data(&model_choices(Lang::En, 7, &models));
        assert_eq!(rows.last().unwrap(), &vec![("↩ Back".to_owned(), "b:7".to_owned())]);
    }

    #[test]
    fn mistake_buttons() {
        assert_eq!(
            labels_and_data(&durations(Lang::En, 5, &[10, 15])),
            pairs(&[("10 s", "d:5:10"), ("15 s", "d:5:15")])
        );
        assert_eq!(
            labels_and_data(&durations(Lang::Zh, 5, &[15, 25])),
            pairs(&[("15 秒", "d:5:15"), ("25 秒", "d:5:25")])
        );
        assert_eq!(labels_and_data(&as_prompt(Lang::En, 9)), pairs(&[("Use as prompt", "u:9")]));
    }

    #[test]
    fn settings_mark_the_current_values_and_open_the_models() {
        let catalog = Catalog::builtin();
        let rows = labels_and_data(&settings(Lang::Zh, &VideoOptions::STANDARD, &catalog));
        let labels: Vec<Vec<&str>> = rows.iter().map(|r| r.iter().map(|(l, _)| l.as_str()).collect()).collect();
        assert_eq!(
            labels,
            vec![
                vec!["🎬 模型：Sora 2 ›"],
                vec!["✓ 竖屏", "横屏"],
                vec!["✓ 大 (1080p)", "小 (720p)"],
                vec!["10 秒", "✓ 15 秒"],
                vec!["↩ 恢复默认"]
            ]
        );
        assert_eq!(rows[0][0].1, "S:M");
        assert_eq!(rows[4][0].1, "S:x");
        let jimeng = VideoOptions::STANDARD.moved_to(catalog.lookup("jimeng").unwrap());
        let rows = labels_and_data(&settings(Lang::En, &jimeng, &catalog));
        let labels: Vec<Vec<&str>> = rows.iter().map(|r| r.iter().map(|(l, _)| l.as_str()).collect()).collect();
        assert_eq!(labels[1], ["✓ Portrait", "Landscape", "Square"]);
        assert_eq!(labels[2], ["4:3", "3:4", "21:9"]);
        assert_eq!(rows[2][2].1, "S:o:21:9");
        assert_eq!(labels.len(), 5, "no duration row");

        let menu = labels_and_data(&settings_models(Lang::En, ModelName::fixed("veo3.1"), &catalog));
        assert_eq!(menu.len(), 5, "8 models two to a row, then back");
        assert_eq!(menu[1][1], ("✓ Veo 3.1".to_owned(), "S:m:veo3.1".to_owned()));
        assert_eq!(menu[4][0].1, "S:b");
    }
}
