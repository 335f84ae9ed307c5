//! The `/video` argument grammar.
//!
//! Pure parsing: no I/O, no Telegram types. [`parse_video_args`] turns what
//! follows `/video` into a [`VideoRequest`] (options + prompt) or a
//! [`ParseError`] that the caller renders for the user.
//!
//! The grammar itself, as users write it, is described once, in
//! docs/architecture.md ("The option grammar").

use std::str::FromStr;

mod grammar;

pub use grammar::{ParseError, parse_video_args, parse_video_args_with_duration};

/// A value that is not one of the accepted spellings for a model,
/// orientation or size.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} `{value}`")]
pub struct InvalidValue {
    /// What was being parsed: `"model"`, `"orientation"` or `"size"`.
    pub what: &'static str,
    /// The text as given.
    pub value: String,
}

impl InvalidValue {
    fn new(what: &'static str, value: &str) -> Self {
        Self { what, value: value.to_owned() }
    }
}

/// Lower-cases and trims a value, and maps a full-width colon (from CJK
/// keyboards) to `:` so that `9：16` reads as `9:16`.
fn normalise_value(s: &str) -> String {
    s.trim().to_lowercase().replace('：', ":")
}

/// The video model; serde and strum both spell it as the video API does.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, strum::Display, strum::IntoStaticStr,
)]
pub enum Model {
    #[serde(rename = "sora-2")]
    #[strum(serialize = "sora-2")]
    Sora2,
    #[serde(rename = "sora-2-pro")]
    #[strum(serialize = "sora-2-pro")]
    Sora2Pro,
}

impl Model {
    /// The name the video API expects (aliases are read by `FromStr`, written never).
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The clip lengths (seconds) this model accepts, ascending.
    pub fn durations(self) -> &'static [u32] {
        match self {
            Model::Sora2 => &[10, 15],
            Model::Sora2Pro => &[15, 25],
        }
    }

    /// The accepted duration closest to `seconds` (on a tie, the shorter
    /// one, which costs less).
    pub fn nearest_duration(self, seconds: u32) -> u32 {
        let mut best = self.durations()[0];
        for &d in self.durations() {
            if d.abs_diff(seconds) < best.abs_diff(seconds) {
                best = d;
            }
        }
        best
    }
}

impl FromStr for Model {
    type Err = InvalidValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match normalise_value(s).as_str() {
            "sora-2" => Ok(Model::Sora2),
            "sora-2-pro" | "pro" => Ok(Model::Sora2Pro),
            _ => Err(InvalidValue::new("model", s)),
        }
    }
}

/// Portrait (9:16) or landscape (16:9).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, strum::Display, strum::IntoStaticStr,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Orientation {
    Portrait,
    Landscape,
}

impl Orientation {
    /// The name the video API expects (aliases are read by `FromStr`, written never).
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl FromStr for Orientation {
    type Err = InvalidValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match normalise_value(s).as_str() {
            "portrait" | "p" | "vertical" | "9:16" | "竖屏" => Ok(Orientation::Portrait),
            "landscape" | "l" | "horizontal" | "16:9" | "横屏" => Ok(Orientation::Landscape),
            _ => Err(InvalidValue::new("orientation", s)),
        }
    }
}

/// Output size: large (1080p) or small (720p).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, strum::Display, strum::IntoStaticStr,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Size {
    Large,
    Small,
}

impl Size {
    /// The name the video API expects (aliases are read by `FromStr`, written never).
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl FromStr for Size {
    type Err = InvalidValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match normalise_value(s).as_str() {
            "large" | "hd" | "1080p" => Ok(Size::Large),
            "small" | "sd" | "720p" => Ok(Size::Small),
            _ => Err(InvalidValue::new("size", s)),
        }
    }
}

/// The options of one video request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VideoOptions {
    pub model: Model,
    pub orientation: Orientation,
    pub size: Size,
    /// Seconds; always one of `model.durations()` after parsing.
    pub duration: u32,
}

impl VideoOptions {
    /// What a request gets when nothing is configured: sora-2, portrait, large, 15 s.
    pub const STANDARD: VideoOptions =
        VideoOptions { model: Model::Sora2, orientation: Orientation::Portrait, size: Size::Large, duration: 15 };
}

/// A parsed `/video` command: options and a non-empty, trimmed prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoRequest {
    pub options: VideoOptions,
    pub prompt: String,
}

#[cfg(test)]
mod tests;
