//! The Telegram side: commands, the dptree schema, handlers.

mod admin;
mod albums;
mod buttons;
mod error;
mod gate;
mod guided;
mod handlers;
mod inline;
mod payments;
mod photos;
mod settings;
mod submit;

use std::sync::Arc;

use teloxide::{
    dispatching::UpdateHandler,
    prelude::*,
    types::{AllowedUpdate, BotCommand, Me},
    utils::command::BotCommands,
};
use tokio_util::task::TaskTracker;

pub use albums::Albums;
pub use error::{HandlerError, HandlerResult, record_task};
pub use gate::{Gate, Gated};

use crate::{config::Config, images::ImageUrls, store::Store, telegram::Telegram, video_api::VideoApi};

/// Descriptions become the Telegram menu (`setMyCommands`), in English; see
/// `texts::ZH_COMMAND_MENU` for Chinese.
/// Every command takes the rest of the line, so stray words never make it silent.
#[derive(BotCommands, Clone, Debug, PartialEq, Eq, strum::IntoStaticStr)]
#[command(rename_rule = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Command {
    /// Start: how to use the bot
    Start(String),
    /// How to use the bot, with examples
    Help(String),
    #[command(description = "Make a video: /video [options] <prompt>")]
    Video(String),
    #[command(description = "Status of a video: /status [id]")]
    Status(String),
    /// Your recent videos
    Tasks(String),
    #[command(description = "Stop following a video: /cancel <id>")]
    Cancel(String),
    /// Repeat your last request
    Again(String),
    /// What you have left today
    Quota(String),
    /// Your default model, orientation, size, duration
    Settings(String),
    /// The models you can use, what they cost
    Models(String),
    /// Buy credits with Telegram Stars
    Buy(String),
    /// Your credits and their last movements
    Balance(String),
    /// Help with payments and refunds
    Paysupport(String),
    /// Admins: give (or take) credits: /grant <user id> <credits>
    #[command(hide)]
    Grant(String),
    /// Admins: refund a payment: /refund <charge id>
    #[command(hide)]
    Refund(String),
}

impl Command {
    /// The command's name, for metrics.
    fn kind(&self) -> &'static str {
        self.into()
    }

    /// Everyone may read the help; everything else needs access. Telegram
    /// wants a seller's payment support reachable by anyone who paid.
    fn is_public(&self) -> bool {
        matches!(self, Command::Start(_) | Command::Help(_) | Command::Paysupport(_))
    }

    /// Exists only with payments on; otherwise it is not a command of this bot.
    fn is_payment(&self) -> bool {
        matches!(
            self,
            Command::Buy(_) | Command::Balance(_) | Command::Paysupport(_) | Command::Grant(_) | Command::Refund(_)
        )
    }

    /// The command menu: payment commands only with payments on; the admins'
    /// are hidden (`#[command(hide)]`).
    pub fn menu(payments: bool) -> Vec<BotCommand> {
        let payment_commands = ["/buy", "/balance", "/paysupport"];
        Command::bot_commands()
            .into_iter()
            .filter(|command| payments || !payment_commands.contains(&command.command.as_str()))
            .collect()
    }
}

/// Everything the handlers share.
pub struct AppState {
    pub config: Arc<Config>,
    /// The model catalog with what the video API lists now.
    pub models: Arc<crate::models::live::Models>,
    pub store: Store,
    pub api: VideoApi,
    pub telegram: Telegram,
    pub images: ImageUrls,
    pub albums: Albums,
    /// Submissions run here, off the dispatcher, so shutdown can wait for them.
    pub tracker: TaskTracker,
    /// This replica's id, the lease owner of the tasks it creates (see `store::Lease`).
    pub owner: String,
    /// This replica's task queries per second, shared with the watcher.
    pub queries: crate::watcher::QueryBudget,
}

impl AppState {
    /// Creates with an unknown outcome made after this (unix ms) still hold
    /// their requester's slot (see `Config::unknown_hold`).
    pub fn unknown_active_since(&self) -> i64 {
        crate::store::now_ms() - self.config.unknown_hold.as_millis() as i64
    }
}

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
        .branch(dptree::filter(|command: Command| command.is_public()).endpoint(handlers::help))
        .branch(dptree::filter(may_use).endpoint(handlers::command))
        .branch(dptree::endpoint(handlers::not_allowed));

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
            .endpoint(handlers::album_photo),
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

/// With payments off, `/buy` and the like are nobody's commands, as before
/// payments existed.
fn command_of(message: &Message, username: &str, payments: bool) -> Option<Command> {
    let text = message.text().or(message.caption())?;
    Command::parse(&separate_command(text)?, username).ok().filter(|command| payments || !command.is_payment())
}

/// teloxide splits the command from its arguments at the first space only; a
/// newline or tab right after `/video` must separate them too.
fn separate_command(text: &str) -> Option<String> {
    if !text.starts_with('/') {
        return None;
    }
    Some(match text.find(char::is_whitespace) {
        Some(at) if !text[at..].starts_with(' ') => format!("{} {}", &text[..at], &text[at..]),
        _ => text.to_owned(),
    })
}

fn may_use(message: Message, state: Arc<AppState>) -> bool {
    message.from.as_ref().is_some_and(|user| state.config.access.may_create(user.id.0 as i64, message.chat.id.0))
}

/// `setMyCommands` at start, so the menu lists what `/help` says; Chinese
/// users get Chinese descriptions.
pub async fn register_commands(telegram: &Telegram, payments: bool) -> Result<(), teloxide::RequestError> {
    let english = Command::menu(payments);
    crate::telegram::with_retry("setMyCommands", || telegram.bot.set_my_commands(english.clone()).send()).await?;
    let zh: Vec<BotCommand> = zh_menu(payments);
    crate::telegram::with_retry("setMyCommands", || {
        telegram.bot.set_my_commands(zh.clone()).language_code("zh").send()
    })
    .await?;
    Ok(())
}

/// `texts::ZH_COMMAND_MENU`, the payment commands only with payments on.
fn zh_menu(payments: bool) -> Vec<BotCommand> {
    let english: Vec<String> = Command::menu(payments).into_iter().map(|command| command.command).collect();
    crate::texts::ZH_COMMAND_MENU
        .iter()
        .filter(|(command, _)| english.iter().any(|listed| listed == command))
        .map(|(command, description)| BotCommand::new(*command, *description))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Option<Command> {
        Command::parse(&separate_command(text)?, "SoraTestBot").ok()
    }

    #[test]
    fn commands_addressed_to_us_or_nobody() {
        assert_eq!(parse("/video a cat"), Some(Command::Video("a cat".into())));
        assert_eq!(parse("/video@SoraTestBot a cat"), Some(Command::Video("a cat".into())));
        assert_eq!(parse("/video@soratestbot a cat"), Some(Command::Video("a cat".into())));
        assert_eq!(parse("/video@OtherBot a cat"), None);
        assert_eq!(parse("/unknown a cat"), None);
        assert_eq!(parse("video a cat"), None);
    }

    #[test]
    fn the_chinese_menu_lists_every_command() {
        let english: Vec<String> = Command::bot_commands().into_iter().map(|c| c.command).collect();
        let chinese: Vec<String> = crate::texts::ZH_COMMAND_MENU.iter().map(|(c, _)| c.to_string()).collect();
        assert_eq!(english, chinese);
        for payments in [false, true] {
            let english: Vec<String> = Command::menu(payments).into_iter().map(|c| c.command).collect();
            let chinese: Vec<String> = zh_menu(payments).into_iter().map(|c| c.command).collect();
            assert_eq!(english, chinese);
        }
    }

    #[test]
    fn payment_commands_are_in_the_menu_only_with_payments_on() {
        let off: Vec<String> = Command::menu(false).into_iter().map(|c| c.command).collect();
        assert_eq!(off.len(), 10, "{off:?}");
        assert!(!off.iter().any(|c| c == "/buy" || c == "/balance" || c == "/paysupport"));
        let on: Vec<String> = Command::menu(true).into_iter().map(|c| c.command).collect();
        assert_eq!(&on[10..], ["/buy", "/balance", "/paysupport"]);
        assert!(!on.iter().any(|c| c == "/grant" || c == "/refund"), "admins' commands are not advertised");
    }

    #[test]
    fn a_newline_after_the_command_separates_it() {
        assert_eq!(parse("/video\n--pro a cat"), Some(Command::Video("\n--pro a cat".into())));
        assert_eq!(parse("/tasks"), Some(Command::Tasks(String::new())));
        assert_eq!(parse("/status 12"), Some(Command::Status("12".into())));
    }
}
