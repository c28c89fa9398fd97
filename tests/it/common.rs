//! Test harness: a sandbox panel on loopback, a temporary store, and a shop wired to both.

// Each test module uses a different part of the harness.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use smm_storefront::bot::{Shop, State};
use smm_storefront::config::Config;
use smm_storefront::panel::{ApiKey, Client, ClientOptions};
use smm_storefront::sandbox::{Sandbox, SandboxConfig};
use smm_storefront::store::{SledDialogues, Store};
use teloxide::dispatching::dialogue::{ErasedStorage, Storage};

/// A token of the right shape; never sent anywhere but loopback fakes.
pub const TEST_TOKEN: &str = "1234567:FAKE_token_for_loopback_tests_only";

/// A configuration for tests, with `extra` variables on top of the defaults.
pub fn config(data_dir: &Path, extra: &[(&str, &str)]) -> Config {
    let mut vars: HashMap<String, String> = HashMap::new();
    vars.insert("TELOXIDE_TOKEN".into(), TEST_TOKEN.into());
    vars.insert("DATA_DIR".into(), data_dir.display().to_string());
    vars.insert("POLL_INTERVAL_SECS".into(), "1".into());
    for (k, v) in extra {
        vars.insert((*k).into(), (*v).into());
    }
    Config::from_lookup(|k| vars.get(k).cloned()).expect("test configuration is valid")
}

/// Client options that fail fast, so fault tests stay short.
pub fn fast_client_options() -> ClientOptions {
    ClientOptions {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(2),
        read_retries: 2,
        retry_base: Duration::from_millis(20),
    }
}

/// A sandbox, a store in a temporary folder, and the shop over them.
pub struct Harness {
    /// The simulated IA-Café.
    pub sandbox: Sandbox,
    /// The shop context handlers receive.
    pub shop: Arc<Shop>,
    /// Sled-backed dialogue storage.
    pub storage: Arc<ErasedStorage<State>>,
    /// The store (also inside `shop`).
    pub store: Store,
    /// Keeps the data folder alive.
    pub dir: tempfile::TempDir,
}

impl Harness {
    /// A harness with the standard catalog and default settings.
    pub async fn new() -> Harness {
        Harness::with(SandboxConfig::default(), &[]).await
    }

    /// A harness with a given sandbox and extra configuration variables.
    pub async fn with(sandbox_cfg: SandboxConfig, extra: &[(&str, &str)]) -> Harness {
        let dir = tempfile::tempdir().expect("temp dir");
        Harness::in_dir(dir, sandbox_cfg, extra).await
    }

    /// A harness over an existing data folder (for restart tests).
    pub async fn in_dir(
        dir: tempfile::TempDir,
        sandbox_cfg: SandboxConfig,
        extra: &[(&str, &str)],
    ) -> Harness {
        let sandbox = Sandbox::start(sandbox_cfg, SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("sandbox starts");
        Harness::over(dir, sandbox, extra)
    }

    /// A harness over an existing data folder and a running sandbox.
    pub fn over(dir: tempfile::TempDir, sandbox: Sandbox, extra: &[(&str, &str)]) -> Harness {
        let cfg = Arc::new(config(dir.path(), extra));
        let store = open_store(dir.path());
        let client = Client::with_options(
            &sandbox.base_url(),
            ApiKey::new("test-key"),
            fast_client_options(),
        )
        .expect("client");
        let shop = Arc::new(Shop::new(cfg, store.clone(), client));
        let _ = shop.username.set("smm_test_bot".to_string());
        let storage = SledDialogues::new(&store).erase();
        Harness {
            sandbox,
            shop,
            storage,
            store,
            dir,
        }
    }

    /// Stops this shop and starts another over the same data folder and sandbox, as a
    /// restart would. Drop every MockBot using this harness first: they hold the store.
    pub async fn restart(self, extra: &[(&str, &str)]) -> Harness {
        let Harness {
            sandbox,
            shop,
            storage,
            store,
            dir,
        } = self;
        store.flush().await.expect("store flushes");
        drop((shop, storage, store));
        Harness::over(dir, sandbox, extra)
    }

    /// The dependencies the handler tree needs.
    pub fn deps(&self) -> teloxide::dptree::di::DependencyMap {
        teloxide::dptree::deps![self.shop.clone(), self.storage.clone()]
    }
}

/// Opens the store, waiting (with a deadline) while sled releases a previous handle's lock.
fn open_store(dir: &Path) -> Store {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        match Store::open(dir) {
            Ok(store) => return store,
            Err(e) if Instant::now() >= end => panic!("store does not open: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// Polls `check` until it holds or `deadline` passes.
pub async fn eventually(deadline: Duration, mut check: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + deadline;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
