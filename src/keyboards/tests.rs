use teloxide::types::InlineKeyboardButtonKind;

use super::*;
use crate::{
    models::{Shape, Size, VideoOption, VideoOptions},
    task::TaskState,
};

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
        Press::Setting(Setting::Choose(VideoOption::Model(ModelName::fixed("sora-2-pro")))),
        Press::Setting(Setting::Choose(VideoOption::Shape(Shape::LANDSCAPE))),
        Press::Setting(Setting::Choose(VideoOption::Shape(Shape { width: 21, height: 9 }))),
        Press::Setting(Setting::Choose(VideoOption::Size(Size::Small))),
        Press::Setting(Setting::Choose(VideoOption::Duration(15))),
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
    assert_eq!(labels_and_data(&status(Lang::En, &task).unwrap()), pairs(&[("🔄 Refresh", "r:1"), ("✖ Stop", "s:1")]));
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
    assert_eq!(labels_and_data(&durations(Lang::En, 5, &[10, 15])), pairs(&[("10 s", "d:5:10"), ("15 s", "d:5:15")]));
    assert_eq!(labels_and_data(&durations(Lang::Zh, 5, &[15, 25])), pairs(&[("15 秒", "d:5:15"), ("25 秒", "d:5:25")]));
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
