//! The wallet: an append-only ledger per customer, cached balances, at-most-once references.

use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::TransactionalTree;

use super::keys::{pair_key, u64_key};
use super::outbox::OutboxEntry;
use super::{Store, StoreError, TxResult, abort, decode, encode, now, tx_error};
use crate::money::Naira;

/// Why money moved in or out of a wallet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerKind {
    /// Money paid in (e.g. Telegram Stars converted to naira).
    TopUp,
    /// An order paid from the wallet.
    Charge,
    /// Money returned for an order that was not (fully) delivered.
    Refund,
    /// A manual correction by an admin.
    Adjustment,
    /// A top-up reversed because its Stars payment was refunded.
    StarsRefund,
    /// Play money granted in sandbox mode.
    SandboxCredit,
}

/// One movement of money in a customer's wallet. Entries are never changed or removed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// Position in the ledger, unique across all users and increasing with time.
    pub seq: u64,
    /// The customer whose wallet moved.
    pub user_id: u64,
    /// Signed amount: positive credits the wallet, negative debits it.
    pub amount: Naira,
    /// Why the money moved.
    pub kind: LedgerKind,
    /// A unique reference (`charge:<order id>`, `refund:<order id>:<reason>`, a payment id…);
    /// the store applies each reference at most once.
    pub reference: String,
    /// A human-readable reason (admin adjustments, refund causes).
    pub reason: Option<String>,
    /// The admin who made the change, for manual entries.
    pub by: Option<u64>,
    /// When it was recorded, unix seconds.
    pub at: i64,
}

/// The three ledger trees as seen inside a transaction.
pub(super) struct LedgerTx<'a> {
    pub ledger: &'a TransactionalTree,
    pub balances: &'a TransactionalTree,
    pub refs: &'a TransactionalTree,
}

impl LedgerTx<'_> {
    /// Appends `entry` unless its reference was used before (then `None`).
    ///
    /// Aborts with `InsufficientFunds` when a debit would take the balance below zero.
    pub fn append(&self, entry: &LedgerEntry) -> TxResult<Option<LedgerEntry>> {
        if self.refs.get(entry.reference.as_bytes())?.is_some() {
            return Ok(None);
        }
        let user_key = u64_key(entry.user_id);
        let balance = match self.balances.get(user_key)? {
            Some(bytes) => decode::<Naira>("balance", &bytes).or_else(abort)?,
            None => Naira::ZERO,
        };
        let Some(after) = balance.checked_add(entry.amount) else {
            return abort(StoreError::Overflow);
        };
        if after.is_negative() {
            return abort(StoreError::InsufficientFunds {
                balance,
                needed: Naira(-entry.amount.0),
            });
        }
        let key = pair_key(entry.user_id, entry.seq);
        self.ledger
            .insert(&key[..], encode("ledger entry", entry).or_else(abort)?)?;
        self.balances
            .insert(&user_key[..], encode("balance", &after).or_else(abort)?)?;
        self.refs.insert(entry.reference.as_bytes(), &key[..])?;
        Ok(Some(entry.clone()))
    }
}

/// Rejects amounts the ledger must never hold: zero or finer than a kobo.
pub(super) fn check_amount(amount: Naira) -> Result<(), StoreError> {
    if amount.0.is_zero() {
        return Err(StoreError::InvalidAmount {
            amount,
            reason: "must not be zero",
        });
    }
    if amount.round_kobo() != amount {
        return Err(StoreError::InvalidAmount {
            amount,
            reason: "must be whole kobo",
        });
    }
    Ok(())
}

impl Store {
    /// Applies one wallet movement in a transaction and flushes it to disk.
    ///
    /// Returns `None` (and writes nothing) when `reference` was applied before, so a
    /// redelivered payment or a repeated admin command moves money once. A debit that would
    /// take the balance below zero fails with [`StoreError::InsufficientFunds`].
    pub async fn apply_ledger(
        &self,
        user_id: u64,
        amount: Naira,
        kind: LedgerKind,
        reference: &str,
        reason: Option<&str>,
        by: Option<u64>,
    ) -> Result<Option<LedgerEntry>, StoreError> {
        self.apply_ledger_notify(user_id, amount, kind, reference, reason, by, |_| None)
            .await
    }

    /// [`Store::apply_ledger`] that also queues the customer's notice in the same transaction,
    /// so money never moves without its message. `notice` gets the balance after the entry
    /// (it may run more than once: it must only build the message).
    #[allow(clippy::too_many_arguments)]
    pub async fn apply_ledger_notify<F>(
        &self,
        user_id: u64,
        amount: Naira,
        kind: LedgerKind,
        reference: &str,
        reason: Option<&str>,
        by: Option<u64>,
        notice: F,
    ) -> Result<Option<LedgerEntry>, StoreError>
    where
        F: Fn(Naira) -> Option<OutboxEntry>,
    {
        check_amount(amount)?;
        if reference.is_empty() {
            return Err(StoreError::EmptyKey {
                what: "ledger reference",
            });
        }
        let entry = LedgerEntry {
            seq: self.next_id()?,
            user_id,
            amount,
            kind,
            reference: reference.to_string(),
            reason: reason.map(str::to_string),
            by,
            at: now(),
        };
        let notice_id = self.next_id()?;
        let t = &self.trees;
        let applied = (&t.ledger, &t.balances, &t.ledger_refs, &t.outbox)
            .transaction(|(ledger, balances, refs, outbox)| {
                let applied = LedgerTx {
                    ledger,
                    balances,
                    refs,
                }
                .append(&entry)?;
                if applied.is_some() {
                    let after = match balances.get(u64_key(user_id))? {
                        Some(bytes) => decode::<Naira>("balance", &bytes).or_else(abort)?,
                        None => Naira::ZERO,
                    };
                    if let Some(mut message) = notice(after) {
                        message.id = notice_id;
                        outbox.insert(
                            &u64_key(notice_id)[..],
                            encode("outbox entry", &message).or_else(abort)?,
                        )?;
                    }
                }
                Ok(applied)
            })
            .map_err(tx_error)?;
        if applied.is_some() {
            self.flush().await?;
        }
        Ok(applied)
    }

    /// A customer's current wallet balance (zero if they never had an entry).
    pub fn balance(&self, user_id: u64) -> Result<Naira, StoreError> {
        match self.trees.balances.get(u64_key(user_id))? {
            Some(bytes) => decode("balance", &bytes),
            None => Ok(Naira::ZERO),
        }
    }

    /// A customer's latest `limit` ledger entries, newest first.
    pub fn ledger(&self, user_id: u64, limit: usize) -> Result<Vec<LedgerEntry>, StoreError> {
        self.trees
            .ledger
            .scan_prefix(u64_key(user_id))
            .rev()
            .take(limit)
            .map(|item| decode("ledger entry", &item?.1))
            .collect()
    }

    /// The entry that used `reference`, if any.
    pub fn ledger_by_reference(&self, reference: &str) -> Result<Option<LedgerEntry>, StoreError> {
        let Some(key) = self.trees.ledger_refs.get(reference.as_bytes())? else {
            return Ok(None);
        };
        match self.trees.ledger.get(key)? {
            Some(bytes) => decode("ledger entry", &bytes).map(Some),
            None => Err(StoreError::not_found(
                "ledger entry for reference",
                reference,
            )),
        }
    }

    /// The balance recomputed from every ledger entry (a consistency check; slow).
    pub fn ledger_sum(&self, user_id: u64) -> Result<Naira, StoreError> {
        let mut sum = Naira::ZERO;
        for item in self.trees.ledger.scan_prefix(u64_key(user_id)) {
            let entry: LedgerEntry = decode("ledger entry", &item?.1)?;
            sum = sum.checked_add(entry.amount).ok_or(StoreError::Overflow)?;
        }
        Ok(sum)
    }

    /// The sum of all customers' cached balances: what the shop owes its customers.
    pub fn total_customer_balances(&self) -> Result<Naira, StoreError> {
        let mut sum = Naira::ZERO;
        for item in self.trees.balances.iter() {
            let balance: Naira = decode("balance", &item?.1)?;
            sum = sum.checked_add(balance).ok_or(StoreError::Overflow)?;
        }
        Ok(sum)
    }

    /// Credits `amount` back to the order's customer at most once per `(order, reason)`.
    ///
    /// Uses reference `refund:<order id>:<reason>`; returns `None` when that refund was
    /// already applied. The order's refunded total is kept in the same transaction
    /// (see [`Store::order_refunded`]) and all refunds of an order together never exceed
    /// its price ([`StoreError::RefundExceedsPrice`]).
    pub async fn refund_order_once(
        &self,
        order_id: u64,
        amount: Naira,
        reason: &str,
    ) -> Result<Option<LedgerEntry>, StoreError> {
        check_amount(amount)?;
        if amount.is_negative() {
            return Err(StoreError::InvalidAmount {
                amount,
                reason: "a refund must be positive",
            });
        }
        let seq = self.next_id()?;
        let at = now();
        let reference = format!("refund:{order_id}:{reason}");
        let order_key = u64_key(order_id);
        let t = &self.trees;
        let applied = (
            &t.orders,
            &t.order_refunds,
            &t.ledger,
            &t.balances,
            &t.ledger_refs,
        )
            .transaction(|(orders, refunds, ledger, balances, refs)| {
                if refs.get(reference.as_bytes())?.is_some() {
                    return Ok(None);
                }
                let Some(bytes) = orders.get(order_key)? else {
                    return abort(StoreError::not_found("order", order_id));
                };
                let mut order: super::OrderRecord = decode("order", &bytes).or_else(abort)?;
                let refunded = match refunds.get(order_key)? {
                    Some(b) => decode::<Naira>("refund total", &b).or_else(abort)?,
                    None => Naira::ZERO,
                };
                let Some(refundable) = order.price.checked_sub(refunded) else {
                    return abort(StoreError::Overflow);
                };
                if amount > refundable {
                    return abort(StoreError::RefundExceedsPrice {
                        order_id,
                        requested: amount,
                        refundable,
                    });
                }
                let entry = LedgerEntry {
                    seq,
                    user_id: order.user_id,
                    amount,
                    kind: LedgerKind::Refund,
                    reference: reference.clone(),
                    reason: Some(reason.to_string()),
                    by: None,
                    at,
                };
                let appended = LedgerTx {
                    ledger,
                    balances,
                    refs,
                }
                .append(&entry)?;
                let Some(total) = refunded.checked_add(amount) else {
                    return abort(StoreError::Overflow);
                };
                refunds.insert(
                    &order_key[..],
                    encode("refund total", &total).or_else(abort)?,
                )?;
                order.updated_at = at;
                orders.insert(&order_key[..], encode("order", &order).or_else(abort)?)?;
                Ok(appended)
            })
            .map_err(tx_error)?;
        if applied.is_some() {
            self.flush().await?;
        }
        Ok(applied)
    }

    /// The total refunded to the wallet for an order so far.
    pub fn order_refunded(&self, order_id: u64) -> Result<Naira, StoreError> {
        match self.trees.order_refunds.get(u64_key(order_id))? {
            Some(bytes) => decode("refund total", &bytes),
            None => Ok(Naira::ZERO),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testutil::{assert_wallet_consistent, n, reopen, sample_order, temp_store};

    #[tokio::test]
    async fn reference_applies_once_even_after_reopen() {
        let (dir, store) = temp_store();
        let first = store
            .apply_ledger(1, n("500"), LedgerKind::TopUp, "stars:abc", None, None)
            .await
            .unwrap();
        assert!(first.is_some());
        let again = store
            .apply_ledger(1, n("500"), LedgerKind::TopUp, "stars:abc", None, None)
            .await
            .unwrap();
        assert_eq!(again, None);
        let store = reopen(&dir, store);
        let after_restart = store
            .apply_ledger(1, n("500"), LedgerKind::TopUp, "stars:abc", None, None)
            .await
            .unwrap();
        assert_eq!(after_restart, None);
        assert_eq!(store.balance(1).unwrap(), n("500"));
        assert_eq!(store.ledger_by_reference("stars:abc").unwrap(), first);
        assert_wallet_consistent(&store, 1);
    }

    #[tokio::test]
    async fn a_notice_is_queued_with_the_money_and_only_once() {
        let (_dir, store) = temp_store();
        let notice = |balance: Naira| {
            Some(OutboxEntry::new(
                7,
                format!("balance now {balance}"),
                false,
                None,
            ))
        };
        for _ in 0..2 {
            store
                .apply_ledger_notify(
                    7,
                    n("250"),
                    LedgerKind::Adjustment,
                    "adj:7:1",
                    None,
                    Some(1),
                    notice,
                )
                .await
                .unwrap();
        }
        let queued = store.pending_outbox(10).unwrap();
        assert_eq!(queued.len(), 1, "a repeated reference queues nothing more");
        assert_eq!(queued[0].text, "balance now ₦250.00");
        // A refused debit moves no money and queues no notice.
        let err = store
            .apply_ledger_notify(
                7,
                n("-999"),
                LedgerKind::Adjustment,
                "adj:7:2",
                None,
                Some(1),
                notice,
            )
            .await;
        assert!(matches!(err, Err(StoreError::InsufficientFunds { .. })));
        assert_eq!(store.pending_outbox(10).unwrap().len(), 1);
        assert_wallet_consistent(&store, 7);
    }

    #[tokio::test]
    async fn debits_never_go_negative() {
        let (_dir, store) = temp_store();
        store
            .apply_ledger(2, n("100"), LedgerKind::SandboxCredit, "s:1", None, None)
            .await
            .unwrap();
        let err = store
            .apply_ledger(
                2,
                n("-100.01"),
                LedgerKind::Adjustment,
                "adj:1",
                Some("typo"),
                Some(77),
            )
            .await
            .unwrap_err();
        match err {
            StoreError::InsufficientFunds { balance, needed } => {
                assert_eq!((balance, needed), (n("100"), n("100.01")));
            }
            other => panic!("unexpected {other:?}"),
        }
        let adj = store
            .apply_ledger(
                2,
                n("-100"),
                LedgerKind::Adjustment,
                "adj:1",
                Some("typo"),
                Some(77),
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!((adj.by, adj.reason.as_deref()), (Some(77), Some("typo")));
        assert_eq!(store.balance(2).unwrap(), Naira::ZERO);
        assert_wallet_consistent(&store, 2);
    }

    #[tokio::test]
    async fn rejects_zero_fractional_kobo_and_empty_reference() {
        let (_dir, store) = temp_store();
        for (amount, reference) in [("0", "r"), ("1.005", "r")] {
            let err = store
                .apply_ledger(1, n(amount), LedgerKind::TopUp, reference, None, None)
                .await
                .unwrap_err();
            assert!(matches!(err, StoreError::InvalidAmount { .. }), "{amount}");
        }
        let err = store
            .apply_ledger(1, n("1"), LedgerKind::TopUp, "", None, None)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::EmptyKey { .. }));
        assert_eq!(store.ledger(1, 10).unwrap(), vec![]);
        assert_wallet_consistent(&store, 1);
    }

    #[tokio::test]
    async fn ledger_lists_newest_first_and_totals_all_customers() {
        let (_dir, store) = temp_store();
        for (i, amount) in ["10", "20", "30"].iter().enumerate() {
            store
                .apply_ledger(
                    5,
                    n(amount),
                    LedgerKind::TopUp,
                    &format!("p{i}"),
                    None,
                    None,
                )
                .await
                .unwrap();
        }
        store
            .apply_ledger(6, n("1.50"), LedgerKind::TopUp, "q", None, None)
            .await
            .unwrap();
        let amounts: Vec<_> = store
            .ledger(5, 2)
            .unwrap()
            .into_iter()
            .map(|e| e.amount)
            .collect();
        assert_eq!(amounts, vec![n("30"), n("20")]);
        assert_eq!(store.total_customer_balances().unwrap(), n("61.50"));
        assert_wallet_consistent(&store, 5);
        assert_wallet_consistent(&store, 6);
    }

    #[tokio::test]
    async fn refund_applies_once_per_reason_and_survives_reopen() {
        let (dir, store) = temp_store();
        store
            .apply_ledger(1, n("1000"), LedgerKind::TopUp, "pay", None, None)
            .await
            .unwrap();
        let (order, _) = store
            .create_pending_order("tok", sample_order(1, "500"), Some(n("500")))
            .await
            .unwrap();
        let refund = store
            .refund_order_once(order.id, n("200"), "partial")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(refund.reference, format!("refund:{}:partial", order.id));
        assert_eq!(refund.kind, LedgerKind::Refund);
        assert_eq!(
            store
                .refund_order_once(order.id, n("200"), "partial")
                .await
                .unwrap(),
            None
        );

        let store = reopen(&dir, store);
        assert_eq!(
            store
                .refund_order_once(order.id, n("200"), "partial")
                .await
                .unwrap(),
            None
        );
        assert_eq!(store.balance(1).unwrap(), n("700"));
        assert_eq!(store.order_refunded(order.id).unwrap(), n("200"));
        assert_wallet_consistent(&store, 1);

        // A second reason cannot return more than the price in total.
        let err = store
            .refund_order_once(order.id, n("400"), "failed")
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::RefundExceedsPrice { refundable, .. } if refundable == n("300"))
        );
        store
            .refund_order_once(order.id, n("300"), "failed")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(store.balance(1).unwrap(), n("1000"));
        assert_eq!(store.order_refunded(order.id).unwrap(), n("500"));
        assert_wallet_consistent(&store, 1);

        let err = store
            .refund_order_once(999_999, n("1"), "x")
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound { .. }));
    }
}
