//! One queue per key (a chat, say): a key's items are handled one at a time in
//! the order they came, different keys' items at the same time.
//!
//! A key has a queue, and a task draining it, only while it has items waiting
//! or one being handled: a burst from many chats leaves nothing behind once it
//! is over. Queues are bounded per key and over all keys; an item past either
//! bound is handed back to the caller, who decides what dropping it means. A
//! handler that panics is logged and its key goes on with its next item.

use std::{
    collections::{HashMap, VecDeque, hash_map::Entry},
    hash::Hash,
    panic::AssertUnwindSafe,
    sync::{Arc, Mutex, MutexGuard},
};

use futures_util::FutureExt;
use tokio_util::task::TaskTracker;

/// Items waiting per key, handled by one task per key with items.
pub struct KeyedQueue<K, T> {
    waiting: Mutex<Waiting<K, T>>,
    /// Items one key may have waiting behind the one being handled.
    per_key: usize,
    /// Items waiting over all keys.
    at_most: usize,
    /// Every key's task, for whoever waits for the queue to drain.
    tasks: TaskTracker,
}

struct Waiting<K, T> {
    /// A key with a task always has an entry (possibly empty); the entry goes
    /// when the task ends, both under the lock, so an item is never left
    /// without a task.
    queues: HashMap<K, VecDeque<T>>,
    /// Items in all of `queues`.
    total: usize,
}

impl<K, T> KeyedQueue<K, T>
where
    K: Hash + Eq + Clone + Send + 'static,
    T: Send + 'static,
{
    pub fn new(per_key: usize, at_most: usize) -> Self {
        KeyedQueue {
            waiting: Mutex::new(Waiting { queues: HashMap::new(), total: 0 }),
            per_key,
            at_most,
            tasks: TaskTracker::new(),
        }
    }

    /// Hands `item` to `handle` once every earlier item of `key` has been
    /// handled, and returns at once. A key without items gets a task (on
    /// `tasks()`), which runs `handle` on this item and then on each item
    /// queued behind it; `handle` given with a later item of a busy key is not
    /// used. Gives the item back if the key or the whole queue is full.
    pub fn push<H, Fut>(self: &Arc<Self>, key: K, item: T, handle: H) -> Result<(), T>
    where
        H: Fn(T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let mut waiting = self.lock();
        let full = waiting.total >= self.at_most;
        let waiting = &mut *waiting;
        match waiting.queues.entry(key) {
            Entry::Occupied(queue) if full || queue.get().len() >= self.per_key => return Err(item),
            Entry::Occupied(mut queue) => {
                queue.get_mut().push_back(item);
                waiting.total += 1;
            }
            Entry::Vacant(slot) => {
                // The key is now busy; its first item goes straight to its task.
                let key = slot.key().clone();
                slot.insert(VecDeque::new());
                let queue = self.clone();
                self.tasks.spawn(async move {
                    queue.run(&handle, item).await;
                    queue.drain(key, handle).await;
                });
            }
        }
        Ok(())
    }

    /// The keys' tasks: close and wait on it to let every queue drain.
    pub fn tasks(&self) -> &TaskTracker {
        &self.tasks
    }

    /// Keys with items waiting or being handled.
    pub fn keys(&self) -> usize {
        self.lock().queues.len()
    }

    /// Handles the key's waiting items in order; forgets the key when none are left.
    async fn drain<H, Fut>(&self, key: K, handle: H)
    where
        H: Fn(T) -> Fut,
        Fut: Future<Output = ()>,
    {
        loop {
            let next = {
                let mut waiting = self.lock();
                match waiting.queues.get_mut(&key).and_then(VecDeque::pop_front) {
                    Some(item) => {
                        waiting.total -= 1;
                        item
                    }
                    None => {
                        waiting.queues.remove(&key);
                        return;
                    }
                }
            };
            self.run(&handle, next).await;
        }
    }

    async fn run<H, Fut>(&self, handle: &H, item: T)
    where
        H: Fn(T) -> Fut,
        Fut: Future<Output = ()>,
    {
        if AssertUnwindSafe(handle(item)).catch_unwind().await.is_err() {
            tracing::error!("a queued item's handler panicked; the next items of its key are still handled");
        }
    }

    // A panic while holding the lock leaves whole values behind (every change
    // is one push, pop or remove), so a poisoned lock is still good to use.
    fn lock(&self) -> MutexGuard<'_, Waiting<K, T>> {
        self.waiting.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::sync::Semaphore;

    use super::*;

    type Seen = Arc<Mutex<Vec<String>>>;

    /// Items starting with "wait" are handled once `release` has a permit;
    /// "boom" panics; every other item is recorded.
    fn handler(
        seen: &Seen,
        release: &Arc<Semaphore>,
    ) -> impl Fn(String) -> futures_util::future::BoxFuture<'static, ()> + Sync + use<> {
        let (seen, release) = (seen.clone(), release.clone());
        move |item: String| {
            let (seen, release) = (seen.clone(), release.clone());
            Box::pin(async move {
                if item.starts_with("wait") {
                    release.acquire().await.expect("open").forget();
                }
                assert_ne!(item, "boom", "a handler bug");
                seen.lock().unwrap().push(item);
            })
        }
    }

    async fn settle() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    #[tokio::test]
    async fn one_key_in_order_others_meanwhile_and_nothing_left_after() {
        let queue = Arc::new(KeyedQueue::new(10, 100));
        let (seen, release) = (Seen::default(), Arc::new(Semaphore::new(0)));
        for (key, item) in [(1, "wait 1a"), (1, "1b"), (2, "2a"), (1, "1c"), (2, "2b")] {
            queue.push(key, item.to_owned(), handler(&seen, &release)).unwrap();
        }
        settle().await;
        assert_eq!(*seen.lock().unwrap(), ["2a", "2b"]);
        assert_eq!(queue.keys(), 1);

        release.add_permits(1);
        queue.tasks().close();
        queue.tasks().wait().await;
        assert_eq!(*seen.lock().unwrap(), ["2a", "2b", "wait 1a", "1b", "1c"]);
        assert_eq!(queue.keys(), 0);
    }

    #[tokio::test]
    async fn items_past_a_bound_are_given_back() {
        let queue = Arc::new(KeyedQueue::new(2, 3));
        let (seen, release) = (Seen::default(), Arc::new(Semaphore::new(0)));
        let push = |key: i64, item: &str| queue.push(key, item.to_owned(), handler(&seen, &release));
        // The item being handled does not count: two wait behind it.
        push(1, "wait 1a").unwrap();
        settle().await;
        push(1, "1b").unwrap();
        push(1, "1c").unwrap();
        assert_eq!(push(1, "1d"), Err("1d".to_owned()));
        // Over all keys: the third waiting item is the last one taken.
        push(2, "wait 2a").unwrap();
        settle().await;
        push(2, "2b").unwrap();
        assert_eq!(push(2, "2c"), Err("2c".to_owned()));
        // A key without a queue still starts: its first item does not wait.
        push(3, "3a").unwrap();

        release.add_permits(2);
        queue.tasks().close();
        queue.tasks().wait().await;
        let mut seen = seen.lock().unwrap().clone();
        seen.sort();
        assert_eq!(seen, ["1b", "1c", "2b", "3a", "wait 1a", "wait 2a"]);
    }

    #[tokio::test]
    async fn a_panicking_handler_does_not_stop_its_key() {
        let queue = Arc::new(KeyedQueue::new(10, 100));
        let (seen, release) = (Seen::default(), Arc::new(Semaphore::new(0)));
        for item in ["wait", "boom", "after"] {
            queue.push(7, item.to_owned(), handler(&seen, &release)).unwrap();
        }
        release.add_permits(1);
        queue.tasks().close();
        queue.tasks().wait().await;
        assert_eq!(*seen.lock().unwrap(), ["wait", "after"]);
        assert_eq!(queue.keys(), 0);
    }
}
