//! The ordering dialogue end to end: teloxide_tests' fake Bot API, the sandbox over HTTP.

use serial_test::serial;
use smm_storefront::bot::State;
use smm_storefront::bot::callback::Cb;
use smm_storefront::bot::schema::schema;
use teloxide_tests::server::Responses;
use teloxide_tests::{MockBot, MockCallbackQuery, MockMessageText};

use crate::common::Harness;

/// Every inline keyboard's callback data in the last response set.
fn buttons(r: &Responses) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let markups = r
        .sent_messages
        .iter()
        .filter_map(|m| m.reply_markup().cloned())
        .chain(
            r.edited_messages_text
                .iter()
                .filter_map(|e| e.message.reply_markup().cloned()),
        );
    for m in markups {
        for row in m.inline_keyboard {
            for b in row {
                if let teloxide::types::InlineKeyboardButtonKind::CallbackData(d) = b.kind {
                    out.push((b.text, d));
                }
            }
        }
    }
    out
}

fn last_text(r: &Responses) -> String {
    let sent = r
        .sent_messages
        .last()
        .and_then(|m| m.text().map(str::to_string));
    let edited = r
        .edited_messages_text
        .last()
        .and_then(|e| e.message.text().map(str::to_string));
    sent.or(edited).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn happy_path_places_one_order_and_charges_the_wallet() {
    let h = Harness::new().await;
    let mut bot = MockBot::new(MockMessageText::new().text("/order"), schema());
    bot.dependencies(h.deps());
    bot.dispatch().await;
    let cats = buttons(&bot.get_responses());
    let (_, insta) = cats
        .iter()
        .find(|(t, _)| t.contains("Instagram"))
        .expect("Instagram button")
        .clone();

    bot.update(MockCallbackQuery::new().data(insta));
    bot.dispatch().await;
    let services = buttons(&bot.get_responses());
    let (label, svc) = services
        .iter()
        .find(|(_, d)| d.starts_with("s:"))
        .expect("a service")
        .clone();
    assert!(label.contains('₦'), "{label}");

    bot.update(MockCallbackQuery::new().data(svc));
    bot.dispatch().await;
    assert!(
        last_text(&bot.get_responses()).contains("link"),
        "{}",
        last_text(&bot.get_responses())
    );

    bot.update(MockMessageText::new().text("https://instagram.com/yourpage"));
    bot.dispatch().await;
    let State::EnteringQuantity { service_id, .. } = bot.get_state::<State>().await else {
        panic!(
            "not at the quantity step: {}",
            last_text(&bot.get_responses())
        );
    };
    let snap = h.shop.catalog.get().await.unwrap();
    let service = snap.service(service_id).unwrap().clone();

    bot.update(MockMessageText::new().text(service.min.to_string()));
    bot.dispatch().await;
    let confirm_text = last_text(&bot.get_responses());
    assert!(confirm_text.contains("Total"), "{confirm_text}");
    let (_, ok) = buttons(&bot.get_responses())
        .into_iter()
        .find(|(t, _)| t.contains("Confirm"))
        .expect("Confirm button");
    assert!(matches!(Cb::decode(&ok), Some(Cb::Confirm { .. })));

    let before = h.sandbox.balance();
    bot.update(MockCallbackQuery::new().data(ok.clone()));
    bot.dispatch().await;
    let placed = last_text(&bot.get_responses());
    assert!(placed.contains("Order placed"), "{placed}");
    assert_eq!(h.sandbox.order_count(), 1);
    assert!(h.sandbox.balance() < before);

    // A second tap of the same button: no second order.
    bot.update(MockCallbackQuery::new().data(ok));
    bot.dispatch().await;
    assert!(
        last_text(&bot.get_responses()).contains("already placed"),
        "{}",
        last_text(&bot.get_responses())
    );
    assert_eq!(h.sandbox.order_count(), 1);
    assert_eq!(h.sandbox.debit_count(), 1);
}
