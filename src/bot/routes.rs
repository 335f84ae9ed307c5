//! The whole behaviour, top to bottom: which handler each update reaches.

use std::sync::Arc;

use teloxide::{
    dispatching::UpdateHandler,
    prelude::*,
    types::{AllowedUpdate, Me},
};

use super::{
    admin, albums, buttons, commands,
    context::AppState,
    error::HandlerError,
    guided, inline,
    menu::{Command, command_of},
    payments,
};

/// The kinds of update `schema` handles: what the bot asks Telegram for, by
/// webhook or polling. Listed, since Telegram keeps the last list it was given.
pub const HANDLED_UPDATES: [AllowedUpdate; 3] =
    [AllowedUpdate::Message, AllowedUpdate::CallbackQuery, AllowedUpdate::InlineQuery];

/// `HANDLED_UPDATES`, and with payments on the pre-checkout queries, which
/// Telegram sends only to a bot that asks for them.
pub fn handled_updates(payments: bool) -> Vec<AllowedUpdate> {
    let mut kinds = HANDLED_UPDATES.to_vec();
    if payments {
        kinds.push(AllowedUpdate::PreCheckoutQuery);
    }
    kinds
}

/// The whole behaviour, top to bottom.
pub fn schema() -> UpdateHandler<HandlerError> {
    let commands = dptree::filter_map(parse_command)
        .inspect(|command: Command| crate::metrics::command(command.kind()))
        .branch(dptree::filter(|command: Command| command.is_public()).endpoint(commands::help))
        .branch(dptree::filter(may_use).endpoint(commands::command))
        .branch(dptree::endpoint(commands::not_allowed));

    // Admins' commands, from any chat; for anyone else they are unknown commands.
    let admin_commands = dptree::filter_map(admin::parse).filter(admin::is_admin).endpoint(admin::command);

    let messages = Update::filter_message()
        // ---- payments: Telegram took the Stars; credited whoever may use the bot now ----
        .branch(dptree::filter(|message: Message| message.successful_payment().is_some()).endpoint(payments::paid))
        .branch(commands)
        .branch(admin_commands)
        // ---- phones: the answer to a guided `/video`'s question ----
        .branch(dptree::filter(guided::is_answer).filter(may_use).endpoint(guided::answer))
        // ---- end phones ----
        // Uncaptioned album photos: siblings of a `/video` caption, or an album
        // a later command may reply to.
        .branch(
            dptree::filter(|message: Message, state: Arc<AppState>| {
                message.media_group_id().is_some() && may_use(message, state)
            })
            .endpoint(albums::album_photo),
        );

    dptree::entry()
        .branch(messages)
        // ---- phones: button presses and inline sharing ----
        .branch(Update::filter_callback_query().endpoint(buttons::press))
        .branch(Update::filter_inline_query().endpoint(inline::answer))
        // ---- end phones ----
        .branch(Update::filter_pre_checkout_query().endpoint(payments::pre_checkout))
}

/// Command of this message, for us. Also reads captions (a photo captioned
/// `/video …`); `/video@OtherBot` fails the bot-name check and is ignored.
fn parse_command(message: Message, me: Me, state: Arc<AppState>) -> Option<Command> {
    command_of(&message, me.username(), state.config.payments.is_some())
}

fn may_use(message: Message, state: Arc<AppState>) -> bool {
    message.from.as_ref().is_some_and(|user| state.config.access.may_create(user.id.0 as i64, message.chat.id.0))
}
