use std::sync::LazyLock;

use super::*;
use crate::models::Catalog;

/// The two Sora models most grammar tests were written with.
#[allow(non_snake_case, non_upper_case_globals)]
mod Model {
    use crate::models::ModelName;

    pub const Sora2: ModelName = ModelName::fixed("sora-2");
    pub const Sora2Pro: ModelName = ModelName::fixed("sora-2-pro");
}

/// The two classic shapes, as the tests name them.
#[derive(Debug, Clone, Copy)]
enum Orientation {
    Portrait,
    Landscape,
}

static CATALOG: LazyLock<Catalog> = LazyLock::new(Catalog::builtin);

fn catalog() -> &'static Catalog {
    &CATALOG
}

/// The documented defaults: sora-2, portrait, large, 15 s.
fn defaults() -> VideoOptions {
    VideoOptions::STANDARD
}

fn parse(args: &str) -> Result<VideoRequest, ParseError> {
    parse_video_args(args, &defaults(), catalog())
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

fn opts(model: ModelName, orientation: Orientation, size: Size, duration: u32) -> VideoOptions {
    let shape = match orientation {
        Orientation::Portrait => Shape::PORTRAIT,
        Orientation::Landscape => Shape::LANDSCAPE,
    };
    VideoOptions { model, shape, size: Some(size), duration: Some(duration) }
}

/// The error for a duration `model` does not make, with the ones it does.
fn bad_duration(model: ModelName, duration: u32) -> ParseError {
    let offered = catalog().get(model).expect("a built-in model").durations.clone();
    ParseError::BadDuration { model, duration, offered }
}

mod grammar;
mod models;
mod validation;
