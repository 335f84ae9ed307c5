//! `/settings`: default options chosen with buttons, per private chat (that
//! is, per user) or per group. Only a group's Telegram administrators and the
//! bot's admins may change a group's defaults; `/video` options still override.

use teloxide::{prelude::*, types::ChatMemberKind};

use super::{AppState, HandlerResult, buttons::notice, handlers::Sender};
use crate::{
    command::VideoOptions,
    keyboards::{self, Setting},
    models::{ModelName, live::ChatChoices},
    texts,
};

/// The chat's defaults, fitted to their model; the bot's own if the database cannot say.
pub(super) async fn defaults(state: &AppState, chat_id: i64) -> VideoOptions {
    defaults_and_stale(state, chat_id).await.0
}

/// The chat's defaults, and the chat's chosen model when it is no longer offered.
async fn defaults_and_stale(state: &AppState, chat_id: i64) -> (VideoOptions, Option<ModelName>) {
    let choices = state.store.chat_choices(chat_id).await.unwrap_or_else(|error| {
        tracing::warn!(chat_id, %error, "could not read the chat's settings; using the bot's defaults");
        ChatChoices::default()
    });
    let models = &state.models;
    crate::models::live::chat_defaults(models.catalog(), models.default_model(), &state.config.defaults, &choices)
}

/// `/settings`: what is in force, with a button for every choice.
pub(super) async fn show(state: &AppState, sender: &Sender) -> HandlerResult {
    let (current, stale) = defaults_and_stale(state, sender.chat_id).await;
    let text = texts::settings(sender.lang, &current, sender.in_group, stale);
    let markup = keyboards::settings(sender.lang, &current, state.models.catalog());
    state.telegram.reply_with_keyboard(sender.chat_id, sender.message_id, &text, markup).await?;
    Ok(())
}

/// A settings button: `sender.message_id` is the settings message, edited to the new state.
pub(super) async fn change(state: &AppState, sender: &Sender, callback_id: &str, setting: Setting) -> HandlerResult {
    let catalog = state.models.catalog();
    if setting.is_navigation() {
        // Only the view changes: nothing to check or store.
        notice(state, callback_id, None).await?;
        let current = defaults(state, sender.chat_id).await;
        let markup = match setting {
            Setting::ModelMenu => keyboards::settings_models(sender.lang, current.model, catalog),
            _ => keyboards::settings(sender.lang, &current, catalog),
        };
        state.telegram.edit_keyboard(sender.chat_id, sender.message_id, markup).await?;
        return Ok(());
    }
    if let Setting::Model(model) = setting
        && !catalog.is_offered(model)
    {
        return notice(state, callback_id, Some(texts::press_gone(sender.lang))).await;
    }
    if !may_change(state, sender.chat_id, sender.user_id).await {
        return notice(state, callback_id, Some(texts::press_admins_only(sender.lang))).await;
    }
    state.store.change_setting(sender.chat_id, setting).await?;
    tracing::info!(chat_id = sender.chat_id, user_id = sender.user_id, ?setting, "chat settings changed");
    notice(state, callback_id, Some(texts::press_saved(sender.lang))).await?;
    let (current, stale) = defaults_and_stale(state, sender.chat_id).await;
    let text = texts::settings(sender.lang, &current, sender.in_group, stale);
    let markup = keyboards::settings(sender.lang, &current, catalog);
    state.telegram.edit_with_keyboard(sender.chat_id, sender.message_id, &text, Some(markup)).await?;
    Ok(())
}

/// Whether the user may change the chat's defaults: their own private chat;
/// in a group, its Telegram administrators and the bot's admins.
async fn may_change(state: &AppState, chat_id: i64, user_id: i64) -> bool {
    if chat_id == user_id || state.config.access.is_admin(user_id) {
        return true;
    }
    let Ok(user) = u64::try_from(user_id) else { return false };
    if chat_id > 0 {
        return false;
    }
    match state.telegram.bot.get_chat_member(ChatId(chat_id), UserId(user)).await {
        Ok(member) => matches!(member.kind, ChatMemberKind::Owner(_) | ChatMemberKind::Administrator(_)),
        Err(error) => {
            tracing::info!(chat_id, %error, "could not ask Telegram whether the user is a group admin");
            false
        }
    }
}
