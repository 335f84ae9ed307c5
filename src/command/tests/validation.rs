use super::*;

// ---- errors ------------------------------------------------------

#[test]
fn unknown_dashed_key_is_an_error_not_a_prompt() {
    assert_eq!(err("--foo a cat"), ParseError::UnknownOption("foo".into()));
    assert_eq!(err("--Foo=bar a cat"), ParseError::UnknownOption("Foo".into()));
    assert_eq!(err("--猫 a cat"), ParseError::UnknownOption("猫".into()));
}

#[test]
fn unknown_plain_key_is_an_error_not_a_prompt() {
    assert_eq!(err("foo=bar a cat"), ParseError::UnknownOption("foo".into()));
    assert_eq!(err("x=y is a sign"), ParseError::UnknownOption("x".into()));
    assert_eq!(err("--pro quality=high cat"), ParseError::UnknownOption("quality".into()));
}

#[test]
fn unknown_long_flag_lookalike_is_an_error() {
    assert_eq!(err("o=9:16 --landscape-free idea"), ParseError::UnknownOption("landscape-free".into()));
    assert_eq!(err("--p cat"), ParseError::UnknownOption("p".into()));
}

#[test]
fn bad_values_name_the_canonical_key_and_the_value() {
    assert!(matches!(err("model=sora-3 cat"), ParseError::UnknownModel { value, .. } if value == "sora-3"));
    assert_eq!(err("--o diagonal cat"), ParseError::BadValue { key: "orientation", value: "diagonal".into() });
    // A shape, but not one sora-2 makes.
    assert_eq!(
        err("--o square cat"),
        ParseError::BadShape {
            model: Model::Sora2,
            value: "square".into(),
            offered: vec![crate::models::Shape::PORTRAIT, crate::models::Shape::LANDSCAPE]
        }
    );
    assert_eq!(err("s=4K cat"), ParseError::BadValue { key: "size", value: "4K".into() });
    assert_eq!(err("d=long cat"), ParseError::BadValue { key: "duration", value: "long".into() });
}

#[test]
fn duration_that_is_not_a_plain_number_is_a_bad_value() {
    for v in ["15.0", "-15", "+15", "15sec", "s", "99999999999", "１５", "15ss"] {
        let args = format!("d={v} cat");
        match parse(&args) {
            Err(ParseError::BadValue { key: "duration", .. }) => {}
            other => panic!("{args:?}: {other:?}"),
        }
    }
}

#[test]
fn duration_accepts_seconds_suffix_in_any_case() {
    assert_eq!(ok("d=10s x").options.duration, Some(10));
    assert_eq!(ok("d=10S x").options.duration, Some(10));
    assert_eq!(ok("--duration 15 x").options.duration, Some(15));
    assert_eq!(ok("d=010 x").options.duration, Some(10));
}

#[test]
fn empty_value_after_equals_is_missing() {
    assert_eq!(err("model= cat"), ParseError::MissingValue("model"));
    assert_eq!(err("--size= cat"), ParseError::MissingValue("size"));
}

#[test]
fn dashed_key_at_the_end_is_missing_its_value() {
    assert_eq!(err("--duration"), ParseError::MissingValue("duration"));
    assert_eq!(err("--pro --duration   "), ParseError::MissingValue("duration"));
}

#[test]
fn dashed_key_value_does_not_cross_a_newline() {
    assert_eq!(err("--d\n15 a cat"), ParseError::MissingValue("duration"));
}

#[test]
fn dashed_key_followed_by_another_option_is_missing_its_value() {
    assert_eq!(err("--model --pro cat"), ParseError::MissingValue("model"));
    assert_eq!(err("--o -- cat"), ParseError::MissingValue("orientation"));
}

#[test]
fn repeated_option_is_an_error() {
    assert_eq!(err("o=l o=p cat"), ParseError::Repeated("orientation"));
    assert_eq!(err("d=10 --duration 15 cat"), ParseError::Repeated("duration"));
    assert_eq!(err("m=pro model=pro cat"), ParseError::Repeated("model"));
}

#[test]
fn repeated_through_a_shorthand_flag_is_an_error() {
    assert_eq!(err("--pro model=sora-2 cat"), ParseError::Repeated("model"));
    assert_eq!(err("model=sora-2 --pro cat"), ParseError::Repeated("model"));
    assert_eq!(err("--portrait --landscape cat"), ParseError::Repeated("orientation"));
    assert_eq!(err("--landscape --landscape cat"), ParseError::Repeated("orientation"));
    assert_eq!(err("o=p --portrait cat"), ParseError::Repeated("orientation"));
}

#[test]
fn first_error_in_reading_order_wins() {
    assert_eq!(err("--foo s=4k"), ParseError::UnknownOption("foo".into()));
    assert_eq!(err("s=4k --foo"), ParseError::BadValue { key: "size", value: "4k".into() });
    // Option errors come before an empty prompt.
    assert_eq!(err("--d"), ParseError::MissingValue("duration"));
    assert_eq!(err("d=25"), bad_duration(Model::Sora2, 25));
}

// ---- durations ---------------------------------------------------

#[test]
fn sora2_accepts_10_and_15_only() {
    assert_eq!(ok("d=10 x").options.duration, Some(10));
    assert_eq!(ok("d=15 x").options.duration, Some(15));
    for d in [0, 5, 12, 20, 25] {
        assert_eq!(err(&format!("d={d} x")), bad_duration(Model::Sora2, d));
    }
}

#[test]
fn sora2_pro_accepts_15_and_25_only() {
    assert_eq!(ok("--pro d=15 x").options.duration, Some(15));
    assert_eq!(ok("--pro d=25 x").options.duration, Some(25));
    assert_eq!(err("--pro d=10 x"), bad_duration(Model::Sora2Pro, 10));
}

#[test]
fn duration_is_checked_against_a_model_given_later() {
    assert_eq!(ok("d=25 --pro x").options, opts(Model::Sora2Pro, Orientation::Portrait, Size::Large, 25));
    assert_eq!(err("d=10 m=pro x"), bad_duration(Model::Sora2Pro, 10));
}

#[test]
fn duration_is_checked_against_the_default_model() {
    let mut d = defaults();
    d.model = Model::Sora2Pro;
    assert_eq!(parse_video_args("d=25 x", &d, catalog()).unwrap().options.duration, Some(25));
    assert_eq!(parse_video_args("d=10 x", &d, catalog()), Err(bad_duration(Model::Sora2Pro, 10)));
}

#[test]
fn default_duration_falls_back_to_nearest_for_the_chosen_model() {
    let mut d = defaults();
    d.duration = Some(10);
    assert_eq!(parse_video_args("--pro x", &d, catalog()).unwrap().options.duration, Some(15));
    assert_eq!(parse_video_args("x", &d, catalog()).unwrap().options.duration, Some(10));
    d.duration = Some(25);
    assert_eq!(parse_video_args("x", &d, catalog()).unwrap().options.duration, Some(15));
    assert_eq!(parse_video_args("--pro x", &d, catalog()).unwrap().options.duration, Some(25));
}

#[test]
fn explicit_invalid_duration_is_an_error_even_with_fallback_available() {
    let mut d = defaults();
    d.duration = Some(10);
    assert_eq!(parse_video_args("--pro d=10 x", &d, catalog()), Err(bad_duration(Model::Sora2Pro, 10)));
}

#[test]
fn defaults_fill_what_the_user_did_not_give() {
    let d = opts(Model::Sora2Pro, Orientation::Landscape, Size::Small, 25);
    let r = parse_video_args("o=p a cat", &d, catalog()).unwrap();
    assert_eq!(r.options, opts(Model::Sora2Pro, Orientation::Portrait, Size::Small, 25));
}

// ---- robustness --------------------------------------------------

#[test]
fn never_panics_on_weird_input() {
    let long_token = "x".repeat(100_000);
    let long_key = format!("{}=1", "k".repeat(50_000));
    let long_dash = format!("--{}", "d".repeat(50_000));
    let many_dashes = "—".repeat(10_000);
    let mut inputs: Vec<String> = [
        "",
        " ",
        "\n",
        "\r",
        "\r\n",
        "\0",
        "\u{1}\u{2}\u{7f}",
        "\t\u{b}\u{c}",
        "\u{202E}",
        "\u{202E}--pro cat",
        "--pro \u{202E}cat",
        "\u{200B}",
        "\u{feff}--pro x",
        "=",
        "==",
        "=x",
        "x=",
        "--=",
        "--==",
        "-=",
        "-",
        "--",
        "---",
        "—",
        "–",
        "——",
        "—–",
        "-—",
        "—-",
        "-–-",
        "—=",
        "—=x",
        "--d",
        "--d ",
        "--d\n",
        "--d=",
        "d=",
        "d==",
        "d=s",
        "d=S",
        "d=0s",
        "d=4294967295",
        "d=4294967296",
        "m=",
        "--m=—",
        "o=：",
        "é=1",
        "e\u{301}=1",
        "🐱=1",
        "--🐱",
        "—🐱",
        "--é",
        "\u{85}--pro",
        "--pro\u{85}x",
        "\u{2029}",
        "o=l\u{2029}",
        "--o\u{2028}l",
        "  \u{3000}  ",
        "--pro\u{3000}cat",
        "\u{d7ff}\u{e000}\u{10ffff}",
        "a\u{0}b=c",
        "--pro -- -- --",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    inputs.extend([long_token, long_key, long_dash, many_dashes]);
    // Every prefix and suffix at a char boundary of a few mixed inputs.
    let mixed = "—pro –d 25 o=横屏\n🐱 x=y\u{202E} — end";
    for (i, _) in mixed.char_indices() {
        inputs.push(mixed[..i].to_string());
        inputs.push(mixed[i..].to_string());
    }
    for input in &inputs {
        for d in [defaults(), opts(Model::Sora2Pro, Orientation::Landscape, Size::Small, 0)] {
            if let Ok(r) = parse_video_args(input, &d, catalog()) {
                assert!(!r.prompt.is_empty());
                assert_eq!(r.prompt, r.prompt.trim());
                assert!(
                    r.options.duration.is_some_and(|d| catalog().get(r.options.model).unwrap().durations.contains(&d))
                );
            }
        }
    }
}

#[test]
fn parsed_requests_always_have_a_valid_duration_for_their_model() {
    for default_duration in [0, 1, 10, 12, 15, 20, 25, 100, u32::MAX] {
        for model in [Model::Sora2, Model::Sora2Pro] {
            let d = opts(model, Orientation::Portrait, Size::Large, default_duration);
            for args in ["x", "--pro x", "m=sora-2 x"] {
                let r = parse_video_args(args, &d, catalog()).unwrap();
                assert!(
                    r.options.duration.is_some_and(|d| catalog().get(r.options.model).unwrap().durations.contains(&d))
                );
            }
        }
    }
}
