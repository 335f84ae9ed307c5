//! Hostile input: the option parser under thousands of random strings, and the
//! real bot under a few hundred malformed-but-deliverable updates.

mod junk;

use std::time::{Duration, Instant};

use proptest::prelude::*;
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::{Value, json};
use sora_bot::command::{ParseError, Shape, Size, VideoOptions, parse_video_args};
use sora_bot::models::Catalog;
use testkit::*;

use crate::bot_bin;

const WAIT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------
// parse_video_args
// ---------------------------------------------------------------------------

fn catalog() -> &'static Catalog {
    static CATALOG: std::sync::LazyLock<Catalog> = std::sync::LazyLock::new(Catalog::builtin);
    &CATALOG
}

/// Defaults a valid configuration can produce: any built-in model, with
/// wishes fitted to it as the bot fits them.
fn defaults() -> impl Strategy<Value = VideoOptions> {
    (0..8usize, 0..4usize, any::<bool>(), 0..30u32).prop_map(|(model, shape, small, seconds)| {
        let spec = &catalog().offered()[model];
        let shapes = [Shape::PORTRAIT, Shape::LANDSCAPE, Shape::SQUARE, Shape { width: 4, height: 3 }];
        let wishes = VideoOptions {
            model: spec.name,
            shape: shapes[shape],
            size: Some(if small { Size::Small } else { Size::Large }),
            duration: Some(seconds),
        };
        wishes.moved_to(spec)
    })
}

/// Characters people (and their phones) actually type, and the nasty ones.
const ALPHABET: &[&str] = &[
    "a",
    "Z",
    "0",
    "9",
    "=",
    "-",
    "--",
    "—",
    "–",
    "-—",
    "—-",
    "s",
    "d",
    ":",
    "_",
    ".",
    "/",
    "@",
    "#",
    "\"",
    "'",
    " ",
    "  ",
    "\t",
    "\n",
    "\r\n",
    "\r",
    "\u{0B}",
    "\u{0C}",
    "\u{85}",
    "\u{2028}",
    "\u{2029}",
    "\u{3000}",
    "\u{A0}",
    "\u{0}",
    "\u{7}",
    "\u{1B}",
    "\u{7F}",
    "\u{202E}",
    "\u{200F}",
    "\u{200B}",
    "\u{FEFF}",
    "\u{301}",
    "🎬",
    "🐺",
    "👨‍👩‍👧",
    "🇭🇰",
    "竖屏",
    "横屏",
    "日落",
    "ß",
    "İ",
    "ǅ",
    "Ⅻ",
    "١",
    "𝟙",
    "\u{10FFFF}",
];

fn junk() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(ALPHABET), 0..12).prop_map(|parts| parts.concat())
}

/// A key as a user might write it: real keys and aliases in any case, flags, typos.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(
            &[
                "model",
                "m",
                "orientation",
                "o",
                "size",
                "s",
                "duration",
                "d",
                "pro",
                "portrait",
                "landscape",
                "MODEL",
                "Duration",
                "D",
                "PRO",
                "modle",
                "dur",
                "x",
                "ratio",
                "seed",
                "",
            ][..]
        )
        .prop_map(str::to_owned),
        junk(),
    ]
}

/// A value: valid ones for every key, near misses and junk.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(
            &[
                "sora-2",
                "sora-2-pro",
                "pro",
                "SORA-2",
                "sora-3",
                "portrait",
                "p",
                "vertical",
                "9:16",
                "竖屏",
                "landscape",
                "l",
                "horizontal",
                "16:9",
                "横屏",
                "large",
                "hd",
                "1080p",
                "small",
                "sd",
                "720p",
                "huge",
                "10",
                "15",
                "25",
                "15s",
                "15S",
                "10s",
                "0",
                "-1",
                "007",
                "4294967296",
                "99999999999999999999",
                "1e1",
                "15ss",
                "",
                "=",
                "==",
            ][..]
        )
        .prop_map(str::to_owned),
        junk(),
    ]
}

/// One token of the option area (or the prompt).
fn token() -> impl Strategy<Value = String> {
    let dash = prop::sample::select(&["", "-", "--", "—", "–", "-—", "—-", "---", "——"][..]);
    prop_oneof![
        (dash.clone(), key(), value()).prop_map(|(d, k, v)| format!("{d}{k}={v}")),
        (dash, key()).prop_map(|(d, k)| format!("{d}{k}")),
        value(),
        junk(),
        prop::sample::select(&["--", "—", "–", "-", "=", "a=b", "x=y", "cat", "a cat surfing", "夜晚香港"][..])
            .prop_map(str::to_owned),
    ]
}

fn separator() -> impl Strategy<Value = &'static str> {
    prop::sample::select(&[" ", " ", " ", "  ", "\t", "\n", "\r\n", "\u{3000}", "\u{A0}", "\u{2028}", ""][..])
}

/// An option written the way the help shows it, with a valid value, in any
/// of the accepted spellings.
fn valid_option() -> impl Strategy<Value = String> {
    let pair = prop::sample::select(
        &[
            ("model", "sora-2"),
            ("m", "pro"),
            ("model", "sora-2-pro"),
            ("o", "landscape"),
            ("orientation", "9:16"),
            ("o", "横屏"),
            ("o", "p"),
            ("size", "small"),
            ("s", "hd"),
            ("s", "720p"),
            ("duration", "15"),
            ("d", "10"),
            ("d", "15s"),
            ("d", "25"),
            ("D", "10S"),
            ("Model", "PRO"),
        ][..],
    );
    let form = prop::sample::select(&["{k}={v}", "--{k}={v}", "--{k} {v}", "—{k} {v}", "–{k}={v}", "-—{k} {v}"][..]);
    prop_oneof![
        (pair, form).prop_map(|((k, v), form)| form.replace("{k}", k).replace("{v}", v)),
        prop::sample::select(&["--pro", "--portrait", "--landscape", "—pro", "–landscape", "--PRO"][..])
            .prop_map(str::to_owned),
    ]
}

fn option_token() -> impl Strategy<Value = String> {
    let dash = prop::sample::select(&["", "--", "—"][..]);
    prop_oneof![
        6 => valid_option(),
        1 => (dash.clone(), key(), value()).prop_map(|(d, k, v)| format!("{d}{k}={v}")),
        1 => (dash, key()).prop_map(|(d, k)| format!("{d}{k}")),
    ]
}

/// Options first (mostly valid), then a separator and random tokens; or
/// everything shuffled.
fn args() -> impl Strategy<Value = String> {
    let inline = prop::sample::select(&[" ", " ", "  ", "\t", "\u{3000}"][..]);
    let options_then_prompt = (
        prop::collection::vec((inline, option_token()), 0..5),
        separator(),
        prop::collection::vec((separator(), token()), 0..10),
    )
        .prop_map(|(options, sep, rest)| {
            let mut out: String = options.into_iter().flat_map(|(s, t)| [s.to_owned(), t]).collect();
            out.push_str(sep);
            out.extend(rest.into_iter().flat_map(|(s, t)| [s.to_owned(), t]));
            out
        });
    let shuffled = prop::collection::vec((separator(), token()), 0..14)
        .prop_map(|parts| parts.into_iter().flat_map(|(s, t)| [s.to_owned(), t]).collect());
    prop_oneof![3 => options_then_prompt, 1 => shuffled]
}

/// What every successful parse must satisfy.
fn check(args: &str, defaults: &VideoOptions) -> Result<(), TestCaseError> {
    let first = parse_video_args(args, defaults, catalog());
    prop_assert_eq!(&first, &parse_video_args(args, defaults, catalog()), "parsing is deterministic");
    if let Ok(request) = first {
        prop_assert!(!request.prompt.is_empty(), "empty prompt accepted for {:?}", args);
        prop_assert_eq!(request.prompt.trim(), request.prompt.as_str(), "untrimmed prompt for {:?}", args);
        let options = request.options;
        let spec = catalog().get(options.model).expect("an offered model");
        prop_assert!(spec.shapes.contains(&options.shape), "{:?} gave {:?}", args, options);
        prop_assert_eq!(options.size.is_none(), spec.sizes.is_empty(), "{:?} gave {:?}", args, options);
        prop_assert!(options.size.is_none_or(|s| spec.sizes.contains(&s)), "{:?} gave {:?}", args, options);
        prop_assert_eq!(options.duration.is_none(), spec.durations.is_empty(), "{:?} gave {:?}", args, options);
        prop_assert!(options.duration.is_none_or(|d| spec.durations.contains(&d)), "{:?} gave {:?}", args, options);
        prop_assert!(args.contains(&request.prompt), "the prompt is a piece of the input");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn option_like_inputs_never_panic_and_valid_requests_are_sane(input in args(), defaults in defaults()) {
        check(&input, &defaults)?;
    }

    #[test]
    fn arbitrary_unicode_never_panics(input in any::<String>(), defaults in defaults()) {
        check(&input, &defaults)?;
    }

    #[test]
    fn after_a_lone_double_dash_everything_is_prompt(
        dash in prop::sample::select(&["--", "—", "–"][..]),
        rest in args(),
        defaults in defaults(),
    ) {
        let input = format!("{dash} {rest}");
        let parsed = parse_video_args(&input, &defaults, catalog());
        if rest.trim().is_empty() {
            prop_assert_eq!(parsed, Err(ParseError::EmptyPrompt));
        } else {
            let request = parsed.map_err(|e| TestCaseError::fail(format!("{input:?}: {e:?}")))?;
            prop_assert_eq!(request.prompt.as_str(), rest.trim());
            prop_assert_eq!(request.options.model, defaults.model);
            prop_assert_eq!(request.options.duration, defaults.duration);
        }
    }

    #[test]
    fn plain_words_are_the_prompt_with_default_options(
        words in prop::collection::vec("[a-z\u{4e00}-\u{4e20}]{1,8}", 1..10),
        defaults in defaults(),
    ) {
        let prompt = words.join(" ");
        let request = parse_video_args(&format!("  {prompt} \n"), &defaults, catalog())
            .map_err(|e| TestCaseError::fail(format!("{prompt:?}: {e:?}")))?;
        prop_assert_eq!(request.prompt, prompt);
        prop_assert_eq!(request.options, defaults);
    }
}

/// The generators are only worth something if they reach both outcomes, and
/// every kind of error, often.
#[test]
fn the_generated_inputs_cover_valid_requests_and_every_error() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let mut runner = TestRunner::deterministic();
    let strategy = (args(), defaults());
    let (mut ok, mut with_options) = (0, 0);
    let mut errors = std::collections::BTreeMap::new();
    for _ in 0..4000 {
        let (input, defaults) = strategy.new_tree(&mut runner).expect("a value").current();
        match parse_video_args(&input, &defaults, catalog()) {
            Ok(request) => {
                ok += 1;
                with_options += usize::from(request.options != defaults);
            }
            Err(error) => {
                let kind = format!("{error:?}");
                *errors.entry(kind.split(['(', ' ']).next().unwrap_or_default().to_owned()).or_insert(0) += 1;
            }
        }
    }
    eprintln!("ok {ok} (with options {with_options}), errors {errors:?}");
    assert!(ok >= 400 && with_options >= 100, "too few valid requests: {ok}, {with_options} with options");
    for kind in ["EmptyPrompt", "UnknownOption", "MissingValue", "BadValue", "BadDuration", "Repeated"] {
        assert!(errors.get(kind).copied().unwrap_or(0) >= 10, "{kind} hardly generated: {errors:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    /// Megabyte-sized commands: option spam, one endless token, endless lines.
    #[test]
    fn huge_inputs_never_panic(piece in token(), sep in separator(), repeat in 1_000usize..30_000, prompt in junk(), defaults in defaults()) {
        for input in [
            format!("{}{sep}{prompt}", vec![piece.as_str(); repeat].join(sep)),
            format!("--{}=1 {prompt}", "k".repeat(repeat * 10)),
            format!("{}a cat", "\n".repeat(repeat)),
            format!("d=1{}", "5".repeat(repeat)),
        ] {
            check(&input, &defaults)?;
        }
    }
}
