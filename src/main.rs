//! Wiring: config → store → bot → watcher + HTTP server; one shutdown for all.

use std::{io::IsTerminal, process::ExitCode, sync::Arc, time::Duration};

use anyhow::{Context, anyhow};
use secrecy::ExposeSecret;
use sora_bot::{
    bot::{self, Albums, AppState, Gate},
    config::{Config, ImageMode},
    discovery,
    dispatch::Dispatch,
    health_probe,
    http::{self, HttpState},
    images::ImageUrls,
    leader::{self, PollerElection, PollingErrors},
    media_proxy::MediaProxy,
    metrics,
    models::live::Models,
    net_guard::GuardedClient,
    store::Store,
    telegram::Telegram,
    updates,
    video_api::VideoApi,
    watcher::{QueryBudget, Watcher, WatcherConfig},
    webhook,
};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing_subscriber::{filter::Targets, layer::SubscriberExt, util::SubscriberInitExt};

/// How long the start waits for the video API's first model listing.
const FIRST_LISTING_WAIT: Duration = Duration::from_secs(5);

/// How long a stopping bot waits for queued answers (one a second per chat).
const OUTBOX_FLUSH_LIMIT: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("healthcheck") {
        return healthcheck();
    }
    // A missing .env is fine; a malformed one is a configuration error.
    if let Err(error) = dotenvy::dotenv()
        && !error.not_found()
    {
        eprintln!("sora-bot: configuration error: .env: {error}");
        return ExitCode::from(2);
    }
    // `target=level` lists (`info`, `warn,sora_bot=debug`); a bad one means `info`.
    let log_filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|filter| filter.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO));
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_ansi(std::io::stderr().is_terminal()).with_writer(std::io::stderr))
        .with(log_filter)
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
            // `{:#}` prints the chain: "database: connection refused".
            tracing::error!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

/// `sora-bot healthcheck`: for container health checks (see `health_probe`).
fn healthcheck() -> ExitCode {
    let _ = dotenvy::dotenv();
    let bind = std::env::var("HTTP_BIND").ok();
    match health_probe::target(bind.as_deref()).and_then(health_probe::probe) {
        Ok(()) => ExitCode::SUCCESS,
        Err(problem) => {
            eprintln!("sora-bot healthcheck: {problem}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> anyhow::Result<()> {
    let config = Arc::new(config);
    // Before the database is touched: a second process on one SQLite file refuses to start.
    let _sqlite_lock =
        leader::lock_sqlite(config.database_url.expose_secret()).map_err(|cause| anyhow!("DATABASE_URL: {cause}"))?;
    let prometheus = metrics::install();
    let store =
        Store::open(config.database_url.expose_secret()).await.map_err(|cause| anyhow!("DATABASE_URL: {cause}"))?;
    let telegram = Telegram::new(&config);
    let api = VideoApi::new(config.video_api_base_url.as_str(), config.video_api_key.clone())
        .with_timeouts(config.video_api_timeout, sora_bot::video_api::DEFAULT_QUERY_TIMEOUT);
    if config.image_mode == ImageMode::Telegram {
        tracing::warn!("IMAGE_MODE=telegram: photo URLs sent to the video API contain the bot token");
    }
    let images = ImageUrls::new(&config, telegram.files.clone(), store.clone());
    let owner = format!("{}-{:08x}", std::process::id(), rand::random::<u32>());
    if store.is_shared() {
        // Before any task is leased to this replica: a lease names a replica,
        // and is free once that replica's heartbeat is old.
        store.heartbeat(&owner).await.map_err(|cause| anyhow!("DATABASE_URL: {cause}"))?;
    }
    let tracker = TaskTracker::new();
    let listing = Arc::new(sora_bot::models::listing::Listing::new());
    let models = Arc::new(Models::new(config.models.clone(), config.default_model, listing.clone()));
    let queries = QueryBudget::new(config.video_api_queries_per_second, config.poll_interval);
    let state = Arc::new(AppState {
        config: config.clone(),
        models: models.clone(),
        store: store.clone(),
        api: api.clone(),
        telegram: telegram.clone(),
        images: images.clone(),
        albums: Albums::default(),
        tracker: tracker.clone(),
        owner: owner.clone(),
        queries: queries.clone(),
    });

    let listener = http::bind(config.http_bind).await.map_err(|error| match error.kind() {
        std::io::ErrorKind::AddrInUse => {
            anyhow!("HTTP_BIND: {} is already in use by another process", config.http_bind)
        }
        _ => anyhow!("HTTP_BIND: cannot listen on {}: {error}", config.http_bind),
    })?;
    let media = MediaProxy::new(telegram.files.clone());
    let http_state =
        HttpState { store: store.clone(), media, metrics: prometheus, metrics_token: config.metrics_token.clone() };
    let mut app = http::router(Arc::new(http_state));
    let max_connections = config.http_max_connections;

    let payments = config.payments.is_some();
    if let Err(error) = bot::register_commands(&telegram, payments).await {
        tracing::warn!(%error, "setMyCommands failed; the command menu may be stale");
    }

    let shutdown = CancellationToken::new();
    let watcher = Watcher::new(
        store.clone(),
        api.clone(),
        telegram.clone(),
        // The video API may run on a private network; its own video URLs may point there too.
        GuardedClient::new(Some(&config.video_api_base_url)),
        WatcherConfig {
            owner,
            poll_interval: config.poll_interval,
            task_timeout: config.task_timeout,
            unknown_hold: config.unknown_hold,
            queries_per_second: config.video_api_queries_per_second,
            exclusive: !store.is_shared(),
            catalog: config.models.clone(),
        },
    )
    .with_budget(queries);
    let watcher = tokio::spawn(watcher.run(shutdown.clone()));
    tokio::spawn(discovery::run(api, listing.clone(), discovery::LISTING_EVERY, shutdown.clone(), {
        let models = models.clone();
        move |_, _| models.log_default()
    }));
    // The first requests should get a default the video API serves; a relay
    // that does not answer its listing only delays the start this long.
    if tokio::time::timeout(FIRST_LISTING_WAIT, listing.first_answer()).await.is_err() {
        tracing::info!("the video API has not listed its models yet; starting with the configured ones");
    }
    models.log_default();

    // The gate needs the bot's username to tell our commands from other bots'.
    let me = telegram.me().await.context("getMe")?;
    let gate = Gate::new(config.clone(), telegram.clone(), me.username(), me.id.0);
    let stopping = CancellationToken::new();
    tokio::spawn({
        let stopping = stopping.clone();
        async move {
            updates::wait_for_signal().await;
            tracing::info!("stopping: no new updates, finishing what is in flight");
            stopping.cancel();
        }
    });

    let webhook_url = match (&config.public_base_url, &config.webhook_secret) {
        (Some(public), Some(_)) => Some(public.join("telegram/webhook").context("PUBLIC_BASE_URL")?),
        _ => None,
    };
    let mut webhook = None;
    if let (Some(url), Some(secret)) = (&webhook_url, &config.webhook_secret) {
        // Left in place on stop: other replicas sharing the token still use it.
        webhook::register(&telegram.bot, url.clone(), secret, bot::handled_updates(payments))
            .await
            .context("setWebhook")?;
        let (router, updates) = webhook::listener(url.path(), secret.clone());
        app = app.merge(router);
        webhook = Some(updates);
    }
    let server = tokio::spawn(http::serve(listener, app, max_connections, shutdown.clone().cancelled_owned()));
    let dispatch = Dispatch::new(
        bot::schema(),
        teloxide::dptree::deps![state, me, telegram.bot.clone()],
        bot::handled_updates(payments),
    )
    .on_overflow({
        let gate = gate.clone();
        move |update| gate.overflowed(update)
    })
    .on_failure({
        let gate = gate.clone();
        move |context| gate.failed(context)
    });
    match webhook {
        Some(updates) => updates::by_webhook(&dispatch, &gate, updates, stopping.cancelled()).await,
        None if !store.is_shared() => {
            updates::poll(&telegram, &dispatch, &gate, PollingErrors::new(), stopping.cancelled()).await;
        }
        None => {
            // Replicas of one bot on one PostgreSQL database: only the holder of the poller lock polls.
            let key = leader::poller_lock_key(config.telegram_api_url.as_str(), config.telegram_token.expose_secret());
            let election = PollerElection::new(config.database_url.expose_secret(), key);
            updates::poll_while_leader(&telegram, &dispatch, &gate, election, &stopping).await;
        }
    }
    shut_down_in_order(tracker, telegram, shutdown, watcher, server, store).await;
    tracing::info!("stopped");
    Ok(())
}

/// After the dispatcher stopped: let submissions finish and queued answers go
/// out, then stop the watcher (it releases its leases), then the HTTP server.
/// Open tasks stay open.
async fn shut_down_in_order(
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
    // A press's request is submitted from the outbox, once its "requested by"
    // post is out: a create started there must finish too.
    tracker.wait().await;
    shutdown.cancel();
    let _ = watcher.await;
    let _ = server.await;
    store.close().await;
}
