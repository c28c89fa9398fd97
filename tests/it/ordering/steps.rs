//! Menu, categories, search, services, link, quantity, comments, confirmation, Back, /cancel.

use serial_test::serial;
use smm_storefront::bot::State;
use smm_storefront::bot::callback::Cb;
use smm_storefront::money;

use super::driver::{CUSTOMER, Chat, credit, naira, to_confirmation, to_link_step, wallet};
use crate::common::Harness;

const SANDBOX: &str = "SANDBOX";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn start_shows_the_menu_and_both_entries_open_the_categories() {
    let h = Harness::new().await;
    let mut chat = Chat::open(&h, "/start").await;
    assert!(chat.text().contains("Welcome"), "{}", chat.text());
    for label in ["New order", "My orders", "Help"] {
        chat.button(label);
    }

    chat.tap("New order").await;
    assert!(chat.edited_in_place(), "the menu turns into the categories");
    assert_eq!(chat.state().await, State::ChoosingCategory);
    let snap = h.shop.catalog.get().await.unwrap();
    let buttons = chat.buttons();
    assert_eq!(buttons.len(), snap.categories.len(), "{buttons:?}");
    for c in &snap.categories {
        let with_name: Vec<_> = buttons.iter().filter(|(t, _)| t.contains(c)).collect();
        assert_eq!(with_name.len(), 1, "one button for {c}: {buttons:?}");
        assert!(matches!(
            Cb::decode(&with_name[0].1),
            Some(Cb::Category { .. })
        ));
    }

    chat.send("/order").await;
    assert_eq!(chat.r.sent_messages.len(), 1);
    assert!(chat.text().contains("Choose a category"), "{}", chat.text());
    assert_eq!(chat.buttons().len(), snap.categories.len());
    assert_eq!(chat.state().await, State::ChoosingCategory);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn services_show_name_and_price_and_details_come_before_the_link() {
    let h = Harness::new().await;
    let snap = h.shop.catalog.get().await.unwrap();
    let mut chat = Chat::open(&h, "/order").await;
    chat.tap("Instagram").await;
    assert!(chat.edited_in_place());
    assert!(
        chat.text().contains(SANDBOX),
        "prices are shown: {}",
        chat.text()
    );
    let labels = chat.buttons();
    let instagram = snap.in_category("Instagram");
    for s in &instagram {
        let data = Cb::Service { id: s.id }.encode();
        let (label, _) = labels
            .iter()
            .find(|(_, d)| *d == data)
            .unwrap_or_else(|| panic!("no button for {}: {labels:?}", s.name));
        let price = snap.price_per_1k(s).to_string();
        assert!(label.contains(&price), "{label} shows {price}");
        let head: String = s.name.chars().take(10).collect();
        assert!(label.starts_with(&head), "{label} shows {}", s.name);
    }
    chat.button("Back");

    chat.press(&Cb::Service { id: 101 }.encode()).await;
    assert!(chat.edited_in_place());
    let text = chat.text();
    for part in [
        "IG Followers [Real - 30 Days Refill]",
        "₦1,040.00",
        "100 to 100,000",
        "Refill: yes",
        "Cancel: yes",
        "Drip-feed: no",
        "Send the link",
        SANDBOX,
    ] {
        assert!(text.contains(part), "{part:?} in {text}");
    }
    let details = text.find("Refill").unwrap();
    let ask = text.find("Send the link").unwrap();
    assert!(details < ask, "details come before the question");
    assert_eq!(chat.state().await, State::EnteringLink { service_id: 101 });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn typing_a_word_searches_every_category() {
    let h = Harness::new().await;
    let snap = h.shop.catalog.get().await.unwrap();
    let mut chat = Chat::open(&h, "/order").await;
    chat.send("views").await;
    assert!(
        chat.text().contains("matching <b>views</b>"),
        "{}",
        chat.text()
    );
    let found: Vec<u64> = chat
        .buttons()
        .iter()
        .filter_map(|(_, d)| match Cb::decode(d) {
            Some(Cb::Service { id }) => Some(id),
            _ => None,
        })
        .collect();
    let categories: std::collections::HashSet<_> = found
        .iter()
        .map(|id| snap.service(*id).unwrap().category.clone())
        .collect();
    assert!(
        categories.len() >= 3,
        "views in many categories: {categories:?}"
    );
    for id in &found {
        assert!(
            snap.service(*id)
                .unwrap()
                .name
                .to_lowercase()
                .contains("views")
        );
    }

    // A search from the results list, then one that finds nothing.
    chat.send("tiktok likes").await;
    let again: Vec<_> = chat.buttons();
    assert!(
        again.iter().any(|(t, _)| t.contains("TikTok Likes")),
        "{again:?}"
    );
    chat.send("zzzzqq").await;
    assert!(
        chat.text().contains("No service matches"),
        "{}",
        chat.text()
    );
    assert_eq!(chat.state().await, State::ChoosingCategory);
    chat.button("Instagram");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn link_must_be_a_url_or_username_and_gets_a_platform_hint() {
    let h = Harness::new().await;
    let mut chat = Chat::open(&h, "/start").await;
    to_link_step(&mut chat, "Instagram", 101).await;
    for bad in [
        "instagram",
        "instagram.com/yourpage",
        "ftp://instagram.com/x",
        "hello world",
        "@",
        "https://localhost",
    ] {
        chat.send(bad).await;
        let text = chat.text();
        assert!(text.contains("does not look like a link"), "{bad}: {text}");
        assert!(
            text.contains("https://instagram.com/yourpage"),
            "{bad}: {text}"
        );
        assert_eq!(
            chat.state().await,
            State::EnteringLink { service_id: 101 },
            "{bad}"
        );
    }
    chat.send("@my_page").await;
    assert_eq!(
        chat.state().await,
        State::EnteringQuantity {
            service_id: 101,
            link: "@my_page".into()
        }
    );

    // Another platform, another hint; a full URL is taken as it is.
    to_link_step(&mut chat, "TikTok", 108).await;
    chat.send("my tiktok").await;
    assert!(
        chat.text().contains("tiktok.com/@yourname"),
        "{}",
        chat.text()
    );
    chat.send("https://www.tiktok.com/@someone").await;
    assert!(matches!(
        chat.state().await,
        State::EnteringQuantity { link, .. } if link == "https://www.tiktok.com/@someone"
    ));
    assert_eq!(h.sandbox.order_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn quantity_is_a_whole_number_in_range_and_the_confirmation_is_exact() {
    let h = Harness::new().await;
    let mut chat = Chat::open(&h, "/start").await;
    to_link_step(&mut chat, "Instagram", 101).await;
    chat.send("https://instagram.com/yourpage").await;
    assert!(
        chat.text().contains("from <b>100</b> to <b>100,000</b>"),
        "{}",
        chat.text()
    );
    let waiting = chat.state().await;
    for bad in ["abc", "-5", "0", "1e9", "1.5", "99", "100001", "1,000,000"] {
        chat.send(bad).await;
        let text = chat.text();
        assert!(
            text.contains("whole number from <b>100</b> to <b>100,000</b>"),
            "{bad}: {text}"
        );
        assert_eq!(chat.state().await, waiting, "{bad} leaves the step waiting");
    }

    for typed in ["1,500", "1 500"] {
        chat.send(typed).await;
        let text = chat.text();
        let total = money::cost(1500, naira("1040")).unwrap();
        assert_eq!(total.to_string(), "₦1,560.00");
        for part in [
            "Service: IG Followers [Real - 30 Days Refill]",
            "Link: https://instagram.com/yourpage",
            "Quantity: 1,500",
            "Price per 1,000: ₦1,040.00",
            "Total: ₦1,560.00",
            "Wallet: ₦50,000.00 → ₦48,440.00",
            SANDBOX,
        ] {
            assert!(text.contains(part), "{typed}: {part:?} in {text}");
        }
        let labels: Vec<String> = chat.buttons().into_iter().map(|(t, _)| t).collect();
        for b in ["Confirm", "Cancel", "Back"] {
            assert!(labels.iter().any(|l| l.contains(b)), "{b} in {labels:?}");
        }
        assert!(matches!(
            chat.state().await,
            State::Confirming { quantity: 1500, .. }
        ));
        chat.tap("Back").await;
        assert!(chat.edited_in_place());
        assert_eq!(chat.state().await, waiting);
    }
    assert_eq!(h.sandbox.order_count(), 0);
    assert_eq!(wallet(&h.store), credit(&h.shop));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn comments_are_counted_one_per_line() {
    let h = Harness::new().await;
    let mut chat = Chat::open(&h, "/start").await;
    to_link_step(&mut chat, "Instagram", 106).await;
    chat.send("https://instagram.com/p/abc").await;
    assert!(chat.text().contains("one per line"), "{}", chat.text());
    assert!(
        chat.text().contains("<b>10</b> and <b>5,000</b>"),
        "{}",
        chat.text()
    );
    let waiting = chat.state().await;
    assert!(matches!(waiting, State::EnteringComments { .. }));

    chat.send("Nice!\nGreat\n\n  \nWow").await;
    assert!(
        chat.text().contains("You sent 3 comments"),
        "{}",
        chat.text()
    );
    assert_eq!(chat.state().await, waiting);

    let lines: Vec<String> = (1..=10).map(|i| format!("Comment number {i}")).collect();
    chat.send(&lines.join("\n\n")).await;
    let text = chat.text();
    assert!(text.contains("Quantity: 10"), "{text}");
    assert!(text.contains("Comments: 10"), "{text}");
    let total = money::cost(10, naira("9800")).unwrap();
    assert!(text.contains(&format!("Total: {total}")), "{text}");

    chat.tap("Confirm").await;
    assert!(chat.text().contains("Order placed"), "{}", chat.text());
    let (orders, _) = h.store.orders_for_user(CUSTOMER, 0, 10).unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].comments.as_deref(), Some(&lines[..]));
    assert_eq!(orders[0].quantity, 10);
    assert_eq!(h.sandbox.order_count(), 1);
    assert_eq!(
        wallet(&h.store),
        credit(&h.shop).checked_sub(total).unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn back_returns_one_step_at_a_time() {
    let h = Harness::new().await;
    let link = "https://instagram.com/yourpage";
    let mut chat = Chat::open(&h, "/start").await;
    to_confirmation(&mut chat, "Instagram", 101, link, "1500").await;

    chat.tap("Back").await;
    assert!(chat.edited_in_place());
    assert!(chat.text().contains("How many"), "{}", chat.text());
    assert_eq!(
        chat.state().await,
        State::EnteringQuantity {
            service_id: 101,
            link: link.into()
        }
    );

    chat.tap("Back").await;
    assert!(chat.edited_in_place());
    assert!(chat.text().contains("Send the link"), "{}", chat.text());
    assert_eq!(chat.state().await, State::EnteringLink { service_id: 101 });

    chat.tap("Back").await;
    assert!(chat.edited_in_place());
    assert!(chat.text().contains("<b>Instagram</b>"), "{}", chat.text());
    chat.button("IG Followers [Real");
    assert!(matches!(
        chat.state().await,
        State::ChoosingService { category: Some(c), .. } if c == "Instagram"
    ));

    chat.tap("Back").await;
    assert!(chat.edited_in_place());
    assert!(chat.text().contains("Choose a category"), "{}", chat.text());
    assert_eq!(chat.state().await, State::ChoosingCategory);

    // Comments step: Back returns to the link step too.
    to_link_step(&mut chat, "Instagram", 106).await;
    chat.send("@my_page").await;
    chat.tap("Back").await;
    assert!(chat.edited_in_place());
    assert_eq!(chat.state().await, State::EnteringLink { service_id: 106 });
    assert_eq!(h.sandbox.order_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn cancel_at_any_step_places_nothing() {
    let h = Harness::new().await;
    let cancelled = "Order cancelled. Nothing was placed or charged.";
    let check = |chat: &Chat| {
        assert!(chat.text().contains(cancelled), "{}", chat.text());
    };

    let mut chat = Chat::open(&h, "/order").await;
    chat.send("/cancel").await;
    check(&chat);
    assert_eq!(chat.state().await, State::Idle);

    chat.send("/order").await;
    chat.tap("Instagram").await;
    chat.send("/cancel").await;
    check(&chat);

    to_link_step(&mut chat, "Instagram", 101).await;
    chat.send("/cancel").await;
    check(&chat);

    to_link_step(&mut chat, "Instagram", 101).await;
    chat.send("@my_page").await;
    chat.send("/cancel").await;
    check(&chat);

    to_link_step(&mut chat, "Instagram", 106).await;
    chat.send("@my_page").await;
    chat.send("/cancel").await;
    check(&chat);

    // At the confirmation: /cancel, and the old Confirm button is then expired.
    to_confirmation(&mut chat, "Instagram", 101, "@my_page", "100").await;
    let ok = chat.button("Confirm");
    chat.send("/cancel").await;
    check(&chat);
    assert_eq!(chat.state().await, State::Idle);
    chat.press(&ok).await;
    assert!(chat.text().contains("expired"), "{}", chat.text());

    // The Cancel button does the same, in place.
    to_confirmation(&mut chat, "Instagram", 101, "@my_page", "100").await;
    chat.tap("Cancel").await;
    assert!(chat.edited_in_place());
    check(&chat);
    assert_eq!(chat.state().await, State::Idle);

    chat.send("/cancel").await;
    assert!(chat.text().contains("nothing to cancel"), "{}", chat.text());

    assert_eq!(h.sandbox.order_count(), 0);
    assert_eq!(h.sandbox.debit_count(), 0);
    assert_eq!(h.store.orders_for_user(CUSTOMER, 0, 10).unwrap().1, 0);
    assert_eq!(wallet(&h.store), credit(&h.shop));
}
