//! The callback-data codec: every inline button's payload, ≤ 64 bytes, decoded strictly.

use std::fmt::Write as _;

/// Telegram's limit on `callback_data`, in bytes.
pub const MAX_CALLBACK_BYTES: usize = 64;

/// What an inline button asks for. Anything that does not decode is a stale or forged button.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cb {
    /// Main menu: start a new order.
    MenuOrder,
    /// Main menu: my orders.
    MenuMyOrders,
    /// Main menu: help.
    MenuHelp,
    /// Main menu: wallet.
    MenuWallet,
    /// Main menu: language choice.
    MenuLanguage,
    /// A category, by its index in the catalog snapshot `ver`.
    Category {
        /// Catalog snapshot version the index belongs to.
        ver: u32,
        /// Index into the snapshot's sorted category list.
        idx: u32,
    },
    /// A page of the services of the current category or search.
    ServicePage {
        /// Zero-based page.
        page: u32,
    },
    /// A service, by its API id.
    Service {
        /// The API's service id.
        id: u64,
    },
    /// One step back in the order dialogue.
    Back,
    /// Confirm the order shown, identified by its one-time token.
    Confirm {
        /// The confirmation token stored with the dialogue state.
        token: String,
    },
    /// Abandon the order dialogue.
    Abort,
    /// A page of the customer's own orders.
    MyOrders {
        /// Zero-based page.
        page: u32,
    },
    /// One of the customer's orders, by local id.
    Order {
        /// Local order id.
        id: u64,
    },
    /// Ask for a refill of an order.
    Refill {
        /// Local order id.
        id: u64,
    },
    /// Check a refill's status.
    RefillStatus {
        /// Local order id.
        id: u64,
        /// The API's refill id.
        refill: u64,
    },
    /// Ask to cancel an order.
    CancelOrder {
        /// Local order id.
        id: u64,
    },
    /// A page of the admin's all-orders view.
    AdminOrders {
        /// One-based page.
        page: u32,
        /// Status filter (a short word) or empty.
        status: String,
        /// Service filter, 0 for none.
        service: u64,
    },
    /// Choose a language.
    Language {
        /// Locale code, e.g. `pcm`.
        code: String,
    },
    /// Start a Stars top-up of a preset size.
    TopUp {
        /// Number of Stars.
        stars: u32,
    },
    /// A button that does nothing (page counters).
    Noop,
}

impl Cb {
    /// Encodes to callback data; always ≤ 64 bytes for values produced by the bot.
    pub fn encode(&self) -> String {
        let mut s = String::with_capacity(24);
        // Writing to a String cannot fail.
        let _ = match self {
            Cb::MenuOrder => write!(s, "m:o"),
            Cb::MenuMyOrders => write!(s, "m:m"),
            Cb::MenuHelp => write!(s, "m:h"),
            Cb::MenuWallet => write!(s, "m:w"),
            Cb::MenuLanguage => write!(s, "m:l"),
            Cb::Category { ver, idx } => write!(s, "c:{ver}:{idx}"),
            Cb::ServicePage { page } => write!(s, "sp:{page}"),
            Cb::Service { id } => write!(s, "s:{id}"),
            Cb::Back => write!(s, "b"),
            Cb::Confirm { token } => write!(s, "ok:{token}"),
            Cb::Abort => write!(s, "x"),
            Cb::MyOrders { page } => write!(s, "mo:{page}"),
            Cb::Order { id } => write!(s, "o:{id}"),
            Cb::Refill { id } => write!(s, "rf:{id}"),
            Cb::RefillStatus { id, refill } => write!(s, "rs:{id}:{refill}"),
            Cb::CancelOrder { id } => write!(s, "cn:{id}"),
            Cb::AdminOrders {
                page,
                status,
                service,
            } => write!(s, "ao:{page}:{status}:{service}"),
            Cb::Language { code } => write!(s, "l:{code}"),
            Cb::TopUp { stars } => write!(s, "tu:{stars}"),
            Cb::Noop => write!(s, "n"),
        };
        debug_assert!(s.len() <= MAX_CALLBACK_BYTES, "callback data too long: {s}");
        s
    }

    /// Decodes callback data strictly: unknown tags, extra fields or bad numbers give `None`.
    pub fn decode(data: &str) -> Option<Cb> {
        if data.is_empty() || data.len() > MAX_CALLBACK_BYTES {
            return None;
        }
        let parts: Vec<&str> = data.split(':').collect();
        let cb = match parts.as_slice() {
            ["m", "o"] => Cb::MenuOrder,
            ["m", "m"] => Cb::MenuMyOrders,
            ["m", "h"] => Cb::MenuHelp,
            ["m", "w"] => Cb::MenuWallet,
            ["m", "l"] => Cb::MenuLanguage,
            ["c", ver, idx] => Cb::Category {
                ver: num(ver)?,
                idx: num(idx)?,
            },
            ["sp", page] => Cb::ServicePage { page: num(page)? },
            ["s", id] => Cb::Service { id: num(id)? },
            ["b"] => Cb::Back,
            ["ok", token] if is_token(token) => Cb::Confirm {
                token: (*token).to_string(),
            },
            ["x"] => Cb::Abort,
            ["mo", page] => Cb::MyOrders { page: num(page)? },
            ["o", id] => Cb::Order { id: num(id)? },
            ["rf", id] => Cb::Refill { id: num(id)? },
            ["rs", id, refill] => Cb::RefillStatus {
                id: num(id)?,
                refill: num(refill)?,
            },
            ["cn", id] => Cb::CancelOrder { id: num(id)? },
            ["ao", page, status, service]
                if status.len() <= 12 && status.chars().all(|c| c.is_ascii_lowercase()) =>
            {
                Cb::AdminOrders {
                    page: num(page)?,
                    status: (*status).to_string(),
                    service: num(service)?,
                }
            }
            ["l", code] if code.len() <= 5 && code.chars().all(|c| c.is_ascii_lowercase()) => {
                Cb::Language {
                    code: (*code).to_string(),
                }
            }
            ["tu", stars] => Cb::TopUp { stars: num(stars)? },
            ["n"] => Cb::Noop,
            _ => return None,
        };
        Some(cb)
    }
}

/// A canonical unsigned number: digits only, no sign, no leading zeros (so each value has one form).
fn num<T: std::str::FromStr>(s: &str) -> Option<T> {
    let canonical = !s.is_empty()
        && s.len() <= 20
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    if canonical { s.parse().ok() } else { None }
}

fn is_token(s: &str) -> bool {
    (8..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A fresh random confirmation token (16 alphanumerics).
pub fn new_token() -> String {
    (0..16).map(|_| fastrand::alphanumeric()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_samples() -> Vec<Cb> {
        vec![
            Cb::MenuOrder,
            Cb::MenuMyOrders,
            Cb::MenuHelp,
            Cb::MenuWallet,
            Cb::MenuLanguage,
            Cb::Category {
                ver: u32::MAX,
                idx: u32::MAX,
            },
            Cb::ServicePage { page: u32::MAX },
            Cb::Service { id: u64::MAX },
            Cb::Back,
            Cb::Confirm { token: new_token() },
            Cb::Abort,
            Cb::MyOrders { page: u32::MAX },
            Cb::Order { id: u64::MAX },
            Cb::Refill { id: u64::MAX },
            Cb::RefillStatus {
                id: u64::MAX,
                refill: u64::MAX,
            },
            Cb::CancelOrder { id: u64::MAX },
            Cb::AdminOrders {
                page: u32::MAX,
                status: "inprogress".into(),
                service: u64::MAX,
            },
            Cb::Language { code: "pcm".into() },
            Cb::TopUp { stars: u32::MAX },
            Cb::Noop,
        ]
    }

    #[test]
    fn every_button_round_trips_within_64_bytes() {
        for cb in all_samples() {
            let data = cb.encode();
            assert!(data.len() <= MAX_CALLBACK_BYTES, "{data}");
            assert_eq!(Cb::decode(&data), Some(cb), "{data}");
        }
    }

    #[test]
    fn forged_or_stale_data_is_rejected() {
        for bad in [
            "",
            "s:",
            "s:-1",
            "s:01",
            "s:1:2",
            "s:18446744073709551616",
            "o:abc",
            "ok:short",
            "ok:has space in it",
            "c:1",
            "zz:1",
            "l:EN",
            "ao:1:in progress:0",
            "m:z",
            &"x".repeat(65),
        ] {
            assert_eq!(Cb::decode(bad), None, "{bad:?}");
        }
    }
}
