//! Tests of backup, restore, the control socket and `check` (temporary folders, loopback only).

use std::collections::BTreeMap;
use std::path::Path;

use sled::Transactional;

use super::*;
use crate::config::Config;

/// Tree name → its key/value pairs in order.
type Dump = BTreeMap<Vec<u8>, Vec<(Vec<u8>, Vec<u8>)>>;

/// Every tree of `db` with its entries, for comparing two databases.
fn dump(db: &sled::Db) -> Dump {
    db.tree_names()
        .into_iter()
        .map(|name| {
            let tree = db.open_tree(&name).unwrap();
            let entries = tree
                .iter()
                .map(|kv| {
                    let (k, v) = kv.unwrap();
                    (k.to_vec(), v.to_vec())
                })
                .collect();
            (name.to_vec(), entries)
        })
        .collect()
}

/// A store with something in the trees a shop uses, plus a tree of its own and binary keys.
fn filled_store(dir: &Path) -> Store {
    let store = Store::open(dir).unwrap();
    let db = store.db();
    for (tree, n) in [
        ("orders", 30u64),
        ("ledger", 12),
        ("outbox", 3),
        ("dialogues", 5),
    ] {
        let t = db.open_tree(tree).unwrap();
        for i in 0..n {
            let id = db.generate_id().unwrap();
            t.insert(id.to_be_bytes(), format!("{{\"{tree}\":{i}}}").as_bytes())
                .unwrap();
        }
    }
    db.open_tree("extra")
        .unwrap()
        .insert(b"\x00\xff", &[0u8; 0])
        .unwrap();
    db.insert(b"default-tree-key", b"v").unwrap();
    store
}

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[tokio::test]
async fn backup_then_restore_preserves_every_tree_and_key() {
    let (src, dst, out) = (temp(), temp(), temp());
    let file = out.path().join("shop.smmb");
    let store = filled_store(src.path());
    let original = dump(store.db());
    let last_id = store.db().generate_id().unwrap();
    drop(store);

    let report = backup(src.path(), &file).await.unwrap();
    assert!(!report.by_running_bot);
    assert_eq!(report.keys, 30 + 12 + 3 + 5 + 1 + 1);
    assert_eq!(report.bytes, std::fs::metadata(&file).unwrap().len());
    assert!(!archive::tmp_path(&file).exists());

    let target = dst.path().join("new-data");
    let restored = restore(&target, &file).await.unwrap();
    assert_eq!((restored.trees, restored.keys), (report.trees, report.keys));
    let store = Store::open(&target).unwrap();
    assert_eq!(dump(store.db()), original);
    // New ids must not collide with ids already used by restored records.
    assert!(store.db().generate_id().unwrap() > last_id);
}

#[tokio::test]
async fn restore_refuses_a_folder_that_is_not_empty() {
    let (src, out) = (temp(), temp());
    let file = out.path().join("shop.smmb");
    drop(filled_store(src.path()));
    backup(src.path(), &file).await.unwrap();

    let busy = temp();
    std::fs::write(busy.path().join("notes.txt"), b"keep me").unwrap();
    let e = restore(busy.path(), &file).await.unwrap_err();
    assert!(matches!(e, OpsError::NotEmpty { .. }), "{e}");
    assert!(e.to_string().contains("not empty"));
    assert_eq!(std::fs::read_dir(busy.path()).unwrap().count(), 1);

    // Restoring over the live database is the same refusal.
    let e = restore(src.path(), &file).await.unwrap_err();
    assert!(matches!(e, OpsError::NotEmpty { .. }), "{e}");
}

#[tokio::test]
async fn truncated_or_damaged_backups_are_refused_and_leave_nothing_behind() {
    let (src, out) = (temp(), temp());
    let file = out.path().join("shop.smmb");
    drop(filled_store(src.path()));
    backup(src.path(), &file).await.unwrap();
    let good = std::fs::read(&file).unwrap();

    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", good[..good.len() / 2].to_vec()),
        ("missing checksum", good[..good.len() - 4].to_vec()),
        ("trailing bytes", [good.as_slice(), b"x"].concat()),
        ("empty", Vec::new()),
        ("not a backup", b"hello world, not a backup".to_vec()),
    ];
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x40;
    cases.push(("one byte flipped", flipped));
    let mut huge_len = good.clone();
    // The first tree name's length prefix, claiming far more than the file holds.
    huge_len[13..17].copy_from_slice(&u32::MAX.to_be_bytes());
    cases.push(("length beyond the end", huge_len));

    for (what, bytes) in cases {
        let bad = out.path().join("bad.smmb");
        std::fs::write(&bad, &bytes).unwrap();
        let target = out.path().join("target");
        let e = restore(&target, &bad).await.unwrap_err();
        assert!(
            matches!(
                e,
                OpsError::Corrupt { .. }
                    | OpsError::NotABackup
                    | OpsError::UnsupportedVersion { .. }
            ),
            "{what}: {e}"
        );
        assert!(!target.exists(), "{what}: restore left files behind");
    }
}

#[tokio::test]
async fn backup_while_the_store_is_open_goes_through_the_control_socket() {
    let (src, out) = (temp(), temp());
    let store = filled_store(src.path());
    let original = dump(store.db());
    let server = serve_control(store.clone(), src.path()).unwrap();
    let socket = src.path().join(CONTROL_SOCKET);
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&socket).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let file = out.path().join("live.smmb");
    let report = backup(src.path(), &file).await.unwrap();
    assert!(report.by_running_bot, "{report}");
    assert_eq!(report.keys, 52);
    assert!(control::ping(src.path()).await.is_ok());

    // Unknown commands and relative paths get an error line, not a dropped connection.
    assert!(
        control::request(
            src.path(),
            "backup relative.smmb",
            std::time::Duration::from_secs(5)
        )
        .await
        .unwrap()
        .starts_with("error ")
    );
    assert!(
        control::request(src.path(), "shutdown", std::time::Duration::from_secs(5))
            .await
            .unwrap()
            .starts_with("error ")
    );

    server.abort();
    let _ = server.await;
    assert!(
        !socket.exists(),
        "the socket file is removed when serving ends"
    );
    drop(store);
    let target = out.path().join("restored");
    restore(&target, &file).await.unwrap();
    assert_eq!(dump(Store::open(&target).unwrap().db()), original);
}

#[tokio::test]
async fn a_locked_store_without_a_bot_is_a_clear_error() {
    let (src, out) = (temp(), temp());
    let _held = filled_store(src.path());
    let e = backup(src.path(), &out.path().join("x.smmb"))
        .await
        .unwrap_err();
    assert!(matches!(e, OpsError::Locked { .. }), "{e}");
    assert!(e.to_string().contains("in use by another process"));
    assert!(!out.path().join("x.smmb").exists());
}

#[tokio::test]
async fn backup_of_a_missing_database_says_so() {
    let (dir, out) = (temp(), temp());
    let e = backup(&dir.path().join("nothing"), &out.path().join("x.smmb"))
        .await
        .unwrap_err();
    assert!(matches!(e, OpsError::NoDatabase { .. }), "{e}");
    assert!(
        !dir.path().join("nothing").exists(),
        "backup must not create a database"
    );
}

#[tokio::test]
async fn a_stale_socket_file_is_replaced() {
    let dir = temp();
    let store = Store::open(dir.path()).unwrap();
    // A socket left behind by a killed bot: bound, then its listener dropped.
    drop(std::os::unix::net::UnixListener::bind(dir.path().join(CONTROL_SOCKET)).unwrap());
    let server = serve_control(store, dir.path()).unwrap();
    assert!(control::ping(dir.path()).await.is_ok());
    server.abort();
}

const TOKEN: &str = "1234567:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";

fn config(pairs: &[(&str, &str)]) -> Config {
    let map: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_lookup(|k| map.get(k).cloned()).unwrap()
}

/// A loopback port with nothing listening on it.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[tokio::test]
async fn check_reports_an_unreachable_telegram_without_the_token() {
    let dir = temp();
    let data = dir.path().join("data");
    let api = format!("http://127.0.0.1:{}", closed_port());
    let cfg = config(&[
        ("TELOXIDE_TOKEN", TOKEN),
        ("TELOXIDE_API_URL", &api),
        ("DATA_DIR", data.to_str().unwrap()),
        ("ADMIN_IDS", "1,2"),
    ]);
    let lines = check(&cfg).await;
    let printed = format_check(&lines);
    let telegram = lines.iter().find(|l| l.what == "Telegram").unwrap();
    assert!(!telegram.ok, "{printed}");
    assert!(telegram.detail.contains("127.0.0.1"), "{printed}");
    assert!(printed.contains("✗ Telegram: cannot reach"), "{printed}");
    assert!(
        printed.contains("SANDBOX") && printed.contains("2 admins"),
        "{printed}"
    );
    assert!(printed.contains("✓ IA-Café: skipped"), "{printed}");
    assert!(printed.contains("✓ database"), "{printed}");
    assert!(!printed.contains(TOKEN) && !printed.contains("AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"));
    assert_eq!(check_exit_code(&lines), ExitCode::FAILURE);
    assert!(!data.exists(), "check must not create the data folder");
}

#[tokio::test]
async fn check_counts_a_database_and_sees_a_running_bot() {
    let dir = temp();
    let store = Store::open(dir.path()).unwrap();
    let server = serve_control(store.clone(), dir.path()).unwrap();
    let line = check::check_database(dir.path()).await;
    assert!(line.ok && line.detail.contains("running bot"), "{line}");
    server.abort();
    let _ = server.await;
    drop(store);
    let line = check::check_database(dir.path()).await;
    assert!(
        line.ok && line.detail.contains("0 orders, 0 users"),
        "{line}"
    );
}

#[test]
fn an_http_webhook_is_refused_unless_a_local_bot_api_server_is_used() {
    let cfg = config(&[
        ("TELOXIDE_TOKEN", TOKEN),
        ("WEBHOOK_URL", "http://shop.example/hook"),
    ]);
    let lines = check::config_lines(&cfg);
    assert!(lines.iter().any(|l| !l.ok && l.what == "webhook"));
    let cfg = config(&[
        ("TELOXIDE_TOKEN", TOKEN),
        ("WEBHOOK_URL", "http://shop.example/hook"),
        ("TELOXIDE_API_URL", "http://127.0.0.1:8081"),
    ]);
    assert!(check::config_lines(&cfg).iter().all(|l| l.ok));
}

/// Keeps the key sets of every tree read from a backup.
#[derive(Default)]
struct KeySets {
    current: Vec<u8>,
    trees: BTreeMap<Vec<u8>, Vec<Vec<u8>>>,
}

impl archive::Sink for KeySets {
    fn tree(&mut self, name: &[u8]) -> Result<(), OpsError> {
        self.current = name.to_vec();
        self.trees.entry(name.to_vec()).or_default();
        Ok(())
    }
    fn entry(&mut self, key: Vec<u8>, _: Vec<u8>) -> Result<(), OpsError> {
        self.trees
            .entry(self.current.clone())
            .or_default()
            .push(key);
        Ok(())
    }
    fn id_floor(&mut self, _: u64) -> Result<(), OpsError> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_taken_during_transactions_are_never_torn() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let (src, out) = (temp(), temp());
    let store = Store::open(src.path()).unwrap();
    let server = serve_control(store.clone(), src.path()).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    // Each transaction adds the same key to two trees; a torn copy would hold it in only one.
    let writer = {
        let (db, stop) = (store.db().clone(), stop.clone());
        std::thread::spawn(move || {
            let (a, b) = (
                db.open_tree("ledger").unwrap(),
                db.open_tree("orders").unwrap(),
            );
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // Old keys go as new ones come, so the trees stay small and each copy quick.
                let old = i.saturating_sub(40);
                (&a, &b)
                    .transaction(|(a, b)| {
                        a.insert(&i.to_be_bytes(), b"x")?;
                        b.insert(&i.to_be_bytes(), b"y")?;
                        a.remove(&old.to_be_bytes())?;
                        b.remove(&old.to_be_bytes())?;
                        Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
                    })
                    .unwrap();
                i += 1;
                // Pace the writes like a busy shop rather than a tight loop.
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
            i
        })
    };
    let file = out.path().join("live.smmb");
    for _ in 0..10 {
        match backup(src.path(), &file).await {
            Ok(_) => {}
            // Giving up after repeated changes is allowed; a torn copy is not.
            Err(OpsError::Control { reason }) if reason.contains("kept changing") => continue,
            Err(e) => panic!("{e}"),
        }
        let mut sets = KeySets::default();
        archive::read_backup(&file, &mut sets).unwrap();
        assert_eq!(
            sets.trees[&b"ledger".to_vec()],
            sets.trees[&b"orders".to_vec()]
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(writer.join().unwrap() > 0);
    server.abort();
}

/// A fake Bot API on loopback answering every method with success; records the paths called.
async fn fake_bot_api() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::sync::{Arc, Mutex};
    let calls = Arc::new(Mutex::new(Vec::new()));
    let seen = calls.clone();
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let seen = seen.clone();
        async move {
            seen.lock().unwrap().push(uri.path().to_string());
            let result = if uri.path().ends_with("/GetMe") {
                serde_json::json!({"id": 42, "is_bot": true, "first_name": "Shop",
                    "username": "test_shop_bot", "can_join_groups": true,
                    "can_read_all_group_messages": false, "supports_inline_queries": false,
                    "has_main_web_app": false})
            } else {
                serde_json::json!(true)
            };
            axum::Json(serde_json::json!({"ok": true, "result": result}))
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, calls)
}

/// Polls `cond` until it holds or a few seconds pass.
async fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    cond()
}

#[tokio::test]
async fn webhook_updates_need_the_secret_and_reach_the_dispatcher() {
    use teloxide::prelude::*;
    let (api, calls) = fake_bot_api().await;
    let port = closed_port();
    let cfg = config(&[
        ("TELOXIDE_TOKEN", TOKEN),
        ("TELOXIDE_API_URL", &api),
        ("WEBHOOK_URL", &format!("http://127.0.0.1:{port}/hook")),
        ("WEBHOOK_SECRET", "s3cret-token_1"),
        ("PORT", &port.to_string()),
    ]);
    let bot = Bot::new(TOKEN).set_api_url(api.parse().unwrap());
    let listener = webhook::listen_on(bot.clone(), &cfg, [127, 0, 0, 1].into())
        .await
        .unwrap();
    assert!(
        calls
            .lock()
            .unwrap()
            .iter()
            .any(|p| p.ends_with("/SetWebhook"))
    );

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<i32>();
    let handler = Update::filter_message().endpoint(
        |msg: Message, tx: tokio::sync::mpsc::UnboundedSender<i32>| async move {
            let _ = tx.send(msg.id.0);
            respond(())
        },
    );
    let mut dispatcher = Dispatcher::builder(bot, handler)
        .dependencies(dptree::deps![tx])
        .build();
    let shutdown = dispatcher.shutdown_token();
    let running = tokio::spawn(async move {
        dispatcher
            .dispatch_with_listener(listener, LoggingErrorHandler::new())
            .await
    });

    let update = serde_json::json!({"update_id": 1, "message": {"message_id": 7, "date": 1700000000,
        "chat": {"id": 5, "type": "private", "first_name": "A"},
        "from": {"id": 5, "is_bot": false, "first_name": "A"}, "text": "hi"}});
    let client = reqwest::Client::new();
    let hook = format!("http://127.0.0.1:{port}/hook");
    let forged = client.post(&hook).json(&update).send().await.unwrap();
    assert_eq!(forged.status(), 401);
    let real = client
        .post(&hook)
        .header("X-Telegram-Bot-Api-Secret-Token", "s3cret-token_1")
        .json(&update)
        .send()
        .await
        .unwrap();
    assert!(real.status().is_success());
    let got = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv()).await;
    assert_eq!(got.unwrap(), Some(7));

    // Wait until the dispatcher is idle enough to accept the shutdown request.
    let stop = loop {
        match shutdown.shutdown() {
            Ok(f) => break f,
            Err(_) => tokio::task::yield_now().await,
        }
    };
    stop.await;
    running.await.unwrap();
    assert!(
        eventually(|| calls
            .lock()
            .unwrap()
            .iter()
            .any(|p| p.ends_with("/DeleteWebhook")))
        .await
    );
}

#[tokio::test]
async fn a_taken_webhook_port_is_a_clean_error() {
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = taken.local_addr().unwrap().port();
    let cfg = config(&[
        ("TELOXIDE_TOKEN", TOKEN),
        ("TELOXIDE_API_URL", "http://127.0.0.1:9"),
        ("WEBHOOK_URL", "http://127.0.0.1/hook"),
        ("PORT", &port.to_string()),
    ]);
    let bot = teloxide::Bot::new(TOKEN);
    let e = webhook::listen_on(bot.clone(), &cfg, [127, 0, 0, 1].into())
        .await
        .err()
        .unwrap();
    assert!(matches!(e, OpsError::WebhookBind { .. }), "{e}");
    let no_url = config(&[("TELOXIDE_TOKEN", TOKEN)]);
    let e = webhook_listener(bot, &no_url).await.err().unwrap();
    assert!(matches!(e, OpsError::WebhookUrl { .. }), "{e}");
}

#[tokio::test]
async fn check_passes_with_a_reachable_bot_api_and_names_the_bot() {
    let (api, _) = fake_bot_api().await;
    let dir = temp();
    let cfg = config(&[
        ("TELOXIDE_TOKEN", TOKEN),
        ("TELOXIDE_API_URL", &api),
        ("DATA_DIR", dir.path().to_str().unwrap()),
    ]);
    let lines = check(&cfg).await;
    let printed = format_check(&lines);
    assert!(
        printed.contains("✓ Telegram: bot @test_shop_bot (id 42)"),
        "{printed}"
    );
    assert_eq!(check_exit_code(&lines), ExitCode::SUCCESS, "{printed}");
}
