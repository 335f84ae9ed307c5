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
        Config::from_lookup(|name| vars.iter().find(|(key, _)| key == name).map(|(_, value)| value.clone())).unwrap();
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
    assert_eq!(&seen[BURST as usize..], [Admission::SlowDown, Admission::Drop("command"), Admission::Drop("command")]);
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
    assert_eq!(gate.press_admission(&press("r:1", 1), now + Duration::from_secs(4)), Admission::Drop("repeated_press"));
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
