//! Wire helpers for the sandbox routes: the error shape, field aliases, lenient numbers, bodies.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use crate::money::Naira;

/// Request fields, from a JSON object, a form body or a query string.
pub(super) type Fields = Map<String, Value>;

/// An answer in the API's error shape: `{"success":false,"error":{"code","message"}, ...extra}`.
#[derive(Debug)]
pub(super) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    extra: Map<String, Value>,
}

impl ApiError {
    /// An error answer with this HTTP status, code and message.
    pub(super) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            extra: Map::new(),
        }
    }

    /// A 400 answer.
    pub(super) fn bad(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// The documented-style 404 for an unknown order.
    pub(super) fn order_not_found() -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "Order not found")
    }

    /// Adds a top-level field next to `error` (e.g. `received`, `min`, `max`).
    pub(super) fn with(mut self, key: &str, value: Value) -> Self {
        self.extra.insert(key.to_string(), value);
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert("success".into(), Value::Bool(false));
        body.insert(
            "error".into(),
            json!({ "code": self.code, "message": self.message }),
        );
        body.extend(self.extra);
        (self.status, axum::Json(Value::Object(body))).into_response()
    }
}

/// Parses a request body: JSON object, or a form body when the content type says so.
pub(super) fn parse_body(content_type: Option<&str>, body: &[u8]) -> Result<Fields, ApiError> {
    let is_form = content_type.is_some_and(|ct| {
        ct.to_ascii_lowercase()
            .contains("application/x-www-form-urlencoded")
    });
    if is_form {
        return Ok(parse_form(&String::from_utf8_lossy(body)));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Fields::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::bad(
            "invalid_json",
            "Request body must be a JSON object",
        )),
        Err(e) => Err(ApiError::bad(
            "invalid_json",
            format!("Request body is not valid JSON: {e}"),
        )),
    }
}

/// Parses `a=1&b=two+words` (form bodies and query strings); a repeated key keeps the last value.
pub(super) fn parse_form(text: &str) -> Fields {
    let mut fields = Fields::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        fields.insert(percent_decode(key), Value::String(percent_decode(value)));
    }
    fields
}

/// Decodes `+` and `%XX`; a broken escape is kept literally.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                if let Some(b) = hex {
                    out.push(b);
                    i += 2;
                } else {
                    out.push(b'%');
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The first of `names` present with a non-null value (the API's aliases).
pub(super) fn pick<'a>(fields: &'a Fields, names: &[&str]) -> Option<&'a Value> {
    names
        .iter()
        .find_map(|n| fields.get(*n).filter(|v| !v.is_null()))
}

/// A non-negative whole number, sent as a number (`1500`, `1500.0`) or a string (`"1500"`).
pub(super) fn as_u64(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= u64::MAX as f64)
                .map(|f| f as u64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Text sent as a string or a number, trimmed; empty counts as absent.
pub(super) fn as_text(value: &Value) -> Option<String> {
    let text = match value {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    (!text.is_empty()).then_some(text)
}

/// A list of ids: a JSON array, `"1,2,3"`, or a single id. `None` if any entry is not an id.
pub(super) fn id_list(value: &Value) -> Option<Vec<u64>> {
    match value {
        Value::Array(items) => items.iter().map(as_u64).collect(),
        Value::String(s) => s
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| p.parse().ok())
            .collect(),
        Value::Number(_) => as_u64(value).map(|id| vec![id]),
        _ => None,
    }
}

/// Money as the API prints it in strings: `"1560.00"`.
pub(super) fn money_text(amount: Naira) -> String {
    format!("{:.2}", amount.0)
}

/// A decimal as a JSON number (`amount_ngn`, `rate_ngn_per_1k`).
///
/// Goes through the decimal text so the float is the nearest one and prints back the same digits.
pub(super) fn number(amount: Decimal) -> Value {
    amount
        .to_string()
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

/// Timestamps as in the document: `2025-01-15T10:30:00Z`.
pub(super) fn timestamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_and_lenient_numbers() {
        let f = parse_form("serviceId=101&link=https%3A%2F%2Fx.com%2Fa&comments=a%0Ab+c&bad=%zz");
        assert_eq!(f["link"], "https://x.com/a");
        assert_eq!(f["comments"], "a\nb c");
        assert_eq!(f["bad"], "%zz");
        assert_eq!(as_u64(&f["serviceId"]), Some(101));
        assert_eq!(as_u64(&json!(1500.0)), Some(1500));
        assert_eq!(as_u64(&json!(-5)), None);
        assert_eq!(as_u64(&json!(1.5)), None);
        assert_eq!(id_list(&json!("1, 2,3")), Some(vec![1, 2, 3]));
        assert_eq!(id_list(&json!([1, "2"])), Some(vec![1, 2]));
        assert_eq!(id_list(&json!([1, "x"])), None);
    }

    #[test]
    fn numbers_print_as_the_document() {
        assert_eq!(money_text(Naira(Decimal::new(156_000, 2))), "1560.00");
        assert_eq!(money_text(Naira(Decimal::from(1560))), "1560.00");
        assert_eq!(number(Decimal::new(1_234_567, 4)).to_string(), "123.4567");
        assert_eq!(number(Decimal::new(104_000, 2)).to_string(), "1040.0");
    }

    #[test]
    fn bodies() {
        assert!(parse_body(None, b"").unwrap().is_empty());
        assert!(parse_body(Some("application/json"), b"{nope").is_err());
        assert!(parse_body(None, b"[1]").is_err());
        let f = parse_body(Some("application/x-www-form-urlencoded"), b"qty=5").unwrap();
        assert_eq!(f["qty"], "5");
    }
}
