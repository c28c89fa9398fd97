//! The sandbox's mutable world: wallet, orders, refills, injected faults and call counters.
//!
//! Everything here is synchronous and runs under one `Mutex`; routes lock, act, unlock, and
//! only then build answers or sleep.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::Fault;
use super::catalog::{Catalog, Service};
use crate::money::{self, Naira};
use crate::panel::OrderStatus;

/// First IA-Café order id handed out, as in the document.
pub(super) const FIRST_ORDER_ID: u64 = 98_765;
/// First upstream (provider) order id handed out.
pub(super) const FIRST_PROVIDER_ID: u64 = 554_433;
/// First refill id handed out.
pub(super) const FIRST_REFILL_ID: u64 = 7_821;
/// Progress steps from placement to a terminal status.
const STEPS: u8 = 3;
/// Naira per US dollar for the provider's `charge` (₦1,560 → $0.975 as in the document).
const NGN_PER_USD: i64 = 1_600;

/// State and catalog shared by the server, the ticker and the `Sandbox` handle.
pub(super) struct Shared {
    /// Fixed at start, read without locking.
    pub catalog: Catalog,
    /// Whether a duplicate `request_id` answer names the existing order.
    pub duplicate_names_order: bool,
    state: Mutex<State>,
}

impl Shared {
    /// Builds the shared world.
    pub(super) fn new(
        catalog: Catalog,
        balance: Naira,
        seed: u64,
        duplicate_names_order: bool,
    ) -> Self {
        Shared {
            catalog,
            duplicate_names_order,
            state: Mutex::new(State {
                balance,
                orders: Vec::new(),
                by_request: HashMap::new(),
                next_provider_id: FIRST_PROVIDER_ID,
                refills: Vec::new(),
                faults: Vec::new(),
                calls: HashMap::new(),
                bulk_batches: Vec::new(),
                debits: 0,
                rng: fastrand::Rng::with_seed(seed),
            }),
        }
    }

    /// Runs `f` under the lock. A panic elsewhere must not wedge the sandbox, so poison is ignored.
    pub(super) fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut guard)
    }
}

/// One order as IA-Café keeps it.
#[derive(Clone, Debug)]
pub(super) struct Order {
    pub id: u64,
    pub provider_id: Option<u64>,
    pub service_id: u64,
    pub service_name: String,
    pub category: String,
    pub link: String,
    pub quantity: u64,
    pub rate: Naira,
    pub amount: Naira,
    pub status: OrderStatus,
    pub start_count: Option<u64>,
    pub remains: u64,
    pub refill: bool,
    pub cancelable: bool,
    pub request_id: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Decided at placement so runs are reproducible for a seed.
    ends_partial: bool,
    step: u8,
}

impl Order {
    /// Still moving: pending, in progress or processing.
    pub(super) fn is_active(&self) -> bool {
        matches!(
            self.status,
            OrderStatus::Pending | OrderStatus::InProgress | OrderStatus::Processing
        )
    }

    /// Refill is possible now: the service refills and delivery has ended.
    pub(super) fn can_refill(&self) -> bool {
        self.refill && matches!(self.status, OrderStatus::Completed | OrderStatus::Partial)
    }

    /// Cancel is possible now: the service cancels and the order is still active.
    pub(super) fn can_cancel(&self) -> bool {
        self.cancelable && self.is_active() && self.provider_id.is_some()
    }

    /// The provider's charge in USD, as text (`"0.975"`).
    pub(super) fn charge_usd(&self) -> String {
        let mut usd = (self.amount.0 / Decimal::from(NGN_PER_USD))
            .round_dp(3)
            .normalize();
        if usd.scale() < 2 {
            usd.rescale(2);
        }
        usd.to_string()
    }
}

/// The provider's spelling of a status: capitalised (`In progress`, `Completed`).
pub(super) fn provider_word(status: &OrderStatus) -> String {
    let word = status.as_str();
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A refill request.
#[derive(Clone, Debug)]
struct Refill {
    status: &'static str,
}

/// An injected fault and how many more requests it hits.
struct FaultRule {
    suffix: String,
    fault: Fault,
    left: u32,
}

/// A validated order, ready to be charged.
pub(super) struct NewOrder<'a> {
    pub request_id: String,
    pub service: &'a Service,
    pub link: String,
    pub quantity: u64,
    pub cost: Naira,
}

/// What placing an order did.
pub(super) enum Placement {
    /// Charged and sent upstream.
    Placed {
        order: Box<Order>,
        initial: Naira,
        after: Naira,
    },
    /// The provider failed: recorded, nothing charged.
    Refunded { order_id: u64 },
}

/// Why an order was not placed.
pub(super) enum PlaceError {
    /// The `request_id` already names this order.
    Duplicate(u64),
    /// The wallet holds less than the cost.
    InsufficientBalance,
}

/// The mutable world.
pub(super) struct State {
    pub balance: Naira,
    orders: Vec<Order>,
    by_request: HashMap<String, u64>,
    next_provider_id: u64,
    refills: Vec<Refill>,
    faults: Vec<FaultRule>,
    calls: HashMap<String, usize>,
    bulk_batches: Vec<usize>,
    debits: usize,
    rng: fastrand::Rng,
}

impl State {
    /// The order with this IA-Café id.
    pub(super) fn order(&self, id: u64) -> Option<&Order> {
        let index = usize::try_from(id.checked_sub(FIRST_ORDER_ID)?).ok()?;
        self.orders.get(index)
    }

    fn order_mut(&mut self, id: u64) -> Option<&mut Order> {
        let index = usize::try_from(id.checked_sub(FIRST_ORDER_ID)?).ok()?;
        self.orders.get_mut(index)
    }

    /// All orders, oldest first.
    pub(super) fn orders(&self) -> &[Order] {
        &self.orders
    }

    /// Number of wallet debits that stood (placements; refunds do not undo the count).
    pub(super) fn debits(&self) -> usize {
        self.debits
    }

    /// The order already placed under `request_id`, if any.
    pub(super) fn existing(&self, request_id: &str) -> Option<u64> {
        self.by_request.get(request_id).copied()
    }

    /// Records, charges and sends an order, unless its `request_id` was used or money is short.
    ///
    /// With `provider_fails`, the order is recorded as `refunded` and the wallet is not touched.
    pub(super) fn place(
        &mut self,
        new: NewOrder<'_>,
        provider_fails: bool,
        now: DateTime<Utc>,
    ) -> Result<Placement, PlaceError> {
        // Checked again under the lock: two identical requests may race past the first check.
        if let Some(id) = self.existing(&new.request_id) {
            return Err(PlaceError::Duplicate(id));
        }
        let initial = self.balance;
        let after = match initial.checked_sub(new.cost) {
            Some(after) if !after.is_negative() => after,
            _ => return Err(PlaceError::InsufficientBalance),
        };
        let id = FIRST_ORDER_ID + self.orders.len() as u64;
        let mut order = Order {
            id,
            provider_id: None,
            service_id: new.service.id,
            service_name: new.service.name.clone(),
            category: new.service.category.clone(),
            link: new.link,
            quantity: new.quantity,
            rate: new.service.rate,
            amount: new.cost,
            status: OrderStatus::Refunded,
            start_count: None,
            remains: new.quantity,
            refill: new.service.refill,
            cancelable: new.service.cancelable,
            request_id: new.request_id.clone(),
            created_at: now,
            updated_at: now,
            ends_partial: self.rng.usize(..6) == 0,
            step: 0,
        };
        self.by_request.insert(new.request_id, id);
        if provider_fails {
            self.orders.push(order);
            return Ok(Placement::Refunded { order_id: id });
        }
        order.provider_id = Some(self.next_provider_id);
        order.status = OrderStatus::Pending;
        self.next_provider_id += 1;
        self.balance = after;
        self.debits += 1;
        self.orders.push(order.clone());
        Ok(Placement::Placed {
            order: Box::new(order),
            initial,
            after,
        })
    }

    /// One progress step for every active order and refill.
    ///
    /// Pending → in progress (start count set) → remains shrink → completed, or partial for
    /// about one order in six, whose undelivered share is refunded.
    pub(super) fn advance(&mut self, now: DateTime<Utc>) {
        let mut refund = Naira::ZERO;
        for i in 0..self.orders.len() {
            let start = self.rng.u64(100..20_000);
            let Some(order) = self.orders.get_mut(i) else {
                continue;
            };
            if !order.is_active() {
                continue;
            }
            order.updated_at = now;
            if order.status == OrderStatus::Pending {
                order.status = OrderStatus::InProgress;
                order.start_count = Some(start);
            }
            order.step = order.step.saturating_add(1);
            let q = order.quantity;
            if order.step < STEPS {
                let left = q - q * u64::from(order.step) / u64::from(STEPS);
                order.remains = order.remains.min(left);
            } else if order.ends_partial && q >= 2 {
                order.status = OrderStatus::Partial;
                order.remains = (q / 5).clamp(1, q - 1).min(order.remains.max(1));
                refund = add(refund, share(order));
            } else {
                order.status = OrderStatus::Completed;
                order.remains = 0;
            }
        }
        self.balance = add(self.balance, refund);
        for refill in &mut self.refills {
            refill.status = match refill.status {
                "Pending" => "In progress",
                _ => "Completed",
            };
        }
    }

    /// Cancels every listed order that can be cancelled, refunding what was not delivered.
    /// Answers the provider ids of the cancelled orders.
    pub(super) fn cancel(&mut self, ids: &[u64], now: DateTime<Utc>) -> Vec<u64> {
        let mut done = Vec::new();
        let mut refund = Naira::ZERO;
        for id in ids {
            let Some(order) = self.order_mut(*id) else {
                continue;
            };
            let Some(provider_id) = order.provider_id.filter(|_| order.can_cancel()) else {
                continue;
            };
            refund = add(refund, share(order));
            order.status = OrderStatus::Cancelled;
            order.updated_at = now;
            done.push(provider_id);
        }
        self.balance = add(self.balance, refund);
        done
    }

    /// Opens a refill for a finished order of a refill service.
    pub(super) fn refill(&mut self, order_id: u64) -> Result<u64, RefillError> {
        let order = self.order(order_id).ok_or(RefillError::UnknownOrder)?;
        if !order.refill {
            return Err(RefillError::ServiceHasNone);
        }
        if !order.can_refill() {
            return Err(RefillError::StillRunning);
        }
        let id = FIRST_REFILL_ID + self.refills.len() as u64;
        self.refills.push(Refill { status: "Pending" });
        Ok(id)
    }

    /// The status word of a refill.
    pub(super) fn refill_status(&self, refill_id: u64) -> Option<&'static str> {
        let index = usize::try_from(refill_id.checked_sub(FIRST_REFILL_ID)?).ok()?;
        self.refills.get(index).map(|r| r.status)
    }

    /// Test hook: forces a status and remains; no money moves.
    pub(super) fn set_status(
        &mut self,
        order_id: u64,
        status: &str,
        remains: u64,
        now: DateTime<Utc>,
    ) {
        if let Some(order) = self.order_mut(order_id) {
            order.status = OrderStatus::parse(status);
            order.remains = remains;
            order.updated_at = now;
            if order.start_count.is_none() && order.status != OrderStatus::Pending {
                order.start_count = Some(1_000);
            }
        } else {
            log::warn!("sandbox: set_status on unknown order {order_id}");
        }
    }

    /// Adds a fault for the next `times` requests whose path ends with `suffix`.
    pub(super) fn inject(&mut self, suffix: &str, fault: Fault, times: u32) {
        if times > 0 {
            self.faults.push(FaultRule {
                suffix: suffix.to_string(),
                fault,
                left: times,
            });
        }
    }

    /// Counts a request and takes the first fault armed for its path.
    pub(super) fn arrive(&mut self, path: &str) -> Option<Fault> {
        *self.calls.entry(path.to_string()).or_default() += 1;
        let index = self.faults.iter().position(|r| path.ends_with(&r.suffix))?;
        let rule = self.faults.get_mut(index)?;
        rule.left = rule.left.saturating_sub(1);
        let fault = rule.fault.clone();
        if rule.left == 0 {
            self.faults.remove(index);
        }
        Some(fault)
    }

    /// Requests seen on paths ending with `suffix`.
    pub(super) fn calls(&self, suffix: &str) -> usize {
        self.calls
            .iter()
            .filter(|(path, _)| path.ends_with(suffix))
            .map(|(_, n)| n)
            .sum()
    }

    /// Records the id count of one bulk status call.
    pub(super) fn record_bulk(&mut self, ids: usize) {
        self.bulk_batches.push(ids);
    }

    /// Id counts of every bulk status call so far.
    pub(super) fn bulk_batches(&self) -> Vec<usize> {
        self.bulk_batches.clone()
    }
}

/// Why a refill was refused.
pub(super) enum RefillError {
    /// No such order.
    UnknownOrder,
    /// The service does not refill.
    ServiceHasNone,
    /// Delivery has not ended yet.
    StillRunning,
}

/// The cost of what an order has not delivered (its `remains`), never more than it paid.
fn share(order: &Order) -> Naira {
    money::cost(order.remains, order.rate).map_or(order.amount, |c| c.min(order.amount))
}

/// Addition that keeps the old value on overflow (a sandbox wallet never gets that big).
fn add(a: Naira, b: Naira) -> Naira {
    a.checked_add(b).unwrap_or(a)
}
