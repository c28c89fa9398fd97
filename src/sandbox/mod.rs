//! A simulated IA-Café panel (axum on loopback) for trying the shop without money and for tests.
//!
//! It speaks the documented `/devapi/v1` API: same paths, aliases, envelopes and error shapes,
//! a naira wallet debited per order, orders that progress on their own (or on `advance()`),
//! refills, cancels with refunds, and fault injection for the client's failure paths.
//! Choices the document leaves open (duplicate `request_id`, 401, 404, 429, `/whoami`) follow
//! the "Sandbox wire choices" in `CONTRACTS.md`.

mod catalog;
mod routes;
mod state;
mod wire;

#[cfg(test)]
mod tests;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rust_decimal::Decimal;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::money::Naira;
pub use catalog::{HOSTILE_CATEGORY, HOSTILE_COMMENTS_NAME, HOSTILE_NAME};
use state::Shared;

/// How a sandbox starts.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// Which services it sells.
    pub catalog: CatalogSpec,
    /// The wallet at start.
    pub initial_balance: Naira,
    /// Auto-progress period; `Duration::ZERO` = orders move only on `advance()`.
    pub tick: Duration,
    /// Seed for the generated catalog and for order outcomes (partial or not, start counts).
    pub seed: u64,
    /// Whether the 409 `duplicate_request` answer carries the existing `order_id`.
    pub duplicate_names_order: bool,
}

impl Default for SandboxConfig {
    /// Standard catalog, ₦1,000,000, no automatic progress, seed 1, duplicates name the order.
    fn default() -> Self {
        SandboxConfig {
            catalog: CatalogSpec::Standard,
            initial_balance: Naira(Decimal::from(1_000_000)),
            tick: Duration::ZERO,
            seed: 1,
            duplicate_names_order: true,
        }
    }
}

/// Which catalog the sandbox serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CatalogSpec {
    /// About thirty realistic services over Instagram, TikTok, YouTube, Facebook, Telegram, X;
    /// service 101 is the document's example (₦1,040 per 1k).
    Standard,
    /// `count` seeded services with names of exactly `name_len` characters (some non-ASCII).
    Generated {
        /// Number of services.
        count: usize,
        /// Characters in every name.
        name_len: usize,
    },
    /// The standard catalog with markup-hostile names: `<`, `>`, `&`, quotes, emoji and
    /// right-to-left text in a category and in services 101 and 106 (for escaping tests).
    Hostile,
}

/// A misbehaviour to play on the next matching requests (see [`Sandbox::inject`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// HTTP 500 with an HTML page; nothing happens.
    ServerError,
    /// HTTP 200 whose body is not JSON; nothing happens.
    Garbage,
    /// HTTP 200 with an empty body; nothing happens.
    EmptyBody,
    /// HTTP 502 with a proxy's HTML page; nothing happens.
    Html,
    /// Sleep before answering. On `POST /smm/order` the order is placed and charged first,
    /// so a client timeout leaves a real order behind ("timeout after sending").
    Delay(Duration),
    /// `POST /smm/order` answers `{"code":"refunded",...}`: an order id is used, the wallet is
    /// not touched. Consumed but ignored on other paths.
    ProviderRefund,
    /// HTTP 429, `Retry-After: 1`, error code `rate_limited`; nothing happens.
    RateLimited,
}

/// A running sandbox; dropping it (or [`Sandbox::shutdown`]) stops the server.
pub struct Sandbox {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    ticker: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox").field("addr", &self.addr).finish()
    }
}

impl Sandbox {
    /// Binds `addr` (port 0 picks a free port) and serves until shut down.
    pub async fn start(cfg: SandboxConfig, addr: SocketAddr) -> std::io::Result<Sandbox> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let mut addr = listener.local_addr()?;
        if addr.ip().is_unspecified() {
            // Clients cannot dial 0.0.0.0 portably; loopback reaches the same socket.
            addr.set_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
        }
        let catalog = match cfg.catalog {
            CatalogSpec::Standard => catalog::standard(),
            CatalogSpec::Generated { count, name_len } => {
                catalog::generated(count, name_len, cfg.seed)
            }
            CatalogSpec::Hostile => catalog::hostile(),
        };
        let shared = Arc::new(Shared::new(
            catalog,
            cfg.initial_balance,
            cfg.seed,
            cfg.duplicate_names_order,
        ));
        let app = routes::router(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let result = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    // A dropped sender also means stop.
                    let _ = stopped.await;
                })
                .await;
            if let Err(e) = result {
                log::warn!("sandbox server stopped with an error: {e}");
            }
        });
        let ticker = (!cfg.tick.is_zero()).then(|| {
            let shared = shared.clone();
            let tick = cfg.tick;
            tokio::spawn(async move {
                let mut interval =
                    tokio::time::interval_at(tokio::time::Instant::now() + tick, tick);
                loop {
                    interval.tick().await;
                    shared.with(|s| s.advance(Utc::now()));
                }
            })
        });
        Ok(Sandbox {
            addr,
            shared,
            stop: Some(stop),
            server: Some(server),
            ticker,
        })
    }

    /// The API base, e.g. `http://127.0.0.1:PORT/devapi/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/devapi/v1", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Plays `fault` on the next `times` requests whose path ends with `path_suffix`
    /// (`""` = any path). Faults are checked before auth, in the order they were injected.
    pub fn inject(&self, path_suffix: &str, fault: Fault, times: u32) {
        self.shared.with(|s| s.inject(path_suffix, fault, times));
    }

    /// The wallet now.
    pub fn balance(&self) -> Naira {
        self.shared.with(|s| s.balance)
    }

    /// Sets the wallet.
    pub fn set_balance(&self, n: Naira) {
        self.shared.with(|s| s.balance = n);
    }

    /// Orders recorded, refunded-at-placement ones included.
    pub fn order_count(&self) -> usize {
        self.shared.with(|s| s.orders().len())
    }

    /// Wallet debits made by placements (refunds do not lower it; a provider refund at
    /// placement never debits).
    pub fn debit_count(&self) -> usize {
        self.shared.with(|s| s.debits())
    }

    /// Requests seen on paths ending with `path_suffix` (faulted and unauthorised ones too).
    pub fn calls(&self, path_suffix: &str) -> usize {
        self.shared.with(|s| s.calls(path_suffix))
    }

    /// Id counts of each `POST /smm/status` call, rejected ones (over 100) included.
    pub fn bulk_status_batches(&self) -> Vec<usize> {
        self.shared.with(|s| s.bulk_batches())
    }

    /// Forces an order's status word and remains (test hook; no money moves).
    pub fn set_status(&self, order_id: u64, status: &str, remains: u64) {
        self.shared
            .with(|s| s.set_status(order_id, status, remains, Utc::now()));
    }

    /// One progress step for every active order and refill (three steps finish an order).
    pub fn advance(&self) {
        self.shared.with(|s| s.advance(Utc::now()));
    }

    /// Stops the server, letting in-flight requests finish (for at most five seconds).
    pub async fn shutdown(mut self) {
        self.stop_background();
        if let Some(server) = self.server.take() {
            let abort = server.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), server)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }

    fn stop_background(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(ticker) = self.ticker.take() {
            ticker.abort();
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.stop_background();
    }
}

/// Runs the sandbox on `127.0.0.1:port` (Standard catalog, ₦5,000,000, 5 s ticks) until
/// Ctrl-C or SIGTERM. Backs `smm-storefront sandbox --port N`.
pub async fn serve_forever(port: u16) -> std::io::Result<()> {
    let cfg = SandboxConfig {
        initial_balance: Naira(Decimal::from(5_000_000)),
        tick: Duration::from_secs(5),
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::start(cfg, SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    log::warn!(
        "SANDBOX IA-Café API at {} — simulated panel, no money moves and nothing is ordered; \
         any Bearer key works",
        sandbox.base_url()
    );
    log::info!(
        "sandbox wallet {}, orders progress every 5 s",
        sandbox.balance()
    );
    wait_for_stop().await;
    log::info!("sandbox stopping");
    sandbox.shutdown().await;
    Ok(())
}

/// Waits for Ctrl-C, or SIGTERM on Unix.
async fn wait_for_stop() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
