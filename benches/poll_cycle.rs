//! One tracker poll cycle over 10,000 active orders against the loopback sandbox: API calls,
//! wall time, CPU time and peak memory. Run with `cargo bench --bench poll_cycle`.
//!
//! The sandbox runs in the same process, so CPU time includes its side of every call.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use smm_storefront::bot::Shop;
use smm_storefront::config::Config;
use smm_storefront::money::{self, Naira};
use smm_storefront::panel::{ApiKey, Client, NewOrder, OrderPayload, OrderStatus};
use smm_storefront::sandbox::{Sandbox, SandboxConfig};
use smm_storefront::store::{OrderRecord, Phase, Store};
use smm_storefront::tracker;

/// Orders followed.
const ORDERS: usize = 10_000;
/// Placements and store writes in flight while seeding.
const SEED_CONCURRENCY: usize = 64;
/// Service 102 of the standard catalog (₦612.75 per 1,000, no refill, no cancel).
const SERVICE: u64 = 102;
const QUANTITY: u64 = 100;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), BoxError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run())
}

async fn run() -> Result<(), BoxError> {
    let sandbox = Sandbox::start(
        SandboxConfig {
            initial_balance: Naira(Decimal::from(1_000_000_000u64)),
            ..SandboxConfig::default()
        },
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await?;
    let dir = tempfile::tempdir()?;
    let vars: HashMap<&str, String> = HashMap::from([
        (
            "TELOXIDE_TOKEN",
            "1234567:FAKE_token_for_loopback_tests_only".to_string(),
        ),
        ("DATA_DIR", dir.path().display().to_string()),
    ]);
    let cfg = Config::from_lookup(|k| vars.get(k).cloned())?;
    let store = Store::open(dir.path())?;
    let panel = Client::new(&sandbox.base_url(), ApiKey::new("bench-key"))?;
    let shop = Arc::new(Shop::new(Arc::new(cfg), store, panel));

    let started = Instant::now();
    seed(&shop).await?;
    println!(
        "seeded {ORDERS} placed orders in {:.2?} ({} active in the store)",
        started.elapsed(),
        shop.store.active_orders()?.len()
    );

    // Steady state: nothing changed since the last look.
    measure("cycle, no changes", &shop, &sandbox).await;
    // Every order moves one step: each change is stored with its notification.
    sandbox.advance();
    measure("cycle, every order changed", &shop, &sandbox).await;
    println!("outbox after the second cycle: {}", shop.store.outbox_len());
    Ok(())
}

/// Places the orders at the sandbox and stores them as placed, `SEED_CONCURRENCY` at a time.
async fn seed(shop: &Arc<Shop>) -> Result<(), BoxError> {
    let price = money::cost(QUANTITY, Naira(Decimal::from(735))).ok_or("price overflow")?;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..ORDERS {
        if tasks.len() >= SEED_CONCURRENCY
            && let Some(done) = tasks.join_next().await
        {
            done??;
        }
        let shop = shop.clone();
        tasks.spawn(async move {
            let request_id = format!("bench-{i}");
            let placed = shop
                .panel
                .place_order(&NewOrder {
                    request_id: request_id.clone(),
                    service_id: SERVICE,
                    link: format!("https://instagram.com/page{i}"),
                    payload: OrderPayload::Quantity(QUANTITY),
                })
                .await?;
            let now = chrono::Utc::now().timestamp();
            let rec = OrderRecord {
                id: 0,
                user_id: 1_000 + (i as u64 % 500),
                chat_id: 1_000 + (i as i64 % 500),
                request_id,
                service_id: SERVICE,
                service_name: placed.service_name,
                category: "Instagram".into(),
                link: placed.link,
                quantity: QUANTITY,
                comments: None,
                price,
                unit_rate: Naira(Decimal::from(735)),
                api_cost: Some(placed.amount_charged),
                phase: Phase::Placed,
                api_order_id: Some(placed.order_id),
                provider_order_id: placed.provider_order_id,
                // What the bulk answer will say, so the first cycle finds nothing new.
                status: OrderStatus::Pending,
                remains: Some(QUANTITY),
                can_refill: false,
                can_cancel: false,
                refills: Vec::new(),
                wallet_debited: false,
                created_at: now,
                updated_at: now,
            };
            shop.store
                .create_pending_order(&format!("bench{i}"), rec, None)
                .await?;
            Ok::<(), BoxError>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(())
}

/// Runs one poll cycle and prints what it cost.
async fn measure(label: &str, shop: &Shop, sandbox: &Sandbox) {
    let calls_before = sandbox.calls("");
    let bulk_before = sandbox.bulk_status_batches().len();
    // Resets VmHWM to the current RSS (Linux ≥ 4.0), so the peak is this cycle's.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let rss_before = status_kib("VmRSS:");
    let cpu_before = cpu_time();
    let started = Instant::now();
    let report = tracker::poll_cycle(shop).await;
    let wall = started.elapsed();
    let cpu = cpu_time().saturating_sub(cpu_before);
    let batches = sandbox.bulk_status_batches();
    let new_batches = &batches[bulk_before.min(batches.len())..];
    println!("== {label}");
    println!(
        "  active {}, changed {}, missing {}, failed calls {}",
        report.active, report.changed, report.missing, report.failed_calls
    );
    println!(
        "  API calls: {} ({} bulk status, largest {} ids)",
        sandbox.calls("") - calls_before,
        new_batches.len(),
        new_batches.iter().max().copied().unwrap_or(0)
    );
    println!("  wall time: {wall:.2?}");
    println!("  CPU time (user+system, process incl. sandbox): {cpu:.2?}");
    println!(
        "  RSS before: {} MiB, peak during the cycle (VmHWM): {} MiB",
        rss_before / 1024,
        status_kib("VmHWM:") / 1024
    );
}

/// User + system CPU time of this process, from `/proc/self/stat` (clock ticks of 1/100 s).
fn cpu_time() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return Duration::ZERO;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // rest starts at field 3 (state), so field n is at index n - 3.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// A `kB` line of `/proc/self/status`, in KiB.
fn status_kib(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}
