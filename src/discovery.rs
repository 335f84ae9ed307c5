//! Asking the video API what it serves: its model listing, asked for in the
//! background and kept in a [`Listing`] for every task to read.
//!
//! Relays retire models overnight (OpenAI shut sora-2 down) and answer a
//! create for one with a refusal while other models go on working. Asking
//! `GET /v1/models` costs nothing, so the bot asks at start and every few
//! minutes, and a create refused as [`ApiError::ModelUnavailable`] marks its
//! model unavailable until a later listing names it again.
//!
//! Model names only, not the bot's catalog: the caller decides what an
//! unlisted model means for its offer and its default.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::models::listing::{Change, Listing};
use crate::video_api::{ApiError, VideoApi};

/// How often production asks for the listing.
pub const LISTING_EVERY: Duration = Duration::from_secs(10 * 60);

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
