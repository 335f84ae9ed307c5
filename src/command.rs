//! The `/video` argument grammar.
//!
//! Pure parsing: no I/O, no Telegram types. [`parse_video_args`] turns what
//! follows `/video` into a [`VideoRequest`] (options + prompt) or a
//! [`ParseError`] that the caller renders for the user.
//!
//! The grammar itself, as users write it, is described once, in
//! docs/architecture.md ("The option grammar").

mod grammar;

pub use grammar::{ParseError, parse_video_args, parse_video_args_with_duration};

use crate::models::ModelSpec;
pub use crate::models::{ModelName, Shape, Size};

/// The options of one video request, valid for its model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VideoOptions {
    pub model: ModelName,
    /// One of the model's shapes. Requests stored before models had ratios
    /// called it `orientation`.
    #[serde(alias = "orientation")]
    pub shape: Shape,
    /// `None`: the model has no size choice.
    pub size: Option<Size>,
    /// Seconds; `None`: the model takes no duration.
    pub duration: Option<u32>,
}

impl VideoOptions {
    /// sora-2, portrait, large, 15 s: what tests and benchmarks start from.
    pub const STANDARD: VideoOptions = VideoOptions {
        model: crate::models::SORA_2,
        shape: Shape::PORTRAIT,
        size: Some(Size::Large),
        duration: Some(15),
    };

    /// The request's options moved to another model: the same shape, size
    /// and length where that model has them, its nearest otherwise.
    pub fn moved_to(&self, spec: &ModelSpec) -> VideoOptions {
        VideoOptions {
            model: spec.name,
            shape: spec.fit_shape(self.shape),
            size: spec.fit_size(self.size),
            duration: spec.fit_duration(self.duration),
        }
    }
}

/// A parsed `/video` command: options and a non-empty, trimmed prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoRequest {
    pub options: VideoOptions,
    pub prompt: String,
}

#[cfg(test)]
mod tests;
