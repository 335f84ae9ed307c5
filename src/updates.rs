//! Receiving updates: by webhook, by long polling, or by long polling only
//! while this replica holds the poller lock.

use std::{fmt::Display, sync::Arc, time::Duration};

use teloxide::{
    error_handlers::LoggingErrorHandler,
    update_listeners::{Polling, UpdateListener},
};
use tokio_util::sync::CancellationToken;

use crate::{
    bot::Gate,
    dispatch::Dispatch,
    leader::{PollerElection, PollingErrors},
    telegram::Telegram,
};

/// Long-poll timeout; it must stay below teloxide's 17 s client timeout or every idle poll fails.
const POLL_TIMEOUT: Duration = Duration::from_secs(10);

/// Dispatches webhook updates until `stop` resolves.
pub async fn by_webhook<E: Display + Send + Sync + 'static>(
    dispatch: &Dispatch<E>,
    gate: &Arc<Gate>,
    updates: impl UpdateListener<Err = std::convert::Infallible> + Send,
    stop: impl Future<Output = ()>,
) {
    tracing::info!("receiving updates by webhook");
    dispatch.run(gate.wrap(updates), LoggingErrorHandler::with_custom_text("webhook error"), stop).await;
}

/// Long-polls whenever this replica holds the poller lock, until `stopping`.
pub async fn poll_while_leader<E: Display + Send + Sync + 'static>(
    telegram: &Telegram,
    dispatch: &Dispatch<E>,
    gate: &Arc<Gate>,
    mut election: PollerElection,
    stopping: &CancellationToken,
) {
    let errors = PollingErrors::new();
    while let Some(mut leadership) = election.acquire(stopping).await {
        let lost_or_stopping = async move {
            tokio::select! {
                () = stopping.cancelled() => {}
                () = leadership.lost() => {}
            }
            leadership
        };
        // The lock is held until polling has fully stopped.
        drop(poll(telegram, dispatch, gate, errors.clone(), lost_or_stopping).await);
    }
}

/// Long-polls until `stop` resolves. What `stop` yields (e.g. the poller lock)
/// is returned once polling has fully stopped.
pub async fn poll<T, E: Display + Send + Sync + 'static>(
    telegram: &Telegram,
    dispatch: &Dispatch<E>,
    gate: &Arc<Gate>,
    errors: Arc<PollingErrors>,
    stop: impl Future<Output = T>,
) -> Option<T> {
    let updates = Polling::builder(telegram.bot.clone()).timeout(POLL_TIMEOUT).delete_webhook().await.build();
    tracing::info!("receiving updates by long polling");
    dispatch.run(gate.wrap(updates), errors, stop).await
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
