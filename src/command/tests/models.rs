//! Options checked against the model a request ends up with.

use super::*;

fn veo_defaults() -> VideoOptions {
    VideoOptions::STANDARD.moved_to(catalog().lookup("veo").unwrap())
}

fn ratio(width: u8, height: u8) -> Shape {
    Shape { width, height }
}

#[test]
fn a_model_is_named_by_name_or_alias_in_any_case() {
    assert_eq!(ok("m=veo3.1-fast x").options.model.as_str(), "veo3.1-fast");
    assert_eq!(ok("m=VEO x").options.model.as_str(), "veo3.1-fast");
    assert_eq!(ok("--model Jimeng x").options.model.as_str(), "jimeng-video-3.0");
    assert_eq!(ok("m=grok-video-3 x").options.model.as_str(), "grok-video-3");
}

#[test]
fn an_unknown_model_lists_the_offered_ones() {
    let ParseError::UnknownModel { value, offered } = err("m=sora-3 x") else { panic!() };
    assert_eq!(value, "sora-3");
    assert_eq!(offered.len(), 8);
    assert_eq!(offered[0].as_str(), "sora-2");
}

#[test]
fn a_model_not_offered_is_unknown_even_if_the_catalog_knows_it() {
    let known = Catalog::builtin().offered().to_vec();
    let veo_only = Catalog::offering(known, &[ModelName::fixed("veo3.1-fast")]);
    let defaults = VideoOptions::STANDARD.moved_to(veo_only.offered().first().unwrap());
    assert!(matches!(parse_video_args("m=sora-2 x", &defaults, &veo_only), Err(ParseError::UnknownModel { .. })));
}

#[test]
fn switching_model_fits_the_defaults_to_it() {
    // Portrait, large, 15 s by default: veo has no duration and its own portrait.
    let r = ok("m=veo x");
    assert_eq!(
        r.options,
        VideoOptions { model: r.options.model, shape: Shape::PORTRAIT, size: Some(Size::Large), duration: None }
    );
    // Grok's portrait is 2:3 and it has no size choice.
    let r = ok("m=grok --portrait x");
    assert_eq!((r.options.shape, r.options.size, r.options.duration), (ratio(2, 3), None, None));
    let r = ok("m=grok o=landscape x");
    assert_eq!(r.options.shape, ratio(3, 2));
    assert_eq!(ok("m=grok o=16:9 x").options.shape, ratio(3, 2), "16:9 means landscape");
}

#[test]
fn shapes_the_model_does_not_make_are_refused_with_its_own() {
    assert_eq!(
        err("o=square x"),
        ParseError::BadShape {
            model: Model::Sora2,
            value: "square".into(),
            offered: vec![Shape::PORTRAIT, Shape::LANDSCAPE]
        }
    );
    assert!(matches!(err("m=veo o=4:3 x"), ParseError::BadShape { value, .. } if value == "4:3"));
    assert_eq!(ok("m=jimeng o=21:9 x").options.shape, ratio(21, 9));
    assert_eq!(ok("m=jimeng o=方形 x").options.shape, Shape::SQUARE);
    assert_eq!(ok("m=grok o=1:1 x").options.shape, Shape::SQUARE);
}

#[test]
fn sizes_and_durations_only_where_the_model_has_them() {
    assert_eq!(
        err("m=grok s=small x"),
        ParseError::BadSize { model: ModelName::fixed("grok-video-3"), value: "small".into(), offered: vec![] }
    );
    assert_eq!(
        err("m=veo d=8 x"),
        ParseError::BadDuration { model: ModelName::fixed("veo3.1-fast"), duration: 8, offered: vec![] }
    );
    assert_eq!(ok("m=veo s=sd x").options.size, Some(Size::Small));
}

#[test]
fn pro_asks_for_the_pro_model_of_the_default() {
    assert_eq!(ok("--pro x").options.model, Model::Sora2Pro);
    let veo = veo_defaults();
    let r = parse_video_args("--pro x", &veo, catalog()).unwrap();
    assert_eq!(r.options.model.as_str(), "veo3.1-pro");
    // A default without a pro model: `pro` is sora-2-pro's alias.
    let grok = VideoOptions::STANDARD.moved_to(catalog().lookup("grok").unwrap());
    assert_eq!(parse_video_args("--pro x", &grok, catalog()).unwrap().options.model, Model::Sora2Pro);
}

#[test]
fn the_defaults_of_another_model_stay_within_it() {
    let veo = veo_defaults();
    let r = parse_video_args("--landscape x", &veo, catalog()).unwrap();
    assert_eq!(r.options, VideoOptions { shape: Shape::LANDSCAPE, ..veo });
    // Back to sora from veo defaults: sora's own default duration.
    let r = parse_video_args("m=sora-2 x", &veo, catalog()).unwrap();
    assert_eq!(r.options.duration, Some(15));
}
