//! Durable state in sled: orders, users, dialogues, wallet ledger and the notification outbox.
//!
//! Every value is JSON; every numeric key is big-endian so sled's byte order is numeric order.
//! Changes that touch several trees run in one sled transaction whose closure does no IO
//! (sled may run it more than once), and every async writer flushes before it returns so a
//! kill cannot lose money, orders or pending notifications that a user was already told about.
//!
//! Flushing does not use sled's `flush_async`: with concurrent callers it deadlocks in sled
//! 0.34 (spacejam/sled#1308, #1241; reproduced by this module's 50-task test), because the
//! waiting flushes fill sled's small IO threadpool. [`Store::flush`] runs one blocking
//! `Db::flush` at a time on tokio's blocking pool instead.

mod dialogue;
mod error;
mod keys;
mod ledger;
mod meta;
mod orders;
mod outbox;
mod users;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use serde::de::DeserializeOwned;
use sled::transaction::{ConflictableTransactionError, TransactionError};

pub use dialogue::SledDialogues;
pub use error::StoreError;
pub use ledger::{LedgerEntry, LedgerKind};
pub use orders::{OrderRecord, Phase};
pub use outbox::OutboxEntry;
pub use users::UserRecord;

/// The result of a step inside a sled transaction closure.
type TxResult<T> = Result<T, ConflictableTransactionError<StoreError>>;

/// The bot's database: a sled `Db` and its named trees. Cheap to clone (handles are shared).
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    trees: Trees,
    /// One flush at a time, shared by concurrent writers (see the module docs for why).
    flush: Arc<FlushQueue>,
}

/// Handles of every tree, opened once.
#[derive(Clone)]
struct Trees {
    /// order id → `OrderRecord`.
    orders: sled::Tree,
    /// user id ‖ order id → empty (per-user listing).
    orders_by_user: sled::Tree,
    /// API order id → local order id.
    orders_by_api: sled::Tree,
    /// local order id → empty, for orders the tracker still has to follow.
    orders_active: sled::Tree,
    /// confirmation token → local order id (makes a double tap create one order).
    confirmations: sled::Tree,
    /// order id → total refunded to the wallet (`Naira`).
    order_refunds: sled::Tree,
    /// user id ‖ seq → `LedgerEntry`.
    ledger: sled::Tree,
    /// user id → cached balance (`Naira`).
    balances: sled::Tree,
    /// reference → user id ‖ seq of the entry that used it.
    ledger_refs: sled::Tree,
    /// outbox id → `OutboxEntry`.
    outbox: sled::Tree,
    /// user id → `UserRecord`.
    users: sled::Tree,
    /// name → any JSON value.
    meta: sled::Tree,
    /// chat id → dialogue state JSON.
    dialogues: sled::Tree,
}

/// sled's page cache for the bot: its working set (active orders, recent customers) is small,
/// and sled's own default (about 1 GiB) lets a full scan grow the process far past that.
pub const DEFAULT_CACHE_BYTES: u64 = 16 << 20;

impl Store {
    /// Opens (creating if needed) the database in directory `dir`.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        Store::open_with(dir, Some(DEFAULT_CACHE_BYTES))
    }

    /// [`Store::open`] with sled's page cache limited to `cache_bytes` (sled's own default,
    /// about 1 GiB, when `None`). The cache fills as pages are read, so whole-tree scans
    /// grow the process up to this much.
    pub fn open_with(dir: &Path, cache_bytes: Option<u64>) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut config = sled::Config::new().path(dir);
        if let Some(bytes) = cache_bytes {
            config = config.cache_capacity(bytes);
        }
        let db = config.open()?;
        let trees = Trees {
            orders: db.open_tree("orders")?,
            orders_by_user: db.open_tree("orders_by_user")?,
            orders_by_api: db.open_tree("orders_by_api")?,
            orders_active: db.open_tree("orders_active")?,
            confirmations: db.open_tree("confirmations")?,
            order_refunds: db.open_tree("order_refunds")?,
            ledger: db.open_tree("ledger")?,
            balances: db.open_tree("balances")?,
            ledger_refs: db.open_tree("ledger_refs")?,
            outbox: db.open_tree("outbox")?,
            users: db.open_tree("users")?,
            meta: db.open_tree("meta")?,
            dialogues: db.open_tree("dialogues")?,
        };
        Ok(Store {
            db,
            trees,
            flush: Arc::new(FlushQueue::default()),
        })
    }

    /// Writes everything buffered to disk; returns once it is durable (fsynced).
    ///
    /// Must run inside a tokio runtime. Covers every write made before the call.
    pub async fn flush(&self) -> Result<(), StoreError> {
        // Group commit: every caller takes a ticket after its writes; one fsync covers every
        // ticket taken before it started, so concurrent writers share flushes.
        let ticket = self.flush.requested.fetch_add(1, Ordering::SeqCst) + 1;
        // Waiting here rather than in sled keeps sled's IO threads free to finish the write.
        let mut done = self.flush.done.lock().await;
        if *done >= ticket {
            return Ok(());
        }
        let covers = self.flush.requested.load(Ordering::SeqCst);
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || db.flush())
            .await
            .map_err(|e| StoreError::FlushInterrupted(e.to_string()))??;
        *done = covers;
        Ok(())
    }

    /// The underlying sled database, for maintenance and tests.
    pub fn db(&self) -> &sled::Db {
        &self.db
    }

    /// A fresh id, unique for the life of the database (monotonic, may skip numbers).
    fn next_id(&self) -> Result<u64, StoreError> {
        Ok(self.db.generate_id()?)
    }
}

/// Flush tickets: how many were asked for, and up to which one the disk is known to hold.
#[derive(Default)]
struct FlushQueue {
    requested: AtomicU64,
    done: tokio::sync::Mutex<u64>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

/// Serialises a value to stored JSON bytes.
fn encode<T: Serialize + ?Sized>(what: &'static str, value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|source| StoreError::Encoding { what, source })
}

/// Parses stored JSON bytes.
fn decode<T: DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|source| StoreError::Encoding { what, source })
}

/// Ends a transaction from inside its closure with one of our errors.
fn abort<T>(err: StoreError) -> TxResult<T> {
    Err(ConflictableTransactionError::Abort(err))
}

/// Turns a finished transaction's error back into one `StoreError`.
fn tx_error(err: TransactionError<StoreError>) -> StoreError {
    match err {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => StoreError::Sled(e),
    }
}

/// Now, in unix seconds.
fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Helpers shared by the store's unit tests.

    use std::str::FromStr;
    use std::time::{Duration, Instant};

    use rust_decimal::Decimal;

    use super::{OrderRecord, Phase, Store, StoreError};
    use crate::money::Naira;
    use crate::panel::OrderStatus;

    /// A store in a fresh temporary directory (kept alive by the returned guard).
    pub fn temp_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        (dir, store)
    }

    /// Reopens the database at `dir` after dropping `store`.
    ///
    /// sled's background threads release the file lock a moment after the last handle
    /// drops, so this polls until the open succeeds or a deadline passes.
    pub fn reopen(dir: &tempfile::TempDir, store: Store) -> Store {
        drop(store);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match Store::open(dir.path()) {
                Ok(store) => return store,
                Err(StoreError::Sled(sled::Error::Io(e))) if Instant::now() < deadline => {
                    assert!(e.to_string().contains("lock"), "unexpected open error: {e}");
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("reopen failed: {e}"),
            }
        }
    }

    /// Naira from a decimal literal.
    pub fn n(s: &str) -> Naira {
        Naira(Decimal::from_str(s).unwrap())
    }

    /// A fresh order for `user_id` priced `price`, about to be submitted.
    pub fn sample_order(user_id: u64, price: &str) -> OrderRecord {
        OrderRecord {
            id: 0,
            user_id,
            chat_id: user_id as i64,
            request_id: format!("req-{user_id}-{price}"),
            service_id: 7,
            service_name: "Instagram Followers".into(),
            category: "Instagram".into(),
            link: "https://instagram.com/someone".into(),
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
            can_cancel: false,
            refills: Vec::new(),
            wallet_debited: false,
            created_at: 1_700_000_000,
            updated_at: 1_700_000_000,
        }
    }

    /// The wallet invariant every test checks: the cached balance equals the ledger's sum,
    /// and it is never negative.
    pub fn assert_wallet_consistent(store: &Store, user_id: u64) {
        let balance = store.balance(user_id).unwrap();
        assert_eq!(store.ledger_sum(user_id).unwrap(), balance);
        assert!(!balance.is_negative(), "negative balance {balance}");
    }
}
