//! The gate between the update listener (polling or webhook, see `gated.rs`)
//! and the dispatcher (`Dispatch`, src/dispatch.rs): decides, per update and
//! in O(1), whether it may reach its chat's queue at all.
//!
//! `Dispatch` keeps a bounded queue per chat and drops what does not fit, so
//! one flooding chat must not fill its queue with work that would be refused
//! anyway. So what must not be handled is dropped here, before any queue:
//! commands (guided answers included) and video-making presses over the
//! user's rate limit, a press repeated within seconds, everything strangers
//! send except `/start`, `/help` and one refused command a minute. A dropped
//! press is still answered, so its spinner stops. The gate also answers what
//! `Dispatch` drops for lack of room (`overflowed`) and what its handler
//! failed on (`failed`). Handlers do only their database work and leave
//! answers to the outbox (`Telegram::queue_reply`), so every chat's queue
//! drains quickly.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use teloxide::types::{CallbackQuery, Message, Update, UpdateKind};

use super::{guided::answers_question, menu::command_of};
use crate::{
    config::Config,
    keyboards::Press,
    metrics,
    rate_limit::{RateLimiter, Verdict},
    telegram::Telegram,
    texts::{self, Lang},
};

pub struct Gate {
    config: Arc<Config>,
    telegram: Telegram,
    /// The bot's username: `/video@OtherBot` is not ours and costs nothing.
    username: String,
    /// The bot's user id: answers to its guided questions are requests.
    bot_id: u64,
    limiter: Mutex<RateLimiter>,
    /// When each recent press was last seen, and its callback id, by who
    /// pressed what where.
    presses: Mutex<HashMap<PressKey, (Instant, String)>>,
}

/// Presser, chat, message and button data.
type PressKey = (i64, i64, i32, String);

enum Repeat {
    No,
    /// Another press of the same button.
    Yes,
    /// The same press (callback id) delivered again.
    SameUpdate,
}

/// The same button pressed again by the same person within this is a
/// repeat (a double tap, an impatient finger): answered, not acted on.
pub const REPEAT_WITHIN: Duration = Duration::from_secs(5);
/// Presses remembered for `REPEAT_WITHIN`; past this, older ones are forgotten first.
const PRESSES_REMEMBERED: usize = 10_000;

/// What the gate does with an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Admission {
    Pass,
    /// Over the rate limit: dropped, and the user is told to slow down.
    SlowDown,
    /// Dropped silently; the label names why, for the metric.
    Drop(&'static str),
}

impl Gate {
    pub fn new(config: Arc<Config>, telegram: Telegram, username: &str, bot_id: u64) -> Arc<Gate> {
        let limiter = Mutex::new(RateLimiter::new(config.commands_per_minute));
        let presses = Mutex::default();
        Arc::new(Gate { config, telegram, username: username.to_owned(), bot_id, limiter, presses })
    }

    /// An update the dispatcher had no room for: a command is told to come
    /// again, a press is answered; anything else only counted.
    pub fn overflowed(&self, update: &Update) {
        match &update.kind {
            UpdateKind::Message(message) if self.is_request(message) => {
                let lang = Lang::from_code(message.from.as_ref().and_then(|user| user.language_code.as_deref()));
                self.telegram.queue_reply(message.chat.id.0, message.id.0, texts::too_busy(lang));
            }
            UpdateKind::CallbackQuery(press) => {
                let lang = Lang::from_code(press.from.language_code.as_deref());
                self.telegram.queue_press_answer(&press.id.0, Some(texts::press_busy(lang).to_owned()));
            }
            _ => {}
        }
    }

    /// A command or a press whose handler failed inside (the database, say):
    /// its sender hears so, instead of nothing. Nothing was paid for: the
    /// create runs outside the handler and answers for itself.
    pub fn failed(&self, context: &crate::dispatch::UpdateContext) {
        let lang = Lang::from_code(context.lang.as_deref());
        // A command or an answer to a guided question; not a payment (the
        // Stars were taken: its handler answers with the charge), nor an
        // album's photo (its caption's message is the one answered).
        let answerable = context.kind.starts_with('/') || context.kind == "message";
        match (context.chat_id, context.message_id, &context.callback_id) {
            (Some(chat_id), Some(message_id), _) if answerable => {
                self.telegram.queue_reply(chat_id, message_id, texts::inside_failure(lang));
            }
            (_, _, Some(callback_id)) => {
                self.telegram.queue_press_answer(callback_id, Some(texts::inside_failure(lang)));
            }
            _ => {}
        }
    }

    /// A command for us, or an answer to our guided question.
    fn is_request(&self, message: &Message) -> bool {
        command_of(message, &self.username, self.config.payments.is_some()).is_some() || self.is_guided_answer(message)
    }

    /// An answer to a guided question that can become a request: an album's
    /// uncaptioned photos are only its attachments.
    fn is_guided_answer(&self, message: &Message) -> bool {
        message.text().or(message.caption()).is_some() && answers_question(message, self.bot_id)
    }

    /// Whether `update` may go on to the dispatcher; answers the slow-down notice itself.
    pub fn admit(&self, update: &Update) -> bool {
        let message = match &update.kind {
            UpdateKind::Message(message) => message,
            UpdateKind::CallbackQuery(press) => return self.admit_press(press, Instant::now()),
            // Inline queries come as the user types, need no chat queue and are cheap.
            _ => return true,
        };
        match self.admission(message, Instant::now()) {
            Admission::Pass => true,
            Admission::SlowDown => {
                let lang = Lang::from_code(message.from.as_ref().and_then(|user| user.language_code.as_deref()));
                tracing::info!(
                    chat_id = message.chat.id.0,
                    user_id = message.from.as_ref().map(|user| user.id.0),
                    update_id = update.id.0,
                    "a user is over the command rate limit; dropping their commands"
                );
                metrics::dropped("command");
                self.telegram.queue_reply(message.chat.id.0, message.id.0, texts::slow_down(lang));
                false
            }
            Admission::Drop(what) => {
                metrics::dropped(what);
                false
            }
        }
    }

    /// A press that makes a video counts like a command; one that only moves
    /// through a menu (or refreshes, stops) does not. A repeat of the same
    /// press within `REPEAT_WITHIN` is dropped. A dropped press is answered
    /// here, so its spinner stops at once.
    fn admit_press(&self, press: &CallbackQuery, now: Instant) -> bool {
        let lang = Lang::from_code(press.from.language_code.as_deref());
        match self.press_admission(press, now) {
            Admission::Pass => true,
            Admission::SlowDown => {
                metrics::dropped("press");
                self.telegram.queue_press_answer(&press.id.0, Some(texts::press_slow_down(lang).to_owned()));
                false
            }
            // The same update delivered again: the first one's answer is its answer.
            Admission::Drop("same_press") => false,
            Admission::Drop(what) => {
                metrics::dropped(what);
                self.telegram.queue_press_answer(&press.id.0, Some(texts::press_repeated(lang).to_owned()));
                false
            }
        }
    }

    fn press_admission(&self, press: &CallbackQuery, now: Instant) -> Admission {
        let user_id = press.from.id.0 as i64;
        let data = press.data.clone().unwrap_or_default();
        if let Some(message) = &press.message {
            let key = (user_id, message.chat().id.0, message.id().0, data.clone());
            match self.repeated(key, &press.id.0, now) {
                Repeat::No => {}
                Repeat::SameUpdate => return Admission::Drop("same_press"),
                Repeat::Yes => return Admission::Drop("repeated_press"),
            }
        }
        let access = &self.config.access;
        let makes_video = Press::parse(&data).is_some_and(Press::makes_video);
        if access.is_admin(user_id) || !makes_video {
            return Admission::Pass;
        }
        let member = press.message.as_ref().is_some_and(|message| access.may_create(user_id, message.chat().id.0));
        match self.limiter.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).command(user_id, member, now) {
            Verdict::Pass => Admission::Pass,
            Verdict::Notify | Verdict::Drop => Admission::SlowDown,
        }
    }

    /// Whether this press was seen within `REPEAT_WITHIN`; remembers it if not.
    fn repeated(&self, key: PressKey, callback_id: &str, now: Instant) -> Repeat {
        let mut presses = self.presses.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((at, id)) = presses.get(&key)
            && now.saturating_duration_since(*at) < REPEAT_WITHIN
        {
            return if id == callback_id { Repeat::SameUpdate } else { Repeat::Yes };
        }
        if presses.len() >= PRESSES_REMEMBERED {
            presses.retain(|_, (at, _)| now.saturating_duration_since(*at) < REPEAT_WITHIN);
            if presses.len() >= PRESSES_REMEMBERED {
                presses.clear();
            }
        }
        presses.insert(key, (now, callback_id.to_owned()));
        Repeat::No
    }

    fn admission(&self, message: &Message, now: Instant) -> Admission {
        // Messages without a sender reach no handler that does any work.
        let Some(user) = &message.from else { return Admission::Pass };
        let user_id = user.id.0 as i64;
        let access = &self.config.access;
        // Telegram has taken the payer's Stars: the payment is credited even
        // if they may no longer use the bot.
        if message.successful_payment().is_some() {
            return Admission::Pass;
        }
        let member = access.may_create(user_id, message.chat.id.0);
        let command = command_of(message, &self.username, self.config.payments.is_some());
        if command.is_none() && (!member || !self.is_guided_answer(message)) {
            // Album photos and chatter: only members' can matter. A guided
            // answer is a request, counted below.
            return if member { Admission::Pass } else { Admission::Drop("stranger") };
        }
        if access.is_admin(user_id) {
            return Admission::Pass;
        }
        let mut limiter = self.limiter.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if !member && !command.as_ref().is_some_and(|command| command.is_public()) {
            // Refused anyway; the handler's "not allowed" answer at most once a minute.
            return if limiter.notice(user_id, member, now) { Admission::Pass } else { Admission::Drop("stranger") };
        }
        match limiter.command(user_id, member, now) {
            Verdict::Pass => Admission::Pass,
            Verdict::Notify => Admission::SlowDown,
            Verdict::Drop => Admission::Drop("command"),
        }
    }
}

#[cfg(test)]
mod tests;
