//! Private JSON shapes of the IA-Café API: lenient number/string readers, the envelope, decoders.
//!
//! The API sends numbers as numbers or strings at will (see NOTES.md §2), so every field is read
//! through `serde_json::Value` and converted here. Money goes through the number's text into
//! `Decimal`, never through float arithmetic: without serde_json's `arbitrary_precision` the
//! text is the shortest form that round-trips, which equals the sent literal for anything up to
//! 15 significant digits (more than any naira amount or rate needs).

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value, json};

use super::error::{Error, scrub};
use super::{
    BulkEntry, CancelOutcome, Catalog, ListedOrder, NewOrder, OrderPage, OrderPayload, OrderQuery,
    OrderReport, OrderStatus, PlacedOrder, Service, ServiceKind,
};
use crate::money::Naira;

/// Longest excerpt of a body kept in `Error::Malformed`.
pub(super) const EXCERPT_CHARS: usize = 120;

// ---------------------------------------------------------------------------------------------
// Lenient scalar readers
// ---------------------------------------------------------------------------------------------

/// A decimal from a JSON number or numeric string (`"1,560.00"` too, as `Naira::parse` reads).
pub(super) fn decimal_of(v: &Value) -> Option<Decimal> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .map(Decimal::from)
            .or_else(|| n.as_i64().map(Decimal::from))
            .or_else(|| {
                let text = n.to_string();
                Decimal::from_str(&text)
                    .or_else(|_| Decimal::from_scientific(&text))
                    .ok()
            }),
        Value::String(s) => Naira::parse(s).map(|n| n.0),
        _ => None,
    }
}

/// The first of `names` in `v` that holds a whole number.
fn first_u64(v: &Value, names: &[&str]) -> Option<u64> {
    names.iter().find_map(|n| v.get(*n).and_then(u64_of))
}

/// A non-negative whole number from a JSON number (`1500`, `1500.0`) or string (`"1500"`).
pub(super) fn u64_of(v: &Value) -> Option<u64> {
    if let Value::Number(n) = v
        && let Some(u) = n.as_u64()
    {
        return Some(u);
    }
    if let Value::String(s) = v
        && let Ok(u) = s.trim().parse::<u64>()
    {
        return Some(u);
    }
    let d = decimal_of(v)?;
    if d.fract().is_zero() && d >= Decimal::ZERO {
        d.to_u64()
    } else {
        None
    }
}

/// A flag from `true`, `1`, `"1"`, `"true"`, `"yes"` (and their opposites).
pub(super) fn bool_of(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n
            .as_u64()
            .map(|u| u != 0)
            .or_else(|| n.as_i64().map(|i| i != 0)),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "y" | "on" => Some(true),
            "false" | "0" | "no" | "n" | "off" | "" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// Text from a JSON string, number or flag.
pub(super) fn string_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A timestamp: RFC 3339, `YYYY-MM-DD HH:MM:SS` (taken as UTC) or unix seconds.
fn time_of(v: &Value) -> Option<DateTime<Utc>> {
    if let Value::String(s) = v {
        let s = s.trim();
        if let Ok(t) = DateTime::parse_from_rfc3339(s) {
            return Some(t.with_timezone(&Utc));
        }
        for f in [
            "%Y-%m-%d %H:%M:%S",
            "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%d %H:%M:%S%.f",
        ] {
            if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
                return Some(t.and_utc());
            }
        }
    }
    let secs = i64::try_from(u64_of(v)?).ok()?;
    DateTime::from_timestamp(secs, 0)
}

/// What kind of JSON value this is, for error reasons (never the value itself).
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a flag",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn de_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let v = Value::deserialize(d)?;
    u64_of(&v).ok_or_else(|| D::Error::custom(format!("expected a whole number, got {}", kind(&v))))
}

fn de_opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    // Optional counts are informative only: anything unreadable ("N/A", -5) counts as absent.
    Ok(u64_of(&Value::deserialize(d)?))
}

fn de_decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    let v = Value::deserialize(d)?;
    decimal_of(&v).ok_or_else(|| D::Error::custom(format!("expected an amount, got {}", kind(&v))))
}

fn de_opt_decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    let v = Value::deserialize(d)?;
    match v {
        Value::Null => Ok(None),
        Value::String(ref s) if s.trim().is_empty() => Ok(None),
        _ => decimal_of(&v)
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("expected an amount, got {}", kind(&v)))),
    }
}

fn de_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(bool_of(&Value::deserialize(d)?).unwrap_or(false))
}

fn de_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let v = Value::deserialize(d)?;
    string_of(&v).ok_or_else(|| D::Error::custom(format!("expected text, got {}", kind(&v))))
}

fn de_opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(string_of(&Value::deserialize(d)?))
}

fn de_opt_status<'de, D: Deserializer<'de>>(d: D) -> Result<Option<OrderStatus>, D::Error> {
    Ok(string_of(&Value::deserialize(d)?)
        .filter(|s| !s.trim().is_empty())
        .map(|s| OrderStatus::parse(&s)))
}

fn de_opt_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    Ok(time_of(&Value::deserialize(d)?))
}

fn money(d: Decimal) -> Naira {
    Naira(d)
}

// ---------------------------------------------------------------------------------------------
// The envelope
// ---------------------------------------------------------------------------------------------

/// The `Retry-After` header as a wait: seconds, or an HTTP date.
pub(super) fn parse_retry_after(text: &str) -> Option<Duration> {
    let t = text.trim();
    if let Ok(secs) = t.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = DateTime::parse_from_rfc2822(t).ok()?.with_timezone(&Utc);
    let secs = (when - Utc::now()).num_seconds().max(0);
    Some(Duration::from_secs(u64::try_from(secs).unwrap_or(0)))
}

/// Opens an answer once: the JSON object on success, the typed error otherwise.
pub(super) fn open_envelope(
    status: u16,
    retry_after: Option<Duration>,
    body: &str,
    key: &str,
) -> Result<Value, Error> {
    match status {
        401 | 403 => return Err(Error::Unauthorized),
        429 => return Err(Error::RateLimited { retry_after }),
        500..=599 => return Err(Error::Server { status }),
        _ => {}
    }
    let json = serde_json::from_str::<Value>(body.trim_start_matches('\u{feff}'))
        .ok()
        .filter(Value::is_object);
    let Some(json) = json else {
        return Err(match status {
            404 => Error::NotFound,
            409 => Error::Duplicate { order_id: None },
            _ => malformed(body, key),
        });
    };
    if status == 409 {
        return Err(Error::Duplicate {
            order_id: order_id_in(&json),
        });
    }
    if let Some((code, message)) = error_signal(&json) {
        return Err(map_code(&code, &message, &json, status, retry_after, key));
    }
    if !(200..300).contains(&status) {
        return Err(if status == 404 {
            Error::NotFound
        } else {
            Error::Api {
                code: format!("http_{status}"),
                message: scrub(&message_in(&json), key, 300),
            }
        });
    }
    let said_success = json.get("success").and_then(bool_of) == Some(true)
        || json
            .get("code")
            .and_then(Value::as_str)
            .is_some_and(is_success_code);
    if said_success || json.get("data").is_some() {
        Ok(json)
    } else {
        Err(malformed(body, key))
    }
}

/// `Error::Malformed` with a scrubbed excerpt of the body.
pub(super) fn malformed(body: &str, key: &str) -> Error {
    let excerpt = if body.trim().is_empty() {
        "(empty body)".to_string()
    } else {
        scrub(body, key, EXCERPT_CHARS)
    };
    Error::Malformed { excerpt }
}

fn is_success_code(code: &str) -> bool {
    code.eq_ignore_ascii_case("success") || code.eq_ignore_ascii_case("ok")
}

fn message_in(json: &Value) -> String {
    json.get("error")
        .and_then(|e| e.get("message"))
        .or_else(|| json.get("message"))
        .and_then(string_of)
        .unwrap_or_default()
}

/// The error code and message if the answer says it failed, in any of the shapes seen.
fn error_signal(json: &Value) -> Option<(String, String)> {
    // An explicit success wins over stray error fields: calling a placed order a refusal would
    // let the caller refund it, while a wrong success is caught when the data is read.
    if json.get("success").and_then(bool_of) == Some(true) {
        return None;
    }
    let message = message_in(json);
    match json.get("error") {
        Some(Value::Object(e)) => {
            let code = e
                .get("code")
                .and_then(string_of)
                .unwrap_or_else(|| "error".into());
            return Some((code, message));
        }
        Some(Value::String(s)) if !s.trim().is_empty() => {
            let looks_like_code = s.chars().all(|c| c.is_ascii_lowercase() || c == '_');
            let code = if looks_like_code {
                s.clone()
            } else {
                "error".to_string()
            };
            let message = if message.is_empty() {
                s.clone()
            } else {
                message
            };
            return Some((code, message));
        }
        _ => {}
    }
    let top_code = json.get("code").and_then(Value::as_str);
    if let Some(code) = top_code
        && !is_success_code(code)
    {
        return Some((code.to_string(), message));
    }
    if json.get("success").and_then(bool_of) == Some(false) {
        return Some(("error".to_string(), message));
    }
    None
}

fn map_code(
    code: &str,
    message: &str,
    json: &Value,
    status: u16,
    retry_after: Option<Duration>,
    key: &str,
) -> Error {
    match code.trim().to_ascii_lowercase().as_str() {
        "invalid_quantity" => invalid_quantity(json, message),
        "insufficient_balance" | "insufficient_funds" | "low_balance" => Error::InsufficientBalance,
        "refunded" => Error::Refunded {
            order_id: order_id_in(json),
        },
        "duplicate_request" | "duplicate" | "duplicate_order" => Error::Duplicate {
            order_id: order_id_in(json),
        },
        "unauthorized" | "unauthenticated" | "invalid_api_key" | "invalid_key" | "forbidden" => {
            Error::Unauthorized
        }
        "rate_limited" | "too_many_requests" => Error::RateLimited { retry_after },
        "not_found" | "order_not_found" => Error::NotFound,
        "error" if status == 404 => Error::NotFound,
        _ => Error::Api {
            code: scrub(code, key, 60),
            message: scrub(message, key, 300),
        },
    }
}

/// IA-Café's order id wherever an error or refund answer puts it.
fn order_id_in(json: &Value) -> Option<u64> {
    let names = ["order_id", "orderId"];
    first_u64(json, &names)
        .or_else(|| json.get("data").and_then(|d| first_u64(d, &names)))
        .or_else(|| json.get("error").and_then(|e| first_u64(e, &names)))
}

/// Limits from the top-level (or error) fields, else from "between 100 and 100000" in the text.
fn invalid_quantity(json: &Value, message: &str) -> Error {
    let field = |name: &str| {
        json.get(name)
            .or_else(|| json.get("error").and_then(|e| e.get(name)))
            .and_then(u64_of)
    };
    let (mut min, mut max) = (field("min"), field("max"));
    if (min.is_none() || max.is_none())
        && let Some((lo, hi)) = range_in_text(message)
    {
        min = min.or(Some(lo));
        max = max.or(Some(hi));
    }
    Error::InvalidQuantity {
        min,
        max,
        received: field("received"),
    }
}

/// The two numbers of "between X and Y" (thousands separators allowed).
fn range_in_text(message: &str) -> Option<(u64, u64)> {
    let lower = message.to_ascii_lowercase();
    let after = &lower[lower.find("between")? + "between".len()..];
    let mut numbers = after
        .split(|c: char| !(c.is_ascii_digit() || c == ','))
        .map(|t| t.replace(',', ""))
        .filter(|t| !t.is_empty())
        .filter_map(|t| t.parse::<u64>().ok());
    Some((numbers.next()?, numbers.next()?))
}

// ---------------------------------------------------------------------------------------------
// Request bodies (primary field names, NOTES.md §10)
// ---------------------------------------------------------------------------------------------

/// `POST /smm/order`: request_id, serviceId, link and quantity or comments.
pub(super) fn order_body(order: &NewOrder) -> Value {
    let mut body = Map::new();
    body.insert("request_id".into(), json!(order.request_id));
    body.insert("serviceId".into(), json!(order.service_id));
    body.insert("link".into(), json!(order.link));
    match &order.payload {
        OrderPayload::Quantity(q) => body.insert("quantity".into(), json!(q)),
        OrderPayload::Comments(lines) => body.insert("comments".into(), json!(lines.join("\n"))),
    };
    Value::Object(body)
}

/// `POST /smm/status` and `/smm/cancel`: `{"orderIds": [...]}`.
pub(super) fn order_ids_body(ids: &[u64]) -> Value {
    json!({ "orderIds": ids })
}

/// `POST /smm/refill`: `{"orderId": id}`.
pub(super) fn refill_body(order_id: u64) -> Value {
    json!({ "orderId": order_id })
}

// ---------------------------------------------------------------------------------------------
// Answer shapes and their decoders
// ---------------------------------------------------------------------------------------------

/// `T` from a JSON value, with serde's reason as text.
fn parse<T: for<'de> Deserialize<'de>>(v: &Value, what: &str) -> Result<T, String> {
    T::deserialize(v).map_err(|e| format!("{what}: {e}"))
}

fn data(json: &Value) -> Result<&Value, String> {
    json.get("data")
        .ok_or_else(|| "no `data` field".to_string())
}

#[derive(Deserialize)]
struct WireService {
    #[serde(deserialize_with = "de_u64")]
    id: u64,
    #[serde(default, deserialize_with = "de_opt_u64")]
    provider_service_id: Option<u64>,
    #[serde(default, deserialize_with = "de_opt_string")]
    category: Option<String>,
    #[serde(deserialize_with = "de_string")]
    name: String,
    #[serde(rename = "type", default, deserialize_with = "de_opt_string")]
    kind: Option<String>,
    #[serde(deserialize_with = "de_u64")]
    min: u64,
    #[serde(deserialize_with = "de_u64")]
    max: u64,
    #[serde(alias = "rate", deserialize_with = "de_decimal")]
    rate_ngn_per_1k: Decimal,
    #[serde(default, deserialize_with = "de_bool")]
    refill: bool,
    #[serde(default, alias = "cancel", deserialize_with = "de_bool")]
    cancelable: bool,
    #[serde(default, deserialize_with = "de_bool")]
    dripfeed: bool,
}

/// Reads the `type` word: "Default", "Custom Comments" (any case or spacing), else kept.
fn service_kind(word: &str) -> ServiceKind {
    let norm: String = word
        .trim()
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c == '_' || c == '-' { ' ' } else { c })
        .collect();
    match norm
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .as_str()
    {
        "default" | "" => ServiceKind::Default,
        "custom comments" => ServiceKind::CustomComments,
        _ => ServiceKind::Other(word.trim().to_string()),
    }
}

/// `GET /smm/services`. Unreadable rows are skipped (and logged): one odd service must not
/// take the whole catalog down, and a row without a readable rate must never be sold.
pub(super) fn catalog(json: &Value) -> Result<Catalog, String> {
    let data = data(json)?;
    let rows = match data.get("services").unwrap_or(data) {
        Value::Array(rows) => rows,
        other => return Err(format!("`services` is {}", kind(other))),
    };
    let mut services = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        match parse::<WireService>(row, "service") {
            Ok(s) if s.rate_ngn_per_1k >= Decimal::ZERO => services.push(Service {
                id: s.id,
                provider_service_id: s.provider_service_id,
                category: s.category.unwrap_or_default(),
                name: s.name,
                kind: service_kind(s.kind.as_deref().unwrap_or("")),
                min: s.min,
                max: s.max,
                rate_per_1k: money(s.rate_ngn_per_1k),
                refill: s.refill,
                cancelable: s.cancelable,
                dripfeed: s.dripfeed,
            }),
            Ok(s) => log::warn!("IA-Café service {} skipped: negative rate", s.id),
            Err(reason) => log::warn!("IA-Café service row {i} skipped: {reason}"),
        }
    }
    let mut categories: Vec<String> = match json.get("categories") {
        Some(Value::Array(c)) => c.iter().filter_map(string_of).collect(),
        _ => Vec::new(),
    };
    if categories.is_empty() {
        categories = services.iter().map(|s| s.category.clone()).collect();
        categories.sort();
        categories.dedup();
    }
    Ok(Catalog {
        services,
        categories,
    })
}

#[derive(Deserialize)]
struct WirePlaced {
    #[serde(alias = "id", deserialize_with = "de_u64")]
    order_id: u64,
    #[serde(default, deserialize_with = "de_opt_u64")]
    provider_order_id: Option<u64>,
    #[serde(default, deserialize_with = "de_opt_status")]
    status: Option<OrderStatus>,
    #[serde(default, deserialize_with = "de_opt_u64")]
    quantity: Option<u64>,
    #[serde(alias = "amount_ngn", deserialize_with = "de_decimal")]
    amount: Decimal,
    #[serde(default, deserialize_with = "de_opt_decimal")]
    amount_charged: Option<Decimal>,
    #[serde(default, deserialize_with = "de_opt_decimal")]
    initial_balance: Option<Decimal>,
    #[serde(default, deserialize_with = "de_opt_decimal")]
    final_balance: Option<Decimal>,
    #[serde(default, deserialize_with = "de_opt_string")]
    request_id: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    service_name: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    link: Option<String>,
}

/// `POST /smm/order` success; gaps are filled from the order as sent.
pub(super) fn placed_order(json: &Value, sent: &NewOrder) -> Result<PlacedOrder, String> {
    let p: WirePlaced = parse(data(json)?, "order")?;
    let sent_quantity = match &sent.payload {
        OrderPayload::Quantity(q) => *q,
        OrderPayload::Comments(lines) => lines.len() as u64,
    };
    Ok(PlacedOrder {
        order_id: p.order_id,
        provider_order_id: p.provider_order_id,
        status: p.status.unwrap_or(OrderStatus::Pending),
        quantity: p.quantity.unwrap_or(sent_quantity),
        amount: money(p.amount),
        amount_charged: money(p.amount_charged.unwrap_or(p.amount)),
        initial_balance: p.initial_balance.map(money),
        final_balance: p.final_balance.map(money),
        request_id: p.request_id.unwrap_or_else(|| sent.request_id.clone()),
        service_name: p.service_name.unwrap_or_default(),
        link: p.link.unwrap_or_else(|| sent.link.clone()),
    })
}

#[derive(Deserialize)]
struct WireOrder {
    #[serde(alias = "order_id", deserialize_with = "de_u64")]
    id: u64,
    #[serde(default, deserialize_with = "de_opt_u64")]
    provider_order_id: Option<u64>,
    #[serde(default, deserialize_with = "de_opt_string")]
    service_name: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    category: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    link: Option<String>,
    #[serde(default, deserialize_with = "de_opt_u64")]
    quantity: Option<u64>,
    #[serde(alias = "amount", deserialize_with = "de_decimal")]
    amount_ngn: Decimal,
    #[serde(default, deserialize_with = "de_opt_status")]
    status: Option<OrderStatus>,
    #[serde(default, deserialize_with = "de_opt_u64")]
    start_count: Option<u64>,
    #[serde(default, deserialize_with = "de_opt_u64")]
    remains: Option<u64>,
    #[serde(default, deserialize_with = "de_bool")]
    can_refill: bool,
    #[serde(default, deserialize_with = "de_bool")]
    can_cancel: bool,
    #[serde(default, deserialize_with = "de_opt_time")]
    created_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de_opt_time")]
    updated_at: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct WireProvider {
    #[serde(default, deserialize_with = "de_opt_status")]
    status: Option<OrderStatus>,
    #[serde(default, deserialize_with = "de_opt_u64")]
    start_count: Option<u64>,
    #[serde(default, deserialize_with = "de_opt_u64")]
    remains: Option<u64>,
}

fn unknown_status() -> OrderStatus {
    OrderStatus::Other("unknown".into())
}

/// `GET /smm/status/:id`: the local order, completed by the provider block where it is silent.
pub(super) fn order_report(json: &Value) -> Result<OrderReport, String> {
    let data = data(json)?;
    let order: WireOrder = parse(data.get("order").unwrap_or(data), "order")?;
    // The provider block is informative; an odd one (an error text) is ignored.
    let provider = data
        .get("provider")
        .and_then(|p| WireProvider::deserialize(p).ok());
    let (p_status, p_start, p_remains) = match provider {
        Some(p) => (p.status, p.start_count, p.remains),
        None => (None, None, None),
    };
    Ok(OrderReport {
        id: order.id,
        provider_order_id: order.provider_order_id,
        service_name: order.service_name.unwrap_or_default(),
        link: order.link.unwrap_or_default(),
        quantity: order.quantity.unwrap_or(0),
        amount: money(order.amount_ngn),
        status: order.status.unwrap_or_else(unknown_status),
        start_count: order.start_count.or(p_start),
        remains: order.remains.or(p_remains),
        can_refill: order.can_refill,
        can_cancel: order.can_cancel,
        created_at: order.created_at,
        updated_at: order.updated_at,
        provider_status: p_status,
    })
}

#[derive(Deserialize)]
struct WirePagination {
    #[serde(default, deserialize_with = "de_opt_u64")]
    total: Option<u64>,
    #[serde(default, deserialize_with = "de_opt_u64")]
    limit: Option<u64>,
    #[serde(default, deserialize_with = "de_opt_u64")]
    page: Option<u64>,
    #[serde(default, deserialize_with = "de_opt_u64")]
    pages: Option<u64>,
}

fn small(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// `GET /smm/orders`: one page; a missing `pagination` is filled from the query.
pub(super) fn order_page(json: &Value, query: &OrderQuery) -> Result<OrderPage, String> {
    let data = data(json)?;
    let rows = match data.get("orders").unwrap_or(data) {
        Value::Array(rows) => rows,
        other => return Err(format!("`orders` is {}", kind(other))),
    };
    let mut orders = Vec::with_capacity(rows.len());
    for row in rows {
        let o: WireOrder = parse(row, "order row")?;
        orders.push(ListedOrder {
            id: o.id,
            service_name: o.service_name.unwrap_or_default(),
            category: o.category.unwrap_or_default(),
            link: o.link.unwrap_or_default(),
            quantity: o.quantity.unwrap_or(0),
            amount: money(o.amount_ngn),
            status: o.status.unwrap_or_else(unknown_status),
            remains: o.remains,
            can_refill: o.can_refill,
            can_cancel: o.can_cancel,
            created_at: o.created_at,
        });
    }
    let pg = json
        .get("pagination")
        .or_else(|| data.get("pagination"))
        .and_then(|p| WirePagination::deserialize(p).ok());
    let (total, limit, page, pages) = match pg {
        Some(p) => (p.total, p.limit, p.page, p.pages),
        None => (None, None, None, None),
    };
    Ok(OrderPage {
        total: total.unwrap_or(orders.len() as u64),
        page: page.map(small).unwrap_or(query.page),
        pages: pages.map(small).unwrap_or(1),
        limit: limit.map(small).unwrap_or(query.limit),
        orders,
    })
}

#[derive(Deserialize)]
struct WireBulkEntry {
    #[serde(default, deserialize_with = "de_opt_status")]
    status: Option<OrderStatus>,
    #[serde(default, deserialize_with = "de_opt_u64")]
    remains: Option<u64>,
    #[serde(default, deserialize_with = "de_opt_decimal")]
    charge: Option<Decimal>,
    #[serde(default, deserialize_with = "de_opt_string")]
    currency: Option<String>,
}

fn bulk_entry(v: &Value) -> Option<BulkEntry> {
    let e = WireBulkEntry::deserialize(v).ok()?;
    Some(BulkEntry {
        status: e.status?,
        remains: e.remains,
        charge: e.charge,
        currency: e.currency,
    })
}

/// `POST /smm/status`: entries keyed by provider_order_id. Entries without a status (per-order
/// errors such as "Incorrect order ID") are left out; the caller sees them as missing.
pub(super) fn bulk_entries(json: &Value) -> Result<HashMap<u64, BulkEntry>, String> {
    let mut out = HashMap::new();
    match data(json)? {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.trim().parse::<u64>(), bulk_entry(v)) {
                    (Ok(id), Some(entry)) => {
                        out.insert(id, entry);
                    }
                    _ => log::debug!("IA-Café bulk status entry {k:?} skipped"),
                }
            }
        }
        // An empty PHP array arrives as `[]`; rows naming their id are accepted too.
        Value::Array(rows) => {
            for row in rows {
                let id = first_u64(row, &["provider_order_id", "order", "id"]);
                if let (Some(id), Some(entry)) = (id, bulk_entry(row)) {
                    out.insert(id, entry);
                }
            }
        }
        Value::Null => {}
        other => return Err(format!("bulk `data` is {}", kind(other))),
    }
    Ok(out)
}

/// `POST /smm/refill`: the refill id.
pub(super) fn refill_id(json: &Value) -> Result<u64, String> {
    let data = data(json)?;
    if let Some(id) = u64_of(data) {
        return Ok(id);
    }
    first_u64(data, &["refill", "refill_id", "id"])
        .ok_or_else(|| "no refill id in `data`".to_string())
}

/// A refill status word from a string or `{"status": …}`.
fn refill_word(v: &Value) -> Option<String> {
    let word = match v {
        Value::Object(o) => o.get("status").and_then(string_of),
        other => string_of(other),
    }?;
    let word = word.trim().to_string();
    (!word.is_empty()).then_some(word)
}

/// `GET /smm/refill-status?refill=ID`: `data.status` as sent.
pub(super) fn refill_status(json: &Value) -> Result<String, String> {
    let data = data(json)?;
    data.get("status")
        .and_then(refill_word)
        .or_else(|| match data {
            Value::String(_) => refill_word(data),
            _ => None,
        })
        .ok_or_else(|| "no refill status in `data`".to_string())
}

/// `GET /smm/refill-status?refills=…` (undocumented answer): an object keyed by refill id
/// (string or `{"status"}` values), an array of `{"refill"|"id", "status"}`, or — when one id
/// was asked — the single form.
pub(super) fn refill_statuses(json: &Value, asked: &[u64]) -> Result<HashMap<u64, String>, String> {
    let data = data(json)?;
    let mut out = HashMap::new();
    match data {
        Value::Object(map) => {
            if let ([only], Some(word)) = (asked, map.get("status").and_then(refill_word)) {
                out.insert(*only, word);
                return Ok(out);
            }
            for (k, v) in map {
                if let (Ok(id), Some(word)) = (k.trim().parse::<u64>(), refill_word(v)) {
                    out.insert(id, word);
                }
            }
        }
        Value::Array(rows) => {
            for row in rows {
                let id = first_u64(row, &["refill", "refill_id", "id"]);
                if let (Some(id), Some(word)) = (id, refill_word(row)) {
                    out.insert(id, word);
                }
            }
        }
        Value::Null => {}
        other => return Err(format!("refill status `data` is {}", kind(other))),
    }
    Ok(out)
}

/// `POST /smm/cancel`: provider order ids with `cancel: 1`, the message and any `note`.
pub(super) fn cancel_outcome(json: &Value) -> Result<CancelOutcome, String> {
    let rows: &[Value] = match json.get("data") {
        Some(Value::Array(rows)) => rows,
        None | Some(Value::Null) => &[],
        Some(Value::Object(o)) if o.is_empty() => &[],
        Some(other) => return Err(format!("cancel `data` is {}", kind(other))),
    };
    let cancelled = rows
        .iter()
        .filter(|r| r.get("cancel").and_then(bool_of) == Some(true))
        .filter_map(|r| first_u64(r, &["order", "provider_order_id", "id"]))
        .collect();
    Ok(CancelOutcome {
        cancelled,
        message: json.get("message").and_then(string_of).unwrap_or_default(),
        note: json.get("note").and_then(string_of),
    })
}

/// `GET /whoami`: `data.wallet_balance`.
pub(super) fn wallet_balance(json: &Value) -> Result<Naira, String> {
    data(json)?
        .get("wallet_balance")
        .and_then(decimal_of)
        .map(money)
        .ok_or_else(|| "no readable `wallet_balance`".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "ak_test_TESTSECRET0123456789";

    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!("../../tests/fixtures/panel/", $name, ".json"))
        };
    }

    fn ok(body: &str) -> Value {
        open_envelope(200, None, body, KEY).unwrap()
    }

    fn err(status: u16, body: &str) -> Error {
        open_envelope(status, None, body, KEY).unwrap_err()
    }

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn naira(s: &str) -> Naira {
        Naira(dec(s))
    }

    fn sent(payload: OrderPayload) -> NewOrder {
        NewOrder {
            request_id: "my_order_001".into(),
            service_id: 101,
            link: "https://instagram.com/yourpage".into(),
            payload,
        }
    }

    // ---- every example of the document ----

    #[test]
    fn services_example() {
        // The document's example carries two `// …` comment lines, which are not JSON: the
        // fixture is the example with those lines removed, nothing else changed.
        let c = catalog(&ok(fixture!("services"))).unwrap();
        assert_eq!(c.categories, ["Facebook", "Instagram", "TikTok"]);
        assert_eq!(c.services.len(), 1);
        let s = &c.services[0];
        assert_eq!(s.id, 101);
        assert_eq!(s.provider_service_id, Some(1));
        assert_eq!(s.category, "Instagram");
        assert_eq!(s.name, "IG Followers [Real - 30 Days Refill]");
        assert_eq!(s.kind, ServiceKind::Default);
        assert_eq!((s.min, s.max), (100, 100_000));
        assert_eq!(s.rate_per_1k, naira("1040"));
        assert!(s.refill && s.cancelable && !s.dripfeed);
        assert_eq!(
            crate::money::cost(1500, s.rate_per_1k).unwrap().to_string(),
            "₦1,560.00"
        );
    }

    #[test]
    fn order_success_example() {
        let p = placed_order(
            &ok(fixture!("order_success")),
            &sent(OrderPayload::Quantity(1500)),
        )
        .unwrap();
        assert_eq!(p.order_id, 98765);
        assert_eq!(p.provider_order_id, Some(554433));
        assert_eq!(p.status, OrderStatus::Processing);
        assert_eq!(p.quantity, 1500);
        assert_eq!(p.amount.to_string(), "₦1,560.00");
        assert_eq!(p.amount_charged, naira("1560.00"));
        assert_eq!(p.initial_balance, Some(naira("10000.00")));
        assert_eq!(p.final_balance, Some(naira("8440.00")));
        assert_eq!(p.request_id, "my_order_001");
        assert_eq!(p.service_name, "IG Followers [Real - 30 Days Refill]");
        assert_eq!(p.link, "https://instagram.com/yourpage");
    }

    #[test]
    fn invalid_quantity_example() {
        assert_eq!(
            err(400, fixture!("error_invalid_quantity")),
            Error::InvalidQuantity {
                min: Some(100),
                max: Some(100_000),
                received: Some(50)
            }
        );
        // Same answer with HTTP 200: the envelope decides, not the status.
        assert!(matches!(
            err(200, fixture!("error_invalid_quantity")),
            Error::InvalidQuantity {
                received: Some(50),
                ..
            }
        ));
    }

    #[test]
    fn insufficient_balance_example() {
        assert_eq!(
            err(400, fixture!("error_insufficient_balance")),
            Error::InsufficientBalance
        );
        assert_eq!(
            err(200, fixture!("error_insufficient_balance")),
            Error::InsufficientBalance
        );
    }

    #[test]
    fn refunded_example() {
        assert_eq!(
            err(200, fixture!("order_refunded")),
            Error::Refunded {
                order_id: Some(98765)
            }
        );
    }

    #[test]
    fn status_example() {
        let r = order_report(&ok(fixture!("status"))).unwrap();
        assert_eq!(r.id, 98765);
        assert_eq!(r.provider_order_id, Some(554433));
        assert_eq!(r.service_name, "IG Followers [Real - 30 Days Refill]");
        assert_eq!(r.link, "https://instagram.com/yourpage");
        assert_eq!(r.quantity, 1500);
        assert_eq!(r.amount, naira("1560"));
        assert_eq!(r.status, OrderStatus::InProgress);
        assert_eq!(r.start_count, Some(4200));
        assert_eq!(r.remains, Some(900));
        assert!(r.can_refill && r.can_cancel);
        assert_eq!(
            r.created_at.unwrap().to_rfc3339(),
            "2025-01-15T10:30:00+00:00"
        );
        assert_eq!(
            r.updated_at.unwrap().to_rfc3339(),
            "2025-01-15T11:00:00+00:00"
        );
        assert_eq!(r.provider_status, Some(OrderStatus::InProgress));
    }

    #[test]
    fn bulk_status_example() {
        let m = bulk_entries(&ok(fixture!("bulk_status"))).unwrap();
        assert_eq!(m.len(), 2);
        let a = &m[&554433];
        assert_eq!(a.status, OrderStatus::InProgress);
        assert_eq!(a.remains, Some(900));
        assert_eq!(a.charge, Some(dec("0.975")));
        assert_eq!(a.currency.as_deref(), Some("USD"));
        let b = &m[&554434];
        assert_eq!(b.status, OrderStatus::Completed);
        assert_eq!(b.remains, Some(0));
        assert_eq!(b.charge, Some(dec("1.30")));
    }

    #[test]
    fn orders_example() {
        let q = OrderQuery {
            page: 1,
            limit: 20,
            status: Some("processing".into()),
            service_id: None,
        };
        let p = order_page(&ok(fixture!("orders")), &q).unwrap();
        assert_eq!((p.total, p.page, p.pages, p.limit), (45, 1, 3, 20));
        assert_eq!(p.orders.len(), 1);
        let o = &p.orders[0];
        assert_eq!(o.id, 98765);
        assert_eq!(o.category, "Instagram");
        assert_eq!(o.quantity, 1500);
        assert_eq!(o.amount, naira("1560"));
        assert_eq!(o.status, OrderStatus::Processing);
        assert_eq!(o.remains, Some(900));
        assert!(o.can_refill && o.can_cancel);
        assert!(o.created_at.is_some());
    }

    #[test]
    fn refill_example() {
        assert_eq!(refill_id(&ok(fixture!("refill"))).unwrap(), 7821);
    }

    #[test]
    fn refill_status_example() {
        let json = ok(fixture!("refill_status"));
        assert_eq!(refill_status(&json).unwrap(), "Completed");
        // The single form answers a one-id multiple request too.
        let m = refill_statuses(&json, &[7821]).unwrap();
        assert_eq!(m[&7821], "Completed");
    }

    #[test]
    fn cancel_example() {
        let c = cancel_outcome(&ok(fixture!("cancel"))).unwrap();
        assert_eq!(c.cancelled, [554433, 554434]);
        assert_eq!(c.message, "Cancel request submitted");
        assert_eq!(c.note, None);
    }

    #[test]
    fn cancel_nothing_example() {
        let c = cancel_outcome(&ok(fixture!("cancel_none"))).unwrap();
        assert!(c.cancelled.is_empty());
        assert_eq!(c.message, "No cancelable orders found");
        assert_eq!(
            c.note.as_deref(),
            Some("Orders must be cancelable, still active, and confirmed with provider")
        );
    }

    #[test]
    fn order_request_example_matches_what_we_send() {
        let expected: Value = serde_json::from_str(fixture!("order_request")).unwrap();
        let body = order_body(&NewOrder {
            request_id: "my_order_001".into(),
            service_id: 101,
            link: "https://instagram.com/yourpage".into(),
            payload: OrderPayload::Quantity(1500),
        });
        assert_eq!(body, expected);
    }

    #[test]
    fn comments_request_example_matches_what_we_send() {
        let expected: Value = serde_json::from_str(fixture!("order_comments_request")).unwrap();
        let body = order_body(&NewOrder {
            request_id: "my_order_002".into(),
            service_id: 205,
            link: "https://instagram.com/p/postid".into(),
            payload: OrderPayload::Comments(vec![
                "Amazing post!".into(),
                "Love this content!".into(),
                "Great work!".into(),
            ]),
        });
        assert_eq!(body, expected);
    }

    #[test]
    fn id_list_and_refill_request_examples_match_what_we_send() {
        let bulk: Value = serde_json::from_str(fixture!("bulk_status_request")).unwrap();
        assert_eq!(order_ids_body(&[98765, 98766, 98767]), bulk);
        let cancel: Value = serde_json::from_str(fixture!("cancel_request")).unwrap();
        assert_eq!(order_ids_body(&[98765, 98766]), cancel);
        let refill: Value = serde_json::from_str(fixture!("refill_request")).unwrap();
        assert_eq!(refill_body(98765), refill);
    }

    #[test]
    fn whoami_balance() {
        let body = r#"{"success":true,"data":{"name":"Sandbox Shop","email":"a@b.c","wallet_balance":"5000.00"}}"#;
        assert_eq!(wallet_balance(&ok(body)).unwrap(), naira("5000.00"));
        let body = r#"{"success":true,"data":{"wallet_balance":12.5}}"#;
        assert_eq!(wallet_balance(&ok(body)).unwrap(), naira("12.5"));
    }

    // ---- error shapes ----

    #[test]
    fn invalid_quantity_limits_from_the_message_text() {
        let body = r#"{"success":false,"error":{"code":"invalid_quantity","message":"Quantity must be between 100 and 100000"}}"#;
        assert_eq!(
            err(400, body),
            Error::InvalidQuantity {
                min: Some(100),
                max: Some(100_000),
                received: None
            }
        );
        let body = r#"{"success":false,"error":{"code":"invalid_quantity","message":"between 1,000 and 50,000"},"received":"10"}"#;
        assert_eq!(
            err(400, body),
            Error::InvalidQuantity {
                min: Some(1000),
                max: Some(50_000),
                received: Some(10)
            }
        );
        let body = r#"{"success":false,"error":{"code":"invalid_quantity","message":"too small"}}"#;
        assert_eq!(
            err(400, body),
            Error::InvalidQuantity {
                min: None,
                max: None,
                received: None
            }
        );
    }

    #[test]
    fn duplicate_by_status_or_code() {
        let body = r#"{"success":false,"error":{"code":"duplicate_request","message":"request_id already used"},"order_id":98765}"#;
        assert_eq!(
            err(409, body),
            Error::Duplicate {
                order_id: Some(98765)
            }
        );
        assert_eq!(
            err(400, body),
            Error::Duplicate {
                order_id: Some(98765)
            }
        );
        let bare = r#"{"success":false,"error":{"code":"duplicate_request","message":"used"}}"#;
        assert_eq!(err(409, bare), Error::Duplicate { order_id: None });
        assert_eq!(err(409, ""), Error::Duplicate { order_id: None });
    }

    #[test]
    fn html_page_is_malformed_without_the_key() {
        let page = format!(
            "<!DOCTYPE html><html><head><title>Loading IA-Café</title></head><body>{KEY} {}</body></html>",
            "x".repeat(400)
        );
        match err(200, &page) {
            Error::Malformed { excerpt } => {
                assert!(excerpt.starts_with("<!DOCTYPE html>"), "{excerpt}");
                assert!(excerpt.chars().count() <= EXCERPT_CHARS);
                assert!(!excerpt.contains("TESTSECRET"));
            }
            other => panic!("{other:?}"),
        }
        let echoed = format!("<html>Bearer {KEY}</html>");
        let Error::Malformed { excerpt } = err(200, &echoed) else {
            panic!()
        };
        assert!(!excerpt.contains("TESTSECRET"), "{excerpt}");
    }

    #[test]
    fn empty_body_and_garbage_are_malformed() {
        assert_eq!(
            err(200, ""),
            Error::Malformed {
                excerpt: "(empty body)".into()
            }
        );
        assert_eq!(
            err(200, "   \n"),
            Error::Malformed {
                excerpt: "(empty body)".into()
            }
        );
        assert!(matches!(
            err(200, "{\"success\": tru"),
            Error::Malformed { .. }
        ));
        assert!(matches!(err(200, "[1,2,3]"), Error::Malformed { .. }));
        assert!(matches!(err(200, "null"), Error::Malformed { .. }));
        assert!(matches!(err(200, "{}"), Error::Malformed { .. }));
        assert!(matches!(
            err(200, "\u{0}\u{1}\u{fffd}"),
            Error::Malformed { .. }
        ));
    }

    #[test]
    fn status_codes_win_over_bodies() {
        let unauth =
            r#"{"success":false,"error":{"code":"unauthorized","message":"Missing API key"}}"#;
        assert_eq!(err(401, unauth), Error::Unauthorized);
        assert_eq!(err(401, "<html>401</html>"), Error::Unauthorized);
        assert_eq!(err(403, ""), Error::Unauthorized);
        assert_eq!(err(200, unauth), Error::Unauthorized);
        assert_eq!(err(500, "<html>oops</html>"), Error::Server { status: 500 });
        assert_eq!(err(503, ""), Error::Server { status: 503 });
        let nf = r#"{"success":false,"error":{"code":"not_found","message":"Order not found"}}"#;
        assert_eq!(err(404, nf), Error::NotFound);
        assert_eq!(err(404, "<html>Not Found</html>"), Error::NotFound);
        assert_eq!(err(200, nf), Error::NotFound);
    }

    #[test]
    fn rate_limited_with_retry_after() {
        let body = r#"{"success":false,"error":{"code":"rate_limited","message":"slow down"}}"#;
        let wait = parse_retry_after("1");
        assert_eq!(wait, Some(Duration::from_secs(1)));
        assert_eq!(
            open_envelope(429, wait, body, KEY).unwrap_err(),
            Error::RateLimited {
                retry_after: Some(Duration::from_secs(1))
            }
        );
        assert_eq!(err(429, ""), Error::RateLimited { retry_after: None });
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn an_explicit_success_wins_over_stray_error_fields() {
        let body = r#"{"success":true,"error":{},"code":"x","data":{"refill":1}}"#;
        assert_eq!(refill_id(&ok(body)).unwrap(), 1);
    }

    #[test]
    fn other_codes_become_api_errors() {
        let body = r#"{"success":false,"error":{"code":"service_disabled","message":"Service is disabled"}}"#;
        assert_eq!(
            err(400, body),
            Error::Api {
                code: "service_disabled".into(),
                message: "Service is disabled".into()
            }
        );
        let body = r#"{"success":false,"message":"Invalid link"}"#;
        assert_eq!(
            err(200, body),
            Error::Api {
                code: "error".into(),
                message: "Invalid link".into()
            }
        );
        let body = r#"{"success":false,"error":"Invalid link"}"#;
        assert_eq!(
            err(200, body),
            Error::Api {
                code: "error".into(),
                message: "Invalid link".into()
            }
        );
        let body = r#"{"code":"failed","message":"Provider down"}"#;
        assert_eq!(
            err(200, body),
            Error::Api {
                code: "failed".into(),
                message: "Provider down".into()
            }
        );
        let body = r#"{"message":"Bad request"}"#;
        assert_eq!(
            err(400, body),
            Error::Api {
                code: "http_400".into(),
                message: "Bad request".into()
            }
        );
        let body =
            format!(r#"{{"success":false,"error":{{"code":"x","message":"key {KEY} bad"}}}}"#);
        assert!(!format!("{:?}", err(400, &body)).contains("TESTSECRET"));
    }

    // ---- numbers as numbers or strings ----

    #[test]
    fn numbers_arrive_as_numbers_or_strings() {
        assert_eq!(u64_of(&json!(1500)), Some(1500));
        assert_eq!(u64_of(&json!("1500")), Some(1500));
        assert_eq!(u64_of(&json!(" 1500 ")), Some(1500));
        assert_eq!(u64_of(&json!(1500.0)), Some(1500));
        assert_eq!(u64_of(&json!("1,500")), Some(1500));
        assert_eq!(u64_of(&json!(-1)), None);
        assert_eq!(u64_of(&json!("1.5")), None);
        assert_eq!(u64_of(&json!("N/A")), None);
        assert_eq!(u64_of(&json!(null)), None);
        assert_eq!(decimal_of(&json!(1040.00)), Some(dec("1040")));
        assert_eq!(decimal_of(&json!("1560.00")), Some(dec("1560.00")));
        assert_eq!(decimal_of(&json!(0.975)), Some(dec("0.975")));
        assert_eq!(decimal_of(&json!(1234.5678)), Some(dec("1234.5678")));
        assert_eq!(decimal_of(&json!(0.1)), Some(dec("0.1")));
        assert_eq!(decimal_of(&json!(1e3)), Some(dec("1000")));
        assert_eq!(decimal_of(&json!("")), None);
        assert_eq!(decimal_of(&json!("abc")), None);
        assert_eq!(bool_of(&json!(1)), Some(true));
        assert_eq!(bool_of(&json!("0")), Some(false));
        assert_eq!(bool_of(&json!("true")), Some(true));
    }

    #[test]
    fn text_money_keeps_every_digit() {
        let body = r#"{"success":true,"data":{"services":[{"id":"7","category":"X","name":"N","type":"Custom Comments","min":"10","max":"1000","rate_ngn_per_1k":"1234.56789012345678","refill":"1","cancelable":0,"dripfeed":"false"}]}}"#;
        let c = catalog(&ok(body)).unwrap();
        let s = &c.services[0];
        assert_eq!(s.id, 7);
        assert_eq!(s.kind, ServiceKind::CustomComments);
        assert_eq!((s.min, s.max), (10, 1000));
        assert_eq!(s.rate_per_1k, naira("1234.56789012345678"));
        assert!(s.refill && !s.cancelable && !s.dripfeed);
        assert_eq!(c.categories, ["X"]);
    }

    #[test]
    fn unreadable_service_rows_are_skipped() {
        let body = r#"{"success":true,"data":{"services":[
            {"id":1,"name":"ok","category":"A","min":1,"max":2,"rate_ngn_per_1k":5},
            {"id":2,"name":"no rate","category":"A","min":1,"max":2,"rate_ngn_per_1k":null},
            {"id":3,"name":"negative","category":"A","min":1,"max":2,"rate_ngn_per_1k":"-1"},
            "garbage",
            {"id":4,"name":"odd type","category":"B","type":"Package","min":1,"max":1,"rate_ngn_per_1k":"9"}
        ]}}"#;
        let c = catalog(&ok(body)).unwrap();
        let ids: Vec<u64> = c.services.iter().map(|s| s.id).collect();
        assert_eq!(ids, [1, 4]);
        assert_eq!(c.services[1].kind, ServiceKind::Other("Package".into()));
    }

    #[test]
    fn order_answer_with_string_ids_and_numeric_amounts() {
        let body = r#"{"code":"success","data":{"order_id":"98765","provider_order_id":"","status":"pending","amount":1560,"request_id":"my_order_001"}}"#;
        let p = placed_order(&ok(body), &sent(OrderPayload::Quantity(1500))).unwrap();
        assert_eq!(p.order_id, 98765);
        assert_eq!(p.provider_order_id, None);
        assert_eq!(p.quantity, 1500);
        assert_eq!(p.amount_charged, naira("1560"));
        assert_eq!(p.initial_balance, None);
        // No order id at all is not a success we can record.
        let body = r#"{"code":"success","data":{"amount":"1"}}"#;
        assert!(placed_order(&ok(body), &sent(OrderPayload::Quantity(1))).is_err());
    }

    #[test]
    fn bulk_status_tolerates_errors_and_empty_arrays() {
        let body = r#"{"success":true,"data":{"554433":{"status":"Partial","remains":"12","charge":0.5},"554434":{"error":"Incorrect order ID"},"x":{"status":"Completed"}}}"#;
        let m = bulk_entries(&ok(body)).unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m[&554433].status, OrderStatus::Partial);
        assert_eq!(m[&554433].remains, Some(12));
        assert_eq!(m[&554433].charge, Some(dec("0.5")));
        assert!(
            bulk_entries(&ok(r#"{"success":true,"data":[]}"#))
                .unwrap()
                .is_empty()
        );
        assert!(bulk_entries(&ok(r#"{"success":true,"data":"nope"}"#)).is_err());
    }

    #[test]
    fn refill_statuses_in_every_plausible_form() {
        let keyed = r#"{"success":true,"data":{"7821":"Completed","7822":{"status":"Pending"},"7823":{"error":"x"}}}"#;
        let m = refill_statuses(&ok(keyed), &[7821, 7822, 7823]).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[&7821], "Completed");
        assert_eq!(m[&7822], "Pending");
        let rows = r#"{"success":true,"data":[{"refill":7821,"status":"Completed"},{"id":"7822","status":"Rejected"}]}"#;
        let m = refill_statuses(&ok(rows), &[7821, 7822]).unwrap();
        assert_eq!(m[&7821], "Completed");
        assert_eq!(m[&7822], "Rejected");
        assert!(refill_status(&ok(r#"{"success":true,"data":{}}"#)).is_err());
    }

    #[test]
    fn orders_without_pagination_use_the_query() {
        let body = r#"{"success":true,"data":{"orders":[{"id":"5","amount_ngn":"10.5","status":"Completed","created_at":"2025-01-15 10:30:00","remains":"0"}]}}"#;
        let q = OrderQuery {
            page: 2,
            limit: 50,
            status: None,
            service_id: None,
        };
        let p = order_page(&ok(body), &q).unwrap();
        assert_eq!((p.total, p.page, p.pages, p.limit), (1, 2, 1, 50));
        assert_eq!(p.orders[0].amount, naira("10.5"));
        assert_eq!(
            p.orders[0].created_at.unwrap().to_rfc3339(),
            "2025-01-15T10:30:00+00:00"
        );
    }

    #[test]
    fn no_panic_on_hostile_bodies() {
        let bodies = [
            "",
            " ",
            "0",
            "\"x\"",
            "[]",
            "{}",
            "{\"data\":null}",
            "{\"data\":[]}",
            "{\"data\":{}}",
            "{\"data\":{\"order\":1}}",
            "{\"data\":{\"services\":{}}}",
            "{\"success\":\"yes\"}",
            "{\"error\":{}}",
            "{\"error\":[1]}",
            "{\"code\":5}",
            "{\"data\":{\"wallet_balance\":[]}}",
            "{\"data\":{\"orders\":[{}]},\"pagination\":\"x\"}",
            "\u{feff}{\"success\":true,\"data\":{}}",
            "{\"success\":false,\"error\":{\"code\":\"invalid_quantity\",\"message\":\"between\"}}",
            "{\"success\":false,\"error\":{\"code\":\"invalid_quantity\",\"message\":\"between 99999999999999999999999 and 1\"}}",
        ];
        let q = OrderQuery::default();
        let s = sent(OrderPayload::Comments(vec![]));
        for status in [200, 201, 204, 302, 400, 404, 409, 418] {
            for b in bodies {
                if let Ok(v) = open_envelope(status, None, b, KEY) {
                    let _ = catalog(&v);
                    let _ = placed_order(&v, &s);
                    let _ = order_page(&v, &q);
                    let _ = order_report(&v);
                    let _ = bulk_entries(&v);
                    let _ = refill_id(&v);
                    let _ = refill_status(&v);
                    let _ = refill_statuses(&v, &[1, 2]);
                    let _ = cancel_outcome(&v);
                    let _ = wallet_balance(&v);
                }
            }
        }
    }
}
