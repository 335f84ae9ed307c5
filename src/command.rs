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

pub use crate::models::{ModelName, Shape, Size, VideoOptions};

/// A parsed `/video` command: options and a non-empty, trimmed prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoRequest {
    pub options: VideoOptions,
    pub prompt: String,
}

#[cfg(test)]
mod tests;
