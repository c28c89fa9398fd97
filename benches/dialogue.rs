//! Dialogue load: 500 customers order at once through the loopback fake Bot API, against the
//! in-process dispatcher and the sandbox panel. Each customer sends its next step as soon as
//! the bot's answer to the previous one arrives.
//!
//! Reports updates per second, CPU per update and per order (whole process, and the bot's
//! share: everything but the harness threads), update-to-reply latency, and peak RSS.
//! Run: `cargo bench --bench dialogue` (`DIALOGUE_USERS=N` changes the crowd).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use smm_storefront::bot::schema::schema;
use smm_storefront::bot::{Shop, State};
use smm_storefront::config::Config;
use smm_storefront::fake_telegram::{Call, FAKE_TOKEN, FakeTelegram};
use smm_storefront::panel::{ApiKey, Client};
use smm_storefront::sandbox::{Sandbox, SandboxConfig};
use smm_storefront::store::{SledDialogues, Store};
use teloxide::dispatching::dialogue::{ErasedStorage, Storage};
use teloxide::prelude::*;

/// Names of the threads that drive the load (everything else is the bot's).
const HARNESS: &str = "harness";
const FIRST_USER: i64 = 100_000;
/// Updates each customer sends: /order, category, service, link, quantity, Confirm.
const STEPS: usize = 6;

/// Where a customer is: the step whose answer it waits for, and when it sent it.
struct Customer {
    step: usize,
    sent: Instant,
    message_id: i64,
    confirm: String,
}

fn main() {
    let users: i64 = std::env::var("DIALOGUE_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let harness = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name(HARNESS)
        .enable_all()
        .build()
        .expect("harness runtime");
    let bot_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("bot")
        .enable_all()
        .build()
        .expect("bot runtime");
    let dir = tempfile::tempdir().expect("temp dir");

    let (tg, sandbox) = harness.block_on(async {
        let tg = FakeTelegram::start().await.expect("fake Telegram");
        let sandbox = Sandbox::start(
            SandboxConfig::default(),
            SocketAddr::from(([127, 0, 0, 1], 0)),
        )
        .await
        .expect("sandbox");
        (tg, sandbox)
    });

    let ids: Vec<String> = (0..users + 250)
        .map(|i| (FIRST_USER + i).to_string())
        .collect();
    let vars: HashMap<&str, String> = HashMap::from([
        ("TELOXIDE_TOKEN", FAKE_TOKEN.to_string()),
        ("TELOXIDE_API_URL", tg.api_url()),
        ("IACAFE_API_KEY", "bench".to_string()),
        ("IACAFE_BASE_URL", sandbox.base_url()),
        ("DATA_DIR", dir.path().display().to_string()),
        ("WALLETS", "off".to_string()),
        ("ALLOWED_USER_IDS", ids.join(",")),
    ]);
    let cfg = Config::from_lookup(|k| vars.get(k).cloned()).expect("configuration");
    let store = Store::open(dir.path()).expect("store");
    let panel = Client::new(&sandbox.base_url(), ApiKey::new("bench")).expect("client");
    let shop = Arc::new(Shop::new(Arc::new(cfg), store.clone(), panel));
    let _ = shop.username.set("smm_test_bot".to_string());
    let dialogues: Arc<ErasedStorage<State>> = SledDialogues::new(&store).erase();
    let url = reqwest::Url::parse(&tg.api_url()).expect("url");
    let bot = Bot::new(FAKE_TOKEN).set_api_url(url);
    bot_rt.spawn(async move {
        Dispatcher::builder(bot, schema())
            .dependencies(dptree::deps![shop, dialogues])
            .build()
            .dispatch()
            .await;
    });

    // Wait for the dispatcher's first poll, then start the clock.
    harness.block_on(async {
        assert!(tg.wait_polls(0, Duration::from_secs(10)).await, "no poll");
    });
    println!("dialogue bench: {STEPS} updates per order, bot on 2 threads, harness on 1");
    println!(
        "  (CPU 'bot' = the process minus the harness threads: fake Bot API, sandbox, driver)"
    );
    let phases = [
        ("burst: all at once", users, users),
        ("steady: 8 at a time", 200, 8),
        ("alone: 1 at a time", 50, 1),
    ];
    let mut first = FIRST_USER;
    for (name, count, at_once) in phases {
        let cpu0 = cpu_ticks();
        let threads0 = thread_ticks();
        let started = Instant::now();
        let (latencies, done, stuck) = harness.block_on(drive(&tg, first, count, at_once));
        first += count;
        let wall = started.elapsed();
        let cpu = cpu_ticks() - cpu0;
        let harness_cpu = harness_ticks(&thread_ticks(), &threads0);
        report(name, count, done, stuck, wall, cpu, harness_cpu, latencies);
    }
    println!("  panel orders          {}", sandbox.order_count());
    println!("  peak RSS              {} MiB", status_kib("VmHWM") / 1024);
    drop(store);
}

#[allow(clippy::too_many_arguments)]
fn report(
    name: &str,
    users: i64,
    done: usize,
    stuck: usize,
    wall: Duration,
    cpu: u64,
    harness_cpu: u64,
    latencies: Vec<Vec<Duration>>,
) {
    let updates = (done * STEPS) as f64;
    let tick_ms = 1000.0 / clock_ticks_per_sec();
    let total_ms = cpu as f64 * tick_ms;
    let bot_ms = cpu.saturating_sub(harness_cpu) as f64 * tick_ms;
    println!("{name}: {users} customers, {done} orders completed, {stuck} stuck");
    println!(
        "  wall {:.2} s, {:.0} updates/s",
        wall.as_secs_f64(),
        updates / wall.as_secs_f64()
    );
    println!(
        "  CPU process {:.0} ms = {:.3} ms/update, {:.2} ms/order; bot {:.0} ms = {:.3} ms/update, {:.2} ms/order",
        total_ms,
        total_ms / updates,
        total_ms / done.max(1) as f64,
        bot_ms,
        bot_ms / updates,
        bot_ms / done.max(1) as f64,
    );
    let mut all: Vec<Duration> = latencies.iter().flatten().copied().collect();
    print_latency("all steps", &mut all);
    let names = [
        "/order", "category", "service", "link", "quantity", "confirm",
    ];
    for (name, mut l) in names.iter().zip(latencies) {
        print_latency(name, &mut l);
    }
}

/// Sends every customer's steps as answers arrive; returns per-step latencies, completed
/// orders and customers that never finished.
async fn drive(
    tg: &FakeTelegram,
    first: i64,
    users: i64,
    at_once: i64,
) -> (Vec<Vec<Duration>>, usize, usize) {
    let mut latencies = vec![Vec::new(); STEPS];
    let mut customers: HashMap<i64, Customer> = HashMap::new();
    let mut cursor = tg.calls().len();
    let mut next = first;
    let end = first + users;
    let start_one = |customers: &mut HashMap<i64, Customer>, next: &mut i64| {
        if *next < end {
            customers.insert(
                *next,
                Customer {
                    step: 0,
                    sent: Instant::now(),
                    message_id: 0,
                    confirm: String::new(),
                },
            );
            tg.user_text(*next, "/order");
            *next += 1;
        }
    };
    for _ in 0..at_once {
        start_one(&mut customers, &mut next);
    }
    let mut category: Option<String> = None;
    let mut done = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    while done < users as usize && Instant::now() < deadline {
        let new = tg.next_calls(cursor, Duration::from_secs(1)).await;
        cursor += new.len();
        for call in &new {
            let Some(uid) = call.chat_id() else { continue };
            let Some(c) = customers.get_mut(&uid) else {
                continue;
            };
            if c.step >= STEPS || !answers(c.step, call) {
                continue;
            }
            latencies[c.step].push(call.at.saturating_duration_since(c.sent));
            match c.step {
                0 => {
                    let cat = category.get_or_insert_with(|| instagram(call));
                    c.message_id = call.message_id.unwrap_or_default();
                    tg.user_press(uid, c.message_id, cat);
                }
                1 => tg.user_press(uid, c.message_id, "s:101"),
                2 => tg.user_text(uid, "https://instagram.com/bench_page"),
                3 => tg.user_text(uid, "100"),
                4 => {
                    c.message_id = call.message_id.unwrap_or_default();
                    c.confirm = call
                        .callback_data()
                        .into_iter()
                        .find(|d| d.starts_with("ok:"))
                        .unwrap_or_default();
                    tg.user_press(uid, c.message_id, &c.confirm);
                }
                _ => done += 1,
            }
            c.step += 1;
            c.sent = Instant::now();
            if c.step == STEPS {
                start_one(&mut customers, &mut next);
            }
        }
    }
    let stuck = customers.values().filter(|c| c.step < STEPS).count() + (end - next) as usize;
    if stuck > 0 {
        let mut at: HashMap<usize, usize> = HashMap::new();
        for c in customers.values().filter(|c| c.step < STEPS) {
            *at.entry(c.step).or_default() += 1;
        }
        eprintln!("stuck customers by step: {at:?}");
    }
    (latencies, done, stuck)
}

/// Whether `call` is the bot's answer to step `step`.
fn answers(step: usize, call: &Call) -> bool {
    if !call.accepted {
        return false;
    }
    let data = call.callback_data();
    match step {
        0 => data.iter().any(|d| d.starts_with("c:")),
        1 => data.iter().any(|d| d == "s:101"),
        2 => call.method == "editmessagetext" && data == ["b"],
        3 => call.method == "sendmessage" && data == ["b"],
        4 => data.iter().any(|d| d.starts_with("ok:")),
        _ => call.text().is_some_and(|t| t.contains("Order ID: <b>")),
    }
}

/// The Instagram category button's data.
fn instagram(call: &Call) -> String {
    let rows = call
        .body
        .pointer("/reply_markup/inline_keyboard")
        .and_then(|v| v.as_array())
        .cloned()
        .unwrap_or_default();
    rows.iter()
        .filter_map(|r| r.as_array())
        .flatten()
        .find(|b| {
            b.get("text")
                .and_then(|t| t.as_str())
                .is_some_and(|t| t.contains("Instagram"))
        })
        .and_then(|b| b.get("callback_data").and_then(|d| d.as_str()))
        .expect("an Instagram button")
        .to_string()
}

fn print_latency(name: &str, l: &mut [Duration]) {
    if l.is_empty() {
        return;
    }
    l.sort();
    let q = |p: f64| l[((l.len() - 1) as f64 * p).round() as usize];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "  latency {name:<12}  p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms  (n={})",
        ms(q(0.5)),
        ms(q(0.99)),
        ms(l[l.len() - 1]),
        l.len()
    );
}

/// utime + stime of the whole process, in clock ticks.
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    ticks_of(&stat)
}

/// Fields 14 and 15 (utime, stime) of a `stat` line; the name may contain spaces.
fn ticks_of(stat: &str) -> u64 {
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After ")": state is field 3, so utime (14) and stime (15) are at 11 and 12.
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    n(11) + n(12)
}

/// utime + stime of every live thread, by thread id, with its name.
fn thread_ticks() -> HashMap<u64, (String, u64)> {
    let mut out = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for entry in dir.flatten() {
        let Ok(tid) = entry.file_name().to_string_lossy().parse::<u64>() else {
            continue;
        };
        let path = entry.path();
        let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        let stat = std::fs::read_to_string(path.join("stat")).unwrap_or_default();
        out.insert(tid, (name.trim().to_string(), ticks_of(&stat)));
    }
    out
}

/// CPU ticks the harness threads (and the main thread) used between two snapshots.
fn harness_ticks(now: &HashMap<u64, (String, u64)>, before: &HashMap<u64, (String, u64)>) -> u64 {
    let main = std::process::id() as u64;
    now.iter()
        .filter(|(tid, (name, _))| name.starts_with(HARNESS) || **tid == main)
        .map(|(tid, (_, t))| t - before.get(tid).map(|b| b.1).unwrap_or(0))
        .sum()
}

fn clock_ticks_per_sec() -> f64 {
    // USER_HZ is 100 on every Linux this runs on; getconf confirms when present.
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// A `/proc/self/status` field in KiB.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
