//! Naira amounts: a `Decimal` newtype, the cost formula and `₦1,560.00` formatting.

use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// An amount of Nigerian naira, exact to the kobo once rounded.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Naira(pub Decimal);

impl Naira {
    /// Zero naira.
    pub const ZERO: Naira = Naira(Decimal::ZERO);

    /// Builds an amount from whole kobo (1/100 naira).
    pub fn from_kobo(kobo: i64) -> Self {
        Naira(Decimal::new(kobo, 2))
    }

    /// The amount rounded to kobo, halves away from zero.
    pub fn round_kobo(self) -> Self {
        Naira(
            self.0
                .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero),
        )
    }

    /// Whole kobo, after rounding to kobo; `None` if it does not fit an `i64`.
    pub fn to_kobo(self) -> Option<i64> {
        let k = self.round_kobo().0.checked_mul(Decimal::ONE_HUNDRED)?;
        i64::try_from(k.trunc()).ok()
    }

    /// Checked addition.
    pub fn checked_add(self, other: Naira) -> Option<Naira> {
        self.0.checked_add(other.0).map(Naira)
    }

    /// Checked subtraction (may go negative; callers decide whether that is allowed).
    pub fn checked_sub(self, other: Naira) -> Option<Naira> {
        self.0.checked_sub(other.0).map(Naira)
    }

    /// True when the amount is below zero.
    pub fn is_negative(self) -> bool {
        self.0.is_sign_negative() && !self.0.is_zero()
    }

    /// Parses an amount written by a person or an API: `1560`, `"1560.00"`, `₦1,560.50`.
    pub fn parse(text: &str) -> Option<Naira> {
        let cleaned: String = text
            .trim()
            .trim_start_matches('₦')
            .chars()
            .filter(|c| *c != ',' && *c != '_' && !c.is_whitespace())
            .collect();
        if cleaned.is_empty() || cleaned.contains(['e', 'E']) {
            return None;
        }
        Decimal::from_str(&cleaned).ok().map(Naira)
    }
}

/// Cost of `quantity` units at `rate_per_1k` naira per 1,000, rounded to kobo.
///
/// The one place the API's formula lives: `quantity / 1000 × rate`. `None` on overflow.
pub fn cost(quantity: u64, rate_per_1k: Naira) -> Option<Naira> {
    let q = Decimal::from(quantity);
    let raw = q
        .checked_mul(rate_per_1k.0)?
        .checked_div(Decimal::ONE_THOUSAND)?;
    Some(Naira(raw).round_kobo())
}

/// A rate raised by `percent` (e.g. 20 for +20%), kept exact; rounding happens on the total.
pub fn with_markup(rate_per_1k: Naira, percent: Decimal) -> Option<Naira> {
    let factor = Decimal::ONE_HUNDRED.checked_add(percent)?;
    let raised = rate_per_1k
        .0
        .checked_mul(factor)?
        .checked_div(Decimal::ONE_HUNDRED)?;
    Some(Naira(raised.normalize()))
}

impl fmt::Display for Naira {
    /// `₦1,560.00`: naira sign, thousands separators, always two decimals.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rounded = self.round_kobo().0;
        let negative = rounded.is_sign_negative() && !rounded.is_zero();
        let text = format!("{:.2}", rounded.abs());
        let (whole, frac) = text.split_once('.').unwrap_or((text.as_str(), "00"));
        let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
        for (i, ch) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(ch);
        }
        let sign = if negative { "-" } else { "" };
        write!(f, "{sign}₦{grouped}.{frac}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Naira {
        Naira(Decimal::from_str(s).unwrap())
    }

    #[test]
    fn documented_example_costs_1560() {
        assert_eq!(cost(1500, n("1040")), Some(n("1560.00")));
        assert_eq!(cost(1500, n("1040")).unwrap().to_string(), "₦1,560.00");
    }

    #[test]
    fn one_unit_rounds_to_kobo_half_away_from_zero() {
        // 1/1000 × 1040 = 1.04 exactly; 1/1000 × 5 = 0.005 → 0.01.
        assert_eq!(cost(1, n("1040")), Some(n("1.04")));
        assert_eq!(cost(1, n("5")), Some(n("0.01")));
        assert_eq!(cost(1, n("4.999")), Some(n("0.00")));
    }

    #[test]
    fn max_quantity_and_long_decimals() {
        assert_eq!(cost(100_000, n("1040")), Some(n("104000.00")));
        assert_eq!(cost(10_000_000, n("0.1234567891")), Some(n("1234.57")));
        assert_eq!(cost(333, n("123.456789")), Some(n("41.11")));
        assert_eq!(cost(u64::MAX, n("79228162514264337593543950335")), None);
    }

    #[test]
    fn formats_with_separators() {
        assert_eq!(n("0").to_string(), "₦0.00");
        assert_eq!(n("999.995").to_string(), "₦1,000.00");
        assert_eq!(n("1234567.8").to_string(), "₦1,234,567.80");
        assert_eq!(n("-1560").to_string(), "-₦1,560.00");
        assert_eq!(n("100").to_string(), "₦100.00");
    }

    #[test]
    fn parses_human_and_api_amounts() {
        assert_eq!(Naira::parse("1560.00"), Some(n("1560")));
        assert_eq!(Naira::parse("₦1,560.50"), Some(n("1560.5")));
        assert_eq!(Naira::parse(" 2 000 "), Some(n("2000")));
        assert_eq!(Naira::parse("abc"), None);
        assert_eq!(Naira::parse("1e9"), None);
        assert_eq!(Naira::parse(""), None);
    }

    #[test]
    fn markup_applies_before_rounding() {
        let r = with_markup(n("1040"), Decimal::from(15)).unwrap();
        assert_eq!(r, n("1196"));
        assert_eq!(cost(1500, r), Some(n("1794.00")));
        assert_eq!(with_markup(n("1.11"), Decimal::ZERO), Some(n("1.11")));
    }
}
