//! The `/settings` menus and the callback data of their buttons.

use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};

use super::Press;
use crate::{
    models::{Catalog, ModelName, Setting, VideoOption, VideoOptions},
    texts::{self, Lang},
};

/// What follows `S:` in a `/settings` button's data.
pub(super) fn data(setting: Setting) -> String {
    match setting {
        Setting::Choose(VideoOption::Model(model)) => format!("m:{model}"),
        Setting::Choose(VideoOption::Shape(shape)) => format!("o:{shape}"),
        Setting::Choose(VideoOption::Size(size)) => format!("s:{size}"),
        Setting::Choose(VideoOption::Duration(seconds)) => format!("d:{seconds}"),
        Setting::Reset => "x".to_owned(),
        Setting::ModelMenu => "M".to_owned(),
        Setting::Main => "b".to_owned(),
    }
}

/// The inverse of [`data`]; `None` for anything else.
pub(super) fn parse(rest: &str) -> Option<Setting> {
    Some(match rest.split_once(':') {
        None if rest == "x" => Setting::Reset,
        None if rest == "M" => Setting::ModelMenu,
        None if rest == "b" => Setting::Main,
        Some(("m", value)) => Setting::Choose(VideoOption::Model(value.parse().ok()?)),
        Some(("o", value)) => Setting::Choose(VideoOption::Shape(value.parse().ok()?)),
        Some(("s", value)) => Setting::Choose(VideoOption::Size(value.parse().ok()?)),
        Some(("d", value)) => Setting::Choose(VideoOption::Duration(value.parse().ok()?)),
        _ => return None,
    })
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
                        Press::Setting(Setting::Choose(VideoOption::Shape(s)))
                            .button(mark(s == current.shape, texts::shape_name(lang, s)))
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
                        Press::Setting(Setting::Choose(VideoOption::Size(s)))
                            .button(mark(Some(s) == current.size, label))
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
                        Press::Setting(Setting::Choose(VideoOption::Duration(d)))
                            .button(mark(Some(d) == current.duration, label))
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
                .map(|m| {
                    Press::Setting(Setting::Choose(VideoOption::Model(m.name)))
                        .button(mark(m.name == current, m.label.clone()))
                })
                .collect()
        })
        .collect();
    rows.push(vec![Press::Setting(Setting::Main).button(texts::button_back(lang))]);
    InlineKeyboardMarkup::new(rows)
}
