use super::*;
use crate::{
    command::VideoOptions,
    config::Limits,
    lang::Lang,
    store::{Guards, Lease, Price, Refusal, Reservation},
    task::{NewTask, TaskState},
    test_support,
};

const ME: Lease<'static> = Lease { owner: "me" };
const ADMIN: i64 = 99;

fn guards() -> Guards<'static> {
    Guards { limits: &Limits::ROOMY, exempt: false, unknown_active_since: 0, lease: ME, cost: 1 }
}

fn request(user_id: i64, command_msg_id: i32) -> NewTask {
    NewTask {
        chat_id: user_id,
        user_id,
        command_msg_id,
        lang: Lang::En,
        prompt: "a cat".into(),
        options: VideoOptions::STANDARD,
        image_file_ids: vec![],
    }
}

fn price(credits: u32) -> Option<Price> {
    Some(Price { credits, free_credits: 0 })
}

fn reasons(movements: &[Movement]) -> Vec<(CreditReason, i64, i64)> {
    movements.iter().map(|m| (m.reason, m.delta, m.balance_after)).collect()
}

/// Bought, spent, given back once, granted, refunded: every movement a row.
async fn ledger_story(store: Store) {
    assert_eq!(store.balance(1).await.unwrap(), 0);
    let pack = CreditPack { credits: 10, stars: 150 };
    let invoice = store.create_invoice(1, 1, pack).await.unwrap();
    assert_eq!(store.invoice(&invoice.nonce).await.unwrap(), Some(invoice.clone()));
    assert_eq!(store.invoice("forged").await.unwrap(), None);

    assert_eq!(store.credit_purchase("ch-1", 1, 10, 150).await.unwrap(), Purchase::Credited { balance: 10 });
    assert_eq!(store.credit_purchase("ch-1", 1, 10, 150).await.unwrap(), Purchase::AlreadyCredited);
    assert_eq!(store.balance(1).await.unwrap(), 10);

    // A video of 3 credits: spent at reservation, given back once when it fails.
    let Reservation::Reserved(id) = store.reserve_paid(&request(1, 1), &guards(), price(3)).await.unwrap() else {
        panic!("reserved")
    };
    assert_eq!(store.balance(1).await.unwrap(), 7);
    assert!(store.end_task(id, TaskState::Failed, Some("boom")).await.unwrap());
    assert_eq!(store.balance(1).await.unwrap(), 10);
    assert_eq!(store.give_back_credits(id).await.unwrap(), None, "given back once");
    assert!(!store.end_task(id, TaskState::TimedOut, None).await.unwrap());
    assert_eq!(store.balance(1).await.unwrap(), 10);

    // An unknown outcome keeps them until an admin releases the task.
    let Reservation::Reserved(unknown) = store.reserve_paid(&request(1, 2), &guards(), price(3)).await.unwrap() else {
        panic!("reserved")
    };
    assert!(store.end_task(unknown, TaskState::Unknown, None).await.unwrap());
    assert_eq!(store.balance(1).await.unwrap(), 7);
    let released = store.give_back_credits(unknown).await.unwrap();
    assert_eq!(released, Some(GivenBack { user_id: 1, credits: 3, balance: 10 }));
    assert_eq!(store.give_back_credits(unknown).await.unwrap(), None);

    // A delivered video keeps them.
    let Reservation::Reserved(done) = store.reserve_paid(&request(1, 3), &guards(), price(4)).await.unwrap() else {
        panic!("reserved")
    };
    assert!(store.end_task(done, TaskState::Done, None).await.unwrap());
    assert_eq!(store.balance(1).await.unwrap(), 6);

    // Too few credits: refused, no row, nothing spent.
    let refused = store.reserve_paid(&request(1, 4), &guards(), price(7)).await.unwrap();
    assert_eq!(refused, Reservation::Refused(Refusal::Credits { balance: 6, price: 7 }));
    assert_eq!(store.recent_for_user(1, 10).await.unwrap().len(), 3, "the refused request left no task");

    // The charge's 10 credits are no longer all there: nothing refunded.
    assert_eq!(
        store.take_back_charge("ch-1", ADMIN).await.unwrap(),
        ChargeTakeBack::Spent { user_id: 1, credits: 10, balance: 6 }
    );
    assert_eq!(store.take_back_charge("nope", ADMIN).await.unwrap(), ChargeTakeBack::NotFound);
    assert_eq!(store.grant(ADMIN, 1, 4).await.unwrap(), Granted { delta: 4, balance: 10 });
    assert_eq!(
        store.take_back_charge("ch-1", ADMIN).await.unwrap(),
        ChargeTakeBack::Taken { user_id: 1, credits: 10, stars: 150, balance: 0 }
    );
    // Telegram refused the refund: undone, and it can be tried again.
    store.undo_take_back("ch-1").await.unwrap();
    assert_eq!(store.balance(1).await.unwrap(), 10);
    assert!(matches!(store.take_back_charge("ch-1", ADMIN).await.unwrap(), ChargeTakeBack::Taken { .. }));
    assert_eq!(store.take_back_charge("ch-1", ADMIN).await.unwrap(), ChargeTakeBack::AlreadyRefunded { user_id: 1 });

    // A negative grant takes at most what is there.
    assert_eq!(store.grant(ADMIN, 1, 5).await.unwrap(), Granted { delta: 5, balance: 5 });
    assert_eq!(store.grant(ADMIN, 1, -8).await.unwrap(), Granted { delta: -5, balance: 0 });
    assert_eq!(store.grant(ADMIN, 1, -1).await.unwrap(), Granted { delta: 0, balance: 0 });

    use CreditReason as R;
    assert_eq!(
        reasons(&store.all_movements().await.unwrap()),
        [
            (R::Bought, 10, 10),
            (R::Spent, -3, 7),
            (R::GivenBack, 3, 10),
            (R::Spent, -3, 7),
            (R::GivenBack, 3, 10),
            (R::Spent, -4, 6),
            (R::Granted, 4, 10),
            (R::Refunded, -10, 0),
            (R::Granted, 5, 5),
            (R::Granted, -5, 0),
        ]
    );
    let last = store.movements(1, 2).await.unwrap();
    assert_eq!(reasons(&last), [(R::Granted, -5, 0), (R::Granted, 5, 5)], "newest first");
    assert_eq!(last[0].by_user, Some(ADMIN));
}

#[tokio::test]
async fn ledger_on_sqlite() {
    let (store, _dir) = test_support::sqlite().await;
    ledger_story(store).await;
}

#[tokio::test]
async fn ledger_on_postgres() {
    ledger_story(test_support::postgres().await).await;
}

/// Free credits come once, with the first request, and stay even if it is refused.
async fn free_credits(store: Store) {
    let free = Some(Price { credits: 3, free_credits: 2 });
    let refused = store.reserve_paid(&request(5, 1), &guards(), free).await.unwrap();
    assert_eq!(refused, Reservation::Refused(Refusal::Credits { balance: 2, price: 3 }));
    let cheap = Some(Price { credits: 2, free_credits: 2 });
    assert!(matches!(store.reserve_paid(&request(5, 2), &guards(), cheap).await.unwrap(), Reservation::Reserved(_)));
    assert_eq!(store.balance(5).await.unwrap(), 0, "given once, not again");
    let rows = store.movements(5, 10).await.unwrap();
    assert_eq!(reasons(&rows), [(CreditReason::Spent, -2, 0), (CreditReason::Granted, 2, 2)]);
    assert_eq!(rows[1].by_user, None, "free credits have no admin");
}

#[tokio::test]
async fn free_credits_on_sqlite() {
    let (store, _dir) = test_support::sqlite().await;
    free_credits(store).await;
}

#[tokio::test]
async fn free_credits_on_postgres() {
    free_credits(test_support::postgres().await).await;
}

/// Many requests and the same charge at once: the balance pays exactly what
/// it holds and the charge is credited once.
async fn races(store: Store) {
    store.credit_purchase("race", 7, 3, 45).await.unwrap();
    let attempts = (0..8).map(|i| {
        let store = store.clone();
        tokio::spawn(async move { store.reserve_paid(&request(7, 100 + i), &guards(), price(1)).await.unwrap() })
    });
    let results = futures_util::future::join_all(attempts).await;
    let won = results.iter().filter(|r| matches!(r.as_ref().unwrap(), Reservation::Reserved(_))).count();
    assert_eq!(won, 3, "{results:?}");
    assert_eq!(store.balance(7).await.unwrap(), 0);

    let credits = (0..6).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { store.credit_purchase("twice", 8, 10, 150).await.unwrap() })
    });
    let results = futures_util::future::join_all(credits).await;
    let credited = results.iter().filter(|r| matches!(r.as_ref().unwrap(), Purchase::Credited { .. })).count();
    assert_eq!(credited, 1, "{results:?}");
    assert_eq!(store.balance(8).await.unwrap(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn races_on_sqlite() {
    let (store, _dir) = test_support::sqlite().await;
    races(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn races_on_postgres() {
    races(test_support::postgres().await).await;
}
