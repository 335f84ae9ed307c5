//! The catalog as the video API serves it right now: which offered models
//! it lists, which one a request gets by default, and the defaults of a chat.

use std::sync::{Arc, Mutex};

use super::{
    Catalog, ModelName, ModelSpec, VideoOptions,
    listing::{Availability, Listing},
};

/// Why the default model is the one it is (said once in the log when it changes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultReason {
    /// `DEFAULT_MODEL`, and the video API does not say it is gone.
    Configured,
    /// `DEFAULT_MODEL` is not listed; the first listed offered model instead.
    ConfiguredUnlisted(ModelName),
    /// No `DEFAULT_MODEL`: the first offered model the video API lists.
    FirstListed,
    /// Nothing is known yet (no listing): the first offered model.
    NotListedYet,
    /// Not one offered model is listed: requests will be refused by the video
    /// API, which then says which model is gone.
    NoneListed,
}

impl std::fmt::Display for DefaultReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DefaultReason::Configured => f.write_str("DEFAULT_MODEL"),
            DefaultReason::ConfiguredUnlisted(configured) => {
                write!(f, "DEFAULT_MODEL {configured} is not listed by the video API; first listed of VIDEO_MODELS")
            }
            DefaultReason::FirstListed => f.write_str("first model of VIDEO_MODELS the video API lists"),
            DefaultReason::NotListedYet => {
                f.write_str("first model of VIDEO_MODELS (the video API has not listed its models)")
            }
            DefaultReason::NoneListed => f.write_str("the video API lists none of VIDEO_MODELS; keeping the first"),
        }
    }
}

/// Pure: the default model, given what the video API says of each.
pub fn choose_default(
    catalog: &Catalog,
    configured: Option<ModelName>,
    availability: impl Fn(ModelName) -> Availability,
) -> (ModelName, DefaultReason) {
    let offered = catalog.offered();
    let first_listed = offered.iter().find(|m| availability(m.name) == Availability::Listed).map(|m| m.name);
    let first_possible = offered.iter().find(|m| availability(m.name) != Availability::Unlisted).map(|m| m.name);
    match configured {
        Some(name) if availability(name) != Availability::Unlisted => (name, DefaultReason::Configured),
        Some(name) => match first_listed.or(first_possible) {
            Some(other) => (other, DefaultReason::ConfiguredUnlisted(name)),
            None => (name, DefaultReason::NoneListed),
        },
        None => match (first_listed, first_possible) {
            (Some(listed), _) => (listed, DefaultReason::FirstListed),
            (None, Some(possible)) => (possible, DefaultReason::NotListedYet),
            (None, None) => (offered[0].name, DefaultReason::NoneListed),
        },
    }
}

/// A chat's own `/settings` choices; `None`: the bot's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChatChoices {
    pub model: Option<ModelName>,
    pub shape: Option<super::Shape>,
    pub size: Option<super::Size>,
    pub duration: Option<u32>,
}

/// The defaults a chat's requests get, fitted to their model, and the chat's
/// chosen model when it is no longer offered (so the chat can be told).
pub fn chat_defaults(
    catalog: &Catalog,
    default_model: ModelName,
    base: &VideoOptions,
    chat: &ChatChoices,
) -> (VideoOptions, Option<ModelName>) {
    let stale = chat.model.filter(|m| !catalog.is_offered(*m));
    let model = chat.model.filter(|_| stale.is_none()).unwrap_or(default_model);
    let wishes = VideoOptions {
        model,
        shape: chat.shape.unwrap_or(base.shape),
        size: chat.size.or(base.size),
        duration: chat.duration.or(base.duration),
    };
    let options = match catalog.get(model).or_else(|| catalog.offered().first()) {
        Some(spec) => wishes.moved_to(spec),
        None => wishes,
    };
    (options, stale)
}

/// The catalog with the video API's listing: shared by every handler.
pub struct Models {
    catalog: Catalog,
    configured_default: Option<ModelName>,
    listing: Arc<Listing>,
    /// The default last logged, so a change is logged once.
    logged_default: Mutex<Option<ModelName>>,
}

impl Models {
    pub fn new(catalog: Catalog, configured_default: Option<ModelName>, listing: Arc<Listing>) -> Models {
        Models { catalog, configured_default, listing, logged_default: Mutex::new(None) }
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn availability(&self, name: ModelName) -> Availability {
        self.listing.availability(name.as_str())
    }

    pub fn default_model(&self) -> ModelName {
        self.choose().0
    }

    fn choose(&self) -> (ModelName, DefaultReason) {
        choose_default(&self.catalog, self.configured_default, |m| self.availability(m))
    }

    /// Logs the default in one line when it differs from the last one logged
    /// (at start, after a listing, after a model was found retired).
    pub fn log_default(&self) {
        let (model, reason) = self.choose();
        let mut logged = self.logged_default.lock().unwrap_or_else(|e| e.into_inner());
        if *logged != Some(model) {
            *logged = Some(model);
            tracing::info!(model = %model, "default model: {model} ({reason})");
        }
    }

    /// A create was refused because the video API no longer serves `name`:
    /// unavailable until a listing names it again, and no longer the default.
    pub fn mark_retired(&self, name: ModelName) {
        self.listing.mark_retired(name.as_str());
        self.log_default();
    }

    /// The offered models other than `name` that the video API is not known
    /// to have dropped, in menu order: once any listing has worked those are
    /// exactly the listed ones (only "no listing yet" leaves a model unknown).
    pub fn alternatives(&self, name: ModelName) -> impl Iterator<Item = &ModelSpec> {
        self.catalog
            .offered()
            .iter()
            .filter(move |m| m.name != name && self.availability(m.name) != Availability::Unlisted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{SORA_2, Shape};

    fn name(text: &str) -> ModelName {
        ModelName::new(text).unwrap()
    }

    /// Availability from a listing of `listed` (or no listing at all).
    fn listing(listed: Option<&'static [&'static str]>) -> impl Fn(ModelName) -> Availability {
        move |m| match listed {
            None => Availability::Unknown,
            Some(list) if list.contains(&m.as_str()) => Availability::Listed,
            Some(_) => Availability::Unlisted,
        }
    }

    #[test]
    fn the_default_is_never_an_unlisted_model() {
        let catalog = Catalog::builtin();
        let listed: &[&str] = &["jimeng-video-3.0", "veo3.1"];
        assert_eq!(choose_default(&catalog, None, listing(None)), (SORA_2, DefaultReason::NotListedYet));
        assert_eq!(choose_default(&catalog, None, listing(Some(listed))), (name("veo3.1"), DefaultReason::FirstListed));
        assert_eq!(
            choose_default(&catalog, Some(name("jimeng-video-3.0")), listing(Some(listed))).1,
            DefaultReason::Configured
        );
        assert_eq!(
            choose_default(&catalog, Some(SORA_2), listing(Some(listed))),
            (name("veo3.1"), DefaultReason::ConfiguredUnlisted(SORA_2))
        );
        assert_eq!(choose_default(&catalog, None, listing(Some(&[]))), (SORA_2, DefaultReason::NoneListed));
        assert_eq!(choose_default(&catalog, Some(name("grok-video-3")), listing(None)).1, DefaultReason::Configured);
    }

    #[test]
    fn a_chats_model_no_longer_offered_falls_back_with_a_notice() {
        let known = Catalog::builtin().offered().to_vec();
        let catalog = Catalog::offering(known, &[name("veo3.1-fast"), name("grok-video-3")]);
        let base = VideoOptions::STANDARD;
        let chat = ChatChoices { model: Some(SORA_2), duration: Some(10), ..ChatChoices::default() };
        let (options, stale) = chat_defaults(&catalog, name("veo3.1-fast"), &base, &chat);
        assert_eq!(stale, Some(SORA_2));
        assert_eq!(
            options,
            VideoOptions {
                model: name("veo3.1-fast"),
                shape: Shape::PORTRAIT,
                size: Some(crate::models::Size::Large),
                duration: None
            }
        );
        let chat =
            ChatChoices { model: Some(name("grok-video-3")), shape: Some(Shape::LANDSCAPE), ..ChatChoices::default() };
        let (options, stale) = chat_defaults(&catalog, name("veo3.1-fast"), &base, &chat);
        assert_eq!(
            (options.model, options.shape, options.size, stale),
            (name("grok-video-3"), Shape { width: 3, height: 2 }, None, None)
        );
    }
}
