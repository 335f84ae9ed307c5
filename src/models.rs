//! The catalog of video models: which models the bot can ask for, what each
//! one can vary, what its request body looks like, and what a video costs.
//!
//! The video API serves several model families through one create endpoint,
//! and models come and go (OpenAI retired `sora-2` while the relay kept
//! serving Veo, Jimeng and Grok). So a model is data: the built-in entries
//! below, changed or extended by the operator's TOML file
//! (`VIDEO_MODELS_FILE`, see [`file`]), and offered in the order of
//! `VIDEO_MODELS`. Pure: the configuration reads the file and hands its text
//! here; what the video API lists now is kept in [`live`].

use std::{fmt, str::FromStr};

pub mod file;
pub mod listing;
pub mod live;
mod options;

pub use options::{Setting, VideoOption, VideoOptions};

/// Longest model name the catalog takes: button data (64 bytes) names a task
/// and a model, and names are kept inline so that options stay `Copy`.
pub const MAX_NAME_LEN: usize = 40;

/// A model's name as the video API spells it (`veo3.1-fast`). Inline and
/// `Copy`: options are copied freely and a name never needs an allocation.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ModelName {
    len: u8,
    bytes: [u8; MAX_NAME_LEN],
}

/// A name that is empty, too long or has characters the API does not use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a model name is 1-{MAX_NAME_LEN} characters of a-z, A-Z, 0-9, '.', '-', '_', ':' and '/'")]
pub struct BadModelName;

impl ModelName {
    /// For names fixed in the code; an invalid one fails the build.
    pub const fn fixed(name: &str) -> ModelName {
        let given = name.as_bytes();
        assert!(!given.is_empty() && given.len() <= MAX_NAME_LEN, "model name length");
        let mut bytes = [0; MAX_NAME_LEN];
        let mut i = 0;
        while i < given.len() {
            bytes[i] = given[i];
            i += 1;
        }
        ModelName { len: given.len() as u8, bytes }
    }

    pub fn new(name: &str) -> Result<ModelName, BadModelName> {
        let valid = (1..=MAX_NAME_LEN).contains(&name.len())
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'/'));
        if !valid {
            return Err(BadModelName);
        }
        let mut bytes = [0; MAX_NAME_LEN];
        bytes[..name.len()].copy_from_slice(name.as_bytes());
        Ok(ModelName { len: name.len() as u8, bytes })
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored (checked in `new`).
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl fmt::Display for ModelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for ModelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl FromStr for ModelName {
    type Err = BadModelName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ModelName::new(s)
    }
}

impl serde::Serialize for ModelName {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for ModelName {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        ModelName::new(&name).map_err(serde::de::Error::custom)
    }
}

/// An aspect ratio, width to height (`9:16`). Portrait, landscape and square
/// are what users ask for; each model names its own ratios for them.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shape {
    pub width: u8,
    pub height: u8,
}

impl Shape {
    pub const PORTRAIT: Shape = Shape { width: 9, height: 16 };
    pub const LANDSCAPE: Shape = Shape { width: 16, height: 9 };
    pub const SQUARE: Shape = Shape { width: 1, height: 1 };

    pub fn class(self) -> ShapeClass {
        match self.width.cmp(&self.height) {
            std::cmp::Ordering::Less => ShapeClass::Tall,
            std::cmp::Ordering::Greater => ShapeClass::Wide,
            std::cmp::Ordering::Equal => ShapeClass::Square,
        }
    }

    /// How it is stored: the words a task row has always held for the two
    /// classic shapes (`portrait`, `landscape`), `w:h` for the rest.
    pub fn stored(self) -> String {
        match self {
            Shape::PORTRAIT => "portrait".to_owned(),
            Shape::LANDSCAPE => "landscape".to_owned(),
            other => other.to_string(),
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.width, self.height)
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl serde::Serialize for Shape {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.stored())
    }
}

impl<'de> serde::Deserialize<'de> for Shape {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Tall, wide or square: what `portrait`, `landscape` and `square` ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShapeClass {
    Tall,
    Wide,
    Square,
}

/// What a user may write for a shape: a class word (`portrait`, `横屏`, and
/// the classic ratios `9:16`, `16:9`, `1:1`, which mean "this model's own
/// portrait") or any other exact ratio (`4:3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShapeWish {
    Class(ShapeClass),
    Exact(Shape),
}

/// A value that is not one of the accepted spellings of a shape or size.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an accepted value")]
pub struct BadValue;

impl FromStr for ShapeWish {
    type Err = BadValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let value = s.trim().to_lowercase().replace('：', ":");
        Ok(match value.as_str() {
            "portrait" | "p" | "vertical" | "9:16" | "竖屏" => ShapeWish::Class(ShapeClass::Tall),
            "landscape" | "l" | "horizontal" | "16:9" | "横屏" => ShapeWish::Class(ShapeClass::Wide),
            "square" | "1:1" | "方形" => ShapeWish::Class(ShapeClass::Square),
            ratio => ShapeWish::Exact(parse_ratio(ratio).ok_or(BadValue)?),
        })
    }
}

/// `w:h` with both sides 1..=99.
fn parse_ratio(text: &str) -> Option<Shape> {
    let (w, h) = text.split_once(':')?;
    let side = |s: &str| s.parse::<u8>().ok().filter(|n| (1..100).contains(n));
    Some(Shape { width: side(w)?, height: side(h)? })
}

impl FromStr for Shape {
    type Err = BadValue;

    /// A stored or configured shape: a class word stands for its classic ratio.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.parse::<ShapeWish>()? {
            ShapeWish::Class(ShapeClass::Tall) => Shape::PORTRAIT,
            ShapeWish::Class(ShapeClass::Wide) => Shape::LANDSCAPE,
            ShapeWish::Class(ShapeClass::Square) => Shape::SQUARE,
            ShapeWish::Exact(shape) => shape,
        })
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
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl FromStr for Size {
    type Err = BadValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_lowercase().as_str() {
            "large" | "hd" | "1080p" => Ok(Size::Large),
            "small" | "sd" | "720p" => Ok(Size::Small),
            _ => Err(BadValue),
        }
    }
}

/// A model family: which fields its create body carries besides `model`,
/// `prompt` and `images`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::Display, strum::EnumString, strum::IntoStaticStr)]
#[strum(serialize_all = "lowercase")]
pub enum Family {
    /// `orientation` (portrait/landscape), `size` (large/small), `duration` (a number).
    Sora,
    /// `aspect_ratio`, `enhance_prompt`, `enable_upsample` (large = true).
    Veo,
    /// `aspect_ratio`, `size` (`1080P`, or 720p as `720x1280`/`1280x720`).
    Jimeng,
    /// `aspect_ratio`, `size` (`720P`).
    Grok,
}

impl Family {
    /// What the family's body can carry, so a file cannot describe a choice
    /// that would never reach the video API.
    fn takes_durations(self) -> bool {
        self == Family::Sora
    }

    fn takes_sizes(self) -> bool {
        self != Family::Grok
    }

    /// Sora's body names an orientation, not a ratio: tall or wide only.
    fn takes_shape(self, shape: Shape) -> bool {
        self != Family::Sora || shape.class() != ShapeClass::Square
    }
}

/// How many photos a model takes: a number, or whatever `MAX_IMAGES` allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageLimit {
    Configured,
    AtMost(usize),
}

/// One model the bot can ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSpec {
    pub name: ModelName,
    pub family: Family,
    /// For buttons and `/models`.
    pub label: String,
    /// Other names users may type (`pro`, `veo`), lower case.
    pub aliases: Vec<String>,
    /// First = default; never empty.
    pub shapes: Vec<Shape>,
    /// Seconds, first = default; empty: the model takes no duration.
    pub durations: Vec<u32>,
    /// First = default; empty: no size choice.
    pub sizes: Vec<Size>,
    pub images: ImageLimit,
    /// What one video counts against the daily limits.
    pub cost: u32,
    /// The model `⭐ Pro` asks for.
    pub pro: Option<ModelName>,
}

impl ModelSpec {
    /// The ratio this model uses for what the user asked; `None` if it has none.
    pub fn shape_for(&self, wish: ShapeWish) -> Option<Shape> {
        match wish {
            ShapeWish::Class(class) => self.shapes.iter().copied().find(|s| s.class() == class),
            ShapeWish::Exact(shape) => self.shapes.contains(&shape).then_some(shape),
        }
    }

    /// The nearest this model comes to `shape`: the same ratio, else its own
    /// ratio of the same class, else its default. For defaults and for a
    /// request moved to another model, where refusing would help nobody.
    pub fn fit_shape(&self, shape: Shape) -> Shape {
        self.shape_for(ShapeWish::Exact(shape))
            .or_else(|| self.shape_for(ShapeWish::Class(shape.class())))
            .unwrap_or(self.shapes[0])
    }

    /// The other class of shape (portrait ⇄ landscape), when the model has both.
    pub fn flipped(&self, shape: Shape) -> Option<Shape> {
        let other = match shape.class() {
            ShapeClass::Tall => ShapeClass::Wide,
            ShapeClass::Wide => ShapeClass::Tall,
            ShapeClass::Square => return None,
        };
        self.shape_for(ShapeWish::Class(other))
    }

    pub fn fit_size(&self, size: Option<Size>) -> Option<Size> {
        match size {
            Some(size) if self.sizes.contains(&size) => Some(size),
            _ => self.sizes.first().copied(),
        }
    }

    /// The offered duration closest to `seconds` (on a tie the shorter one,
    /// which costs less); the model's default without a wish.
    pub fn fit_duration(&self, seconds: Option<u32>) -> Option<u32> {
        let Some(seconds) = seconds else { return self.durations.first().copied() };
        self.durations.iter().copied().min_by_key(|&d| (d.abs_diff(seconds), d))
    }

    pub fn max_images(&self, configured: usize) -> usize {
        match self.images {
            ImageLimit::Configured => configured,
            ImageLimit::AtMost(n) => n.min(configured),
        }
    }

    /// Whether `written` names this model (its name or an alias, any case).
    fn answers_to(&self, written: &str) -> bool {
        self.name.as_str().eq_ignore_ascii_case(written) || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(written))
    }
}

/// Every model the bot knows, and the ones it offers, in menu order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    /// Offered models first (in `VIDEO_MODELS` order), then the rest.
    models: Vec<ModelSpec>,
    offered: usize,
}

impl Catalog {
    /// The built-in catalog, everything offered.
    pub fn builtin() -> Catalog {
        let models = builtin_models();
        Catalog { offered: models.len(), models }
    }

    /// `known` with `offered` (names or aliases, in that order) offered.
    pub fn offering(mut known: Vec<ModelSpec>, offered: &[ModelName]) -> Catalog {
        let mut ordered = Vec::with_capacity(known.len());
        for name in offered {
            if let Some(at) = known.iter().position(|m| m.name == *name) {
                ordered.push(known.remove(at));
            }
        }
        let count = ordered.len();
        ordered.extend(known);
        Catalog { models: ordered, offered: count }
    }

    /// The models users may ask for, in menu order.
    pub fn offered(&self) -> &[ModelSpec] {
        &self.models[..self.offered]
    }

    /// A known model by its exact name, offered or not (a stored task's model).
    pub fn get(&self, name: ModelName) -> Option<&ModelSpec> {
        self.models.iter().find(|m| m.name == name)
    }

    /// An offered model by what a user typed: its name or an alias, any case.
    pub fn lookup(&self, written: &str) -> Option<&ModelSpec> {
        let written = written.trim();
        self.offered().iter().find(|m| m.answers_to(written))
    }

    pub fn is_offered(&self, name: ModelName) -> bool {
        self.offered().iter().any(|m| m.name == name)
    }

    /// The model `⭐ Pro` asks for instead of `name`, when it is offered.
    pub fn pro_of(&self, name: ModelName) -> Option<&ModelSpec> {
        let pro = self.get(name)?.pro?;
        self.offered().iter().find(|m| m.name == pro && m.name != name)
    }
}

fn name(text: &str) -> ModelName {
    ModelName::new(text).expect("built-in model names are valid")
}

pub const SORA_2: ModelName = ModelName::fixed("sora-2");

const VEO_SHAPES: [Shape; 2] = [Shape::PORTRAIT, Shape::LANDSCAPE];

/// The models the video API serves today, in menu order.
fn builtin_models() -> Vec<ModelSpec> {
    let sora = |model: &str, label: &str, aliases: &[&str], durations: Vec<u32>| ModelSpec {
        name: name(model),
        family: Family::Sora,
        label: label.to_owned(),
        aliases: aliases.iter().map(|a| a.to_string()).collect(),
        shapes: vec![Shape::PORTRAIT, Shape::LANDSCAPE],
        durations,
        sizes: vec![Size::Large, Size::Small],
        images: ImageLimit::Configured,
        cost: 1,
        pro: Some(self::name("sora-2-pro")),
    };
    let veo = |model: &str, label: &str, aliases: &[&str], images: usize, pro: Option<&str>| ModelSpec {
        name: name(model),
        family: Family::Veo,
        label: label.to_owned(),
        aliases: aliases.iter().map(|a| a.to_string()).collect(),
        shapes: VEO_SHAPES.to_vec(),
        durations: Vec::new(),
        sizes: vec![Size::Large, Size::Small],
        images: ImageLimit::AtMost(images),
        cost: 1,
        pro: pro.map(self::name),
    };
    vec![
        sora("sora-2", "Sora 2", &["sora"], vec![15, 10]),
        sora("sora-2-pro", "Sora 2 Pro", &["pro"], vec![15, 25]),
        veo("veo3.1-fast", "Veo 3.1 Fast", &["veo"], 1, Some("veo3.1-pro")),
        veo("veo3.1", "Veo 3.1", &[], 1, Some("veo3.1-pro")),
        veo("veo3.1-pro", "Veo 3.1 Pro", &[], 1, None),
        veo("veo3.1-components", "Veo 3.1 Components", &[], 3, Some("veo3.1-pro")),
        ModelSpec {
            name: name("jimeng-video-3.0"),
            family: Family::Jimeng,
            label: "Jimeng 3.0".to_owned(),
            aliases: vec!["jimeng".to_owned()],
            shapes: [(9, 16), (16, 9), (1, 1), (4, 3), (3, 4), (21, 9)]
                .map(|(width, height)| Shape { width, height })
                .to_vec(),
            durations: Vec::new(),
            sizes: vec![Size::Large, Size::Small],
            images: ImageLimit::Configured,
            cost: 1,
            pro: None,
        },
        ModelSpec {
            name: name("grok-video-3"),
            family: Family::Grok,
            label: "Grok Video 3".to_owned(),
            aliases: vec!["grok".to_owned()],
            shapes: [(2, 3), (3, 2), (1, 1)].map(|(width, height)| Shape { width, height }).to_vec(),
            durations: Vec::new(),
            sizes: Vec::new(),
            images: ImageLimit::Configured,
            cost: 1,
            pro: None,
        },
    ]
}

#[cfg(test)]
mod tests;
