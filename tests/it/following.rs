//! Following orders: `/myorders`, live status, refill and cancel through teloxide_tests, and the
//! tracker and outbox sender against the sandbox and the loopback fake Bot API.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serial_test::serial;
use smm_storefront::bot::Shop;
use smm_storefront::bot::callback::Cb;
use smm_storefront::bot::schema::{HandlerError, schema};
use smm_storefront::bot::text::MAX_MESSAGE_CHARS;
use smm_storefront::fake_telegram::{FAKE_TOKEN, FakeTelegram, TgFault};
use smm_storefront::money::{self, Naira};
use smm_storefront::panel::{ApiKey, Client};
use smm_storefront::panel::{NewOrder, OrderPayload, OrderStatus};
use smm_storefront::sandbox::{Sandbox, SandboxConfig};
use smm_storefront::store::SledDialogues;
use smm_storefront::store::{LedgerKind, OrderRecord, Phase, Store};
use smm_storefront::tracker::{self, CycleReport};
use teloxide::dispatching::dialogue::Storage;
use teloxide::prelude::*;
use teloxide::types::InlineKeyboardButtonKind;
use teloxide_tests::mock_bot::DistributionKey;
use teloxide_tests::server::Responses;
use teloxide_tests::{MockBot, MockCallbackQuery, MockMessageText, MockUser};

use crate::common::{Harness, config, fast_client_options};

/// The mock bot with the shop's handler tree.
type Mock = MockBot<HandlerError, DistributionKey>;

/// The operators' group in these tests.
const GROUP: i64 = -100_555;
/// The customer teloxide_tests plays.
const ME: u64 = MockUser::ID;
/// Someone else.
const OTHER: u64 = 777_001;
/// Service 101: refills and cancels (₦1,040 per 1,000 at the API).
const REFILL_CANCEL: u64 = 101;
/// Service 102: neither refills nor cancels.
const PLAIN: u64 = 102;

fn naira(s: &str) -> Naira {
    Naira::parse(s).expect("test amount")
}

/// The customer's rate per 1,000 in these tests.
fn rate() -> Naira {
    naira("1248")
}

/// Places an order at the sandbox through the panel client, then stores it as the bot would
/// have: pending record (wallet charged when `debit`), then Placed with both ids.
async fn seed(shop: &Shop, user: u64, service_id: u64, quantity: u64, debit: bool) -> OrderRecord {
    let token = format!("seed{}", fastrand::u64(..));
    let request_id = format!("sf-{token}");
    let placed = shop
        .panel
        .place_order(&NewOrder {
            request_id: request_id.clone(),
            service_id,
            link: "https://instagram.com/someone".into(),
            payload: OrderPayload::Quantity(quantity),
        })
        .await
        .expect("sandbox places the order");
    let price = money::cost(quantity, rate()).expect("price");
    let rec = OrderRecord {
        id: 0,
        user_id: user,
        chat_id: user as i64,
        request_id,
        service_id,
        service_name: placed.service_name.clone(),
        category: "Instagram".into(),
        link: placed.link.clone(),
        quantity,
        comments: None,
        price,
        unit_rate: rate(),
        api_cost: Some(placed.amount_charged),
        phase: Phase::Submitting,
        api_order_id: None,
        provider_order_id: None,
        status: OrderStatus::Pending,
        remains: None,
        can_refill: service_id == REFILL_CANCEL,
        can_cancel: service_id == REFILL_CANCEL,
        refills: Vec::new(),
        wallet_debited: false,
        created_at: chrono::Utc::now().timestamp(),
        updated_at: 0,
    };
    let (rec, _) = shop
        .store
        .create_pending_order(&token, rec, debit.then_some(price))
        .await
        .expect("stored");
    let (api, pid) = (placed.order_id, placed.provider_order_id);
    shop.store
        .update_order(rec.id, move |r| {
            r.phase = Phase::Placed;
            r.api_order_id = Some(api);
            r.provider_order_id = pid;
        })
        .await
        .expect("placed")
}

/// `n` orders for `user`, seeded 25 at a time (flushes overlap).
async fn seed_many(shop: &Arc<Shop>, user: u64, n: usize) -> Vec<OrderRecord> {
    let mut out = Vec::with_capacity(n);
    let mut left = n;
    while left > 0 {
        let batch = left.min(25);
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..batch {
            let shop = shop.clone();
            tasks.spawn(async move { seed(&shop, user, PLAIN, 100, false).await });
        }
        while let Some(rec) = tasks.join_next().await {
            out.push(rec.expect("seed task"));
        }
        left -= batch;
    }
    out
}

/// Money in a customer's wallet, and the invariant every test checks.
async fn fund(store: &Store, user: u64, amount: &str) {
    store
        .apply_ledger(
            user,
            naira(amount),
            LedgerKind::TopUp,
            &format!("test-topup:{user}:{amount}"),
            None,
            None,
        )
        .await
        .expect("funded");
}

fn assert_ledger(store: &Store, user: u64) {
    let balance = store.balance(user).expect("balance");
    assert_eq!(store.ledger_sum(user).expect("sum"), balance, "user {user}");
    assert!(!balance.is_negative());
}

/// Records a customer as the bot would on first contact.
fn meet(store: &Store, user: u64) {
    store
        .touch_user(user, user as i64, "Ada", None, Some("en"))
        .expect("user recorded");
}

fn fake_bot(tg: &FakeTelegram) -> Bot {
    Bot::new(FAKE_TOKEN).set_api_url(tg.api_url().parse().expect("fake url"))
}

/// Drains until the outbox is empty (or 20 rounds pass), like the sender loop.
async fn drain_all(shop: &Shop, bot: &Bot) -> (usize, usize) {
    let (mut sent, mut dropped) = (0, 0);
    for _ in 0..20 {
        let r = tracker::drain_outbox(shop, bot).await;
        sent += r.sent;
        dropped += r.dropped;
        if shop.store.outbox_len() == 0 {
            break;
        }
    }
    (sent, dropped)
}

fn texts(tg: &FakeTelegram, chat: i64) -> Vec<String> {
    tg.messages_to(chat)
        .iter()
        .filter_map(|c| c.text().map(str::to_string))
        .collect()
}

/// Every button (text, data) sent or edited in one dispatch.
fn buttons(r: &Responses) -> Vec<(String, String)> {
    let markups = r
        .sent_messages
        .iter()
        .filter_map(|m| m.reply_markup().cloned())
        .chain(
            r.edited_messages_text
                .iter()
                .filter_map(|e| e.message.reply_markup().cloned()),
        );
    let mut out = Vec::new();
    for m in markups {
        for row in m.inline_keyboard {
            for b in row {
                if let InlineKeyboardButtonKind::CallbackData(d) = b.kind {
                    assert!(d.len() <= 64, "{d}");
                    assert!(Cb::decode(&d).is_some(), "undecodable button {d}");
                    out.push((b.text, d));
                }
            }
        }
    }
    out
}

/// Every text sent or edited in one dispatch, each checked against Telegram's limit.
fn all_text(r: &Responses) -> String {
    let texts: Vec<String> = r
        .sent_messages
        .iter()
        .filter_map(|m| m.text().map(str::to_string))
        .chain(
            r.edited_messages_text
                .iter()
                .filter_map(|e| e.message.text().map(str::to_string)),
        )
        .collect();
    for t in &texts {
        assert!(t.chars().count() <= MAX_MESSAGE_CHARS);
    }
    texts.join("\n---\n")
}

async fn say(bot: &mut Mock, text: &str) -> Responses {
    bot.update(MockMessageText::new().text(text));
    bot.dispatch().await;
    bot.get_responses()
}

async fn press(bot: &mut Mock, data: &str) -> Responses {
    bot.update(MockCallbackQuery::new().data(data));
    bot.dispatch().await;
    bot.get_responses()
}

fn new_bot(h: &Harness, first: &str) -> Mock {
    let mut bot = MockBot::new(MockMessageText::new().text(first), schema());
    bot.dependencies(h.deps());
    bot
}

fn api_calls(h: &Harness) -> usize {
    h.sandbox.calls("")
}

// ---------------------------------------------------------------------------------------------
// The customer's views
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn my_orders_pages_newest_first_with_a_button_per_order() {
    let h = Harness::new().await;
    let mut mine = Vec::new();
    for _ in 0..7 {
        mine.push(seed(&h.shop, ME, PLAIN, 1000, false).await);
    }
    let theirs = seed(&h.shop, OTHER, PLAIN, 1000, false).await;
    h.sandbox
        .set_status(mine[6].api_order_id.unwrap(), "In progress", 400);
    tracker::poll_cycle(&h.shop).await;

    let mut bot = new_bot(&h, "/myorders");
    bot.dispatch().await;
    let r = bot.get_responses();
    let text = all_text(&r);
    assert!(text.contains("(7)"), "{text}");
    let newest = mine[6].api_order_id.unwrap().to_string();
    assert!(text.contains(&newest), "{text}");
    assert!(text.contains("▓▓▓▓▓▓░░░░ 60%"), "{text}");
    assert!(text.contains("₦1,248.00"), "{text}");
    assert!(text.contains("in progress"), "{text}");
    assert!(!text.contains(&theirs.api_order_id.unwrap().to_string()));
    let b = buttons(&r);
    let order_ids: Vec<u64> = b
        .iter()
        .filter_map(|(_, d)| match Cb::decode(d) {
            Some(Cb::Order { id }) => Some(id),
            _ => None,
        })
        .collect();
    let want: Vec<u64> = mine.iter().rev().take(5).map(|r| r.id).collect();
    assert_eq!(order_ids, want);
    let next = Cb::MyOrders { page: 1 }.encode();
    assert!(b.iter().any(|(_, d)| *d == next));

    let r = press(&mut bot, &next).await;
    let b = buttons(&r);
    let order_ids: Vec<u64> = b
        .iter()
        .filter_map(|(_, d)| match Cb::decode(d) {
            Some(Cb::Order { id }) => Some(id),
            _ => None,
        })
        .collect();
    assert_eq!(order_ids, vec![mine[1].id, mine[0].id]);
    assert!(
        b.iter()
            .any(|(_, d)| *d == Cb::MyOrders { page: 0 }.encode())
    );
    assert!(
        !b.iter()
            .any(|(_, d)| *d == Cb::MyOrders { page: 2 }.encode())
    );

    // The menu button shows the first page too.
    let r = press(&mut bot, &Cb::MenuMyOrders.encode()).await;
    assert!(all_text(&r).contains(&newest));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn no_orders_yet_says_so() {
    let h = Harness::new().await;
    let mut bot = new_bot(&h, "/myorders");
    bot.dispatch().await;
    let text = all_text(&bot.get_responses());
    assert!(text.contains("no orders yet"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn live_status_is_stored_without_a_second_notification() {
    let h = Harness::with(SandboxConfig::default(), &[("NOTIFY_CHAT_ID", "-100555")]).await;
    let rec = seed(&h.shop, ME, PLAIN, 1000, false).await;
    let api = rec.api_order_id.unwrap();
    h.sandbox.set_status(api, "In progress", 400);

    let mut bot = new_bot(&h, &format!("/status {api}"));
    bot.dispatch().await;
    let r = bot.get_responses();
    let text = all_text(&r);
    assert!(text.contains("in progress"), "{text}");
    assert!(text.contains("▓▓▓▓▓▓░░░░ 60%"), "{text}");
    // No refill (service has none), no cancel (service cannot).
    let b = buttons(&r);
    assert!(
        !b.iter()
            .any(|(_, d)| d.starts_with("rf:") || d.starts_with("cn:"))
    );
    let stored = h.store.get_order(rec.id).unwrap().unwrap();
    assert_eq!(
        (stored.status, stored.remains),
        (OrderStatus::InProgress, Some(400))
    );
    assert_eq!(h.store.outbox_len(), 0);

    // The tracker finds nothing new to tell.
    let report = tracker::poll_cycle(&h.shop).await;
    assert_eq!(report.changed, 0);
    assert_eq!(h.store.outbox_len(), 0);

    // The local id is not an order id the customer knows.
    let r = say(&mut bot, &format!("/status {}", rec.id)).await;
    assert!(all_text(&r).contains("Order not found"));
    let r = say(&mut bot, "/status").await;
    assert!(all_text(&r).contains("/status 98765"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn a_partial_seen_live_is_refunded_once_and_not_announced_again() {
    let h = Harness::with(SandboxConfig::default(), &[("NOTIFY_CHAT_ID", "-100555")]).await;
    fund(&h.store, ME, "5000").await;
    let rec = seed(&h.shop, ME, REFILL_CANCEL, 1000, true).await;
    let api = rec.api_order_id.unwrap();
    h.sandbox.set_status(api, "Partial", 300);

    let mut bot = new_bot(&h, &format!("/status {api}"));
    bot.dispatch().await;
    let after_view = h.store.balance(ME).unwrap();
    let r = bot.get_responses();
    let text = all_text(&r);
    assert!(text.contains("partial") && text.contains("70%"), "{text}");
    assert!(text.contains("₦374.40"), "{text}");
    // Partial with a refill service: Refill offered, Cancel not.
    let b = buttons(&r);
    assert!(
        b.iter()
            .any(|(_, d)| *d == Cb::Refill { id: rec.id }.encode())
    );
    assert!(!b.iter().any(|(_, d)| d.starts_with("cn:")));
    assert_eq!(h.store.order_refunded(rec.id).unwrap(), naira("374.40"));
    let queued = h.store.pending_outbox(10).unwrap();
    assert_eq!(queued.len(), 1);
    assert!(queued[0].group);

    // Looked at again, and polled: no second refund, nothing new queued.
    let r = press(&mut bot, &Cb::Order { id: rec.id }.encode()).await;
    assert!(all_text(&r).contains("₦374.40"));
    assert_eq!(tracker::poll_cycle(&h.shop).await, CycleReport::default());
    assert_eq!(h.store.balance(ME).unwrap(), after_view);
    assert_eq!(h.store.outbox_len(), 1);
    assert_ledger(&h.store, ME);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn pending_and_rejected_orders_say_where_they_stand_without_asking_the_api() {
    let h = Harness::new().await;
    fund(&h.store, ME, "5000").await;
    let base = seed(&h.shop, ME, PLAIN, 1000, false).await;
    let mut pending = base.clone();
    pending.request_id = "sf-pending".into();
    pending.phase = Phase::Submitting;
    pending.api_order_id = None;
    pending.provider_order_id = None;
    let (pending, _) = h
        .store
        .create_pending_order("pending", pending, None)
        .await
        .unwrap();
    let (rejected, _) = h
        .store
        .create_pending_order("rejected", base.clone(), Some(base.price))
        .await
        .unwrap();
    h.store
        .update_order(rejected.id, |r| {
            r.phase = Phase::Rejected;
            r.api_order_id = None;
        })
        .await
        .unwrap();
    h.store
        .refund_order_once(rejected.id, base.price, "not_placed")
        .await
        .unwrap();
    let before = api_calls(&h);

    let mut bot = new_bot(&h, "/myorders");
    bot.dispatch().await;
    let text = all_text(&bot.get_responses());
    assert!(text.contains("Being confirmed"), "{text}");
    assert!(text.contains("Not placed, refunded"), "{text}");
    let r = press(&mut bot, &Cb::Order { id: pending.id }.encode()).await;
    assert!(all_text(&r).contains("Being confirmed"));
    let r = press(&mut bot, &Cb::Order { id: rejected.id }.encode()).await;
    assert!(all_text(&r).contains("Not placed, refunded"));
    assert_eq!(api_calls(&h), before);
    assert_ledger(&h.store, ME);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn refill_is_offered_when_done_and_its_status_can_be_checked() {
    let h = Harness::new().await;
    let rec = seed(&h.shop, ME, REFILL_CANCEL, 1000, false).await;
    let api = rec.api_order_id.unwrap();

    // Still running: Cancel, no Refill.
    let mut bot = new_bot(&h, &format!("/status {api}"));
    bot.dispatch().await;
    let b = buttons(&bot.get_responses());
    assert!(
        b.iter()
            .any(|(_, d)| *d == Cb::CancelOrder { id: rec.id }.encode())
    );
    assert!(!b.iter().any(|(_, d)| d.starts_with("rf:")));
    // Refill pressed anyway (an old button): refused without an API call.
    let r = press(&mut bot, &Cb::Refill { id: rec.id }.encode()).await;
    assert!(all_text(&r).contains("cannot be refilled"));
    assert_eq!(h.sandbox.calls("/smm/refill"), 0);

    h.sandbox.set_status(api, "Completed", 0);
    let r = press(&mut bot, &Cb::Order { id: rec.id }.encode()).await;
    let text = all_text(&r);
    assert!(
        text.contains("completed") && text.contains("100%"),
        "{text}"
    );
    let b = buttons(&r);
    assert!(
        b.iter()
            .any(|(_, d)| *d == Cb::Refill { id: rec.id }.encode())
    );
    assert!(!b.iter().any(|(_, d)| d.starts_with("cn:")));

    let r = press(&mut bot, &Cb::Refill { id: rec.id }.encode()).await;
    let text = all_text(&r);
    assert!(text.contains("Refill requested"), "{text}");
    let stored = h.store.get_order(rec.id).unwrap().unwrap();
    assert_eq!(stored.refills.len(), 1);
    let refill = stored.refills[0];
    assert!(text.contains(&refill.to_string()), "{text}");
    let status_button = Cb::RefillStatus { id: rec.id, refill }.encode();
    assert!(buttons(&r).iter().any(|(_, d)| *d == status_button));

    let r = press(&mut bot, &status_button).await;
    let text = all_text(&r);
    assert!(text.contains("Pending"), "{text}");
    h.sandbox.advance();
    let r = press(&mut bot, &status_button).await;
    assert!(all_text(&r).contains("In progress"));

    // A refill id the order never asked for is not looked up.
    let before = h.sandbox.calls("/smm/refill-status");
    let r = press(
        &mut bot,
        &Cb::RefillStatus {
            id: rec.id,
            refill: refill + 1,
        }
        .encode(),
    )
    .await;
    assert!(all_text(&r).contains("Order not found"));
    assert_eq!(h.sandbox.calls("/smm/refill-status"), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn cancel_refunds_in_full_once() {
    let h = Harness::with(SandboxConfig::default(), &[("NOTIFY_CHAT_ID", "-100555")]).await;
    fund(&h.store, ME, "5000").await;
    let rec = seed(&h.shop, ME, REFILL_CANCEL, 1000, true).await;
    let api = rec.api_order_id.unwrap();

    let mut bot = new_bot(&h, &format!("/status {api}"));
    bot.dispatch().await;
    // Measured after the first update: the sandbox gives newcomers practice money.
    let funded = h.store.balance(ME).unwrap();
    let r = press(&mut bot, &Cb::CancelOrder { id: rec.id }.encode()).await;
    let text = all_text(&r);
    assert!(text.contains("was cancelled"), "{text}");
    assert!(text.contains("₦1,248.00"), "{text}");
    assert_eq!(
        h.store.balance(ME).unwrap(),
        funded.checked_add(rec.price).unwrap()
    );
    let stored = h.store.get_order(rec.id).unwrap().unwrap();
    assert_eq!(stored.status, OrderStatus::Cancelled);
    assert!(h.store.active_orders().unwrap().is_empty());
    // The customer saw it; only the group hears.
    let queued = h.store.pending_outbox(10).unwrap();
    assert_eq!(queued.len(), 1);
    assert!(queued[0].group);

    // Pressed again, seen by the tracker, opened again: no second refund, no second cancel.
    let r = press(&mut bot, &Cb::CancelOrder { id: rec.id }.encode()).await;
    assert!(all_text(&r).contains("cannot be cancelled"));
    assert_eq!(h.sandbox.calls("/smm/cancel"), 1);
    tracker::poll_cycle(&h.shop).await;
    let r = press(&mut bot, &Cb::Order { id: rec.id }.encode()).await;
    assert!(all_text(&r).contains("cancelled"));
    assert_eq!(
        h.store.balance(ME).unwrap(),
        funded.checked_add(rec.price).unwrap()
    );
    assert_eq!(h.store.outbox_len(), 1);
    assert_ledger(&h.store, ME);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn a_cancel_the_provider_refuses_says_so_and_changes_nothing() {
    let h = Harness::new().await;
    fund(&h.store, ME, "5000").await;
    let rec = seed(&h.shop, ME, REFILL_CANCEL, 1000, true).await;
    // Delivered at the provider already; our record still says pending.
    h.sandbox
        .set_status(rec.api_order_id.unwrap(), "Completed", 0);

    let mut bot = new_bot(&h, "/myorders");
    bot.dispatch().await;
    let balance = h.store.balance(ME).unwrap();
    let r = press(&mut bot, &Cb::CancelOrder { id: rec.id }.encode()).await;
    let text = all_text(&r);
    assert!(text.contains("the provider would not cancel it"), "{text}");
    assert_eq!(h.sandbox.calls("/smm/cancel"), 1);
    assert_eq!(h.store.balance(ME).unwrap(), balance);
    assert_eq!(
        h.store.get_order(rec.id).unwrap().unwrap().status,
        OrderStatus::Pending
    );
    assert_ledger(&h.store, ME);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn someone_elses_order_is_not_found_and_never_reaches_the_api() {
    let h = Harness::new().await;
    fund(&h.store, OTHER, "5000").await;
    let theirs = seed(&h.shop, OTHER, REFILL_CANCEL, 1000, true).await;
    let api = theirs.api_order_id.unwrap();
    h.sandbox.set_status(api, "Completed", 0);
    h.store
        .update_order(theirs.id, |r| {
            r.status = OrderStatus::Completed;
            r.refills = vec![7821];
        })
        .await
        .unwrap();
    let before = api_calls(&h);

    let mut bot = new_bot(&h, &format!("/status {api}"));
    bot.dispatch().await;
    assert!(all_text(&bot.get_responses()).contains("Order not found"));
    for cb in [
        Cb::Order { id: theirs.id },
        Cb::Refill { id: theirs.id },
        Cb::CancelOrder { id: theirs.id },
        Cb::RefillStatus {
            id: theirs.id,
            refill: 7821,
        },
        Cb::Order { id: 999_999 },
    ] {
        let r = press(&mut bot, &cb.encode()).await;
        let text = all_text(&r);
        assert!(text.contains("Order not found"), "{cb:?}: {text}");
    }
    // Forged data that does not even decode.
    let r = press(&mut bot, "cn:00").await;
    assert!(r.sent_messages.is_empty());
    assert_eq!(api_calls(&h), before);
    assert_eq!(h.sandbox.calls(&format!("/smm/status/{api}")), 0);
    assert_eq!(h.sandbox.calls("/smm/refill"), 0);
    assert_eq!(h.sandbox.calls("/smm/cancel"), 0);
    assert_eq!(
        h.store.get_order(theirs.id).unwrap().unwrap().refills,
        vec![7821]
    );
    assert_ledger(&h.store, OTHER);
}

// ---------------------------------------------------------------------------------------------
// The tracker and the sender
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_message_per_change_and_one_group_message_when_it_ends() {
    let h = Harness::with(SandboxConfig::default(), &[("NOTIFY_CHAT_ID", "-100555")]).await;
    let tg = FakeTelegram::start().await.unwrap();
    let bot = fake_bot(&tg);
    meet(&h.store, ME);
    let rec = seed(&h.shop, ME, PLAIN, 1000, false).await;
    let api = rec.api_order_id.unwrap();
    let chat = ME as i64;

    h.sandbox.set_status(api, "In progress", 400);
    let report = tracker::poll_cycle(&h.shop).await;
    assert_eq!((report.active, report.calls, report.changed), (1, 1, 1));
    drain_all(&h.shop, &bot).await;
    let mine = texts(&tg, chat);
    assert_eq!(mine.len(), 1);
    assert!(
        mine[0].contains(&api.to_string()) && mine[0].contains("60%"),
        "{}",
        mine[0]
    );
    assert!(texts(&tg, GROUP).is_empty());

    // Same status again: nothing.
    assert_eq!(tracker::poll_cycle(&h.shop).await.changed, 0);
    drain_all(&h.shop, &bot).await;
    assert_eq!(texts(&tg, chat).len(), 1);
    // Progress alone is stored but not announced.
    h.sandbox.set_status(api, "In progress", 100);
    assert_eq!(tracker::poll_cycle(&h.shop).await.changed, 1);
    assert_eq!(
        h.store.get_order(rec.id).unwrap().unwrap().remains,
        Some(100)
    );
    drain_all(&h.shop, &bot).await;
    assert_eq!(texts(&tg, chat).len(), 1);

    h.sandbox.set_status(api, "Completed", 0);
    tracker::poll_cycle(&h.shop).await;
    drain_all(&h.shop, &bot).await;
    let mine = texts(&tg, chat);
    assert_eq!(mine.len(), 2);
    assert!(mine[1].contains("completed") && mine[1].contains("100%"));
    let group = texts(&tg, GROUP);
    assert_eq!(group.len(), 1);
    assert!(
        group[0].contains("Ada") && group[0].contains(&api.to_string()),
        "{}",
        group[0]
    );

    // Ended: no longer polled, nothing more sent.
    let report = tracker::poll_cycle(&h.shop).await;
    assert_eq!(report, CycleReport::default());
    drain_all(&h.shop, &bot).await;
    assert_eq!((texts(&tg, chat).len(), texts(&tg, GROUP).len()), (2, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_fifty_orders_take_three_bulk_calls() {
    let h = Harness::new().await;
    let seeded = seed_many(&h.shop, ME, 250).await;
    assert_eq!(seeded.len(), 250);
    let single_before = h.sandbox.calls("");
    let report = tracker::poll_cycle(&h.shop).await;
    assert_eq!(report.active, 250);
    assert_eq!(report.calls, 3);
    assert_eq!(report.missing, 0);
    let batches = h.sandbox.bulk_status_batches();
    assert_eq!(batches.len(), 3, "{batches:?}");
    assert!(batches.iter().all(|&n| n <= 100), "{batches:?}");
    assert_eq!(batches.iter().sum::<usize>(), 250);
    // Nothing but the three bulk calls.
    assert_eq!(h.sandbox.calls("") - single_before, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_customer_does_not_stop_the_others() {
    let h = Harness::new().await;
    let tg = FakeTelegram::start().await.unwrap();
    let bot = fake_bot(&tg);
    meet(&h.store, ME);
    meet(&h.store, OTHER);
    let blocked = seed(&h.shop, ME, PLAIN, 1000, false).await;
    let fine = seed(&h.shop, OTHER, PLAIN, 1000, false).await;
    for rec in [&blocked, &fine] {
        h.sandbox
            .set_status(rec.api_order_id.unwrap(), "In progress", 500);
    }
    tg.fail_chat(ME as i64, TgFault::Blocked, 5);
    assert_eq!(tracker::poll_cycle(&h.shop).await.changed, 2);
    let (sent, dropped) = drain_all(&h.shop, &bot).await;
    assert_eq!((sent, dropped), (1, 1));
    assert_eq!(texts(&tg, OTHER as i64).len(), 1);
    assert!(texts(&tg, ME as i64).is_empty());
    assert_eq!(h.store.outbox_len(), 0);
    assert!(h.store.get_user(ME).unwrap().unwrap().blocked);
    assert!(!h.store.get_user(OTHER).unwrap().unwrap().blocked);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_requests_is_waited_out() {
    let h = Harness::new().await;
    let tg = FakeTelegram::start().await.unwrap();
    let bot = fake_bot(&tg);
    let rec = seed(&h.shop, ME, PLAIN, 1000, false).await;
    h.sandbox
        .set_status(rec.api_order_id.unwrap(), "In progress", 500);
    tracker::poll_cycle(&h.shop).await;
    tg.fail_chat(ME as i64, TgFault::RetryAfter(1), 1);
    let started = Instant::now();
    let report = tracker::drain_outbox(&h.shop, &bot).await;
    assert_eq!(
        (report.sent, report.dropped, report.deferred),
        (1, 0, false)
    );
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(texts(&tg, ME as i64).len(), 1);
    let attempts = tg
        .calls()
        .iter()
        .filter(|c| c.method == "sendmessage" && c.chat_id() == Some(ME as i64))
        .count();
    assert_eq!(attempts, 2);
    assert_eq!(h.store.outbox_len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migrated_group_is_followed_and_remembered() {
    const NEW_GROUP: i64 = -100_999_888;
    let h = Harness::with(SandboxConfig::default(), &[("NOTIFY_CHAT_ID", "-100555")]).await;
    let tg = FakeTelegram::start().await.unwrap();
    let bot = fake_bot(&tg);
    let first = seed(&h.shop, ME, PLAIN, 1000, false).await;
    let second = seed(&h.shop, ME, PLAIN, 1000, false).await;

    tg.fail_chat(GROUP, TgFault::Migrate(NEW_GROUP), 1);
    h.sandbox
        .set_status(first.api_order_id.unwrap(), "Completed", 0);
    tracker::poll_cycle(&h.shop).await;
    drain_all(&h.shop, &bot).await;
    assert_eq!(texts(&tg, NEW_GROUP).len(), 1);

    h.sandbox
        .set_status(second.api_order_id.unwrap(), "Completed", 0);
    tracker::poll_cycle(&h.shop).await;
    drain_all(&h.shop, &bot).await;
    assert_eq!(texts(&tg, NEW_GROUP).len(), 2);
    // The old id was tried once only: the second message went straight to the new group.
    let to_old = tg
        .calls()
        .iter()
        .filter(|c| c.method == "sendmessage" && c.chat_id() == Some(GROUP))
        .count();
    assert_eq!(to_old, 1);
    assert_eq!(texts(&tg, ME as i64).len(), 2);
}

/// Drops a harness's store handles and opens the same folder again over the same sandbox.
async fn restart(h: Harness, extra: &[(&str, &str)]) -> Harness {
    let Harness {
        sandbox,
        shop,
        storage,
        store,
        dir,
    } = h;
    drop((shop, storage, store));
    reopen_over(dir, sandbox, extra).await
}

async fn reopen_over(dir: tempfile::TempDir, sandbox: Sandbox, extra: &[(&str, &str)]) -> Harness {
    // sled lets go of its file lock a moment after the last handle drops.
    let deadline = Instant::now() + Duration::from_secs(10);
    let store = loop {
        match Store::open(dir.path()) {
            Ok(store) => break store,
            Err(e) if Instant::now() < deadline => {
                log::debug!("store still locked: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => panic!("cannot reopen the store: {e}"),
        }
    };
    let cfg = Arc::new(config(dir.path(), extra));
    let client = Client::with_options(
        &sandbox.base_url(),
        ApiKey::new("test-key"),
        fast_client_options(),
    )
    .expect("client");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_between_status_and_send_delivers_exactly_once() {
    let extra = [("NOTIFY_CHAT_ID", "-100555")];
    let h = Harness::with(SandboxConfig::default(), &extra).await;
    let tg = FakeTelegram::start().await.unwrap();
    let bot = fake_bot(&tg);
    let rec = seed(&h.shop, ME, PLAIN, 1000, false).await;
    h.sandbox
        .set_status(rec.api_order_id.unwrap(), "Completed", 0);
    assert_eq!(tracker::poll_cycle(&h.shop).await.changed, 1);
    assert_eq!(h.store.outbox_len(), 2);

    let h = restart(h, &extra).await;
    assert_eq!(h.store.outbox_len(), 2);
    assert_eq!(tracker::poll_cycle(&h.shop).await, CycleReport::default());
    drain_all(&h.shop, &bot).await;
    assert_eq!(texts(&tg, ME as i64).len(), 1);
    assert_eq!(texts(&tg, GROUP).len(), 1);

    let h = restart(h, &extra).await;
    assert_eq!(h.store.outbox_len(), 0);
    drain_all(&h.shop, &bot).await;
    assert_eq!(texts(&tg, ME as i64).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_refunds_the_undelivered_part_once() {
    let h = Harness::new().await;
    let tg = FakeTelegram::start().await.unwrap();
    let bot = fake_bot(&tg);
    fund(&h.store, ME, "5000").await;
    let rec = seed(&h.shop, ME, PLAIN, 1000, true).await;
    let after_charge = h.store.balance(ME).unwrap();
    h.sandbox
        .set_status(rec.api_order_id.unwrap(), "Partial", 300);
    tracker::poll_cycle(&h.shop).await;
    tracker::poll_cycle(&h.shop).await;
    // 300 × ₦1,248 / 1,000.
    let refund = naira("374.40");
    assert_eq!(
        h.store.balance(ME).unwrap(),
        after_charge.checked_add(refund).unwrap()
    );
    assert_eq!(h.store.order_refunded(rec.id).unwrap(), refund);
    drain_all(&h.shop, &bot).await;
    let mine = texts(&tg, ME as i64);
    assert_eq!(mine.len(), 1);
    assert!(mine[0].contains("₦374.40"), "{}", mine[0]);
    assert!(mine[0].contains("70%"), "{}", mine[0]);
    assert_ledger(&h.store, ME);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_refunds_in_full_once_even_across_a_restart() {
    let h = Harness::new().await;
    let tg = FakeTelegram::start().await.unwrap();
    let bot = fake_bot(&tg);
    fund(&h.store, ME, "5000").await;
    let funded = h.store.balance(ME).unwrap();
    let rec = seed(&h.shop, ME, PLAIN, 1000, true).await;
    let api = rec.api_order_id.unwrap();

    // A crash after the refund, before the status was stored: the refund half happened.
    h.store
        .refund_order_once(rec.id, rec.price, "ended")
        .await
        .unwrap()
        .unwrap();
    let h = restart(h, &[]).await;
    h.sandbox.set_status(api, "Cancelled", 1000);
    assert_eq!(tracker::poll_cycle(&h.shop).await.changed, 1);
    assert_eq!(h.store.balance(ME).unwrap(), funded);
    // Seen twice, and again after another restart.
    assert_eq!(tracker::poll_cycle(&h.shop).await.changed, 0);
    let h = restart(h, &[]).await;
    assert_eq!(tracker::poll_cycle(&h.shop).await.changed, 0);
    assert_eq!(h.store.balance(ME).unwrap(), funded);
    assert_eq!(h.store.order_refunded(rec.id).unwrap(), rec.price);
    drain_all(&h.shop, &bot).await;
    let mine = texts(&tg, ME as i64);
    assert_eq!(mine.len(), 1);
    // The message still says what came back, though the refund was made before the restart.
    assert!(mine[0].contains("₦1,248.00"), "{}", mine[0]);
    assert_ledger(&h.store, ME);

    // A second order cancelled in the ordinary way: full refund, once.
    let other = seed(&h.shop, ME, PLAIN, 500, true).await;
    let before = h.store.balance(ME).unwrap();
    h.sandbox
        .set_status(other.api_order_id.unwrap(), "Canceled", 500);
    tracker::poll_cycle(&h.shop).await;
    tracker::poll_cycle(&h.shop).await;
    assert_eq!(
        h.store.balance(ME).unwrap(),
        before.checked_add(other.price).unwrap()
    );
    assert_eq!(h.store.balance(ME).unwrap(), funded);
    assert_ledger(&h.store, ME);
}
