//! The typed IA-Café client against the sandbox panel over loopback HTTP, one endpoint at a time.

use std::net::SocketAddr;
use std::time::Duration;

use smm_storefront::money::Naira;
use smm_storefront::panel::{
    ApiKey, Client, Error, NewOrder, OrderPayload, OrderQuery, OrderStatus, ServiceFilter,
    ServiceKind,
};
use smm_storefront::sandbox::{Fault, Sandbox, SandboxConfig};

use crate::common::fast_client_options;

async fn sandbox(cfg: SandboxConfig) -> (Sandbox, Client) {
    let sb = Sandbox::start(cfg, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("sandbox starts");
    let client = Client::with_options(
        &sb.base_url(),
        ApiKey::new("test-key"),
        fast_client_options(),
    )
    .expect("client");
    (sb, client)
}

fn order(request_id: &str, service_id: u64, quantity: u64) -> NewOrder {
    NewOrder {
        request_id: request_id.to_string(),
        service_id,
        link: "https://instagram.com/yourpage".to_string(),
        payload: OrderPayload::Quantity(quantity),
    }
}

#[tokio::test]
async fn services_with_filters() {
    let (_sb, client) = sandbox(SandboxConfig::default()).await;
    let all = client.services(&ServiceFilter::default()).await.unwrap();
    assert!(all.services.len() >= 20, "a realistic catalog");
    for platform in ["Instagram", "TikTok", "YouTube", "Facebook", "Telegram"] {
        assert!(
            all.categories.iter().any(|c| c.contains(platform)),
            "{platform}"
        );
    }
    assert!(
        all.services
            .iter()
            .any(|s| s.kind == ServiceKind::CustomComments)
    );
    let insta = client
        .services(&ServiceFilter {
            category: Some(all.services[0].category.clone()),
            query: None,
        })
        .await
        .unwrap();
    assert!(!insta.services.is_empty());
    assert!(
        insta
            .services
            .iter()
            .all(|s| s.category == all.services[0].category)
    );
    let found = client
        .services(&ServiceFilter {
            category: None,
            query: Some("FOLLOWERS".into()),
        })
        .await
        .unwrap();
    assert!(!found.services.is_empty());
    assert!(found.services.iter().all(|s| {
        s.name.to_lowercase().contains("followers")
            || s.category.to_lowercase().contains("followers")
    }));
}

#[tokio::test]
async fn place_list_status_bulk_refill_cancel_balance() {
    let (sb, client) = sandbox(SandboxConfig::default()).await;
    let catalog = client.services(&ServiceFilter::default()).await.unwrap();
    let start = client.balance().await.unwrap();
    assert_eq!(start, sb.balance());

    let refillable = catalog
        .services
        .iter()
        .find(|s| s.refill && s.kind == ServiceKind::Default)
        .unwrap();
    let placed = client
        .place_order(&order("rt-1", refillable.id, refillable.min))
        .await
        .unwrap();
    let expected = smm_storefront::money::cost(refillable.min, refillable.rate_per_1k).unwrap();
    assert_eq!(placed.amount_charged, expected);
    assert_eq!(
        client.balance().await.unwrap(),
        start.checked_sub(expected).unwrap()
    );
    assert_eq!(
        placed.final_balance,
        Some(start.checked_sub(expected).unwrap())
    );
    let pid = placed.provider_order_id.expect("provider id");

    let page = client
        .orders(&OrderQuery {
            service_id: Some(refillable.id),
            ..OrderQuery::default()
        })
        .await
        .unwrap();
    assert!(page.orders.iter().any(|o| o.id == placed.order_id));

    let report = client.status(placed.order_id).await.unwrap();
    assert_eq!(report.provider_order_id, Some(pid));
    assert_eq!(report.quantity, refillable.min);

    let bulk = client.bulk_status(&[placed.order_id]).await.unwrap();
    assert!(
        bulk.contains_key(&pid),
        "bulk answers are keyed by provider id"
    );

    // Finish it, then refill.
    for _ in 0..3 {
        sb.advance();
    }
    let done = client.status(placed.order_id).await.unwrap();
    assert!(matches!(
        done.status,
        OrderStatus::Completed | OrderStatus::Partial
    ));
    let refill = client.refill(placed.order_id).await.unwrap();
    let word = client.refill_status(refill).await.unwrap();
    assert!(!word.is_empty());
    let many = client.refill_statuses(&[refill]).await.unwrap();
    assert!(many.contains_key(&refill));

    // Cancel an active order of a cancelable service: refunded.
    let cancelable = catalog
        .services
        .iter()
        .find(|s| s.cancelable && s.kind == ServiceKind::Default)
        .unwrap();
    let second = client
        .place_order(&order("rt-2", cancelable.id, cancelable.min))
        .await
        .unwrap();
    let before_cancel = client.balance().await.unwrap();
    let outcome = client.cancel(&[second.order_id]).await.unwrap();
    assert_eq!(outcome.cancelled, vec![second.provider_order_id.unwrap()]);
    assert!(client.balance().await.unwrap() > before_cancel);
    // A second cancel: the empty answer with a note.
    let again = client.cancel(&[second.order_id]).await.unwrap();
    assert!(again.cancelled.is_empty());
    assert!(again.note.is_some());
}

#[tokio::test]
async fn comments_order_counts_lines() {
    let (_sb, client) = sandbox(SandboxConfig::default()).await;
    let catalog = client.services(&ServiceFilter::default()).await.unwrap();
    let svc = catalog
        .services
        .iter()
        .find(|s| s.kind == ServiceKind::CustomComments)
        .unwrap();
    let comments: Vec<String> = (0..svc.min).map(|i| format!("Great post {i}!")).collect();
    let placed = client
        .place_order(&NewOrder {
            request_id: "rt-comments".into(),
            service_id: svc.id,
            link: "https://instagram.com/p/abc".into(),
            payload: OrderPayload::Comments(comments),
        })
        .await
        .unwrap();
    assert_eq!(placed.quantity, svc.min);
}

#[tokio::test]
async fn same_request_id_twice_is_one_order_and_one_debit() {
    let (sb, client) = sandbox(SandboxConfig::default()).await;
    let svc = client
        .services(&ServiceFilter::default())
        .await
        .unwrap()
        .services[0]
        .clone();
    let first = client
        .place_order(&order("dup-1", svc.id, svc.min))
        .await
        .unwrap();
    let second = client.place_order(&order("dup-1", svc.id, svc.min)).await;
    assert_eq!(
        second,
        Err(Error::Duplicate {
            order_id: Some(first.order_id)
        })
    );
    assert_eq!(sb.order_count(), 1);
    assert_eq!(sb.debit_count(), 1);
}

#[tokio::test]
async fn documented_errors_become_typed_errors() {
    let (sb, client) = sandbox(SandboxConfig::default()).await;
    let svc = client
        .services(&ServiceFilter::default())
        .await
        .unwrap()
        .services[0]
        .clone();
    match client.place_order(&order("q-1", svc.id, svc.min - 1)).await {
        Err(Error::InvalidQuantity { min, max, received }) => {
            assert_eq!(
                (min, max, received),
                (Some(svc.min), Some(svc.max), Some(svc.min - 1))
            );
        }
        other => panic!("expected invalid quantity, got {other:?}"),
    }
    sb.set_balance(Naira::ZERO);
    assert_eq!(
        client.place_order(&order("q-2", svc.id, svc.min)).await,
        Err(Error::InsufficientBalance)
    );
    sb.set_balance(Naira::from_kobo(100_000_000));
    sb.inject("/smm/order", Fault::ProviderRefund, 1);
    assert!(matches!(
        client.place_order(&order("q-3", svc.id, svc.min)).await,
        Err(Error::Refunded { .. })
    ));
    assert!(matches!(client.status(1).await, Err(Error::NotFound)));
}

#[tokio::test]
async fn bad_key_is_unauthorised() {
    let (sb, _client) = sandbox(SandboxConfig::default()).await;
    let anonymous = Client::with_options(&sb.base_url(), ApiKey::new(""), fast_client_options());
    // Refusing an empty key before sending is fine too.
    if let Ok(c) = anonymous {
        assert_eq!(c.balance().await, Err(Error::Unauthorized));
    }
    let mut raw = reqwest::Client::new()
        .get(format!("{}/whoami", sb.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 401);
    raw = reqwest::Client::new()
        .get(format!("{}/whoami", sb.base_url()))
        .bearer_auth("")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 401);
}

#[tokio::test]
async fn a_500_is_retried_and_garbage_is_malformed() {
    let (sb, client) = sandbox(SandboxConfig::default()).await;
    sb.inject("/smm/services", Fault::ServerError, 1);
    let before = sb.calls("/smm/services");
    assert!(client.services(&ServiceFilter::default()).await.is_ok());
    assert_eq!(
        sb.calls("/smm/services") - before,
        2,
        "one failure, one retry"
    );

    sb.inject("/whoami", Fault::Garbage, 1);
    assert!(matches!(
        client.balance().await,
        Err(Error::Malformed { .. })
    ));
    sb.inject("/whoami", Fault::EmptyBody, 1);
    assert!(matches!(
        client.balance().await,
        Err(Error::Malformed { .. })
    ));
    sb.inject("/whoami", Fault::Html, 3);
    assert!(matches!(
        client.balance().await,
        Err(Error::Server { status: 502 })
    ));
}

#[tokio::test]
async fn a_hang_after_sending_is_ambiguous_and_reconcilable() {
    let (sb, client) = sandbox(SandboxConfig::default()).await;
    let svc = client
        .services(&ServiceFilter::default())
        .await
        .unwrap()
        .services[0]
        .clone();
    sb.inject("/smm/order", Fault::Delay(Duration::from_secs(5)), 1);
    let res = client.place_order(&order("amb-1", svc.id, svc.min)).await;
    assert!(
        matches!(
            res,
            Err(Error::Ambiguous { .. }) | Err(Error::Duplicate { .. })
        ),
        "{res:?}"
    );
    assert_eq!(sb.order_count(), 1, "placed once despite the retry");
    assert_eq!(sb.debit_count(), 1);
}
