//! A loopback fake of the Telegram Bot API (real HTTP) for end-to-end tests and benchmarks:
//! long-polled `getUpdates`, recorded sends and edits, and injectable faults (403, 429, 502, migration).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::{Notify, oneshot};

/// A token the fake accepts (shaped like a real one, worth nothing).
pub const FAKE_TOKEN: &str = "1234567:FAKE_token_for_loopback_tests_only";
/// The bot's own user id in the fake.
pub const BOT_ID: i64 = 1_234_567;
/// The bot's username in the fake.
pub const BOT_USERNAME: &str = "smm_test_bot";

/// A fault the fake answers with, for a chat or for every call of a method.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TgFault {
    /// 403: the user blocked the bot.
    Blocked,
    /// 429 with `retry_after` seconds.
    RetryAfter(u32),
    /// 502 Bad Gateway with an HTML body.
    BadGateway,
    /// 400 with `migrate_to_chat_id`: the group became a supergroup.
    Migrate(i64),
}

/// One call the bot made.
#[derive(Clone, Debug)]
pub struct Call {
    /// Method name, lower-cased (`sendmessage`).
    pub method: String,
    /// The JSON body.
    pub body: Value,
    /// Whether the fake accepted it (false when a fault was answered).
    pub accepted: bool,
    /// The message id given to an accepted send.
    pub message_id: Option<i64>,
    /// When the fake received it.
    pub at: Instant,
}

impl Call {
    /// The `chat_id` the call was for, if any.
    pub fn chat_id(&self) -> Option<i64> {
        self.body.get("chat_id").and_then(Value::as_i64)
    }

    /// The message text of a send or edit.
    pub fn text(&self) -> Option<&str> {
        self.body.get("text").and_then(Value::as_str)
    }

    /// Every callback-data string of the inline keyboard sent with the call.
    pub fn callback_data(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(rows) = self
            .body
            .pointer("/reply_markup/inline_keyboard")
            .and_then(Value::as_array)
        {
            for row in rows.iter().filter_map(Value::as_array) {
                for b in row {
                    if let Some(d) = b.get("callback_data").and_then(Value::as_str) {
                        out.push(d.to_string());
                    }
                }
            }
        }
        out
    }
}

#[derive(Default)]
struct TgState {
    next_update_id: i64,
    updates: VecDeque<Value>,
    calls: Vec<Call>,
    next_message_id: i64,
    chat_faults: HashMap<i64, (TgFault, u32)>,
    method_faults: HashMap<String, (TgFault, u32)>,
    updates_delivered: u64,
    polls: u64,
}

struct Shared {
    state: Mutex<TgState>,
    changed: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, TgState> {
        // A panicking test thread must not wedge every later call.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running fake Bot API server on loopback.
pub struct FakeTelegram {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
}

impl FakeTelegram {
    /// Starts the fake on 127.0.0.1 with a free port.
    pub async fn start() -> std::io::Result<FakeTelegram> {
        let shared = Arc::new(Shared {
            state: Mutex::new(TgState {
                next_update_id: 1,
                next_message_id: 1000,
                ..TgState::default()
            }),
            changed: Notify::new(),
        });
        let app = Router::new()
            .route("/{bot}/{method}", post(handle))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = rx.await;
            });
            if let Err(e) = serve.await {
                log::warn!("fake Telegram stopped: {e}");
            }
        });
        Ok(FakeTelegram {
            addr,
            shared,
            stop: Some(tx),
        })
    }

    /// The base URL to give the bot (`TELOXIDE_API_URL`).
    pub fn api_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues a raw update; its `update_id` is assigned here.
    pub fn push_update(&self, mut update: Value) {
        let mut st = self.shared.lock();
        let id = st.next_update_id;
        st.next_update_id += 1;
        if let Some(obj) = update.as_object_mut() {
            obj.insert("update_id".into(), json!(id));
        }
        st.updates.push_back(update);
        drop(st);
        self.shared.changed.notify_waiters();
    }

    /// Queues a private text message from `user_id` (whose chat id is the same number).
    pub fn user_text(&self, user_id: i64, text: &str) {
        let msg_id = self.next_message_id();
        let mut message = json!({
            "message_id": msg_id,
            "date": now(),
            "chat": {"id": user_id, "type": "private", "first_name": format!("Customer{user_id}")},
            "from": user_json(user_id, "en"),
            "text": text,
        });
        if text.starts_with('/') {
            let len = text
                .split_whitespace()
                .next()
                .map(|w| w.encode_utf16().count())
                .unwrap_or(0);
            message["entities"] = json!([{"type": "bot_command", "offset": 0, "length": len}]);
        }
        self.push_update(json!({ "message": message }));
    }

    /// Queues a button press by `user_id` on the bot's message `message_id`.
    pub fn user_press(&self, user_id: i64, message_id: i64, data: &str) {
        let query_id = format!("q{}", self.next_message_id());
        self.push_update(json!({
            "callback_query": {
                "id": query_id,
                "from": user_json(user_id, "en"),
                "chat_instance": format!("ci{user_id}"),
                "data": data,
                "message": {
                    "message_id": message_id,
                    "date": now(),
                    "chat": {"id": user_id, "type": "private", "first_name": format!("Customer{user_id}")},
                    "from": bot_json(),
                    "text": "…",
                }
            }
        }));
    }

    fn next_message_id(&self) -> i64 {
        let mut st = self.shared.lock();
        st.next_message_id += 1;
        st.next_message_id
    }

    /// Answers the next `times` calls for `chat_id` with `fault`.
    pub fn fail_chat(&self, chat_id: i64, fault: TgFault, times: u32) {
        self.shared
            .lock()
            .chat_faults
            .insert(chat_id, (fault, times));
    }

    /// Answers the next `times` calls of `method` (any case) with `fault`.
    pub fn fail_method(&self, method: &str, fault: TgFault, times: u32) {
        self.shared
            .lock()
            .method_faults
            .insert(method.to_ascii_lowercase(), (fault, times));
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.lock().calls.clone()
    }

    /// Accepted `sendMessage` calls to `chat_id`.
    pub fn messages_to(&self, chat_id: i64) -> Vec<Call> {
        self.shared
            .lock()
            .calls
            .iter()
            .filter(|c| c.accepted && c.method == "sendmessage" && c.chat_id() == Some(chat_id))
            .cloned()
            .collect()
    }

    /// Updates not yet fetched by the bot.
    pub fn pending_updates(&self) -> usize {
        self.shared.lock().updates.len()
    }

    /// Updates handed to the bot so far.
    pub fn updates_delivered(&self) -> u64 {
        self.shared.lock().updates_delivered
    }

    /// `getUpdates` calls received so far (a polling bot makes one at least every second).
    pub fn polls(&self) -> u64 {
        self.shared.lock().polls
    }

    /// The calls from index `from` on (cheaper than [`FakeTelegram::calls`] for long runs).
    pub fn calls_since(&self, from: usize) -> Vec<Call> {
        let st = self.shared.lock();
        st.calls
            .get(from..)
            .map(<[Call]>::to_vec)
            .unwrap_or_default()
    }

    /// Waits until a call past index `from` arrives, or `deadline` passes; returns the new calls.
    pub async fn next_calls(&self, from: usize, deadline: Duration) -> Vec<Call> {
        let end = Instant::now() + deadline;
        loop {
            let notified = self.shared.changed.notified();
            let new = self.calls_since(from);
            if !new.is_empty() {
                return new;
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return new;
            }
            let _ = tokio::time::timeout(left, notified).await;
        }
    }

    /// Waits until the bot has made more than `after` `getUpdates` calls, or `deadline` passes.
    pub async fn wait_polls(&self, after: u64, deadline: Duration) -> bool {
        let end = Instant::now() + deadline;
        loop {
            let notified = self.shared.changed.notified();
            if self.polls() > after {
                return true;
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let _ = tokio::time::timeout(left, notified).await;
        }
    }

    /// Waits until `check` holds for the calls so far, or the deadline passes. Returns whether it held.
    pub async fn wait_until(&self, deadline: Duration, check: impl Fn(&[Call]) -> bool) -> bool {
        let end = Instant::now() + deadline;
        loop {
            let notified = self.shared.changed.notified();
            if check(&self.shared.lock().calls) {
                return true;
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let _ = tokio::time::timeout(left.min(Duration::from_millis(200)), notified).await;
        }
    }

    /// Stops the server.
    pub fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

impl Drop for FakeTelegram {
    fn drop(&mut self) {
        self.stop();
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn user_json(id: i64, lang: &str) -> Value {
    json!({"id": id, "is_bot": false, "first_name": format!("Customer{id}"), "language_code": lang})
}

fn bot_json() -> Value {
    json!({"id": BOT_ID, "is_bot": true, "first_name": "Test Shop", "username": BOT_USERNAME})
}

fn ok(result: Value) -> Response {
    (
        StatusCode::OK,
        axum::Json(json!({"ok": true, "result": result})),
    )
        .into_response()
}

fn fault_response(f: &TgFault) -> Response {
    match f {
        TgFault::Blocked => (
            StatusCode::FORBIDDEN,
            axum::Json(json!({"ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the user"})),
        )
            .into_response(),
        TgFault::RetryAfter(s) => (
            StatusCode::TOO_MANY_REQUESTS,
            axum::Json(json!({"ok": false, "error_code": 429,
                "description": format!("Too Many Requests: retry after {s}"),
                "parameters": {"retry_after": s}})),
        )
            .into_response(),
        TgFault::BadGateway => (
            StatusCode::BAD_GATEWAY,
            "<html><body><h1>502 Bad Gateway</h1></body></html>",
        )
            .into_response(),
        TgFault::Migrate(to) => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"ok": false, "error_code": 400,
                "description": "Bad Request: group chat was upgraded to a supergroup chat",
                "parameters": {"migrate_to_chat_id": to}})),
        )
            .into_response(),
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    Path((bot, method)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    if bot != format!("bot{FAKE_TOKEN}") {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"ok": false, "error_code": 401, "description": "Unauthorized"})),
        )
            .into_response();
    }
    let method = method.to_ascii_lowercase();
    let body: Value = serde_json::from_slice(&body).unwrap_or_else(|_| json!({}));
    if method == "getupdates" {
        shared.lock().polls += 1;
        shared.changed.notify_waiters();
        return get_updates(&shared, &body).await;
    }
    let chat_id = body.get("chat_id").and_then(Value::as_i64);
    let mut st = shared.lock();
    let fault = take_counted(&mut st.method_faults, &method)
        .or_else(|| chat_id.and_then(|c| take_counted(&mut st.chat_faults, &c)));
    if let Some(f) = fault {
        st.calls.push(Call {
            method,
            body,
            accepted: false,
            message_id: None,
            at: Instant::now(),
        });
        drop(st);
        shared.changed.notify_waiters();
        return fault_response(&f);
    }
    let result = match method.as_str() {
        "getme" => {
            let mut me = bot_json();
            if let Some(o) = me.as_object_mut() {
                o.insert("can_join_groups".into(), json!(true));
                o.insert("can_read_all_group_messages".into(), json!(false));
                o.insert("supports_inline_queries".into(), json!(false));
                o.insert("has_main_web_app".into(), json!(false));
            }
            me
        }
        // Polling asks first whether a webhook is set: none is.
        "getwebhookinfo" => {
            json!({"url": "", "has_custom_certificate": false, "pending_update_count": 0})
        }
        "sendmessage" | "editmessagetext" | "editmessagereplymarkup" | "sendinvoice" => {
            let id = match body.get("message_id").and_then(Value::as_i64) {
                Some(existing) => existing,
                None => {
                    st.next_message_id += 1;
                    st.next_message_id
                }
            };
            let chat = chat_id.unwrap_or_default();
            let chat_json = if chat < 0 {
                json!({"id": chat, "type": "supergroup", "title": "Team"})
            } else {
                json!({"id": chat, "type": "private", "first_name": format!("Customer{chat}")})
            };
            let mut msg = json!({
                "message_id": id,
                "date": now(),
                "chat": chat_json,
                "from": bot_json(),
                "text": body.get("text").cloned().unwrap_or(json!("")),
            });
            if let Some(m) = body.get("reply_markup") {
                msg["reply_markup"] = m.clone();
            }
            st.calls.push(Call {
                method,
                body,
                accepted: true,
                message_id: Some(id),
                at: Instant::now(),
            });
            drop(st);
            shared.changed.notify_waiters();
            return ok(msg);
        }
        _ => json!(true),
    };
    st.calls.push(Call {
        method,
        body,
        accepted: true,
        message_id: None,
        at: Instant::now(),
    });
    drop(st);
    shared.changed.notify_waiters();
    ok(result)
}

fn take_counted<K: std::hash::Hash + Eq>(
    map: &mut HashMap<K, (TgFault, u32)>,
    key: &K,
) -> Option<TgFault> {
    let (fault, left) = map.get_mut(key)?;
    let f = fault.clone();
    *left = left.saturating_sub(1);
    if *left == 0 {
        map.remove(key);
    }
    Some(f)
}

async fn get_updates(shared: &Shared, body: &Value) -> Response {
    let offset = body.get("offset").and_then(Value::as_i64).unwrap_or(0);
    let limit = body
        .get("limit")
        .and_then(Value::as_u64)
        .unwrap_or(100)
        .clamp(1, 100) as usize;
    // Cap the long poll so a stopping bot is not held up.
    let timeout = body
        .get("timeout")
        .and_then(Value::as_u64)
        .unwrap_or(0)
        .min(1);
    let end = Instant::now() + Duration::from_secs(timeout);
    loop {
        let notified = shared.changed.notified();
        {
            let mut st = shared.lock();
            // Telegram forgets updates below the offset: they were confirmed.
            while st
                .updates
                .front()
                .and_then(|u| u.get("update_id"))
                .and_then(Value::as_i64)
                .is_some_and(|id| id < offset)
            {
                st.updates.pop_front();
            }
            if !st.updates.is_empty() {
                let batch: Vec<Value> = st.updates.iter().take(limit).cloned().collect();
                st.updates_delivered += batch.len() as u64;
                return ok(Value::Array(batch));
            }
        }
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return ok(json!([]));
        }
        let _ = tokio::time::timeout(left, notified).await;
    }
}
