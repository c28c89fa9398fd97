//! Order status words, normalised from any case and `-api` suffix, keeping unknown words.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The state of an order as the provider reports it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum OrderStatus {
    /// Received, waiting to start.
    Pending,
    /// Being delivered.
    InProgress,
    /// Being processed by the provider (`processing`, `processing-api`).
    Processing,
    /// Fully delivered.
    Completed,
    /// Partly delivered; the rest was not.
    Partial,
    /// Cancelled.
    Cancelled,
    /// Failed to deliver.
    Failed,
    /// The provider failed and refunded the wallet.
    Refunded,
    /// A word the document does not list, kept as received.
    Other(String),
}

impl OrderStatus {
    /// Normalises a provider word: case-insensitive, `-api` suffix and `_`/`-` spacing ignored.
    pub fn parse(word: &str) -> OrderStatus {
        let lower = word.trim().to_ascii_lowercase();
        let base = lower.strip_suffix("-api").unwrap_or(&lower);
        let base = base.replace(['_', '-'], " ");
        match base.as_str() {
            "pending" => OrderStatus::Pending,
            "in progress" | "inprogress" => OrderStatus::InProgress,
            "processing" => OrderStatus::Processing,
            "completed" | "complete" => OrderStatus::Completed,
            "partial" => OrderStatus::Partial,
            "cancelled" | "canceled" => OrderStatus::Cancelled,
            "failed" | "fail" => OrderStatus::Failed,
            "refunded" => OrderStatus::Refunded,
            _ => OrderStatus::Other(word.trim().to_string()),
        }
    }

    /// True once the order can no longer change: completed, partial, cancelled, failed, refunded.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            OrderStatus::Completed
                | OrderStatus::Partial
                | OrderStatus::Cancelled
                | OrderStatus::Failed
                | OrderStatus::Refunded
        )
    }

    /// The canonical lower-case word (unknown words as received).
    pub fn as_str(&self) -> &str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::InProgress => "in progress",
            OrderStatus::Processing => "processing",
            OrderStatus::Completed => "completed",
            OrderStatus::Partial => "partial",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Failed => "failed",
            OrderStatus::Refunded => "refunded",
            OrderStatus::Other(w) => w,
        }
    }

    /// A stable key for locale lookups (`status.<key>`); unknown words map to `other`.
    pub fn key(&self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::InProgress => "in_progress",
            OrderStatus::Processing => "processing",
            OrderStatus::Completed => "completed",
            OrderStatus::Partial => "partial",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Failed => "failed",
            OrderStatus::Refunded => "refunded",
            OrderStatus::Other(_) => "other",
        }
    }

    /// An emoji a customer recognises at a glance.
    pub fn emoji(&self) -> &'static str {
        match self {
            OrderStatus::Pending => "⏳",
            OrderStatus::InProgress | OrderStatus::Processing => "🚀",
            OrderStatus::Completed => "✅",
            OrderStatus::Partial => "🟡",
            OrderStatus::Cancelled => "🚫",
            OrderStatus::Failed => "❌",
            OrderStatus::Refunded => "↩️",
            OrderStatus::Other(_) => "❔",
        }
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for OrderStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for OrderStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let word = String::deserialize(d)?;
        Ok(OrderStatus::parse(&word))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_every_documented_word() {
        assert_eq!(OrderStatus::parse("In progress"), OrderStatus::InProgress);
        assert_eq!(OrderStatus::parse("in progress"), OrderStatus::InProgress);
        assert_eq!(
            OrderStatus::parse("processing-api"),
            OrderStatus::Processing
        );
        assert_eq!(OrderStatus::parse("Completed"), OrderStatus::Completed);
        assert_eq!(OrderStatus::parse("completed-api"), OrderStatus::Completed);
        assert_eq!(OrderStatus::parse("refunded-api"), OrderStatus::Refunded);
        assert_eq!(OrderStatus::parse("PARTIAL"), OrderStatus::Partial);
        assert_eq!(OrderStatus::parse("Canceled"), OrderStatus::Cancelled);
    }

    #[test]
    fn keeps_unknown_words() {
        let s = OrderStatus::parse("Awaiting Moderation");
        assert_eq!(s, OrderStatus::Other("Awaiting Moderation".into()));
        assert!(!s.is_terminal());
        assert_eq!(s.to_string(), "Awaiting Moderation");
    }

    #[test]
    fn terminal_set_matches_the_document() {
        for w in ["completed", "partial", "cancelled", "failed", "refunded"] {
            assert!(OrderStatus::parse(w).is_terminal(), "{w}");
        }
        for w in ["pending", "in progress", "processing"] {
            assert!(!OrderStatus::parse(w).is_terminal(), "{w}");
        }
    }
}
