//! The gate in front of the dispatcher: decides, per update and in O(1), whether
//! it may reach its chat's queue at all.
//!
//! The dispatcher (`src/dispatch.rs`) keeps a bounded queue per chat and drops
//! what does not fit, so one flooding chat must not fill its queue with work
//! that would be refused anyway. So what must not be handled is dropped here,
//! before any queue: commands (guided answers included) and video-making presses over the
//! user's rate limit, a press repeated within seconds, everything strangers
//! send except `/start`, `/help` and one refused command a minute. A dropped
//! press is still answered, so its spinner stops. Handlers then do only their
//! database work and leave answers to the outbox (`Telegram::queue_reply`), so
//! every chat's queue drains quickly.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures_util::{StreamExt, future, stream::BoxStream};
use teloxide::{
    stop::StopToken,
    types::{AllowedUpdate, CallbackQuery, Message, Update, UpdateKind},
    update_listeners::{AsUpdateStream, UpdateListener},
};

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

    /// `listener` with this gate applied to its updates.
    pub fn wrap<L>(self: &Arc<Self>, listener: L) -> Gated<L> {
        Gated { inner: listener, gate: self.clone() }
    }
}

/// An update listener whose updates pass the gate first.
pub struct Gated<L> {
    inner: L,
    gate: Arc<Gate>,
}

impl<L> UpdateListener for Gated<L>
where
    L: UpdateListener,
    L::Err: Send + 'static,
{
    type Err = L::Err;

    fn stop_token(&mut self) -> StopToken {
        self.inner.stop_token()
    }

    fn hint_allowed_updates(&mut self, hint: &mut dyn Iterator<Item = AllowedUpdate>) {
        self.inner.hint_allowed_updates(hint)
    }
}

impl<'a, L> AsUpdateStream<'a> for Gated<L>
where
    L: UpdateListener,
    L::Err: Send + 'static,
{
    type StreamErr = L::Err;
    type Stream = BoxStream<'a, Result<Update, L::Err>>;

    fn as_stream(&'a mut self) -> Self::Stream {
        let gate = self.gate.clone();
        self.inner
            .as_stream()
            .filter(move |update| future::ready(update.as_ref().map_or(true, |update| gate.admit(update))))
            .boxed()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::rate_limit::{BURST, NOTICE_EVERY};

    const MEMBER: i64 = 10;
    const ADMIN: i64 = 11;
    const STRANGER: i64 = 12;

    fn gate(per_minute: u32) -> Arc<Gate> {
        let vars = [
            ("TELOXIDE_TOKEN", testkit::TOKEN),
            ("VIDEO_API_KEY", "k"),
            ("ALLOWED_USER_IDS", "10"),
            ("ADMIN_USER_IDS", "11"),
            ("TELEGRAM_SEND_LIMITS", "off"),
            ("COMMANDS_PER_MINUTE", &per_minute.to_string()),
        ]
        .map(|(key, value)| (key.to_owned(), value.to_owned()));
        let config =
            Config::from_lookup(|name| vars.iter().find(|(key, _)| key == name).map(|(_, value)| value.clone()))
                .unwrap();
        let telegram = Telegram::new(&config);
        Gate::new(Arc::new(config), telegram, "SoraTestBot", 99)
    }

    fn message(user_id: i64, text: &str) -> Message {
        serde_json::from_value(json!({
            "message_id": 1, "date": 0, "text": text,
            "chat": {"id": user_id, "type": "private", "first_name": "U"},
            "from": {"id": user_id, "is_bot": false, "first_name": "U"},
        }))
        .unwrap()
    }

    fn admissions(gate: &Gate, user_id: i64, text: &str, n: usize, now: Instant) -> Vec<Admission> {
        let message = message(user_id, text);
        (0..n).map(|_| gate.admission(&message, now)).collect()
    }

    #[test]
    fn a_member_gets_the_burst_then_one_notice() {
        let gate = gate(20);
        let now = Instant::now();
        let seen = admissions(&gate, MEMBER, "/video a cat", BURST as usize + 3, now);
        assert!(seen[..BURST as usize].iter().all(|a| *a == Admission::Pass), "{seen:?}");
        assert_eq!(
            &seen[BURST as usize..],
            [Admission::SlowDown, Admission::Drop("command"), Admission::Drop("command")]
        );
        // Chatter is not a command: it never counts.
        assert_eq!(admissions(&gate, MEMBER, "hello", 50, now), vec![Admission::Pass; 50]);
        assert_eq!(admissions(&gate, MEMBER, "/video@OtherBot a cat", 50, now), vec![Admission::Pass; 50]);
    }

    #[test]
    fn admins_are_exempt() {
        let gate = gate(20);
        assert_eq!(admissions(&gate, ADMIN, "/help", 100, Instant::now()), vec![Admission::Pass; 100]);
    }

    #[test]
    fn strangers_get_help_within_the_limit_and_one_refusal_a_minute() {
        let gate = gate(20);
        let now = Instant::now();
        let refused = admissions(&gate, STRANGER, "/video a cat", 10, now);
        assert_eq!(refused[0], Admission::Pass);
        assert!(refused[1..].iter().all(|a| *a == Admission::Drop("stranger")), "{refused:?}");
        assert_eq!(admissions(&gate, STRANGER, "/video a cat", 1, now + NOTICE_EVERY), [Admission::Pass]);
        assert_eq!(admissions(&gate, STRANGER, "hello", 3, now), vec![Admission::Drop("stranger"); 3]);
        // /help is public: limited like anyone's commands (the notice was used up above).
        let help = admissions(&gate, STRANGER, "/help", BURST as usize + 1, now + Duration::from_secs(61));
        assert!(help[..BURST as usize].iter().all(|a| *a == Admission::Pass), "{help:?}");
        assert_eq!(help[BURST as usize], Admission::Drop("command"));
    }

    fn press(data: &str, message_id: i32) -> CallbackQuery {
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed).to_string();
        serde_json::from_value(json!({
            "id": id, "chat_instance": "c", "data": data,
            "from": {"id": MEMBER, "is_bot": false, "first_name": "U"},
            "message": {"message_id": message_id, "date": 0, "text": "t",
                "chat": {"id": -5, "type": "group", "title": "G"}},
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn video_presses_count_like_commands_menu_presses_do_not() {
        let gate = gate(20);
        let now = Instant::now();
        // Different messages, so none is a repeat.
        let passed = (0..20).filter(|i| gate.admit_press(&press("a:1", *i), now)).count();
        assert_eq!(passed, BURST as usize);
        let menus = (100..120).filter(|i| gate.admit_press(&press("m:1", *i), now)).count();
        assert_eq!(menus, 20, "moving through a menu is not a command");
        // The presses used up the burst (and the notice): a command now is over the limit.
        assert_eq!(admissions(&gate, MEMBER, "/video a cat", 1, now), [Admission::Drop("command")]);
    }

    #[test]
    fn the_same_press_within_five_seconds_is_a_repeat() {
        let gate = gate(0);
        let now = Instant::now();
        assert_eq!(gate.press_admission(&press("r:1", 1), now), Admission::Pass);
        assert_eq!(
            gate.press_admission(&press("r:1", 1), now + Duration::from_secs(4)),
            Admission::Drop("repeated_press")
        );
        assert_eq!(gate.press_admission(&press("s:1", 1), now), Admission::Pass, "another button");
        assert_eq!(gate.press_admission(&press("r:1", 2), now), Admission::Pass, "another message");
        assert_eq!(gate.press_admission(&press("r:1", 1), now + REPEAT_WITHIN), Admission::Pass);
        let twice = press("r:9", 1);
        assert_eq!(gate.press_admission(&twice, now), Admission::Pass);
        assert_eq!(gate.press_admission(&twice, now), Admission::Drop("same_press"), "one update delivered twice");
    }

    #[test]
    fn zero_lifts_the_limit() {
        let gate = gate(0);
        assert_eq!(admissions(&gate, MEMBER, "/help", 100, Instant::now()), vec![Admission::Pass; 100]);
    }
}
