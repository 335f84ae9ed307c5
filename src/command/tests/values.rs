use super::*;

// ---- value types -------------------------------------------------

#[test]
fn model_names_round_trip_through_as_str_and_display() {
    for m in [Model::Sora2, Model::Sora2Pro] {
        assert_eq!(m.as_str().parse::<Model>(), Ok(m));
        assert_eq!(m.to_string(), m.as_str());
    }
    assert_eq!(Model::Sora2.as_str(), "sora-2");
    assert_eq!(Model::Sora2Pro.as_str(), "sora-2-pro");
}

#[test]
fn model_accepts_pro_alias_case_insensitively_and_trimmed() {
    assert_eq!("pro".parse(), Ok(Model::Sora2Pro));
    assert_eq!(" PRO ".parse(), Ok(Model::Sora2Pro));
    assert_eq!("Sora-2-Pro".parse(), Ok(Model::Sora2Pro));
    assert_eq!("SORA-2".parse(), Ok(Model::Sora2));
}

#[test]
fn model_rejects_unknown_names() {
    for s in ["", "sora", "sora2", "sora-3", "2", "pro-2", "sora-2-pro-max"] {
        assert!(s.parse::<Model>().is_err(), "{s:?}");
    }
    let e = "sora-3".parse::<Model>().unwrap_err();
    assert_eq!(e.what, "model");
    assert_eq!(e.value, "sora-3");
    assert_eq!(e.to_string(), "invalid model `sora-3`");
}

#[test]
fn orientation_accepts_every_portrait_alias() {
    for s in ["portrait", "p", "vertical", "9:16", "竖屏", "PORTRAIT", " P ", "Vertical", "9：16"] {
        assert_eq!(s.parse(), Ok(Orientation::Portrait), "{s:?}");
    }
}

#[test]
fn orientation_accepts_every_landscape_alias() {
    for s in ["landscape", "l", "horizontal", "16:9", "横屏", "LANDSCAPE", "L", "Horizontal", "16：9"] {
        assert_eq!(s.parse(), Ok(Orientation::Landscape), "{s:?}");
    }
}

#[test]
fn orientation_rejects_square_and_nonsense() {
    for s in ["", "1:1", "square", "x", "9:16:1", "竖"] {
        assert!(s.parse::<Orientation>().is_err(), "{s:?}");
    }
}

#[test]
fn orientation_and_size_display_their_api_names() {
    assert_eq!(Orientation::Portrait.to_string(), "portrait");
    assert_eq!(Orientation::Landscape.to_string(), "landscape");
    assert_eq!(Size::Large.to_string(), "large");
    assert_eq!(Size::Small.to_string(), "small");
    for o in [Orientation::Portrait, Orientation::Landscape] {
        assert_eq!(o.as_str().parse::<Orientation>(), Ok(o));
    }
    for s in [Size::Large, Size::Small] {
        assert_eq!(s.as_str().parse::<Size>(), Ok(s));
    }
}

#[test]
fn size_accepts_every_alias() {
    for s in ["large", "hd", "1080p", "LARGE", "HD", "1080P"] {
        assert_eq!(s.parse(), Ok(Size::Large), "{s:?}");
    }
    for s in ["small", "sd", "720p", "Small", "SD", " 720P "] {
        assert_eq!(s.parse(), Ok(Size::Small), "{s:?}");
    }
    for s in ["", "medium", "4k", "1080"] {
        assert!(s.parse::<Size>().is_err(), "{s:?}");
    }
}

#[test]
fn durations_per_model_follow_the_spec() {
    assert_eq!(Model::Sora2.durations(), &[10, 15]);
    assert_eq!(Model::Sora2Pro.durations(), &[15, 25]);
}

#[test]
fn nearest_duration_picks_the_closest_and_the_shorter_on_a_tie() {
    assert_eq!(Model::Sora2.nearest_duration(0), 10);
    assert_eq!(Model::Sora2.nearest_duration(12), 10);
    assert_eq!(Model::Sora2.nearest_duration(13), 15);
    assert_eq!(Model::Sora2.nearest_duration(25), 15);
    assert_eq!(Model::Sora2Pro.nearest_duration(10), 15);
    assert_eq!(Model::Sora2Pro.nearest_duration(20), 15);
    assert_eq!(Model::Sora2Pro.nearest_duration(21), 25);
    assert_eq!(Model::Sora2Pro.nearest_duration(u32::MAX), 25);
}

#[test]
fn serde_uses_the_api_names() {
    let o = opts(Model::Sora2Pro, Orientation::Landscape, Size::Small, 25);
    let json = serde_json::to_string(&o).unwrap();
    assert_eq!(json, r#"{"model":"sora-2-pro","orientation":"landscape","size":"small","duration":25}"#);
    assert_eq!(serde_json::from_str::<VideoOptions>(&json).unwrap(), o);
    assert_eq!(serde_json::to_string(&Model::Sora2).unwrap(), r#""sora-2""#);
}

#[test]
fn errors_have_short_developer_text() {
    assert_eq!(ParseError::EmptyPrompt.to_string(), "empty prompt");
    assert_eq!(ParseError::UnknownOption("foo".into()).to_string(), "unknown option `foo`");
    assert_eq!(ParseError::MissingValue("duration").to_string(), "option `duration` needs a value");
    assert_eq!(
        ParseError::BadValue { key: "size", value: "4k".into() }.to_string(),
        "bad value `4k` for option `size`"
    );
    assert_eq!(
        ParseError::BadDuration { model: Model::Sora2, duration: 25 }.to_string(),
        "duration 25s is not available for sora-2"
    );
    assert_eq!(ParseError::Repeated("model").to_string(), "option `model` given more than once");
}
