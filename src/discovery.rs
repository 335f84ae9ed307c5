//! What the video API says it serves: its model listing, asked for in the
//! background and held for every task to read.
//!
//! Relays retire models overnight (OpenAI shut sora-2 down) and answer a
//! create for one with a refusal while other models go on working. Asking
//! `GET /v1/models` costs nothing, so the bot asks at start and every few
//! minutes, and a create refused as [`ApiError::ModelUnavailable`] marks its
//! model unavailable until a later listing names it again.
//!
//! This module knows model names only, not the bot's catalog: the caller
//! decides what an unlisted model means for its offer and its default.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::video_api::{ApiError, VideoApi};

/// How often production asks for the listing.
pub const LISTING_EVERY: Duration = Duration::from_secs(10 * 60);

/// What is known of one model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    /// The last successful listing names it and no create was refused since.
    Listed,
    /// The last successful listing does not name it, or a create for it was
    /// refused as an unavailable model since.
    Unlisted,
    /// No listing has worked yet: the configuration is all there is.
    Unknown,
}

/// What one [`Listing::apply`] changed, for the caller's log lines and
/// choice of default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Change {
    /// The first listing that worked: every model went from `Unknown` to
    /// `Listed` or `Unlisted`.
    pub first_success: bool,
    /// A listing worked after one or more failed.
    pub recovered: bool,
    /// A listing failed after one that worked (or at start): the first of a
    /// run of failures. The state was kept.
    pub started_failing: bool,
    /// Models now `Listed` that were not, in listing order.
    pub added: Vec<String>,
    /// Models `Listed` before that are not now, in their former order.
    pub removed: Vec<String>,
}

impl Change {
    /// Whether some model's [`Availability`] changed.
    pub fn changed(&self) -> bool {
        self.first_success || !self.added.is_empty() || !self.removed.is_empty()
    }
}

/// The video API's model listing, shared by every task (`Arc<Listing>`).
///
/// Reads happen on the request path (each offered model, each command), so
/// they take a read lock and allocate nothing; writes come every few
/// minutes or on a refusal.
#[derive(Debug, Default)]
pub struct Listing {
    state: RwLock<State>,
    /// Told when a listing has been answered, well or not: the start waits
    /// for the first one (briefly), so the first requests get the right default.
    answered: tokio::sync::Notify,
}

#[derive(Debug, Default)]
struct State {
    /// The last successful listing, in its order; `None` before the first.
    listed: Option<Vec<String>>,
    /// The same names, for lookups.
    lookup: HashSet<String>,
    /// Models refused as unavailable, and when: a listing asked for before
    /// the refusal may still name the model, so only a later one clears it.
    retired: HashMap<String, Instant>,
    /// The last listing failed.
    failing: bool,
}

impl State {
    fn availability(&self, model: &str) -> Availability {
        if self.retired.contains_key(model) {
            Availability::Unlisted
        } else if self.listed.is_none() {
            Availability::Unknown
        } else if self.lookup.contains(model) {
            Availability::Listed
        } else {
            Availability::Unlisted
        }
    }

    /// The models whose availability is `Listed`, in listing order.
    fn on_offer(&self) -> impl Iterator<Item = &String> {
        self.listed.iter().flatten().filter(|model| !self.retired.contains_key(model.as_str()))
    }
}

impl Listing {
    pub fn new() -> Self {
        Listing::default()
    }

    /// Returns once a listing has been answered (at once if one was).
    pub async fn first_answer(&self) {
        let answered = {
            let state = self.read();
            state.listed.is_some() || state.failing
        };
        if !answered {
            self.answered.notified().await;
        }
    }

    /// What is known of `model` (exact name).
    pub fn availability(&self, model: &str) -> Availability {
        self.read().availability(model)
    }

    /// Whether a listing has ever worked.
    pub fn has_listing(&self) -> bool {
        self.read().listed.is_some()
    }

    /// The models currently `Listed`, in listing order (allocates: for log
    /// lines and menus, not per request).
    pub fn listed(&self) -> Vec<String> {
        self.read().on_offer().cloned().collect()
    }

    /// A create for `model` was refused as [`ApiError::ModelUnavailable`]:
    /// the model is `Unlisted` until a listing asked for after this call
    /// names it again. Returns whether its availability changed.
    pub fn mark_retired(&self, model: &str) -> bool {
        let mut state = self.write();
        let before = state.availability(model);
        state.retired.insert(model.to_owned(), Instant::now());
        before != Availability::Unlisted
    }

    /// Takes the outcome of a listing asked for at `asked_at`. A failure
    /// keeps what is known: the last good listing (or none) and the marks.
    pub fn apply(&self, asked_at: Instant, result: Result<Vec<String>, ApiError>) -> Change {
        // A stored permit: a waiter that comes later still wakes.
        self.answered.notify_one();
        let mut state = self.write();
        let Ok(models) = result else {
            let started_failing = !state.failing;
            state.failing = true;
            return Change { started_failing, ..Change::default() };
        };
        let before: Vec<String> = state.on_offer().cloned().collect();
        let first_success = state.listed.is_none();
        let recovered = state.failing;

        let lookup: HashSet<String> = models.iter().cloned().collect();
        state.retired.retain(|model, marked_at| *marked_at > asked_at || !lookup.contains(model));
        state.lookup = lookup;
        state.listed = Some(models);
        state.failing = false;

        let was_listed: HashSet<&str> = before.iter().map(String::as_str).collect();
        let added = state.on_offer().filter(|model| !was_listed.contains(model.as_str())).cloned().collect();
        let removed = before.into_iter().filter(|model| state.availability(model) != Availability::Listed).collect();
        Change { first_success, recovered, started_failing: false, added, removed }
    }

    // A panic while holding the lock leaves whole values behind (every write
    // replaces fields), so a poisoned lock is still good to use.
    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Asks for the listing at once, then every `every`, until `shutdown`;
/// calls `on_change` after each listing that changed some model's
/// availability. Off the request path: readers only ever see a finished
/// listing.
///
/// Logs a failing listing once per run of failures (with the reason, which
/// never holds the key) and its recovery once: a relay without `/v1/models`
/// would otherwise warn every ten minutes forever.
pub async fn run(
    api: VideoApi,
    listing: Arc<Listing>,
    every: Duration,
    shutdown: CancellationToken,
    on_change: impl Fn(&Listing, &Change) + Send + 'static,
) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = ticker.tick() => {}
        }
        let asked_at = Instant::now();
        let result = tokio::select! {
            () = shutdown.cancelled() => break,
            result = api.list_models() => result,
        };
        let change = refresh(&listing, asked_at, result);
        if change.changed() {
            on_change(&listing, &change);
        }
    }
}

/// Applies one listing's outcome and writes its log lines.
fn refresh(listing: &Listing, asked_at: Instant, result: Result<Vec<String>, ApiError>) -> Change {
    let reason = result.as_ref().err().map(|error| (error.kind(), error.to_string()));
    let change = listing.apply(asked_at, result);
    if let Some((kind, error)) = reason {
        if change.started_failing {
            tracing::warn!(
                kind,
                %error,
                known = listing.has_listing(),
                "could not list the video API's models; keeping what is known until a listing works"
            );
        }
        return change;
    }
    if change.recovered {
        tracing::info!("listing the video API's models works again");
    }
    if change.first_success {
        tracing::info!(models = listing.listed().len(), "the video API listed its models");
    } else if change.changed() {
        tracing::info!(added = ?change.added, removed = ?change.removed, "the video API's model listing changed");
    }
    change
}

#[cfg(test)]
mod tests;
