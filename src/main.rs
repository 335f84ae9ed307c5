//! Wiring: config → store → bot → watcher + HTTP server; one shutdown for all.

use std::{io::IsTerminal, process::ExitCode, sync::Arc, time::Duration};

use secrecy::ExposeSecret;
use sora_bot::{
    bot::{self, Albums, AppState, Gate},
    config::{Config, ImageMode},
    http::{self, HttpState},
    images::ImageUrls,
    leader::{self, PollerElection, PollingErrors},
    media_proxy::MediaProxy,
    metrics,
    net_guard::GuardedClient,
    store::Store,
    telegram::Telegram,
    video_api::VideoApi,
    watcher::{Watcher, WatcherConfig},
    webhook,
};
use teloxide::{dispatching::Dispatcher, error_handlers::LoggingErrorHandler, update_listeners::Polling};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing_subscriber::EnvFilter;

/// Long-poll timeout; below teloxide's 17 s client timeout (PITFALLS 4).
const POLL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a stopping bot waits for queued answers (one a second per chat).
const OUTBOX_FLUSH_LIMIT: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    // A missing .env is fine; a malformed one is a configuration error.
    if let Err(error) = dotenvy::dotenv()
        && !error.not_found()
    {
        eprintln!("sora-bot: configuration error: .env: {error}");
        return ExitCode::from(2);
    }
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("sora-bot: configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    // One thread runs every task: a command mostly waits (HTTP, SQLite's own
    // thread), and handing work between worker threads cost more CPU in
    // futex wake-ups than it saved. File I/O still goes to tokio's blocking pool.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> Result<(), String> {
    let config = Arc::new(config);
    // Before the database is touched: a second process on one SQLite file refuses to start.
    let _sqlite_lock = leader::lock_sqlite(config.database_url.expose_secret())?;
    let prometheus = metrics::install();
    let store = Store::connect(config.database_url.expose_secret()).await.map_err(|e| format!("database: {e}"))?;
    let telegram = Telegram::new(&config);
    let api = VideoApi::new(config.video_api_base_url.as_str(), config.video_api_key.clone())
        .with_timeouts(config.video_api_timeout, sora_bot::video_api::DEFAULT_QUERY_TIMEOUT);
    if config.image_mode == ImageMode::Telegram {
        tracing::warn!("IMAGE_MODE=telegram: photo URLs sent to the video API contain the bot token");
    }
    let images = ImageUrls::new(&config, telegram.files.clone(), store.clone());
    let owner = format!("{}-{:08x}", std::process::id(), rand::random::<u32>());
    let lease_ttl = Watcher::lease_ttl(config.poll_interval);
    let tracker = TaskTracker::new();
    let state = Arc::new(AppState {
        config: config.clone(),
        store: store.clone(),
        api: api.clone(),
        telegram: telegram.clone(),
        images: images.clone(),
        albums: Albums::default(),
        tracker: tracker.clone(),
        owner: owner.clone(),
        lease_ttl,
    });

    let listener = http::bind(config.http_bind).await.map_err(|e| format!("HTTP_BIND {}: {e}", config.http_bind))?;
    let media = MediaProxy::new(telegram.files.clone());
    let http_state =
        HttpState { store: store.clone(), media, metrics: prometheus, metrics_token: config.metrics_token.clone() };
    let mut app = http::router(Arc::new(http_state));
    let max_connections = config.http_max_connections;

    if let Err(error) = bot::register_commands(&telegram).await {
        tracing::warn!(%error, "setMyCommands failed; the command menu may be stale");
    }

    let shutdown = CancellationToken::new();
    let watcher = Watcher::new(
        store.clone(),
        api,
        telegram.clone(),
        // The video API may run on a private network; its own video URLs may point there too.
        GuardedClient::new(Some(&config.video_api_base_url)),
        WatcherConfig {
            owner,
            poll_interval: config.poll_interval,
            task_timeout: config.task_timeout,
            queries_per_second: config.video_api_queries_per_second,
            exclusive: config.database_url.expose_secret().starts_with("sqlite:"),
        },
    );
    let watcher = tokio::spawn(watcher.run(shutdown.clone()));

    // The gate needs the bot's username to tell our commands from other bots'.
    let me = telegram.me().await.map_err(|e| format!("getMe: {e}"))?;
    let gate = Gate::new(config.clone(), telegram.clone(), me.username());
    let stopping = CancellationToken::new();
    tokio::spawn({
        let stopping = stopping.clone();
        async move {
            wait_for_signal().await;
            tracing::info!("stopping: no new updates, finishing what is in flight");
            stopping.cancel();
        }
    });

    let server_shutdown = shutdown.clone();
    if let (Some(public), Some(secret)) = (&config.public_base_url, &config.webhook_secret) {
        let url = public.join("telegram/webhook").map_err(|e| format!("PUBLIC_BASE_URL: {e}"))?;
        // Left in place on stop: other replicas sharing the token still use it.
        webhook::register(&telegram.bot, url.clone(), secret).await.map_err(|e| format!("setWebhook: {e}"))?;
        let (webhook, updates) = webhook::listener(url.path(), secret.clone());
        app = app.merge(webhook);
        let server =
            tokio::spawn(http::serve(listener, app, max_connections, async move { server_shutdown.cancelled().await }));
        tracing::info!("receiving updates by webhook");
        let mut dispatcher = dispatcher(&telegram, state);
        stop_when(&dispatcher, stopping.clone().cancelled_owned());
        dispatcher
            .dispatch_with_listener(gate.wrap(updates), LoggingErrorHandler::with_custom_text("webhook error"))
            .await;
        finish(tracker, telegram, shutdown, watcher, server, store).await;
    } else {
        let server =
            tokio::spawn(http::serve(listener, app, max_connections, async move { server_shutdown.cancelled().await }));
        let errors = PollingErrors::new();
        if config.database_url.expose_secret().starts_with("sqlite:") {
            poll(&telegram, &gate, state, errors, stopping.clone().cancelled_owned()).await;
        } else {
            // Replicas of one bot on one PostgreSQL database: only the holder of the poller lock polls.
            let key = leader::poller_lock_key(config.telegram_api_url.as_str(), config.telegram_token.expose_secret());
            let mut election = PollerElection::new(config.database_url.expose_secret(), key);
            while let Some(mut leadership) = election.acquire(&stopping).await {
                let stopping = stopping.clone();
                let lost_or_stopping = async move {
                    tokio::select! {
                        () = stopping.cancelled() => {}
                        () = leadership.lost() => {}
                    }
                    leadership
                };
                poll(&telegram, &gate, state.clone(), errors.clone(), lost_or_stopping).await;
            }
        }
        finish(tracker, telegram, shutdown, watcher, server, store).await;
    }
    tracing::info!("stopped");
    Ok(())
}

type BotDispatcher = Dispatcher<teloxide::Bot, bot::HandlerError, teloxide::dispatching::DefaultKey>;

fn dispatcher(telegram: &Telegram, state: Arc<AppState>) -> BotDispatcher {
    Dispatcher::builder(telegram.bot.clone(), bot::schema())
        .dependencies(teloxide::dptree::deps![state])
        // Plain chat messages are not for us; teloxide would log each one in full.
        .default_handler(|_| async {})
        .build()
}

/// Long-polls until `stop` resolves. What `stop` yields (e.g. the poller lock)
/// is kept until polling has fully stopped.
async fn poll<T: Send + 'static>(
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

/// After the dispatcher stopped: let submissions finish and queued answers go
/// out, then stop the watcher (it releases its leases), then the HTTP server.
/// Open tasks stay open.
async fn finish(
    tracker: TaskTracker,
    telegram: Telegram,
    shutdown: CancellationToken,
    watcher: tokio::task::JoinHandle<()>,
    server: tokio::task::JoinHandle<()>,
    store: Store,
) {
    tracker.close();
    tracker.wait().await;
    telegram.flush_outbox(OUTBOX_FLUSH_LIMIT).await;
    shutdown.cancel();
    let _ = watcher.await;
    let _ = server.await;
    store.close().await;
}

async fn wait_for_signal() {
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
