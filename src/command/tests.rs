use super::*;

/// The SPEC defaults: sora-2, portrait, large, 15 s.
fn defaults() -> VideoOptions {
    VideoOptions {
        model: Model::Sora2,
        orientation: Orientation::Portrait,
        size: Size::Large,
        duration: 15,
    }
}

fn parse(args: &str) -> Result<VideoRequest, ParseError> {
    parse_video_args(args, &defaults())
}

fn ok(args: &str) -> VideoRequest {
    match parse(args) {
        Ok(r) => r,
        Err(e) => panic!("{args:?} should parse, got {e:?}"),
    }
}

fn err(args: &str) -> ParseError {
    match parse(args) {
        Ok(r) => panic!("{args:?} should fail, got {r:?}"),
        Err(e) => e,
    }
}

fn opts(model: Model, orientation: Orientation, size: Size, duration: u32) -> VideoOptions {
    VideoOptions {
        model,
        orientation,
        size,
        duration,
    }
}

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
    for s in [
        "",
        "sora",
        "sora2",
        "sora-3",
        "2",
        "pro-2",
        "sora-2-pro-max",
    ] {
        assert!(s.parse::<Model>().is_err(), "{s:?}");
    }
    let e = "sora-3".parse::<Model>().unwrap_err();
    assert_eq!(e.what, "model");
    assert_eq!(e.value, "sora-3");
    assert_eq!(e.to_string(), "invalid model `sora-3`");
}

#[test]
fn orientation_accepts_every_portrait_alias() {
    for s in [
        "portrait", "p", "vertical", "9:16", "竖屏", "PORTRAIT", " P ", "Vertical", "9：16",
    ] {
        assert_eq!(s.parse(), Ok(Orientation::Portrait), "{s:?}");
    }
}

#[test]
fn orientation_accepts_every_landscape_alias() {
    for s in [
        "landscape",
        "l",
        "horizontal",
        "16:9",
        "横屏",
        "LANDSCAPE",
        "L",
        "Horizontal",
        "16：9",
    ] {
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
    assert_eq!(
        json,
        r#"{"model":"sora-2-pro","orientation":"landscape","size":"small","duration":25}"#
    );
    assert_eq!(serde_json::from_str::<VideoOptions>(&json).unwrap(), o);
    assert_eq!(serde_json::to_string(&Model::Sora2).unwrap(), r#""sora-2""#);
}

#[test]
fn errors_have_short_developer_text() {
    assert_eq!(ParseError::EmptyPrompt.to_string(), "empty prompt");
    assert_eq!(
        ParseError::UnknownOption("foo".into()).to_string(),
        "unknown option `foo`"
    );
    assert_eq!(
        ParseError::MissingValue("duration").to_string(),
        "option `duration` needs a value"
    );
    assert_eq!(
        ParseError::BadValue {
            key: "size",
            value: "4k".into()
        }
        .to_string(),
        "bad value `4k` for option `size`"
    );
    assert_eq!(
        ParseError::BadDuration {
            model: Model::Sora2,
            duration: 25
        }
        .to_string(),
        "duration 25s is not available for sora-2"
    );
    assert_eq!(
        ParseError::Repeated("model").to_string(),
        "option `model` given more than once"
    );
}

// ---- SPEC examples -----------------------------------------------

#[test]
fn spec_example_plain_prompt_uses_the_defaults() {
    let r = ok("a cat surfing at sunset");
    assert_eq!(r.prompt, "a cat surfing at sunset");
    assert_eq!(r.options, defaults());
}

#[test]
fn spec_example_pro_landscape_drone_shot() {
    let r = ok("model=sora-2-pro o=landscape a drone shot over Hong Kong at night");
    assert_eq!(r.prompt, "a drone shot over Hong Kong at night");
    assert_eq!(
        r.options,
        opts(Model::Sora2Pro, Orientation::Landscape, Size::Large, 15)
    );
}

#[test]
fn spec_example_landscape_flag_and_dash_d_with_separate_value() {
    let r = ok("--landscape --d 15 two huskies in a courtyard");
    assert_eq!(r.prompt, "two huskies in a courtyard");
    assert_eq!(
        r.options,
        opts(Model::Sora2, Orientation::Landscape, Size::Large, 15)
    );
}

#[test]
fn spec_example_double_dash_keeps_equals_sign_in_prompt() {
    let r = ok("-- a=b is art");
    assert_eq!(r.prompt, "a=b is art");
    assert_eq!(r.options, defaults());
}

// ---- option forms ------------------------------------------------

#[test]
fn all_three_forms_set_an_option() {
    for args in [
        "size=small a cat",
        "--size=small a cat",
        "--size small a cat",
    ] {
        let r = ok(args);
        assert_eq!(r.options.size, Size::Small, "{args:?}");
        assert_eq!(r.prompt, "a cat", "{args:?}");
    }
}

#[test]
fn every_key_alias_works() {
    let r = ok("m=pro o=l s=sd d=25 x");
    assert_eq!(
        r.options,
        opts(Model::Sora2Pro, Orientation::Landscape, Size::Small, 25)
    );
    let r = ok("model=pro orientation=l size=sd duration=25 x");
    assert_eq!(
        r.options,
        opts(Model::Sora2Pro, Orientation::Landscape, Size::Small, 25)
    );
    let r = ok("--m pro --o l --s sd --d 25 x");
    assert_eq!(
        r.options,
        opts(Model::Sora2Pro, Orientation::Landscape, Size::Small, 25)
    );
    let r = ok("--model=pro --orientation=l --size=sd --duration=25 x");
    assert_eq!(
        r.options,
        opts(Model::Sora2Pro, Orientation::Landscape, Size::Small, 25)
    );
}

#[test]
fn keys_and_flags_are_case_insensitive() {
    let r = ok("MODEL=PRO --Orientation Landscape S=HD --D 25S x");
    assert_eq!(
        r.options,
        opts(Model::Sora2Pro, Orientation::Landscape, Size::Large, 25)
    );
    assert_eq!(ok("--PRO x").options.model, Model::Sora2Pro);
    assert_eq!(
        ok("--Landscape x").options.orientation,
        Orientation::Landscape
    );
}

#[test]
fn chinese_orientation_values_work_in_every_form() {
    assert_eq!(
        ok("o=横屏 一只猫").options.orientation,
        Orientation::Landscape
    );
    assert_eq!(
        ok("--orientation 竖屏 一只猫").options.orientation,
        Orientation::Portrait
    );
    assert_eq!(
        ok("--o=16:9 cat").options.orientation,
        Orientation::Landscape
    );
    assert_eq!(ok("o=9:16 cat").options.orientation, Orientation::Portrait);
}

#[test]
fn shorthand_flags_set_their_option() {
    assert_eq!(ok("--pro x").options.model, Model::Sora2Pro);
    assert_eq!(
        ok("--portrait x").options.orientation,
        Orientation::Portrait
    );
    assert_eq!(
        ok("--landscape x").options.orientation,
        Orientation::Landscape
    );
    let r = ok("--pro --landscape s=small a fox");
    assert_eq!(
        r.options,
        opts(Model::Sora2Pro, Orientation::Landscape, Size::Small, 15)
    );
    assert_eq!(r.prompt, "a fox");
}

#[test]
fn flag_words_without_dashes_are_the_prompt() {
    let r = ok("pro skateboarder does a kickflip");
    assert_eq!(r.prompt, "pro skateboarder does a kickflip");
    assert_eq!(r.options, defaults());
    assert_eq!(
        ok("landscape of mountains").prompt,
        "landscape of mountains"
    );
}

#[test]
fn flag_with_a_value_is_an_unknown_option() {
    assert_eq!(err("--pro=yes x"), ParseError::UnknownOption("pro".into()));
    assert_eq!(err("pro=1 x"), ParseError::UnknownOption("pro".into()));
}

// ---- phone dashes ------------------------------------------------

#[test]
fn em_dash_counts_as_double_dash() {
    let r = ok("—landscape a beach");
    assert_eq!(r.options.orientation, Orientation::Landscape);
    assert_eq!(r.prompt, "a beach");
    assert_eq!(ok("—pro x").options.model, Model::Sora2Pro);
    assert_eq!(ok("—size=small x").options.size, Size::Small);
}

#[test]
fn en_dash_with_separate_value_counts_as_double_dash() {
    let r = ok("–d 10 a beach");
    assert_eq!(r.options.duration, 10);
    assert_eq!(r.prompt, "a beach");
}

#[test]
fn dash_mixed_with_phone_dash_counts_as_double_dash() {
    assert_eq!(ok("—-d 10 x").options.duration, 10);
    assert_eq!(ok("-—d 10 x").options.duration, 10);
    assert_eq!(ok("–-pro x").options.model, Model::Sora2Pro);
    assert_eq!(
        ok("-–landscape x").options.orientation,
        Orientation::Landscape
    );
}

#[test]
fn lone_em_or_en_dash_ends_the_options_like_double_dash() {
    let r = ok("—pro — x=y is a sign");
    assert_eq!(r.options.model, Model::Sora2Pro);
    assert_eq!(r.prompt, "x=y is a sign");
    assert_eq!(ok("– --pro is literal").prompt, "--pro is literal");
    assert_eq!(ok("—- a=b").prompt, "a=b");
}

#[test]
fn unknown_key_after_phone_dash_is_an_error() {
    assert_eq!(err("—foo x"), ParseError::UnknownOption("foo".into()));
    assert_eq!(
        err("—the end of the world"),
        ParseError::UnknownOption("the".into())
    );
}

#[test]
fn phone_dash_value_is_a_missing_value() {
    assert_eq!(err("--d — cat"), ParseError::MissingValue("duration"));
}

#[test]
fn em_dash_inside_the_prompt_is_kept() {
    let r = ok("a cat — and a dog –d 10");
    assert_eq!(r.prompt, "a cat — and a dog –d 10");
    assert_eq!(r.options, defaults());
}

// ---- where the options end ---------------------------------------

#[test]
fn double_dash_alone_ends_options_and_protects_option_shapes() {
    let r = ok("--pro -- --landscape d=10 is literal");
    assert_eq!(r.options.model, Model::Sora2Pro);
    assert_eq!(r.options.orientation, Orientation::Portrait);
    assert_eq!(r.prompt, "--landscape d=10 is literal");
}

#[test]
fn newline_after_options_starts_the_prompt() {
    let r = ok("o=l\nx=y is a sign");
    assert_eq!(r.options.orientation, Orientation::Landscape);
    assert_eq!(r.prompt, "x=y is a sign");
}

#[test]
fn only_the_first_line_holds_options() {
    let r = ok("--pro\n--landscape\na cat");
    assert_eq!(r.options.model, Model::Sora2Pro);
    assert_eq!(r.options.orientation, Orientation::Portrait);
    assert_eq!(r.prompt, "--landscape\na cat");
}

#[test]
fn first_line_without_options_makes_everything_prompt() {
    let r = ok("a cat\nmodel=sora-2-pro");
    assert_eq!(r.prompt, "a cat\nmodel=sora-2-pro");
    assert_eq!(r.options, defaults());
}

#[test]
fn leading_blank_lines_are_skipped_before_the_options() {
    let r = ok("\n\n  --pro  \n  a cat  \n");
    assert_eq!(r.options.model, Model::Sora2Pro);
    assert_eq!(r.prompt, "a cat");
}

#[test]
fn crlf_and_unicode_line_separator_end_the_options_line() {
    let r = ok("o=l\r\nx=y");
    assert_eq!(r.options.orientation, Orientation::Landscape);
    assert_eq!(r.prompt, "x=y");
    let r = ok("o=l\u{2028}x=y");
    assert_eq!(r.prompt, "x=y");
}

#[test]
fn later_tokens_are_prompt_whatever_their_shape() {
    let r = ok("a sign that says x=y --pro d=25");
    assert_eq!(r.prompt, "a sign that says x=y --pro d=25");
    assert_eq!(r.options, defaults());
}

#[test]
fn equals_sign_in_a_non_word_token_starts_the_prompt() {
    assert_eq!(ok("2+2=4 on a blackboard").prompt, "2+2=4 on a blackboard");
    assert_eq!(ok("=x").prompt, "=x");
    assert_eq!(ok("猫=cat").prompt, "猫=cat");
    assert_eq!(ok("_a=b").prompt, "_a=b");
}

#[test]
fn single_dash_tokens_are_prompt_text() {
    assert_eq!(ok("- a list item").prompt, "- a list item");
    assert_eq!(ok("-d 15 cat").prompt, "-d 15 cat");
    assert_eq!(ok("-5 degrees outside").prompt, "-5 degrees outside");
    assert_eq!(ok("--pro - cat").prompt, "- cat");
}

#[test]
fn double_dash_followed_by_punctuation_is_prompt_text() {
    assert_eq!(ok("--- the end ---").prompt, "--- the end ---");
    assert_eq!(ok("--> arrow").prompt, "--> arrow");
    assert_eq!(ok("--= x").prompt, "--= x");
}

// ---- prompt text -------------------------------------------------

#[test]
fn prompt_keeps_inner_whitespace_and_is_trimmed() {
    let r = ok("  --pro   a  cat\n\n  on a   mat \t\n ");
    assert_eq!(r.prompt, "a  cat\n\n  on a   mat");
}

#[test]
fn unicode_and_emoji_prompts_are_fine() {
    let r = ok("--landscape 🐱🏄 在日落时冲浪的猫 🌅");
    assert_eq!(r.prompt, "🐱🏄 在日落时冲浪的猫 🌅");
    assert_eq!(ok("👨‍👩‍👧 family").prompt, "👨‍👩‍👧 family");
    assert_eq!(ok("o=横屏\nкот на доске").prompt, "кот на доске");
}

#[test]
fn ideographic_space_separates_tokens() {
    let r = ok("o=横屏\u{3000}一只猫");
    assert_eq!(r.options.orientation, Orientation::Landscape);
    assert_eq!(r.prompt, "一只猫");
}

#[test]
fn four_thousand_character_prompt_is_accepted() {
    let long = "a".repeat(4000);
    let r = ok(&format!("--pro {long}"));
    assert_eq!(r.prompt.len(), 4000);
    let wide = "猫".repeat(4000);
    assert_eq!(ok(&wide).prompt, wide);
}

#[test]
fn empty_text_is_an_empty_prompt() {
    assert_eq!(err(""), ParseError::EmptyPrompt);
}

#[test]
fn whitespace_only_is_an_empty_prompt() {
    assert_eq!(err("   \n\t  \u{3000} "), ParseError::EmptyPrompt);
}

#[test]
fn only_options_is_an_empty_prompt() {
    assert_eq!(err("--pro o=l"), ParseError::EmptyPrompt);
    assert_eq!(err("--pro o=l\n   \n"), ParseError::EmptyPrompt);
    assert_eq!(err("--"), ParseError::EmptyPrompt);
    assert_eq!(err("--pro --  "), ParseError::EmptyPrompt);
    assert_eq!(err("—"), ParseError::EmptyPrompt);
}

// ---- errors ------------------------------------------------------

#[test]
fn unknown_dashed_key_is_an_error_not_a_prompt() {
    assert_eq!(err("--foo a cat"), ParseError::UnknownOption("foo".into()));
    assert_eq!(
        err("--Foo=bar a cat"),
        ParseError::UnknownOption("Foo".into())
    );
    assert_eq!(err("--猫 a cat"), ParseError::UnknownOption("猫".into()));
}

#[test]
fn unknown_plain_key_is_an_error_not_a_prompt() {
    assert_eq!(
        err("foo=bar a cat"),
        ParseError::UnknownOption("foo".into())
    );
    assert_eq!(err("x=y is a sign"), ParseError::UnknownOption("x".into()));
    assert_eq!(
        err("--pro quality=high cat"),
        ParseError::UnknownOption("quality".into())
    );
}

#[test]
fn unknown_long_flag_lookalike_is_an_error() {
    assert_eq!(
        err("o=9:16 --landscape-free idea"),
        ParseError::UnknownOption("landscape-free".into())
    );
    assert_eq!(err("--p cat"), ParseError::UnknownOption("p".into()));
}

#[test]
fn bad_values_name_the_canonical_key_and_the_value() {
    assert_eq!(
        err("model=sora-3 cat"),
        ParseError::BadValue {
            key: "model",
            value: "sora-3".into()
        }
    );
    assert_eq!(
        err("--o square cat"),
        ParseError::BadValue {
            key: "orientation",
            value: "square".into()
        }
    );
    assert_eq!(
        err("s=4K cat"),
        ParseError::BadValue {
            key: "size",
            value: "4K".into()
        }
    );
    assert_eq!(
        err("d=long cat"),
        ParseError::BadValue {
            key: "duration",
            value: "long".into()
        }
    );
}

#[test]
fn duration_that_is_not_a_plain_number_is_a_bad_value() {
    for v in [
        "15.0",
        "-15",
        "+15",
        "15sec",
        "s",
        "99999999999",
        "１５",
        "15ss",
    ] {
        let args = format!("d={v} cat");
        match parse(&args) {
            Err(ParseError::BadValue {
                key: "duration", ..
            }) => {}
            other => panic!("{args:?}: {other:?}"),
        }
    }
}

#[test]
fn duration_accepts_seconds_suffix_in_any_case() {
    assert_eq!(ok("d=10s x").options.duration, 10);
    assert_eq!(ok("d=10S x").options.duration, 10);
    assert_eq!(ok("--duration 15 x").options.duration, 15);
    assert_eq!(ok("d=010 x").options.duration, 10);
}

#[test]
fn empty_value_after_equals_is_missing() {
    assert_eq!(err("model= cat"), ParseError::MissingValue("model"));
    assert_eq!(err("--size= cat"), ParseError::MissingValue("size"));
}

#[test]
fn dashed_key_at_the_end_is_missing_its_value() {
    assert_eq!(err("--duration"), ParseError::MissingValue("duration"));
    assert_eq!(
        err("--pro --duration   "),
        ParseError::MissingValue("duration")
    );
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
    assert_eq!(
        err("d=10 --duration 15 cat"),
        ParseError::Repeated("duration")
    );
    assert_eq!(err("m=pro model=pro cat"), ParseError::Repeated("model"));
}

#[test]
fn repeated_through_a_shorthand_flag_is_an_error() {
    assert_eq!(err("--pro model=sora-2 cat"), ParseError::Repeated("model"));
    assert_eq!(err("model=sora-2 --pro cat"), ParseError::Repeated("model"));
    assert_eq!(
        err("--portrait --landscape cat"),
        ParseError::Repeated("orientation")
    );
    assert_eq!(
        err("--landscape --landscape cat"),
        ParseError::Repeated("orientation")
    );
    assert_eq!(
        err("o=p --portrait cat"),
        ParseError::Repeated("orientation")
    );
}

#[test]
fn first_error_in_reading_order_wins() {
    assert_eq!(err("--foo s=4k"), ParseError::UnknownOption("foo".into()));
    assert_eq!(
        err("s=4k --foo"),
        ParseError::BadValue {
            key: "size",
            value: "4k".into()
        }
    );
    // Option errors come before an empty prompt.
    assert_eq!(err("--d"), ParseError::MissingValue("duration"));
    assert_eq!(
        err("d=25"),
        ParseError::BadDuration {
            model: Model::Sora2,
            duration: 25
        }
    );
}

// ---- durations ---------------------------------------------------

#[test]
fn sora2_accepts_10_and_15_only() {
    assert_eq!(ok("d=10 x").options.duration, 10);
    assert_eq!(ok("d=15 x").options.duration, 15);
    for d in [0, 5, 12, 20, 25] {
        assert_eq!(
            err(&format!("d={d} x")),
            ParseError::BadDuration {
                model: Model::Sora2,
                duration: d
            }
        );
    }
}

#[test]
fn sora2_pro_accepts_15_and_25_only() {
    assert_eq!(ok("--pro d=15 x").options.duration, 15);
    assert_eq!(ok("--pro d=25 x").options.duration, 25);
    assert_eq!(
        err("--pro d=10 x"),
        ParseError::BadDuration {
            model: Model::Sora2Pro,
            duration: 10
        }
    );
}

#[test]
fn duration_is_checked_against_a_model_given_later() {
    assert_eq!(
        ok("d=25 --pro x").options,
        opts(Model::Sora2Pro, Orientation::Portrait, Size::Large, 25)
    );
    assert_eq!(
        err("d=10 m=pro x"),
        ParseError::BadDuration {
            model: Model::Sora2Pro,
            duration: 10
        }
    );
}

#[test]
fn duration_is_checked_against_the_default_model() {
    let mut d = defaults();
    d.model = Model::Sora2Pro;
    assert_eq!(parse_video_args("d=25 x", &d).unwrap().options.duration, 25);
    assert_eq!(
        parse_video_args("d=10 x", &d),
        Err(ParseError::BadDuration {
            model: Model::Sora2Pro,
            duration: 10
        })
    );
}

#[test]
fn default_duration_falls_back_to_nearest_for_the_chosen_model() {
    let mut d = defaults();
    d.duration = 10;
    assert_eq!(
        parse_video_args("--pro x", &d).unwrap().options.duration,
        15
    );
    assert_eq!(parse_video_args("x", &d).unwrap().options.duration, 10);
    d.duration = 25;
    assert_eq!(parse_video_args("x", &d).unwrap().options.duration, 15);
    assert_eq!(
        parse_video_args("--pro x", &d).unwrap().options.duration,
        25
    );
}

#[test]
fn explicit_invalid_duration_is_an_error_even_with_fallback_available() {
    let mut d = defaults();
    d.duration = 10;
    assert_eq!(
        parse_video_args("--pro d=10 x", &d),
        Err(ParseError::BadDuration {
            model: Model::Sora2Pro,
            duration: 10
        })
    );
}

#[test]
fn defaults_fill_what_the_user_did_not_give() {
    let d = opts(Model::Sora2Pro, Orientation::Landscape, Size::Small, 25);
    let r = parse_video_args("o=p a cat", &d).unwrap();
    assert_eq!(
        r.options,
        opts(Model::Sora2Pro, Orientation::Portrait, Size::Small, 25)
    );
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
        for d in [
            defaults(),
            opts(Model::Sora2Pro, Orientation::Landscape, Size::Small, 0),
        ] {
            if let Ok(r) = parse_video_args(input, &d) {
                assert!(!r.prompt.is_empty());
                assert_eq!(r.prompt, r.prompt.trim());
                assert!(r.options.model.durations().contains(&r.options.duration));
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
                let r = parse_video_args(args, &d).unwrap();
                assert!(r.options.model.durations().contains(&r.options.duration));
            }
        }
    }
}
