//! The bot's commands: the enum whose doc comments become Telegram's command
//! menu, how one is read from a message, and registering the menu.

use teloxide::{prelude::*, types::BotCommand, utils::command::BotCommands};

use crate::telegram::Telegram;

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
    pub(super) fn kind(&self) -> &'static str {
        self.into()
    }

    /// Everyone may read the help; everything else needs access. Telegram
    /// wants a seller's payment support reachable by anyone who paid.
    pub(super) fn is_public(&self) -> bool {
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

/// With payments off, `/buy` and the like are nobody's commands, as before
/// payments existed.
pub(super) fn command_of(message: &Message, username: &str, payments: bool) -> Option<Command> {
    let text = message.text().or(message.caption())?;
    Command::parse(&separate_command(text)?, username).ok().filter(|command| payments || !command.is_payment())
}

/// teloxide splits the command from its arguments at the first space only; a
/// newline or tab right after `/video` must separate them too.
pub(super) fn separate_command(text: &str) -> Option<String> {
    if !text.starts_with('/') {
        return None;
    }
    Some(match text.find(char::is_whitespace) {
        Some(at) if !text[at..].starts_with(' ') => format!("{} {}", &text[..at], &text[at..]),
        _ => text.to_owned(),
    })
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
