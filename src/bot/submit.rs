//! The submission pipeline, the one way a request becomes a paid video:
//! `start_submission` (a typed `/video`, an album's caption, a guided answer,
//! `/again`) and `submit_press` (a button's request, as the presser's own)
//! check it and hand it to `submit`, which runs off the dispatcher (it runs
//! a chat's updates one at a time, so no chat waits for another's create
//! call): store → image URLs → paid create → store outcome → status message.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use tracing::Instrument;

use super::{
    context::{AppState, Pressed, Sender, notice, queue_reply},
    error::HandlerResult,
};
use crate::{
    command::VideoRequest,
    images::{ImageError, MAX_DATA_BYTES_TOTAL},
    keyboards, metrics, status_message,
    store::{Guards, Lease, Price, Refusal, Reservation, StoreError, is_group_chat, limit_reached, now_ms},
    task::{NewTask, Task, TaskState},
    telegram::Lane,
    texts::{self, Lang},
    video_api::{ApiError, CreateRequest},
};

/// Checks the model and the image count, then hands the request to the tracker.
pub(super) async fn start_submission(
    sender: &Sender,
    mut request: VideoRequest,
    images: Vec<String>,
    state: Arc<AppState>,
) -> HandlerResult {
    let catalog = state.models.catalog();
    // A stored request (`/again`, a button) may name a model no longer offered.
    if !catalog.is_offered(request.options.model)
        && let Some(spec) = catalog.get(state.models.default_model())
    {
        request.options = request.options.moved_to(spec);
    }
    let max = catalog
        .get(request.options.model)
        .map_or(state.config.max_images, |spec| spec.max_images(state.config.max_images));
    if images.len() > max {
        let text = texts::too_many_images(sender.lang, images.len(), max, request.options.model);
        return queue_reply(&state, sender, &text).await;
    }
    let new = sender.task(request, images);
    let tracker = state.tracker.clone();
    // In the update's span: its log lines name the update.
    tracker.spawn(async move { submit(&state, new).await }.in_current_span());
    Ok(())
}

/// Answers the press, posts the "requested by" message and submits the
/// request as the presser's, with that message as its command.
///
/// A press has no command message of its own, yet a request needs one: its
/// replies (status, video) answer it, and `(chat, command message)` is what
/// keeps one Telegram update from becoming two paid tasks. So a re-request
/// press first posts a short "requested by" message under the pressed one
/// and uses that new message as the command: its id is unique in the chat,
/// real (replies thread under it), and it says in a group who asked. The post
/// waits in the chat's outbox for the chat's send budget, and the request is
/// submitted from there, so the chat's next updates do not wait for it. The
/// press itself is recorded by its callback id before anything is posted,
/// so the same update delivered twice does nothing the second time.
pub(super) async fn submit_press(
    state: Arc<AppState>,
    pressed: &Pressed,
    label: &str,
    request: VideoRequest,
    images: Vec<String>,
) -> HandlerResult {
    // The cost guards decide again when the request is stored; this only
    // saves a message that would be refused anyway, and says why in the notice.
    let cost = state.models.catalog().get(request.options.model).map_or(1, |spec| spec.cost);
    if let Some(refusal) = refused_now(&state, pressed.user_id, pressed.chat_id, cost).await? {
        let text = texts::refusal(pressed.lang, refusal, now_ms());
        return notice(&state, &pressed.callback_id, Some(&text)).await;
    }
    notice(&state, &pressed.callback_id, Some(texts::press_working(pressed.lang))).await?;
    let text = texts::press_request(pressed.lang, &pressed.name, label, &request.prompt);
    // The post waits for the chat's send budget; the chat's next updates do not.
    let (chat_id, reply_to) = (pressed.chat_id, pressed.message_id);
    let presser = pressed.clone();
    let telegram = state.telegram.clone();
    let outbox = telegram.clone();
    outbox.queue(
        chat_id,
        Lane::Sends,
        async move {
            if state.tracker.is_closed() {
                // Stopping: no new paid create may start that shutdown would not wait for.
                return tracing::warn!(chat_id, "stopping; a press's request was not made");
            }
            let command = match telegram.reply(chat_id, reply_to, &text).await {
                Ok(command) => command,
                Err(error) => return tracing::warn!(chat_id, %error, "could not post a press's request; not submitted"),
            };
            let sender = presser.sender(command.0);
            if let Err(error) = start_submission(&sender, request, images, state).await {
                tracing::warn!(chat_id, %error, "could not submit a press's request");
            }
        }
        .in_current_span(),
    );
    Ok(())
}

async fn refused_now(state: &AppState, user_id: i64, chat_id: i64, cost: u32) -> Result<Option<Refusal>, StoreError> {
    let guards = guards(state, user_id, cost);
    let usage = state.store.usage(user_id, chat_id, guards.unknown_active_since).await?;
    let in_group = is_group_chat(chat_id);
    Ok(limit_reached(&usage, guards.limits, guards.exempt, in_group, guards.cost))
}

/// The cost guards of `user_id`'s request for a video costing `cost` units.
fn guards(state: &AppState, user_id: i64, cost: u32) -> Guards<'_> {
    let exempt = state.config.access.is_admin(user_id);
    Guards::now(&state.config.limits, exempt, state.config.unknown_hold, Lease { owner: &state.owner }, cost)
}

async fn submit(state: &AppState, new: NewTask) {
    let NewTask { chat_id, user_id, command_msg_id, lang, .. } = new;
    let reply = |text: String| async move {
        if let Err(error) = state.telegram.reply(chat_id, command_msg_id, &text).await {
            tracing::warn!(chat_id, user_id, command_msg_id, %error, "could not answer a /video command");
        }
    };

    // `start_submission` only passes offered models; the catalog does not change while running.
    let Some(spec) = state.models.catalog().get(new.options.model) else {
        tracing::error!(chat_id, model = %new.options.model, "a request for a model not in the catalog; not sent");
        return reply(texts::model_retired(lang, new.options.model, false)).await;
    };
    let guards = guards(state, user_id, spec.cost);
    // With payments on, a video costs its model's cost in credits; admins pay nothing.
    let price = state
        .config
        .payments
        .as_ref()
        .filter(|_| !guards.exempt && spec.cost > 0)
        .map(|payments| Price { credits: spec.cost, free_credits: payments.free_credits });
    let id = match state.store.reserve_paid(&new, &guards, price).await {
        Ok(Reservation::Reserved(id)) => id,
        Ok(Reservation::Duplicate) => {
            tracing::info!(chat_id, command_msg_id, "command seen before, not creating it again");
            return;
        }
        Ok(Reservation::Refused(Refusal::Credits { balance, price })) => {
            metrics::create_outcome("no_credits");
            tracing::info!(user_id, balance, price, "request refused: not enough credits");
            return refuse_for_credits(state, chat_id, command_msg_id, lang, balance, price).await;
        }
        Ok(Reservation::Refused(refusal)) => {
            metrics::create_outcome("refused");
            tracing::info!(user_id, chat_id, ?refusal, "request refused by the cost guards");
            return reply(texts::refusal(lang, refusal, now_ms())).await;
        }
        Err(error) => {
            // Not durably stored: the paid call must not happen.
            tracing::error!(chat_id, user_id, %error, "could not store a request; nothing was sent to the video API");
            metrics::create_outcome("not_stored");
            return reply(texts::not_stored(lang)).await;
        }
    };

    // The photos' bytes and a connection to the video API: a few at a time.
    // Never closed (the semaphore lives as long as the state), so always `Some`.
    let turn = state.submissions.acquire().await.ok();
    let image_urls = match state.images.urls(id, &new.image_file_ids).await {
        Ok(urls) => urls,
        Err(error) => {
            drop(turn);
            tracing::warn!(task = id, chat_id, user_id, %error, "could not prepare the photos");
            record_end(state, id, TaskState::Rejected, "photos unusable").await;
            metrics::create_outcome("bad_image");
            let text = match error {
                ImageError::NotAnImage => texts::not_an_image(lang),
                ImageError::TooLarge(_) | ImageError::TooLargeTogether => {
                    texts::images_too_large(lang, MAX_DATA_BYTES_TOTAL / (1024 * 1024))
                }
                ImageError::Telegram(_) | ImageError::Store(_) => texts::image_error(lang),
            };
            return reply(text).await;
        }
    };

    let create = CreateRequest::new(&image_urls, &new.prompt, &new.options, spec.family);
    let started = Instant::now();
    let created = state.api.create(&create).await;
    metrics::video_api_latency("create", started.elapsed());
    drop(image_urls);
    drop(turn);

    let created = match created {
        Ok(created) => created,
        Err(error) if error.create_may_have_succeeded() => {
            // It may exist and cost money: never retried, and it keeps its
            // daily quota and active slot (see `Guards::unknown_active_since`).
            tracing::warn!(
                task = id,
                chat_id,
                user_id,
                kind = error.kind(),
                %error,
                "create outcome unknown; counted as made, not retried"
            );
            record_end(state, id, TaskState::Unknown, error.kind()).await;
            metrics::create_outcome(error.kind());
            return reply(texts::create_unknown(lang, id)).await;
        }
        Err(ApiError::ModelUnavailable { message }) => {
            // Definite: nothing was made. The model is taken off the default
            // and the menus until a listing names it again.
            tracing::warn!(task = id, model = %new.options.model, message = message.as_deref().unwrap_or("-"), "create refused: the video API does not serve this model");
            record_end(state, id, TaskState::Rejected, "model_unavailable").await;
            metrics::create_outcome("model_unavailable");
            state.models.mark_retired(new.options.model);
            return offer_other_models(state, &new, id).await;
        }
        Err(error) => {
            // The reason is the API's own message (scrubbed of secrets).
            tracing::warn!(task = id, chat_id, user_id, kind = error.kind(), reason = %error, "create refused");
            record_end(state, id, TaskState::Rejected, error.kind()).await;
            metrics::create_outcome(error.kind());
            return reply(texts::api_error(lang, id, &error)).await;
        }
    };
    metrics::create_outcome("created");
    let first_poll_at = now_ms() + state.config.poll_interval.as_millis() as i64;
    let task = match state.store.mark_created(id, &new, &created.id, &created.status, first_poll_at).await {
        Ok(Some(task)) => task,
        Ok(None) => {
            tracing::error!(task = id, upstream_id = %created.id, "created upstream, but the task had already ended; it is not followed");
            return;
        }
        Err(error) => {
            // The id is the only way to find this paid video: log it, show it,
            // and keep trying to store it.
            tracing::error!(task = id, upstream_id = %created.id, %error, "created upstream but could not store it; retrying");
            reply(texts::created_not_saved(lang, id, &created.id)).await;
            match store_created_later(state, id, &new, &created.id, &created.status).await {
                Some(task) => task,
                None => return,
            }
        }
    };
    tracing::info!(task = id, upstream_id = %created.id, "video task created");

    status_message::send(&state.telegram, &state.store, &task).await;
}

/// A video the requester's credits cannot pay: why, with the packs to buy.
async fn refuse_for_credits(state: &AppState, chat_id: i64, reply_to: i32, lang: Lang, balance: i64, price: u32) {
    let text = texts::credits_short(lang, balance, price);
    let packs = state.config.payments.as_ref().map(|payments| payments.packs.as_slice()).unwrap_or_default();
    if let Err(error) =
        state.telegram.reply_with_keyboard(chat_id, reply_to, &text, keyboards::packs(lang, packs)).await
    {
        tracing::warn!(chat_id, %error, "could not answer a /video command");
    }
}

/// Most models offered instead of one the video API no longer serves.
const ALTERNATIVES: usize = 3;

/// Says the request's model is gone, with a button for each of a few others
/// that the video API serves and that take this many photos: a press sends
/// the same request with that model, as the presser's own.
async fn offer_other_models(state: &AppState, new: &NewTask, id: i64) {
    let photos = new.image_file_ids.len();
    let fitting: Vec<_> = state
        .models
        .alternatives(new.options.model)
        .filter(|m| m.max_images(state.config.max_images) >= photos)
        .take(ALTERNATIVES)
        .collect();
    let text = texts::model_retired(new.lang, new.options.model, !fitting.is_empty());
    let sent = if fitting.is_empty() {
        state.telegram.reply(new.chat_id, new.command_msg_id, &text).await
    } else {
        let markup = crate::keyboards::alternatives(id, &fitting);
        state.telegram.reply_with_keyboard(new.chat_id, new.command_msg_id, &text, markup).await
    };
    if let Err(error) = sent {
        tracing::warn!(task = id, chat_id = new.chat_id, %error, "could not answer a /video command");
    }
}

/// How long a created task's answer is retried into a failing database.
const STORE_RETRY_FOR: Duration = Duration::from_secs(10 * 60);
const STORE_RETRY_MAX_GAP: Duration = Duration::from_secs(30);

/// Retries `mark_created` with backoff until it is stored or `STORE_RETRY_FOR` passed.
async fn store_created_later(
    state: &AppState,
    id: i64,
    request: &NewTask,
    upstream_id: &str,
    upstream_status: &str,
) -> Option<Task> {
    let give_up_at = Instant::now() + STORE_RETRY_FOR;
    let mut gap = Duration::from_millis(500);
    while Instant::now() < give_up_at {
        tokio::time::sleep(gap).await;
        gap = (gap * 2).min(STORE_RETRY_MAX_GAP);
        let first_poll_at = now_ms() + state.config.poll_interval.as_millis() as i64;
        match state.store.mark_created(id, request, upstream_id, upstream_status, first_poll_at).await {
            Ok(Some(task)) => {
                tracing::info!(task = id, upstream_id, "created task stored after retrying");
                return Some(task);
            }
            Ok(None) => {
                tracing::error!(task = id, upstream_id, "created task had ended meanwhile; it is not followed");
                return None;
            }
            Err(error) => tracing::warn!(task = id, upstream_id, %error, "still cannot store the created task"),
        }
    }
    tracing::error!(task = id, upstream_id, "gave up storing a created task: follow it by hand with this upstream id");
    None
}

async fn record_end(state: &AppState, id: i64, how: TaskState, reason: &str) {
    if let Err(error) = state.store.end_task(id, how, Some(reason)).await {
        // Left `submitting`, it is reported as cut off later: counted, never re-created.
        tracing::error!(task = id, %error, "could not record the end of a task");
    }
}
