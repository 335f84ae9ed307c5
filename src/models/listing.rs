//! What the video API lists now: each model's availability, held for every
//! task to read and changed by the background listing (`discovery`) and by
//! creates refused because their model is gone.
//!
//! Model names only, not the catalog: the caller decides what an unlisted
//! model means for its offer and its default.

use std::collections::{HashMap, HashSet};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

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

    /// A create for `model` was refused as the video API's "model unavailable":
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
    pub fn apply<E>(&self, asked_at: Instant, result: Result<Vec<String>, E>) -> Change {
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
