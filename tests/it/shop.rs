//! Running the shop: admin commands, wallets, margins, Stars top-ups and refunds, against the
//! sandbox panel (and teloxide_tests' or the loopback fake Bot API) over loopback.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use serde_json::json;
use serial_test::serial;
use smm_storefront::bot::callback::Cb;
use smm_storefront::bot::schema::schema;
use smm_storefront::bot::{Shop, admin, order_flow, wallet};
use smm_storefront::fake_telegram::{FAKE_TOKEN, FakeTelegram, TgFault};
use smm_storefront::money::{self, Naira};
use smm_storefront::ordering::{self, Draft, Placement, Rejection};
use smm_storefront::panel::{
    ApiKey, BulkEntry, Client, NewOrder, OrderPayload, OrderStatus, Service, ServiceKind,
};
use smm_storefront::sandbox::{Fault, SandboxConfig};
use smm_storefront::store::{LedgerKind, OrderRecord, Phase, SledDialogues, Store};
use smm_storefront::tracker::{self, Audience};
use teloxide::dispatching::dialogue::Storage;
use teloxide::prelude::*;
use teloxide::types::{MessageId, PreCheckoutQuery, Update, UpdateId, UpdateKind};
use teloxide_tests::server::Responses;
use teloxide_tests::{MockBot, MockCallbackQuery, MockMessageText, MockUser};

use crate::common::{self, Harness};

/// MockBot's user.
const ME: u64 = MockUser::ID;
/// A customer seeded directly in the store.
const CUSTOMER: u64 = 42;

fn n(s: &str) -> Naira {
    Naira::parse(s).expect("test amount")
}

/// Every wallet the store knows (plus `extra`) equals its ledger's sum and is not negative.
fn assert_ledgers(store: &Store, extra: &[u64]) {
    let mut ids: BTreeSet<u64> = store
        .all_users()
        .unwrap()
        .into_iter()
        .map(|u| u.id)
        .collect();
    ids.extend(extra);
    for u in ids {
        let balance = store.balance(u).unwrap();
        assert_eq!(store.ledger_sum(u).unwrap(), balance, "user {u}");
        assert!(!balance.is_negative(), "user {u}: {balance}");
    }
}

/// The raw (HTML) text of every message sent, and of every edit, in order.
fn texts(r: &Responses) -> Vec<String> {
    r.sent_messages_text
        .iter()
        .map(|m| m.bot_request.text.clone())
        .chain(
            r.edited_messages_text
                .iter()
                .map(|e| e.bot_request.text.clone()),
        )
        .collect()
}

fn last_text(r: &Responses) -> String {
    texts(r).pop().unwrap_or_default()
}

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

async fn seed_customer(store: &Store, id: u64, balance: &str) {
    store
        .touch_user(id, id as i64, &format!("Customer{id}"), None, Some("en"))
        .unwrap();
    if Naira::parse(balance).is_some_and(|b| b > Naira::ZERO) {
        store
            .apply_ledger(
                id,
                n(balance),
                LedgerKind::TopUp,
                &format!("seed:{id}"),
                None,
                None,
            )
            .await
            .unwrap();
    }
}

/// A standard (quantity) service and a quantity it accepts.
async fn a_service(shop: &Shop) -> (Service, u64, Naira) {
    let snap = shop.catalog.get().await.unwrap();
    let svc = snap
        .services
        .iter()
        .find(|s| s.kind == ServiceKind::Default && s.cancelable)
        .or_else(|| {
            snap.services
                .iter()
                .find(|s| s.kind == ServiceKind::Default)
        })
        .expect("a quantity service")
        .clone();
    let qty = 1000u64.clamp(svc.min, svc.max);
    let rate = snap.price_per_1k(&svc);
    (svc, qty, rate)
}

fn draft(user: u64, svc: &Service, qty: u64, rate: Naira, link: &str) -> Draft {
    Draft {
        user_id: user,
        chat_id: user as i64,
        service: svc.clone(),
        link: link.to_string(),
        quantity: qty,
        comments: None,
        unit_rate: rate,
        price: money::cost(qty, rate).unwrap(),
    }
}

/// Drops the shop and store and opens them again on the same folder (a restart).
async fn restart(h: Harness, extra: &[(&str, &str)]) -> Harness {
    let Harness {
        sandbox,
        shop,
        storage,
        store,
        dir,
    } = h;
    drop(storage);
    drop(shop);
    drop(store);
    // sled lets go of its file lock a moment after the last handle drops.
    let deadline = Instant::now() + Duration::from_secs(10);
    let store = loop {
        match Store::open(dir.path()) {
            Ok(s) => break s,
            Err(e) if Instant::now() < deadline => {
                log::debug!("store not free yet: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => panic!("reopen failed: {e}"),
        }
    };
    let cfg = Arc::new(common::config(dir.path(), extra));
    let client = Client::with_options(
        &sandbox.base_url(),
        ApiKey::new("test-key"),
        common::fast_client_options(),
    )
    .unwrap();
    let shop = Arc::new(Shop::new(cfg, store.clone(), client));
    let storage = SledDialogues::new(&store).erase();
    Harness {
        sandbox,
        shop,
        storage,
        store,
        dir,
    }
}

fn fake_bot(fake: &FakeTelegram) -> Bot {
    Bot::new(FAKE_TOKEN).set_api_url(reqwest::Url::parse(&fake.api_url()).unwrap())
}

// ---------------------------------------------------------------------------------------------
// Admin commands are invisible to customers
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn admin_commands_from_a_customer_get_only_the_ordinary_help() {
    let extra = [("ADMIN_IDS", "999"), ("SANDBOX_CREDIT", "0")];
    let h = Harness::with(SandboxConfig::default(), &extra).await;
    seed_customer(&h.store, CUSTOMER, "5000").await;
    h.store
        .meta_set("provider_balance", &(n("777777"), 1_700_000_000_i64))
        .await
        .unwrap();

    let mut bot = MockBot::new(MockMessageText::new().text("/help"), schema());
    bot.dependencies(h.deps());
    bot.dispatch().await;
    let help = bot.get_responses();
    assert_eq!(help.sent_messages_text.len(), 1);
    let help_text = help.sent_messages_text[0].bot_request.text.clone();
    let help_buttons = buttons(&help);

    let commands = [
        "/balance",
        "/orders",
        "/orders partial 101",
        "/stats",
        "/credit 42 500 gift",
        "/credit 12345678 500",
        "/debit 42 500",
        "/broadcast Hello everyone",
        "/refundstars 42 charge_1",
        "/refundstars",
    ];
    for cmd in commands {
        bot.update(MockMessageText::new().text(cmd));
        bot.dispatch().await;
        let r = bot.get_responses();
        assert_eq!(r.sent_messages.len(), 1, "{cmd}: {:?}", texts(&r));
        assert_eq!(r.sent_messages_text[0].bot_request.text, help_text, "{cmd}");
        assert_eq!(buttons(&r), help_buttons, "{cmd}");
        assert!(r.edited_messages_text.is_empty(), "{cmd}");
        assert!(r.sent_messages_invoice.is_empty(), "{cmd}");
        let shown = &r.sent_messages_text[0].bot_request.text;
        for secret in ["777", "5,000", "IA-Café", "Usage", "admin", "Admin"] {
            assert!(!shown.contains(secret), "{cmd} revealed {secret:?}");
        }
    }
    // A forged admin paging button learns nothing either.
    bot.update(
        MockCallbackQuery::new().data(
            Cb::AdminOrders {
                page: 1,
                status: String::new(),
                service: 0,
            }
            .encode(),
        ),
    );
    bot.dispatch().await;
    let r = bot.get_responses();
    assert!(last_text(&r).contains("expired"), "{:?}", texts(&r));

    assert_eq!(h.sandbox.calls("/whoami"), 0);
    assert_eq!(h.sandbox.calls("/smm/orders"), 0);
    assert_eq!(h.store.balance(CUSTOMER).unwrap(), n("5000"));
    assert_eq!(h.store.balance(ME).unwrap(), Naira::ZERO);
    assert_eq!(h.store.outbox_len(), 0);
    assert_ledgers(&h.store, &[CUSTOMER, ME]);
}

// ---------------------------------------------------------------------------------------------
// /balance, /orders, /stats
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn balance_shows_the_panel_what_is_owed_and_warns_when_short() {
    let extra = [("ADMIN_IDS", "12345678"), ("SANDBOX_CREDIT", "0")];
    let h = Harness::with(SandboxConfig::default(), &extra).await;
    seed_customer(&h.store, CUSTOMER, "1500000").await;
    seed_customer(&h.store, 43, "250.50").await;

    let mut bot = MockBot::new(MockMessageText::new().text("/balance"), schema());
    bot.dependencies(h.deps());
    bot.dispatch().await;
    let text = last_text(&bot.get_responses());
    assert!(text.contains("₦1,000,000.00"), "{text}");
    assert!(text.contains("₦1,500,250.50"), "{text}");
    assert!(
        text.contains("⚠️") && text.contains("₦500,250.50"),
        "{text}"
    );
    assert_eq!(h.sandbox.calls("/whoami"), 1);

    h.sandbox.set_balance(n("2000000"));
    bot.update(MockMessageText::new().text("/balance"));
    bot.dispatch().await;
    let text = last_text(&bot.get_responses());
    assert!(
        text.contains("₦2,000,000.00") && !text.contains("⚠️"),
        "{text}"
    );

    // IA-Café not answering: the balance the last order reported, with its time.
    h.sandbox.inject("/whoami", Fault::ServerError, 10);
    bot.update(MockMessageText::new().text("/balance"));
    bot.dispatch().await;
    let text = last_text(&bot.get_responses());
    assert!(text.contains("unknown"), "{text}");
    h.store
        .meta_set("provider_balance", &(n("1234.56"), 1_700_000_000_i64))
        .await
        .unwrap();
    bot.update(MockMessageText::new().text("/balance"));
    bot.dispatch().await;
    let text = last_text(&bot.get_responses());
    assert!(
        text.contains("₦1,234.56") && text.contains("2023-11-14") && text.contains("⚠️"),
        "{text}"
    );
    assert_ledgers(&h.store, &[CUSTOMER, 43]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn orders_page_through_the_panel_with_prev_and_next() {
    let extra = [("ADMIN_IDS", "12345678"), ("SANDBOX_CREDIT", "0")];
    let h = Harness::with(SandboxConfig::default(), &extra).await;
    let (svc, qty, _) = a_service(&h.shop).await;
    for i in 0..25 {
        h.shop
            .panel
            .place_order(&NewOrder {
                request_id: format!("admin-list-{i}"),
                service_id: svc.id,
                link: format!("https://instagram.com/page{i}"),
                payload: OrderPayload::Quantity(qty),
            })
            .await
            .unwrap();
    }

    let mut bot = MockBot::new(MockMessageText::new().text("/orders"), schema());
    bot.dependencies(h.deps());
    bot.dispatch().await;
    let r = bot.get_responses();
    let text = last_text(&r);
    assert!(
        text.contains("page 1/3") && text.contains("25 in all"),
        "{text}"
    );
    assert!(text.chars().count() <= 4096);
    assert_eq!(text.matches("https://instagram.com/page").count(), 10);
    let next = Cb::AdminOrders {
        page: 2,
        status: String::new(),
        service: 0,
    }
    .encode();
    assert!(
        buttons(&r).iter().any(|(_, d)| *d == next),
        "{:?}",
        buttons(&r)
    );

    bot.update(MockCallbackQuery::new().data(next));
    bot.dispatch().await;
    let r = bot.get_responses();
    let text = last_text(&r);
    assert!(text.contains("page 2/3"), "{text}");
    let datas: Vec<String> = buttons(&r).into_iter().map(|(_, d)| d).collect();
    assert!(datas.contains(&"ao:1::0".to_string()) && datas.contains(&"ao:3::0".to_string()));

    // Filters: by service, and a status word.
    bot.update(MockMessageText::new().text(format!("/orders {}", svc.id)));
    bot.dispatch().await;
    let text = last_text(&bot.get_responses());
    assert!(text.contains(&format!("service {}", svc.id)), "{text}");
    bot.update(MockMessageText::new().text("/orders Completed"));
    bot.dispatch().await;
    let text = last_text(&bot.get_responses());
    assert!(text.contains("· completed"), "{text}");

    for bad in ["/orders finished", "/orders 1 2", "/orders pending failed"] {
        bot.update(MockMessageText::new().text(bad));
        bot.dispatch().await;
        let text = last_text(&bot.get_responses());
        assert!(
            text.contains("Usage: /orders") && text.contains("partial"),
            "{bad}: {text}"
        );
    }
    assert_ledgers(&h.store, &[]);
}

fn seeded(user: u64, price: &str, created_at: i64) -> OrderRecord {
    OrderRecord {
        id: 0,
        user_id: user,
        chat_id: user as i64,
        request_id: format!("seed-{user}-{price}-{created_at}"),
        service_id: 101,
        service_name: "Instagram Followers".into(),
        category: "Instagram".into(),
        link: "https://instagram.com/x".into(),
        quantity: 1000,
        comments: None,
        price: n(price),
        unit_rate: n(price),
        api_cost: None,
        phase: Phase::Submitting,
        api_order_id: None,
        provider_order_id: None,
        status: OrderStatus::Pending,
        remains: None,
        can_refill: false,
        can_cancel: true,
        refills: Vec::new(),
        wallet_debited: false,
        created_at,
        updated_at: created_at,
    }
}

/// Stores an order as placed with IA-Café (cost, status) and applies `refund`.
#[allow(clippy::too_many_arguments)]
async fn seed_order(
    store: &Store,
    api_id: u64,
    price: &str,
    cost: &str,
    age_secs: i64,
    status: OrderStatus,
    remains: Option<u64>,
    refund: Option<&str>,
) {
    let now = chrono::Utc::now().timestamp();
    let rec = seeded(CUSTOMER, price, now - age_secs);
    let (rec, _) = store
        .create_pending_order(&format!("tok{api_id}"), rec, Some(n(price)))
        .await
        .unwrap();
    let cost = n(cost);
    store
        .update_order(rec.id, move |r| {
            r.phase = Phase::Placed;
            r.api_order_id = Some(api_id);
            r.api_cost = Some(cost);
            r.status = status.clone();
            r.remains = remains;
        })
        .await
        .unwrap();
    if let Some(amount) = refund {
        store
            .refund_order_once(rec.id, n(amount), "seed")
            .await
            .unwrap()
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn stats_match_seeded_orders() {
    let extra = [("ADMIN_IDS", "12345678"), ("SANDBOX_CREDIT", "0")];
    let h = Harness::with(SandboxConfig::default(), &extra).await;
    seed_customer(&h.store, CUSTOMER, "100000").await;
    let day = 86_400;
    // Today: completed, and a partial half refunded (IA-Café keeps half its cost).
    seed_order(
        &h.store,
        1,
        "1000",
        "800",
        0,
        OrderStatus::Completed,
        None,
        None,
    )
    .await;
    let partial = OrderStatus::Partial;
    seed_order(
        &h.store,
        2,
        "500",
        "400",
        0,
        partial,
        Some(500),
        Some("250"),
    )
    .await;
    // Three days ago: cancelled and fully refunded.
    let cancelled = OrderStatus::Cancelled;
    let (c, p) = (cancelled, 3 * day);
    seed_order(&h.store, 3, "2000", "1500", p, c, None, Some("2000")).await;
    // Twenty days ago: still running.
    let running = OrderStatus::InProgress;
    seed_order(&h.store, 4, "300", "200", 20 * day, running, None, None).await;
    // Forty days ago: outside every period.
    let old = OrderStatus::Completed;
    seed_order(&h.store, 5, "9999", "1", 40 * day, old, None, None).await;
    // Never placed: not counted.
    let now = chrono::Utc::now().timestamp();
    let (rejected, _) = h
        .store
        .create_pending_order("rejected", seeded(CUSTOMER, "700", now), Some(n("700")))
        .await
        .unwrap();
    h.store
        .update_order(rejected.id, |r| r.phase = Phase::Rejected)
        .await
        .unwrap();
    h.store
        .refund_order_once(rejected.id, n("700"), "not_placed")
        .await
        .unwrap();

    let [today, week, month] = admin::stats(&h.shop, now).unwrap();
    assert_eq!(
        (today.orders, today.revenue, today.cost, today.margin()),
        (2, n("1250"), n("1000"), n("250"))
    );
    assert_eq!(
        (week.orders, week.revenue, week.cost, week.margin()),
        (3, n("1250"), n("1000"), n("250"))
    );
    assert_eq!(
        (month.orders, month.revenue, month.cost, month.margin()),
        (4, n("1550"), n("1200"), n("350"))
    );

    let mut bot = MockBot::new(MockMessageText::new().text("/stats"), schema());
    bot.dependencies(h.deps());
    bot.dispatch().await;
    let text = last_text(&bot.get_responses());
    assert!(
        text.contains(
            "Today</b>: 2 orders · revenue ₦1,250.00 · cost ₦1,000.00 · margin <b>₦250.00"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "30 days</b>: 4 orders · revenue ₦1,550.00 · cost ₦1,200.00 · margin <b>₦350.00"
        ),
        "{text}"
    );
    assert_ledgers(&h.store, &[CUSTOMER]);
}

// ---------------------------------------------------------------------------------------------
// /credit, /debit
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn credit_and_debit_apply_once_refuse_overdraft_and_notify() {
    let extra = [("ADMIN_IDS", "12345678"), ("SANDBOX_CREDIT", "0")];
    let h = Harness::with(SandboxConfig::default(), &extra).await;
    seed_customer(&h.store, CUSTOMER, "0").await;

    let credit = MockMessageText::new()
        .text("/credit 42 1,500 goodwill <3")
        .id(7001);
    let mut bot = MockBot::new(credit.clone(), schema());
    bot.dependencies(h.deps());
    bot.dispatch().await;
    let text = last_text(&bot.get_responses());
    assert!(text.contains("Credited ₦1,500.00"), "{text}");
    assert_eq!(h.store.balance(CUSTOMER).unwrap(), n("1500"));
    let entry = h.store.ledger(CUSTOMER, 1).unwrap().remove(0);
    assert_eq!(entry.kind, LedgerKind::Adjustment);
    assert_eq!(entry.by, Some(ME));
    assert_eq!(entry.reason.as_deref(), Some("goodwill <3"));
    assert_eq!(entry.reference, format!("adj:{ME}:7001"));
    let outbox = h.store.pending_outbox(10).unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].chat_id, CUSTOMER as i64);
    assert!(outbox[0].text.contains("₦1,500.00") && outbox[0].text.contains("goodwill &lt;3"));

    // The same update delivered again: nothing moves, nobody is told twice.
    bot.update(credit);
    bot.dispatch().await;
    let text = last_text(&bot.get_responses());
    assert!(text.contains("already applied"), "{text}");
    assert_eq!(h.store.balance(CUSTOMER).unwrap(), n("1500"));
    assert_eq!(h.store.outbox_len(), 1);

    // Overdraft refused.
    bot.update(MockMessageText::new().text("/debit 42 1500.01").id(7002));
    bot.dispatch().await;
    let text = last_text(&bot.get_responses());
    assert!(
        text.contains("Not debited") && text.contains("₦1,500.00"),
        "{text}"
    );
    assert_eq!(h.store.balance(CUSTOMER).unwrap(), n("1500"));
    assert_eq!(h.store.outbox_len(), 1);

    let debit = MockMessageText::new().text("/debit 42 500.50").id(7003);
    bot.update(debit.clone());
    bot.dispatch().await;
    assert!(last_text(&bot.get_responses()).contains("Debited ₦500.50"));
    bot.update(debit);
    bot.dispatch().await;
    assert_eq!(h.store.balance(CUSTOMER).unwrap(), n("999.50"));
    let outbox = h.store.pending_outbox(10).unwrap();
    assert_eq!(outbox.len(), 2);
    assert!(
        outbox[1].text.contains("took <b>₦500.50</b>"),
        "{}",
        outbox[1].text
    );

    // Polite refusals; nothing changes.
    let cases = [
        ("/credit", "Usage: /credit"),
        ("/credit 42", "Usage: /credit"),
        ("/credit 42 0", "not a valid amount"),
        ("/credit 42 -5", "not a valid amount"),
        ("/credit 42 1.005", "not a valid amount"),
        ("/credit 42 lots", "not a valid amount"),
        ("/debit abc 5", "not a Telegram user id"),
        ("/credit 777 5", "No customer with id"),
    ];
    for (i, (cmd, expect)) in cases.iter().enumerate() {
        bot.update(MockMessageText::new().text(*cmd).id(7100 + i as i32));
        bot.dispatch().await;
        let text = last_text(&bot.get_responses());
        assert!(text.contains(expect), "{cmd}: {text}");
    }
    assert_eq!(h.store.balance(CUSTOMER).unwrap(), n("999.50"));
    assert_eq!(h.store.ledger(CUSTOMER, 10).unwrap().len(), 2);
    assert_ledgers(&h.store, &[CUSTOMER, 777]);
}

// ---------------------------------------------------------------------------------------------
// Wallets under concurrency, and refunds
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_orders_never_overdraw_the_wallet() {
    let h = Harness::with(SandboxConfig::default(), &[("SANDBOX_CREDIT", "0")]).await;
    let (svc, qty, rate) = a_service(&h.shop).await;
    let price = money::cost(qty, rate).unwrap();
    // Enough for seven orders and a half.
    let start = Naira(price.0 * Decimal::from(15) / Decimal::from(2)).round_kobo();
    seed_customer(&h.store, CUSTOMER, &start.0.to_string()).await;

    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50 {
        let shop = h.shop.clone();
        let d = draft(
            CUSTOMER,
            &svc,
            qty,
            rate,
            &format!("https://instagram.com/c{i}"),
        );
        tasks.spawn(
            async move { ordering::confirm(&shop, &format!("concurrent{i:02}xx"), d).await },
        );
    }
    let (mut placed, mut short) = (0usize, 0usize);
    while let Some(res) = tasks.join_next().await {
        match res.unwrap().unwrap() {
            Placement::Placed(_) => placed += 1,
            Placement::InsufficientFunds { .. } => short += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(placed + short, 50);
    assert!(Naira(price.0 * Decimal::from(placed as u64)) <= start);
    assert_eq!(placed, 7);
    let balance = h.store.balance(CUSTOMER).unwrap();
    assert_eq!(
        balance,
        start
            .checked_sub(Naira(price.0 * Decimal::from(placed as u64)))
            .unwrap()
    );
    assert_eq!(h.sandbox.order_count(), placed);
    assert_ledgers(&h.store, &[CUSTOMER]);
}

/// The refund entries of an order.
fn refunds_of(store: &Store, user: u64, order_id: u64) -> Vec<Naira> {
    store
        .ledger(user, 1000)
        .unwrap()
        .into_iter()
        .filter(|e| {
            e.kind == LedgerKind::Refund && e.reference.starts_with(&format!("refund:{order_id}:"))
        })
        .map(|e| e.amount)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certain_failures_refund_once_even_after_a_restart() {
    let extra = [("SANDBOX_CREDIT", "0")];
    let h = Harness::with(SandboxConfig::default(), &extra).await;
    let (svc, qty, rate) = a_service(&h.shop).await;
    seed_customer(&h.store, CUSTOMER, "1000000").await;
    let start = h.store.balance(CUSTOMER).unwrap();

    // The provider refunds at placement.
    h.sandbox.inject("/smm/order", Fault::ProviderRefund, 1);
    let d = draft(CUSTOMER, &svc, qty, rate, "https://instagram.com/refunded");
    let Placement::Rejected {
        rec: refunded,
        reason,
    } = ordering::confirm(&h.shop, "providerrefund1", d.clone())
        .await
        .unwrap()
    else {
        panic!("not rejected");
    };
    assert_eq!(reason, Rejection::ProviderRefunded);
    // IA-Café cannot pay.
    h.sandbox.set_balance(Naira::ZERO);
    let d2 = draft(CUSTOMER, &svc, qty, rate, "https://instagram.com/short");
    let Placement::Rejected { rec: short, reason } =
        ordering::confirm(&h.shop, "shopbalancelow1", d2.clone())
            .await
            .unwrap()
    else {
        panic!("not rejected");
    };
    assert_eq!(reason, Rejection::ShopBalanceLow);
    assert_eq!(h.store.balance(CUSTOMER).unwrap(), start);

    // Confirmed again (double tap), polled twice, restarted, polled again: still once.
    for _ in 0..2 {
        let again = ordering::confirm(&h.shop, "providerrefund1", d.clone())
            .await
            .unwrap();
        assert!(matches!(again, Placement::Rejected { .. }));
        tracker::poll_cycle(&h.shop).await;
    }
    let h = restart(h, &extra).await;
    tracker::poll_cycle(&h.shop).await;
    let again = ordering::confirm(&h.shop, "shopbalancelow1", d2)
        .await
        .unwrap();
    assert!(matches!(again, Placement::Rejected { .. }));
    for rec in [&refunded, &short] {
        assert_eq!(refunds_of(&h.store, CUSTOMER, rec.id), vec![rec.price]);
    }
    assert_eq!(h.store.balance(CUSTOMER).unwrap(), start);
    assert_eq!(h.sandbox.debit_count(), 0);
    assert_ledgers(&h.store, &[CUSTOMER]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_and_partial_refund_once_when_seen_twice_and_after_a_restart() {
    let extra = [("SANDBOX_CREDIT", "0")];
    let h = Harness::with(SandboxConfig::default(), &extra).await;
    let (svc, qty, rate) = a_service(&h.shop).await;
    seed_customer(&h.store, CUSTOMER, "1000000").await;
    let start = h.store.balance(CUSTOMER).unwrap();

    let mut placed = Vec::new();
    for (i, token) in ["cancelme0001", "partial00001", "failme000001"]
        .iter()
        .enumerate()
    {
        let d = draft(
            CUSTOMER,
            &svc,
            qty,
            rate,
            &format!("https://instagram.com/r{i}"),
        );
        let Placement::Placed(rec) = ordering::confirm(&h.shop, token, d).await.unwrap() else {
            panic!("not placed");
        };
        placed.push(rec);
    }
    let (cancel, partial, failed) = (&placed[0], &placed[1], &placed[2]);
    let remains = qty / 4;
    h.sandbox
        .set_status(cancel.api_order_id.unwrap(), "Canceled", qty);
    h.sandbox
        .set_status(partial.api_order_id.unwrap(), "Partial", remains);
    h.sandbox
        .set_status(failed.api_order_id.unwrap(), "Fail", qty);
    let report = tracker::poll_cycle(&h.shop).await;
    assert_eq!(report.changed, 3, "{report:?}");
    let partial_refund = money::cost(remains, partial.unit_rate).unwrap();
    let expect = |h: &Harness| {
        assert_eq!(
            refunds_of(&h.store, CUSTOMER, cancel.id),
            vec![cancel.price]
        );
        assert_eq!(
            refunds_of(&h.store, CUSTOMER, partial.id),
            vec![partial_refund]
        );
        assert_eq!(
            refunds_of(&h.store, CUSTOMER, failed.id),
            vec![failed.price]
        );
        let spent = Naira(partial.price.0 - partial_refund.0);
        assert_eq!(
            h.store.balance(CUSTOMER).unwrap(),
            start.checked_sub(spent).unwrap()
        );
    };
    expect(&h);

    // Seen twice by the poller, and replayed from the stale record (a crash between the
    // refund and the status write).
    tracker::poll_cycle(&h.shop).await;
    for (rec, status, left) in [
        (cancel, OrderStatus::Cancelled, qty),
        (partial, OrderStatus::Partial, remains),
        (failed, OrderStatus::Failed, qty),
    ] {
        let entry = BulkEntry {
            status,
            remains: Some(left),
            charge: None,
            currency: None,
        };
        let mut stale = rec.clone();
        stale.status = OrderStatus::Pending;
        tracker::apply_status(
            &h.shop,
            &stale,
            &entry.status,
            entry.remains,
            Audience::Customer,
        )
        .await
        .unwrap();
    }
    expect(&h);

    let h = restart(h, &extra).await;
    tracker::poll_cycle(&h.shop).await;
    let entry = BulkEntry {
        status: OrderStatus::Partial,
        remains: Some(remains),
        charge: None,
        currency: None,
    };
    let mut stale = partial.clone();
    stale.status = OrderStatus::InProgress;
    tracker::apply_status(
        &h.shop,
        &stale,
        &entry.status,
        entry.remains,
        Audience::Customer,
    )
    .await
    .unwrap();
    expect(&h);
    assert_ledgers(&h.store, &[CUSTOMER]);
}

// ---------------------------------------------------------------------------------------------
// Prices with margin, private shop
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn confirmation_shows_marked_up_price_and_wallet_before_and_after() {
    let extra = [("MARKUP_PERCENT", "15"), ("SANDBOX_CREDIT", "50000")];
    let h = Harness::with(SandboxConfig::default(), &extra).await;
    let mut bot = MockBot::new(MockMessageText::new().text("/order"), schema());
    bot.dependencies(h.deps());
    bot.dispatch().await;
    let (_, insta) = buttons(&bot.get_responses())
        .into_iter()
        .find(|(t, _)| t.contains("Instagram"))
        .expect("Instagram");
    bot.update(MockCallbackQuery::new().data(insta));
    bot.dispatch().await;
    let (_, svc_data) = buttons(&bot.get_responses())
        .into_iter()
        .find(|(_, d)| d.starts_with("s:"))
        .expect("a service");
    let Some(Cb::Service { id }) = Cb::decode(&svc_data) else {
        panic!("{svc_data}");
    };
    let snap = h.shop.catalog.get().await.unwrap();
    let svc = snap.service(id).unwrap().clone();
    bot.update(MockCallbackQuery::new().data(svc_data));
    bot.dispatch().await;
    bot.update(MockMessageText::new().text("https://instagram.com/yourpage"));
    bot.dispatch().await;
    let qty = 1000u64.clamp(svc.min, svc.max);
    bot.update(MockMessageText::new().text(qty.to_string()));
    bot.dispatch().await;
    let r = bot.get_responses();
    let text = last_text(&r);

    let rate = Naira(svc.rate_per_1k.0 * Decimal::new(115, 2));
    let total = money::cost(qty, rate).unwrap();
    assert_eq!(snap.price_per_1k(&svc).round_kobo(), rate.round_kobo());
    assert!(text.contains(&format!("Price per 1,000: {rate}")), "{text}");
    assert!(text.contains(&format!("Total: {total}")), "{text}");
    let after = n("50000").checked_sub(total).unwrap();
    assert!(
        text.contains(&format!("Wallet: ₦50,000.00 → {after}")),
        "{text}"
    );
    let (_, ok) = buttons(&r)
        .into_iter()
        .find(|(t, _)| t.contains("Confirm"))
        .expect("Confirm");
    bot.update(MockCallbackQuery::new().data(ok));
    bot.dispatch().await;
    assert_eq!(h.store.balance(ME).unwrap(), after);
    let charge = h.store.ledger(ME, 1).unwrap().remove(0);
    assert_eq!(
        (charge.kind, charge.amount),
        (LedgerKind::Charge, Naira(-total.0))
    );
    assert_ledgers(&h.store, &[ME]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn private_shop_lets_only_allowed_users_and_admins_order_without_wallets() {
    let extra = [
        ("WALLETS", "off"),
        ("ALLOWED_USER_IDS", "42"),
        ("ADMIN_IDS", "7"),
        ("STARS_NGN_RATE", "25"),
    ];
    let h = Harness::with(SandboxConfig::default(), &extra).await;
    assert!(order_flow::may_order(&h.shop, 42));
    assert!(order_flow::may_order(&h.shop, 7));
    assert!(!order_flow::may_order(&h.shop, ME));

    let mut bot = MockBot::new(MockMessageText::new().text("/order"), schema());
    bot.dependencies(h.deps());
    bot.dispatch().await;
    let text = last_text(&bot.get_responses());
    assert!(text.contains("this shop is private"), "{text}");

    bot.update(MockMessageText::new().text("/help"));
    bot.dispatch().await;
    let r = bot.get_responses();
    let help = last_text(&r);
    assert!(!help.contains("/wallet"), "{help}");
    assert!(
        !buttons(&r)
            .iter()
            .any(|(_, d)| *d == Cb::MenuWallet.encode())
    );
    for cmd in ["/wallet", "/topup"] {
        bot.update(MockMessageText::new().text(cmd));
        bot.dispatch().await;
        let r = bot.get_responses();
        assert_eq!(last_text(&r), help, "{cmd}");
        assert!(r.sent_messages_invoice.is_empty());
    }
    bot.update(MockCallbackQuery::new().data(Cb::TopUp { stars: 100 }.encode()));
    bot.dispatch().await;
    assert!(bot.get_responses().sent_messages_invoice.is_empty());

    // An allowed customer's order is paid by the shop's IA-Café wallet, not a customer wallet.
    let (svc, qty, rate) = a_service(&h.shop).await;
    let before = h.sandbox.balance();
    let d = draft(42, &svc, qty, rate, "https://instagram.com/private");
    let Placement::Placed(rec) = ordering::confirm(&h.shop, "privateorder1", d)
        .await
        .unwrap()
    else {
        panic!("not placed");
    };
    assert!(!rec.wallet_debited);
    assert!(h.sandbox.balance() < before);
    assert!(h.store.ledger(42, 10).unwrap().is_empty());
    assert_ledgers(&h.store, &[42, 7, ME]);
}

// ---------------------------------------------------------------------------------------------
// Wallet view and Stars
// ---------------------------------------------------------------------------------------------

fn payment_update(user: u64, stars: u32, charge: &str, payload: &str) -> Update {
    let message = json!({
        "message_id": 9000,
        "date": chrono::Utc::now().timestamp(),
        "chat": {"id": user, "type": "private", "first_name": "First"},
        "from": {"id": user, "is_bot": false, "first_name": "First", "language_code": "en"},
        "successful_payment": {
            "currency": "XTR",
            "total_amount": stars,
            "invoice_payload": payload,
            "telegram_payment_charge_id": charge,
            "provider_payment_charge_id": "",
        }
    });
    Update {
        id: UpdateId(1),
        kind: UpdateKind::Message(serde_json::from_value(message).expect("payment message")),
    }
}

fn pre_checkout_query(user: u64, stars: u32, currency: &str, payload: &str) -> PreCheckoutQuery {
    serde_json::from_value(json!({
        "id": format!("pcq-{user}-{stars}-{currency}"),
        "from": {"id": user, "is_bot": false, "first_name": "First", "language_code": "en"},
        "currency": currency,
        "total_amount": stars,
        "invoice_payload": payload,
    }))
    .expect("pre-checkout query")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn topup_offers_presets_sends_a_stars_invoice_and_wallet_lists_history() {
    let extra = [("STARS_NGN_RATE", "25"), ("SANDBOX_CREDIT", "0")];
    let h = Harness::with(SandboxConfig::default(), &extra).await;
    let mut bot = MockBot::new(MockMessageText::new().text("/topup"), schema());
    bot.dependencies(h.deps());
    bot.dispatch().await;
    let r = bot.get_responses();
    let offers = buttons(&r);
    let datas: Vec<&str> = offers.iter().map(|(_, d)| d.as_str()).collect();
    assert_eq!(datas, ["tu:50", "tu:100", "tu:250", "tu:500", "tu:1000"]);
    assert!(
        offers[1].0.contains("100") && offers[1].0.contains("₦2,500.00"),
        "{offers:?}"
    );

    bot.update(MockCallbackQuery::new().data("tu:100"));
    bot.dispatch().await;
    let r = bot.get_responses();
    assert_eq!(r.sent_messages_invoice.len(), 1, "{:?}", texts(&r));
    let inv = &r.sent_messages_invoice[0].bot_request;
    assert_eq!(inv.currency, "XTR");
    assert_eq!(inv.provider_token.as_deref().unwrap_or(""), "");
    assert_eq!(inv.prices.iter().map(|p| p.amount).sum::<u32>(), 100);
    let payload = wallet::TopUpPayload::parse(&inv.payload).expect("our payload");
    assert_eq!((payload.user_id, payload.stars), (ME, 100));
    assert!(inv.payload.len() <= 128);

    // A preset that is not offered is a forged button.
    bot.update(MockCallbackQuery::new().data("tu:7"));
    bot.dispatch().await;
    assert!(bot.get_responses().sent_messages_invoice.is_empty());

    // Pay it (twice delivered), then look at the wallet.
    for _ in 0..2 {
        bot.update(payment_update(ME, 100, "charge-abc", &inv.payload));
        bot.dispatch().await;
        let text = last_text(&bot.get_responses());
        assert!(
            text.contains("₦2,500.00") && text.contains("Balance"),
            "{text}"
        );
    }
    bot.update(MockMessageText::new().text("/wallet"));
    bot.dispatch().await;
    let text = last_text(&bot.get_responses());
    assert!(text.contains("Balance: <b>₦2,500.00</b>"), "{text}");
    assert!(text.contains("+₦2,500.00 · top-up"), "{text}");
    assert_eq!(text.matches("top-up ·").count(), 1, "{text}");

    // (One MockBot at a time: teloxide_tests holds a global lock while one lives.)
    bot.update(MockCallbackQuery::new().data("m:w"));
    bot.dispatch().await;
    assert!(last_text(&bot.get_responses()).contains("₦2,500.00"));
    assert_eq!(h.store.balance(ME).unwrap(), n("2500"));
    assert_ledgers(&h.store, &[ME]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn topup_without_a_rate_says_it_is_unavailable() {
    let h = Harness::with(SandboxConfig::default(), &[("SANDBOX_CREDIT", "0")]).await;
    let mut bot = MockBot::new(MockMessageText::new().text("/topup"), schema());
    bot.dependencies(h.deps());
    bot.dispatch().await;
    let r = bot.get_responses();
    assert!(last_text(&r).contains("not available"), "{}", last_text(&r));
    assert!(buttons(&r).is_empty());
    bot.update(MockCallbackQuery::new().data("tu:100"));
    bot.dispatch().await;
    assert!(bot.get_responses().sent_messages_invoice.is_empty());
    assert_ledgers(&h.store, &[ME]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pre_checkout_accepts_our_invoice_and_declines_forgeries() {
    let extra = [("STARS_NGN_RATE", "25"), ("SANDBOX_CREDIT", "0")];
    let h = Harness::with(SandboxConfig::default(), &extra).await;
    let fake = FakeTelegram::start().await.unwrap();
    let bot = fake_bot(&fake);
    let good = wallet::TopUpPayload::new(CUSTOMER, 250).encode();
    let other = wallet::TopUpPayload::new(43, 250).encode();
    let cases = [
        (pre_checkout_query(CUSTOMER, 250, "XTR", &good), true),
        (pre_checkout_query(CUSTOMER, 250, "XTR", &other), false),
        (pre_checkout_query(CUSTOMER, 1, "XTR", &good), false),
        (pre_checkout_query(CUSTOMER, 250, "USD", &good), false),
        (
            pre_checkout_query(CUSTOMER, 250, "XTR", "topup:42:250"),
            false,
        ),
        (
            pre_checkout_query(CUSTOMER, 250, "XTR", "give me money"),
            false,
        ),
    ];
    for (i, (q, expect)) in cases.into_iter().enumerate() {
        wallet::pre_checkout(bot.clone(), h.shop.clone(), q)
            .await
            .unwrap();
        let calls = fake.calls();
        assert_eq!(calls.len(), i + 1);
        let answer = &calls[i];
        assert_eq!(answer.method, "answerprecheckoutquery");
        assert_eq!(answer.body["ok"], json!(expect), "case {i}");
        if !expect {
            assert!(
                answer.body["error_message"]
                    .as_str()
                    .is_some_and(|m| m.contains("cannot be accepted")),
                "case {i}: {}",
                answer.body
            );
        }
    }
    // With Stars top-ups switched off, even a well-formed payment is declined.
    let h2 = Harness::with(SandboxConfig::default(), &[("SANDBOX_CREDIT", "0")]).await;
    let q = pre_checkout_query(CUSTOMER, 250, "XTR", &good);
    wallet::pre_checkout(bot.clone(), h2.shop.clone(), q)
        .await
        .unwrap();
    assert_eq!(fake.calls().last().unwrap().body["ok"], json!(false));
    assert_eq!(h.store.ledger(CUSTOMER, 10).unwrap(), vec![]);
    assert_ledgers(&h.store, &[CUSTOMER]);
    assert_ledgers(&h2.store, &[CUSTOMER]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stars_refund_debits_the_top_up_once() {
    let extra = [("STARS_NGN_RATE", "25"), ("SANDBOX_CREDIT", "0")];
    let h = Harness::with(SandboxConfig::default(), &extra).await;
    let fake = FakeTelegram::start().await.unwrap();
    let bot = fake_bot(&fake);
    seed_customer(&h.store, CUSTOMER, "0").await;
    let payload = wallet::TopUpPayload::new(CUSTOMER, 100).encode();
    let UpdateKind::Message(msg) = payment_update(CUSTOMER, 100, "ch-1", &payload).kind else {
        unreachable!()
    };
    let payment = msg.successful_payment().unwrap().clone();
    for _ in 0..2 {
        let credit = wallet::credit_payment(&h.shop, CUSTOMER, &payment)
            .await
            .unwrap();
        assert!(matches!(
            credit,
            wallet::Credit::Credited(_) | wallet::Credit::AlreadyCredited(_)
        ));
    }
    assert_eq!(h.store.balance(CUSTOMER).unwrap(), n("2500"));

    // Unknown charge, or someone else's: refused without asking Telegram.
    for args in ["42 ch-unknown", "43 ch-1", "42", "abc ch-1"] {
        let text = admin::refund_stars(&bot, &h.shop, 7, args).await;
        assert!(!text.contains("✅"), "{args}: {text}");
    }
    assert!(fake.calls().is_empty());

    // Spent money cannot be taken back.
    h.store
        .apply_ledger(
            CUSTOMER,
            n("-2000"),
            LedgerKind::Adjustment,
            "spend",
            None,
            None,
        )
        .await
        .unwrap();
    let text = admin::refund_stars(&bot, &h.shop, 7, "42 ch-1").await;
    assert!(text.contains("Not refunded"), "{text}");
    assert!(fake.calls().is_empty());
    h.store
        .apply_ledger(
            CUSTOMER,
            n("2000"),
            LedgerKind::Adjustment,
            "unspend",
            None,
            None,
        )
        .await
        .unwrap();

    let text = admin::refund_stars(&bot, &h.shop, 7, "42 ch-1").await;
    assert!(text.contains("✅") && text.contains("₦2,500.00"), "{text}");
    let text = admin::refund_stars(&bot, &h.shop, 7, "42 ch-1").await;
    assert!(text.contains("already refunded"), "{text}");
    let refunds: Vec<_> = fake
        .calls()
        .into_iter()
        .filter(|c| c.method == "refundstarpayment")
        .collect();
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].body["telegram_payment_charge_id"], json!("ch-1"));
    assert_eq!(refunds[0].body["user_id"], json!(CUSTOMER));
    assert_eq!(h.store.balance(CUSTOMER).unwrap(), Naira::ZERO);
    let entry = h
        .store
        .ledger_by_reference("stars_refund:ch-1")
        .unwrap()
        .unwrap();
    assert_eq!(
        (entry.kind, entry.amount, entry.by),
        (LedgerKind::StarsRefund, n("-2500"), Some(7))
    );
    // The customer is told through the outbox.
    assert_eq!(h.store.outbox_len(), 1);

    // Telegram refusing the refund debits nothing (a 403 answers at once; teloxide waits 10 s
    // before returning a 5xx).
    let credit_2 = {
        let UpdateKind::Message(msg) = payment_update(CUSTOMER, 50, "ch-2", &payload).kind else {
            unreachable!()
        };
        msg.successful_payment().unwrap().clone()
    };
    wallet::credit_payment(&h.shop, CUSTOMER, &credit_2)
        .await
        .unwrap();
    fake.fail_method("refundStarPayment", TgFault::Blocked, 1);
    let text = admin::refund_stars(&bot, &h.shop, 7, "42 ch-2").await;
    assert!(text.contains("Telegram refused"), "{text}");
    assert_eq!(h.store.balance(CUSTOMER).unwrap(), n("1250"));
    assert_ledgers(&h.store, &[CUSTOMER]);
}

// ---------------------------------------------------------------------------------------------
// Broadcast
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_reaches_everyone_not_blocked_and_reports_progress() {
    let h = Harness::with(SandboxConfig::default(), &[("SANDBOX_CREDIT", "0")]).await;
    let fake = FakeTelegram::start().await.unwrap();
    let bot = fake_bot(&fake);
    for id in 1..=61u64 {
        seed_customer(&h.store, id, "0").await;
    }
    h.store.set_blocked(61, true).await.unwrap();
    fake.fail_chat(3, TgFault::Blocked, 1);
    fake.fail_chat(5, TgFault::RetryAfter(1), 1);

    let started = Instant::now();
    let report = admin::broadcast(
        &bot,
        &h.shop,
        "Promo <b>today</b>",
        ChatId(7),
        Some(MessageId(5)),
    )
    .await;
    assert_eq!(
        report,
        admin::BroadcastReport {
            total: 60,
            sent: 59,
            blocked: 1,
            failed: 0
        }
    );
    // Paced: 60 messages take at least 59 gaps.
    assert!(started.elapsed() >= admin::BROADCAST_GAP * 59);
    assert!(h.store.get_user(3).unwrap().unwrap().blocked);
    assert!(fake.messages_to(61).is_empty());
    let to_five = fake.messages_to(5);
    assert_eq!(to_five.len(), 1);
    assert_eq!(to_five[0].text(), Some("Promo <b>today</b>"));
    assert!(to_five[0].body.get("parse_mode").is_none());
    let edits: Vec<String> = fake
        .calls()
        .into_iter()
        .filter(|c| c.method == "editmessagetext" && c.chat_id() == Some(7))
        .filter_map(|c| c.text().map(str::to_string))
        .collect();
    assert_eq!(edits.len(), 2, "{edits:?}");
    assert!(edits[0].contains("50/60"), "{edits:?}");
    assert!(
        edits[1].contains("finished") && edits[1].contains("sent 59, blocked 1, failed 0"),
        "{edits:?}"
    );
    assert_ledgers(&h.store, &[]);
}
