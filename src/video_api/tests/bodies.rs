//! The create body of every built-in model, in every shape class and size:
//! exactly the fields of its family, nothing else.

use super::*;
use crate::models::{Catalog, ShapeWish, Size};

/// The JSON sent for `model` asked in `shape` and `size` (`None`: the
/// model's own default), with one image.
fn body(model: &str, shape: &str, size: Option<Size>) -> String {
    let catalog = Catalog::builtin();
    let spec = catalog.lookup(model).unwrap();
    let wish: ShapeWish = shape.parse().unwrap();
    let options = VideoOptions {
        shape: spec.shape_for(wish).unwrap(),
        size: size.and_then(|s| spec.sizes.contains(&s).then_some(s)).or(spec.fit_size(None)),
        ..VideoOptions::STANDARD.moved_to(spec)
    };
    let images = vec!["https://img/a.jpg".to_owned()];
    serde_json::to_string(&CreateRequest::new(&images, "p", &options, spec.family)).unwrap()
}

const HEAD: &str = r#"{"images":["https://img/a.jpg"],"model":"#;

#[test]
fn sora_bodies_are_what_they_always_were() {
    for model in ["sora-2", "sora-2-pro"] {
        for (shape, word) in [("portrait", "portrait"), ("landscape", "landscape")] {
            for (size, size_word) in [(Size::Large, "large"), (Size::Small, "small")] {
                assert_eq!(
                    body(model, shape, Some(size)),
                    format!(
                        r#"{HEAD}"{model}","orientation":"{word}","prompt":"p","size":"{size_word}","duration":15}}"#
                    )
                );
            }
        }
    }
}

#[test]
fn veo_bodies_carry_a_ratio_and_upsampling() {
    for model in ["veo3.1-fast", "veo3.1", "veo3.1-pro", "veo3.1-components"] {
        for (shape, ratio) in [("portrait", "9:16"), ("landscape", "16:9")] {
            for (size, upsample) in [(Size::Large, true), (Size::Small, false)] {
                assert_eq!(
                    body(model, shape, Some(size)),
                    format!(
                        r#"{HEAD}"{model}","prompt":"p","aspect_ratio":"{ratio}","enhance_prompt":true,"enable_upsample":{upsample}}}"#
                    )
                );
            }
        }
    }
}

#[test]
fn jimeng_bodies_carry_a_ratio_and_its_own_size_words() {
    let cases = [
        ("portrait", Size::Large, "9:16", "1080P"),
        ("portrait", Size::Small, "9:16", "720x1280"),
        ("landscape", Size::Large, "16:9", "1080P"),
        ("landscape", Size::Small, "16:9", "1280x720"),
        ("square", Size::Large, "1:1", "1080P"),
        ("square", Size::Small, "1:1", "720x1280"),
        ("21:9", Size::Small, "21:9", "1280x720"),
        ("3:4", Size::Small, "3:4", "720x1280"),
    ];
    for (shape, size, ratio, size_word) in cases {
        assert_eq!(
            body("jimeng-video-3.0", shape, Some(size)),
            format!(r#"{HEAD}"jimeng-video-3.0","prompt":"p","aspect_ratio":"{ratio}","size":"{size_word}"}}"#),
            "{shape} {size}"
        );
    }
}

#[test]
fn grok_bodies_have_one_size_and_their_own_ratios() {
    for (shape, ratio) in [("portrait", "2:3"), ("landscape", "3:2"), ("square", "1:1")] {
        for size in [Some(Size::Large), Some(Size::Small), None] {
            assert_eq!(
                body("grok-video-3", shape, size),
                format!(r#"{HEAD}"grok-video-3","prompt":"p","aspect_ratio":"{ratio}","size":"720P"}}"#)
            );
        }
    }
}
