//! The background task that follows open tasks: polls the video API, edits each
//! task's status message, delivers finished videos and reports failures and
//! timeouts. Handlers never wait for a task (PITFALLS 1); this does.

mod decide;
mod rounds;

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use tokio_util::task::TaskTracker;

pub use decide::{DELIVERY_GIVE_UP, MIN_EDIT_GAP};
use decide::{Step, decide, delivery_expired, lease_ttl, millis, should_edit};
use rounds::Rounds;

use crate::{
    delivery, metrics,
    net_guard::GuardedClient,
    store::{Store, now_ms},
    task::{Task, TaskState},
    telegram::Telegram,
    texts::{self, Lang},
    video_api::VideoApi,
};

pub struct WatcherConfig {
    /// Lease owner name of this process (the same one handlers lease new tasks to).
    pub owner: String,
    pub poll_interval: Duration,
    pub task_timeout: Duration,
    /// Per process: the most task queries (or deliveries) started per second.
    /// Tasks followed at the same time are sized from it.
    pub queries_per_second: u32,
    /// SQLite: only one process, so take over every lease at start.
    pub exclusive: bool,
}

pub struct Watcher {
    inner: Arc<Inner>,
    rounds: Rounds,
}

struct Inner {
    store: Store,
    api: VideoApi,
    telegram: Telegram,
    /// Video downloads: public addresses or the video API's own origin only.
    http: GuardedClient,
    config: WatcherConfig,
    /// Unix ms: on SQLite, a create still `submitting` from before this was
    /// cut off by the previous run's end.
    started_at: i64,
    /// Tasks being handled now. A delivery can outlast the poll interval, and a
    /// second one started meanwhile would send the video twice.
    in_flight: Mutex<HashSet<i64>>,
}

impl Watcher {
    pub fn new(store: Store, api: VideoApi, telegram: Telegram, http: GuardedClient, config: WatcherConfig) -> Self {
        let started_at = now_ms();
        let rounds = Rounds::new(&config);
        Watcher {
            inner: Arc::new(Inner {
                store,
                api,
                telegram,
                http,
                config,
                started_at,
                in_flight: Mutex::new(HashSet::new()),
            }),
            rounds,
        }
    }

    /// How long a lease lasts unless renewed: max(3 × poll interval, 30 s). The
    /// watcher renews every third of it; handlers lease new tasks for as long.
    pub fn lease_ttl(poll_interval: Duration) -> Duration {
        lease_ttl(poll_interval)
    }
}

/// Marks a task as being handled until dropped (also if its future panics).
struct InFlight {
    inner: Arc<Inner>,
    id: i64,
}

impl InFlight {
    fn enter(inner: &Arc<Inner>, id: i64) -> Option<Self> {
        let fresh = inner.in_flight.lock().unwrap_or_else(|e| e.into_inner()).insert(id);
        fresh.then(|| InFlight { inner: inner.clone(), id })
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.inner.in_flight.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.id);
    }
}

impl Inner {
    /// Renews our leases (and takes free or expired ones). The first call in
    /// exclusive mode takes over every open task, so that a restart after a crash
    /// resumes at once instead of waiting for the dead process's leases to run out.
    /// Returns how many open tasks we hold, or `None` if the database failed.
    async fn renew_leases(&self, ttl: Duration, taken_over: &mut bool) -> Option<u64> {
        let owner = &self.config.owner;
        let until = now_ms() + millis(ttl);
        let result = if *taken_over {
            self.store.claim_open_tasks(owner, until).await
        } else {
            self.store.take_over_all(owner, until).await
        };
        match result {
            Ok(count) => {
                if !*taken_over {
                    tracing::info!(count, "took over every open task");
                    *taken_over = true;
                }
                if let Ok(open) = self.store.count_open().await {
                    metrics::open_tasks(open);
                }
                Some(count)
            }
            Err(error) => {
                tracing::warn!(%error, "could not renew task leases");
                None
            }
        }
    }

    /// Tells the users of creates cut off by a crash that their video's state
    /// is unknown, as soon as that is certain (see `Store::expire_cut_off_creates`).
    async fn report_cut_off_creates(self: &Arc<Self>, tracker: &TaskTracker) {
        let expired = match self.store.expire_cut_off_creates(self.started_at).await {
            Ok(expired) => expired,
            Err(error) => {
                tracing::warn!(%error, "could not look for cut-off creates");
                return;
            }
        };
        for task in expired {
            tracing::warn!(
                task = task.id,
                "create was cut off by a crash or restart; outcome unknown, counted, not retried"
            );
            let inner = self.clone();
            // Spawned: a 429 wait must not hold up the round.
            tracker.spawn(async move {
                let text = texts::lost_after_restart(lang(&task), &task);
                if let Err(error) = inner.telegram.reply(task.chat_id, task.command_msg_id, &text).await {
                    tracing::warn!(task = task.id, %error, "could not tell the user about the lost task");
                }
            });
        }
    }

    async fn follow(&self, task: Task) {
        match task.state {
            // Delivery began but did not finish (failed last round, or the bot was
            // restarted in the middle of it): deliver again. After a restart a video
            // that was sent just before the crash may arrive twice; that window is
            // the send itself, and we prefer it to a video never delivered.
            TaskState::Delivering if task.is_silenced() => self.end_silenced(task, None).await,
            TaskState::Delivering => match task.video_url.clone() {
                Some(url) if !delivery_expired(&task, now_ms()) => self.deliver(task, &url).await,
                _ => self.give_up_delivery(task, "the video could not be delivered").await,
            },
            TaskState::Running => self.poll(task).await,
            _ => {}
        }
    }

    async fn poll(&self, mut task: Task) {
        let Some(upstream_id) = task.upstream_id.clone() else {
            tracing::warn!(task = task.id, "running task without an upstream id");
            return;
        };
        let started = Instant::now();
        let report = self.api.query(&upstream_id).await;
        metrics::video_api_latency("query", started.elapsed());
        if let Err(error) = &report {
            // ApiError messages are scrubbed of secrets.
            if error.is_transient() {
                tracing::info!(task = task.id, kind = error.kind(), %error, "query failed; trying again next round");
            } else {
                tracing::warn!(task = task.id, kind = error.kind(), %error, "query failed; trying again until the task times out");
            }
        }
        let now = now_ms();
        let step = decide(&task, report.as_ref(), now, self.config.task_timeout);
        if task.is_silenced() {
            return self.follow_silenced(task, step).await;
        }
        match step {
            Step::Retry => {}
            Step::Running { status, progress_pct, changed } => {
                if changed {
                    if let Err(error) = self.store.record_progress(task.id, status, progress_pct).await {
                        tracing::warn!(task = task.id, %error, "could not record progress");
                        return;
                    }
                    task.upstream_status = Some(status.to_owned());
                    task.progress_pct = progress_pct;
                }
                self.show_progress(&task, now).await;
            }
            Step::Deliver { status, video_url } => match self.store.begin_delivery(task.id, status, video_url).await {
                Ok(true) => {
                    tracing::info!(task = task.id, "video ready");
                    task.state = TaskState::Delivering;
                    task.upstream_status = Some(status.to_owned());
                    task.video_url = Some(video_url.to_owned());
                    task.progress_pct = Some(100);
                    self.deliver(task, video_url).await;
                }
                Ok(false) => {} // cancelled meanwhile, or delivery already began elsewhere
                Err(error) => tracing::warn!(task = task.id, %error, "could not begin delivery"),
            },
            Step::Fail { reason } => {
                tracing::info!(task = task.id, reason, "task failed upstream");
                if self.end(&mut task, TaskState::Failed, reason).await {
                    self.tell(&task, &texts::task_failed(lang(&task), &task, reason)).await;
                }
            }
            Step::TimeOut => {
                tracing::info!(task = task.id, "task timed out");
                if self.end(&mut task, TaskState::TimedOut, None).await {
                    let minutes = self.config.task_timeout.as_secs().div_ceil(60);
                    self.tell(&task, &texts::task_timed_out(lang(&task), &task, minutes)).await;
                }
            }
        }
    }

    /// Edits the status message to the current progress when it changed and the
    /// last edit is old enough; otherwise a later round shows it.
    async fn show_progress(&self, task: &Task, now: i64) {
        let text = texts::task_status(lang(task), task);
        if !should_edit(task, &text, now) {
            return;
        }
        let Some(message_id) = task.status_msg_id else { return };
        // `/cancel` may have silenced it while we queried: its text must stay.
        if !matches!(self.store.task(task.id).await, Ok(Some(current)) if current.state == TaskState::Running && !current.is_silenced())
        {
            return;
        }
        match self
            .telegram
            .edit_with_keyboard(task.chat_id, message_id, &text, crate::keyboards::status(lang(task), task))
            .await
        {
            Ok(()) => {}
            // Refused for good (e.g. the message was deleted): record it anyway so
            // the same doomed edit is not repeated every round.
            Err(teloxide::RequestError::Api(error)) => {
                tracing::info!(task = task.id, %error, "status message not edited")
            }
            Err(error) => {
                tracing::info!(task = task.id, %error, "status message not edited; trying again later");
                return;
            }
        }
        if let Err(error) = self.store.mark_shown(task.id, &text).await {
            tracing::warn!(task = task.id, %error, "could not record the shown status");
        }
    }

    async fn deliver(&self, mut task: Task, video_url: &str) {
        match delivery::deliver(&self.telegram, &self.http, &task, video_url).await {
            Ok((how, file_id)) => {
                metrics::delivered(how.as_str());
                tracing::info!(task = task.id, how = how.as_str(), "video delivered");
                if let Some(file_id) = file_id
                    && let Err(error) = self.store.set_video_file_id(task.id, &file_id).await
                {
                    tracing::warn!(task = task.id, %error, "could not store the video's file id (inline sharing)");
                }
                self.end(&mut task, TaskState::Done, None).await;
            }
            Err(error) if error.is_permanent() => {
                tracing::warn!(task = task.id, %error, "video cannot be delivered to this chat");
                self.give_up_delivery(task, &error.to_string()).await;
            }
            Err(error) => tracing::warn!(task = task.id, %error, "video not delivered; trying again next round"),
        }
    }

    /// A task stopped with /cancel is still followed, silently, because it
    /// keeps its active slot until the API ends it; then it ends as cancelled,
    /// without a video or a message.
    async fn follow_silenced(&self, task: Task, step: Step<'_>) {
        match step {
            Step::Retry => {}
            Step::Running { status, progress_pct, changed: true } => {
                if let Err(error) = self.store.record_progress(task.id, status, progress_pct).await {
                    tracing::warn!(task = task.id, %error, "could not record progress");
                }
            }
            Step::Running { .. } => {}
            Step::Deliver { .. } => self.end_silenced(task, None).await,
            Step::Fail { reason } => self.end_silenced(task, reason).await,
            Step::TimeOut => self.end_silenced(task, Some("timed out")).await,
        }
    }

    async fn end_silenced(&self, task: Task, reason: Option<&str>) {
        match self.store.end_task(task.id, TaskState::Cancelled, reason).await {
            Ok(true) => tracing::info!(task = task.id, "cancelled task ended upstream; its slot is free"),
            Ok(false) => {}
            Err(error) => {
                tracing::warn!(task = task.id, %error, "could not end a cancelled task; trying again next round")
            }
        }
    }

    async fn give_up_delivery(&self, mut task: Task, why: &str) {
        tracing::warn!(task = task.id, why, "giving up delivery");
        self.end(&mut task, TaskState::Failed, Some(why)).await;
    }

    /// Ends the task unless something else (e.g. `/cancel`) ended it first, and
    /// shows the final state in its status message. Returns whether this call ended it.
    async fn end(&self, task: &mut Task, state: TaskState, error: Option<&str>) -> bool {
        match self.store.end_task(task.id, state, error).await {
            Ok(true) => {}
            Ok(false) => return false,
            Err(error) => {
                // Still open: the next round tries again.
                tracing::warn!(task = task.id, %error, "could not record the end of the task");
                return false;
            }
        }
        task.state = state;
        task.error = error.map(str::to_owned);
        if let Some(message_id) = task.status_msg_id {
            // A final state is shown once, whatever the edit gap.
            let text = texts::task_status(lang(task), task);
            if let Err(error) = self.telegram.edit(task.chat_id, message_id, &text).await {
                tracing::info!(task = task.id, %error, "final status not shown");
            }
        }
        true
    }

    /// A reply to the task's command.
    async fn tell(&self, task: &Task, text: &str) {
        if let Err(error) = self.telegram.reply(task.chat_id, task.command_msg_id, text).await {
            tracing::warn!(task = task.id, %error, "could not send the final message");
        }
    }
}

fn lang(task: &Task) -> Lang {
    Lang::from_code(Some(&task.lang))
}

#[cfg(test)]
mod tests;
