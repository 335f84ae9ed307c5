//! Inline keyboards and the callback data of their buttons. Pure: markups are
//! built from stored values, and callback data is parsed back without I/O.
//!
//! Callback data names a stored row (a task, a pending request) and what to do
//! with it, never the request itself: it survives restarts, works on any
//! replica, stays far below Telegram's 64 bytes, and whoever presses is checked
//! against the stored row, so editing the data cannot act for someone else.

use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};

use crate::{
    config::CreditPack,
    models::{Catalog, ModelName, ModelSpec, Setting},
    task::Task,
    texts::{self, Lang},
};

mod settings;
pub use settings::{settings, settings_models};

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

impl Press {
    /// The task the press is about, if it names one.
    pub fn task(self) -> Option<i64> {
        match self {
            Press::Refresh(id)
            | Press::Stop(id)
            | Press::Again(id)
            | Press::Flip(id)
            | Press::Pro(id)
            | Press::Model { task: id, .. }
            | Press::Models(id)
            | Press::Back(id) => Some(id),
            Press::Duration { .. } | Press::AsPrompt(_) | Press::Setting(_) | Press::Buy(_) => None,
        }
    }

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
            Press::Setting(setting) => format!("S:{}", settings::data(setting)),
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
            "S" => Press::Setting(settings::parse(rest)?),
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

#[cfg(test)]
mod tests;
