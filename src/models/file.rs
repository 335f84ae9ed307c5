//! `VIDEO_MODELS_FILE`: the operator's TOML that adds models or changes
//! built-in ones without a new build. One `[[model]]` table per model:
//!
//! ```toml
//! [[model]]
//! name = "kling-v2"          # the body's `model`
//! family = "veo"             # sora, veo, jimeng or grok: the body's fields
//! label = "Kling 2"          # buttons and /models (default: the name)
//! aliases = ["kling"]        # other names users may type
//! shapes = ["9:16", "16:9"]  # aspect ratios, first = default
//! durations = []             # seconds, first = default (sora only)
//! sizes = ["large", "small"] # first = default; [] = no choice
//! max_images = 1             # default: MAX_IMAGES
//! cost = 2                   # what one video counts against the daily limits (default 1)
//! pro = "kling-v2-master"    # what ⭐ Pro asks for
//! ```
//!
//! An entry named like a built-in model changes only the fields it gives.
//! Every mistake is reported once, naming the entry and the field, so the
//! bot never starts with a model it would describe wrongly to the video API.

use toml::{Table, Value};

use super::{Family, ImageLimit, ModelName, ModelSpec, Shape, Size};

/// Where a file is wrong: which entry, which field, and how.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{entry}{}: {problem}", field.map(|f| format!(", field `{f}`")).unwrap_or_default())]
pub struct FileError {
    /// `[[model]] #2 "kling-v2"`, or `the file` for a mistake outside any entry.
    pub entry: String,
    pub field: Option<&'static str>,
    pub problem: String,
}

const FIELDS: [&str; 10] =
    ["name", "family", "label", "aliases", "shapes", "durations", "sizes", "max_images", "cost", "pro"];

/// The most a video may count: more is a typo, not a price.
const MAX_COST: i64 = 1000;

/// `builtin` changed and extended by the file's text.
pub fn apply(builtin: Vec<ModelSpec>, text: &str) -> Result<Vec<ModelSpec>, FileError> {
    let whole = |problem: String| FileError { entry: "the file".to_owned(), field: None, problem };
    let table: Table = text.parse().map_err(|e: toml::de::Error| whole(format!("not valid TOML: {}", e.message())))?;
    if let Some(key) = table.keys().find(|k| *k != "model") {
        return Err(whole(format!("unknown table `{key}` (models are [[model]] tables)")));
    }
    let entries = match table.get("model") {
        Some(Value::Array(entries)) => entries.as_slice(),
        Some(_) => return Err(whole("`model` must be [[model]] tables".to_owned())),
        None => &[],
    };
    let mut models = builtin;
    let mut from_file: Vec<ModelName> = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let position = format!("[[model]] #{}", index + 1);
        let Value::Table(entry) = entry else {
            return Err(FileError { entry: position, field: None, problem: "is not a table".to_owned() });
        };
        let spec = read_entry(entry, &position, &models, &from_file)?;
        from_file.push(spec.name);
        match models.iter_mut().find(|m| m.name == spec.name) {
            Some(existing) => *existing = spec,
            None => models.push(spec),
        }
    }
    check_references(&models)?;
    Ok(models)
}

fn read_entry(
    entry: &Table,
    position: &str,
    known: &[ModelSpec],
    from_file: &[ModelName],
) -> Result<ModelSpec, FileError> {
    let fail = |entry: &str, field: &'static str, problem: String| FileError {
        entry: entry.to_owned(),
        field: Some(field),
        problem,
    };
    let name_value = entry.get("name").ok_or_else(|| fail(position, "name", "is missing".to_owned()))?;
    let name_text = name_value.as_str().ok_or_else(|| fail(position, "name", "must be a string".to_owned()))?;
    let name = ModelName::new(name_text.trim()).map_err(|e| fail(position, "name", e.to_string()))?;
    let at = format!("{position} \"{name}\"");
    let fail = |field: &'static str, problem: String| fail(&at, field, problem);

    if from_file.contains(&name) {
        return Err(fail("name", "is given twice in this file".to_owned()));
    }
    if let Some(key) = entry.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(FileError {
            entry: at.clone(),
            field: None,
            problem: format!("unknown field `{key}` (fields: {})", FIELDS.join(", ")),
        });
    }
    let base = known.iter().find(|m| m.name == name);

    let family = match entry.get("family") {
        Some(value) => {
            let text = value.as_str().ok_or_else(|| fail("family", "must be a string".to_owned()))?;
            text.trim()
                .to_lowercase()
                .parse::<Family>()
                .map_err(|_| fail("family", format!("\"{text}\" is not one of sora, veo, jimeng, grok")))?
        }
        None => base.map(|b| b.family).ok_or_else(|| fail("family", "is required for a new model".to_owned()))?,
    };
    // A family change resets what only made sense for the old one.
    let base = base.filter(|b| b.family == family);

    let label = match entry.get("label") {
        Some(value) => value
            .as_str()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty() && s.chars().count() <= 40)
            .ok_or_else(|| fail("label", "must be a string of 1-40 characters".to_owned()))?,
        None => base.map_or_else(|| name.to_string(), |b| b.label.clone()),
    };

    let aliases = match entry.get("aliases") {
        Some(value) => strings(value)
            .ok_or_else(|| fail("aliases", "must be a list of strings".to_owned()))?
            .into_iter()
            .map(|alias| {
                let alias = alias.trim().to_lowercase();
                ModelName::new(&alias)
                    .map(|_| alias.clone())
                    .map_err(|_| fail("aliases", format!("\"{alias}\" is not a usable name: {}", super::BadModelName)))
            })
            .collect::<Result<Vec<_>, _>>()?,
        None => base.map(|b| b.aliases.clone()).unwrap_or_default(),
    };

    let shapes = match entry.get("shapes") {
        Some(value) => {
            let texts = strings(value).ok_or_else(|| fail("shapes", "must be a list of strings".to_owned()))?;
            let mut shapes = Vec::new();
            for text in texts {
                let shape = text
                    .parse::<Shape>()
                    .ok()
                    .ok_or_else(|| fail("shapes", format!("\"{text}\" is not an aspect ratio like 16:9")))?;
                if !family.takes_shape(shape) {
                    return Err(fail("shapes", format!("family {family} has portrait and landscape only, not {text}")));
                }
                if shapes.contains(&shape) {
                    return Err(fail("shapes", format!("{text} is listed twice")));
                }
                shapes.push(shape);
            }
            if shapes.is_empty() {
                return Err(fail("shapes", "needs at least one shape".to_owned()));
            }
            shapes
        }
        None => base.map_or_else(|| default_shapes(family), |b| b.shapes.clone()),
    };

    let durations = match entry.get("durations") {
        Some(value) => {
            let numbers = integers(value).ok_or_else(|| fail("durations", "must be a list of numbers".to_owned()))?;
            let mut durations = Vec::new();
            for n in numbers {
                let seconds = u32::try_from(n)
                    .ok()
                    .filter(|s| (1..=600).contains(s))
                    .ok_or_else(|| fail("durations", format!("{n} is not a number of seconds from 1 to 600")))?;
                if durations.contains(&seconds) {
                    return Err(fail("durations", format!("{seconds} is listed twice")));
                }
                durations.push(seconds);
            }
            durations
        }
        None => base.map(|b| b.durations.clone()).unwrap_or_default(),
    };
    match (family.takes_durations(), durations.is_empty()) {
        (true, true) => return Err(fail("durations", format!("family {family} needs at least one duration"))),
        (false, false) => return Err(fail("durations", format!("family {family} takes no duration"))),
        _ => {}
    }

    let sizes = match entry.get("sizes") {
        Some(value) => {
            let texts = strings(value).ok_or_else(|| fail("sizes", "must be a list of strings".to_owned()))?;
            let mut sizes = Vec::new();
            for text in texts {
                let size = match text.trim().to_lowercase().as_str() {
                    "large" => Size::Large,
                    "small" => Size::Small,
                    _ => return Err(fail("sizes", format!("\"{text}\" is not large or small"))),
                };
                if sizes.contains(&size) {
                    return Err(fail("sizes", format!("{text} is listed twice")));
                }
                sizes.push(size);
            }
            sizes
        }
        None => base.map_or_else(|| default_sizes(family), |b| b.sizes.clone()),
    };
    if !family.takes_sizes() && !sizes.is_empty() {
        return Err(fail("sizes", format!("family {family} has no size choice")));
    }
    if family == Family::Sora && sizes.is_empty() {
        return Err(fail("sizes", "family sora needs at least one size".to_owned()));
    }

    let images = match entry.get("max_images") {
        Some(value) => value
            .as_integer()
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| *n <= 10)
            .map(ImageLimit::AtMost)
            .ok_or_else(|| fail("max_images", "must be a number from 0 to 10".to_owned()))?,
        None => base.map_or(ImageLimit::Configured, |b| b.images),
    };

    let cost = match entry.get("cost") {
        Some(value) => value
            .as_integer()
            .filter(|n| (0..=MAX_COST).contains(n))
            .map(|n| n as u32)
            .ok_or_else(|| fail("cost", format!("must be a whole number from 0 to {MAX_COST}")))?,
        None => base.map_or(1, |b| b.cost),
    };

    let pro = match entry.get("pro") {
        Some(value) => {
            let text = value.as_str().ok_or_else(|| fail("pro", "must be a model name".to_owned()))?;
            Some(ModelName::new(text.trim()).map_err(|e| fail("pro", e.to_string()))?)
        }
        None => base.and_then(|b| b.pro),
    };

    Ok(ModelSpec { name, family, label, aliases, shapes, durations, sizes, images, cost, pro })
}

/// `pro` must name a known model, and no two models may answer to one name.
fn check_references(models: &[ModelSpec]) -> Result<(), FileError> {
    // Newest first: a clash is reported at the file's entry, not the built-in it clashes with.
    for (index, model) in models.iter().enumerate().rev() {
        let fail = |field: &'static str, problem: String| FileError {
            entry: format!("[[model]] \"{}\"", model.name),
            field: Some(field),
            problem,
        };
        if let Some(pro) = model.pro
            && !models.iter().any(|m| m.name == pro)
        {
            return Err(fail("pro", format!("no model is named \"{pro}\"")));
        }
        for alias in &model.aliases {
            if let Some(other) =
                models.iter().enumerate().find(|(i, m)| *i != index && (m.answers_to(alias))).map(|(_, m)| m)
            {
                return Err(fail("aliases", format!("\"{alias}\" already names {}", other.name)));
            }
        }
    }
    Ok(())
}

fn default_shapes(family: Family) -> Vec<Shape> {
    match family {
        Family::Grok => vec![Shape { width: 2, height: 3 }, Shape { width: 3, height: 2 }, Shape::SQUARE],
        _ => vec![Shape::PORTRAIT, Shape::LANDSCAPE],
    }
}

fn default_sizes(family: Family) -> Vec<Size> {
    if family.takes_sizes() { vec![Size::Large, Size::Small] } else { Vec::new() }
}

fn strings(value: &Value) -> Option<Vec<&str>> {
    value.as_array()?.iter().map(Value::as_str).collect()
}

fn integers(value: &Value) -> Option<Vec<i64>> {
    value.as_array()?.iter().map(Value::as_integer).collect()
}
