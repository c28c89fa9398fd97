//! Placing orders exactly once: a pending record (and wallet charge) first, then the API,
//! then reconciliation of anything ambiguous. Used by the dialogue and by the tracker.

use rust_i18n::t;

use crate::bot::Shop;
use crate::money::Naira;
use crate::panel::{self, NewOrder, OrderPayload, OrderQuery, OrderStatus, PlacedOrder, Service};
use crate::store::{OrderRecord, OutboxEntry, Phase, StoreError};
use crate::tracker::customer_lang;

/// Seconds a Submitting order is left alone before reconciliation, so an in-flight call finishes first.
pub const SUBMIT_GRACE_SECS: i64 = 90;
/// How far back (seconds) before a pending order's creation a listed order may be dated and
/// still be taken as it (clock skew between the shop and the API).
const CLOCK_SKEW_SECS: i64 = 300;

/// What the customer confirmed.
#[derive(Clone, Debug)]
pub struct Draft {
    /// Telegram user id.
    pub user_id: u64,
    /// Chat to notify.
    pub chat_id: i64,
    /// The service as shown.
    pub service: Service,
    /// Target link.
    pub link: String,
    /// Units.
    pub quantity: u64,
    /// Custom comments, for comment services.
    pub comments: Option<Vec<String>>,
    /// The customer's price per 1,000 (with markup).
    pub unit_rate: Naira,
    /// The customer's total.
    pub price: Naira,
}

/// Why an order was certainly not placed (any wallet charge has been refunded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// The provider answered `refunded`.
    ProviderRefunded,
    /// The shop's IA-Café wallet cannot pay for it.
    ShopBalanceLow,
    /// The API refused the quantity.
    InvalidQuantity {
        /// Smallest allowed, if the API said.
        min: Option<u64>,
        /// Largest allowed, if the API said.
        max: Option<u64>,
    },
    /// The API could not be reached or refused for another reason; nothing was placed.
    Unavailable,
}

/// The outcome of a confirmation.
#[derive(Clone, Debug)]
pub enum Placement {
    /// Placed now.
    Placed(OrderRecord),
    /// This confirmation had already placed the order (double tap, redelivery).
    AlreadyPlaced(OrderRecord),
    /// Sent, but the outcome is not known yet; reconciliation will tell the customer.
    Pending(OrderRecord),
    /// Certainly not placed; any charge was refunded.
    Rejected {
        /// The stored order, now `Rejected`.
        rec: OrderRecord,
        /// Why.
        reason: Rejection,
    },
    /// The customer's wallet is short; nothing was stored.
    InsufficientFunds {
        /// Their balance.
        balance: Naira,
        /// The order's price.
        needed: Naira,
    },
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Stores the pending order (charging the wallet when wallets are on), then places it.
pub async fn confirm(shop: &Shop, token: &str, draft: Draft) -> Result<Placement, StoreError> {
    let at = now();
    let rec = OrderRecord {
        id: 0,
        user_id: draft.user_id,
        chat_id: draft.chat_id,
        request_id: format!("sf-{token}"),
        service_id: draft.service.id,
        service_name: draft.service.name.clone(),
        category: draft.service.category.clone(),
        link: draft.link,
        quantity: draft.quantity,
        comments: draft.comments,
        price: draft.price,
        unit_rate: draft.unit_rate,
        api_cost: None,
        phase: Phase::Submitting,
        api_order_id: None,
        provider_order_id: None,
        status: OrderStatus::Pending,
        remains: None,
        can_refill: draft.service.refill,
        can_cancel: draft.service.cancelable,
        refills: Vec::new(),
        wallet_debited: false,
        created_at: at,
        updated_at: at,
    };
    let debit = (shop.cfg.wallets == crate::config::WalletMode::On).then_some(draft.price);
    let (rec, created) = match shop.store.create_pending_order(token, rec, debit).await {
        Ok(r) => r,
        Err(StoreError::InsufficientFunds { balance, needed }) => {
            return Ok(Placement::InsufficientFunds { balance, needed });
        }
        Err(e) => return Err(e),
    };
    if !created {
        return Ok(match rec.phase {
            Phase::Placed => Placement::AlreadyPlaced(rec),
            Phase::Rejected => Placement::Rejected {
                rec,
                reason: Rejection::Unavailable,
            },
            Phase::Submitting | Phase::Unconfirmed => Placement::Pending(rec),
        });
    }
    let Some(_guard) = shop.claim(rec.id) else {
        return Ok(Placement::Pending(rec));
    };
    let answer = shop.panel.place_order(&new_order(&rec)).await;
    settle(shop, rec, answer, false).await
}

fn new_order(rec: &OrderRecord) -> NewOrder {
    NewOrder {
        request_id: rec.request_id.clone(),
        service_id: rec.service_id,
        link: rec.link.clone(),
        payload: match &rec.comments {
            Some(c) => OrderPayload::Comments(c.clone()),
            None => OrderPayload::Quantity(rec.quantity),
        },
    }
}

/// Applies an answer to a placement. `notify` queues the customer's message in the outbox
/// (for outcomes learnt in the background); the dialogue tells the customer itself.
async fn settle(
    shop: &Shop,
    rec: OrderRecord,
    answer: Result<PlacedOrder, panel::Error>,
    notify: bool,
) -> Result<Placement, StoreError> {
    match answer {
        Ok(placed) => mark_placed(shop, &rec, &placed, notify)
            .await
            .map(Placement::Placed),
        Err(panel::Error::Duplicate { order_id: Some(id) }) => {
            adopt(shop, &rec, id, notify).await.map(Placement::Placed)
        }
        Err(e) if e.is_certain_failure() => {
            let reason = match e {
                panel::Error::Refunded { .. } => Rejection::ProviderRefunded,
                panel::Error::InsufficientBalance => Rejection::ShopBalanceLow,
                panel::Error::InvalidQuantity { min, max, .. } => {
                    Rejection::InvalidQuantity { min, max }
                }
                other => {
                    log::warn!("order {} not placed: {other}", rec.id);
                    Rejection::Unavailable
                }
            };
            let rec = reject(shop, &rec, notify).await?;
            Ok(Placement::Rejected { rec, reason })
        }
        Err(e) => {
            log::warn!("order {} outcome unknown ({e}); will reconcile", rec.id);
            let rec = shop
                .store
                .update_order(rec.id, |r| {
                    if r.phase == Phase::Submitting {
                        r.phase = Phase::Unconfirmed;
                    }
                })
                .await?;
            Ok(Placement::Pending(rec))
        }
    }
}

async fn mark_placed(
    shop: &Shop,
    rec: &OrderRecord,
    placed: &PlacedOrder,
    notify: bool,
) -> Result<OrderRecord, StoreError> {
    if let Some(b) = placed.final_balance {
        // The only balance signal besides /whoami; best effort.
        let _ = shop.store.meta_set("provider_balance", &(b, now())).await;
    }
    let outbox = if notify {
        vec![confirmed_message(shop, rec, placed.order_id)]
    } else {
        Vec::new()
    };
    let (order_id, pid, status) = (
        placed.order_id,
        placed.provider_order_id,
        placed.status.clone(),
    );
    let charged = placed.amount_charged;
    shop.store
        .update_order_notify(
            rec.id,
            move |r| {
                r.phase = Phase::Placed;
                r.api_order_id = Some(order_id);
                r.provider_order_id = pid;
                r.api_cost = Some(charged);
                if r.status == OrderStatus::Pending {
                    r.status = status.clone();
                }
            },
            outbox,
        )
        .await
}

fn confirmed_message(shop: &Shop, rec: &OrderRecord, api_id: u64) -> OutboxEntry {
    let l = customer_lang(shop, rec.user_id).code();
    let text = t!(
        "order.confirmed_late",
        locale = l,
        order_id = api_id,
        amount = rec.price
    );
    OutboxEntry::new(rec.chat_id, text, false, Some(rec.id))
}

/// Takes over an order the API says exists under our `request_id`.
async fn adopt(
    shop: &Shop,
    rec: &OrderRecord,
    api_id: u64,
    notify: bool,
) -> Result<OrderRecord, StoreError> {
    let report = shop.panel.status(api_id).await;
    let (pid, status, amount) = match &report {
        Ok(r) => (r.provider_order_id, r.status.clone(), Some(r.amount)),
        Err(e) => {
            log::warn!(
                "order {} adopted as {api_id}, status unknown yet: {e}",
                rec.id
            );
            (None, OrderStatus::Pending, None)
        }
    };
    let outbox = if notify {
        vec![confirmed_message(shop, rec, api_id)]
    } else {
        Vec::new()
    };
    shop.store
        .update_order_notify(
            rec.id,
            move |r| {
                r.phase = Phase::Placed;
                r.api_order_id = Some(api_id);
                r.provider_order_id = pid.or(r.provider_order_id);
                r.api_cost = amount.or(r.api_cost);
                r.status = status.clone();
            },
            outbox,
        )
        .await
}

/// Marks an order certainly not placed and returns the customer's money, once.
async fn reject(shop: &Shop, rec: &OrderRecord, notify: bool) -> Result<OrderRecord, StoreError> {
    let outbox = if notify {
        let l = customer_lang(shop, rec.user_id).code();
        let text = if rec.wallet_debited {
            t!("order.not_placed_refunded", locale = l, amount = rec.price)
        } else {
            t!("order.refunded_by_provider", locale = l)
        };
        vec![OutboxEntry::new(rec.chat_id, text, false, Some(rec.id))]
    } else {
        Vec::new()
    };
    let updated = shop
        .store
        .update_order_notify(rec.id, |r| r.phase = Phase::Rejected, outbox)
        .await?;
    if rec.wallet_debited {
        shop.store
            .refund_order_once(rec.id, rec.price, "not_placed")
            .await?;
    }
    Ok(updated)
}

/// Settles one Submitting or Unconfirmed order: asks again with the same `request_id`, then
/// looks for it in the order list. `None` while it is still unknown.
pub async fn reconcile(shop: &Shop, rec: OrderRecord) -> Result<Option<Placement>, StoreError> {
    if !matches!(rec.phase, Phase::Submitting | Phase::Unconfirmed) {
        return Ok(None);
    }
    let Some(_guard) = shop.claim(rec.id) else {
        return Ok(None);
    };
    // Re-read under the claim: a concurrent settle may have finished it.
    let Some(rec) = shop.store.get_order(rec.id)? else {
        return Ok(None);
    };
    if !matches!(rec.phase, Phase::Submitting | Phase::Unconfirmed) {
        return Ok(None);
    }
    match shop.panel.place_order(&new_order(&rec)).await {
        Ok(placed) => {
            return mark_placed(shop, &rec, &placed, true)
                .await
                .map(|r| Some(Placement::Placed(r)));
        }
        Err(panel::Error::Duplicate { order_id: Some(id) }) => {
            return adopt(shop, &rec, id, true)
                .await
                .map(|r| Some(Placement::Placed(r)));
        }
        Err(panel::Error::Duplicate { order_id: None }) | Err(panel::Error::Ambiguous { .. }) => {}
        Err(e) if e.is_certain_failure() => {
            // A used request_id would have been answered as a duplicate: this one was never placed.
            return settle(shop, rec, Err(e), true).await.map(Some);
        }
        Err(e) => {
            log::info!("order {} still unconfirmed: {e}", rec.id);
            return Ok(None);
        }
    }
    match find_in_listing(shop, &rec).await {
        Some(api_id) => adopt(shop, &rec, api_id, true)
            .await
            .map(|r| Some(Placement::Placed(r))),
        None => Ok(None),
    }
}

/// The newest listed order with the same service, link and quantity, placed after ours was
/// created and not already known to the store.
async fn find_in_listing(shop: &Shop, rec: &OrderRecord) -> Option<u64> {
    for page in 1..=3u32 {
        let query = OrderQuery {
            page,
            limit: 100,
            status: None,
            service_id: Some(rec.service_id),
        };
        let listing = match shop.panel.orders(&query).await {
            Ok(l) => l,
            Err(e) => {
                log::info!("order {}: listing unavailable: {e}", rec.id);
                return None;
            }
        };
        for o in &listing.orders {
            let recent = o
                .created_at
                .is_none_or(|c| c.timestamp() >= rec.created_at - CLOCK_SKEW_SECS);
            if o.link == rec.link
                && o.quantity == rec.quantity
                && recent
                && shop.store.order_by_api_id(o.id).ok().flatten().is_none()
            {
                return Some(o.id);
            }
        }
        if page >= listing.pages {
            break;
        }
    }
    None
}

/// Reconciles every pending order old enough not to be in flight. Returns how many settled.
pub async fn reconcile_all(shop: &Shop) -> Result<usize, StoreError> {
    let cutoff = now() - SUBMIT_GRACE_SECS;
    let mut settled = 0;
    for rec in shop.store.active_orders()? {
        let due = match rec.phase {
            Phase::Unconfirmed => true,
            // Created before this process started: whatever call was in flight died with it.
            Phase::Submitting => rec.created_at <= cutoff || rec.created_at < shop.started_at,
            _ => false,
        };
        if due && reconcile(shop, rec).await?.is_some() {
            settled += 1;
        }
    }
    Ok(settled)
}
