//! Configuration from the environment and `.env`, validated at start, secrets redacted.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use rust_decimal::Decimal;

use crate::money::Naira;

/// The production IA-Café API base URL.
pub const DEFAULT_BASE_URL: &str = "https://iacafe.com.ng/devapi/v1";

/// A secret string (bot token, API key) that never prints itself.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

/// Whether customers pay from a wallet kept by the shop, or the shop is private.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WalletMode {
    /// Customers top up a naira wallet; orders are charged to it.
    On,
    /// Private shop: only allowed users and admins order, charged to the IA-Café wallet.
    Off,
}

/// Everything the program reads from its environment.
#[derive(Clone, Debug)]
pub struct Config {
    /// Telegram bot token (`TELOXIDE_TOKEN`).
    pub bot_token: Secret,
    /// Alternative Bot API server (`TELOXIDE_API_URL`).
    pub bot_api_url: Option<String>,
    /// IA-Café key; `None` runs against the built-in sandbox panel.
    pub api_key: Option<Secret>,
    /// IA-Café API base URL.
    pub base_url: String,
    /// Telegram user ids allowed to use admin commands.
    pub admin_ids: Vec<u64>,
    /// Group chat told when orders end.
    pub notify_chat_id: Option<i64>,
    /// Where the database lives.
    pub data_dir: PathBuf,
    /// How often the tracker polls order statuses.
    pub poll_interval: Duration,
    /// Percentage added to the API rate for customer prices.
    pub markup_percent: Decimal,
    /// Customer wallets on, or private-shop mode.
    pub wallets: WalletMode,
    /// Users who may order in private-shop mode (admins always may).
    pub allowed_user_ids: Vec<u64>,
    /// Naira credited per Telegram Star; `None` disables Stars top-ups.
    pub stars_ngn_rate: Option<Naira>,
    /// Credit a new customer receives in sandbox mode.
    pub sandbox_credit: Naira,
    /// Public HTTPS URL for webhook mode; `None` uses long polling.
    pub webhook_url: Option<String>,
    /// Local port the webhook server listens on.
    pub port: u16,
    /// Secret token Telegram must echo on webhook calls.
    pub webhook_secret: Option<Secret>,
    /// Shop name shown in greetings.
    pub shop_name: String,
}

/// A configuration value that is missing or malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}: {problem}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub var: &'static str,
    /// What is wrong and what is expected (never the value of a secret).
    pub problem: String,
}

fn err(var: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        problem: problem.into(),
    }
}

impl Config {
    /// Reads the process environment, after loading `.env` from the working directory if present.
    pub fn from_env() -> Result<Config, ConfigError> {
        // A missing .env is normal; a malformed one is reported like any bad value.
        match dotenvy::dotenv() {
            Ok(_) => {}
            Err(e) if e.not_found() => {}
            Err(e) => return Err(err("(.env file)", format!("cannot be read: {e}"))),
        }
        Config::from_lookup(|k| std::env::var(k).ok())
    }

    /// Builds the configuration from any key lookup (the environment, or a map in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let value = |k: &str| {
            get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };

        let bot_token = value("TELOXIDE_TOKEN").ok_or_else(|| {
            err(
                "TELOXIDE_TOKEN",
                "missing; set it to the bot token from @BotFather (see .env.example)",
            )
        })?;
        if !looks_like_bot_token(&bot_token) {
            return Err(err(
                "TELOXIDE_TOKEN",
                "malformed; expected the form 123456789:ABC… from @BotFather",
            ));
        }
        let bot_api_url = value("TELOXIDE_API_URL");
        if let Some(u) = &bot_api_url {
            check_url("TELOXIDE_API_URL", u)?;
        }
        let base_url = value("IACAFE_BASE_URL").unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
        check_url("IACAFE_BASE_URL", &base_url)?;

        let webhook_url = value("WEBHOOK_URL");
        if let Some(u) = &webhook_url {
            check_url("WEBHOOK_URL", u)?;
        }
        let webhook_secret = value("WEBHOOK_SECRET");
        if let Some(s) = &webhook_secret {
            // Telegram allows 1–256 characters of A-Z, a-z, 0-9, _ and -.
            if s.len() > 256
                || !s
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(err(
                    "WEBHOOK_SECRET",
                    "malformed; use 1-256 characters of letters, digits, _ and -",
                ));
            }
        }

        let poll_secs: u64 = parse_num(&value, "POLL_INTERVAL_SECS", 60)?;
        if poll_secs == 0 {
            return Err(err("POLL_INTERVAL_SECS", "must be at least 1 (seconds)"));
        }
        let markup_percent = match value("MARKUP_PERCENT") {
            None => Decimal::ZERO,
            Some(v) => {
                let d = Naira::parse(&v)
                    .map(|n| n.0)
                    .ok_or_else(|| err("MARKUP_PERCENT", "expected a number such as 15 or 7.5"))?;
                if d.is_sign_negative() || d > Decimal::from(1000) {
                    return Err(err(
                        "MARKUP_PERCENT",
                        "expected a percentage from 0 to 1000",
                    ));
                }
                d
            }
        };
        let wallets = match value("WALLETS").map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("on") | Some("true") | Some("1") | Some("yes") => WalletMode::On,
            Some("off") | Some("false") | Some("0") | Some("no") => WalletMode::Off,
            Some(_) => return Err(err("WALLETS", "expected on or off")),
        };
        let stars_ngn_rate = match value("STARS_NGN_RATE") {
            None => None,
            Some(v) => match Naira::parse(&v) {
                Some(n) if n > Naira::ZERO => Some(n),
                _ => {
                    return Err(err(
                        "STARS_NGN_RATE",
                        "expected the naira credited per Star, a positive number such as 25",
                    ));
                }
            },
        };
        let sandbox_credit = match value("SANDBOX_CREDIT") {
            None => Naira::from_kobo(5_000_000),
            Some(v) => match Naira::parse(&v) {
                Some(n) if !n.is_negative() => n.round_kobo(),
                _ => {
                    return Err(err(
                        "SANDBOX_CREDIT",
                        "expected a naira amount such as 50000",
                    ));
                }
            },
        };

        Ok(Config {
            bot_token: Secret::new(bot_token),
            bot_api_url,
            api_key: value("IACAFE_API_KEY").map(Secret::new),
            base_url,
            admin_ids: parse_ids(&value, "ADMIN_IDS")?,
            notify_chat_id: match value("NOTIFY_CHAT_ID") {
                None => None,
                Some(v) => Some(v.parse::<i64>().map_err(|_| {
                    err(
                        "NOTIFY_CHAT_ID",
                        "expected a chat id such as -1001234567890",
                    )
                })?),
            },
            data_dir: PathBuf::from(value("DATA_DIR").unwrap_or_else(|| "./data".to_string())),
            poll_interval: Duration::from_secs(poll_secs),
            markup_percent,
            wallets,
            allowed_user_ids: parse_ids(&value, "ALLOWED_USER_IDS")?,
            stars_ngn_rate,
            sandbox_credit,
            webhook_url,
            port: parse_num(&value, "PORT", 8443)?,
            webhook_secret: webhook_secret.map(Secret::new),
            shop_name: value("SHOP_NAME").unwrap_or_else(|| "SMM Storefront".to_string()),
        })
    }

    /// True when no API key is set and the built-in sandbox panel stands in for IA-Café.
    pub fn sandbox(&self) -> bool {
        self.api_key.is_none()
    }

    /// True when `user_id` is listed in `ADMIN_IDS`.
    pub fn is_admin(&self, user_id: u64) -> bool {
        self.admin_ids.contains(&user_id)
    }
}

fn looks_like_bot_token(t: &str) -> bool {
    match t.split_once(':') {
        Some((id, rest)) => {
            !id.is_empty()
                && id.chars().all(|c| c.is_ascii_digit())
                && rest.len() >= 20
                && rest
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        }
        None => false,
    }
}

fn check_url(var: &'static str, url: &str) -> Result<(), ConfigError> {
    let ok = (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() > "http://".len()
        && reqwest::Url::parse(url).is_ok();
    if ok {
        Ok(())
    } else {
        Err(err(
            var,
            "expected an http(s) URL such as https://example.com/path",
        ))
    }
}

fn parse_num<T: std::str::FromStr>(
    value: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: T,
) -> Result<T, ConfigError> {
    match value(var) {
        None => Ok(default),
        Some(v) => v
            .parse::<T>()
            .map_err(|_| err(var, "expected a whole positive number")),
    }
}

fn parse_ids(
    value: &impl Fn(&str) -> Option<String>,
    var: &'static str,
) -> Result<Vec<u64>, ConfigError> {
    let Some(v) = value(var) else {
        return Ok(Vec::new());
    };
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<u64>().map_err(|_| {
                err(
                    var,
                    "expected Telegram user ids separated by commas, e.g. 12345,67890",
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const TOKEN: &str = "1234567:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn missing_token_names_the_variable() {
        let e = cfg(&[]).unwrap_err();
        assert_eq!(e.var, "TELOXIDE_TOKEN");
        assert!(e.to_string().starts_with("TELOXIDE_TOKEN: missing"));
    }

    #[test]
    fn defaults_run_against_the_sandbox() {
        let c = cfg(&[("TELOXIDE_TOKEN", TOKEN)]).unwrap();
        assert!(c.sandbox());
        assert_eq!(c.base_url, DEFAULT_BASE_URL);
        assert_eq!(c.poll_interval, Duration::from_secs(60));
        assert_eq!(c.data_dir, PathBuf::from("./data"));
        assert_eq!(c.wallets, WalletMode::On);
        assert!(c.admin_ids.is_empty());
    }

    #[test]
    fn malformed_values_are_named_without_secrets() {
        let bad = [
            ("ADMIN_IDS", "12,abc"),
            ("NOTIFY_CHAT_ID", "group"),
            ("POLL_INTERVAL_SECS", "-3"),
            ("POLL_INTERVAL_SECS", "0"),
            ("IACAFE_BASE_URL", "ftp://x"),
            ("MARKUP_PERCENT", "lots"),
            ("WALLETS", "maybe"),
            ("STARS_NGN_RATE", "0"),
        ];
        for (k, v) in bad {
            let e = cfg(&[("TELOXIDE_TOKEN", TOKEN), (k, v)]).unwrap_err();
            assert_eq!(e.var, k, "{k}={v}");
            assert!(!e.to_string().contains(TOKEN));
        }
        let e = cfg(&[("TELOXIDE_TOKEN", "not-a-token")]).unwrap_err();
        assert!(!e.to_string().contains("not-a-token"));
    }

    #[test]
    fn parses_lists_and_secrets_stay_hidden() {
        let c = cfg(&[
            ("TELOXIDE_TOKEN", TOKEN),
            ("IACAFE_API_KEY", "ak_test_supersecretvalue"),
            ("ADMIN_IDS", " 11, 22 ,33"),
            ("NOTIFY_CHAT_ID", "-1001234567890"),
            ("MARKUP_PERCENT", "12.5"),
        ])
        .unwrap();
        assert_eq!(c.admin_ids, vec![11, 22, 33]);
        assert_eq!(c.notify_chat_id, Some(-1001234567890));
        assert!(!c.sandbox());
        assert!(c.is_admin(22) && !c.is_admin(44));
        let shown = format!("{c:?}");
        assert!(!shown.contains("supersecret") && !shown.contains(TOKEN));
    }
}
