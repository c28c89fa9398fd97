//! A catalog of thousands of long names, and buttons that are stale or forged.

use serial_test::serial;
use smm_storefront::bot::State;
use smm_storefront::bot::callback::Cb;
use smm_storefront::bot::keyboards::SERVICES_PER_PAGE;
use smm_storefront::sandbox::{CatalogSpec, SandboxConfig};

use super::driver::{Chat, choose_service, credit, to_confirmation, wallet};
use crate::common::Harness;

fn big_catalog() -> SandboxConfig {
    SandboxConfig {
        catalog: CatalogSpec::Generated {
            count: 3000,
            name_len: 120,
        },
        ..SandboxConfig::default()
    }
}

fn service_ids(chat: &Chat) -> Vec<u64> {
    chat.buttons()
        .iter()
        .filter_map(|(_, d)| match Cb::decode(d) {
            Some(Cb::Service { id }) => Some(id),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn the_last_page_of_a_big_category_is_reachable_with_valid_keyboards() {
    let h = Harness::with(big_catalog(), &[]).await;
    let snap = h.shop.catalog.get().await.unwrap();
    assert_eq!(snap.services.len(), 3000);
    // Every keyboard below is checked by the driver: ≤ 64-byte data that decodes,
    // ≤ 100 buttons, texts ≤ 4,096 characters, every press answered.
    let mut chat = Chat::open(&h, "/order").await;
    assert_eq!(chat.buttons().len(), snap.categories.len());

    let category = "Instagram Followers";
    let services = snap.in_category(category);
    let pages = services.len().div_ceil(SERVICES_PER_PAGE);
    assert!(pages > 10, "{pages} pages");
    let last = services.last().unwrap();
    assert_eq!(last.name.chars().count(), 120);

    chat.tap(category).await;
    chat.button(&format!("1/{pages}"));
    assert_eq!(service_ids(&chat).len(), SERVICES_PER_PAGE);
    choose_service(&mut chat, last.id).await;
    let text = chat.text();
    assert!(text.contains(&last.name), "{text}");
    assert!(text.contains("Send the link"), "{text}");

    // Back lands on the page the service was on, which has Prev but no Next.
    chat.tap("Back").await;
    assert!(chat.edited_in_place());
    assert!(
        service_ids(&chat).contains(&last.id),
        "{:?}",
        chat.buttons()
    );
    chat.button(&format!("{pages}/{pages}"));
    assert!(!chat.buttons().iter().any(|(t, _)| t.contains("Next")));
    chat.tap("Prev").await;
    assert!(chat.edited_in_place());
    chat.button(&format!("{}/{pages}", pages - 1));
    chat.tap("Back").await;
    assert_eq!(chat.state().await, State::ChoosingCategory);
    assert_eq!(h.sandbox.order_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn a_search_matching_thousands_still_makes_valid_keyboards() {
    let h = Harness::with(big_catalog(), &[]).await;
    let snap = h.shop.catalog.get().await.unwrap();
    let mut chat = Chat::open(&h, "/order").await;
    for word in ["Señal", "a", "followers"] {
        let matches = snap.search(word).len();
        assert!(matches >= 100, "{word}: {matches}");
        let pages = matches.div_ceil(SERVICES_PER_PAGE);
        chat.send(word).await;
        assert!(chat.text().contains("matching"), "{}", chat.text());
        assert_eq!(service_ids(&chat).len(), SERVICES_PER_PAGE);
        chat.button(&format!("1/{pages}"));
        chat.tap("Next").await;
        assert!(chat.edited_in_place());
        chat.button(&format!("2/{pages}"));
    }
    // A search as long as a message is cut, and still answered within limits.
    chat.send(&"ñ".repeat(4000)).await;
    assert!(
        chat.text().contains("No service matches"),
        "{}",
        chat.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn stale_or_forged_buttons_are_expired_and_place_nothing() {
    let h = Harness::new().await;
    let snap = h.shop.catalog.get().await.unwrap();
    let mut chat = Chat::open(&h, "/start").await;

    // Garbage: the press is answered with the polite notice.
    for garbage in ["zz:1", "s:01", "ok:short", "", "c:1"] {
        chat.press(garbage).await;
        let toasts = chat.toasts();
        assert!(
            toasts.iter().any(|t| t.contains("expired")),
            "{garbage:?}: {toasts:?}"
        );
        assert_eq!(chat.state().await, State::Idle);
    }

    // A category button from an older catalog, and buttons from another step.
    chat.send("/order").await;
    let stale = Cb::Category {
        ver: snap.version.wrapping_add(1),
        idx: 0,
    };
    for data in [stale.encode(), "s:101".into(), "sp:2".into(), "x".into()] {
        chat.press(&data).await;
        assert!(chat.text().contains("expired"), "{data}: {}", chat.text());
        assert_eq!(chat.state().await, State::ChoosingCategory, "{data}");
    }

    // Confirm with a token that is not the one shown.
    to_confirmation(&mut chat, "Instagram", 101, "@my_page", "100").await;
    let waiting = chat.state().await;
    chat.press("ok:WrongToken1234567").await;
    assert!(chat.text().contains("expired"), "{}", chat.text());
    assert_eq!(chat.state().await, waiting);
    assert_eq!(h.sandbox.order_count(), 0);
    assert_eq!(h.sandbox.calls("/smm/order"), 0);
    assert_eq!(wallet(&h.store), credit(&h.shop));

    // The real button still works.
    chat.tap("Confirm").await;
    assert!(chat.text().contains("Order placed"), "{}", chat.text());
    assert_eq!(h.sandbox.order_count(), 1);
}
