//! The IA-Café reseller API client: one method per endpoint over one private request funnel.
//!
//! Reads are retried on timeouts, network errors, 5xx and 429; writes are not, except that an
//! order whose outcome is unknown is re-sent once with the same `request_id` (the API refuses
//! duplicates) and otherwise reported as [`Error::Ambiguous`] for reconciliation.

mod error;
mod status;
mod wire;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue, RETRY_AFTER};
use rust_decimal::Decimal;
use serde_json::Value;

use crate::money::Naira;

pub use error::Error;
pub use status::OrderStatus;

/// The production API root.
pub const DEFAULT_BASE_URL: &str = "https://iacafe.com.ng/devapi/v1";

/// Most ids the API takes in one bulk call.
const BATCH: usize = 100;
/// Largest answer body read; a catalog is far smaller.
const MAX_BODY_BYTES: usize = 16 << 20;
/// Longest wait a read will sit through for a retry (Retry-After beyond it is handed back).
const MAX_RETRY_WAIT: Duration = Duration::from_secs(30);

/// The IA-Café API key; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key (surrounding whitespace from `.env` files is dropped).
    pub fn new(key: impl Into<String>) -> ApiKey {
        let key: String = key.into();
        ApiKey(key.trim().to_string())
    }

    /// The secret itself, for the Authorization header and scrubbing only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ak_…(redacted)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ak_…(redacted)")
    }
}

/// Timeouts and retry behaviour of a [`Client`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientOptions {
    /// Longest wait for the TCP/TLS connection.
    pub connect_timeout: Duration,
    /// Longest wait for a whole request, answer body included.
    pub request_timeout: Duration,
    /// Extra attempts for reads after a timeout, network error, 5xx or 429.
    pub read_retries: u32,
    /// First retry delay; doubled each time, with jitter.
    pub retry_base: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(15),
            read_retries: 2,
            retry_base: Duration::from_millis(300),
        }
    }
}

/// Filters for [`Client::services`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceFilter {
    /// Exact category name (`category=`).
    pub category: Option<String>,
    /// Search in service name or category (`q=`).
    pub query: Option<String>,
}

/// The service catalog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Catalog {
    /// Active services (rows the client could not read are left out and logged).
    pub services: Vec<Service>,
    /// Category names as the API lists them.
    pub categories: Vec<String>,
}

/// One orderable service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    /// IA-Café's id, sent as `serviceId`.
    pub id: u64,
    /// The upstream panel's service id.
    pub provider_service_id: Option<u64>,
    /// Category name.
    pub category: String,
    /// Display name.
    pub name: String,
    /// Standard quantity or custom comments.
    pub kind: ServiceKind,
    /// Smallest quantity.
    pub min: u64,
    /// Largest quantity.
    pub max: u64,
    /// Our API price per 1,000 units.
    pub rate_per_1k: Naira,
    /// Free refills are offered.
    pub refill: bool,
    /// Orders can be cancelled while active.
    pub cancelable: bool,
    /// Drip-feed delivery is supported.
    pub dripfeed: bool,
}

/// How a service is ordered, from its `type`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServiceKind {
    /// A quantity.
    Default,
    /// One comment per line; quantity = number of lines.
    CustomComments,
    /// A type the document does not describe, kept as received.
    Other(String),
}

/// An order to place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewOrder {
    /// Unique id created and stored before sending; repeats are refused by the API.
    pub request_id: String,
    /// The service's `id`.
    pub service_id: u64,
    /// Full URL or `@username`.
    pub link: String,
    /// Quantity or comments.
    pub payload: OrderPayload,
}

/// What is ordered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrderPayload {
    /// A number of units.
    Quantity(u64),
    /// Custom comments, one per entry (sent joined with `\n`; each must be one non-empty line).
    Comments(Vec<String>),
}

/// The API's answer to a placed order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlacedOrder {
    /// IA-Café's order id (used for status, refill, cancel).
    pub order_id: u64,
    /// The upstream panel's id (keys bulk status and cancel answers).
    pub provider_order_id: Option<u64>,
    /// Status word, normalised.
    pub status: OrderStatus,
    /// Units ordered.
    pub quantity: u64,
    /// Cost before discount.
    pub amount: Naira,
    /// What the wallet was charged.
    pub amount_charged: Naira,
    /// Wallet before the order.
    pub initial_balance: Option<Naira>,
    /// Wallet after the order.
    pub final_balance: Option<Naira>,
    /// The request_id the API recorded.
    pub request_id: String,
    /// Service name.
    pub service_name: String,
    /// Target link.
    pub link: String,
}

/// Paging and filters for [`Client::orders`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderQuery {
    /// Page number, from 1.
    pub page: u32,
    /// Rows per page (1 to 100).
    pub limit: u32,
    /// Status filter word.
    pub status: Option<String>,
    /// Service filter.
    pub service_id: Option<u64>,
}

impl Default for OrderQuery {
    fn default() -> Self {
        OrderQuery {
            page: 1,
            limit: 20,
            status: None,
            service_id: None,
        }
    }
}

/// One page of orders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderPage {
    /// The rows.
    pub orders: Vec<ListedOrder>,
    /// Orders in all pages.
    pub total: u64,
    /// This page's number.
    pub page: u32,
    /// Number of pages.
    pub pages: u32,
    /// Rows per page.
    pub limit: u32,
}

/// A row of the order list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedOrder {
    /// IA-Café's order id.
    pub id: u64,
    /// Service name.
    pub service_name: String,
    /// Category name.
    pub category: String,
    /// Target link.
    pub link: String,
    /// Units ordered.
    pub quantity: u64,
    /// Amount in naira (`amount_ngn`).
    pub amount: Naira,
    /// Local status.
    pub status: OrderStatus,
    /// Units still to deliver.
    pub remains: Option<u64>,
    /// A refill may be requested.
    pub can_refill: bool,
    /// The order may be cancelled.
    pub can_cancel: bool,
    /// When it was placed.
    pub created_at: Option<DateTime<Utc>>,
}

/// The live status of one order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderReport {
    /// IA-Café's order id.
    pub id: u64,
    /// The upstream panel's id.
    pub provider_order_id: Option<u64>,
    /// Service name.
    pub service_name: String,
    /// Target link.
    pub link: String,
    /// Units ordered.
    pub quantity: u64,
    /// Amount in naira (`amount_ngn`).
    pub amount: Naira,
    /// Local status.
    pub status: OrderStatus,
    /// Count before delivery started (provider's when the order block has none).
    pub start_count: Option<u64>,
    /// Units still to deliver (provider's when the order block has none).
    pub remains: Option<u64>,
    /// A refill may be requested.
    pub can_refill: bool,
    /// The order may be cancelled.
    pub can_cancel: bool,
    /// When it was placed.
    pub created_at: Option<DateTime<Utc>>,
    /// Last change.
    pub updated_at: Option<DateTime<Utc>>,
    /// The upstream panel's own status word, if it answered.
    pub provider_status: Option<OrderStatus>,
}

/// One order in a bulk status answer (keyed by provider_order_id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BulkEntry {
    /// Provider status.
    pub status: OrderStatus,
    /// Units still to deliver.
    pub remains: Option<u64>,
    /// Provider's charge, in `currency` (USD): informative, not naira.
    pub charge: Option<Decimal>,
    /// Currency of `charge`.
    pub currency: Option<String>,
}

/// The answer to a cancel request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CancelOutcome {
    /// provider_order_ids answered with `cancel: 1`.
    pub cancelled: Vec<u64>,
    /// The API's message.
    pub message: String,
    /// Why nothing was cancelled, when the API says.
    pub note: Option<String>,
}

/// The IA-Café API client; cheap to clone.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: String,
    key: ApiKey,
    auth: HeaderValue,
    opts: ClientOptions,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base)
            .finish()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    Get,
    Post,
}

/// One API call, reusable for retries.
struct Call {
    method: Method,
    path: String,
    query: Vec<(&'static str, String)>,
    body: Option<Value>,
}

impl Call {
    fn get(path: impl Into<String>) -> Call {
        Call {
            method: Method::Get,
            path: path.into(),
            query: Vec::new(),
            body: None,
        }
    }

    fn post(path: impl Into<String>, body: Value) -> Call {
        Call {
            method: Method::Post,
            path: path.into(),
            query: Vec::new(),
            body: Some(body),
        }
    }

    fn with(mut self, name: &'static str, value: impl ToString) -> Call {
        self.query.push((name, value.to_string()));
        self
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = match self.method {
            Method::Get => "GET",
            Method::Post => "POST",
        };
        write!(f, "{m} {}", self.path)
    }
}

/// A failed attempt, and whether the request may have reached the server.
struct Failure {
    error: Error,
    /// False only when no connection was made: then no order can exist.
    maybe_sent: bool,
}

impl Failure {
    fn sent(error: Error) -> Failure {
        Failure {
            error,
            maybe_sent: true,
        }
    }

    /// True when an order request may have been processed without us seeing the outcome.
    fn outcome_unknown(&self) -> bool {
        self.maybe_sent
            && matches!(
                self.error,
                Error::Timeout
                    | Error::Network { .. }
                    | Error::Server { .. }
                    | Error::Malformed { .. }
            )
    }
}

/// A successful answer: the opened envelope and its text (for excerpts).
struct Reply {
    json: Value,
    text: String,
}

impl Client {
    /// A client with default timeouts (5 s connect, 15 s request) and 2 read retries.
    pub fn new(base_url: &str, key: ApiKey) -> Result<Client, Error> {
        Client::with_options(base_url, key, ClientOptions::default())
    }

    /// A client with chosen timeouts and retries. Fails (as `Network`) on a bad base URL or key.
    pub fn with_options(base_url: &str, key: ApiKey, opts: ClientOptions) -> Result<Client, Error> {
        let base = base_url.trim().trim_end_matches('/').to_string();
        let url = reqwest::Url::parse(&base).map_err(|e| Error::Network {
            reason: format!("invalid base URL: {e}"),
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(Error::Network {
                reason: "the base URL must be an http(s) URL with a host".into(),
            });
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Error::Network {
                reason: "the base URL must not carry credentials; the key goes in ApiKey".into(),
            });
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(Error::Network {
                reason: "the base URL must not have a query or fragment".into(),
            });
        }
        let mut auth =
            HeaderValue::from_str(&format!("Bearer {}", key.expose())).map_err(|_| {
                Error::Network {
                    reason: "the API key contains characters not allowed in a header".into(),
                }
            })?;
        auth.set_sensitive(true);
        let http = reqwest::Client::builder()
            .connect_timeout(opts.connect_timeout)
            .timeout(opts.request_timeout)
            // A redirected POST could turn into a GET or go to another host: never follow.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("smm-storefront/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Network {
                reason: format!("could not build the HTTP client: {}", error_chain(&e)),
            })?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base,
                key,
                auth,
                opts,
            }),
        })
    }

    /// The API root this client talks to (no trailing `/`).
    pub fn base_url(&self) -> &str {
        &self.inner.base
    }

    /// `GET /smm/services`: the active services and categories.
    pub async fn services(&self, filter: &ServiceFilter) -> Result<Catalog, Error> {
        let mut call = Call::get("/smm/services");
        if let Some(c) = filter.category.as_deref().filter(|c| !c.is_empty()) {
            call = call.with("category", c);
        }
        if let Some(q) = filter.query.as_deref().filter(|q| !q.is_empty()) {
            call = call.with("q", q);
        }
        let reply = self.read(&call).await?;
        self.decode(&call, &reply, wire::catalog)
    }

    /// `POST /smm/order`. An unknown outcome is re-sent once with the same `request_id`; if it
    /// stays unknown (or the API calls it a duplicate without naming the order) the answer is
    /// [`Error::Ambiguous`]: reconcile through [`Client::orders`] before telling anyone.
    pub async fn place_order(&self, order: &NewOrder) -> Result<PlacedOrder, Error> {
        if let OrderPayload::Comments(lines) = &order.payload
            && (lines.is_empty()
                || lines
                    .iter()
                    .any(|l| l.trim().is_empty() || l.contains(['\n', '\r'])))
        {
            // Each entry is billed as one line: a blank or multi-line entry would change the count.
            return Err(Error::Api {
                code: "invalid_comments".into(),
                message: "comments must be non-empty single lines".into(),
            });
        }
        let call = Call::post("/smm/order", wire::order_body(order));
        let first = match self.order_attempt(&call, order).await {
            Ok(placed) => return Ok(placed),
            Err(f) if !f.outcome_unknown() => return Err(f.error),
            Err(f) => f,
        };
        log::warn!(
            "IA-Café order {}: outcome unknown ({}); re-sending once with the same request_id",
            order.request_id,
            first.error
        );
        tokio::time::sleep(self.backoff(1)).await;
        match self.order_attempt(&call, order).await {
            Ok(placed) => Ok(placed),
            Err(Failure {
                error: Error::Duplicate { order_id: Some(id) },
                ..
            }) => {
                log::warn!("IA-Café order {}: already placed as {id}", order.request_id);
                Err(Error::Duplicate { order_id: Some(id) })
            }
            Err(second) => {
                log::warn!(
                    "IA-Café order {}: still unknown after re-send ({}); needs reconciliation",
                    order.request_id,
                    second.error
                );
                Err(Error::Ambiguous {
                    request_id: order.request_id.clone(),
                })
            }
        }
    }

    /// One order attempt; an unreadable 2xx answer counts as an unknown outcome.
    async fn order_attempt(&self, call: &Call, order: &NewOrder) -> Result<PlacedOrder, Failure> {
        let reply = self.send(call).await?;
        let placed = self.decode(call, &reply, |v| wire::placed_order(v, order));
        let placed = placed.map_err(Failure::sent)?;
        if placed.request_id != order.request_id {
            log::warn!(
                "IA-Café order {}: answer names request_id {:?}",
                order.request_id,
                placed.request_id
            );
        }
        Ok(placed)
    }

    /// `GET /smm/orders`: one page (limit clamped to 1..=100, page to ≥1).
    pub async fn orders(&self, query: &OrderQuery) -> Result<OrderPage, Error> {
        let page = query.page.max(1);
        let limit = query.limit.clamp(1, 100);
        let mut call = Call::get("/smm/orders")
            .with("page", page)
            .with("limit", limit);
        if let Some(s) = query.status.as_deref().filter(|s| !s.is_empty()) {
            call = call.with("status", s);
        }
        if let Some(id) = query.service_id {
            call = call.with("service_id", id);
        }
        let reply = self.read(&call).await?;
        let asked = OrderQuery {
            page,
            limit,
            ..query.clone()
        };
        self.decode(&call, &reply, |v| wire::order_page(v, &asked))
    }

    /// `GET /smm/status/:id`: live status of one order (IA-Café id).
    pub async fn status(&self, order_id: u64) -> Result<OrderReport, Error> {
        let call = Call::get(format!("/smm/status/{order_id}"));
        let reply = self.read(&call).await?;
        self.decode(&call, &reply, wire::order_report)
    }

    /// `POST /smm/status`: statuses keyed by provider_order_id; more than 100 ids are sent in
    /// several calls of at most 100 and merged. Orders the API does not report are absent.
    pub async fn bulk_status(&self, order_ids: &[u64]) -> Result<HashMap<u64, BulkEntry>, Error> {
        let ids = distinct(order_ids);
        let mut all = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(BATCH) {
            let call = Call::post("/smm/status", wire::order_ids_body(chunk));
            let reply = self.read(&call).await?;
            all.extend(self.decode(&call, &reply, wire::bulk_entries)?);
        }
        Ok(all)
    }

    /// `POST /smm/refill`: asks for a refill of an order (IA-Café id); returns the refill id.
    pub async fn refill(&self, order_id: u64) -> Result<u64, Error> {
        let call = Call::post("/smm/refill", wire::refill_body(order_id));
        let reply = self.write(&call).await?;
        self.decode(&call, &reply, wire::refill_id)
    }

    /// `GET /smm/refill-status?refill=ID`: the status word as sent.
    pub async fn refill_status(&self, refill_id: u64) -> Result<String, Error> {
        let call = Call::get("/smm/refill-status").with("refill", refill_id);
        let reply = self.read(&call).await?;
        self.decode(&call, &reply, wire::refill_status)
    }

    /// `GET /smm/refill-status?refills=…`: status words by refill id (100 ids a call).
    pub async fn refill_statuses(&self, refill_ids: &[u64]) -> Result<HashMap<u64, String>, Error> {
        let ids = distinct(refill_ids);
        let mut all = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(BATCH) {
            let joined = chunk
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let call = Call::get("/smm/refill-status").with("refills", joined);
            let reply = self.read(&call).await?;
            all.extend(self.decode(&call, &reply, |v| wire::refill_statuses(v, chunk))?);
        }
        Ok(all)
    }

    /// `POST /smm/cancel` (IA-Café ids). `cancelled` lists provider_order_ids; an empty list
    /// with a `note` is a normal answer. An empty request is answered locally.
    pub async fn cancel(&self, order_ids: &[u64]) -> Result<CancelOutcome, Error> {
        let ids = distinct(order_ids);
        if ids.is_empty() {
            return Ok(CancelOutcome {
                cancelled: Vec::new(),
                message: "nothing to cancel".into(),
                note: None,
            });
        }
        let call = Call::post("/smm/cancel", wire::order_ids_body(&ids));
        let reply = self.write(&call).await?;
        self.decode(&call, &reply, wire::cancel_outcome)
    }

    /// `GET /whoami`: the IA-Café wallet balance.
    pub async fn balance(&self) -> Result<Naira, Error> {
        let call = Call::get("/whoami");
        let reply = self.read(&call).await?;
        self.decode(&call, &reply, wire::wallet_balance)
    }

    // -----------------------------------------------------------------------------------------
    // The funnel
    // -----------------------------------------------------------------------------------------

    /// A read: retried with backoff on timeouts, network errors, 5xx and 429.
    async fn read(&self, call: &Call) -> Result<Reply, Error> {
        let attempts = self.inner.opts.read_retries.saturating_add(1);
        let mut attempt = 1;
        loop {
            let failure = match self.send(call).await {
                Ok(reply) => return Ok(reply),
                Err(f) => f,
            };
            if attempt >= attempts || !failure.error.is_transient() {
                return Err(failure.error);
            }
            let mut wait = self.backoff(attempt);
            if let Error::RateLimited {
                retry_after: Some(asked),
            } = failure.error
            {
                if asked > MAX_RETRY_WAIT {
                    return Err(failure.error);
                }
                wait = wait.max(asked);
            }
            log::warn!(
                "IA-Café {call}: {} (attempt {attempt}/{attempts}); retrying in {} ms",
                failure.error,
                wait.as_millis()
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// A write other than an order: one attempt, whatever happens.
    async fn write(&self, call: &Call) -> Result<Reply, Error> {
        self.send(call).await.map_err(|f| f.error)
    }

    /// Delay before retry `n` (1-based): base × 2^(n-1), capped, plus up to half again of jitter.
    fn backoff(&self, n: u32) -> Duration {
        let base = self.inner.opts.retry_base.as_millis().min(60_000) as u64;
        let ms = base
            .saturating_mul(1u64 << n.saturating_sub(1).min(10))
            .min(MAX_RETRY_WAIT.as_millis() as u64);
        Duration::from_millis(ms.saturating_add(fastrand::u64(0..=ms / 2)))
    }

    /// One HTTP exchange: key, timeouts, body cap, envelope opened once into a `Result`.
    async fn send(&self, call: &Call) -> Result<Reply, Failure> {
        let inner = &*self.inner;
        let url = format!("{}{}", inner.base, call.path);
        let mut req = match call.method {
            Method::Get => inner.http.get(&url),
            Method::Post => inner.http.post(&url),
        };
        req = req
            .header(AUTHORIZATION, inner.auth.clone())
            .header(ACCEPT, "application/json");
        if !call.query.is_empty() {
            req = req.query(&call.query);
        }
        if let Some(body) = &call.body {
            req = req.json(body);
        }
        log::debug!("IA-Café {call}");
        let mut resp = req.send().await.map_err(|e| self.transport_failure(e))?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(wire::parse_retry_after);
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.transport_failure(e))? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(Failure::sent(Error::Malformed {
                    excerpt: "answer body larger than 16 MiB".into(),
                }));
            }
            body.extend_from_slice(&chunk);
        }
        let text = String::from_utf8_lossy(&body).into_owned();
        log::debug!("IA-Café {call}: HTTP {status}, {} bytes", body.len());
        match wire::open_envelope(status, retry_after, &text, inner.key.expose()) {
            Ok(json) => Ok(Reply { json, text }),
            Err(error) => Err(Failure::sent(error)),
        }
    }

    /// A reqwest error as a typed error, noting whether the request may have been sent.
    fn transport_failure(&self, e: reqwest::Error) -> Failure {
        let e = e.without_url();
        let reason = error::scrub(&error_chain(&e), self.inner.key.expose(), 300);
        if e.is_connect() || e.is_builder() {
            let reason = if e.is_timeout() {
                format!("connection timed out: {reason}")
            } else {
                format!("could not connect: {reason}")
            };
            Failure {
                error: Error::Network { reason },
                maybe_sent: false,
            }
        } else if e.is_timeout() {
            Failure::sent(Error::Timeout)
        } else {
            Failure::sent(Error::Network { reason })
        }
    }

    /// Turns an opened answer into a domain value; a shape mismatch is `Malformed`.
    fn decode<T>(
        &self,
        call: &Call,
        reply: &Reply,
        read: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Result<T, Error> {
        read(&reply.json).map_err(|reason| {
            let key = self.inner.key.expose();
            log::warn!(
                "IA-Café {call}: unexpected answer: {}",
                error::scrub(&reason, key, 300)
            );
            wire::malformed(&reply.text, key)
        })
    }
}

/// The ids once each, in their first order.
fn distinct(ids: &[u64]) -> Vec<u64> {
    let mut seen = HashSet::with_capacity(ids.len());
    ids.iter().copied().filter(|id| seen.insert(*id)).collect()
}

/// An error and its sources on one line.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}
