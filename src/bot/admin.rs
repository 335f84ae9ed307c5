//! Admin commands that resolve creates whose outcome is unknown: `/unknown`,
//! `/attach`, `/release`. From any chat, for admins only; everyone else gets
//! what any unknown command gets (nothing). Not in the command menu (it is
//! the same for everyone); `/help` lists them for admins.

use std::sync::Arc;

use teloxide::{prelude::*, types::Me, utils::command::BotCommands};

use super::{
    context::{AppState, Sender},
    error::HandlerResult,
    menu::separate_command,
};
use crate::{
    store::{Lease, Resolution, now_ms},
    texts::{self, Lang},
};

/// How many unknown outcomes `/unknown` reads; more than one message shows.
const LISTED: i64 = 100;

/// Longest upstream id `/attach` takes (relay ids are a few dozen characters).
const UPSTREAM_ID_MAX: usize = 200;

#[derive(BotCommands, Clone, Debug, PartialEq, Eq, strum::IntoStaticStr)]
#[command(rename_rule = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum AdminCommand {
    Unknown(String),
    Attach(String),
    Release(String),
}

/// The admin command of this message, for us (`/release@OtherBot` is not).
pub(super) fn parse(message: Arc<Message>, me: Me) -> Option<AdminCommand> {
    let text = message.text()?;
    AdminCommand::parse(&separate_command(text)?, me.username()).ok()
}

pub(super) fn is_admin(message: Arc<Message>, state: Arc<AppState>) -> bool {
    message.from.as_ref().is_some_and(|user| state.config.access.is_admin(user.id.0 as i64))
}

/// `/unknown`: the creates whose outcome is unknown.
pub(super) async fn unknown(sender: Sender, state: Arc<AppState>) -> HandlerResult {
    let (tasks, total) = state.store.unknown_tasks(LISTED).await?;
    tracing::info!(admin_id = sender.user_id, chat_id = sender.chat_id, total, "admin listed the unknown outcomes");
    answer(&state, &sender, texts::unknown_list(sender.lang, &tasks, total))
}

/// `/attach <number> <upstream id>`: the unknown outcome was made, as that job.
pub(super) async fn attach(sender: Sender, args: String, state: Arc<AppState>) -> HandlerResult {
    let text = attached(&sender, &args, &state).await?;
    answer(&state, &sender, text)
}

/// `/release <number>`: the unknown outcome was not made.
pub(super) async fn release(sender: Sender, args: String, state: Arc<AppState>) -> HandlerResult {
    let text = released(&sender, &args, &state).await?;
    answer(&state, &sender, text)
}

fn answer(state: &AppState, sender: &Sender, text: String) -> HandlerResult {
    state.telegram.queue_reply(sender.chat_id, sender.message_id, text);
    Ok(())
}

/// `12`, `#12`.
fn task_number(raw: &str) -> Option<i64> {
    raw.trim_start_matches('#').parse().ok().filter(|id| *id > 0)
}

/// `<number> <upstream id>`, nothing more.
fn attach_args(args: &str) -> Option<(i64, &str)> {
    let mut words = args.split_whitespace();
    let (number, upstream_id) = (task_number(words.next()?)?, words.next()?);
    words.next().is_none().then_some((number, upstream_id))
}

fn upstream_id_is_plausible(id: &str) -> bool {
    id.len() <= UPSTREAM_ID_MAX && id.chars().all(|c| c.is_ascii_graphic())
}

async fn attached(sender: &Sender, args: &str, state: &AppState) -> Result<String, crate::store::StoreError> {
    let lang = sender.lang;
    let Some((id, upstream_id)) = attach_args(args) else { return Ok(texts::attach_usage(lang)) };
    if !upstream_id_is_plausible(upstream_id) {
        return Ok(texts::bad_upstream_id(lang));
    }
    // Leased to this replica, which then follows it like a task it created;
    // another one takes over if this one goes away.
    let lease = Lease { owner: &state.owner };
    let first_poll_at = now_ms() + state.config.poll_interval.as_millis() as i64;
    let resolution = state.store.attach_upstream(id, upstream_id, lease, first_poll_at).await?;
    Ok(match resolution {
        Resolution::Resolved(task) => {
            tracing::info!(
                admin_id = sender.user_id,
                task = task.id,
                upstream_id,
                chat_id = task.chat_id,
                user_id = task.user_id,
                "admin attached an upstream id to an unknown outcome; following it"
            );
            state.telegram.queue_reply(task.chat_id, task.command_msg_id, texts::unknown_attached(task.lang, &task));
            texts::attached(lang, &task)
        }
        other => refused(sender, "attach", id, lang, other, upstream_id),
    })
}

async fn released(sender: &Sender, args: &str, state: &AppState) -> Result<String, crate::store::StoreError> {
    let lang = sender.lang;
    let Some(id) =
        args.split_whitespace().next().and_then(task_number).filter(|_| args.split_whitespace().count() == 1)
    else {
        return Ok(texts::release_usage(lang));
    };
    let (resolution, given_back) = state.store.release_unknown(id).await?;
    Ok(match resolution {
        Resolution::Resolved(task) => {
            let credits = given_back.map(|given| given.credits);
            tracing::info!(
                admin_id = sender.user_id,
                task = task.id,
                chat_id = task.chat_id,
                user_id = task.user_id,
                credits_given_back = credits.unwrap_or(0),
                "admin released an unknown outcome as not made; slot and day's count given back"
            );
            let told = texts::unknown_released(task.lang, &task, credits);
            state.telegram.queue_reply(task.chat_id, task.command_msg_id, told);
            texts::released(lang, &task, credits)
        }
        other => refused(sender, "release", id, lang, other, ""),
    })
}

/// Why an `/attach` or `/release` changed nothing, logged and in words.
fn refused(sender: &Sender, what: &str, id: i64, lang: Lang, resolution: Resolution, upstream_id: &str) -> String {
    let (reason, text) = match resolution {
        Resolution::NoSuchTask => ("no such task", texts::no_such_video(lang, id)),
        Resolution::NotUnknown(task) => ("its outcome is not unknown", texts::not_unknown(lang, &task)),
        Resolution::UpstreamTaken(other) => {
            ("the upstream id belongs to another task", texts::upstream_taken(lang, upstream_id, other))
        }
        Resolution::Resolved(_) => unreachable!("handled by the caller"),
    };
    tracing::info!(admin_id = sender.user_id, task = id, command = what, reason, "admin command changed nothing");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Option<AdminCommand> {
        AdminCommand::parse(&separate_command(text)?, "SoraTestBot").ok()
    }

    #[test]
    fn admin_commands_parse_apart_from_the_public_ones() {
        assert_eq!(parse("/unknown"), Some(AdminCommand::Unknown(String::new())));
        assert_eq!(parse("/attach@SoraTestBot 12 x"), Some(AdminCommand::Attach("12 x".into())));
        assert_eq!(parse("/release@OtherBot 12"), None);
        assert_eq!(parse("/video a cat"), None);
        assert!(super::super::menu::Command::parse("/unknown", "SoraTestBot").is_err(), "not a public command");
    }

    #[test]
    fn attach_takes_a_number_and_one_upstream_id() {
        assert_eq!(attach_args("12 sora-2:task_01k7"), Some((12, "sora-2:task_01k7")));
        assert_eq!(attach_args(" #12   sora-2:task_01k7 "), Some((12, "sora-2:task_01k7")));
        assert_eq!(attach_args("12"), None);
        assert_eq!(attach_args("12 a b"), None);
        assert_eq!(attach_args("twelve a"), None);
        assert_eq!(attach_args("0 a"), None);
        assert!(upstream_id_is_plausible("sora-2:task_01k7znn323fywsam5cjy0btrwj"));
        assert!(!upstream_id_is_plausible(&"x".repeat(201)));
        assert!(!upstream_id_is_plausible("任务"));
    }
}
