//! Sends into one chat take turns, so one busy chat cannot fill Throttle's
//! shared queue and make every other chat wait behind it.

use std::{
    collections::HashMap,
    future::Future,
    sync::{Arc, Mutex},
};

/// One FIFO lock per chat with a send in progress or waiting; a chat's entry
/// goes with its last user. Clones of a lock are only made and dropped under
/// the map's lock, so "only the map holds it" means nobody waits for it.
#[derive(Default)]
pub(super) struct Turns {
    chats: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
}

impl Turns {
    /// Runs `send` once every earlier send into `chat_id` has finished.
    pub(super) async fn in_turn<T>(&self, chat_id: i64, send: impl Future<Output = T>) -> T {
        let turn = Turn { turns: self, chat_id, lock: Some(self.lock().entry(chat_id).or_default().clone()) };
        let _mine = turn.lock.as_ref().expect("set until dropped").lock().await;
        send.await
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Arc<tokio::sync::Mutex<()>>>> {
        self.chats.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A place in a chat's line; leaving it (also when cancelled) removes the
/// chat's lock if nobody else holds or waits for it.
struct Turn<'a> {
    turns: &'a Turns,
    chat_id: i64,
    lock: Option<Arc<tokio::sync::Mutex<()>>>,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut chats = self.turns.lock();
        self.lock = None;
        if chats.get(&self.chat_id).is_some_and(|lock| Arc::strong_count(lock) == 1) {
            chats.remove(&self.chat_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn chats(turns: &Turns) -> usize {
        turns.lock().len()
    }

    #[tokio::test]
    async fn sends_into_one_chat_take_turns_others_do_not_wait_and_no_state_is_left() {
        let turns = Arc::new(Turns::default());
        let order = Arc::new(Mutex::new(Vec::new()));
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let push = |order: &Arc<Mutex<Vec<&'static str>>>, what| order.lock().unwrap().push(what);

        let (t, o) = (turns.clone(), order.clone());
        let first = tokio::spawn(async move {
            t.in_turn(1, async {
                released.await.ok();
                push(&o, "1a")
            })
            .await
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let (t, o) = (turns.clone(), order.clone());
        let second = tokio::spawn(async move { t.in_turn(1, async { push(&o, "1b") }).await });
        turns.in_turn(2, async { push(&order, "2") }).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(*order.lock().unwrap(), ["2"]);

        release.send(()).unwrap();
        first.await.unwrap();
        second.await.unwrap();
        assert_eq!(*order.lock().unwrap(), ["2", "1a", "1b"]);
        assert_eq!(chats(&turns), 0);

        // A cancelled send gives its turn up too.
        let t = turns.clone();
        let stuck = tokio::spawn(async move { t.in_turn(3, std::future::pending::<()>()).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(chats(&turns), 1);
        stuck.abort();
        let _ = stuck.await;
        assert_eq!(chats(&turns), 0);
        turns.in_turn(3, async {}).await;
    }
}
