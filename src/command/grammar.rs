//! The `/video` option grammar: [`ParseError`], the key lookup, the
//! tokenizer and [`parse_video_args`]. The rules are in the parent module's
//! documentation.

use super::{VideoOptions, VideoRequest};
use crate::models::{Catalog, ModelName, ModelSpec, Shape, ShapeClass, ShapeWish, Size, VideoOption};

/// A flag has no written value (class flags always fit a model that has the class).
const NOWHERE: Written = Written { start: 0, end: 0 };

/// Why the text after `/video` is not a valid request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// No prompt text after the options.
    #[error("empty prompt")]
    EmptyPrompt,
    /// An option-shaped token with a key that is not known; holds the key as
    /// the user wrote it, without leading dashes or the `=value` part.
    #[error("unknown option `{0}`")]
    UnknownOption(String),
    /// `--key` at the end of the line, `key=` or `--key=` without a value.
    /// Holds the canonical key.
    #[error("option `{0}` needs a value")]
    MissingValue(&'static str),
    /// A value that is not accepted for the (canonical) key.
    #[error("bad value `{value}` for option `{key}`")]
    BadValue { key: &'static str, value: String },
    /// A model name or alias that is not offered; holds what is.
    #[error("model `{value}` is not offered")]
    UnknownModel { value: String, offered: Vec<ModelName> },
    /// A duration that is a number but not offered by the (final) model;
    /// `offered` is empty when the model takes no duration at all.
    #[error("duration {duration}s is not available for {model}")]
    BadDuration { model: ModelName, duration: u32, offered: Vec<u32> },
    /// A shape the (final) model does not make; holds what it makes.
    #[error("shape `{value}` is not available for {model}")]
    BadShape { model: ModelName, value: String, offered: Vec<Shape> },
    /// A size the (final) model does not offer; `offered` is empty when it has no size choice.
    #[error("size `{value}` is not available for {model}")]
    BadSize { model: ModelName, value: String, offered: Vec<Size> },
    /// The same option given twice (also through a shorthand flag).
    #[error("option `{0}` given more than once")]
    Repeated(&'static str),
}

/// The four option keys; `name` is the full key, aliases are only read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "lowercase")]
enum Key {
    Model,
    Orientation,
    Size,
    Duration,
}

impl Key {
    fn lookup(written: &str) -> Option<Key> {
        match written.to_ascii_lowercase().as_str() {
            "model" | "m" => Some(Key::Model),
            "orientation" | "o" => Some(Key::Orientation),
            "size" | "s" => Some(Key::Size),
            "duration" | "d" => Some(Key::Duration),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        self.into()
    }
}

/// The model asked for: a named one, or `--pro` (the pro model of the one
/// that would be used otherwise).
#[derive(Debug, Clone, Copy)]
enum ModelWish {
    Named(ModelName),
    Pro,
}

/// One option value, read but not yet checked against the final model; the
/// shape and size with the value as written, for the error that names it.
type ReadOption = VideoOption<ModelWish, (ShapeWish, Written), (Size, Written)>;

/// Where a value was written in the arguments (so errors can quote it
/// without an allocation per option).
#[derive(Debug, Clone, Copy)]
struct Written {
    start: usize,
    end: usize,
}

fn key_of(option: ReadOption) -> Key {
    match option {
        ReadOption::Model(_) => Key::Model,
        ReadOption::Shape(_) => Key::Orientation,
        ReadOption::Size(_) => Key::Size,
        ReadOption::Duration(_) => Key::Duration,
    }
}

/// The shorthand flags (`--pro`, `--portrait`, `--landscape`).
fn lookup_flag(written: &str) -> Option<ReadOption> {
    match written.to_ascii_lowercase().as_str() {
        "pro" => Some(ReadOption::Model(ModelWish::Pro)),
        "portrait" => Some(ReadOption::Shape((ShapeWish::Class(ShapeClass::Tall), NOWHERE))),
        "landscape" => Some(ReadOption::Shape((ShapeWish::Class(ShapeClass::Wide), NOWHERE))),
        _ => None,
    }
}

/// `15` or `15s` (any case). `None` if it is not a number that fits.
fn parse_duration(value: &str) -> Option<u32> {
    let v = value.trim();
    let digits = v.strip_suffix('s').or_else(|| v.strip_suffix('S')).unwrap_or(v);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn parse_setting(key: Key, value: &str, written: Written, catalog: &Catalog) -> Result<ReadOption, ParseError> {
    let bad = || ParseError::BadValue { key: key.name(), value: value.to_owned() };
    match key {
        Key::Model => match catalog.lookup(value) {
            Some(spec) => Ok(ReadOption::Model(ModelWish::Named(spec.name))),
            None => Err(ParseError::UnknownModel {
                value: value.to_owned(),
                offered: catalog.offered().iter().map(|m| m.name).collect(),
            }),
        },
        Key::Orientation => value.parse().map(|wish| ReadOption::Shape((wish, written))).map_err(|_| bad()),
        Key::Size => value.parse().map(|size| ReadOption::Size((size, written))).map_err(|_| bad()),
        Key::Duration => parse_duration(value).map(ReadOption::Duration).ok_or_else(bad),
    }
}

fn is_line_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_phone_dash(c: char) -> bool {
    c == '—' || c == '–'
}

/// If `token` starts with `--` (or a phone dash standing for it: `—`, `–`,
/// `-—`, `—-`, …), returns what follows that prefix.
fn strip_double_dash(token: &str) -> Option<&str> {
    if let Some(rest) = token.strip_prefix("--") {
        return Some(rest);
    }
    let mut chars = token.chars();
    let first = chars.next()?;
    if is_phone_dash(first) {
        let rest = chars.as_str();
        return Some(rest.strip_prefix('-').unwrap_or(rest));
    }
    if first == '-' && chars.next().is_some_and(is_phone_dash) {
        return Some(chars.as_str());
    }
    None
}

/// `word` of `word=value`: ASCII letters, digits, `_`, `-`, starting with a
/// letter or digit.
fn is_plain_key(word: &str) -> bool {
    let bytes = word.as_bytes();
    !bytes.is_empty()
        && bytes[0].is_ascii_alphanumeric()
        && bytes.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// What a leading token is.
#[derive(Debug, PartialEq, Eq)]
enum Token<'a> {
    /// `--` alone (or a lone phone dash): the options end here.
    EndOfOptions,
    /// An option; `value` is `Some` for the `key=value` forms.
    Option { key: &'a str, value: Option<&'a str>, dashed: bool },
    /// Anything else: the prompt starts here.
    Prompt,
}

fn classify(token: &str) -> Token<'_> {
    if let Some(rest) = strip_double_dash(token) {
        if rest.is_empty() {
            return Token::EndOfOptions;
        }
        if !rest.chars().next().is_some_and(char::is_alphanumeric) {
            return Token::Prompt;
        }
        let (key, value) = match rest.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (rest, None),
        };
        return Token::Option { key, value, dashed: true };
    }
    match token.split_once('=') {
        Some((key, value)) if is_plain_key(key) => Token::Option { key, value: Some(value), dashed: false },
        _ => Token::Prompt,
    }
}

/// Walks the text token by token, never crossing a line break by accident.
struct Scanner<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Scanner<'a> {
    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    /// Skips whitespace, line breaks included.
    fn skip_all_whitespace(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    /// Skips whitespace on the current line. Returns `true` if a token
    /// follows on this line (`false` at the end or at a line break).
    fn skip_inline_whitespace(&mut self) -> bool {
        for (i, c) in self.rest().char_indices() {
            if is_line_break(c) {
                self.pos += i;
                return false;
            }
            if !c.is_whitespace() {
                self.pos += i;
                return true;
            }
        }
        self.pos = self.text.len();
        false
    }

    /// The token at the current position (call after
    /// `skip_inline_whitespace` returned `true`); does not advance.
    fn peek_token(&self) -> &'a str {
        let rest = self.rest();
        let end = rest.char_indices().find(|&(_, c)| c.is_whitespace()).map_or(rest.len(), |(i, _)| i);
        &rest[..end]
    }
}

#[derive(Default)]
struct Given {
    model: Option<ModelWish>,
    orientation: Option<(ShapeWish, Written)>,
    size: Option<(Size, Written)>,
    duration: Option<u32>,
}

impl Given {
    fn is_set(&self, key: Key) -> bool {
        match key {
            Key::Model => self.model.is_some(),
            Key::Orientation => self.orientation.is_some(),
            Key::Size => self.size.is_some(),
            Key::Duration => self.duration.is_some(),
        }
    }

    fn set(&mut self, setting: ReadOption) {
        match setting {
            ReadOption::Model(m) => self.model = Some(m),
            ReadOption::Shape(shape) => self.orientation = Some(shape),
            ReadOption::Size(size) => self.size = Some(size),
            ReadOption::Duration(d) => self.duration = Some(d),
        }
    }
}

/// Parses what follows `/video` (may be empty, may contain newlines).
/// `defaults` (valid for their model, which `catalog` offers) come from the
/// configuration and the chat's settings; `catalog` says what each model offers.
///
/// Errors are reported in reading order (the first bad option wins); the
/// duration, shape and size are checked against the final model after all
/// options are read, and an empty prompt is reported last.
pub fn parse_video_args(args: &str, defaults: &VideoOptions, catalog: &Catalog) -> Result<VideoRequest, ParseError> {
    parse_with_duration(args, defaults, catalog, None)
}

/// [`parse_video_args`] with the duration replaced by `duration` (a valid one
/// for the final model), whatever the text says: the fix offered when the
/// duration given does not fit the model.
pub fn parse_video_args_with_duration(
    args: &str,
    defaults: &VideoOptions,
    catalog: &Catalog,
    duration: u32,
) -> Result<VideoRequest, ParseError> {
    parse_with_duration(args, defaults, catalog, Some(duration))
}

fn parse_with_duration(
    args: &str,
    defaults: &VideoOptions,
    catalog: &Catalog,
    duration: Option<u32>,
) -> Result<VideoRequest, ParseError> {
    let mut scanner = Scanner { text: args, pos: 0 };
    let mut given = Given::default();

    // Options live on the first non-blank line only.
    scanner.skip_all_whitespace();
    let prompt_start = loop {
        if !scanner.skip_inline_whitespace() {
            // End of text, or a line break after the options.
            break scanner.pos;
        }
        let token = scanner.peek_token();
        let (key, value, dashed) = match classify(token) {
            Token::Prompt => break scanner.pos,
            Token::EndOfOptions => break scanner.pos + token.len(),
            Token::Option { key, value, dashed } => (key, value, dashed),
        };
        scanner.pos += token.len();

        let setting = if let (true, None, Some(flag)) = (dashed, value, lookup_flag(key)) {
            flag
        } else {
            let key = Key::lookup(key).ok_or_else(|| ParseError::UnknownOption(key.to_owned()))?;
            if given.is_set(key) {
                return Err(ParseError::Repeated(key.name()));
            }
            let value = match value {
                Some(v) => v,
                // `--key value`: the value is the next token on this line.
                None => {
                    if !scanner.skip_inline_whitespace() {
                        return Err(ParseError::MissingValue(key.name()));
                    }
                    let next = scanner.peek_token();
                    if strip_double_dash(next).is_some() {
                        return Err(ParseError::MissingValue(key.name()));
                    }
                    scanner.pos += next.len();
                    next
                }
            };
            if value.is_empty() {
                return Err(ParseError::MissingValue(key.name()));
            }
            // `value` is a slice of `args`: where it stands there.
            let start = value.as_ptr() as usize - args.as_ptr() as usize;
            parse_setting(key, value, Written { start, end: start + value.len() }, catalog)?
        };
        if given.is_set(key_of(setting)) {
            return Err(ParseError::Repeated(key_of(setting).name()));
        }
        given.set(setting);
    };

    let options = resolve(&given, defaults, catalog, duration, args)?;

    let prompt = args[prompt_start..].trim();
    if prompt.is_empty() {
        return Err(ParseError::EmptyPrompt);
    }
    Ok(VideoRequest { options, prompt: prompt.to_owned() })
}

/// The final model, and every option checked against it.
fn resolve(
    given: &Given,
    defaults: &VideoOptions,
    catalog: &Catalog,
    duration: Option<u32>,
    args: &str,
) -> Result<VideoOptions, ParseError> {
    let default_spec = catalog.get(defaults.model).or_else(|| catalog.offered().first());
    let spec: &ModelSpec = match given.model {
        Some(ModelWish::Named(name)) => catalog.get(name),
        // `--pro`: the pro model of what would be used, else whatever `pro` names.
        Some(ModelWish::Pro) => default_spec.and_then(|d| catalog.pro_of(d.name)).or_else(|| catalog.lookup("pro")),
        None => default_spec,
    }
    .ok_or_else(|| ParseError::UnknownModel {
        value: "pro".to_owned(),
        offered: catalog.offered().iter().map(|m| m.name).collect(),
    })?;
    let model = spec.name;
    let written = |at: Written| args.get(at.start..at.end).unwrap_or_default().to_owned();

    let duration = match duration.or(given.duration) {
        Some(d) if spec.durations.contains(&d) => Some(d),
        Some(d) => return Err(ParseError::BadDuration { model, duration: d, offered: spec.durations.clone() }),
        None => spec.fit_duration(defaults.duration),
    };
    let shape = match given.orientation {
        Some((wish, at)) => spec.shape_for(wish).ok_or_else(|| ParseError::BadShape {
            model,
            value: match at.end {
                0 => shape_word(wish),
                _ => written(at),
            },
            offered: spec.shapes.clone(),
        })?,
        None => spec.fit_shape(defaults.shape),
    };
    let size = match given.size {
        Some((size, _)) if spec.sizes.contains(&size) => Some(size),
        Some((_, at)) => return Err(ParseError::BadSize { model, value: written(at), offered: spec.sizes.clone() }),
        None => spec.fit_size(defaults.size),
    };
    Ok(VideoOptions { model, shape, size, duration })
}

/// What a shape flag asked for, in words, for an error.
fn shape_word(wish: ShapeWish) -> String {
    match wish {
        ShapeWish::Class(ShapeClass::Tall) => "portrait".to_owned(),
        ShapeWish::Class(ShapeClass::Wide) => "landscape".to_owned(),
        ShapeWish::Class(ShapeClass::Square) => "square".to_owned(),
        ShapeWish::Exact(shape) => shape.to_string(),
    }
}
