//! The watcher against a real SQLite store and the local fakes.

use std::time::Duration;

use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::{Watcher, WatcherConfig, fake::Fake};
use crate::{
    command::{Model, Orientation, Size, VideoOptions},
    config::Limits,
    store::{Guards, Lease, Reservation, Store, now_ms, test_support},
    task::{NewTask, Task, TaskState},
};

const LIMITS: Limits = Limits {
    daily_per_user: 100,
    max_active_per_user: 100,
    max_active_total: 100,
    daily_total: None,
    daily_per_chat: None,
};

async fn created(store: &Store, owner: &str, msg: i32) -> i64 {
    let new = NewTask {
        chat_id: 1,
        user_id: 1,
        command_msg_id: msg,
        lang: "en".into(),
        prompt: "a cat surfing".into(),
        options: VideoOptions {
            model: Model::Sora2,
            orientation: Orientation::Portrait,
            size: Size::Large,
            duration: 15,
        },
        image_file_ids: vec![],
    };
    let lease = Lease { owner, until: now_ms() + 3_600_000 };
    let Reservation::Reserved(id) =
        store.reserve(&new, &Guards { limits: &LIMITS, exempt: false, unknown_active_since: 0, lease }).await.unwrap()
    else {
        panic!("not reserved")
    };
    store.mark_created(id, &format!("sora-2:task_{id}"), "pending", 0).await.unwrap();
    store.set_status_message(id, 500 + msg, "⏳ queued").await.unwrap();
    id
}

/// A watcher whose tasks are due again at once (poll interval zero, a rate
/// limit far above what a test asks), so each driven round polls them.
fn watcher(store: &Store, fake: &Fake, owner: &str, task_timeout: Duration, exclusive: bool) -> Watcher {
    let config = WatcherConfig {
        owner: owner.into(),
        poll_interval: Duration::ZERO,
        task_timeout,
        queries_per_second: 100_000,
        exclusive,
    };
    Watcher::new(store.clone(), fake.video_api(), fake.telegram(), fake.downloads(), config)
}

/// Drives `n` rounds, each followed to its end.
async fn rounds(watcher: &mut Watcher, n: usize) {
    for _ in 0..n {
        watcher.round(&CancellationToken::new()).await;
        watcher.settle().await;
    }
}

/// Drives rounds until the task is closed.
async fn until_closed(watcher: &mut Watcher, store: &Store, id: i64) -> Task {
    for _ in 0..50 {
        rounds(watcher, 1).await;
        let task = store.task(id).await.unwrap().unwrap();
        if !task.state.is_open() {
            return task;
        }
    }
    panic!("task {id} still open after 50 rounds");
}

#[tokio::test]
async fn follows_a_task_to_its_video() {
    let (store, _dir) = test_support::sqlite().await;
    let fake = Fake::start().await;
    let url = fake.serve("/v.mp4", vec![1; 10], false);
    fake.answer_queries([
        json!({"status": "processing", "progress": 50}),
        json!({"status": "completed", "video_url": url}),
    ]);
    let id = created(&store, "me", 1).await;
    let mut watcher = watcher(&store, &fake, "me", Duration::from_secs(3600), false);

    let task = until_closed(&mut watcher, &store, id).await;
    assert_eq!(task.state, TaskState::Done);
    assert_eq!(task.video_url.as_deref(), Some(url.as_str()));
    // A few more rounds: nothing is sent twice.
    rounds(&mut watcher, 3).await;
    watcher.stop().await;
    let videos = fake.calls("sendVideo");
    assert_eq!(videos.len(), 1);
    assert_eq!(videos[0].json["reply_parameters"]["message_id"], 1);
    let edits = fake.calls("editMessageText");
    let last = edits.last().expect("final edit");
    assert_eq!(last.json["message_id"], 501);
    assert!(last.json["text"].as_str().unwrap().contains("done"), "{last:?}");
    assert_eq!(fake.queries(), 2, "no polling after the end");
}

#[tokio::test]
async fn reports_an_upstream_failure_once() {
    let (store, _dir) = test_support::sqlite().await;
    let fake = Fake::start().await;
    fake.answer_queries([json!({"status": "failed", "error": {"message": "content policy"}})]);
    let id = created(&store, "me", 2).await;
    let mut watcher = watcher(&store, &fake, "me", Duration::from_secs(3600), false);

    let task = until_closed(&mut watcher, &store, id).await;
    rounds(&mut watcher, 3).await;
    watcher.stop().await;
    assert_eq!((task.state, task.error.as_deref()), (TaskState::Failed, Some("content policy")));
    let replies = fake.calls("sendMessage");
    assert_eq!(replies.len(), 1);
    assert!(replies[0].json["text"].as_str().unwrap().contains("content policy"));
    assert_eq!(replies[0].json["reply_parameters"]["message_id"], 2);
    assert!(fake.calls("editMessageText").last().unwrap().json["text"].as_str().unwrap().contains("failed"));
    assert!(fake.calls("sendVideo").is_empty());
}

#[tokio::test]
async fn gives_up_after_the_timeout() {
    let (store, _dir) = test_support::sqlite().await;
    let fake = Fake::start().await;
    fake.answer_queries([json!({"status": "processing"})]);
    let id = created(&store, "me", 3).await;
    let mut watcher = watcher(&store, &fake, "me", Duration::from_millis(1), false);

    let task = until_closed(&mut watcher, &store, id).await;
    watcher.stop().await;
    assert_eq!(task.state, TaskState::TimedOut);
    let replies = fake.calls("sendMessage");
    assert_eq!(replies.len(), 1);
    assert!(replies[0].json["text"].as_str().unwrap().contains("did not finish"));
    assert!(fake.calls("editMessageText").last().unwrap().json["text"].as_str().unwrap().contains("timed out"));
}

#[tokio::test]
async fn a_restart_takes_over_and_finishes_an_interrupted_delivery() {
    let (store, _dir) = test_support::sqlite().await;
    let fake = Fake::start().await;
    let url = fake.serve("/v.mp4", vec![1; 10], false);
    // The previous process (killed, its lease still valid) had begun delivering.
    let id = created(&store, "dead-process", 4).await;
    assert!(store.begin_delivery(id, "completed", &url).await.unwrap());
    let other = created(&store, "dead-process", 5).await;
    fake.answer_queries([json!({"status": "processing", "progress": 10})]);

    let mut watcher = watcher(&store, &fake, "me", Duration::from_secs(3600), true);
    let task = until_closed(&mut watcher, &store, id).await;
    assert_eq!(task.state, TaskState::Done);
    rounds(&mut watcher, 1).await;
    watcher.stop().await;
    assert_eq!(fake.calls("sendVideo").len(), 1);
    // The running one is followed too (polled), and stays open.
    assert!(fake.queries() > 0, "the running task was polled after the take-over");
    let other = store.task(other).await.unwrap().unwrap();
    assert_eq!((other.state, other.progress_pct), (TaskState::Running, Some(10)));
    // Leases were released at the end: another owner can claim both... one open task left.
    assert_eq!(store.claim_open_tasks("next", now_ms() + 60_000).await.unwrap(), 1);
}

#[tokio::test]
async fn without_exclusive_a_live_lease_of_another_process_is_respected() {
    let (store, _dir) = test_support::sqlite().await;
    let fake = Fake::start().await;
    created(&store, "other-replica", 6).await;
    let mut watcher = watcher(&store, &fake, "me", Duration::from_secs(3600), false);
    rounds(&mut watcher, 3).await;
    watcher.stop().await;
    assert_eq!(fake.queries(), 0);
}

#[tokio::test]
async fn run_stops_when_told_and_releases_its_leases() {
    let (store, _dir) = test_support::sqlite().await;
    let fake = Fake::start().await;
    fake.answer_queries([json!({"status": "processing", "progress": 10})]);
    created(&store, "me", 7).await;
    let shutdown = CancellationToken::new();
    let handle = tokio::spawn(watcher(&store, &fake, "me", Duration::from_secs(3600), false).run(shutdown.clone()));
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), handle).await.expect("watcher stops").unwrap();
    assert_eq!(store.claim_open_tasks("next", now_ms() + 60_000).await.unwrap(), 1);
}

#[tokio::test]
async fn a_task_is_handled_by_one_round_at_a_time() {
    let (store, _dir) = test_support::sqlite().await;
    let fake = Fake::start().await;
    let config = WatcherConfig {
        owner: "me".into(),
        poll_interval: Duration::from_secs(1),
        task_timeout: Duration::from_secs(60),
        queries_per_second: 20,
        exclusive: true,
    };
    let watcher = Watcher::new(store, fake.video_api(), fake.telegram(), fake.downloads(), config);
    let first = super::InFlight::enter(&watcher.inner, 7).expect("free");
    assert!(super::InFlight::enter(&watcher.inner, 7).is_none(), "a slow delivery is not started twice");
    assert!(super::InFlight::enter(&watcher.inner, 8).is_some());
    drop(first);
    assert!(super::InFlight::enter(&watcher.inner, 7).is_some());
}
