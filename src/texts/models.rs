//! Texts about models: `/models`, a model the video API no longer serves,
//! and the choices a model offers when a request asks for something else.

use super::{Lang, button_seconds, shape_name, size_name};
use crate::models::{ModelName, ModelSpec, Shape, Size, listing::Availability};

/// `/models`: one block per offered model, in menu order.
pub fn models(lang: Lang, models: &[(&ModelSpec, Availability, usize)], default: ModelName) -> String {
    let mut text = lang.pick("🎬 Models (m=<name> in /video):", "🎬 可用模型（/video 中写 m=<名称>）：").to_owned();
    for (spec, availability, max_images) in models {
        let mark = match availability {
            Availability::Listed => "✓",
            Availability::Unlisted => "✗",
            Availability::Unknown => "?",
        };
        let default_mark = if spec.name == default { lang.pick(" (default)", "（默认）") } else { "" };
        let mut aliases = String::new();
        for alias in &spec.aliases {
            aliases.push_str(", ");
            aliases.push_str(alias);
        }
        text.push_str(&format!("\n\n{mark} {} — {}{aliases}{default_mark}\n", spec.label, spec.name));
        text.push_str(&choices_line(lang, spec, *max_images));
    }
    text.push_str(
        lang.pick(
            "\n\n✓ served now · ✗ not served now · ? not known yet",
            "\n\n✓ 当前可用 · ✗ 当前不可用 · ? 尚不清楚",
        ),
    );
    text
}

/// `9:16, 16:9 · large, small · 15, 10 s · ≤ 1 photo · cost 1`
fn choices_line(lang: Lang, spec: &ModelSpec, max_images: usize) -> String {
    let mut parts = vec![shape_list(lang, &spec.shapes)];
    if !spec.sizes.is_empty() {
        parts.push(size_list(lang, &spec.sizes));
    }
    if !spec.durations.is_empty() {
        parts.push(duration_list(lang, &spec.durations));
    }
    parts.push(match (lang, max_images) {
        (Lang::En, 0) => "no photos".to_owned(),
        (Lang::En, 1) => "≤ 1 photo".to_owned(),
        (Lang::En, n) => format!("≤ {n} photos"),
        (Lang::Zh, 0) => "不支持照片".to_owned(),
        (Lang::Zh, n) => format!("最多 {n} 张照片"),
    });
    parts.push(match lang {
        Lang::En => format!("cost {}", spec.cost),
        Lang::Zh => format!("每个视频计 {} 点", spec.cost),
    });
    parts.join(" · ")
}

fn shape_list(lang: Lang, shapes: &[Shape]) -> String {
    listed(lang, shapes.iter().map(|&s| shape_name(lang, s)))
}

fn size_list(lang: Lang, sizes: &[Size]) -> String {
    listed(lang, sizes.iter().map(|&s| size_name(lang, s).to_owned()))
}

fn duration_list(lang: Lang, durations: &[u32]) -> String {
    listed(lang, durations.iter().map(|&d| button_seconds(lang, d)))
}

/// `a, b, c`; Chinese lists take `、`.
fn listed(lang: Lang, items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(lang.pick(", ", "、"))
}

/// What a model offers, for an error about something it does not.
pub(super) fn offered_shapes(lang: Lang, shapes: &[Shape]) -> String {
    shape_list(lang, shapes)
}

pub(super) fn offered_sizes(lang: Lang, sizes: &[Size]) -> String {
    size_list(lang, sizes)
}

/// The video API no longer serves the request's model. Nothing was counted.
pub fn model_retired(lang: Lang, model: ModelName, has_alternatives: bool) -> String {
    match (lang, has_alternatives) {
        (Lang::En, true) => {
            format!("🚫 {model} is no longer available from the video API. Nothing was counted. Try another model:")
        }
        (Lang::En, false) => {
            format!("🚫 {model} is no longer available from the video API. Nothing was counted. See /models.")
        }
        (Lang::Zh, true) => format!("🚫 视频接口已不再提供 {model}，本次不计入额度。换一个模型试试："),
        (Lang::Zh, false) => format!("🚫 视频接口已不再提供 {model}，本次不计入额度。请查看 /models。"),
    }
}
