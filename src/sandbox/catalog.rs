//! The sandbox's service catalog: a hand-written realistic list and a seeded generator for load.

use std::str::FromStr;

use rust_decimal::Decimal;

use crate::money::Naira;

/// First service id, as in the document's example.
pub(super) const FIRST_SERVICE_ID: u64 = 101;

/// How a service takes its quantity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// A plain `quantity`.
    Default,
    /// One comment per line; quantity = number of lines.
    CustomComments,
}

impl Kind {
    /// The word the API prints in `type`.
    pub(super) fn word(self) -> &'static str {
        match self {
            Kind::Default => "Default",
            Kind::CustomComments => "Custom Comments",
        }
    }
}

/// One service as the sandbox sells it.
#[derive(Clone, Debug)]
pub(super) struct Service {
    pub id: u64,
    pub provider_service_id: u64,
    pub category: String,
    pub name: String,
    pub kind: Kind,
    pub min: u64,
    pub max: u64,
    pub rate: Naira,
    pub refill: bool,
    pub cancelable: bool,
    pub dripfeed: bool,
}

/// The whole catalog; fixed once the sandbox starts, so it lives outside the state lock.
#[derive(Debug)]
pub(super) struct Catalog {
    services: Vec<Service>,
}

impl Catalog {
    /// All services, in id order.
    pub(super) fn services(&self) -> &[Service] {
        &self.services
    }

    /// The service with this id, if any (ids are dense from 101).
    pub(super) fn get(&self, id: u64) -> Option<&Service> {
        let index = usize::try_from(id.checked_sub(FIRST_SERVICE_ID)?).ok()?;
        self.services.get(index)
    }
}

/// A row of the standard table: category, name, kind, min, max, rate, refill, cancelable, dripfeed.
type Row = (
    &'static str,
    &'static str,
    Kind,
    u64,
    u64,
    &'static str,
    bool,
    bool,
    bool,
);

const IG: &str = "Instagram";
const TT: &str = "TikTok";
const YT: &str = "YouTube";
const FB: &str = "Facebook";
const TG: &str = "Telegram";
const X: &str = "X (Twitter)";
const D: Kind = Kind::Default;
const CC: Kind = Kind::CustomComments;

// Service 101 is the document's example (1500 at ₦1,040 → ₦1,560.00); the rest covers every
// platform, both types and all four refill/cancel combinations.
#[rustfmt::skip]
const STANDARD: &[Row] = &[
    (IG, "IG Followers [Real - 30 Days Refill]", D, 100, 100_000, "1040.00", true, true, false),
    (IG, "IG Followers [HQ - No Refill]", D, 50, 500_000, "612.75", false, false, false),
    (IG, "IG Likes [Instant - Non Drop]", D, 10, 200_000, "185.40", true, false, true),
    (IG, "IG Likes [Cheap]", D, 20, 50_000, "35.50", false, true, false),
    (IG, "IG Reels Views [Max 10M]", D, 100, 1_000_000, "48.3125", false, false, true),
    (IG, "IG Custom Comments [Nigerian Names]", CC, 10, 5_000, "9800.00", false, true, false),
    (IG, "IG Story Views", D, 100, 100_000, "72.90", false, false, false),
    (TT, "TikTok Followers [Real - 60 Days Refill]", D, 100, 200_000, "1875.60", true, true, false),
    (TT, "TikTok Likes [Fast]", D, 50, 500_000, "256.8333", false, false, true),
    (TT, "TikTok Views [Instant]", D, 100, 1_000_000, "36.125", false, true, true),
    (TT, "TikTok Custom Comments", CC, 10, 1_000, "7450.00", true, false, false),
    (TT, "TikTok Shares", D, 100, 100_000, "210.00", false, false, false),
    (YT, "YouTube Subscribers [Lifetime Refill]", D, 50, 50_000, "8990.99", true, true, false),
    (YT, "YouTube Views [Retention 60s+]", D, 500, 1_000_000, "1395.4567", true, false, true),
    (YT, "YouTube Likes", D, 20, 100_000, "644.10", false, true, false),
    (YT, "YouTube Custom Comments", CC, 10, 2_000, "9120.50", false, false, false),
    (FB, "Facebook Page Likes + Followers [30 Days Refill]", D, 100, 100_000, "2310.00", true, true, false),
    (FB, "Facebook Post Likes", D, 50, 50_000, "402.6666", false, true, false),
    (FB, "Facebook Video Views", D, 500, 1_000_000, "88.88", false, false, true),
    (FB, "Facebook Custom Comments", CC, 10, 3_000, "6400.00", true, true, false),
    (TG, "Telegram Channel Members [Real - 30 Days Refill]", D, 100, 100_000, "1520.45", true, false, false),
    (TG, "Telegram Group Members [No Refill]", D, 100, 50_000, "980.00", false, true, false),
    (TG, "Telegram Post Views [Last 5 Posts]", D, 10, 1_000_000, "41.75", false, false, true),
    (TG, "Telegram Reactions 👍❤️🔥", D, 10, 100_000, "120.30", false, false, false),
    (X, "X Followers [HQ - 30 Days Refill]", D, 100, 100_000, "3250.00", true, true, false),
    (X, "X Likes", D, 20, 100_000, "744.1234", false, false, true),
    (X, "X Views", D, 100, 1_000_000, "52.60", false, true, false),
    (X, "X Retweets [Refill 14 Days]", D, 20, 50_000, "1188.00", true, false, false),
    (X, "X Custom Comments", CC, 10, 1_000, "9800.00", false, false, false),
];

/// The hand-written catalog: about thirty services over six platforms.
pub(super) fn standard() -> Catalog {
    let services = STANDARD
        .iter()
        .zip(FIRST_SERVICE_ID..)
        .zip(1..)
        .map(
            |(((category, name, kind, min, max, rate, refill, cancelable, dripfeed), id), psid)| {
                Service {
                    id,
                    provider_service_id: psid,
                    category: (*category).to_string(),
                    name: (*name).to_string(),
                    kind: *kind,
                    min: *min,
                    max: *max,
                    // The table is ours and checked by a test; fall back to zero rather than panic.
                    rate: Naira(Decimal::from_str(rate).unwrap_or_default()),
                    refill: *refill,
                    cancelable: *cancelable,
                    dripfeed: *dripfeed,
                }
            },
        )
        .collect();
    Catalog { services }
}

/// The category that [`hostile`] gives its Instagram services.
pub const HOSTILE_CATEGORY: &str = "Instagram <Pro> & \"Co\" 🇳🇬";
/// The name [`hostile`] gives service 101.
pub const HOSTILE_NAME: &str = "<script>alert(\"x\")</script> & Followers 🚀 متابعون حقيقيون";
/// The name [`hostile`] gives service 106 (Custom Comments).
pub const HOSTILE_COMMENTS_NAME: &str = "Comments <b>bold</b> &amp; 'quotes' 💬 تعليقات";

/// The standard catalog with markup-hostile names, to prove every message escapes them.
pub(super) fn hostile() -> Catalog {
    let mut c = standard();
    for s in &mut c.services {
        if s.category == IG {
            s.category = HOSTILE_CATEGORY.to_string();
        }
        match s.id {
            101 => s.name = HOSTILE_NAME.to_string(),
            106 => s.name = HOSTILE_COMMENTS_NAME.to_string(),
            _ => {}
        }
    }
    c
}

/// Platforms with their short tag and products; "Comments" products are Custom Comments.
#[rustfmt::skip]
const PLATFORMS: &[(&str, &str, &[&str])] = &[
    (IG, "IG", &["Followers", "Likes", "Views", "Comments", "Story Views", "Reels Views"]),
    (TT, "TikTok", &["Followers", "Likes", "Views", "Comments", "Shares"]),
    (YT, "YouTube", &["Subscribers", "Views", "Likes", "Comments", "Watch Hours"]),
    (FB, "FB", &["Page Likes", "Followers", "Post Likes", "Comments"]),
    (TG, "Telegram", &["Members", "Post Views", "Reactions"]),
    (X, "X", &["Followers", "Likes", "Retweets", "Views", "Comments"]),
];

const QUALITIES: &[&str] = &[
    "Real",
    "HQ",
    "Non-Drop",
    "Cheap",
    "Instant",
    "Señor Premium",
    "Mixed",
];
const MARKS: &[&str] = &["🚀", "ñ", "🇳🇬", "★", "💎", "⚡", ""];
const MINS: &[u64] = &[10, 20, 50, 100, 500, 1_000];
const MAXES: &[u64] = &[5_000, 10_000, 50_000, 100_000, 500_000, 1_000_000];
// Padding keeps names long for layout tests and carries non-ASCII on purpose.
const FILLER: &str = " · Señal rápida 🚀 entrega garantizada ★ Lagos ñ";

/// `count` services named with exactly `name_len` characters, deterministic for a `seed`.
///
/// Categories are "<platform> <product>" (about thirty); rates run from ₦35.50 to ₦9,800.00
/// with up to four decimals.
pub(super) fn generated(count: usize, name_len: usize, seed: u64) -> Catalog {
    let mut rng = fastrand::Rng::with_seed(seed);
    let pairs: Vec<(&str, &str, &str)> = PLATFORMS
        .iter()
        .flat_map(|(platform, tag, products)| products.iter().map(move |p| (*platform, *tag, *p)))
        .collect();
    let mut services = Vec::with_capacity(count);
    for (n, id) in (0..count).zip(FIRST_SERVICE_ID..) {
        let (platform, tag, product) = pairs[n % pairs.len()];
        let kind = if product == "Comments" { CC } else { D };
        let quality = QUALITIES[rng.usize(..QUALITIES.len())];
        let mark = MARKS[rng.usize(..MARKS.len())];
        let base = format!("{tag} {product} [{quality}] #{id} {mark}");
        let (min, max) = if kind == CC {
            (10, [1_000, 2_000, 5_000, 10_000][rng.usize(..4)])
        } else {
            (
                MINS[rng.usize(..MINS.len())],
                MAXES[rng.usize(..MAXES.len())],
            )
        };
        // 35.50 .. 9,800.00 in kobo, plus sometimes two extra decimal places.
        let kobo = rng.i64(3_550..=980_000);
        let rate = if rng.usize(..3) == 0 {
            Decimal::new(kobo * 100 + rng.i64(1..100), 4)
        } else {
            Decimal::new(kobo, 2)
        };
        services.push(Service {
            id,
            provider_service_id: 5_000 + id,
            category: format!("{platform} {product}"),
            name: pad_name(&base, name_len),
            kind,
            min,
            max,
            rate: Naira(rate),
            refill: rng.bool(),
            cancelable: rng.bool(),
            dripfeed: rng.usize(..4) == 0,
        });
    }
    Catalog { services }
}

/// Pads (or cuts) `base` to exactly `len` characters, never ending in whitespace.
fn pad_name(base: &str, len: usize) -> String {
    let mut name: String = base
        .chars()
        .chain(FILLER.chars().cycle())
        .take(len)
        .collect();
    if name.ends_with(char::is_whitespace) {
        name.pop();
        name.push('·');
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_covers_the_documented_example_and_every_combination() {
        let c = standard();
        let s = c.get(101).unwrap();
        assert_eq!(s.name, "IG Followers [Real - 30 Days Refill]");
        assert_eq!(s.rate, Naira(Decimal::from(1040)));
        for r in [true, false] {
            for k in [true, false] {
                assert!(
                    c.services()
                        .iter()
                        .any(|s| s.refill == r && s.cancelable == k)
                );
            }
        }
        assert!(
            c.services()
                .iter()
                .all(|s| !s.rate.0.is_zero() && s.min < s.max)
        );
        assert!(c.services().iter().any(|s| s.kind == Kind::CustomComments));
        assert!(c.get(100).is_none());
    }

    #[test]
    fn hostile_only_renames() {
        let (s, h) = (standard(), hostile());
        assert_eq!(s.services().len(), h.services().len());
        assert_eq!(h.get(101).map(|x| x.name.as_str()), Some(HOSTILE_NAME));
        assert_eq!(
            h.get(106).map(|x| x.name.as_str()),
            Some(HOSTILE_COMMENTS_NAME)
        );
        for (a, b) in s.services().iter().zip(h.services()) {
            assert_eq!((a.id, a.rate, a.min, a.max), (b.id, b.rate, b.min, b.max));
        }
    }

    #[test]
    fn generated_is_deterministic_and_exact_length() {
        let a = generated(500, 40, 7);
        let b = generated(500, 40, 7);
        assert_eq!(a.services().len(), 500);
        for (x, y) in a.services().iter().zip(b.services()) {
            assert_eq!(x.name, y.name);
            assert_eq!(x.rate, y.rate);
            assert_eq!(x.name.chars().count(), 40);
        }
        assert_eq!(pad_name("abc", 2), "ab");
        assert_eq!(pad_name("abc", 0), "");
    }
}
