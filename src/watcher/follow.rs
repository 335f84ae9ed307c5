//! Following one task through a round: ask the video API, show progress,
//! deliver the video or report the failure, and end the task.
//!
//! Every poll is spawned as one `follow` future, whose size is that of its
//! largest path, moved and allocated on each spawn. The rare paths (a
//! delivery, a message to Telegram) are boxed, so most polls carry 3.4 KB of
//! state instead of a delivery's 9 KB.

use std::time::Instant;

use super::{
    Inner,
    decide::{Step, decide, delivery_expired, should_edit},
};
use crate::{
    delivery, metrics, status_message,
    store::now_ms,
    task::{Task, TaskState},
    texts,
};

impl Inner {
    pub(super) async fn follow(&self, task: Task) {
        match task.state {
            // Delivery began but did not finish (failed last round, or the bot was
            // restarted in the middle of it): deliver again. After a restart a video
            // that was sent just before the crash may arrive twice; that window is
            // the send itself, and we prefer it to a video never delivered.
            TaskState::Delivering if task.is_silenced() => self.end_silenced(task, None, false).await,
            TaskState::Delivering => match task.video_url.clone() {
                Some(url) if !delivery_expired(&task, now_ms()) => Box::pin(self.deliver(task, &url)).await,
                _ => self.give_up_delivery(task, "the video could not be delivered").await,
            },
            TaskState::Running => self.poll(task).await,
            _ => {}
        }
    }

    async fn poll(&self, mut task: Task) {
        let Some(upstream_id) = task.upstream_id.clone() else {
            tracing::warn!("running task without an upstream id");
            return;
        };
        let started = Instant::now();
        let report = self.api.query(&upstream_id).await;
        metrics::video_api_latency("query", started.elapsed());
        if let Err(error) = &report {
            // ApiError messages are scrubbed of secrets.
            if error.is_transient() {
                tracing::info!(kind = error.kind(), %error, "query failed; trying again next round");
            } else {
                tracing::warn!(kind = error.kind(), %error, "query failed; trying again until the task times out");
            }
        }
        let now = now_ms();
        let no_video_in_a_row =
            self.no_video.lock().unwrap_or_else(|e| e.into_inner()).observe(task.id, report.as_ref(), now);
        let step = decide(&task, report.as_ref(), no_video_in_a_row, now, self.config.task_timeout);
        if task.is_silenced() {
            return Box::pin(self.follow_silenced(task, step)).await;
        }
        match step {
            Step::Retry => {}
            Step::Running { status, progress_pct, changed } => {
                if changed {
                    if let Err(error) = self.store.record_progress(task.id, status, progress_pct).await {
                        tracing::warn!(%error, "could not record progress");
                        return;
                    }
                    task.upstream_status = Some(status.to_owned());
                    task.progress_pct = progress_pct;
                }
                Box::pin(self.show_progress(&task, now)).await;
            }
            Step::Deliver { status, video_url } => match self.store.begin_delivery(task.id, status, video_url).await {
                Ok(true) => {
                    tracing::info!("video ready");
                    task.state = TaskState::Delivering;
                    task.upstream_status = Some(status.to_owned());
                    task.video_url = Some(video_url.to_owned());
                    task.progress_pct = Some(100);
                    Box::pin(self.deliver(task, video_url)).await;
                }
                Ok(false) => {} // cancelled meanwhile, or delivery already began elsewhere
                Err(error) => tracing::warn!(%error, "could not begin delivery"),
            },
            Step::Fail { reason } => {
                tracing::info!(reason, "task failed upstream");
                if Box::pin(self.end_and_show(&mut task, TaskState::Failed, reason)).await {
                    Box::pin(self.reply(&task, &texts::task_failed(task.lang, &task, reason))).await;
                }
            }
            Step::TimeOut => {
                tracing::info!("task timed out");
                if Box::pin(self.end_and_show(&mut task, TaskState::TimedOut, None)).await {
                    let minutes = self.config.task_timeout.as_secs().div_ceil(60);
                    Box::pin(self.reply(&task, &texts::task_timed_out(task.lang, &task, minutes))).await;
                }
            }
        }
    }

    /// Edits the status message to the current progress when it changed and the
    /// last edit is old enough; otherwise a later round shows it.
    async fn show_progress(&self, task: &Task, now: i64) {
        if !should_edit(task, &status_message::render(task.lang, task).text, now) {
            return;
        }
        let Some(message_id) = task.status_msg_id else { return };
        // `/cancel` may have silenced it while we queried: its text must stay.
        if !matches!(self.store.task(task.id).await, Ok(Some(current)) if current.state == TaskState::Running && !current.is_silenced())
        {
            return;
        }
        if let Err(error) = status_message::show(&self.telegram, &self.store, task, task.chat_id, message_id).await {
            tracing::info!(task = task.id, %error, "status message not edited; trying again later");
        }
    }

    async fn deliver(&self, mut task: Task, video_url: &str) {
        let buttons = crate::keyboards::video(task.lang, &task, &self.config.catalog);
        match delivery::deliver(&self.telegram, &self.http, &task, video_url, &buttons).await {
            Ok((how, file_id)) => {
                metrics::delivered(how.as_str());
                tracing::info!(how = how.as_str(), "video delivered");
                if let Some(file_id) = file_id
                    && let Err(error) = self.store.set_video_file_id(task.id, &file_id).await
                {
                    tracing::warn!(%error, "could not store the video's file id (inline sharing)");
                }
                self.end_and_show(&mut task, TaskState::Done, None).await;
            }
            Err(error) if error.is_permanent() => {
                tracing::warn!(%error, "video cannot be delivered to this chat");
                self.give_up_delivery(task, &error.to_string()).await;
            }
            Err(error) => tracing::warn!(%error, "video not delivered; trying again next round"),
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
                    tracing::warn!(%error, "could not record progress");
                }
            }
            Step::Running { .. } => {}
            Step::Deliver { .. } => self.end_silenced(task, None, false).await,
            Step::Fail { reason } => self.end_silenced(task, reason, true).await,
            Step::TimeOut => self.end_silenced(task, Some("timed out"), true).await,
        }
    }

    /// `not_made`: it failed or timed out, so its credits go back (one that was
    /// made was paid for, watched or not).
    async fn end_silenced(&self, task: Task, reason: Option<&str>, not_made: bool) {
        match self.store.end_task_giving_back(task.id, TaskState::Cancelled, reason, not_made).await {
            Ok((true, _)) => tracing::info!("cancelled task ended upstream; its slot is free"),
            Ok((false, _)) => {}
            Err(error) => {
                tracing::warn!(%error, "could not end a cancelled task; trying again next round")
            }
        }
    }

    async fn give_up_delivery(&self, mut task: Task, why: &str) {
        tracing::warn!(why, "giving up delivery");
        self.end_and_show(&mut task, TaskState::Failed, Some(why)).await;
    }

    /// Ends the task unless something else (e.g. `/cancel`) ended it first, and
    /// shows the final state in its status message. Returns whether this call ended it.
    async fn end_and_show(&self, task: &mut Task, state: TaskState, error: Option<&str>) -> bool {
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
        status_message::show_final(&self.telegram, task).await;
        true
    }

    /// A reply to the task's command.
    async fn reply(&self, task: &Task, text: &str) {
        if let Err(error) = self.telegram.reply(task.chat_id, task.command_msg_id, text).await {
            tracing::warn!(%error, "could not send the final message");
        }
    }
}
