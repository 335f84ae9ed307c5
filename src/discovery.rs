//! PLACEHOLDER until the discovery branch lands: the model listing's state.

use std::{collections::HashSet, sync::RwLock};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    Listed,
    Unlisted,
    Unknown,
}

#[derive(Default)]
pub struct Listing {
    state: RwLock<(Option<HashSet<String>>, HashSet<String>)>,
}

impl Listing {
    pub fn availability(&self, model: &str) -> Availability {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        if state.1.contains(model) {
            return Availability::Unlisted;
        }
        match &state.0 {
            Some(listed) if listed.contains(model) => Availability::Listed,
            Some(_) => Availability::Unlisted,
            None => Availability::Unknown,
        }
    }

    pub fn mark_retired(&self, model: &str) {
        self.state.write().unwrap_or_else(|e| e.into_inner()).1.insert(model.to_owned());
    }
}
