//! The one error enum of the IA-Café client, and whether a failed order surely placed nothing.

use std::fmt;
use std::time::Duration;

/// Everything a call to the IA-Café API can end in, besides success.
///
/// No variant ever carries the API key: server text is scrubbed before it lands here.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The quantity is outside the service's range; the limits are those the API named.
    #[error(
        "quantity {} is outside the allowed range {} to {}",
        Shown(.received),
        Shown(.min),
        Shown(.max)
    )]
    InvalidQuantity {
        /// Smallest quantity the service accepts.
        min: Option<u64>,
        /// Largest quantity the service accepts.
        max: Option<u64>,
        /// The quantity the API received.
        received: Option<u64>,
    },
    /// The IA-Café wallet cannot pay for the order; top it up.
    #[error("the IA-Café wallet balance is too low for this order")]
    InsufficientBalance,
    /// The provider failed and the wallet was refunded: nothing was charged.
    #[error("the provider failed the order and the wallet was refunded (order {})", Shown(.order_id))]
    Refunded {
        /// IA-Café's id of the refunded order, when the answer named it.
        order_id: Option<u64>,
    },
    /// The request_id was used before: the order may already exist; reconcile before retrying.
    #[error("request_id already used (order {}); reconcile with the order list", Shown(.order_id))]
    Duplicate {
        /// The existing order's id, when the answer named it.
        order_id: Option<u64>,
    },
    /// The API key was refused (HTTP 401/403); check IACAFE_API_KEY.
    #[error("the API key was refused; check the configured key")]
    Unauthorized,
    /// Too many requests; wait `retry_after` (from the Retry-After header) before retrying.
    #[error("rate limited by the API (retry after {})", ShownSecs(.retry_after))]
    RateLimited {
        /// How long the server asked to wait.
        retry_after: Option<Duration>,
    },
    /// The order, refill or endpoint does not exist.
    #[error("not found")]
    NotFound,
    /// The API failed with an HTTP 5xx status.
    #[error("the API failed with HTTP {status}")]
    Server {
        /// The HTTP status code.
        status: u16,
    },
    /// An error answer with a code this client has no variant for.
    #[error("the API refused the request: {code}: {message}")]
    Api {
        /// The API's error code (or `http_<status>` when it sent none).
        code: String,
        /// The API's message.
        message: String,
    },
    /// The answer could not be understood (HTML page, empty body, unexpected JSON).
    #[error("unreadable answer from the API: {excerpt:?}")]
    Malformed {
        /// At most 120 characters of the body, with the key scrubbed.
        excerpt: String,
    },
    /// No answer in time; the request may or may not have been processed.
    #[error("the API did not answer in time")]
    Timeout,
    /// The request could not be made or the connection failed.
    #[error("network error: {reason}")]
    Network {
        /// What went wrong, without the URL's secrets or the key.
        reason: String,
    },
    /// An order request was sent but its outcome is unknown: reconcile by `request_id`.
    #[error("order {request_id} was sent but its outcome is unknown; reconcile before retrying")]
    Ambiguous {
        /// The request_id both attempts carried.
        request_id: String,
    },
}

impl Error {
    /// True when a failed `place_order` surely placed nothing, so the customer may be refunded.
    ///
    /// `Network` is only returned by `place_order` when nothing was sent (a lost connection
    /// after sending becomes `Ambiguous`). `RateLimited` and `Malformed` count as uncertain:
    /// the order list tells, and reconciling costs less than a wrong refund.
    pub fn is_certain_failure(&self) -> bool {
        match self {
            Error::InvalidQuantity { .. }
            | Error::InsufficientBalance
            | Error::Refunded { .. }
            | Error::Unauthorized
            | Error::Api { .. }
            | Error::NotFound
            | Error::Network { .. } => true,
            Error::Duplicate { .. }
            | Error::RateLimited { .. }
            | Error::Server { .. }
            | Error::Malformed { .. }
            | Error::Timeout
            | Error::Ambiguous { .. } => false,
        }
    }

    /// True when a read may be repeated with a fair chance of success.
    pub(crate) fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::Timeout
                | Error::Network { .. }
                | Error::Server { .. }
                | Error::RateLimited { .. }
        )
    }
}

/// Shows an optional number, or `?` when the API left it out.
struct Shown<'a>(&'a Option<u64>);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(n) => write!(f, "{n}"),
            None => f.write_str("?"),
        }
    }
}

/// Shows an optional wait in seconds, or `unspecified`.
struct ShownSecs<'a>(&'a Option<Duration>);

impl fmt::Display for ShownSecs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(d) => write!(f, "{} s", d.as_secs()),
            None => f.write_str("unspecified"),
        }
    }
}

/// Server text made safe to keep: the key replaced, `ak_…` tokens masked, cut to `max` chars.
pub(crate) fn scrub(text: &str, key: &str, max: usize) -> String {
    let replaced = if key.is_empty() {
        text.to_string()
    } else {
        text.replace(key, "…(redacted)")
    };
    // Mask anything that looks like a key even if it is not ours (or is only a prefix of it).
    let mut masked = String::with_capacity(replaced.len());
    let mut rest = replaced.as_str();
    while let Some(pos) = rest.find("ak_") {
        let at_word_start = rest[..pos]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        masked.push_str(&rest[..pos]);
        let after = &rest[pos + 3..];
        if !at_word_start {
            masked.push_str("ak_");
            rest = after;
            continue;
        }
        masked.push_str("ak_…");
        let end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            .unwrap_or(after.len());
        rest = &after[end..];
    }
    masked.push_str(rest);
    let flat: String = masked
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let trimmed = flat.trim();
    if trimmed.chars().count() <= max {
        trimmed.to_string()
    } else {
        let mut cut: String = trimmed.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_removes_the_key_and_key_like_tokens() {
        let key = "ak_test_SECRET123";
        let s = scrub("bad key ak_test_SECRET123 and ak_test_SEC", key, 120);
        assert!(!s.contains("SECRET"), "{s}");
        assert!(!s.contains("SEC"), "{s}");
        assert_eq!(scrub("  <html>\n<body>", "", 120), "<html> <body>");
        assert_eq!(scrub("break_even", "", 120), "break_even");
    }

    #[test]
    fn scrub_cuts_to_the_limit_in_chars() {
        let long = "₦".repeat(500);
        let s = scrub(&long, "k", 120);
        assert_eq!(s.chars().count(), 120);
    }

    #[test]
    fn certain_failures_are_the_documented_ones() {
        assert!(Error::InsufficientBalance.is_certain_failure());
        assert!(
            Error::Network {
                reason: "refused".into()
            }
            .is_certain_failure()
        );
        assert!(!Error::Timeout.is_certain_failure());
        assert!(
            !Error::Ambiguous {
                request_id: "r".into()
            }
            .is_certain_failure()
        );
        assert!(!Error::Duplicate { order_id: Some(1) }.is_certain_failure());
        assert!(!Error::Server { status: 502 }.is_certain_failure());
    }

    #[test]
    fn display_names_the_limits() {
        let e = Error::InvalidQuantity {
            min: Some(100),
            max: Some(100_000),
            received: Some(50),
        };
        assert_eq!(
            e.to_string(),
            "quantity 50 is outside the allowed range 100 to 100000"
        );
    }
}
