//! A big store: 100,000 orders over 100 customers (1,000 each), seeded through the store API.
//!
//! Reports the seeding rate; then, in a fresh process (this binary re-run as a probe), the
//! store's open time, the `/myorders` page query for one 1,000-order customer, and RSS; then
//! the compiled bot's start-up time (process start to its first `getUpdates` at the fake Bot
//! API), its RSS once running, and its SIGTERM stop time — on that store and on an empty one.
//! Run: `cargo bench --bench store` (`STORE_ORDERS=N` changes the size).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use smm_storefront::fake_telegram::{FAKE_TOKEN, FakeTelegram};
use smm_storefront::money::Naira;
use smm_storefront::panel::OrderStatus;
use smm_storefront::sandbox::{Sandbox, SandboxConfig};
use smm_storefront::store::{OrderRecord, Phase, Store};

const BIN: &str = env!("CARGO_BIN_EXE_smm-storefront");
const USERS: u64 = 100;
const FIRST_USER: u64 = 500_000;
/// Orders still followed by the tracker (the rest are finished).
const ACTIVE: u64 = 50;
/// Set (to a data folder) when this binary runs as the probe.
const PROBE: &str = "STORE_BENCH_PROBE";
/// sled cache bytes for the probe (empty: sled's default).
const CACHE: &str = "STORE_BENCH_CACHE";

fn main() {
    if let Ok(dir) = std::env::var(PROBE) {
        probe(Path::new(&dir));
        return;
    }
    let orders: u64 = std::env::var("STORE_ORDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let big = tempfile::tempdir().expect("temp dir");
    let empty = tempfile::tempdir().expect("temp dir");

    println!("store bench: {orders} orders over {USERS} customers");
    let started = Instant::now();
    rt.block_on(seed(big.path(), orders));
    let took = started.elapsed();
    println!(
        "  seeding               {:.1} s ({:.0} orders/s, one flushed transaction each, 64 at a time)",
        took.as_secs_f64(),
        orders as f64 / took.as_secs_f64()
    );
    println!(
        "  data folder           {} MiB",
        dir_size(big.path()) / (1 << 20)
    );

    // Fresh processes, so their RSS is the store's alone; sled's default cache, then smaller.
    for cache in ["", "67108864", "16777216"] {
        let out = Command::new(std::env::current_exe().expect("own path"))
            .env(PROBE, big.path())
            .env(CACHE, cache)
            .stderr(Stdio::inherit())
            .output()
            .expect("probe runs");
        print!("{}", String::from_utf8_lossy(&out.stdout));
    }

    rt.block_on(async {
        let tg = FakeTelegram::start().await.expect("fake Telegram");
        let panel = Sandbox::start(
            SandboxConfig::default(),
            SocketAddr::from(([127, 0, 0, 1], 0)),
        )
        .await
        .expect("sandbox");
        for (label, dir) in [("empty store", empty.path()), ("big store", big.path())] {
            for round in 1..=3 {
                run_binary(&tg, &panel, dir, &format!("{label}, run {round}")).await;
            }
        }
    });
}

/// Stores `orders` finished orders (a few still active) round-robin over the customers.
async fn seed(dir: &Path, orders: u64) {
    let store = Store::open(dir).expect("store");
    for u in 0..USERS {
        let uid = FIRST_USER + u;
        store
            .touch_user(uid, uid as i64, "Customer", None, Some("en"))
            .expect("user");
    }
    let now = chrono::Utc::now().timestamp();
    let gate = Arc::new(tokio::sync::Semaphore::new(64));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..orders {
        let permit = gate.clone().acquire_owned().await.expect("semaphore");
        let store = store.clone();
        tasks.spawn(async move {
            let rec = order(i, orders, now);
            store
                .create_pending_order(&format!("seed{i:07}"), rec, None)
                .await
                .expect("order stored");
            drop(permit);
        });
        while let Some(r) = tasks.try_join_next() {
            r.expect("seed task");
        }
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("seed task");
    }
    store.flush().await.expect("flush");
}

fn order(i: u64, orders: u64, now: i64) -> OrderRecord {
    let active = i >= orders.saturating_sub(ACTIVE);
    let created = now - (orders - i) as i64 * 30;
    OrderRecord {
        id: 0,
        user_id: FIRST_USER + i % USERS,
        chat_id: (FIRST_USER + i % USERS) as i64,
        request_id: format!("sf-seed{i:07}"),
        service_id: 101 + i % 29,
        service_name: "IG Followers [Real - 30 Days Refill]".into(),
        category: "Instagram".into(),
        link: format!("https://instagram.com/page_{}", i % 977),
        quantity: 1000,
        comments: None,
        price: Naira::from_kobo(104_000),
        unit_rate: Naira::from_kobo(104_000),
        api_cost: Some(Naira::from_kobo(104_000)),
        phase: Phase::Placed,
        api_order_id: Some(10_000_000 + i),
        provider_order_id: Some(20_000_000 + i),
        status: if active {
            OrderStatus::InProgress
        } else {
            OrderStatus::Completed
        },
        remains: Some(if active { 500 } else { 0 }),
        can_refill: true,
        can_cancel: false,
        refills: Vec::new(),
        wallet_debited: false,
        created_at: created,
        updated_at: created,
    }
}

/// In a fresh process: open time, `/myorders` page queries, RSS.
fn probe(dir: &Path) {
    let cache: Option<u64> = std::env::var(CACHE).ok().and_then(|v| v.parse().ok());
    let rss0 = status_kib("self", "VmRSS");
    let t = Instant::now();
    let store = Store::open_with(dir, cache).expect("store opens");
    let open = t.elapsed();
    let rss_open = status_kib("self", "VmRSS");
    let heavy = FIRST_USER + 7;

    let t = Instant::now();
    let (page, total) = store.orders_for_user(heavy, 0, 10).expect("page");
    let cold = t.elapsed();
    assert_eq!((page.len(), total), (10, total.max(10)));
    let mut warm = Vec::with_capacity(2000);
    for _ in 0..2000 {
        let t = Instant::now();
        let (page, _) = store.orders_for_user(heavy, 0, 10).expect("page");
        warm.push(t.elapsed());
        std::hint::black_box(page);
    }
    let mut last = Vec::with_capacity(200);
    for _ in 0..200 {
        let t = Instant::now();
        let (page, _) = store
            .orders_for_user(heavy, total.saturating_sub(10), 10)
            .expect("page");
        last.push(t.elapsed());
        std::hint::black_box(page);
    }
    let t = Instant::now();
    let active = store.active_orders().expect("active").len();
    let active_took = t.elapsed();
    let rss_queries = status_kib("self", "VmRSS");
    let t = Instant::now();
    let count = store.order_count();
    let count_took = t.elapsed();
    let rss_count = status_kib("self", "VmRSS");
    let t = Instant::now();
    let all = store.all_orders_since(0).expect("scan").len();
    let scan_took = t.elapsed();
    let rss_scan = status_kib("self", "VmRSS");
    let t = Instant::now();
    for _ in 0..3 {
        std::hint::black_box(store.all_orders_since(0).expect("scan"));
    }
    let rescan = t.elapsed() / 3;

    println!(
        "  probe (library in a fresh process), sled cache {}:",
        cache.map_or("default".to_string(), |b| format!("{} MiB", b >> 20))
    );
    println!(
        "    Store::open           {:.1} ms (RSS {} → {} MiB)",
        ms(open),
        rss0 / 1024,
        rss_open / 1024
    );
    println!(
        "    /myorders page 1      cold {:.3} ms; warm p50 {:.3} ms p99 {:.3} ms ({} orders for the customer)",
        ms(cold),
        ms(quantile(&mut warm, 0.5)),
        ms(quantile(&mut warm, 0.99)),
        total
    );
    println!(
        "    /myorders last page   p50 {:.3} ms p99 {:.3} ms",
        ms(quantile(&mut last, 0.5)),
        ms(quantile(&mut last, 0.99))
    );
    println!(
        "    active_orders         {:.2} ms ({active}); RSS after these {} MiB",
        ms(active_took),
        rss_queries / 1024
    );
    println!(
        "    full scans            order_count {:.0} ms ({count}); all_orders_since {:.0} ms ({all}), again {:.0} ms",
        ms(count_took),
        ms(scan_took),
        ms(rescan)
    );
    println!(
        "    RSS after order_count {} MiB (sled cache), after all_orders_since {} MiB (+ its Vec), at the end {} MiB (peak {} MiB)",
        rss_count / 1024,
        rss_scan / 1024,
        status_kib("self", "VmRSS") / 1024,
        status_kib("self", "VmHWM") / 1024
    );
}

/// Starts the bot on `dir`, times its first poll, reads its RSS once it settled, stops it.
async fn run_binary(tg: &FakeTelegram, panel: &Sandbox, dir: &Path, label: &str) {
    let polls = tg.polls();
    let status_calls = panel.calls("/smm/status");
    let vars: HashMap<&str, String> = HashMap::from([
        ("PATH", std::env::var("PATH").unwrap_or_default()),
        ("TELOXIDE_TOKEN", FAKE_TOKEN.to_string()),
        ("TELOXIDE_API_URL", tg.api_url()),
        ("IACAFE_API_KEY", "bench".to_string()),
        ("IACAFE_BASE_URL", panel.base_url()),
        ("DATA_DIR", dir.display().to_string()),
        ("POLL_INTERVAL_SECS", "1".to_string()),
        ("RUST_LOG", "error".to_string()),
    ]);
    let started = Instant::now();
    let mut child = Command::new(BIN)
        .env_clear()
        .envs(&vars)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the bot starts");
    let pid = child.id().to_string();
    let up = tg.wait_polls(polls, Duration::from_secs(30)).await;
    let startup = started.elapsed();
    if !up {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{label}: no getUpdates within 30 s");
    }
    // Let the tracker finish a cycle (an empty store makes no status call) and the pages settle.
    let end = Instant::now() + Duration::from_secs(3);
    while Instant::now() < end && panel.calls("/smm/status") == status_calls {
        tg.wait_polls(tg.polls(), Duration::from_millis(200)).await;
    }
    tg.wait_polls(tg.polls() + 1, Duration::from_secs(3)).await;
    let rss = status_kib(&pid, "VmRSS");
    let hwm = status_kib(&pid, "VmHWM");
    let t = Instant::now();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let mut code = None;
    while t.elapsed() < Duration::from_secs(20) {
        if let Ok(Some(s)) = child.try_wait() {
            code = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let stop = t.elapsed();
    // Reaps it; kills it first if SIGTERM did not stop it.
    let _ = child.kill();
    let _ = child.wait();
    println!(
        "  binary, {label:<18} start-up {:>6.1} ms, RSS {:>3} MiB (peak {:>3} MiB), SIGTERM stop {:.0} ms ({})",
        ms(startup),
        rss / 1024,
        hwm / 1024,
        ms(stop),
        code.map(|c| c.to_string()).unwrap_or("killed".into())
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn quantile(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// A `/proc/<pid>/status` field in KiB (`pid` may be `self`).
fn status_kib(pid: &str, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
