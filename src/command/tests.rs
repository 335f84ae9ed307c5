use super::*;

/// The documented defaults: sora-2, portrait, large, 15 s.
fn defaults() -> VideoOptions {
    VideoOptions { model: Model::Sora2, orientation: Orientation::Portrait, size: Size::Large, duration: 15 }
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
    VideoOptions { model, orientation, size, duration }
}

mod grammar;
mod validation;
mod values;
