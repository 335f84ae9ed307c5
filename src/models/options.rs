//! What one video request asks of its model: the options as a whole, one
//! option at a time (as `/video` reads them or `/settings` changes them), and
//! a chat's `/settings` choices.

use super::{ModelName, ModelSpec, Shape, Size};

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
    pub const STANDARD: VideoOptions =
        VideoOptions { model: super::SORA_2, shape: Shape::PORTRAIT, size: Some(Size::Large), duration: Some(15) };

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

/// One of the four options with its value. By default a value the catalog
/// knows; the `/video` grammar fills it with what was written (a model wish,
/// a shape wish and where it stood) before the final model is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoOption<Model = ModelName, ShapeValue = Shape, SizeValue = Size> {
    Model(Model),
    Shape(ShapeValue),
    Size(SizeValue),
    /// Seconds.
    Duration(u32),
}

/// One `/settings` choice for a chat: an option's new default, back to the
/// bot's defaults, or a move through the menu (which stores nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    Choose(VideoOption),
    /// Back to the bot's defaults.
    Reset,
    /// Open the list of models (more than fit one row).
    ModelMenu,
    /// Back from the list of models.
    Main,
}

impl Setting {
    /// Only moves through the menu: nothing is stored.
    pub fn is_navigation(self) -> bool {
        matches!(self, Setting::ModelMenu | Setting::Main)
    }
}
