//! Receiving updates: by webhook, by long polling, or by long polling only
//! while this replica holds the poller lock; and stopping the dispatcher.

use std::{sync::Arc, time::Duration};

use teloxide::{
    dispatching::{DefaultKey, Dispatcher},
    error_handlers::LoggingErrorHandler,
    update_listeners::{Polling, UpdateListener},
};
use tokio_util::sync::CancellationToken;

use crate::{
    bot::{self, AppState, Gate},
    leader::{PollerElection, PollingErrors},
    telegram::Telegram,
};

/// Long-poll timeout; it must stay below teloxide's 17 s client timeout or every idle poll fails.
const POLL_TIMEOUT: Duration = Duration::from_secs(10);

/// Dispatches webhook updates until `stop` resolves.
pub async fn by_webhook(
    telegram: &Telegram,
    gate: &Arc<Gate>,
    state: Arc<AppState>,
    updates: impl UpdateListener<Err = std::convert::Infallible> + Send,
    stop: impl Future<Output = ()> + Send + 'static,
) {
    tracing::info!("receiving updates by webhook");
    let mut dispatcher = dispatcher(telegram, state);
    stop_when(&dispatcher, stop);
    dispatcher.dispatch_with_listener(gate.wrap(updates), LoggingErrorHandler::with_custom_text("webhook error")).await;
}

/// Long-polls whenever this replica holds the poller lock, until `stopping`.
pub async fn poll_while_leader(
    telegram: &Telegram,
    gate: &Arc<Gate>,
    state: Arc<AppState>,
    mut election: PollerElection,
    stopping: &CancellationToken,
) {
    let errors = PollingErrors::new();
    while let Some(mut leadership) = election.acquire(stopping).await {
        let stopping = stopping.clone();
        let lost_or_stopping = async move {
            tokio::select! {
                () = stopping.cancelled() => {}
                () = leadership.lost() => {}
            }
            leadership
        };
        poll(telegram, gate, state.clone(), errors.clone(), lost_or_stopping).await;
    }
}

type BotDispatcher = Dispatcher<teloxide::Bot, bot::HandlerError, DefaultKey>;

fn dispatcher(telegram: &Telegram, state: Arc<AppState>) -> BotDispatcher {
    Dispatcher::builder(telegram.bot.clone(), bot::schema())
        .dependencies(teloxide::dptree::deps![state])
        // Plain chat messages are not for us; teloxide would log each one in full.
        .default_handler(|_| async {})
        .build()
}

/// Long-polls until `stop` resolves. What `stop` yields (e.g. the poller lock)
/// is kept until polling has fully stopped.
pub async fn poll<T: Send + 'static>(
    telegram: &Telegram,
    gate: &Arc<Gate>,
    state: Arc<AppState>,
    errors: Arc<PollingErrors>,
    stop: impl Future<Output = T> + Send + 'static,
) {
    let mut dispatcher = dispatcher(telegram, state);
    stop_when(&dispatcher, stop);
    let updates = Polling::builder(telegram.bot.clone()).timeout(POLL_TIMEOUT).delete_webhook().await.build();
    tracing::info!("receiving updates by long polling");
    dispatcher.dispatch_with_listener(gate.wrap(updates), errors).await;
}

/// Stops the dispatcher once `stop` resolves, holding its output until it stopped.
fn stop_when<T: Send + 'static>(dispatcher: &BotDispatcher, stop: impl Future<Output = T> + Send + 'static) {
    let token = dispatcher.shutdown_token();
    tokio::spawn(async move {
        let held = stop.await;
        // The dispatcher may still be starting (getMe); try until it listens.
        loop {
            match token.shutdown() {
                Ok(stopped) => break stopped.await,
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        drop(held);
    });
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
