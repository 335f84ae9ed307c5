//! The composition root: builds every part of the bot from its configuration
//! (store, clients, watcher, HTTP server, dispatch, model discovery, poller
//! election) and runs them under one shutdown. `main` and the tests that need
//! no separate process build the bot the same way.
//!
//! Whether the database is shared by replicas (PostgreSQL) decides three
//! things here, and nowhere else outside the store: the heartbeat before the
//! first lease, whether the watcher may assume it is alone, and whether
//! polling needs the poller lock.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::{Context, anyhow};
use axum::Router;
use secrecy::ExposeSecret;
use teloxide::types::Me;
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    bot::{self, AppState, Gate},
    config::{Config, ImageMode},
    discovery,
    dispatch::Dispatch,
    http::{self, HttpState},
    images::ImageUrls,
    leader::{self, PollerElection, PollingErrors, SqliteLock},
    media_proxy::MediaProxy,
    metrics,
    models::{listing::Listing, live::Models},
    net_guard::GuardedClient,
    store::Store,
    telegram::Telegram,
    updates,
    video_api::{self, VideoApi},
    watcher::{QueryBudget, Watcher, WatcherConfig},
    webhook,
};

/// How long the start waits for the video API's first model listing.
const FIRST_LISTING_WAIT: Duration = Duration::from_secs(5);

/// How long a stopping bot waits for queued answers (one a second per chat).
const OUTBOX_FLUSH_LIMIT: Duration = Duration::from_secs(10);

/// The bot, built and not yet receiving updates.
pub struct App {
    config: Arc<Config>,
    /// Held while the bot runs: a second process on one SQLite file refuses to start.
    _sqlite_lock: Option<SqliteLock>,
    store: Store,
    telegram: Telegram,
    api: VideoApi,
    state: Arc<AppState>,
    listing: Arc<Listing>,
    /// Submissions and other work started by handlers, finished before the watcher stops.
    tracker: TaskTracker,
    watcher: Watcher,
    listener: TcpListener,
    router: Router,
}

/// What runs beside the dispatcher until the end.
struct Background {
    shutdown: CancellationToken,
    watcher: JoinHandle<()>,
    server: JoinHandle<()>,
}

impl App {
    /// Opens the database (proving it takes a write), makes the clients and
    /// binds the HTTP port. Nothing is asked of Telegram yet. An error names
    /// the variable to fix.
    pub async fn build(config: Config) -> anyhow::Result<App> {
        let config = Arc::new(config);
        // Before the database is touched.
        let sqlite_lock = leader::lock_sqlite(config.database_url.expose_secret())
            .map_err(|cause| anyhow!("DATABASE_URL: {cause}"))?;
        let prometheus = metrics::install();
        let store =
            Store::open(config.database_url.expose_secret()).await.map_err(|cause| anyhow!("DATABASE_URL: {cause}"))?;
        let telegram = Telegram::new(&config);
        let api = VideoApi::new(config.video_api_base_url.as_str(), config.video_api_key.clone())
            .with_timeouts(config.video_api_timeout, video_api::DEFAULT_QUERY_TIMEOUT);
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
        let listing = Arc::new(Listing::new());
        let models = Arc::new(Models::new(config.models.clone(), config.default_model, listing.clone()));
        let queries = QueryBudget::new(config.video_api_queries_per_second, config.poll_interval);
        let watcher = Watcher::new(
            store.clone(),
            api.clone(),
            telegram.clone(),
            // The video API may run on a private network; its own video URLs may point there too.
            GuardedClient::new(Some(&config.video_api_base_url)),
            WatcherConfig {
                owner: owner.clone(),
                poll_interval: config.poll_interval,
                task_timeout: config.task_timeout,
                unknown_hold: config.unknown_hold,
                queries_per_second: config.video_api_queries_per_second,
                exclusive: !store.is_shared(),
                catalog: config.models.clone(),
            },
        )
        .with_budget(queries.clone());
        let state = Arc::new(AppState {
            config: config.clone(),
            models,
            store: store.clone(),
            api: api.clone(),
            telegram: telegram.clone(),
            images,
            tracker: tracker.clone(),
            submissions: tokio::sync::Semaphore::new(crate::bot::SUBMISSIONS_AT_ONCE),
            owner,
            queries,
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
        let router = http::router(Arc::new(http_state));
        Ok(App {
            config,
            _sqlite_lock: sqlite_lock,
            store,
            telegram,
            api,
            state,
            listing,
            tracker,
            watcher,
            listener,
            router,
        })
    }

    /// Where the HTTP server listens (the port the system chose for `:0`).
    pub fn http_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// Starts the watcher, the model listing and the HTTP server, then
    /// receives updates until `stopping` is cancelled; then finishes what is
    /// in flight and stops everything in order. Open tasks stay open.
    pub async fn run(self, stopping: CancellationToken) -> anyhow::Result<()> {
        let payments = self.config.payments.is_some();
        if let Err(error) = bot::register_commands(&self.telegram, payments).await {
            tracing::warn!(%error, "setMyCommands failed; the command menu may be stale");
        }
        let shutdown = CancellationToken::new();
        let watcher = tokio::spawn(self.watcher.run(shutdown.clone()));
        discover_models(self.api, &self.listing, &self.state.models, &shutdown).await;

        // The gate needs the bot's username to tell our commands from other bots'.
        let me = self.telegram.me().await.context("getMe")?;
        let gate = Gate::new(self.config.clone(), self.telegram.clone(), me.username(), me.id.0);
        let webhook_url = match (&self.config.public_base_url, &self.config.webhook_secret) {
            (Some(public), Some(_)) => Some(public.join("telegram/webhook").context("PUBLIC_BASE_URL")?),
            _ => None,
        };
        let mut router = self.router;
        let mut webhook = None;
        if let (Some(url), Some(secret)) = (&webhook_url, &self.config.webhook_secret) {
            // Left in place on stop: other replicas sharing the token still use it.
            webhook::register(&self.telegram.bot, url.clone(), secret, bot::handled_updates(payments))
                .await
                .context("setWebhook")?;
            let (route, updates) = webhook::listener(url.path(), secret.clone());
            router = router.merge(route);
            webhook = Some(updates);
        }
        let server = tokio::spawn(http::serve(
            self.listener,
            router,
            self.config.http_max_connections,
            shutdown.clone().cancelled_owned(),
        ));
        let background = Background { shutdown, watcher, server };
        let dispatch = dispatch(&self.state, &gate, me, &self.telegram, payments);
        match webhook {
            Some(updates) => updates::by_webhook(&dispatch, &gate, updates, stopping.cancelled()).await,
            None if !self.store.is_shared() => {
                let errors = PollingErrors::new();
                updates::poll(&self.telegram, &dispatch, &gate, errors, stopping.cancelled()).await;
            }
            None => {
                // Replicas of one bot on one PostgreSQL database: only the holder of the poller lock polls.
                let config = &self.config;
                let key =
                    leader::poller_lock_key(config.telegram_api_url.as_str(), config.telegram_token.expose_secret());
                let election = PollerElection::new(config.database_url.expose_secret(), key);
                updates::poll_while_leader(&self.telegram, &dispatch, &gate, election, &stopping).await;
            }
        }
        shut_down_in_order(self.tracker, self.telegram, background, self.store).await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// The handler tree with what its handlers are given; an update it drops or
/// fails on is answered through the gate.
fn dispatch(
    state: &Arc<AppState>,
    gate: &Arc<Gate>,
    me: Me,
    telegram: &Telegram,
    payments: bool,
) -> Dispatch<bot::HandlerError> {
    let deps = teloxide::dptree::deps![state.clone(), me, telegram.bot.clone()];
    Dispatch::new(bot::schema(payments), deps, bot::handled_updates(payments))
        .on_overflow({
            let gate = gate.clone();
            move |update| gate.overflowed(update)
        })
        .on_failure({
            let gate = gate.clone();
            move |context| gate.failed(context)
        })
}

/// After the dispatcher stopped: let submissions finish and queued answers go
/// out, then stop the watcher (it releases its leases), then the HTTP server.
async fn shut_down_in_order(tracker: TaskTracker, telegram: Telegram, background: Background, store: Store) {
    tracker.close();
    tracker.wait().await;
    telegram.flush_outbox(OUTBOX_FLUSH_LIMIT).await;
    // A press's request is submitted from the outbox, once its "requested by"
    // post is out: a create started there must finish too.
    tracker.wait().await;
    background.shutdown.cancel();
    let _ = background.watcher.await;
    let _ = background.server.await;
    store.close().await;
}

/// Follows the video API's model listing in the background; the first
/// requests should get a default the video API serves, so the start waits a
/// little for the first listing.
async fn discover_models(api: VideoApi, listing: &Arc<Listing>, models: &Arc<Models>, shutdown: &CancellationToken) {
    tokio::spawn(discovery::run(api, listing.clone(), discovery::LISTING_EVERY, shutdown.clone(), {
        let models = models.clone();
        move |_, _| models.log_default()
    }));
    // A relay that does not answer its listing only delays the start this long.
    if tokio::time::timeout(FIRST_LISTING_WAIT, listing.first_answer()).await.is_err() {
        tracing::info!("the video API has not listed its models yet; starting with the configured ones");
    }
    models.log_default();
}
