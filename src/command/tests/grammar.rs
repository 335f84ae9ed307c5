use super::*;

// ---- documented examples -----------------------------------------------

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
    assert_eq!(r.options, opts(Model::Sora2Pro, Orientation::Landscape, Size::Large, 15));
}

#[test]
fn spec_example_landscape_flag_and_dash_d_with_separate_value() {
    let r = ok("--landscape --d 15 two huskies in a courtyard");
    assert_eq!(r.prompt, "two huskies in a courtyard");
    assert_eq!(r.options, opts(Model::Sora2, Orientation::Landscape, Size::Large, 15));
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
    for args in ["size=small a cat", "--size=small a cat", "--size small a cat"] {
        let r = ok(args);
        assert_eq!(r.options.size, Some(Size::Small), "{args:?}");
        assert_eq!(r.prompt, "a cat", "{args:?}");
    }
}

#[test]
fn every_key_alias_works() {
    let r = ok("m=pro o=l s=sd d=25 x");
    assert_eq!(r.options, opts(Model::Sora2Pro, Orientation::Landscape, Size::Small, 25));
    let r = ok("model=pro orientation=l size=sd duration=25 x");
    assert_eq!(r.options, opts(Model::Sora2Pro, Orientation::Landscape, Size::Small, 25));
    let r = ok("--m pro --o l --s sd --d 25 x");
    assert_eq!(r.options, opts(Model::Sora2Pro, Orientation::Landscape, Size::Small, 25));
    let r = ok("--model=pro --orientation=l --size=sd --duration=25 x");
    assert_eq!(r.options, opts(Model::Sora2Pro, Orientation::Landscape, Size::Small, 25));
}

#[test]
fn keys_and_flags_are_case_insensitive() {
    let r = ok("MODEL=PRO --Orientation Landscape S=HD --D 25S x");
    assert_eq!(r.options, opts(Model::Sora2Pro, Orientation::Landscape, Size::Large, 25));
    assert_eq!(ok("--PRO x").options.model, Model::Sora2Pro);
    assert_eq!(ok("--Landscape x").options.shape, Shape::LANDSCAPE);
}

#[test]
fn chinese_orientation_values_work_in_every_form() {
    assert_eq!(ok("o=横屏 一只猫").options.shape, Shape::LANDSCAPE);
    assert_eq!(ok("--orientation 竖屏 一只猫").options.shape, Shape::PORTRAIT);
    assert_eq!(ok("--o=16:9 cat").options.shape, Shape::LANDSCAPE);
    assert_eq!(ok("o=9:16 cat").options.shape, Shape::PORTRAIT);
}

#[test]
fn shorthand_flags_set_their_option() {
    assert_eq!(ok("--pro x").options.model, Model::Sora2Pro);
    assert_eq!(ok("--portrait x").options.shape, Shape::PORTRAIT);
    assert_eq!(ok("--landscape x").options.shape, Shape::LANDSCAPE);
    let r = ok("--pro --landscape s=small a fox");
    assert_eq!(r.options, opts(Model::Sora2Pro, Orientation::Landscape, Size::Small, 15));
    assert_eq!(r.prompt, "a fox");
}

#[test]
fn flag_words_without_dashes_are_the_prompt() {
    let r = ok("pro skateboarder does a kickflip");
    assert_eq!(r.prompt, "pro skateboarder does a kickflip");
    assert_eq!(r.options, defaults());
    assert_eq!(ok("landscape of mountains").prompt, "landscape of mountains");
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
    assert_eq!(r.options.shape, Shape::LANDSCAPE);
    assert_eq!(r.prompt, "a beach");
    assert_eq!(ok("—pro x").options.model, Model::Sora2Pro);
    assert_eq!(ok("—size=small x").options.size, Some(Size::Small));
}

#[test]
fn en_dash_with_separate_value_counts_as_double_dash() {
    let r = ok("–d 10 a beach");
    assert_eq!(r.options.duration, Some(10));
    assert_eq!(r.prompt, "a beach");
}

#[test]
fn dash_mixed_with_phone_dash_counts_as_double_dash() {
    assert_eq!(ok("—-d 10 x").options.duration, Some(10));
    assert_eq!(ok("-—d 10 x").options.duration, Some(10));
    assert_eq!(ok("–-pro x").options.model, Model::Sora2Pro);
    assert_eq!(ok("-–landscape x").options.shape, Shape::LANDSCAPE);
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
    assert_eq!(err("—the end of the world"), ParseError::UnknownOption("the".into()));
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
    assert_eq!(r.options.shape, Shape::PORTRAIT);
    assert_eq!(r.prompt, "--landscape d=10 is literal");
}

#[test]
fn newline_after_options_starts_the_prompt() {
    let r = ok("o=l\nx=y is a sign");
    assert_eq!(r.options.shape, Shape::LANDSCAPE);
    assert_eq!(r.prompt, "x=y is a sign");
}

#[test]
fn only_the_first_line_holds_options() {
    let r = ok("--pro\n--landscape\na cat");
    assert_eq!(r.options.model, Model::Sora2Pro);
    assert_eq!(r.options.shape, Shape::PORTRAIT);
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
    assert_eq!(r.options.shape, Shape::LANDSCAPE);
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
    assert_eq!(r.options.shape, Shape::LANDSCAPE);
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
