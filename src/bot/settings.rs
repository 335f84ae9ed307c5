//! `/settings`: default options chosen with buttons, per private chat (that
//! is, per user) or per group. Only a group's Telegram administrators and the
//! bot's admins may change a group's defaults; `/video` options still override.

use std::{
    collections::HashMap,
    sync::{Arc, LazyLock, Mutex},
    time::{Duration, Instant},
};

use teloxide::{prelude::*, types::ChatMemberKind};
use tracing::Instrument;

use super::{
    context::{AppState, Pressed, Sender, notice},
    error::HandlerResult,
};
use crate::{
    command::VideoOptions,
    keyboards,
    models::{ModelName, Setting, VideoOption, live::ChatChoices},
    store::StoreError,
    telegram::with_retry,
    texts,
};

/// The chat's defaults, fitted to their model. A failed read fails the
/// request: a video made with other settings than the chat chose, and
/// charged, is worse than a "try again".
pub(super) async fn defaults(state: &AppState, chat_id: i64) -> Result<VideoOptions, StoreError> {
    Ok(defaults_and_stale(state, chat_id).await?.0)
}

/// The chat's defaults, and the chat's chosen model when it is no longer offered.
async fn defaults_and_stale(state: &AppState, chat_id: i64) -> Result<(VideoOptions, Option<ModelName>), StoreError> {
    let choices: ChatChoices = state.store.chat_choices(chat_id).await?;
    let models = &state.models;
    Ok(crate::models::live::chat_defaults(models.catalog(), models.default_model(), &state.config.defaults, &choices))
}

/// `/settings`: what is in force, with a button for every choice.
pub(super) async fn show(sender: Sender, state: Arc<AppState>) -> HandlerResult {
    let (current, stale) = defaults_and_stale(&state, sender.chat_id).await?;
    let text = texts::settings(sender.lang, &current, sender.in_group, stale);
    let markup = keyboards::settings(sender.lang, &current, state.models.catalog());
    state.telegram.queue_reply_with_keyboard(sender.chat_id, sender.message_id, text, markup, |_| async {});
    Ok(())
}

/// A settings button: `sender.message_id` is the settings message, edited to the new state.
pub(super) async fn change(pressed: Pressed, setting: Setting, state: Arc<AppState>) -> HandlerResult {
    let (state, sender, callback_id) = (&state, pressed.sender(pressed.message_id), pressed.callback_id.as_str());
    let catalog = state.models.catalog();
    if setting.is_navigation() {
        // Only the view changes: nothing to check or store.
        let current = defaults(state, sender.chat_id).await?;
        notice(state, callback_id, None).await?;
        let markup = match setting {
            Setting::ModelMenu => keyboards::settings_models(sender.lang, current.model, catalog),
            _ => keyboards::settings(sender.lang, &current, catalog),
        };
        state.telegram.queue_edit_keyboard(sender.chat_id, sender.message_id, markup);
        return Ok(());
    }
    if let Setting::Choose(VideoOption::Model(model)) = setting
        && !catalog.is_offered(model)
    {
        return notice(state, callback_id, Some(texts::press_gone(sender.lang))).await;
    }
    match may_change_now(state, sender.chat_id, sender.user_id) {
        Some(true) => apply(state, &sender, callback_id, setting).await,
        Some(false) => notice(state, callback_id, Some(texts::press_admins_only(sender.lang))).await,
        None => {
            // Asking Telegram may take long (a 429 is waited out): off the chat's
            // turn, and the press is answered in time either way.
            let (state, callback_id) = (state.clone(), callback_id.to_owned());
            let lookup = is_group_admin(&state, sender.chat_id, sender.user_id);
            state.telegram.clone().spawn(
                async move {
                    let verdict = tokio::time::timeout(ADMIN_ANSWER_WITHIN, lookup).await;
                    let outcome = match verdict {
                        Ok(Some(true)) => apply(&state, &sender, &callback_id, setting).await,
                        Ok(Some(false)) => {
                            notice(&state, &callback_id, Some(texts::press_admins_only(sender.lang))).await
                        }
                        Ok(None) | Err(_) => {
                            notice(&state, &callback_id, Some(texts::press_try_again(sender.lang))).await
                        }
                    };
                    if let Err(error) = outcome {
                        tracing::error!(chat_id = sender.chat_id, %error, "a settings press failed");
                        let _ = notice(&state, &callback_id, Some(&texts::inside_failure(sender.lang))).await;
                    }
                }
                .in_current_span(),
            );
            Ok(())
        }
    }
}

/// Stores the choice and redraws the settings message.
async fn apply(state: &AppState, sender: &Sender, callback_id: &str, setting: Setting) -> HandlerResult {
    state.store.change_setting(sender.chat_id, setting).await?;
    tracing::info!(chat_id = sender.chat_id, user_id = sender.user_id, ?setting, "chat settings changed");
    let (current, stale) = defaults_and_stale(state, sender.chat_id).await?;
    notice(state, callback_id, Some(texts::press_saved(sender.lang))).await?;
    let text = texts::settings(sender.lang, &current, sender.in_group, stale);
    let markup = keyboards::settings(sender.lang, &current, state.models.catalog());
    state.telegram.queue_edit(sender.chat_id, sender.message_id, text, Some(markup));
    Ok(())
}

/// A press whose admin check is still running is answered "try again" after
/// this (teloxide itself waits 10 s after a 5xx before it returns).
const ADMIN_ANSWER_WITHIN: Duration = Duration::from_millis(600);
/// How long Telegram's word on a group admin is trusted.
const ADMIN_KNOWN_FOR: Duration = Duration::from_secs(60);
/// (group, user) pairs remembered; past this the oldest half is forgotten.
const ADMINS_REMEMBERED: usize = 10_000;

type AdminCache = Mutex<HashMap<(i64, i64), (bool, Instant)>>;

/// Telegram's recent answers on group admins, so a second press soon after
/// (or after a "try again" whose lookup finished later) needs no call.
static ADMINS: LazyLock<AdminCache> = LazyLock::new(Mutex::default);

fn admins() -> std::sync::MutexGuard<'static, HashMap<(i64, i64), (bool, Instant)>> {
    ADMINS.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Whether the user may change the chat's defaults, if known without asking
/// Telegram: their own private chat; the bot's admins; a recent answer.
fn may_change_now(state: &AppState, chat_id: i64, user_id: i64) -> Option<bool> {
    if chat_id == user_id || state.config.access.is_admin(user_id) {
        return Some(true);
    }
    if chat_id > 0 || user_id <= 0 {
        return Some(false);
    }
    admins().get(&(chat_id, user_id)).filter(|(_, at)| at.elapsed() < ADMIN_KNOWN_FOR).map(|(admin, _)| *admin)
}

/// Asks Telegram whether the user is an administrator of the group, waiting
/// out 429s. Runs on its own, so an answer that comes after the press was
/// answered is still remembered. `None`: Telegram could not say.
fn is_group_admin(state: &AppState, chat_id: i64, user_id: i64) -> impl Future<Output = Option<bool>> + use<> {
    let (answer, answered) = tokio::sync::oneshot::channel();
    let bot = state.telegram.bot.clone();
    state.telegram.spawn(async move {
        let user = UserId(user_id as u64);
        let asked = with_retry("getChatMember", || bot.get_chat_member(ChatId(chat_id), user).send()).await;
        let admin = match asked {
            Ok(member) => {
                let admin = matches!(member.kind, ChatMemberKind::Owner(_) | ChatMemberKind::Administrator(_));
                let mut known = admins();
                if known.len() >= ADMINS_REMEMBERED {
                    let mut ages: Vec<Instant> = known.values().map(|(_, at)| *at).collect();
                    ages.sort_unstable();
                    let cutoff = ages[ages.len() / 2];
                    known.retain(|_, (_, at)| *at > cutoff);
                }
                known.insert((chat_id, user_id), (admin, Instant::now()));
                Some(admin)
            }
            Err(error) => {
                tracing::info!(chat_id, %error, "could not ask Telegram whether the user is a group admin");
                None
            }
        };
        let _ = answer.send(admin);
    });
    async move { answered.await.ok().flatten() }
}
