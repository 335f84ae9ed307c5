//! One `/video` request from reservation to the status reply:
//! store → image URLs → paid create → store outcome → reply. Runs off the
//! dispatcher (PITFALLS 1), so no chat waits for another's create call.

use std::time::Instant;

use crate::{
    command::VideoRequest,
    metrics,
    store::{Lease, Reservation, now_ms},
    task::{NewTask, TaskState},
    texts::{self, Lang},
    video_api::{ApiError, CreateRequest},
};

use super::AppState;

#[derive(Debug, Clone)]
pub struct Submission {
    pub chat_id: i64,
    pub user_id: i64,
    pub command_msg_id: i32,
    pub lang: Lang,
    pub request: VideoRequest,
    pub image_file_ids: Vec<String>,
}

pub async fn submit(state: &AppState, submission: Submission) {
    let Submission { chat_id, user_id, command_msg_id, lang, request, image_file_ids } = submission;
    let answer = |text: String| async move {
        if let Err(error) = state.telegram.reply(chat_id, command_msg_id, &text).await {
            tracing::warn!(chat_id, %error, "could not answer a /video command");
        }
    };

    let new = NewTask {
        chat_id,
        user_id,
        command_msg_id,
        lang: lang.code().to_owned(),
        prompt: request.prompt,
        options: request.options,
        image_file_ids,
    };
    let lease = Lease { owner: &state.owner, until: now_ms() + state.lease_ttl.as_millis() as i64 };
    let admin = state.config.access.is_admin(user_id);
    let id = match state.store.reserve(&new, &state.config.limits, admin, &lease).await {
        Ok(Reservation::Reserved(id)) => id,
        Ok(Reservation::Duplicate) => {
            tracing::info!(chat_id, command_msg_id, "command seen before, not creating it again");
            return;
        }
        Ok(Reservation::Refused(refusal)) => {
            metrics::create_outcome("refused");
            tracing::info!(user_id, ?refusal, "request refused by the cost guards");
            return answer(texts::refusal(lang, refusal, now_ms())).await;
        }
        Err(error) => {
            tracing::error!(%error, "could not store a request");
            return answer(texts::internal_error(lang)).await;
        }
    };

    let image_urls = match state.images.urls(&new.image_file_ids).await {
        Ok(urls) => urls,
        Err(error) => {
            tracing::warn!(task = id, %error, "could not prepare the photos");
            end(state, id, TaskState::Rejected, "photos unavailable").await;
            metrics::create_outcome("bad_image");
            return answer(texts::image_error(lang)).await;
        }
    };

    let create = CreateRequest {
        images: &image_urls,
        model: new.options.model.as_str(),
        orientation: new.options.orientation.as_str(),
        prompt: &new.prompt,
        size: new.options.size.as_str(),
        duration: new.options.duration,
    };
    let started = Instant::now();
    let created = state.api.create(&create).await;
    metrics::video_api_latency("create", started.elapsed());
    drop(image_urls);

    let created = match created {
        Ok(created) => created,
        Err(error @ ApiError::Timeout { .. }) => {
            // It may have been charged: never retried, and it keeps its quota slot.
            tracing::warn!(task = id, %error, "create timed out; state unknown");
            end(state, id, TaskState::Unknown, "create timed out").await;
            metrics::create_outcome("timeout");
            return answer(texts::create_unknown(lang)).await;
        }
        Err(error) => {
            tracing::warn!(task = id, kind = error.kind(), "create refused");
            end(state, id, TaskState::Rejected, error.kind()).await;
            metrics::create_outcome(error.kind());
            return answer(texts::api_error(lang, &error)).await;
        }
    };
    metrics::create_outcome("created");
    let first_poll_at = now_ms() + state.config.poll_interval.as_millis() as i64;
    let task = match state.store.mark_created(id, &created.id, &created.status, first_poll_at).await {
        Ok(Some(task)) => task,
        other => {
            // The row stays `submitting` and is reported as unknown later: never re-created.
            tracing::error!(task = id, ?other, "created upstream but could not store it");
            return;
        }
    };
    tracing::info!(task = id, upstream_id = %created.id, "video task created");

    let text = texts::task_status(lang, &task);
    let buttons = crate::keyboards::status(lang, &task);
    match state.telegram.reply_with_keyboard(chat_id, command_msg_id, &text, buttons.unwrap_or_default()).await {
        Ok(message_id) => {
            if let Err(error) = state.store.set_status_message(id, message_id.0, &text).await {
                tracing::error!(task = id, %error, "could not store the status message id");
            }
        }
        Err(error) => tracing::warn!(task = id, %error, "could not send the status message"),
    }
}

async fn end(state: &AppState, id: i64, how: TaskState, reason: &str) {
    if let Err(error) = state.store.finish(id, how, Some(reason)).await {
        tracing::error!(task = id, %error, "could not record the end of a task");
    }
}
