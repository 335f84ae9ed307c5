//! The whole behaviour, top to bottom: which handler each update reaches.
//! Commands and presses are told apart here, by the tree, and the update
//! kinds asked of Telegram are read from it (`handled_updates`).

use std::{ops::ControlFlow, sync::Arc};

use teloxide::{
    dispatching::{DpHandlerDescription, UpdateHandler},
    dptree::{self, HandlerDescription, HandlerSignature, case, di::Injectable},
    prelude::*,
    types::{AllowedUpdate, InlineKeyboardButtonKind, MaybeInaccessibleMessage, Me},
};

use super::{
    admin::{self, AdminCommand},
    albums, buttons, commands,
    context::{AppState, Pressed, Sender},
    error::{HandlerError, record_task},
    fixes, guided, inline,
    menu::{Command, command_of},
    payments, settings,
};
use crate::{keyboards::Press, store::StoreError, texts::Lang};

/// The update kinds the bot asks Telegram for, by webhook or polling: those
/// `schema(payments)` handles (with payments on, the pre-checkout queries,
/// which Telegram sends only to a bot that asks for them). Sent every time,
/// since Telegram keeps the last list it was given.
pub fn handled_updates(payments: bool) -> Vec<AllowedUpdate> {
    allowed_updates(&schema(payments))
}

/// The whole behaviour, top to bottom.
pub fn schema(payments: bool) -> UpdateHandler<HandlerError> {
    let tree = dptree::entry()
        .branch(messages())
        .branch(presses())
        .branch(Update::filter_inline_query().endpoint(inline::answer));
    // Telegram sends pre-checkout queries only to a bot that asks for them.
    match payments {
        true => tree.branch(Update::filter_pre_checkout_query().endpoint(payments::pre_checkout)),
        false => tree,
    }
}

fn messages() -> UpdateHandler<HandlerError> {
    Update::filter_message()
        // Every handler below takes the message from here: a shared pointer is
        // handed to each of them instead of a deep copy of the whole message.
        .map(|message: Message| Arc::new(message))
        // Telegram took the Stars: credited, whoever may use the bot now.
        .branch(dptree::filter(|message: Arc<Message>| message.successful_payment().is_some()).endpoint(payments::paid))
        .branch(commands())
        .branch(admin_commands())
        // The answer to a guided `/video`'s question.
        .branch(dptree::filter(guided::is_answer).filter(may_use).endpoint(guided::answer))
        // Uncaptioned album photos: siblings of a `/video` caption, or an album
        // a later command may reply to.
        .branch(
            dptree::filter(|message: Arc<Message>| message.media_group_id().is_some())
                .filter(may_use)
                .endpoint(albums::album_photo),
        )
}

/// Commands for this bot: the help for anyone, the rest for those who may
/// use it; anyone else is told they may not.
fn commands() -> UpdateHandler<HandlerError> {
    let public = dptree::entry()
        .branch(case![Command::Start(args)].endpoint(commands::help))
        .branch(case![Command::Help(args)].endpoint(commands::help))
        .branch(case![Command::Paysupport(args)].endpoint(payments::paysupport));
    let members = dptree::filter(may_use)
        .branch(case![Command::Video(args)].endpoint(commands::video))
        .branch(case![Command::Status(arg)].endpoint(commands::status))
        .branch(case![Command::Tasks(args)].endpoint(commands::tasks))
        .branch(case![Command::Cancel(arg)].endpoint(commands::cancel))
        .branch(case![Command::Again(args)].endpoint(commands::again))
        .branch(case![Command::Quota(args)].endpoint(commands::quota))
        .branch(case![Command::Settings(args)].endpoint(settings::show))
        .branch(case![Command::Models(args)].endpoint(commands::models))
        .branch(case![Command::Buy(args)].endpoint(payments::buy))
        .branch(case![Command::Balance(args)].endpoint(payments::balance))
        .branch(case![Command::Grant(args)].endpoint(payments::grant))
        .branch(case![Command::Refund(args)].endpoint(payments::refund));
    dptree::filter_map(parse_command)
        .inspect(|command: Command| crate::metrics::command(command.kind()))
        .filter_map(|message: Arc<Message>| Sender::of(&message))
        .branch(public)
        .branch(members)
        .endpoint(commands::not_allowed)
}

/// Admins' commands, from any chat; for anyone else they are unknown commands.
fn admin_commands() -> UpdateHandler<HandlerError> {
    dptree::filter_map(admin::parse)
        .filter(admin::is_admin)
        .inspect(|command: AdminCommand| crate::metrics::command((&command).into()))
        .filter_map(|message: Arc<Message>| Sender::of(&message))
        .branch(case![AdminCommand::Unknown(args)].endpoint(admin::unknown))
        .branch(case![AdminCommand::Attach(args)].endpoint(admin::attach))
        .branch(case![AdminCommand::Release(args)].endpoint(admin::release))
}

/// Button presses. Every press is answered, and only a button the pressed
/// message really carries, pressed by someone who may use the bot, for the
/// first time (an update may be delivered twice), acts.
fn presses() -> UpdateHandler<HandlerError> {
    let acts = dptree::entry()
        .branch(case![Press::Refresh(task)].endpoint(buttons::refresh))
        .branch(case![Press::Stop(task)].endpoint(buttons::stop))
        .branch(dptree::filter_map(rerequested).endpoint(buttons::rerequest))
        .branch(dptree::filter_map(menu_of).endpoint(buttons::model_menu))
        .branch(case![Press::Duration { pending, seconds }].endpoint(fixes::with_duration))
        .branch(case![Press::AsPrompt(pending)].endpoint(fixes::as_prompt))
        .branch(case![Press::Setting(setting)].endpoint(settings::change))
        .branch(case![Press::Buy(pack)].endpoint(payments::press_buy));
    Update::filter_callback_query()
        .branch(
            dptree::filter_map(|query: CallbackQuery| query.data.as_deref().and_then(Press::parse))
                .filter_map(pressed)
                .inspect(|| crate::metrics::command("button"))
                .inspect(|press: Press| {
                    if let Some(task) = press.task() {
                        record_task(task);
                    }
                })
                .branch(
                    dptree::filter(|pressed: Pressed, state: Arc<AppState>| !may_press(&pressed, &state))
                        .endpoint(buttons::not_allowed),
                )
                .branch(try_filter(first_press).chain(acts))
                .endpoint(buttons::seen_before),
        )
        .endpoint(buttons::gone)
}

/// Command of this message, for us. Also reads captions (a photo captioned
/// `/video …`); `/video@OtherBot` fails the bot-name check and is ignored.
fn parse_command(message: Arc<Message>, me: Me, state: Arc<AppState>) -> Option<Command> {
    command_of(&message, me.username(), state.config.payments.is_some())
}

fn may_use(message: Arc<Message>, state: Arc<AppState>) -> bool {
    message.from.as_ref().is_some_and(|user| state.config.access.may_create(user.id.0 as i64, message.chat.id.0))
}

fn may_press(pressed: &Pressed, state: &AppState) -> bool {
    state.config.access.may_create(pressed.user_id, pressed.chat_id)
}

/// Who pressed where, if the press came from one of our messages (buttons of
/// inline results have none: we send none) and that message carries it. A
/// client may send any data with a press: only a button the pressed message
/// really carries may act (not, say, task 3's Refresh redrawing task 4's
/// status message).
fn pressed(query: CallbackQuery) -> Option<Pressed> {
    let message = query.message.as_ref()?;
    if !carries_button(message, query.data.as_deref().unwrap_or_default()) {
        tracing::info!(chat_id = message.chat().id.0, "press data not among the message's buttons; refused");
        return None;
    }
    Some(Pressed {
        callback_id: query.id.0.clone(),
        chat_id: message.chat().id.0,
        message_id: message.id().0,
        in_group: message.chat().is_group() || message.chat().is_supergroup(),
        user_id: query.from.id.0 as i64,
        name: query.from.full_name(),
        lang: Lang::from_code(query.from.language_code.as_deref()),
    })
}

fn carries_button(message: &MaybeInaccessibleMessage, data: &str) -> bool {
    let MaybeInaccessibleMessage::Regular(message) = message else { return false };
    message.reply_markup().is_some_and(|markup| {
        markup
            .inline_keyboard
            .iter()
            .flatten()
            .any(|button| matches!(&button.kind, InlineKeyboardButtonKind::CallbackData(own) if own == data))
    })
}

/// Records the press by its callback id: `false` if it was seen before.
async fn first_press(pressed: Pressed, state: Arc<AppState>) -> Result<bool, StoreError> {
    state.store.first_press(&pressed.callback_id).await
}

/// The task whose request a press makes again (`🔁 Again`, the other
/// orientation, `⭐ Pro`, another model).
fn rerequested(press: Press) -> Option<i64> {
    match press {
        Press::Again(task) | Press::Flip(task) | Press::Pro(task) | Press::Model { task, .. } => Some(task),
        _ => None,
    }
}

/// The task whose video's buttons a press changes (`🎬 Model`, `↩ Back`).
fn menu_of(press: Press) -> Option<i64> {
    match press {
        Press::Models(task) | Press::Back(task) => Some(task),
        _ => None,
    }
}

/// `dptree::filter_async` for a check that can fail inside (the database):
/// `Ok(true)` goes on, `Ok(false)` leaves the update to what follows, and an
/// error ends it as the handler's error, like an endpoint's.
fn try_filter<Check, Args, E>(check: Check) -> UpdateHandler<HandlerError>
where
    Check: Injectable<Result<bool, E>, Args> + Send + Sync + 'static,
    E: Into<HandlerError> + Send + 'static,
{
    let check = Arc::new(check);
    dptree::from_fn_with_description(
        DpHandlerDescription::filter_async(),
        move |deps, cont| {
            let check = Arc::clone(&check);
            async move {
                let compiled = check.inject(&deps);
                let verdict = compiled().await;
                drop(compiled);
                match verdict {
                    Ok(true) => cont(deps).await,
                    Ok(false) => ControlFlow::Continue(deps),
                    Err(error) => ControlFlow::Break(Err(error.into())),
                }
            }
        },
        HandlerSignature::Other {
            obligations: Check::obligations(),
            guaranteed_outcomes: Default::default(),
            conditional_outcomes: Default::default(),
            continues: true,
        },
    )
}

/// The update kinds that reach an endpoint of `handler`. teloxide keeps its
/// own reading (`allowed_updates`) to its `Dispatcher`, which `dispatch.rs`
/// replaced; the description shows the same set as `Kind(…)` entries of
/// `observed`, in Telegram's names. Ordered as Telegram lists them.
fn allowed_updates(handler: &UpdateHandler<HandlerError>) -> Vec<AllowedUpdate> {
    let description = format!("{:?}", handler.description());
    let observed = description.split("observed: {").nth(1).and_then(|rest| rest.split('}').next()).unwrap_or_default();
    let mut kinds: Vec<AllowedUpdate> = observed
        .split("Kind(")
        .filter_map(|entry| entry.split(')').next())
        .filter_map(|name| serde_json::from_value(serde_json::Value::String(snake_case(name))).ok())
        .collect();
    kinds.sort_by_key(|kind| *kind as u8);
    kinds
}

/// `PreCheckoutQuery` → `pre_checkout_query`.
fn snake_case(name: &str) -> String {
    let mut snake = String::with_capacity(name.len() + 4);
    for (at, c) in name.char_indices() {
        if c.is_ascii_uppercase() && at > 0 {
            snake.push('_');
        }
        snake.push(c.to_ascii_lowercase());
    }
    snake
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_handler_gets_what_it_takes() {
        use teloxide::dptree::Type;
        let given = [Type::of::<Update>(), Type::of::<Me>(), Type::of::<Bot>(), Type::of::<Arc<AppState>>()];
        for payments in [false, true] {
            dptree::type_check(schema(payments).sig(), &dptree::deps![], &given);
        }
    }

    #[test]
    fn the_update_kinds_asked_for_are_those_the_tree_handles() {
        use AllowedUpdate::*;
        assert_eq!(handled_updates(false), [Message, InlineQuery, CallbackQuery]);
        assert_eq!(handled_updates(true), [Message, InlineQuery, CallbackQuery, PreCheckoutQuery]);
    }
}
