//! Text shaping for Telegram HTML: escaping, shortening, progress bars, message size limits.

/// Telegram's limit on a message's text, in characters (UTF-16 units are close enough for our text).
pub const MAX_MESSAGE_CHARS: usize = 4096;
/// Telegram's limit on an inline button's text we keep to, in characters.
pub const MAX_BUTTON_CHARS: usize = 60;

/// Escapes dynamic text for Telegram's HTML parse mode.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for ch in text.chars() {
        match ch {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// Shortens `text` to at most `max` characters, ending with `…` when cut.
pub fn shorten(text: &str, max: usize) -> String {
    let count = text.chars().count();
    if count <= max {
        return text.to_string();
    }
    let keep = max.saturating_sub(1);
    let mut s: String = text.chars().take(keep).collect();
    s.truncate(s.trim_end().len());
    s.push('…');
    s
}

/// A ten-cell progress bar and percentage from what remains of a quantity: `▓▓▓▓▓▓░░░░ 60%`.
pub fn progress_bar(quantity: u64, remains: Option<u64>) -> String {
    let done_pct = match remains {
        _ if quantity == 0 => 0,
        None => 0,
        Some(r) => {
            let delivered = quantity.saturating_sub(r.min(quantity));
            // Whole percent, rounded down so 100% means truly finished.
            ((u128::from(delivered) * 100) / u128::from(quantity)) as u64
        }
    };
    let cells = (done_pct / 10) as usize;
    format!(
        "{}{} {done_pct}%",
        "▓".repeat(cells),
        "░".repeat(10 - cells)
    )
}

/// Splits a long text into messages of at most `MAX_MESSAGE_CHARS`, breaking between lines.
pub fn split_message(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut current_len = 0usize;
    for line in text.split_inclusive('\n') {
        let len = line.chars().count();
        if current_len + len > MAX_MESSAGE_CHARS && !current.is_empty() {
            parts.push(std::mem::take(&mut current));
            current_len = 0;
        }
        if len > MAX_MESSAGE_CHARS {
            // A single over-long line: cut it hard (rare; only with absurd input).
            let chars: Vec<char> = line.chars().collect();
            for chunk in chars.chunks(MAX_MESSAGE_CHARS) {
                parts.push(chunk.iter().collect());
            }
            continue;
        }
        current.push_str(line);
        current_len += len;
    }
    if !current.is_empty() {
        parts.push(current);
    }
    parts
}

/// Formats a whole number with thousands separators: `1,500`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_html_specials_and_keeps_the_rest() {
        assert_eq!(
            esc("<b>&\"x\"</b>"),
            "&lt;b&gt;&amp;&quot;x&quot;&lt;/b&gt;"
        );
        assert_eq!(esc("مرحبا 🎉 ñ"), "مرحبا 🎉 ñ");
    }

    #[test]
    fn shortens_on_char_boundaries() {
        assert_eq!(shorten("abc", 5), "abc");
        assert_eq!(shorten("🎉🎉🎉🎉🎉🎉", 4), "🎉🎉🎉…");
        assert_eq!(shorten(&"x".repeat(200), 40).chars().count(), 40);
    }

    #[test]
    fn progress_bar_matches_remains() {
        assert_eq!(progress_bar(1000, Some(400)), "▓▓▓▓▓▓░░░░ 60%");
        assert_eq!(progress_bar(1000, Some(0)), "▓▓▓▓▓▓▓▓▓▓ 100%");
        assert_eq!(progress_bar(1000, None), "░░░░░░░░░░ 0%");
        assert_eq!(progress_bar(1000, Some(5000)), "░░░░░░░░░░ 0%");
        assert_eq!(progress_bar(3, Some(1)), "▓▓▓▓▓▓░░░░ 66%");
        assert_eq!(progress_bar(0, Some(0)), "░░░░░░░░░░ 0%");
    }

    #[test]
    fn long_text_splits_between_lines_under_the_limit() {
        let line = format!("{}\n", "a".repeat(99));
        let text = line.repeat(100);
        let parts = split_message(&text);
        assert!(parts.len() >= 3);
        assert!(parts.iter().all(|p| p.chars().count() <= MAX_MESSAGE_CHARS));
        assert_eq!(parts.concat(), text);
        let huge = "b".repeat(9000);
        assert!(
            split_message(&huge)
                .iter()
                .all(|p| p.chars().count() <= MAX_MESSAGE_CHARS)
        );
    }

    #[test]
    fn groups_thousands() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1500), "1,500");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }
}
