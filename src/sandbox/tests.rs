//! End-to-end tests of the sandbox over real loopback HTTP with a raw reqwest client.

use std::str::FromStr;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::*;
use crate::money;

const KEY: &str = "Bearer ak_test_sandbox";

fn n(s: &str) -> Naira {
    Naira(Decimal::from_str(s).unwrap())
}

async fn start(cfg: SandboxConfig) -> Sandbox {
    Sandbox::start(cfg, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn post(sb: &Sandbox, path: &str, body: Value) -> (u16, Value) {
    let resp = http()
        .post(format!("{}{path}", sb.base_url()))
        .header("Authorization", KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

async fn get(sb: &Sandbox, path: &str) -> (u16, Value) {
    let resp = http()
        .get(format!("{}{path}", sb.base_url()))
        .header("Authorization", KEY)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

async fn order(sb: &Sandbox, request_id: &str, service: u64, qty: u64) -> (u16, Value) {
    let body = json!({"request_id": request_id, "serviceId": service,
        "link": "https://instagram.com/yourpage", "quantity": qty});
    post(sb, "/smm/order", body).await
}

/// Calls `advance()` until every order is terminal, failing after a deadline.
fn advance_until_done(sb: &Sandbox) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while sb.shared.with(|s| s.orders().iter().any(|o| o.is_active())) {
        assert!(Instant::now() < deadline, "orders never finished");
        sb.advance();
    }
}

#[tokio::test]
async fn missing_or_empty_key_is_401_in_the_error_shape() {
    let sb = start(SandboxConfig::default()).await;
    let url = format!("{}/smm/services", sb.base_url());
    for auth in [None, Some("Bearer "), Some("Bearer"), Some("Basic abc")] {
        let mut req = http().get(&url);
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 401, "{auth:?}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["success"], false);
        assert_eq!(body["error"]["code"], "unauthorized");
    }
    let (status, body) = get(&sb, "/whoami").await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["wallet_balance"], "1000000.00");
    assert_eq!(sb.calls("/smm/services"), 4);
}

#[tokio::test]
async fn order_debits_the_documented_cost_and_answers_the_documented_shape() {
    let sb = start(SandboxConfig::default()).await;
    sb.set_balance(n("10000"));
    let (status, body) = order(&sb, "my_order_001", 101, 1500).await;
    assert_eq!(status, 200);
    let expected = json!({
        "code": "success",
        "message": "ORDER PROCESSING",
        "data": {
            "product_name": "SMM",
            "service_name": "IG Followers [Real - 30 Days Refill]",
            "status": "processing-api",
            "order_id": 98765,
            "provider_order_id": 554433,
            "link": "https://instagram.com/yourpage",
            "quantity": 1500,
            "amount": "1560.00",
            "discount": "0.00",
            "amount_charged": "1560.00",
            "initial_balance": "10000.00",
            "final_balance": "8440.00",
            "request_id": "my_order_001"
        }
    });
    assert_eq!(body, expected);
    assert_eq!(sb.balance(), n("8440"));
    assert_eq!((sb.order_count(), sb.debit_count()), (1, 1));

    let (status, body) = get(&sb, "/smm/status/98765").await;
    assert_eq!(status, 200);
    let o = &body["data"]["order"];
    assert_eq!(o["amount_ngn"], json!(1560.0));
    assert_eq!(o["status"], "pending");
    assert_eq!(o["remains"], 1500);
    assert_eq!(body["data"]["provider"]["remains"], "1500");
    assert_eq!(body["data"]["provider"]["charge"], "0.975");
    let (status, body) = get(&sb, "/smm/status/1").await;
    assert_eq!((status, &body["error"]["code"]), (404, &json!("not_found")));
}

#[tokio::test]
async fn aliases_and_form_bodies_are_accepted() {
    let sb = start(SandboxConfig::default()).await;
    let body = json!({"ref": "r1", "service": "104", "target": "@me", "qty": "20"});
    let (status, answer) = post(&sb, "/smm/order", body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["quantity"], 20);
    let resp = http()
        .post(format!("{}/smm/order", sb.base_url()))
        .header("Authorization", KEY)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("requestId=r2&service_id=106&url=https%3A%2F%2Fig.com%2Fp%2F1&comment=")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let comments = (0..12)
        .map(|i| format!("Nice {i}"))
        .collect::<Vec<_>>()
        .join("\n");
    let body = json!({"requestId": "r3", "service_id": 106, "url": "https://ig.com/p/1", "comments": comments});
    let (status, answer) = post(&sb, "/smm/order", body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["quantity"], 12);
    assert_eq!(answer["data"]["amount"], "117.60");
}

#[tokio::test]
async fn repeated_request_id_places_one_order_and_one_debit() {
    let sb = start(SandboxConfig::default()).await;
    let (status, _) = order(&sb, "same", 101, 1500).await;
    assert_eq!(status, 200);
    let after_first = sb.balance();
    let again = json!({"requestId": "same", "service_id": 102, "url": "x", "qty": 100});
    let (status, body) = post(&sb, "/smm/order", again).await;
    assert_eq!(status, 409);
    assert_eq!(body["error"]["code"], "duplicate_request");
    assert_eq!(body["order_id"], 98765);
    assert_eq!((sb.order_count(), sb.debit_count()), (1, 1));
    assert_eq!(sb.balance(), after_first);

    let quiet = start(SandboxConfig {
        duplicate_names_order: false,
        ..SandboxConfig::default()
    })
    .await;
    order(&quiet, "same", 101, 1500).await;
    let (status, body) = order(&quiet, "same", 101, 1500).await;
    assert_eq!(status, 409);
    assert!(body.get("order_id").is_none());
    assert_eq!(quiet.order_count(), 1);
}

#[tokio::test]
async fn concurrent_repeats_still_place_one_order() {
    let sb = start(SandboxConfig::default()).await;
    let tasks: Vec<_> = (0..8).map(|_| order(&sb, "race", 101, 1000)).collect();
    let results = futures_join(tasks).await;
    assert_eq!(results.iter().filter(|(s, _)| *s == 200).count(), 1);
    assert_eq!(results.iter().filter(|(s, _)| *s == 409).count(), 7);
    assert_eq!((sb.order_count(), sb.debit_count()), (1, 1));
}

/// Runs futures concurrently on the current task without an extra crate.
async fn futures_join<F: std::future::Future<Output = T>, T>(futs: Vec<F>) -> Vec<T> {
    let mut set = Vec::new();
    for f in futs {
        set.push(Box::pin(f));
    }
    let mut out: Vec<Option<T>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in set.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(Option::unwrap).collect()
}

#[tokio::test]
async fn quantity_out_of_range_has_the_documented_shape() {
    let sb = start(SandboxConfig::default()).await;
    let (status, body) = order(&sb, "q", 101, 50).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"success": false,
            "error": {"code": "invalid_quantity", "message": "Quantity must be between 100 and 100000"},
            "received": 50, "min": 100, "max": 100000})
    );
    assert_eq!(sb.order_count(), 0);
    // A rejected request does not burn its request_id.
    let (status, _) = order(&sb, "q", 101, 100).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn insufficient_balance_places_nothing() {
    let sb = start(SandboxConfig::default()).await;
    sb.set_balance(n("1559.99"));
    let (status, body) = order(&sb, "poor", 101, 1500).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"success": false, "error": {"code": "insufficient_balance", "message": "Insufficient wallet balance"}})
    );
    assert_eq!((sb.order_count(), sb.debit_count()), (0, 0));
    assert_eq!(sb.balance(), n("1559.99"));
}

#[tokio::test]
async fn provider_refund_leaves_the_wallet_unchanged() {
    let sb = start(SandboxConfig::default()).await;
    let before = sb.balance();
    sb.inject("/smm/order", Fault::ProviderRefund, 1);
    let (status, body) = order(&sb, "my_order_001", 101, 1500).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"code": "refunded", "message": "Order could not be completed. Wallet refunded.",
            "data": {"order_id": 98765, "request_id": "my_order_001"}})
    );
    assert_eq!(sb.balance(), before);
    assert_eq!(sb.debit_count(), 0);
    let (status, _) = order(&sb, "next", 101, 1500).await;
    assert_eq!(status, 200);
    assert_eq!(sb.debit_count(), 1);
}

#[tokio::test]
async fn advance_moves_orders_to_completed_or_partial_and_refunds_partials() {
    let sb = start(SandboxConfig::default()).await;
    for i in 0..18 {
        order(&sb, &format!("o{i}"), 101, 1200).await;
    }
    let charged = sb.balance();
    sb.advance();
    let (_, body) = get(&sb, "/smm/status/98765").await;
    assert_eq!(body["data"]["order"]["status"], "in progress");
    assert!(body["data"]["order"]["start_count"].as_u64().is_some());
    assert_eq!(body["data"]["order"]["remains"], 800);
    assert_eq!(body["data"]["provider"]["status"], "In progress");
    advance_until_done(&sb);

    let (_, list) = get(&sb, "/smm/orders?limit=100").await;
    let rows = list["data"]["orders"].as_array().unwrap();
    assert_eq!(rows.len(), 18);
    let partial: Vec<&Value> = rows.iter().filter(|r| r["status"] == "partial").collect();
    let completed = rows.iter().filter(|r| r["status"] == "completed").count();
    assert_eq!(partial.len() + completed, 18);
    assert!(!partial.is_empty() && completed > 0, "seeded mix expected");
    let refunded: u64 = partial.iter().map(|r| r["remains"].as_u64().unwrap()).sum();
    let expected = charged
        .checked_add(money::cost(refunded, n("1040")).unwrap())
        .unwrap();
    assert_eq!(sb.balance(), expected);
    assert!(
        rows.iter()
            .all(|r| r["can_refill"] == true && r["can_cancel"] == false)
    );
}

#[tokio::test]
async fn ticks_progress_orders_without_advance() {
    let sb = start(SandboxConfig {
        tick: Duration::from_millis(10),
        ..SandboxConfig::default()
    })
    .await;
    order(&sb, "auto", 101, 1500).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, body) = get(&sb, "/smm/status/98765").await;
        let status = body["data"]["order"]["status"]
            .as_str()
            .unwrap()
            .to_string();
        if status == "completed" || status == "partial" {
            break;
        }
        assert!(Instant::now() < deadline, "stuck at {status}");
        tokio::task::yield_now().await;
    }
    sb.shutdown().await;
}

#[tokio::test]
async fn cancel_refunds_active_cancelable_orders_only() {
    let sb = start(SandboxConfig::default()).await;
    let start_balance = sb.balance();
    order(&sb, "a", 101, 1500).await; // cancelable
    order(&sb, "b", 102, 100).await; // not cancelable
    let (status, body) = post(&sb, "/smm/cancel", json!({"ids": [98765, 98766, 5]})).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"success": true, "message": "Cancel request submitted", "cancelled_count": 1,
            "data": [{"order": 554433, "cancel": 1}]})
    );
    let b_cost = money::cost(100, n("612.75")).unwrap();
    assert_eq!(sb.balance(), start_balance.checked_sub(b_cost).unwrap());
    let (_, body) = post(&sb, "/smm/cancel", json!({"orderIds": "98765"})).await;
    assert_eq!(body["data"], json!([]));
    assert_eq!(body["message"], "No cancelable orders found");
    assert!(body["note"].is_string());
    let (_, list) = get(&sb, "/smm/orders?status=cancelled").await;
    assert_eq!(list["pagination"]["total"], 1);
}

#[tokio::test]
async fn bulk_status_keys_by_provider_id_and_rejects_101_ids() {
    let sb = start(SandboxConfig::default()).await;
    order(&sb, "a", 101, 1500).await;
    order(&sb, "b", 101, 2000).await;
    let (status, body) = post(&sb, "/smm/status", json!({"orderIds": [98765, 98766, 1]})).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["554433"]["status"], "Pending");
    assert_eq!(body["data"]["554434"]["remains"], "2000");
    assert_eq!(body["data"]["554434"]["currency"], "USD");
    let ids: Vec<u64> = (98_765..98_765 + 101).collect();
    let (status, body) = post(&sb, "/smm/status", json!({ "order_ids": ids })).await;
    assert_eq!(status, 400);
    assert_eq!(body["success"], false);
    assert_eq!(body["error"]["code"], "too_many_ids");
    assert_eq!(sb.bulk_status_batches(), vec![3, 101]);
    assert_eq!(sb.calls("/smm/status"), 2);
}

#[tokio::test]
async fn refills_for_finished_refill_orders() {
    let sb = start(SandboxConfig::default()).await;
    order(&sb, "a", 101, 1500).await;
    order(&sb, "b", 102, 100).await; // no refill
    let (status, body) = post(&sb, "/smm/refill", json!({"orderId": 98765})).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!("refill_not_allowed"))
    );
    advance_until_done(&sb);
    let (status, body) = post(&sb, "/smm/refill", json!({"order_id": "98765"})).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["refill"], 7821);
    let (_, body) = post(&sb, "/smm/refill", json!({"id": 98765})).await;
    assert_eq!(body["data"]["refill"], 7822);
    let (status, _) = post(&sb, "/smm/refill", json!({"orderId": 98766})).await;
    assert_eq!(status, 400);
    let (_, body) = get(&sb, "/smm/refill-status?refill=7821").await;
    assert_eq!(body["data"]["status"], "Pending");
    sb.advance();
    let (_, body) = get(&sb, "/smm/refill-status?refills=7821,7822,9999").await;
    assert_eq!(
        body["data"],
        json!({"7821": {"status": "In progress"}, "7822": {"status": "In progress"}})
    );
    let (status, _) = get(&sb, "/smm/refill-status?refill=1").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn orders_list_pages_newest_first() {
    let sb = start(SandboxConfig::default()).await;
    for i in 0..5 {
        order(
            &sb,
            &format!("p{i}"),
            if i % 2 == 0 { 101 } else { 104 },
            100,
        )
        .await;
    }
    let (_, body) = get(&sb, "/smm/orders?page=2&limit=2").await;
    let ids: Vec<u64> = body["data"]["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, vec![98767, 98766]);
    assert_eq!(
        body["pagination"],
        json!({"total": 5, "count": 2, "limit": 2, "page": 2, "pages": 3})
    );
    let (_, body) = get(&sb, "/smm/orders?service_id=104&limit=500").await;
    assert_eq!(body["pagination"]["total"], 2);
    assert_eq!(body["pagination"]["limit"], 100);
    assert_eq!(body["data"]["orders"][0]["request_id"], "p3");
    sb.set_status(98765, "In progress", 40);
    let (_, body) = get(&sb, "/smm/orders?status=processing").await;
    assert_eq!(body["data"]["orders"][0]["remains"], 40);
}

#[tokio::test]
async fn generated_catalog_of_3000_services_with_120_char_names() {
    let cfg = SandboxConfig {
        catalog: CatalogSpec::Generated {
            count: 3000,
            name_len: 120,
        },
        seed: 42,
        ..SandboxConfig::default()
    };
    let sb = start(cfg.clone()).await;
    let (status, body) = get(&sb, "/smm/services").await;
    assert_eq!(status, 200);
    assert_eq!(body["count"], 3000);
    let services = body["data"]["services"].as_array().unwrap();
    assert_eq!(services.len(), 3000);
    assert_eq!(services[0]["id"], 101);
    assert!(
        services
            .iter()
            .all(|s| s["name"].as_str().unwrap().chars().count() == 120)
    );
    assert!(
        services
            .iter()
            .any(|s| !s["name"].as_str().unwrap().is_ascii())
    );
    assert!(services.iter().all(|s| s["rate_ngn_per_1k"].is_number()));
    assert!(body["categories"].as_array().unwrap().len() >= 20);

    let again = start(cfg).await;
    let (_, body2) = get(&again, "/smm/services").await;
    assert_eq!(body, body2, "same seed, same catalog");

    let (_, filtered) = get(&sb, "/smm/services?category=TikTok%20Likes").await;
    let count = filtered["count"].as_u64().unwrap();
    assert!(count > 50);
    assert_eq!(filtered["categories"], json!(["TikTok Likes"]));
    assert_eq!(
        filtered["filters"],
        json!({"category": "TikTok Likes", "search": null})
    );
}

#[tokio::test]
async fn standard_catalog_search_is_case_insensitive() {
    let sb = start(SandboxConfig::default()).await;
    let (_, body) = get(&sb, "/smm/services").await;
    assert_eq!(
        body["data"]["services"][0]["rate_ngn_per_1k"],
        json!(1040.0)
    );
    assert_eq!(
        body["categories"],
        json!([
            "Facebook",
            "Instagram",
            "Telegram",
            "TikTok",
            "X (Twitter)",
            "YouTube"
        ])
    );
    let (_, body) = get(&sb, "/smm/services?q=FOLLOWERS").await;
    let names = body["data"]["services"].as_array().unwrap();
    assert!(names.len() >= 4);
    assert!(
        names
            .iter()
            .all(|s| s["name"].as_str().unwrap().contains("Followers"))
    );
    let (_, body) = get(&sb, "/smm/services?q=twitter").await;
    assert!(body["count"].as_u64().unwrap() >= 4);
}

#[tokio::test]
async fn bad_json_is_400_in_the_error_shape() {
    let sb = start(SandboxConfig::default()).await;
    for raw in ["{not json", "[1,2]", "\u{0}"] {
        let resp = http()
            .post(format!("{}/smm/order", sb.base_url()))
            .header("Authorization", KEY)
            .header("Content-Type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_json");
    }
    let (status, body) = post(&sb, "/smm/order", json!({"serviceId": 101})).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!("missing_field"))
    );
    let (status, body) = post(
        &sb,
        "/smm/order",
        json!({"ref": "x", "serviceId": 9, "link": "a", "qty": 1}),
    )
    .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!("invalid_service"))
    );
    let (status, _) = get(&sb, "/smm/nowhere").await;
    assert_eq!(status, 404);
    let (status, body) = get(&sb, "/smm/status/%FF%FE").await;
    assert_eq!((status, &body["error"]["code"]), (404, &json!("not_found")));
    let (status, body) = get(&sb, "/smm/order").await;
    assert_eq!((status, &body["success"]), (405, &json!(false)));
}

#[test]
fn handle_can_be_shared_across_tasks() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Sandbox>();
    assert_send_sync::<SandboxConfig>();
}

#[tokio::test]
async fn faults_play_then_clear() {
    let sb = start(SandboxConfig::default()).await;
    let url = format!("{}/smm/services", sb.base_url());
    sb.inject("/smm/services", Fault::ServerError, 1);
    sb.inject("", Fault::Garbage, 1);
    sb.inject("/smm/services", Fault::EmptyBody, 1);
    sb.inject("/smm/services", Fault::Html, 1);
    sb.inject("/smm/services", Fault::RateLimited, 1);
    let mut seen = Vec::new();
    for _ in 0..6 {
        let resp = http()
            .get(&url)
            .header("Authorization", KEY)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let retry = resp
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_string());
        let text = resp.text().await.unwrap();
        let json_ok = serde_json::from_str::<Value>(&text).is_ok();
        seen.push((status, json_ok, text.is_empty(), retry));
    }
    assert_eq!(
        seen,
        vec![
            (500, false, false, None),
            (200, false, false, None),
            (200, false, true, None),
            (502, false, false, None),
            (429, true, false, Some("1".to_string())),
            (200, true, false, None),
        ]
    );
}

#[tokio::test]
async fn delayed_order_is_placed_even_when_the_client_gives_up() {
    let sb = start(SandboxConfig::default()).await;
    sb.inject("/smm/order", Fault::Delay(Duration::from_secs(3)), 1);
    let quick = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let result = quick
        .post(format!("{}/smm/order", sb.base_url()))
        .header("Authorization", KEY)
        .json(&json!({"request_id": "slow", "serviceId": 101, "link": "x", "quantity": 1500}))
        .send()
        .await;
    assert!(result.is_err(), "the answer should come too late");
    assert_eq!((sb.order_count(), sb.debit_count()), (1, 1));
    assert_eq!(sb.balance(), n("998440"));
    let (status, body) = order(&sb, "slow", 101, 1500).await;
    assert_eq!((status, &body["order_id"]), (409, &json!(98765)));
}
