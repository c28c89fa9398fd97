//! The customer's language: chosen per update from the stored choice, Telegram's hint, or English.

/// A locale the shop speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Lang(pub &'static str);

/// Every shipped locale, English first (the fallback), with its name in its own language.
pub const LANGUAGES: &[(&str, &str)] = &[
    ("en", "English"),
    ("pcm", "Naijá (Pidgin)"),
    ("ha", "Hausa"),
    ("yo", "Yorùbá"),
    ("ig", "Igbo"),
    ("fr", "Français"),
];

impl Lang {
    /// English, the fallback.
    pub const EN: Lang = Lang("en");

    /// The shipped locale for a code such as `ha`, `fr-CA` or `pcm`; `None` if not shipped.
    pub fn from_code(code: &str) -> Option<Lang> {
        let base = code
            .split(['-', '_'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        LANGUAGES
            .iter()
            .find(|(c, _)| *c == base)
            .map(|(c, _)| Lang(c))
    }

    /// The stored choice, else Telegram's `language_code`, else English.
    pub fn choose(stored: Option<&str>, telegram: Option<&str>) -> Lang {
        stored
            .and_then(Lang::from_code)
            .or_else(|| telegram.and_then(Lang::from_code))
            .unwrap_or(Lang::EN)
    }

    /// The locale code, for `t!(…, locale = …)`.
    pub fn code(self) -> &'static str {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_choice_beats_telegram_hint_beats_english() {
        assert_eq!(Lang::choose(Some("ha"), Some("fr")), Lang("ha"));
        assert_eq!(Lang::choose(None, Some("fr-CA")), Lang("fr"));
        assert_eq!(Lang::choose(None, Some("de")), Lang::EN);
        assert_eq!(Lang::choose(Some("xx"), Some("yo")), Lang("yo"));
        assert_eq!(Lang::choose(None, None), Lang::EN);
    }
}
