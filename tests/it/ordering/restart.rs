//! The dialogue state lives in sled: a restart mid-conversation loses nothing.

use serial_test::serial;
use smm_storefront::bot::State;

use super::driver::{CUSTOMER, Chat, credit, to_link_step, wallet};
use crate::common::Harness;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn a_conversation_continues_after_a_restart() {
    let h = Harness::new().await;
    let mut chat = Chat::open(&h, "/start").await;
    to_link_step(&mut chat, "Instagram", 101).await;
    drop(chat);

    let h = h.restart(&[]).await;
    let mut chat = Chat::open(&h, "https://instagram.com/yourpage").await;
    assert_eq!(
        chat.state().await,
        State::EnteringQuantity {
            service_id: 101,
            link: "https://instagram.com/yourpage".into()
        },
        "{}",
        chat.text()
    );
    chat.send("1500").await;
    chat.tap("Confirm").await;
    assert!(chat.text().contains("Order placed"), "{}", chat.text());
    let (orders, _) = h.store.orders_for_user(CUSTOMER, 0, 10).unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!(h.sandbox.order_count(), 1);
    // The practice credit was given once, before the restart.
    assert_eq!(
        wallet(&h.store),
        credit(&h.shop).checked_sub(orders[0].price).unwrap()
    );
}
