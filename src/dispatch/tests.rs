use std::{
    convert::Infallible,
    sync::{Arc, Mutex},
    time::Duration,
};

use teloxide::{dptree, error_handlers::LoggingErrorHandler, stop::mk_stop_token, update_listeners::StatefulListener};
use testkit::{Chat, Msg, User};
use tokio::sync::{Semaphore, mpsc};
use tokio_stream::wrappers::UnboundedReceiverStream;

use super::*;

type HandlerError = Box<dyn std::error::Error + Send + Sync>;

type ListenerState = (UnboundedReceiverStream<Result<Update, Infallible>>, teloxide::stop::StopToken);

fn updates_of(state: &mut ListenerState) -> &mut UnboundedReceiverStream<Result<Update, Infallible>> {
    &mut state.0
}

/// What the test handler saw, in order: "chat:text".
type Seen = Arc<Mutex<Vec<String>>>;

/// Updates whose text starts with "wait" are handled only once `release` has a permit for them.
struct Harness {
    updates: mpsc::UnboundedSender<Result<Update, Infallible>>,
    seen: Seen,
    release: Arc<Semaphore>,
    run: tokio::task::JoinHandle<Option<&'static str>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    /// Texts of the updates handed to `on_overflow`.
    overflowed: Seen,
}

impl Harness {
    fn start() -> Harness {
        let seen = Seen::default();
        let release = Arc::new(Semaphore::new(0));
        let handler = dptree::entry().endpoint(|update: Update, seen: Seen, release: Arc<Semaphore>| async move {
            let UpdateKind::Message(message) = update.kind else { return Ok(()) };
            let text = message.text().unwrap_or_default().to_owned();
            if text.starts_with("wait") {
                release.acquire().await.expect("open").forget();
            }
            if text == "boom" {
                panic!("a handler bug");
            }
            seen.lock().unwrap().push(format!("{}:{text}", message.chat.id.0));
            Ok::<(), HandlerError>(())
        });
        let overflowed = Seen::default();
        let dispatch = Dispatch::new(handler, dptree::deps![seen.clone(), release.clone()], Vec::new()).on_overflow({
            let overflowed = overflowed.clone();
            move |update| {
                if let UpdateKind::Message(message) = &update.kind {
                    overflowed.lock().unwrap().push(message.text().unwrap_or_default().to_owned());
                }
            }
        });
        let (tx, rx) = mpsc::unbounded_channel();
        let (stop_token, _) = mk_stop_token();
        let listener = StatefulListener::new(
            (UnboundedReceiverStream::new(rx), stop_token),
            updates_of,
            |state: &mut ListenerState| state.1.clone(),
        );
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let run = tokio::spawn(async move {
            dispatch
                .run(listener, LoggingErrorHandler::new(), async move {
                    let _ = stop_rx.await;
                    "held"
                })
                .await
        });
        Harness { updates: tx, seen, release, run, stop: Some(stop_tx), overflowed }
    }

    fn send(&self, chat_id: i64, text: &str) {
        let message = Msg::text(&Chat::private(chat_id), &User::new(chat_id), text).build();
        // From text, as updates arrive: teloxide's update types do not all read from a `Value`.
        let update = serde_json::from_str(&serde_json::json!({ "update_id": 1, "message": message }).to_string());
        let update: Update = update.unwrap();
        assert!(!matches!(update.kind, UpdateKind::Error(_)), "{update:?}");
        self.updates.send(Ok(update)).unwrap();
    }

    /// Every handler turn taken by an update that waits, and one more update queued behind them.
    fn take_every_turn(&self) {
        for chat in 1..=HANDLERS_AT_ONCE as i64 {
            self.send(chat, "wait");
        }
        self.send(1000, "queued behind them");
    }

    async fn seen_eventually(&self, expected: &[&str]) {
        self.seen_eventually_within(expected, Duration::from_secs(1)).await;
    }

    async fn seen_eventually_within(&self, expected: &[&str], limit: Duration) {
        for _ in 0..limit.as_millis() / 5 {
            if self.seen.lock().unwrap().clone() == expected {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(self.seen.lock().unwrap().clone(), expected);
    }
}

#[tokio::test]
async fn one_chat_waits_for_its_earlier_update_while_other_chats_go_on() {
    let harness = Harness::start();
    harness.send(1, "wait a");
    harness.send(1, "b");
    harness.send(2, "c");
    harness.seen_eventually(&["2:c"]).await;
    harness.release.add_permits(1);
    harness.seen_eventually(&["2:c", "1:wait a", "1:b"]).await;
}

#[tokio::test]
async fn a_full_chat_queue_drops_that_chats_newest_update_only_and_says_so() {
    let harness = Harness::start();
    harness.send(1, "wait first");
    for i in 0..QUEUE_PER_CHAT {
        harness.send(1, &format!("queued {i}"));
    }
    harness.send(1, "one too many");
    harness.send(2, "other chat");
    harness.seen_eventually(&["2:other chat"]).await;
    harness.release.add_permits(1);
    let mut expected = vec!["2:other chat".to_owned(), "1:wait first".to_owned()];
    expected.extend((0..QUEUE_PER_CHAT).map(|i| format!("1:queued {i}")));
    harness
        .seen_eventually_within(&expected.iter().map(String::as_str).collect::<Vec<_>>(), Duration::from_secs(5))
        .await;
    assert_eq!(*harness.overflowed.lock().unwrap(), ["one too many"]);
}

#[tokio::test]
async fn a_panicking_handler_does_not_stop_its_chat() {
    let harness = Harness::start();
    harness.send(1, "boom");
    harness.send(1, "after");
    harness.seen_eventually(&["1:after"]).await;
}

#[tokio::test]
async fn stopping_waits_for_handlers_in_flight_and_hands_back_what_stop_yielded() {
    let mut harness = Harness::start();
    harness.send(1, "wait slow");
    tokio::time::sleep(Duration::from_millis(20)).await;
    harness.stop.take().unwrap().send(()).unwrap();
    // The listener's stream ends (here: its sender goes), the handler still runs.
    let Harness { updates, seen, release, run, .. } = harness;
    drop(updates);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!run.is_finished(), "stopped before its handler finished");
    release.add_permits(1);
    assert_eq!(run.await.unwrap(), Some("held"));
    assert_eq!(seen.lock().unwrap().clone(), ["1:wait slow"]);
}

#[tokio::test]
async fn at_most_a_fixed_number_of_updates_are_handled_at_once() {
    let harness = Harness::start();
    harness.take_every_turn();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(harness.seen.lock().unwrap().is_empty(), "an update was handled beyond the limit");
    harness.release.add_permits(1);
    for _ in 0..200 {
        if harness.seen.lock().unwrap().iter().any(|seen| seen == "1000:queued behind them") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(harness.seen.lock().unwrap().len(), 2, "one waiting handler and the queued update ran");
    harness.release.add_permits(HANDLERS_AT_ONCE);
}

#[tokio::test]
async fn handlers_still_running_after_the_turn_limit_let_the_next_updates_in() {
    let harness = Harness::start();
    harness.take_every_turn();
    tokio::time::sleep(TURN_LIMIT / 2).await;
    assert!(harness.seen.lock().unwrap().is_empty());
    harness.seen_eventually_within(&["1000:queued behind them"], TURN_LIMIT * 2).await;
    harness.release.add_permits(HANDLERS_AT_ONCE);
}

#[test]
fn a_failed_update_is_logged_with_its_ids_and_command_name_only() {
    let message = Msg::text(&Chat::group(-42), &User::new(7), "/video@SoraTestBot a secret prompt").build();
    let update: Update =
        serde_json::from_str(&serde_json::json!({"update_id": 99, "message": message}).to_string()).unwrap();
    let context = UpdateContext::of(&update);
    assert_eq!(
        (context.update_id, context.chat_id, context.user_id, context.kind.as_str()),
        (99, Some(-42), Some(7), "/video")
    );
    assert!(context.message_id.is_some() && context.callback_id.is_none());
    assert_eq!(command_name("/status 12"), Some("/status"));
    assert_eq!(command_name("hello /video"), None);
    assert_eq!(command_name(&format!("/{}", "x".repeat(40))), None);
    assert_eq!(command_name("/ü"), None);
}
