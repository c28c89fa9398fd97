//! The one error type of the store.

use std::path::PathBuf;

use crate::money::Naira;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database itself failed (disk, corruption, IO); retrying later may help.
    #[error("database error: {0}")]
    Sled(#[from] sled::Error),
    /// The background flush task panicked or was cancelled; the data may not be durable.
    #[error("flush did not finish: {0}")]
    FlushInterrupted(String),
    /// The data directory could not be created.
    #[error("cannot create data directory {path}: {source}")]
    Io {
        /// The directory asked for.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// A stored value could not be written or read as JSON (a bug or a corrupt record).
    #[error("stored {what} could not be encoded or decoded: {source}")]
    Encoding {
        /// Which kind of record.
        what: &'static str,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
    /// A key in a tree has the wrong length or shape (corrupt database).
    #[error("corrupt key in tree {tree}")]
    CorruptKey {
        /// The tree holding the key.
        tree: &'static str,
    },
    /// The wallet does not hold enough for a debit; nothing was written.
    #[error("insufficient funds: balance {balance}, needed {needed}")]
    InsufficientFunds {
        /// The balance at the time of the attempt.
        balance: Naira,
        /// The amount the debit needed.
        needed: Naira,
    },
    /// An amount was zero, not whole kobo, or of the wrong sign.
    #[error("invalid amount {amount}: {reason}")]
    InvalidAmount {
        /// The amount given.
        amount: Naira,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A reference or token that makes a write idempotent was empty.
    #[error("{what} must not be empty")]
    EmptyKey {
        /// Which key (`ledger reference`, `confirmation token`).
        what: &'static str,
    },
    /// A refund would return more than the order's price.
    #[error("refund of {requested} on order {order_id} exceeds the refundable {refundable}")]
    RefundExceedsPrice {
        /// The local order id.
        order_id: u64,
        /// The amount asked for.
        requested: Naira,
        /// What is still refundable (price minus earlier refunds).
        refundable: Naira,
    },
    /// Arithmetic on amounts overflowed.
    #[error("amount overflow")]
    Overflow,
    /// The record asked for does not exist.
    #[error("{what} {key} not found")]
    NotFound {
        /// Which kind of record.
        what: &'static str,
        /// Its key, as text.
        key: String,
    },
}

impl StoreError {
    /// Shorthand for [`StoreError::NotFound`].
    pub(crate) fn not_found(what: &'static str, key: impl ToString) -> Self {
        StoreError::NotFound {
            what,
            key: key.to_string(),
        }
    }
}
