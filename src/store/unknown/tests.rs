use super::*;
use crate::{
    config::Limits,
    store::{Guards, Reservation, Usage},
    task::NewTask,
    test_support,
};

const LIMITS: Limits = Limits {
    daily_per_user: Some(3),
    max_active_per_user: Some(1),
    max_active_total: Some(10),
    daily_total: None,
    daily_per_chat: None,
};
const ME: Lease<'static> = Lease { owner: "me" };

fn guards(unknown_active_since: i64) -> Guards<'static> {
    Guards { limits: &LIMITS, exempt: false, unknown_active_since, lease: ME, cost: 1 }
}

/// A create of user 7 (message `msg`) that got no clear answer.
async fn unknown(store: &Store, msg: i32) -> i64 {
    let new = NewTask { chat_id: 7, user_id: 7, command_msg_id: msg, ..NewTask::example() };
    let roomy = Guards { limits: &Limits::ROOMY, ..guards(0) };
    let Reservation::Reserved(id) = store.reserve(&new, &roomy).await.unwrap() else { panic!("not reserved") };
    assert!(store.end_task(id, TaskState::Unknown, Some("gateway")).await.unwrap());
    id
}

async fn usage(store: &Store, unknown_active_since: i64) -> Usage {
    store.usage(7, 7, unknown_active_since).await.unwrap()
}

async fn story(store: Store) {
    let first = unknown(&store, 1).await;
    // While held it takes the user's one slot and counts for the day.
    let held = usage(&store, now_ms() - 60_000).await;
    assert_eq!((held.used_today, held.active_user), (1, 1));
    let new = NewTask { chat_id: 7, user_id: 7, command_msg_id: 2, ..NewTask::example() };
    assert!(matches!(store.reserve(&new, &guards(now_ms() - 60_000)).await.unwrap(), Reservation::Refused(_)));

    // Not over yet: nobody is told.
    assert!(store.end_unknown_holds(now_ms() - 60_000).await.unwrap().is_empty());
    // Over: the slot is free, the day still counts, and it is told once.
    let over = now_ms() + 1;
    let freed = usage(&store, over).await;
    assert_eq!((freed.used_today, freed.active_user), (1, 0));
    let told = store.end_unknown_holds(over).await.unwrap();
    assert_eq!(told.iter().map(|t| t.id).collect::<Vec<_>>(), [first]);
    assert!(told[0].unknown_told_at.is_some());
    assert!(store.end_unknown_holds(over).await.unwrap().is_empty(), "told once");

    let (listed, total) = store.unknown_tasks(10).await.unwrap();
    assert_eq!((listed.len(), total), (1, 1));

    // /release: not made, the day's count goes back.
    let (Resolution::Resolved(released), None) = store.release_unknown(first).await.unwrap() else { panic!() };
    assert_eq!((released.state, released.error.as_deref()), (TaskState::Rejected, Some(RELEASED)));
    assert_eq!(usage(&store, over).await.used_today, 0);
    assert!(matches!(store.release_unknown(first).await.unwrap(), (Resolution::NotUnknown(_), None)));
    assert_eq!(store.release_unknown(999).await.unwrap(), (Resolution::NoSuchTask, None));
    assert_eq!(store.unknown_tasks(10).await.unwrap(), (vec![], 0));

    // /attach: running, leased to the attaching process, due when asked.
    let second = unknown(&store, 3).await;
    let third = unknown(&store, 4).await;
    let lease = Lease { owner: "replica-a" };
    let Resolution::Resolved(attached) = store.attach_upstream(second, "sora-2:task_x", lease, 0).await.unwrap() else {
        panic!()
    };
    assert_eq!((attached.state, attached.upstream_id.as_deref()), (TaskState::Running, Some("sora-2:task_x")));
    assert_eq!(attached.error, None);
    let ours = store.owned_tasks("replica-a", &[second, third]).await.unwrap();
    assert_eq!(ours.iter().map(|t| t.id).collect::<Vec<_>>(), [second]);
    assert!(store.take_created().iter().any(|(id, _)| *id == second), "its watcher learns of it");
    // One upstream id, one task: a second task on it would deliver the video twice.
    assert_eq!(
        store.attach_upstream(third, "sora-2:task_x", lease, 0).await.unwrap(),
        Resolution::UpstreamTaken(second)
    );
    assert!(matches!(
        store.attach_upstream(second, "sora-2:task_y", lease, 0).await.unwrap(),
        Resolution::NotUnknown(_)
    ));
    // An attached task is no longer told about (nor listed).
    assert!(store.end_unknown_holds(now_ms() + 1).await.unwrap().iter().all(|t| t.id == third));
    assert_eq!(store.unknown_tasks(10).await.unwrap().1, 1);
}

#[tokio::test]
async fn unknown_outcomes_are_held_told_once_attached_and_released_on_sqlite() {
    let (store, _dir) = test_support::sqlite().await;
    story(store).await;
}

#[tokio::test]
async fn unknown_outcomes_are_held_told_once_attached_and_released_on_postgres() {
    story(test_support::postgres().await).await;
}

/// Replicas racing to tell the requesters: each is told by exactly one.
#[tokio::test]
async fn replicas_tell_each_requester_once_on_postgres() {
    let url = test_support::postgres_url().await;
    let a = Store::connect(&url).await.unwrap();
    let b = Store::connect(&url).await.unwrap();
    for msg in 1..=20 {
        unknown(&a, msg).await;
    }
    let over = now_ms() + 1;
    let (from_a, from_b) = tokio::join!(a.end_unknown_holds(over), b.end_unknown_holds(over));
    let mut ids: Vec<i64> = from_a.unwrap().into_iter().chain(from_b.unwrap()).map(|t| t.id).collect();
    ids.sort_unstable();
    assert_eq!(ids, (1..=20).collect::<Vec<_>>());
}

/// With payments on, an unknown outcome keeps its credits until `/release`
/// gives them back, once.
async fn credits_back(store: Store) {
    store.grant(99, 7, 10).await.unwrap();
    let new = NewTask { chat_id: 7, user_id: 7, command_msg_id: 1, ..NewTask::example() };
    let roomy = Guards { limits: &Limits::ROOMY, ..guards(0) };
    let price = Some(crate::store::Price { credits: 3, free_credits: 0 });
    let Reservation::Reserved(id) = store.reserve_paid(&new, &roomy, price).await.unwrap() else { panic!() };
    assert!(store.end_task(id, TaskState::Unknown, Some("gateway")).await.unwrap());
    assert_eq!(store.balance(7).await.unwrap(), 7, "kept while unknown");
    let (Resolution::Resolved(_), Some(given)) = store.release_unknown(id).await.unwrap() else { panic!() };
    assert_eq!((given.credits, given.balance), (3, 10));
    assert_eq!(store.release_unknown(id).await.unwrap().1, None, "once");
    assert_eq!(store.balance(7).await.unwrap(), 10);
}

#[tokio::test]
async fn a_released_unknown_outcome_gives_its_credits_back_on_sqlite() {
    let (store, _dir) = test_support::sqlite().await;
    credits_back(store).await;
}

#[tokio::test]
async fn a_released_unknown_outcome_gives_its_credits_back_on_postgres() {
    credits_back(test_support::postgres().await).await;
}
