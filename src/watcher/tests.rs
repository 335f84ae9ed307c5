//! The watcher against a real SQLite store and the local fakes.

use std::time::Duration;

use serde_json::json;
use tokio_util::sync::CancellationToken;

use testkit::Reply;

use super::{Watcher, WatcherConfig};
use crate::{
    config::Limits,
    store::{Guards, Lease, Reservation, Store, now_ms},
    task::{NewTask, Task, TaskState},
    test_support::{self, Fakes},
};

async fn created(store: &Store, owner: &str, msg: i32) -> i64 {
    let new = NewTask {
        chat_id: 1,
        user_id: 1,
        command_msg_id: msg,
        lang: crate::lang::Lang::En,
        prompt: "a cat surfing".into(),
        options: Task::example().options,
        image_file_ids: vec![],
    };
    let lease = Lease { owner };
    let Reservation::Reserved(id) = store
        .reserve(&new, &Guards { limits: &Limits::ROOMY, exempt: false, unknown_active_since: 0, lease, cost: 1 })
        .await
        .unwrap()
    else {
        panic!("not reserved")
    };
    store.mark_created(id, &new, &format!("sora-2:task_{id}"), "pending", 0).await.unwrap();
    store.set_status_message(id, 500 + msg, "⏳ queued").await.unwrap();
    id
}

/// A watcher whose tasks are due again at once (poll interval zero, a rate
/// limit far above what a test asks), so each driven round polls them.
/// Queries of the task `id` get `answers` in order, then the last one forever.
fn answer_queries(fake: &Fakes, id: i64, answers: impl IntoIterator<Item = serde_json::Value>) {
    fake.api.script_task(&format!("sora-2:task_{id}"), answers.into_iter().map(|a| Reply::json(200, a)).collect());
}

fn watcher(store: &Store, fake: &Fakes, owner: &str, task_timeout: Duration, exclusive: bool) -> Watcher {
    let config = WatcherConfig {
        owner: owner.into(),
        poll_interval: Duration::ZERO,
        task_timeout,
        unknown_hold: task_timeout,
        queries_per_second: 100_000,
        exclusive,
        catalog: crate::models::Catalog::builtin(),
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
    let fake = Fakes::start().await;
    let url = fake.api.add_file("v.mp4", vec![1; 10]);
    let id = created(&store, "me", 1).await;
    answer_queries(
        &fake,
        id,
        [json!({"status": "processing", "progress": 50}), json!({"status": "completed", "video_url": url})],
    );
    let mut watcher = watcher(&store, &fake, "me", Duration::from_secs(3600), false);

    let task = until_closed(&mut watcher, &store, id).await;
    assert_eq!(task.state, TaskState::Done);
    assert_eq!(task.video_url.as_deref(), Some(url.as_str()));
    // A few more rounds: nothing is sent twice.
    rounds(&mut watcher, 3).await;
    watcher.stop().await;
    let videos = fake.tg.calls_of("sendVideo");
    assert_eq!(videos.len(), 1);
    assert_eq!(videos[0].body["reply_parameters"]["message_id"], 1);
    let edits = fake.tg.calls_of("editMessageText");
    let last = edits.last().expect("final edit");
    assert_eq!(last.body["message_id"], 501);
    assert!(last.body["text"].as_str().unwrap().contains("done"), "{last:?}");
    assert_eq!(fake.api.queries().len(), 2, "no polling after the end");
}

#[tokio::test]
async fn reports_an_upstream_failure_once() {
    let (store, _dir) = test_support::sqlite().await;
    let fake = Fakes::start().await;
    let id = created(&store, "me", 2).await;
    answer_queries(&fake, id, [json!({"status": "failed", "error": {"message": "content policy"}})]);
    let mut watcher = watcher(&store, &fake, "me", Duration::from_secs(3600), false);

    let task = until_closed(&mut watcher, &store, id).await;
    rounds(&mut watcher, 3).await;
    watcher.stop().await;
    assert_eq!((task.state, task.error.as_deref()), (TaskState::Failed, Some("content policy")));
    let replies = fake.tg.calls_of("sendMessage");
    assert_eq!(replies.len(), 1);
    assert!(replies[0].body["text"].as_str().unwrap().contains("content policy"));
    assert_eq!(replies[0].body["reply_parameters"]["message_id"], 2);
    assert!(fake.tg.calls_of("editMessageText").last().unwrap().body["text"].as_str().unwrap().contains("failed"));
    assert!(fake.tg.calls_of("sendVideo").is_empty());
}

#[tokio::test]
async fn a_third_done_answer_without_a_video_in_a_row_fails_the_task() {
    let (store, _dir) = test_support::sqlite().await;
    let fake = Fakes::start().await;
    let id = created(&store, "me", 8).await;
    // Two empty "done"s, a running answer (the count starts again), then empty ones.
    answer_queries(
        &fake,
        id,
        [
            json!({"status": "SUCCESS"}),
            json!({"status": "success", "video_url": null}),
            json!({"status": "video_upsampling"}),
            json!({"status": "Succeeded", "video_url": ""}),
            json!({"status": "completed"}),
            json!({"status": "SUCCESS"}),
        ],
    );
    let mut watcher = watcher(&store, &fake, "me", Duration::from_secs(3600), false);

    rounds(&mut watcher, 5).await;
    assert_eq!(fake.api.queries().len(), 5);
    let task = store.task(id).await.unwrap().unwrap();
    assert_eq!((task.state, task.upstream_status.as_deref()), (TaskState::Running, Some("completed")));
    assert!(fake.tg.calls_of("sendMessage").is_empty());

    rounds(&mut watcher, 1).await;
    let task = store.task(id).await.unwrap().unwrap();
    assert_eq!((task.state, task.error.as_deref()), (TaskState::Failed, Some(crate::texts::NO_VIDEO_REASON)));
    rounds(&mut watcher, 2).await;
    watcher.stop().await;
    assert_eq!(fake.api.queries().len(), 6, "no polling after the end");
    let replies = fake.tg.calls_of("sendMessage");
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].body["text"], "❌ Video #1 failed: the video API sent no video");
    assert!(fake.tg.calls_of("sendVideo").is_empty());
}

#[tokio::test]
async fn gives_up_after_the_timeout() {
    let (store, _dir) = test_support::sqlite().await;
    let fake = Fakes::start().await;
    let id = created(&store, "me", 3).await;
    answer_queries(&fake, id, [json!({"status": "processing"})]);
    let mut watcher = watcher(&store, &fake, "me", Duration::from_millis(1), false);

    let task = until_closed(&mut watcher, &store, id).await;
    watcher.stop().await;
    assert_eq!(task.state, TaskState::TimedOut);
    let replies = fake.tg.calls_of("sendMessage");
    assert_eq!(replies.len(), 1);
    assert!(replies[0].body["text"].as_str().unwrap().contains("did not finish"));
    assert!(fake.tg.calls_of("editMessageText").last().unwrap().body["text"].as_str().unwrap().contains("timed out"));
}

#[tokio::test]
async fn a_restart_takes_over_and_finishes_an_interrupted_delivery() {
    let (store, _dir) = test_support::sqlite().await;
    let fake = Fakes::start().await;
    let url = fake.api.add_file("v.mp4", vec![1; 10]);
    // The previous process (killed, its lease still valid) had begun delivering.
    let id = created(&store, "dead-process", 4).await;
    assert!(store.begin_delivery(id, "completed", &url).await.unwrap());
    let other = created(&store, "dead-process", 5).await;
    answer_queries(&fake, other, [json!({"status": "processing", "progress": 10})]);

    let mut watcher = watcher(&store, &fake, "me", Duration::from_secs(3600), true);
    let task = until_closed(&mut watcher, &store, id).await;
    assert_eq!(task.state, TaskState::Done);
    rounds(&mut watcher, 1).await;
    watcher.stop().await;
    assert_eq!(fake.tg.calls_of("sendVideo").len(), 1);
    // The running one is followed too (polled), and stays open.
    assert!(!fake.api.queries().is_empty(), "the running task was polled after the take-over");
    let other = store.task(other).await.unwrap().unwrap();
    assert_eq!((other.state, other.progress_pct), (TaskState::Running, Some(10)));
    // Leases were released at the end: another owner can claim both... one open task left.
    assert_eq!(store.claim_open_tasks("next", now_ms()).await.unwrap(), 1);
}

#[tokio::test]
async fn without_exclusive_a_live_lease_of_another_process_is_respected() {
    let (store, _dir) = test_support::sqlite().await;
    let fake = Fakes::start().await;
    created(&store, "other-replica", 6).await;
    let mut watcher = watcher(&store, &fake, "me", Duration::from_secs(3600), false);
    rounds(&mut watcher, 3).await;
    watcher.stop().await;
    assert_eq!(fake.api.queries().len(), 0);
}

#[tokio::test]
async fn run_stops_when_told_and_releases_its_leases() {
    let (store, _dir) = test_support::sqlite().await;
    let fake = Fakes::start().await;
    created(&store, "me", 7).await;
    let shutdown = CancellationToken::new();
    let handle = tokio::spawn(watcher(&store, &fake, "me", Duration::from_secs(3600), false).run(shutdown.clone()));
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), handle).await.expect("watcher stops").unwrap();
    assert_eq!(store.claim_open_tasks("next", now_ms()).await.unwrap(), 1);
}

#[tokio::test]
async fn a_task_is_handled_by_one_round_at_a_time() {
    let (store, _dir) = test_support::sqlite().await;
    let fake = Fakes::start().await;
    let config = WatcherConfig {
        owner: "me".into(),
        poll_interval: Duration::from_secs(1),
        task_timeout: Duration::from_secs(60),
        unknown_hold: Duration::from_secs(60),
        queries_per_second: 20,
        exclusive: true,
        catalog: crate::models::Catalog::builtin(),
    };
    let watcher = Watcher::new(store, fake.video_api(), fake.telegram(), fake.downloads(), config);
    let first = super::InFlight::enter(&watcher.inner, 7).expect("free");
    assert!(super::InFlight::enter(&watcher.inner, 7).is_none(), "a slow delivery is not started twice");
    assert!(super::InFlight::enter(&watcher.inner, 8).is_some());
    drop(first);
    assert!(super::InFlight::enter(&watcher.inner, 7).is_some());
}

/// Row writes in every table of the database so far (inserts, updates and
/// deletes, as PostgreSQL counts them once the writing sessions have ended).
async fn row_writes(url: &str) -> i64 {
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(url).await.unwrap();
    let row = sqlx::query(
        "SELECT CAST(COALESCE(SUM(n_tup_ins + n_tup_upd + n_tup_del), 0) AS BIGINT) AS n FROM pg_stat_user_tables",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    sqlx::Row::get(&row, "n")
}

/// 1,000 open tasks whose answer never changes ("processing, 50 %"), held by
/// two replicas on one PostgreSQL database: polling them writes nothing (the
/// schedule is in memory, the leases ride on one heartbeat per replica), and
/// the two together query at the deployment's rate, not twice it.
#[tokio::test]
async fn unchanging_tasks_cost_no_writes_and_two_replicas_share_one_rate() {
    const TASKS: i64 = 1_000;
    const RATE: u32 = 100;
    let url = test_support::postgres_url().await;
    let setup = Store::connect(&url).await.unwrap();
    for replica in ["a", "b"] {
        setup.heartbeat(replica).await.unwrap();
    }
    let new = NewTask {
        chat_id: 1,
        user_id: 1,
        command_msg_id: 0,
        lang: crate::lang::Lang::En,
        prompt: "p".into(),
        options: Task::example().options,
        image_file_ids: vec![],
    };
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| (NewTask { chat_id: 1_000 + i, command_msg_id: i as i32, ..new.clone() }, format!("up-{i}")))
        .collect();
    setup.insert_running(&tasks).await.unwrap();
    sqlx::query(
        "UPDATE tasks SET lease_owner = CASE WHEN id % 2 = 0 THEN 'a' ELSE 'b' END, \
         upstream_status = 'processing', progress_pct = 50, next_poll_at = 0",
    )
    .execute(&mut <sqlx::AnyConnection as sqlx::Connection>::connect(&url).await.unwrap())
    .await
    .unwrap();
    setup.close().await;
    let fake = Fakes::start().await;
    fake.api.answer_all(Reply::json(200, json!({"status": "processing", "progress": 50})));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = row_writes(&url).await;

    let stop = CancellationToken::new();
    let mut replicas = Vec::new();
    for owner in ["a", "b"] {
        let store = Store::connect(&url).await.unwrap();
        let config = WatcherConfig {
            owner: owner.into(),
            // 1,000 tasks every 5 s would need 200 queries a second.
            poll_interval: Duration::from_secs(5),
            task_timeout: Duration::from_secs(3600),
            unknown_hold: Duration::from_secs(600),
            queries_per_second: RATE,
            exclusive: false,
            catalog: crate::models::Catalog::builtin(),
        };
        let mut watcher = Watcher::new(store.clone(), fake.video_api(), fake.telegram(), fake.downloads(), config);
        let stop = stop.clone();
        replicas.push((
            store,
            tokio::spawn(async move {
                // `run` without its clean stop, whose lease release would count.
                let mut ticker = tokio::time::interval(Duration::from_secs(1));
                while !stop.is_cancelled() {
                    ticker.tick().await;
                    watcher.round(&stop).await;
                }
                watcher.settle().await;
            }),
        ));
    }
    let started = std::time::Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (from, queries_before) = (std::time::Instant::now(), fake.api.queries().len());
    tokio::time::sleep(Duration::from_secs(10)).await;
    let (window, queries) = (from.elapsed().as_secs_f64(), fake.api.queries().len() - queries_before);
    stop.cancel();
    for (store, handle) in replicas {
        handle.await.unwrap();
        store.close().await;
    }
    let secs = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let writes = row_writes(&url).await - before;
    let rate = queries as f64 / window;
    eprintln!(
        "{TASKS} unchanging tasks, 2 replicas, {RATE} queries/s for both: {writes} row writes in {secs:.1} s \
         ({:.2}/s); {rate:.1} queries/s",
        writes as f64 / secs
    );
    assert!(writes as f64 <= 5.0 * secs, "{writes} row writes in {secs:.1} s");
    assert!(rate <= f64::from(RATE) * 1.15, "{rate:.1} queries/s for a deployment rate of {RATE}");
    assert!(rate >= f64::from(RATE) * 0.7, "{rate:.1} queries/s: the rate is not used");
}
