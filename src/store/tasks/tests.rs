use super::*;
use crate::{
    command::{Shape, Size, VideoOptions},
    config::Limits,
    test_support,
};

const LIMITS: Limits = Limits {
    daily_per_user: Some(3),
    max_active_per_user: Some(2),
    max_active_total: Some(3),
    daily_total: None,
    daily_per_chat: None,
};
const ME: Lease<'static> = Lease { owner: "me" };

fn guards(limits: &Limits, exempt: bool) -> Guards<'_> {
    Guards { limits, exempt, unknown_active_since: now_ms() - 60_000, lease: ME, cost: 1 }
}

fn request(user_id: i64, command_msg_id: i32) -> NewTask {
    NewTask {
        chat_id: user_id,
        user_id,
        command_msg_id,
        lang: crate::lang::Lang::En,
        prompt: "a cat surfing".into(),
        options: VideoOptions {
            model: crate::models::SORA_2,
            shape: Shape::LANDSCAPE,
            size: Some(Size::Small),
            duration: Some(10),
        },
        image_file_ids: vec!["photo-1".into()],
    }
}

async fn story(store: Store) {
    let first = store.reserve(&request(1, 10), &guards(&LIMITS, false)).await.unwrap();
    assert_eq!(first, Reservation::Reserved(1));
    assert_eq!(store.reserve(&request(1, 10), &guards(&LIMITS, false)).await.unwrap(), Reservation::Duplicate);

    let task = store.task(1).await.unwrap().unwrap();
    assert_eq!(task.state, TaskState::Submitting);
    assert_eq!(task.image_file_ids, vec!["photo-1".to_string()]);
    assert_eq!(task.options.shape, Shape::LANDSCAPE);

    // What it returns, read back in part, is the task as stored.
    let created = store.mark_created(1, &request(1, 10), "sora-2:task_1", "pending", 0).await.unwrap();
    assert_eq!(created, store.task(1).await.unwrap());
    assert_eq!(created.map(|task| task.state), Some(TaskState::Running));
    assert_eq!(store.reserve(&request(1, 11), &guards(&LIMITS, false)).await.unwrap(), Reservation::Reserved(2));
    // Two active: the third waits.
    let refused = store.reserve(&request(1, 12), &guards(&LIMITS, false)).await.unwrap();
    assert_eq!(refused, Reservation::Refused(Refusal::UserActive { limit: 2 }));
    // A rejected create frees its slot and its daily quota.
    assert!(store.end_task(2, TaskState::Rejected, Some("401")).await.unwrap());
    assert!(!store.end_task(2, TaskState::Failed, None).await.unwrap(), "finishing twice is a no-op");
    assert_eq!(
        store.usage(1, 1, 0).await.unwrap(),
        Usage {
            used_today: 1,
            active_user: 1,
            active_total: 1,
            used_total_today: 1,
            used_chat_today: 1,
            ..Usage::default()
        }
    );
    assert!(store.end_task(1, TaskState::Done, None).await.unwrap());
    store.reserve(&request(1, 13), &guards(&LIMITS, false)).await.unwrap();
    store.end_task(3, TaskState::Done, None).await.unwrap();
    store.reserve(&request(1, 14), &guards(&LIMITS, false)).await.unwrap();
    store.end_task(4, TaskState::Failed, None).await.unwrap();
    assert_eq!(
        store.reserve(&request(1, 15), &guards(&LIMITS, false)).await.unwrap(),
        Reservation::Refused(Refusal::DailyLimit { limit: 3, left: 0 })
    );
    // Admins skip the per-user limits but not the total.
    assert!(matches!(store.reserve(&request(1, 16), &guards(&LIMITS, true)).await.unwrap(), Reservation::Reserved(_)));
    store.reserve(&request(2, 20), &guards(&LIMITS, false)).await.unwrap();
    store.reserve(&request(3, 30), &guards(&LIMITS, false)).await.unwrap();
    assert_eq!(
        store.reserve(&request(4, 40), &guards(&LIMITS, true)).await.unwrap(),
        Reservation::Refused(Refusal::TotalActive { limit: 3 })
    );

    let recent = store.recent_for_user(1, 2).await.unwrap();
    assert_eq!(recent.iter().map(|t| t.id).collect::<Vec<_>>(), vec![5, 4]);
    assert_eq!(store.task_by_upstream_id("sora-2:task_1").await.unwrap().unwrap().id, 1);
    store.set_status_message(1, 77, "shown").await.unwrap();
    let task = store.task(1).await.unwrap().unwrap();
    assert_eq!((task.status_msg_id, task.shown_text.as_deref()), (Some(77), Some("shown")));
}

/// Ambiguous creates, cancelled tasks and the daily budgets.
async fn money_story(store: Store) {
    let limits = Limits {
        daily_per_user: Some(10),
        max_active_per_user: Some(1),
        max_active_total: Some(10),
        daily_total: Some(4),
        daily_per_chat: Some(2),
    };
    // An unknown outcome keeps the active slot while it may run upstream.
    let Reservation::Reserved(first) = store.reserve(&request(1, 1), &guards(&limits, false)).await.unwrap() else {
        panic!()
    };
    store.add_media("photo-of-unknown", "f1", now_ms() + 60_000, first).await.unwrap();
    assert!(store.end_task(first, TaskState::Unknown, None).await.unwrap());
    assert!(store.media_file("photo-of-unknown").await.unwrap().is_some(), "the API may still fetch it");
    let refused = store.reserve(&request(1, 2), &guards(&limits, false)).await.unwrap();
    assert_eq!(refused, Reservation::Refused(Refusal::UserActive { limit: 1 }));
    let later = Guards { unknown_active_since: now_ms() + 1, ..guards(&limits, false) };
    let Reservation::Reserved(second) = store.reserve(&request(1, 3), &later).await.unwrap() else { panic!() };

    // /cancel keeps the slot until the task ends upstream.
    store.mark_created(second, &request(1, 3), "up-2", "queued", 0).await.unwrap();
    assert!(store.cancel(second).await.unwrap());
    assert!(!store.cancel(second).await.unwrap(), "cancelled once");
    assert_eq!(
        store.reserve(&request(1, 4), &later).await.unwrap(),
        Reservation::Refused(Refusal::UserActive { limit: 1 })
    );
    let usage = store.usage(1, 1, now_ms() + 1).await.unwrap();
    assert_eq!((usage.active_user, usage.cancelled_running), (1, 1));
    let task = store.task(second).await.unwrap().unwrap();
    assert!(task.cancelled_at.is_some() && task.state == TaskState::Running);
    store.add_media("photo-of-second", "f2", now_ms() + 60_000, second).await.unwrap();
    assert!(store.end_task(second, TaskState::Cancelled, None).await.unwrap());
    assert_eq!(store.media_file("photo-of-second").await.unwrap(), None, "an ended task's photos are no longer served");

    // A group's daily budget; admins are exempt from it but not from the total.
    let group = |user_id: i64, msg: i32| NewTask { chat_id: -100, ..request(user_id, msg) };
    assert!(matches!(store.reserve(&group(2, 10), &later).await.unwrap(), Reservation::Reserved(_)));
    assert!(matches!(store.reserve(&group(3, 11), &later).await.unwrap(), Reservation::Reserved(_)));
    let refused = store.reserve(&group(4, 12), &later).await.unwrap();
    assert_eq!(refused, Reservation::Refused(Refusal::ChatDaily { limit: 2, left: 0 }));
    let admin = Guards { exempt: true, ..later };
    // Four videos today (the unknown one counts): the total stops even an admin.
    let refused = store.reserve(&group(9, 13), &admin).await.unwrap();
    assert_eq!(refused, Reservation::Refused(Refusal::TotalDaily { limit: 4, left: 0 }));
    let usage = store.usage(4, -100, now_ms()).await.unwrap();
    assert_eq!((usage.used_total_today, usage.used_chat_today, usage.used_today), (4, 2, 0));
}

#[tokio::test]
async fn unknown_cancelled_and_budgets_on_sqlite() {
    let (store, _dir) = test_support::sqlite().await;
    money_story(store).await;
}

#[tokio::test]
async fn unknown_cancelled_and_budgets_on_postgres() {
    money_story(test_support::postgres().await).await;
}

/// A full disk: the reservation fails and says so; nothing is half stored.
#[tokio::test]
async fn a_full_sqlite_database_refuses_the_reservation() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/full.db", dir.path().display());
    drop(Store::connect(&url).await.unwrap());
    // No free page left inside the file (the migrations leave a few)...
    rusqlite::Connection::open(dir.path().join("full.db")).unwrap().execute_batch("VACUUM").unwrap();
    // ...and max_page_count=1 is clamped to the current size: nothing may grow.
    let store = Store::connect(&format!("{url}?max_page_count=1")).await.unwrap();
    let big = |user_id: i64, msg: i32| NewTask { prompt: "p".repeat(3000), ..request(user_id, msg) };
    let mut stored = 0;
    let mut failed = 0;
    for n in 0..20 {
        match store.reserve(&big(n, 1), &guards(&LIMITS, true)).await {
            Ok(Reservation::Reserved(_)) => stored += 1,
            Ok(other) => panic!("{other:?}"),
            Err(_) => failed += 1,
        }
    }
    assert!(failed > 0, "the database never filled up");
    let mut count = 0;
    for n in 0..20 {
        count += store.recent_for_user(n, 10).await.unwrap().len();
    }
    assert_eq!(count, stored, "every successful reservation is stored, no failed one is");
    assert!(store.check_writable().await.is_err(), "/healthz sees a full database");

    // Single-statement writes run without BEGIN/COMMIT: their failed commit is their error.
    let task = store.recent_for_user(0, 1).await.unwrap().pop().expect("the first reservation fitted");
    let huge = "x".repeat(100_000);
    assert!(store.set_status_message(task.id, 7, &huge).await.is_err(), "a write that does not fit fails");
    assert!(
        store.mark_created(task.id, &big(0, 1), &huge, "pending", 0).await.is_err(),
        "so does storing a create's answer"
    );
    let unchanged = store.task(task.id).await.unwrap().unwrap();
    assert_eq!((unchanged.status_msg_id, unchanged.shown_text, unchanged.state), (None, None, TaskState::Submitting));
}

#[tokio::test]
async fn reserve_and_limits_on_sqlite() {
    let (store, _dir) = test_support::sqlite().await;
    story(store).await;
}

#[tokio::test]
async fn reserve_and_limits_on_postgres() {
    story(test_support::postgres().await).await;
}

async fn race_for_last_slot(store: Store) {
    let limits = Limits {
        daily_per_user: Some(10),
        max_active_per_user: Some(10),
        max_active_total: Some(1),
        daily_total: None,
        daily_per_chat: None,
    };
    let attempts = (0..8).map(|i| {
        let store = store.clone();
        tokio::spawn(async move { store.reserve(&request(100 + i, 1), &guards(&limits, false)).await.unwrap() })
    });
    let results = futures_util::future::join_all(attempts).await;
    let won = results.iter().filter(|r| matches!(r.as_ref().unwrap(), Reservation::Reserved(_))).count();
    assert_eq!(won, 1, "{results:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_never_share_the_last_slot_on_sqlite() {
    let (store, _dir) = test_support::sqlite().await;
    race_for_last_slot(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_never_share_the_last_slot_on_postgres() {
    race_for_last_slot(test_support::postgres().await).await;
}

/// The `open_count` row against a count of the rows themselves.
async fn open_counts(store: &Store) -> (i64, i64) {
    let mut conn = store.db.conn().await.unwrap();
    let row = sqlx::query(&format!(
        "SELECT (SELECT n FROM open_count WHERE id = 1) AS kept, \
         (SELECT COUNT(*) FROM tasks WHERE state IN ({})) AS counted",
        open_states_sql()
    ))
    .fetch_one(&mut conn)
    .await
    .unwrap();
    (row.try_get("kept").unwrap(), row.try_get("counted").unwrap())
}

/// The triggers follow every way a task opens and closes, and moves between
/// open states without a write.
async fn open_count_story(store: Store) {
    let open = |n: i64| (n, n);
    let lots = Limits { max_active_total: Some(100), ..LIMITS };
    let reserve = |user, msg| {
        let store = store.clone();
        async move {
            let Reservation::Reserved(id) = store.reserve(&request(user, msg), &guards(&lots, false)).await.unwrap()
            else {
                panic!("refused")
            };
            id
        }
    };
    assert_eq!(open_counts(&store).await, open(0));
    let first = reserve(1, 1).await;
    let second = reserve(2, 1).await;
    assert_eq!(open_counts(&store).await, open(2));
    store.mark_created(first, &request(1, 1), "up-1", "queued", 0).await.unwrap();
    assert_eq!(open_counts(&store).await, open(2), "submitting → running is still open");
    assert!(store.end_task(second, TaskState::Rejected, None).await.unwrap());
    assert!(!store.end_task(second, TaskState::Failed, None).await.unwrap());
    assert_eq!(open_counts(&store).await, open(1));
    // Unknown is not open: it holds a slot by its own, time-bound count.
    assert!(store.end_task(first, TaskState::Unknown, None).await.unwrap());
    assert_eq!(open_counts(&store).await, open(0));
    assert_eq!(store.usage(1, 1, 0).await.unwrap().active_total, 1);
    // The create's answer after all: unknown → running opens it again.
    store.mark_created(first, &request(1, 1), "up-1", "queued", 0).await.unwrap();
    assert_eq!(open_counts(&store).await, open(1));
    assert_eq!(store.usage(1, 1, 0).await.unwrap().active_total, 1);
    // A row deleted while open (a refused payment takes its row back).
    let third = reserve(3, 1).await;
    assert_eq!(open_counts(&store).await, open(2));
    let mut conn = store.db.conn().await.unwrap();
    sqlx::query("DELETE FROM tasks WHERE id = $1").bind(third).execute(&mut conn).await.unwrap();
    drop(conn);
    assert_eq!(open_counts(&store).await, open(1));
    assert!(store.end_task(first, TaskState::Done, None).await.unwrap());
    assert_eq!(open_counts(&store).await, open(0));
    // The guard reads the row: at the limit, the next one is refused.
    let one = Limits { max_active_total: Some(1), ..LIMITS };
    reserve(4, 1).await;
    let refused = store.reserve(&request(5, 1), &guards(&one, false)).await.unwrap();
    assert_eq!(refused, Reservation::Refused(Refusal::TotalActive { limit: 1 }));
    // One statement that closes many, as an operator's bulk fix would.
    for user in 6..9 {
        reserve(user, 1).await;
    }
    assert_eq!(open_counts(&store).await, open(4));
    let mut conn = store.db.conn().await.unwrap();
    sqlx::query(&format!("UPDATE tasks SET state = 'failed' WHERE state IN ({}) AND user_id > 4", open_states_sql()))
        .execute(&mut conn)
        .await
        .unwrap();
    drop(conn);
    assert_eq!(open_counts(&store).await, open(1));
}

#[tokio::test]
async fn open_count_follows_every_state_change_on_sqlite() {
    let (store, _dir) = test_support::sqlite().await;
    open_count_story(store).await;
}

#[tokio::test]
async fn open_count_follows_every_state_change_on_postgres() {
    open_count_story(test_support::postgres().await).await;
}
