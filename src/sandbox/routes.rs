//! The sandbox's HTTP face: one handler per documented endpoint, behind a gate that counts
//! calls, plays injected faults and checks the Bearer key.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use serde_json::{Map, Value, json};

use super::Fault;
use super::catalog::{Kind, Service};
use super::state::{NewOrder, Order, PlaceError, Placement, RefillError, Shared, provider_word};
use super::wire::{
    ApiError, Fields, as_text, as_u64, id_list, money_text, number, parse_body, parse_form, pick,
    timestamp,
};
use crate::money;
use crate::panel::OrderStatus;

/// Shared world as axum state.
type App = Arc<Shared>;

/// Largest accepted request body; comments lists stay far below it.
const BODY_LIMIT: usize = 1 << 20;
/// Most ids one bulk status call may carry (documented).
const BULK_MAX: usize = 100;
/// Largest page (documented).
const PAGE_MAX: u64 = 100;

/// Marks a request whose order must meet a provider failure.
#[derive(Clone, Copy)]
struct ProviderFails;

/// The router with every documented endpoint under `/devapi/v1`.
pub(super) fn router(app: App) -> Router {
    let api = Router::new()
        .route("/whoami", get(whoami))
        .route("/smm/services", get(services))
        .route("/smm/order", post(place_order))
        .route("/smm/orders", get(list_orders))
        .route("/smm/status", post(bulk_status))
        .route("/smm/status/{id}", get(order_status))
        .route("/smm/refill", post(refill))
        .route("/smm/refill-status", get(refill_status))
        .route("/smm/cancel", post(cancel))
        .method_not_allowed_fallback(wrong_method);
    Router::new()
        .nest("/devapi/v1", api)
        .fallback(unknown_path)
        .layer(middleware::from_fn_with_state(app.clone(), gate))
        .with_state(app)
}

/// Counts the call, plays any injected fault, checks auth, then runs the handler.
async fn gate(State(app): State<App>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let fault = app.with(|s| s.arrive(&path));
    // "Timeout after sending": the order is placed, then the answer is late.
    let places_order = req.method() == Method::POST && path.ends_with("/smm/order");
    let mut late = None;
    match fault {
        Some(Fault::ServerError) => return html(StatusCode::INTERNAL_SERVER_ERROR, SERVER_ERROR),
        Some(Fault::Html) => return html(StatusCode::BAD_GATEWAY, BAD_GATEWAY),
        Some(Fault::Garbage) => {
            return (
                [(header::CONTENT_TYPE, "application/json")],
                "<?php warning ?> {\"success\": tru",
            )
                .into_response();
        }
        Some(Fault::EmptyBody) => {
            return ([(header::CONTENT_TYPE, "application/json")], "").into_response();
        }
        Some(Fault::RateLimited) => {
            let mut resp = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "Too many requests, slow down",
            )
            .into_response();
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return resp;
        }
        Some(Fault::Delay(d)) if places_order => late = Some(d),
        Some(Fault::Delay(d)) => tokio::time::sleep(d).await,
        Some(Fault::ProviderRefund) => {
            req.extensions_mut().insert(ProviderFails);
        }
        None => {}
    }
    if !authorized(req.headers()) {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Missing or invalid API key",
        )
        .into_response();
    }
    let resp = next.run(req).await;
    if let Some(d) = late {
        tokio::time::sleep(d).await;
    }
    resp
}

/// Any non-empty Bearer key is accepted: the sandbox has no accounts.
fn authorized(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let value = value.trim();
    match value.split_once(' ') {
        Some((scheme, key)) => scheme.eq_ignore_ascii_case("bearer") && !key.trim().is_empty(),
        None => false,
    }
}

const SERVER_ERROR: &str = "<!DOCTYPE html><html><head><title>500 Internal Server Error</title></head>\
<body><h1>Internal Server Error</h1><p>The server encountered an internal error.</p></body></html>";
const BAD_GATEWAY: &str = "<html><head><title>502 Bad Gateway</title></head>\
<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>";

fn html(status: StatusCode, page: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page,
    )
        .into_response()
}

fn ok(body: Value) -> Response {
    axum::Json(body).into_response()
}

async fn unknown_path() -> Response {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "Endpoint not found").into_response()
}

async fn wrong_method() -> Response {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "Method not allowed on this endpoint",
    )
    .into_response()
}

/// Reads a POST body into fields (JSON, or form when labelled so).
async fn read_fields(req: Request) -> Result<(axum::http::request::Parts, Fields), ApiError> {
    let (parts, body) = req.into_parts();
    let bytes: Bytes = axum::body::to_bytes(body, BODY_LIMIT)
        .await
        .map_err(|_| ApiError::bad("invalid_body", "Request body too large or unreadable"))?;
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let fields = parse_body(content_type, &bytes)?;
    Ok((parts, fields))
}

/// `GET /whoami`: the wallet (not in the SMM document; from the getting-started page).
async fn whoami(State(app): State<App>) -> Response {
    let balance = app.with(|s| s.balance);
    ok(json!({
        "success": true,
        "data": {
            "name": "Sandbox Shop",
            "email": "sandbox@example.invalid",
            "wallet_balance": money_text(balance),
        }
    }))
}

/// `GET /smm/services?category=&q=`.
async fn services(State(app): State<App>, RawQuery(query): RawQuery) -> Response {
    let query = parse_form(query.as_deref().unwrap_or(""));
    let category = pick(&query, &["category"]).and_then(as_text);
    let search = pick(&query, &["q", "search"]).and_then(as_text);
    let needle = search.as_deref().map(str::to_lowercase);
    let matched: Vec<&Service> = app
        .catalog
        .services()
        .iter()
        .filter(|s| category.as_ref().is_none_or(|c| &s.category == c))
        .filter(|s| {
            needle.as_ref().is_none_or(|n| {
                s.name.to_lowercase().contains(n) || s.category.to_lowercase().contains(n)
            })
        })
        .collect();
    let mut categories: Vec<&str> = matched.iter().map(|s| s.category.as_str()).collect();
    categories.sort_unstable();
    categories.dedup();
    let rows: Vec<Value> = matched.iter().map(|s| service_json(s)).collect();
    ok(json!({
        "success": true,
        "message": "SMM services retrieved",
        "count": rows.len(),
        "categories": categories,
        "filters": { "category": category, "search": search },
        "data": { "services": rows },
    }))
}

fn service_json(s: &Service) -> Value {
    json!({
        "id": s.id,
        "provider_service_id": s.provider_service_id,
        "category": s.category,
        "name": s.name,
        "type": s.kind.word(),
        "min": s.min,
        "max": s.max,
        "rate_ngn_per_1k": number(s.rate.0),
        "refill": s.refill,
        "cancelable": s.cancelable,
        "dripfeed": s.dripfeed,
    })
}

/// `POST /smm/order`.
///
/// A `request_id` that was already used never creates a second order or debit: the answer is
/// HTTP 409 `duplicate_request`, naming the existing `order_id` unless the sandbox was started
/// with `duplicate_names_order = false` (the real API does not document this answer).
/// The id is taken only by an order that was recorded, refunded ones included; a request
/// rejected for quantity, service or balance leaves it free. Ids are compared after trimming.
async fn place_order(State(app): State<App>, req: Request) -> Response {
    match place(&app, req).await {
        Ok(resp) => resp,
        Err(e) => e.into_response(),
    }
}

async fn place(app: &App, req: Request) -> Result<Response, ApiError> {
    let (parts, fields) = read_fields(req).await?;
    let provider_fails = parts.extensions.get::<ProviderFails>().is_some();
    let request_id = pick(&fields, &["request_id", "requestId", "ref"])
        .and_then(as_text)
        .ok_or_else(|| missing("request_id (or requestId, ref)"))?;
    if let Some(id) = app.with(|s| s.existing(&request_id)) {
        return Err(duplicate(app, id));
    }
    let service_id = pick(&fields, &["serviceId", "service_id", "service"])
        .ok_or_else(|| missing("serviceId (or service_id, service)"))?;
    let service = as_u64(service_id)
        .and_then(|id| app.catalog.get(id))
        .ok_or_else(|| ApiError::bad("invalid_service", "Service not found or inactive"))?;
    let link = pick(&fields, &["link", "url", "target"])
        .and_then(as_text)
        .ok_or_else(|| missing("link (or url, target)"))?;
    let quantity = quantity_of(service, &fields)?;
    let cost = money::cost(quantity, service.rate)
        .ok_or_else(|| ApiError::bad("invalid_quantity", "Quantity too large"))?;
    let new = NewOrder {
        request_id: request_id.clone(),
        service,
        link,
        quantity,
        cost,
    };
    let placed = app.with(|s| s.place(new, provider_fails, Utc::now()));
    match placed {
        Ok(Placement::Placed {
            order,
            initial,
            after,
        }) => Ok(ok(json!({
            "code": "success",
            "message": "ORDER PROCESSING",
            "data": {
                "product_name": "SMM",
                "service_name": order.service_name,
                "status": "processing-api",
                "order_id": order.id,
                "provider_order_id": order.provider_id,
                "link": order.link,
                "quantity": order.quantity,
                "amount": money_text(order.amount),
                "discount": "0.00",
                "amount_charged": money_text(order.amount),
                "initial_balance": money_text(initial),
                "final_balance": money_text(after),
                "request_id": order.request_id,
            }
        }))),
        Ok(Placement::Refunded { order_id }) => Ok(ok(json!({
            "code": "refunded",
            "message": "Order could not be completed. Wallet refunded.",
            "data": { "order_id": order_id, "request_id": request_id },
        }))),
        Err(PlaceError::Duplicate(id)) => Err(duplicate(app, id)),
        Err(PlaceError::InsufficientBalance) => Err(ApiError::bad(
            "insufficient_balance",
            "Insufficient wallet balance",
        )),
    }
}

fn missing(field: &str) -> ApiError {
    ApiError::bad("missing_field", format!("{field} is required"))
}

fn duplicate(app: &App, order_id: u64) -> ApiError {
    let e = ApiError::new(
        StatusCode::CONFLICT,
        "duplicate_request",
        "request_id already used",
    );
    if app.duplicate_names_order {
        e.with("order_id", json!(order_id))
    } else {
        e
    }
}

/// The quantity of an order: `quantity` (aliases) or, for Custom Comments, the comment lines.
fn quantity_of(service: &Service, fields: &Fields) -> Result<u64, ApiError> {
    let out_of_range = |received: Value| {
        ApiError::bad(
            "invalid_quantity",
            format!(
                "Quantity must be between {} and {}",
                service.min, service.max
            ),
        )
        .with("received", received)
        .with("min", json!(service.min))
        .with("max", json!(service.max))
    };
    let quantity = match service.kind {
        Kind::CustomComments => {
            let comments = pick(fields, &["comments", "comment"])
                .ok_or_else(|| missing("comments (or comment)"))?;
            let lines = match comments {
                Value::String(text) => text.lines().filter(|l| !l.trim().is_empty()).count(),
                Value::Array(items) => items
                    .iter()
                    .filter(|v| v.as_str().is_some_and(|l| !l.trim().is_empty()))
                    .count(),
                _ => 0,
            };
            lines as u64
        }
        Kind::Default => {
            let raw = pick(fields, &["quantity", "qty", "count"])
                .ok_or_else(|| missing("quantity (or qty, count)"))?;
            as_u64(raw).ok_or_else(|| out_of_range(Value::Null))?
        }
    };
    if quantity < service.min || quantity > service.max {
        return Err(out_of_range(json!(quantity)));
    }
    Ok(quantity)
}

/// `GET /smm/orders?page=&limit=&status=&service_id=`, newest first.
async fn list_orders(State(app): State<App>, RawQuery(query): RawQuery) -> Response {
    let query = parse_form(query.as_deref().unwrap_or(""));
    let number_of = |names: &[&str]| pick(&query, names).and_then(as_u64);
    let page = number_of(&["page"]).unwrap_or(1).max(1);
    let limit = number_of(&["limit"]).unwrap_or(20).clamp(1, PAGE_MAX);
    let status = pick(&query, &["status"])
        .and_then(as_text)
        .map(|w| OrderStatus::parse(&w));
    let service_id = pick(&query, &["service_id", "serviceId"]).and_then(as_text);
    let (total, rows) = app.with(|s| {
        let matching: Vec<&Order> = s
            .orders()
            .iter()
            .rev()
            .filter(|o| {
                status
                    .as_ref()
                    .is_none_or(|st| status_matches(st, &o.status))
            })
            .filter(|o| {
                service_id
                    .as_ref()
                    .is_none_or(|id| o.service_id.to_string() == *id)
            })
            .collect();
        let skip =
            usize::try_from(page.saturating_sub(1).saturating_mul(limit)).unwrap_or(usize::MAX);
        let rows: Vec<Value> = matching
            .iter()
            .skip(skip)
            .take(limit as usize)
            .map(|o| listed_json(o))
            .collect();
        (matching.len() as u64, rows)
    });
    ok(json!({
        "success": true,
        "data": { "orders": rows },
        "pagination": {
            "total": total,
            "count": rows.len(),
            "limit": limit,
            "page": page,
            "pages": total.div_ceil(limit),
        }
    }))
}

/// The document's filter list has `processing` but no `in progress`; treat them as one.
fn status_matches(wanted: &OrderStatus, actual: &OrderStatus) -> bool {
    let active = |s: &OrderStatus| matches!(s, OrderStatus::InProgress | OrderStatus::Processing);
    wanted == actual || (active(wanted) && active(actual))
}

fn listed_json(o: &Order) -> Value {
    json!({
        "id": o.id,
        "service_id": o.service_id,
        "request_id": o.request_id,
        "service_name": o.service_name,
        "category": o.category,
        "link": o.link,
        "quantity": o.quantity,
        "amount_ngn": number(o.amount.0),
        "status": o.status.as_str(),
        "remains": o.remains,
        "can_refill": o.can_refill(),
        "can_cancel": o.can_cancel(),
        "created_at": timestamp(o.created_at),
    })
}

/// `GET /smm/status/{id}`: the local `order` block and the upstream `provider` block.
async fn order_status(State(app): State<App>, id: Result<Path<String>, PathRejection>) -> Response {
    // A segment that is not UTF-8 is just another unknown order, in the error shape.
    let order = id
        .ok()
        .and_then(|Path(id)| id.trim().parse::<u64>().ok())
        .and_then(|id| app.with(|s| s.order(id).cloned()));
    let Some(o) = order else {
        return ApiError::order_not_found().into_response();
    };
    let provider = o.provider_id.map(|_| {
        json!({
            "status": provider_word(&o.status),
            "start_count": o.start_count.unwrap_or(0).to_string(),
            "remains": o.remains.to_string(),
            "charge": o.charge_usd(),
            "currency": "USD",
        })
    });
    ok(json!({
        "success": true,
        "data": {
            "order": {
                "id": o.id,
                "provider_order_id": o.provider_id,
                "service_name": o.service_name,
                "link": o.link,
                "quantity": o.quantity,
                "amount_ngn": number(o.amount.0),
                "status": o.status.as_str(),
                "start_count": o.start_count,
                "remains": o.remains,
                "can_refill": o.can_refill(),
                "can_cancel": o.can_cancel(),
                "created_at": timestamp(o.created_at),
                "updated_at": timestamp(o.updated_at),
            },
            "provider": provider,
        }
    }))
}

/// Reads the documented id list (`orderIds`, `order_ids`, `ids`).
fn order_ids(fields: &Fields) -> Result<Vec<u64>, ApiError> {
    let raw = pick(fields, &["orderIds", "order_ids", "ids"])
        .ok_or_else(|| missing("orderIds (or order_ids, ids)"))?;
    id_list(raw).ok_or_else(|| ApiError::bad("invalid_ids", "orderIds must be a list of order ids"))
}

/// `POST /smm/status`: up to 100 orders, keyed by provider order id.
async fn bulk_status(State(app): State<App>, req: Request) -> Response {
    let ids = match read_fields(req).await.and_then(|(_, f)| order_ids(&f)) {
        Ok(ids) => ids,
        Err(e) => return e.into_response(),
    };
    let data = app.with(|s| {
        s.record_bulk(ids.len());
        if ids.len() > BULK_MAX {
            return None;
        }
        let mut data = Map::new();
        for o in ids.iter().filter_map(|id| s.order(*id)) {
            if let Some(pid) = o.provider_id {
                data.insert(
                    pid.to_string(),
                    json!({
                        "status": provider_word(&o.status),
                        "remains": o.remains.to_string(),
                        "charge": o.charge_usd(),
                        "currency": "USD",
                    }),
                );
            }
        }
        Some(data)
    });
    match data {
        Some(data) => ok(json!({
            "success": true,
            "message": "Bulk status retrieved",
            "data": data,
        })),
        None => ApiError::bad(
            "too_many_ids",
            format!("At most {BULK_MAX} orderIds per request"),
        )
        .with("received", json!(ids.len()))
        .with("max", json!(BULK_MAX))
        .into_response(),
    }
}

/// `POST /smm/refill`.
async fn refill(State(app): State<App>, req: Request) -> Response {
    let fields = match read_fields(req).await {
        Ok((_, f)) => f,
        Err(e) => return e.into_response(),
    };
    let Some(raw) = pick(&fields, &["orderId", "order_id", "id"]) else {
        return missing("orderId (or order_id, id)").into_response();
    };
    let Some(order_id) = as_u64(raw) else {
        return ApiError::order_not_found().into_response();
    };
    match app.with(|s| s.refill(order_id)) {
        Ok(refill) => ok(json!({
            "success": true,
            "message": "Refill request submitted successfully",
            "data": { "refill": refill },
        })),
        Err(RefillError::UnknownOrder) => ApiError::order_not_found().into_response(),
        Err(RefillError::ServiceHasNone) => ApiError::bad(
            "refill_not_supported",
            "This service does not offer refills",
        )
        .into_response(),
        Err(RefillError::StillRunning) => ApiError::bad(
            "refill_not_allowed",
            "Refill is possible once the order is completed or partial",
        )
        .into_response(),
    }
}

/// `GET /smm/refill-status?refill=ID` or `?refills=ID,ID` (unknown ids are left out).
async fn refill_status(State(app): State<App>, RawQuery(query): RawQuery) -> Response {
    let query = parse_form(query.as_deref().unwrap_or(""));
    if let Some(raw) = pick(&query, &["refills"]) {
        let Some(ids) = id_list(raw) else {
            return ApiError::bad("invalid_ids", "refills must be a list of refill ids")
                .into_response();
        };
        let data: Map<String, Value> = app.with(|s| {
            ids.iter()
                .filter_map(|id| {
                    s.refill_status(*id)
                        .map(|st| (id.to_string(), json!({ "status": st })))
                })
                .collect()
        });
        return ok(json!({
            "success": true,
            "message": "Refill status retrieved",
            "data": data,
        }));
    }
    let Some(raw) = pick(&query, &["refill", "id"]) else {
        return missing("refill (or refills)").into_response();
    };
    let status = as_u64(raw).and_then(|id| app.with(|s| s.refill_status(id)));
    match status {
        Some(status) => ok(json!({
            "success": true,
            "message": "Refill status retrieved",
            "data": { "status": status },
        })),
        None => {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "Refill not found").into_response()
        }
    }
}

/// `POST /smm/cancel`: cancels what can be cancelled and refunds its undelivered share.
async fn cancel(State(app): State<App>, req: Request) -> Response {
    let ids = match read_fields(req).await.and_then(|(_, f)| order_ids(&f)) {
        Ok(ids) => ids,
        Err(e) => return e.into_response(),
    };
    let done = app.with(|s| s.cancel(&ids, Utc::now()));
    if done.is_empty() {
        return ok(json!({
            "success": true,
            "message": "No cancelable orders found",
            "data": [],
            "note": "Orders must be cancelable, still active, and confirmed with provider",
        }));
    }
    let data: Vec<Value> = done
        .iter()
        .map(|pid| json!({ "order": pid, "cancel": 1 }))
        .collect();
    ok(json!({
        "success": true,
        "message": "Cancel request submitted",
        "cancelled_count": data.len(),
        "data": data,
    }))
}
