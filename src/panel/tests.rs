//! HTTP behaviour of the client (retries, timeouts, ambiguous orders, batching, redaction)
//! against a scripted loopback server.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method as HttpMethod, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use super::*;

const KEY: &str = "ak_test_TESTSECRET0123456789";

const SERVICES: &str = include_str!("../../tests/fixtures/panel/services.json");
const ORDER_OK: &str = include_str!("../../tests/fixtures/panel/order_success.json");
const NO_BALANCE: &str = include_str!("../../tests/fixtures/panel/error_insufficient_balance.json");

/// What the scripted server answers to one request.
#[derive(Clone)]
enum Answer {
    /// A status, extra headers and a body.
    Http(u16, Vec<(&'static str, String)>, String),
    /// Never answers (the client must time out).
    Hang,
}

fn json(status: u16, body: &str) -> Answer {
    Answer::Http(status, Vec::new(), body.to_string())
}

/// One request as the server saw it.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    query: String,
    auth: Option<String>,
    body: String,
}

impl Seen {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

type Responder = dyn Fn(&Seen) -> Answer + Send + Sync;

struct Script {
    queue: Mutex<VecDeque<Answer>>,
    otherwise: Box<Responder>,
    seen: Mutex<Vec<Seen>>,
}

struct Fake {
    script: Arc<Script>,
    base: String,
}

impl Fake {
    /// Answers from `queue` in order, then from `otherwise`.
    async fn start(
        queue: Vec<Answer>,
        otherwise: impl Fn(&Seen) -> Answer + Send + Sync + 'static,
    ) -> Fake {
        let script = Arc::new(Script {
            queue: Mutex::new(queue.into()),
            otherwise: Box::new(otherwise),
            seen: Mutex::new(Vec::new()),
        });
        let app = Router::new().fallback(answer).with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Fake {
            script,
            base: format!("http://{addr}/devapi/v1"),
        }
    }

    /// Answers from `queue` in order, then 500.
    async fn queue(queue: Vec<Answer>) -> Fake {
        Fake::start(queue, |_| json(500, "script exhausted")).await
    }

    fn seen(&self) -> Vec<Seen> {
        self.script.seen.lock().unwrap().clone()
    }

    fn client(&self) -> Client {
        client_for(&self.base, fast())
    }
}

async fn answer(
    State(script): State<Arc<Script>>,
    method: HttpMethod,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let seen = Seen {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or("").to_string(),
        auth: headers
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_string()),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    script.seen.lock().unwrap().push(seen.clone());
    let next = script.queue.lock().unwrap().pop_front();
    match next.unwrap_or_else(|| (script.otherwise)(&seen)) {
        Answer::Http(status, extra, body) => {
            let mut resp = (StatusCode::from_u16(status).unwrap(), body).into_response();
            resp.headers_mut()
                .insert("content-type", "application/json".parse().unwrap());
            for (name, value) in extra {
                resp.headers_mut().insert(name, value.parse().unwrap());
            }
            resp
        }
        Answer::Hang => std::future::pending().await,
    }
}

fn fast() -> ClientOptions {
    ClientOptions {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(5),
        read_retries: 2,
        retry_base: Duration::from_millis(1),
    }
}

fn client_for(base: &str, opts: ClientOptions) -> Client {
    install_leak_detector();
    Client::with_options(base, ApiKey::new(KEY), opts).unwrap()
}

fn order(request_id: &str) -> NewOrder {
    NewOrder {
        request_id: request_id.into(),
        service_id: 101,
        link: "https://instagram.com/yourpage".into(),
        payload: OrderPayload::Quantity(1500),
    }
}

// ---- a logger that notices the key in any log line ----

static KEY_LOGGED: AtomicBool = AtomicBool::new(false);

struct LeakDetector;

impl log::Log for LeakDetector {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        if record.args().to_string().contains("TESTSECRET") {
            KEY_LOGGED.store(true, Ordering::SeqCst);
        }
    }
    fn flush(&self) {}
}

fn install_leak_detector() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        // Another test module may have installed a logger first; then this check is moot.
        if log::set_logger(&LeakDetector).is_ok() {
            log::set_max_level(log::LevelFilter::Trace);
        }
    });
}

fn assert_key_never_logged() {
    assert!(
        !KEY_LOGGED.load(Ordering::SeqCst),
        "a log line contained the API key"
    );
}

// ---- reads ----

#[tokio::test]
async fn read_succeeds_after_a_500() {
    let fake = Fake::queue(vec![json(500, "<html>boom</html>"), json(200, SERVICES)]).await;
    let catalog = fake
        .client()
        .services(&ServiceFilter::default())
        .await
        .unwrap();
    assert_eq!(catalog.services[0].id, 101);
    let seen = fake.seen();
    assert_eq!(seen.len(), 2);
    for s in &seen {
        assert_eq!(s.method, "GET");
        assert_eq!(s.path, "/devapi/v1/smm/services");
        assert_eq!(s.auth.as_deref(), Some(format!("Bearer {KEY}").as_str()));
    }
    assert_key_never_logged();
}

#[tokio::test]
async fn read_gives_up_after_its_retries() {
    let fake = Fake::queue(vec![]).await;
    let err = fake.client().status(98765).await.unwrap_err();
    assert_eq!(err, Error::Server { status: 500 });
    assert_eq!(fake.seen().len(), 3, "one attempt and two retries");
}

#[tokio::test]
async fn garbage_200_is_malformed_and_not_retried() {
    let fake = Fake::queue(vec![json(200, "garbage ☕ not json")]).await;
    let err = fake.client().status(98765).await.unwrap_err();
    assert_eq!(
        err,
        Error::Malformed {
            excerpt: "garbage ☕ not json".into()
        }
    );
    assert_eq!(fake.seen().len(), 1);
}

#[tokio::test]
async fn rate_limit_waits_for_retry_after_then_succeeds() {
    let limited = r#"{"success":false,"error":{"code":"rate_limited","message":"slow"}}"#;
    let fake = Fake::queue(vec![
        Answer::Http(429, vec![("retry-after", "0".into())], limited.into()),
        json(
            200,
            r#"{"success":true,"data":{"wallet_balance":"5000.00"}}"#,
        ),
    ])
    .await;
    let balance = fake.client().balance().await.unwrap();
    assert_eq!(balance.to_string(), "₦5,000.00");
    assert_eq!(fake.seen()[1].path, "/devapi/v1/whoami");
}

#[tokio::test]
async fn a_long_retry_after_is_handed_back_at_once() {
    let fake = Fake::queue(vec![Answer::Http(
        429,
        vec![("retry-after", "3600".into())],
        String::new(),
    )])
    .await;
    let err = fake.client().balance().await.unwrap_err();
    assert_eq!(
        err,
        Error::RateLimited {
            retry_after: Some(Duration::from_secs(3600))
        }
    );
    assert_eq!(fake.seen().len(), 1);
}

#[tokio::test]
async fn unauthorized_is_not_retried() {
    let body = r#"{"success":false,"error":{"code":"unauthorized","message":"Missing API key"}}"#;
    let fake = Fake::queue(vec![json(401, body)]).await;
    let err = fake.client().balance().await.unwrap_err();
    assert_eq!(err, Error::Unauthorized);
    assert!(err.is_certain_failure());
    assert_eq!(fake.seen().len(), 1);
}

#[tokio::test]
async fn a_hanging_read_times_out_after_its_retries() {
    let fake = Fake::start(vec![], |_| Answer::Hang).await;
    let opts = ClientOptions {
        request_timeout: Duration::from_millis(200),
        read_retries: 1,
        ..fast()
    };
    let err = client_for(&fake.base, opts).status(1).await.unwrap_err();
    assert_eq!(err, Error::Timeout);
    assert_eq!(fake.seen().len(), 2);
}

#[tokio::test]
async fn bulk_status_splits_250_ids_into_three_calls() {
    // Answers each id as provider id id + 1_000_000.
    let fake = Fake::start(vec![], |seen| {
        let ids = seen.json()["orderIds"].as_array().unwrap().clone();
        let data: serde_json::Map<String, Value> = ids
            .iter()
            .map(|id| {
                let pid = id.as_u64().unwrap() + 1_000_000;
                (
                    pid.to_string(),
                    serde_json::json!({"status": "Completed", "remains": "0"}),
                )
            })
            .collect();
        json(
            200,
            &serde_json::json!({"success": true, "data": data}).to_string(),
        )
    })
    .await;
    let ids: Vec<u64> = (1..=250).collect();
    let map = fake.client().bulk_status(&ids).await.unwrap();
    assert_eq!(map.len(), 250);
    assert_eq!(map[&1_000_001].status, OrderStatus::Completed);
    assert_eq!(map[&1_000_250].remains, Some(0));
    let seen = fake.seen();
    let sizes: Vec<usize> = seen
        .iter()
        .map(|s| s.json()["orderIds"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [100, 100, 50]);
    assert!(
        seen.iter()
            .all(|s| s.method == "POST" && s.path == "/devapi/v1/smm/status")
    );
    // Every id asked exactly once.
    let mut asked: Vec<u64> = seen
        .iter()
        .flat_map(|s| s.json()["orderIds"].as_array().unwrap().clone())
        .map(|v| v.as_u64().unwrap())
        .collect();
    asked.sort_unstable();
    assert_eq!(asked, ids);
}

#[tokio::test]
async fn empty_id_lists_make_no_call() {
    let fake = Fake::queue(vec![]).await;
    let client = fake.client();
    assert!(client.bulk_status(&[]).await.unwrap().is_empty());
    assert!(client.refill_statuses(&[]).await.unwrap().is_empty());
    assert!(client.cancel(&[]).await.unwrap().cancelled.is_empty());
    assert!(fake.seen().is_empty());
}

#[tokio::test]
async fn requests_use_the_documented_paths_and_parameters() {
    let fake = Fake::queue(vec![
        json(200, SERVICES),
        json(200, include_str!("../../tests/fixtures/panel/orders.json")),
        json(200, include_str!("../../tests/fixtures/panel/status.json")),
        json(200, include_str!("../../tests/fixtures/panel/refill.json")),
        json(
            200,
            include_str!("../../tests/fixtures/panel/refill_status.json"),
        ),
        json(
            200,
            r#"{"success":true,"data":{"7821":"Completed","7822":"Pending"}}"#,
        ),
        json(200, include_str!("../../tests/fixtures/panel/cancel.json")),
    ])
    .await;
    // A trailing slash on the base is harmless.
    let client = client_for(&format!("{}/", fake.base), fast());
    let filter = ServiceFilter {
        category: Some("Instagram".into()),
        query: Some("followers".into()),
    };
    client.services(&filter).await.unwrap();
    let q = OrderQuery {
        page: 0,
        limit: 500,
        status: Some("processing".into()),
        service_id: Some(101),
    };
    let page = client.orders(&q).await.unwrap();
    assert_eq!(page.total, 45);
    assert_eq!(client.status(98765).await.unwrap().remains, Some(900));
    assert_eq!(client.refill(98765).await.unwrap(), 7821);
    assert_eq!(client.refill_status(7821).await.unwrap(), "Completed");
    let statuses = client.refill_statuses(&[7821, 7822, 7821]).await.unwrap();
    assert_eq!(statuses[&7822], "Pending");
    let outcome = client.cancel(&[98765, 98766]).await.unwrap();
    assert_eq!(outcome.cancelled, [554433, 554434]);

    let seen = fake.seen();
    let lines: Vec<String> = seen
        .iter()
        .map(|s| format!("{} {}?{}", s.method, s.path, s.query))
        .collect();
    assert_eq!(
        lines,
        [
            "GET /devapi/v1/smm/services?category=Instagram&q=followers",
            "GET /devapi/v1/smm/orders?page=1&limit=100&status=processing&service_id=101",
            "GET /devapi/v1/smm/status/98765?",
            "POST /devapi/v1/smm/refill?",
            "GET /devapi/v1/smm/refill-status?refill=7821",
            "GET /devapi/v1/smm/refill-status?refills=7821%2C7822",
            "POST /devapi/v1/smm/cancel?",
        ]
    );
    assert_eq!(seen[3].json(), serde_json::json!({"orderId": 98765}));
    assert_eq!(
        seen[6].json(),
        serde_json::json!({"orderIds": [98765, 98766]})
    );
}

#[tokio::test]
async fn writes_are_not_retried() {
    let fake = Fake::queue(vec![]).await;
    let client = fake.client();
    assert_eq!(
        client.refill(98765).await.unwrap_err(),
        Error::Server { status: 500 }
    );
    assert_eq!(
        client.cancel(&[98765]).await.unwrap_err(),
        Error::Server { status: 500 }
    );
    assert_eq!(fake.seen().len(), 2);
}

// ---- placing orders ----

#[tokio::test]
async fn place_order_sends_the_documented_body() {
    let fake = Fake::queue(vec![json(200, ORDER_OK)]).await;
    let placed = fake
        .client()
        .place_order(&order("my_order_001"))
        .await
        .unwrap();
    assert_eq!(placed.order_id, 98765);
    assert_eq!(placed.amount.to_string(), "₦1,560.00");
    let seen = fake.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].path, "/devapi/v1/smm/order");
    assert_eq!(
        seen[0].json(),
        serde_json::json!({"request_id": "my_order_001", "serviceId": 101,
            "link": "https://instagram.com/yourpage", "quantity": 1500})
    );
}

#[tokio::test]
async fn a_hanging_order_is_ambiguous_after_one_resend_with_the_same_request_id() {
    let fake = Fake::start(vec![], |_| Answer::Hang).await;
    let opts = ClientOptions {
        request_timeout: Duration::from_millis(300),
        ..fast()
    };
    let err = client_for(&fake.base, opts)
        .place_order(&order("req-hang-1"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        Error::Ambiguous {
            request_id: "req-hang-1".into()
        }
    );
    assert!(!err.is_certain_failure());
    let seen = fake.seen();
    assert_eq!(seen.len(), 2, "exactly one re-send");
    for s in &seen {
        assert_eq!(s.json()["request_id"], "req-hang-1");
    }
    assert_key_never_logged();
}

#[tokio::test]
async fn an_order_after_a_500_is_resent_and_can_succeed() {
    let fake = Fake::queue(vec![
        json(502, "<html>Bad gateway</html>"),
        json(200, ORDER_OK),
    ])
    .await;
    let placed = fake
        .client()
        .place_order(&order("my_order_001"))
        .await
        .unwrap();
    assert_eq!(placed.provider_order_id, Some(554433));
    let seen = fake.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].body, seen[1].body);
}

#[tokio::test]
async fn a_resend_answered_duplicate_names_the_order_or_is_ambiguous() {
    let named = r#"{"success":false,"error":{"code":"duplicate_request","message":"request_id already used"},"order_id":98765}"#;
    let fake = Fake::queue(vec![json(500, ""), json(409, named)]).await;
    let err = fake.client().place_order(&order("r1")).await.unwrap_err();
    assert_eq!(
        err,
        Error::Duplicate {
            order_id: Some(98765)
        }
    );
    assert!(!err.is_certain_failure());

    let anonymous = r#"{"success":false,"error":{"code":"duplicate_request","message":"request_id already used"}}"#;
    let fake = Fake::queue(vec![json(500, ""), json(409, anonymous)]).await;
    let err = fake.client().place_order(&order("r2")).await.unwrap_err();
    assert_eq!(
        err,
        Error::Ambiguous {
            request_id: "r2".into()
        }
    );
}

#[tokio::test]
async fn an_unreadable_order_answer_is_resent_then_ambiguous() {
    let fake = Fake::queue(vec![json(200, "<html>ok?</html>"), json(200, "")]).await;
    let err = fake.client().place_order(&order("r3")).await.unwrap_err();
    assert_eq!(
        err,
        Error::Ambiguous {
            request_id: "r3".into()
        }
    );
    assert_eq!(fake.seen().len(), 2);
}

#[tokio::test]
async fn a_refused_order_is_a_certain_failure_and_not_resent() {
    let fake = Fake::queue(vec![json(400, NO_BALANCE)]).await;
    let err = fake.client().place_order(&order("r4")).await.unwrap_err();
    assert_eq!(err, Error::InsufficientBalance);
    assert!(err.is_certain_failure());
    assert_eq!(fake.seen().len(), 1);

    let refunded = include_str!("../../tests/fixtures/panel/order_refunded.json");
    let fake = Fake::queue(vec![json(200, refunded)]).await;
    let err = fake.client().place_order(&order("r5")).await.unwrap_err();
    assert_eq!(
        err,
        Error::Refunded {
            order_id: Some(98765)
        }
    );
    assert!(err.is_certain_failure());
    assert_eq!(fake.seen().len(), 1);
}

#[tokio::test]
async fn an_order_that_cannot_connect_is_a_certain_network_failure() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = client_for(&format!("http://{addr}/devapi/v1"), fast());
    let err = client.place_order(&order("r6")).await.unwrap_err();
    assert!(matches!(err, Error::Network { .. }), "{err:?}");
    assert!(err.is_certain_failure());
}

#[tokio::test]
async fn comments_are_sent_joined_and_checked_first() {
    let fake = Fake::queue(vec![json(200, ORDER_OK)]).await;
    let client = fake.client();
    let mut o = order("r7");
    o.payload = OrderPayload::Comments(vec!["Great".into(), "Nice one".into()]);
    client.place_order(&o).await.unwrap();
    assert_eq!(fake.seen()[0].json()["comments"], "Great\nNice one");
    assert!(fake.seen()[0].json().get("quantity").is_none());

    for bad in [
        vec![],
        vec!["ok".to_string(), " ".to_string()],
        vec!["two\nlines".to_string()],
    ] {
        o.payload = OrderPayload::Comments(bad);
        let err = client.place_order(&o).await.unwrap_err();
        assert!(matches!(&err, Error::Api { code, .. } if code == "invalid_comments"));
        assert!(err.is_certain_failure());
    }
    assert_eq!(fake.seen().len(), 1);
}

// ---- construction and redaction ----

#[test]
fn bad_base_urls_are_refused() {
    for base in [
        "",
        "not a url",
        "ftp://x/y",
        "http://user:pw@host/v1",
        "http://h/v1?x=1",
    ] {
        let err = Client::new(base, ApiKey::new(KEY)).unwrap_err();
        assert!(matches!(err, Error::Network { .. }), "{base}: {err:?}");
    }
    let err = Client::new(DEFAULT_BASE_URL, ApiKey::new("bad\nkey")).unwrap_err();
    assert!(matches!(err, Error::Network { .. }));
    let client = Client::new(&format!("{DEFAULT_BASE_URL}/"), ApiKey::new(KEY)).unwrap();
    assert_eq!(client.base_url(), DEFAULT_BASE_URL);
}

#[test]
fn the_key_never_shows() {
    let key = ApiKey::new(format!("  {KEY}\n"));
    assert_eq!(key.expose(), KEY);
    assert_eq!(format!("{key:?}"), "ak_…(redacted)");
    assert_eq!(format!("{key}"), "ak_…(redacted)");
    let client = Client::new(DEFAULT_BASE_URL, key).unwrap();
    let shown = format!("{client:?}");
    assert_eq!(
        shown,
        format!("Client {{ base_url: {DEFAULT_BASE_URL:?} }}")
    );
    assert!(!format!("{:#?}", client.clone()).contains("TESTSECRET"));

    let errors = [
        Error::InvalidQuantity {
            min: Some(1),
            max: None,
            received: Some(0),
        },
        Error::InsufficientBalance,
        Error::Refunded { order_id: Some(1) },
        Error::Duplicate { order_id: None },
        Error::Unauthorized,
        Error::RateLimited {
            retry_after: Some(Duration::from_secs(1)),
        },
        Error::NotFound,
        Error::Server { status: 502 },
        Error::Api {
            code: "x".into(),
            message: "y".into(),
        },
        wire::malformed(&format!("<html>{KEY}</html>"), KEY),
        wire::open_envelope(
            400,
            None,
            &format!(r#"{{"error":{{"code":"{KEY}","message":"{KEY}"}}}}"#),
            KEY,
        )
        .unwrap_err(),
        Error::Timeout,
        Error::Network {
            reason: "refused".into(),
        },
        Error::Ambiguous {
            request_id: "r".into(),
        },
    ];
    for e in &errors {
        assert!(!format!("{e:?}").contains("TESTSECRET"), "{e:?}");
        assert!(!e.to_string().contains("TESTSECRET"), "{e}");
    }
}

#[tokio::test]
async fn errors_from_real_exchanges_never_carry_the_key() {
    let echo = format!(
        r#"{{"success":false,"error":{{"code":"bad_key","message":"Key {KEY} is not valid"}}}}"#
    );
    let page = format!("<html><body>Authorization: Bearer {KEY}</body></html>");
    let fake = Fake::queue(vec![json(400, &echo), json(200, &page)]).await;
    let client = fake.client();
    let first = client.balance().await.unwrap_err();
    let second = client.balance().await.unwrap_err();
    for e in [first, second] {
        assert!(!format!("{e:?} {e}").contains("TESTSECRET"), "{e:?}");
    }
    assert_key_never_logged();
}
