//! Orders: the record, its indexes (per user, by API id, active set, confirmation tokens)
//! and the transactions that create and change them.

use serde::{Deserialize, Serialize};
use sled::Transactional;

use super::keys::{pair_key, pair_second, read_u64, u64_key};
use super::ledger::{LedgerEntry, LedgerKind, LedgerTx, check_amount};
use super::outbox::OutboxEntry;
use super::{Store, StoreError, abort, decode, encode, now, tx_error};
use crate::money::Naira;
use crate::panel::OrderStatus;

/// Where an order stands on our side of the API call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Stored with its request id; the API call is about to be made or in flight.
    Submitting,
    /// The call's outcome is unknown (timeout, duplicate): must be reconciled with the API.
    Unconfirmed,
    /// The API accepted it and gave an order id.
    Placed,
    /// The API refused it for sure; nothing was placed.
    Rejected,
}

/// One customer order, as the bot keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRecord {
    /// Local id, assigned by [`Store::create_pending_order`].
    pub id: u64,
    /// The Telegram user who ordered.
    pub user_id: u64,
    /// The chat to notify.
    pub chat_id: i64,
    /// The idempotency key sent to the API with the order.
    pub request_id: String,
    /// The API's service id.
    pub service_id: u64,
    /// Service name at ordering time.
    pub service_name: String,
    /// Service category at ordering time.
    pub category: String,
    /// The link to promote.
    pub link: String,
    /// Units ordered.
    pub quantity: u64,
    /// Comment lines for custom-comment services.
    pub comments: Option<Vec<String>>,
    /// What the customer is charged.
    pub price: Naira,
    /// The customer's rate per 1,000 units.
    pub unit_rate: Naira,
    /// What the API charged us, once known.
    pub api_cost: Option<Naira>,
    /// Our side of the placement.
    pub phase: Phase,
    /// The API's order id, once placed.
    pub api_order_id: Option<u64>,
    /// The upstream provider's order id, if the API tells it.
    pub provider_order_id: Option<u64>,
    /// The last status seen.
    pub status: OrderStatus,
    /// Units still to deliver, when reported.
    pub remains: Option<u64>,
    /// Whether a refill may be requested.
    pub can_refill: bool,
    /// Whether a cancel may be requested.
    pub can_cancel: bool,
    /// Refill ids requested for this order.
    pub refills: Vec<u64>,
    /// True when the price was taken from the customer's wallet (set by the store).
    pub wallet_debited: bool,
    /// Created, unix seconds.
    pub created_at: i64,
    /// Last changed, unix seconds (set by the store on every change).
    pub updated_at: i64,
}

impl OrderRecord {
    /// True while the tracker must follow the order: not yet settled on our side, or
    /// placed and not in a terminal status.
    pub fn is_active(&self) -> bool {
        match self.phase {
            Phase::Submitting | Phase::Unconfirmed => true,
            Phase::Placed => !self.status.is_terminal(),
            Phase::Rejected => false,
        }
    }
}

impl Store {
    /// Stores a new order for confirmation `token`, charging the wallet, in one transaction.
    ///
    /// If `token` was used before, nothing is written and the existing order comes back
    /// with `false` (a double tap or a redelivered update). Otherwise the order gets a
    /// fresh id; when `debit` is given the customer's wallet is charged that amount
    /// (ledger reference `charge:<order id>`, [`StoreError::InsufficientFunds`] if the
    /// balance is short) and `wallet_debited` is set. Returns the stored order and `true`.
    pub async fn create_pending_order(
        &self,
        token: &str,
        rec: OrderRecord,
        debit: Option<Naira>,
    ) -> Result<(OrderRecord, bool), StoreError> {
        if token.is_empty() {
            return Err(StoreError::EmptyKey {
                what: "confirmation token",
            });
        }
        if let Some(amount) = debit {
            check_amount(amount)?;
            if amount.is_negative() {
                return Err(StoreError::InvalidAmount {
                    amount,
                    reason: "a charge must be positive",
                });
            }
        }
        let mut rec = rec;
        rec.id = self.next_id()?;
        rec.wallet_debited = debit.is_some();
        let charge = match debit {
            Some(amount) => Some(LedgerEntry {
                seq: self.next_id()?,
                user_id: rec.user_id,
                amount: Naira(-amount.0),
                kind: LedgerKind::Charge,
                reference: format!("charge:{}", rec.id),
                reason: None,
                by: None,
                at: now(),
            }),
            None => None,
        };
        let order_key = u64_key(rec.id);
        let order_bytes = encode("order", &rec)?;
        let t = &self.trees;
        let (stored, created) = (
            &t.orders,
            &t.orders_by_user,
            &t.orders_by_api,
            &t.orders_active,
            &t.confirmations,
            &t.ledger,
            &t.balances,
            &t.ledger_refs,
        )
            .transaction(
                |(orders, by_user, by_api, active, confirmations, ledger, balances, refs)| {
                    if let Some(existing) = confirmations.get(token.as_bytes())? {
                        let id = read_u64("confirmations", &existing).or_else(abort)?;
                        let Some(bytes) = orders.get(u64_key(id))? else {
                            return abort(StoreError::not_found("order", id));
                        };
                        let existing: OrderRecord = decode("order", &bytes).or_else(abort)?;
                        return Ok((existing, false));
                    }
                    if let Some(entry) = &charge {
                        LedgerTx {
                            ledger,
                            balances,
                            refs,
                        }
                        .append(entry)?;
                    }
                    orders.insert(&order_key[..], order_bytes.as_slice())?;
                    by_user.insert(&pair_key(rec.user_id, rec.id)[..], &[][..])?;
                    if let Some(api_id) = rec.api_order_id {
                        by_api.insert(&u64_key(api_id)[..], &order_key[..])?;
                    }
                    if rec.is_active() {
                        active.insert(&order_key[..], &[][..])?;
                    }
                    confirmations.insert(token.as_bytes(), &order_key[..])?;
                    Ok((rec.clone(), true))
                },
            )
            .map_err(tx_error)?;
        if created {
            self.flush().await?;
        }
        Ok((stored, created))
    }

    /// The order with local id `id`.
    pub fn get_order(&self, id: u64) -> Result<Option<OrderRecord>, StoreError> {
        match self.trees.orders.get(u64_key(id))? {
            Some(bytes) => decode("order", &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// The order the API knows as `api_id`.
    pub fn order_by_api_id(&self, api_id: u64) -> Result<Option<OrderRecord>, StoreError> {
        match self.trees.orders_by_api.get(u64_key(api_id))? {
            Some(id) => self.get_order(read_u64("orders_by_api", &id)?),
            None => Ok(None),
        }
    }

    /// The order created for confirmation `token`.
    pub fn order_by_token(&self, token: &str) -> Result<Option<OrderRecord>, StoreError> {
        match self.trees.confirmations.get(token.as_bytes())? {
            Some(id) => self.get_order(read_u64("confirmations", &id)?),
            None => Ok(None),
        }
    }

    /// A page of a customer's orders, newest first, and how many they have in all.
    pub fn orders_for_user(
        &self,
        user_id: u64,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<OrderRecord>, usize), StoreError> {
        let prefix = u64_key(user_id);
        let mut total = 0;
        let mut page = Vec::new();
        for item in self.trees.orders_by_user.scan_prefix(prefix).rev() {
            let (key, _) = item?;
            if total >= offset && page.len() < limit {
                let id = pair_second("orders_by_user", &key)?;
                let order = self
                    .get_order(id)?
                    .ok_or_else(|| StoreError::not_found("order", id))?;
                page.push(order);
            }
            total += 1;
        }
        Ok((page, total))
    }

    /// Every order the tracker must follow (see [`OrderRecord::is_active`]), oldest first.
    pub fn active_orders(&self) -> Result<Vec<OrderRecord>, StoreError> {
        self.trees
            .orders_active
            .iter()
            .map(|item| {
                let id = read_u64("orders_active", &item?.0)?;
                self.get_order(id)?
                    .ok_or_else(|| StoreError::not_found("order", id))
            })
            .collect()
    }

    /// Changes an order with `change` in a transaction, keeping the indexes in sync, and
    /// flushes. Returns the order as stored.
    ///
    /// `change` may run more than once (sled retries conflicting transactions), so it must
    /// only edit the record. `id` and `user_id` cannot change; `updated_at` is set here.
    /// Nothing is written when `change` leaves the record as it was.
    pub async fn update_order<F>(&self, id: u64, change: F) -> Result<OrderRecord, StoreError>
    where
        F: Fn(&mut OrderRecord) + Send,
    {
        let at = now();
        let key = u64_key(id);
        let t = &self.trees;
        let (rec, changed) = (&t.orders, &t.orders_by_api, &t.orders_active)
            .transaction(|(orders, by_api, active)| {
                let Some(bytes) = orders.get(key)? else {
                    return abort(StoreError::not_found("order", id));
                };
                let old: OrderRecord = decode("order", &bytes).or_else(abort)?;
                let mut new = old.clone();
                change(&mut new);
                new.id = old.id;
                new.user_id = old.user_id;
                new.updated_at = old.updated_at;
                if new == old {
                    return Ok((old, false));
                }
                new.updated_at = at;
                if old.api_order_id != new.api_order_id {
                    if let Some(api_id) = old.api_order_id {
                        let api_key = u64_key(api_id);
                        // Only drop the mapping if it still points at this order.
                        if by_api.get(api_key)?.as_deref() == Some(&key[..]) {
                            by_api.remove(&api_key[..])?;
                        }
                    }
                    if let Some(api_id) = new.api_order_id {
                        by_api.insert(&u64_key(api_id)[..], &key[..])?;
                    }
                }
                if new.is_active() {
                    active.insert(&key[..], &[][..])?;
                } else {
                    active.remove(&key[..])?;
                }
                orders.insert(&key[..], encode("order", &new).or_else(abort)?)?;
                Ok((new, true))
            })
            .map_err(tx_error)?;
        if changed {
            self.flush().await?;
        }
        Ok(rec)
    }

    /// Records a status report for an order and queues its notifications, atomically.
    ///
    /// `remains: None` means "not reported" and keeps the known value. When neither the
    /// status nor the remains differ from what is stored, nothing is written (the
    /// notifications are dropped) and `false` comes back, so a status seen twice notifies
    /// once. A terminal status takes the order out of the active set. Flushes when written.
    pub async fn record_status_change(
        &self,
        id: u64,
        new_status: OrderStatus,
        remains: Option<u64>,
        outbox: Vec<OutboxEntry>,
    ) -> Result<bool, StoreError> {
        let at = now();
        let key = u64_key(id);
        let mut queued = Vec::with_capacity(outbox.len());
        for mut entry in outbox {
            entry.id = self.next_id()?;
            queued.push((u64_key(entry.id), encode("outbox entry", &entry)?));
        }
        let t = &self.trees;
        let changed = (&t.orders, &t.orders_active, &t.outbox)
            .transaction(|(orders, active, outbox)| {
                let Some(bytes) = orders.get(key)? else {
                    return abort(StoreError::not_found("order", id));
                };
                let mut rec: OrderRecord = decode("order", &bytes).or_else(abort)?;
                let remains = remains.or(rec.remains);
                if rec.status == new_status && rec.remains == remains {
                    return Ok(false);
                }
                rec.status = new_status.clone();
                rec.remains = remains;
                rec.updated_at = at;
                if rec.is_active() {
                    active.insert(&key[..], &[][..])?;
                } else {
                    active.remove(&key[..])?;
                }
                orders.insert(&key[..], encode("order", &rec).or_else(abort)?)?;
                for (k, v) in &queued {
                    outbox.insert(&k[..], v.as_slice())?;
                }
                Ok(true)
            })
            .map_err(tx_error)?;
        if changed {
            self.flush().await?;
        }
        Ok(changed)
    }

    /// Every order created at or after `ts` (unix seconds), oldest id first; for stats.
    pub fn all_orders_since(&self, ts: i64) -> Result<Vec<OrderRecord>, StoreError> {
        let mut found = Vec::new();
        for item in self.trees.orders.iter() {
            let rec: OrderRecord = decode("order", &item?.1)?;
            if rec.created_at >= ts {
                found.push(rec);
            }
        }
        Ok(found)
    }

    /// How many orders exist (counts the tree; linear time).
    pub fn order_count(&self) -> usize {
        self.trees.orders.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testutil::{assert_wallet_consistent, n, reopen, sample_order, temp_store};

    async fn fund(store: &Store, user_id: u64, amount: &str) {
        store
            .apply_ledger(
                user_id,
                n(amount),
                LedgerKind::TopUp,
                &format!("pay:{user_id}:{amount}"),
                None,
                None,
            )
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn same_token_creates_one_order_and_one_charge() {
        let (_dir, store) = temp_store();
        fund(&store, 1, "1000").await;
        let (first, created) = store
            .create_pending_order("tok-1", sample_order(1, "300"), Some(n("300")))
            .await
            .unwrap();
        assert!(created);
        assert!(first.wallet_debited);
        let (again, created) = store
            .create_pending_order("tok-1", sample_order(1, "999"), Some(n("999")))
            .await
            .unwrap();
        assert!(!created);
        assert_eq!(again, first);
        assert_eq!(store.order_count(), 1);
        assert_eq!(store.balance(1).unwrap(), n("700"));
        assert_eq!(store.order_by_token("tok-1").unwrap(), Some(first.clone()));
        let charge = store
            .ledger_by_reference(&format!("charge:{}", first.id))
            .unwrap()
            .unwrap();
        assert_eq!(charge.amount, n("-300"));
        assert_eq!(charge.kind, LedgerKind::Charge);
        assert_wallet_consistent(&store, 1);
    }

    #[tokio::test]
    async fn short_balance_writes_nothing() {
        let (_dir, store) = temp_store();
        fund(&store, 1, "100").await;
        let err = store
            .create_pending_order("tok", sample_order(1, "300"), Some(n("300")))
            .await
            .unwrap_err();
        match err {
            StoreError::InsufficientFunds { balance, needed } => {
                assert_eq!((balance, needed), (n("100"), n("300")));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(store.order_count(), 0);
        assert_eq!(store.order_by_token("tok").unwrap(), None);
        assert!(store.active_orders().unwrap().is_empty());
        assert_eq!(store.balance(1).unwrap(), n("100"));
        assert_wallet_consistent(&store, 1);
    }

    #[tokio::test]
    async fn order_without_debit_leaves_wallet_alone() {
        let (_dir, store) = temp_store();
        let (rec, created) = store
            .create_pending_order("free", sample_order(4, "50"), None)
            .await
            .unwrap();
        assert!(created && !rec.wallet_debited);
        assert_eq!(store.balance(4).unwrap(), Naira::ZERO);
        assert_eq!(store.active_orders().unwrap(), vec![rec]);
        assert_wallet_consistent(&store, 4);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 8)]
    async fn fifty_concurrent_debits_never_overdraw() {
        let (_dir, store) = temp_store();
        fund(&store, 9, "1000").await;
        let tasks: Vec<_> = (0..50)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .create_pending_order(
                            &format!("tok-{i}"),
                            sample_order(9, "30"),
                            Some(n("30")),
                        )
                        .await
                })
            })
            .collect();
        let (mut ok, mut short) = (0, 0);
        for task in tasks {
            match task.await.unwrap() {
                Ok((_, true)) => ok += 1,
                Err(StoreError::InsufficientFunds { .. }) => short += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        // 1000 / 30 = 33 orders fit, leaving 10.
        assert_eq!((ok, short), (33, 17));
        assert_eq!(store.balance(9).unwrap(), n("10"));
        assert_eq!(store.order_count(), 33);
        assert_eq!(store.orders_for_user(9, 0, 100).unwrap().1, 33);
        assert_wallet_consistent(&store, 9);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 8)]
    async fn fifty_concurrent_taps_on_one_token_charge_once() {
        let (_dir, store) = temp_store();
        fund(&store, 3, "1000").await;
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .create_pending_order("same", sample_order(3, "30"), Some(n("30")))
                        .await
                })
            })
            .collect();
        let mut ids = Vec::new();
        let mut created = 0;
        for task in tasks {
            let (rec, now_created) = task.await.unwrap().unwrap();
            ids.push(rec.id);
            created += usize::from(now_created);
        }
        assert_eq!(created, 1);
        ids.dedup();
        assert_eq!(ids.len(), 1);
        assert_eq!(store.balance(3).unwrap(), n("970"));
        assert_wallet_consistent(&store, 3);
    }

    #[tokio::test]
    async fn repeated_status_writes_once_and_terminal_leaves_active_set() {
        let (dir, store) = temp_store();
        let (rec, _) = store
            .create_pending_order("t", sample_order(1, "10"), None)
            .await
            .unwrap();
        let rec = store
            .update_order(rec.id, |r| {
                r.phase = Phase::Placed;
                r.api_order_id = Some(555);
            })
            .await
            .unwrap();
        assert_eq!(store.active_orders().unwrap(), vec![rec.clone()]);

        let note = || vec![OutboxEntry::new(1, "<b>moving</b>", false, Some(rec.id))];
        assert!(
            store
                .record_status_change(rec.id, OrderStatus::InProgress, Some(400), note())
                .await
                .unwrap()
        );
        assert!(
            !store
                .record_status_change(rec.id, OrderStatus::InProgress, Some(400), note())
                .await
                .unwrap()
        );
        // Unreported remains keep the known value and are not a change.
        assert!(
            !store
                .record_status_change(rec.id, OrderStatus::InProgress, None, note())
                .await
                .unwrap()
        );
        assert_eq!(store.outbox_len(), 1);
        assert!(
            store
                .record_status_change(rec.id, OrderStatus::InProgress, Some(100), note())
                .await
                .unwrap()
        );
        assert_eq!(store.outbox_len(), 2);
        assert_eq!(store.active_orders().unwrap().len(), 1);

        assert!(
            store
                .record_status_change(rec.id, OrderStatus::Completed, Some(0), note())
                .await
                .unwrap()
        );
        assert!(
            !store
                .record_status_change(rec.id, OrderStatus::Completed, Some(0), note())
                .await
                .unwrap()
        );
        assert_eq!(store.outbox_len(), 3);
        assert!(store.active_orders().unwrap().is_empty());

        let store = reopen(&dir, store);
        let done = store.order_by_api_id(555).unwrap().unwrap();
        assert_eq!(
            (done.status, done.remains),
            (OrderStatus::Completed, Some(0))
        );
        assert!(store.active_orders().unwrap().is_empty());
        assert_eq!(store.outbox_len(), 3);
    }

    #[tokio::test]
    async fn status_change_of_unknown_order_is_not_found() {
        let (_dir, store) = temp_store();
        let err = store
            .record_status_change(
                42,
                OrderStatus::Completed,
                None,
                vec![OutboxEntry::new(1, "x", false, None)],
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound { what: "order", .. }));
        assert_eq!(store.outbox_len(), 0);
    }

    #[tokio::test]
    async fn update_order_keeps_indexes_in_sync() {
        let (_dir, store) = temp_store();
        let (rec, _) = store
            .create_pending_order("t", sample_order(2, "10"), None)
            .await
            .unwrap();
        store
            .update_order(rec.id, |r| {
                r.phase = Phase::Placed;
                r.api_order_id = Some(77);
            })
            .await
            .unwrap();
        assert_eq!(store.order_by_api_id(77).unwrap().unwrap().id, rec.id);
        let moved = store
            .update_order(rec.id, |r| {
                r.api_order_id = Some(78);
                r.user_id = 999; // ignored: ownership never changes
            })
            .await
            .unwrap();
        assert_eq!(moved.user_id, 2);
        assert_eq!(store.order_by_api_id(77).unwrap(), None);
        assert_eq!(store.order_by_api_id(78).unwrap().unwrap().id, rec.id);
        store
            .update_order(rec.id, |r| r.status = OrderStatus::Failed)
            .await
            .unwrap();
        assert!(store.active_orders().unwrap().is_empty());
        let (rejected, _) = store
            .create_pending_order("t2", sample_order(2, "10"), None)
            .await
            .unwrap();
        store
            .update_order(rejected.id, |r| r.phase = Phase::Rejected)
            .await
            .unwrap();
        assert!(store.active_orders().unwrap().is_empty());
        let err = store.update_order(12345, |_| {}).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound { .. }));
    }

    #[tokio::test]
    async fn orders_for_user_pages_newest_first() {
        let (_dir, store) = temp_store();
        let mut mine = Vec::new();
        for i in 0..5 {
            let (rec, _) = store
                .create_pending_order(&format!("a{i}"), sample_order(1, "10"), None)
                .await
                .unwrap();
            mine.push(rec.id);
            store
                .create_pending_order(&format!("b{i}"), sample_order(2, "10"), None)
                .await
                .unwrap();
        }
        mine.reverse();
        let ids = |offset, limit| {
            let (page, total) = store.orders_for_user(1, offset, limit).unwrap();
            assert_eq!(total, 5);
            page.into_iter().map(|r| r.id).collect::<Vec<_>>()
        };
        assert_eq!(ids(0, 2), mine[0..2]);
        assert_eq!(ids(2, 2), mine[2..4]);
        assert_eq!(ids(4, 2), mine[4..]);
        assert!(ids(6, 2).is_empty());
        assert_eq!(store.orders_for_user(3, 0, 10).unwrap(), (vec![], 0));
        assert_eq!(store.order_count(), 10);
    }

    #[test]
    fn writer_futures_can_be_spawned() {
        fn spawnable<T: Send + 'static>(_: &T) {}
        let (_dir, store) = temp_store();
        let s = store.clone();
        spawnable(&async move { s.update_order(1, |r| r.can_refill = true).await });
        let s = store.clone();
        spawnable(&async move {
            s.record_status_change(1, OrderStatus::Completed, None, vec![])
                .await
        });
        let s = store.clone();
        spawnable(&async move { s.refund_order_once(1, Naira::from_kobo(1), "x").await });
        let s = store.clone();
        spawnable(&async move { s.enqueue(vec![]).await });
        spawnable(&async move { store.meta_set("k", &1u8).await });
    }

    #[tokio::test]
    async fn orders_since_filters_by_creation_time() {
        let (_dir, store) = temp_store();
        for (token, at) in [("old", 100), ("new", 200)] {
            let mut rec = sample_order(1, "10");
            rec.created_at = at;
            store.create_pending_order(token, rec, None).await.unwrap();
        }
        let recent = store.all_orders_since(150).unwrap();
        assert_eq!(recent.len(), 1);
        assert_eq!(recent[0].created_at, 200);
        assert_eq!(store.all_orders_since(0).unwrap().len(), 2);
    }
}
