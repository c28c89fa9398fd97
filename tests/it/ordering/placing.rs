//! Confirm and what the customer is told about each answer from the panel.

use std::time::Duration;

use serial_test::serial;
use smm_storefront::bot::State;
use smm_storefront::money;
use smm_storefront::panel::OrderStatus;
use smm_storefront::sandbox::{Fault, SandboxConfig};
use smm_storefront::store::{OrderRecord, Phase, Store};
use smm_storefront::{ordering, tracker};

use super::driver::{CUSTOMER, Chat, credit, naira, to_confirmation, wallet};
use crate::common::Harness;

const LINK: &str = "https://instagram.com/yourpage";
/// Longer than the client's 2 s request timeout: the sandbox places the order, then hangs.
const HANG: Duration = Duration::from_millis(2500);

fn orders(store: &Store) -> Vec<OrderRecord> {
    store.orders_for_user(CUSTOMER, 0, 100).unwrap().0
}

/// Confirmations queued for the customer about one order.
fn queued_for(store: &Store, order_id: u64) -> Vec<String> {
    store
        .pending_outbox(1000)
        .unwrap()
        .into_iter()
        .filter(|e| e.order_id == Some(order_id) && e.text.contains("has been confirmed"))
        .map(|e| e.text)
        .collect()
}

/// One round of settling pending orders: the poller's cycle, or reconciliation alone.
async fn settle(h: &Harness, via_poller: bool) -> usize {
    if via_poller {
        tracker::poll_cycle(&h.shop).await.reconciled
    } else {
        ordering::reconcile_all(&h.shop).await.unwrap()
    }
}

/// Words that would tell the customer something failed.
fn sounds_like_failure(text: &str) -> bool {
    ["Sorry", "could not", "not placed", "expired", "Nothing was"]
        .iter()
        .any(|w| text.contains(w))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn confirm_places_one_order_charges_once_and_stores_it() {
    let h = Harness::new().await;
    let mut chat = Chat::open(&h, "/start").await;
    to_confirmation(&mut chat, "Instagram", 101, LINK, "1500").await;
    let ok = chat.button("Confirm");
    let price = money::cost(1500, naira("1040")).unwrap();
    let panel_before = h.sandbox.balance();

    chat.press(&ok).await;
    let text = chat.text();
    let [rec] = &orders(&h.store)[..] else {
        panic!("one order stored")
    };
    let api_id = rec.api_order_id.expect("the API's order id is stored");
    assert!(text.contains("Order placed"), "{text}");
    assert!(
        text.contains(&format!("Order ID: <b>{api_id}</b>")),
        "{text}"
    );
    assert!(text.contains("Charged: <b>₦1,560.00</b>"), "{text}");
    assert!(text.contains("SANDBOX"), "{text}");
    // The keyboard went away at once, so the button cannot be pressed again.
    let removed = &chat.r.edited_messages_reply_markup;
    assert_eq!(removed.len(), 1, "{removed:?}");
    assert!(
        removed[0]
            .message
            .reply_markup()
            .is_none_or(|m| m.inline_keyboard.is_empty())
    );
    assert_eq!(chat.state().await, State::Idle);

    // What the shop keeps: both ids, the service, link, quantity, cost, status, timestamps.
    assert!(rec.provider_order_id.is_some());
    assert_eq!(rec.phase, Phase::Placed);
    assert_eq!(rec.service_id, 101);
    assert_eq!(rec.service_name, "IG Followers [Real - 30 Days Refill]");
    assert_eq!(rec.link, LINK);
    assert_eq!(rec.quantity, 1500);
    assert_eq!(rec.comments, None);
    assert_eq!(rec.price, price);
    assert_eq!(rec.unit_rate, naira("1040"));
    assert_eq!(rec.api_cost, Some(price));
    assert_ne!(rec.status, OrderStatus::Failed);
    assert!(rec.created_at > 0 && rec.updated_at >= rec.created_at);
    assert!(rec.wallet_debited);

    // A second tap, and the same press delivered twice: still one order, one debit.
    chat.press(&ok).await;
    assert!(chat.text().contains("already placed"), "{}", chat.text());
    chat.press_twice(&ok).await;
    assert_eq!(chat.r.sent_messages.len(), 2);
    assert!(chat.text().contains(&format!("order ID <b>{api_id}</b>")));
    assert_eq!(h.sandbox.order_count(), 1);
    assert_eq!(h.sandbox.debit_count(), 1);
    assert_eq!(
        h.sandbox.balance(),
        panel_before.checked_sub(price).unwrap()
    );
    assert_eq!(orders(&h.store).len(), 1);
    assert_eq!(
        wallet(&h.store),
        credit(&h.shop).checked_sub(price).unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn short_wallet_is_told_and_nothing_is_placed() {
    let h = Harness::new().await;
    let mut chat = Chat::open(&h, "/start").await;
    to_confirmation(
        &mut chat,
        "YouTube",
        113,
        "https://youtube.com/@me",
        "50000",
    )
    .await;
    let price = money::cost(50_000, naira("8990.99")).unwrap();
    assert_eq!(price.to_string(), "₦449,549.50");
    assert!(
        chat.text().contains("Total: ₦449,549.50"),
        "{}",
        chat.text()
    );
    assert!(
        !chat.text().contains("-₦"),
        "no negative wallet: {}",
        chat.text()
    );

    chat.tap("Confirm").await;
    let text = chat.text();
    assert!(
        text.contains("Your wallet has ₦50,000.00, but this order costs ₦449,549.50"),
        "{text}"
    );
    chat.button("Confirm");
    assert!(matches!(chat.state().await, State::Confirming { .. }));
    assert_eq!(h.sandbox.order_count(), 0);
    assert_eq!(h.sandbox.calls("/smm/order"), 0);
    assert!(orders(&h.store).is_empty());
    assert_eq!(wallet(&h.store), credit(&h.shop));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn short_shop_balance_refunds_the_customer() {
    let h = Harness::new().await;
    h.sandbox.set_balance(naira("10"));
    let mut chat = Chat::open(&h, "/start").await;
    to_confirmation(&mut chat, "Instagram", 101, LINK, "1500").await;
    let ok = chat.button("Confirm");
    chat.press(&ok).await;
    let text = chat.text();
    assert!(
        text.contains("The shop cannot take this order right now"),
        "{text}"
    );
    assert!(text.contains("Nothing was charged"), "{text}");
    assert_eq!(chat.state().await, State::Idle);
    assert_eq!(h.sandbox.order_count(), 0);
    assert_eq!(h.sandbox.balance(), naira("10"));
    assert_eq!(wallet(&h.store), credit(&h.shop));
    assert_eq!(orders(&h.store)[0].phase, Phase::Rejected);

    // Pressing it again must not pretend the order is on its way.
    chat.press(&ok).await;
    let text = chat.text();
    assert!(!text.contains("being confirmed"), "{text}");
    assert!(text.contains("was not placed"), "{text}");
    assert_eq!(h.sandbox.order_count(), 0);
    assert_eq!(wallet(&h.store), credit(&h.shop));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn provider_refund_costs_the_customer_nothing() {
    let h = Harness::new().await;
    let mut chat = Chat::open(&h, "/start").await;
    to_confirmation(&mut chat, "Instagram", 101, LINK, "1500").await;
    h.sandbox.inject("/smm/order", Fault::ProviderRefund, 1);
    chat.tap("Confirm").await;
    let text = chat.text();
    assert!(
        text.contains("could not take this order and refunded it"),
        "{text}"
    );
    assert!(text.contains("Nothing was charged"), "{text}");
    assert_eq!(h.sandbox.debit_count(), 0);
    assert_eq!(wallet(&h.store), credit(&h.shop));
    assert_eq!(orders(&h.store)[0].phase, Phase::Rejected);
    assert_eq!(chat.state().await, State::Idle);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn quantity_refused_by_the_api_returns_to_the_quantity_step() {
    let h = Harness::new().await;
    let mut chat = Chat::open(&h, "/start").await;
    // As if the catalog had changed since the confirmation was shown: IG Likes [Cheap]
    // takes 20 to 50,000.
    let token = "StaleLimitsToken1".to_string();
    chat.bot
        .set_state(State::Confirming {
            service_id: 104,
            link: LINK.into(),
            quantity: 50_001,
            comments: None,
            token: token.clone(),
        })
        .await;
    chat.press(&format!("ok:{token}")).await;
    let text = chat.text();
    assert!(
        text.contains("whole number from <b>20</b> to <b>50,000</b>"),
        "{text}"
    );
    chat.button("Back");
    assert_eq!(
        chat.state().await,
        State::EnteringQuantity {
            service_id: 104,
            link: LINK.into()
        }
    );
    assert_eq!(h.sandbox.order_count(), 0);
    assert_eq!(wallet(&h.store), credit(&h.shop));

    // The step works as usual afterwards.
    chat.send("50000").await;
    assert!(chat.text().contains("Quantity: 50,000"), "{}", chat.text());

    // A comments service is asked for its comments again (IG Custom Comments: 10 to 5,000).
    let comments: Vec<String> = (0..5001).map(|i| format!("c{i}")).collect();
    chat.bot
        .set_state(State::Confirming {
            service_id: 106,
            link: LINK.into(),
            quantity: 5001,
            comments: Some(comments),
            token: "StaleLimitsToken2".into(),
        })
        .await;
    chat.press("ok:StaleLimitsToken2").await;
    let text = chat.text();
    assert!(text.contains("one per line"), "{text}");
    assert!(text.contains("<b>10</b> and <b>5,000</b>"), "{text}");
    chat.button("Back");
    assert_eq!(
        chat.state().await,
        State::EnteringComments {
            service_id: 106,
            link: LINK.into()
        }
    );
    assert_eq!(h.sandbox.order_count(), 0);
    assert_eq!(wallet(&h.store), credit(&h.shop));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn unreachable_api_places_and_charges_nothing() {
    let h = Harness::new().await;
    let mut chat = Chat::open(&h, "/start").await;
    to_confirmation(&mut chat, "Instagram", 101, LINK, "1500").await;
    let Harness {
        sandbox,
        shop,
        store,
        ..
    } = h;
    sandbox.shutdown().await;

    chat.tap("Confirm").await;
    let text = chat.text();
    assert!(text.contains("not answering"), "{text}");
    assert!(text.contains("Nothing was placed or charged"), "{text}");
    assert!(text.contains("try again"), "{text}");
    assert_eq!(wallet(&store), credit(&shop));
    assert_eq!(orders(&store)[0].phase, Phase::Rejected);
    assert_eq!(chat.state().await, State::Idle);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn server_errors_never_fail_an_order_that_may_exist_nor_place_it_twice() {
    let h = Harness::new().await;
    let mut chat = Chat::open(&h, "/start").await;

    // One 5xx: the client asks again with the same request_id and the order goes through.
    to_confirmation(&mut chat, "Instagram", 101, LINK, "100").await;
    h.sandbox.inject("/smm/order", Fault::ServerError, 1);
    chat.tap("Confirm").await;
    assert!(chat.text().contains("Order placed"), "{}", chat.text());
    assert_eq!(h.sandbox.order_count(), 1);

    // The panel keeps failing: the customer is told it is being confirmed, not that it failed.
    to_confirmation(&mut chat, "Instagram", 101, LINK, "200").await;
    h.sandbox.inject("/smm/order", Fault::Html, 2);
    chat.tap("Confirm").await;
    let text = chat.text();
    assert!(text.contains("being confirmed"), "{text}");
    assert!(!sounds_like_failure(&text), "{text}");
    assert_eq!(h.sandbox.order_count(), 1);

    // Once the panel answers, reconciliation places it exactly once and tells the customer.
    assert_eq!(ordering::reconcile_all(&h.shop).await.unwrap(), 1);
    assert_eq!(ordering::reconcile_all(&h.shop).await.unwrap(), 0);
    assert_eq!(h.sandbox.order_count(), 2);
    assert_eq!(h.sandbox.debit_count(), 2);
    let rec = orders(&h.store)
        .into_iter()
        .find(|o| o.quantity == 200)
        .unwrap();
    assert_eq!(rec.phase, Phase::Placed);
    assert_eq!(queued_for(&h.store, rec.id).len(), 1);
    let spent = money::cost(300, naira("1040")).unwrap();
    assert_eq!(
        wallet(&h.store),
        credit(&h.shop).checked_sub(spent).unwrap()
    );
}

/// Confirm meets a hung panel: "being confirmed", a second tap places nothing, and
/// reconciliation settles it with one queued confirmation.
async fn ambiguous_confirm_is_settled_once(h: &Harness, hangs: u32, via_poller: bool) {
    let mut chat = Chat::open(h, "/start").await;
    to_confirmation(&mut chat, "Instagram", 101, LINK, "1500").await;
    let ok = chat.button("Confirm");
    h.sandbox.inject("/smm/order", Fault::Delay(HANG), hangs);
    chat.press(&ok).await;
    let text = chat.text();
    assert!(text.contains("being confirmed"), "{text}");
    assert!(!sounds_like_failure(&text), "{text}");
    assert_eq!(chat.state().await, State::Idle);
    let [rec] = &orders(&h.store)[..] else {
        panic!("one order stored")
    };
    assert_eq!(rec.phase, Phase::Unconfirmed);
    assert_eq!(h.sandbox.order_count(), 1, "the hung panel did place it");

    chat.press(&ok).await;
    assert!(chat.text().contains("being confirmed"), "{}", chat.text());
    assert_eq!(h.sandbox.order_count(), 1);

    assert_eq!(settle(h, via_poller).await, 1);
    let rec = h.store.get_order(rec.id).unwrap().unwrap();
    assert_eq!(rec.phase, Phase::Placed);
    let api_id = rec.api_order_id.expect("the API's id is learnt");
    let queued = queued_for(&h.store, rec.id);
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert!(queued[0].contains("has been confirmed"), "{}", queued[0]);
    assert!(queued[0].contains(&api_id.to_string()), "{}", queued[0]);
    assert!(queued[0].contains("₦1,560.00"), "{}", queued[0]);

    // Settled for good: nothing more to do, nothing queued twice, nothing placed twice.
    assert_eq!(settle(h, via_poller).await, 0);
    assert_eq!(queued_for(&h.store, rec.id).len(), 1);
    chat.press(&ok).await;
    assert!(chat.text().contains("already placed"), "{}", chat.text());
    assert_eq!(h.sandbox.order_count(), 1);
    assert_eq!(h.sandbox.debit_count(), 1);
    assert_eq!(
        wallet(&h.store),
        credit(&h.shop).checked_sub(rec.price).unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn ambiguous_outcome_is_adopted_from_the_duplicate_answer() {
    let h = Harness::new().await;
    // Both the first attempt and the client's re-send hang.
    ambiguous_confirm_is_settled_once(&h, 2, false).await;
    assert_eq!(
        h.sandbox.calls("/smm/orders"),
        0,
        "the duplicate answer named it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn ambiguous_outcome_is_found_in_the_order_list() {
    let cfg = SandboxConfig {
        duplicate_names_order: false,
        ..SandboxConfig::default()
    };
    let h = Harness::with(cfg, &[]).await;
    // Settled by the poller's cycle this time.
    ambiguous_confirm_is_settled_once(&h, 1, true).await;
    assert!(
        h.sandbox.calls("/smm/orders") >= 1,
        "looked it up in the list"
    );
}
