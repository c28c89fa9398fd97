//! `smm-storefront check`: configuration, Telegram, IA-Café and the database, one line each.
//!
//! Every failure becomes a ✗ line with a reason; nothing here panics on a bad answer and no
//! line ever contains the bot token or the API key.

use std::fmt;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use teloxide::prelude::*;

use super::{control, has_database, is_locked};
use crate::config::{Config, WalletMode};
use crate::panel::{self, ApiKey};
use crate::store::Store;

/// Longest wait for Telegram's `getMe`.
const TELEGRAM_TIMEOUT: Duration = Duration::from_secs(20);
/// Longest wait for IA-Café's `whoami` (the client retries reads itself).
const PANEL_TIMEOUT: Duration = Duration::from_secs(60);

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckLine {
    /// True when the check passed.
    pub ok: bool,
    /// What was checked ("Telegram", "IA-Café", …).
    pub what: &'static str,
    /// What was found, or why it failed and what to do.
    pub detail: String,
}

impl CheckLine {
    fn pass(what: &'static str, detail: impl Into<String>) -> Self {
        CheckLine {
            ok: true,
            what,
            detail: detail.into(),
        }
    }

    fn fail(what: &'static str, detail: impl Into<String>) -> Self {
        CheckLine {
            ok: false,
            what,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for CheckLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mark = if self.ok { '✓' } else { '✗' };
        write!(f, "{mark} {}: {}", self.what, self.detail)
    }
}

/// Runs every check against `cfg` (already parsed, so the configuration itself is valid).
pub async fn check(cfg: &Config) -> Vec<CheckLine> {
    let mut lines = config_lines(cfg);
    let (telegram, panel, database) = tokio::join!(
        check_telegram(cfg),
        check_panel(cfg),
        check_database(&cfg.data_dir)
    );
    lines.extend([telegram, panel, database]);
    // Belt and braces: whatever a library put into a message, the secrets do not leave here.
    let secrets: Vec<&str> = [Some(&cfg.bot_token), cfg.api_key.as_ref()]
        .into_iter()
        .flatten()
        .map(|s| s.expose())
        .collect();
    for line in &mut lines {
        line.detail = redact(&line.detail, &secrets);
    }
    lines
}

/// The check lines as printed, one per line.
pub fn format_check(lines: &[CheckLine]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// 0 when every check passed, 1 otherwise.
pub fn check_exit_code(lines: &[CheckLine]) -> ExitCode {
    if lines.iter().all(|l| l.ok) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `smm-storefront check`: runs [`check`], prints the lines and returns the exit code.
pub async fn run_check(cfg: &Config) -> ExitCode {
    let lines = check(cfg).await;
    print!("{}", format_check(&lines));
    check_exit_code(&lines)
}

pub(super) fn config_lines(cfg: &Config) -> Vec<CheckLine> {
    let mode = if cfg.sandbox() {
        "SANDBOX (no IACAFE_API_KEY: built-in simulated panel, no real orders)".to_string()
    } else {
        format!("live IA-Café at {}", cfg.base_url)
    };
    let wallets = match cfg.wallets {
        WalletMode::On => "wallets on",
        WalletMode::Off => "wallets off (private shop)",
    };
    let admins = match cfg.admin_ids.len() {
        0 => "no admins (set ADMIN_IDS to use admin commands)".to_string(),
        1 => "1 admin".to_string(),
        n => format!("{n} admins"),
    };
    let updates = match &cfg.webhook_url {
        Some(url) => format!("webhook {url} (listening on port {})", cfg.port),
        None => "long polling".to_string(),
    };
    let mut lines = vec![CheckLine::pass(
        "configuration",
        format!("valid; {mode}; {wallets}; {admins}; updates by {updates}"),
    )];
    if let Err(reason) = super::webhook::check_webhook_url(cfg) {
        lines.push(CheckLine::fail("webhook", reason));
    }
    lines
}

async fn check_telegram(cfg: &Config) -> CheckLine {
    const WHAT: &str = "Telegram";
    let mut bot = Bot::new(cfg.bot_token.expose());
    if let Some(url) = &cfg.bot_api_url {
        match reqwest::Url::parse(url) {
            Ok(u) => bot = bot.set_api_url(u),
            Err(_) => return CheckLine::fail(WHAT, "TELOXIDE_API_URL is not a valid URL"),
        }
    }
    let api = bot.api_url();
    let host = match api.port() {
        Some(port) => format!("{}:{port}", api.host_str().unwrap_or("?")),
        None => api.host_str().unwrap_or("?").to_string(),
    };
    match tokio::time::timeout(TELEGRAM_TIMEOUT, bot.get_me().send()).await {
        Ok(Ok(me)) => {
            let name = me.user.username.as_deref().unwrap_or("(no username)");
            CheckLine::pass(WHAT, format!("bot @{name} (id {}) via {host}", me.user.id))
        }
        Ok(Err(teloxide::RequestError::Api(teloxide::ApiError::InvalidToken))) => CheckLine::fail(
            WHAT,
            format!(
                "{host} refused the bot token; copy TELOXIDE_TOKEN again from @BotFather \
                 (/mybots → API Token)"
            ),
        ),
        Ok(Err(e)) => CheckLine::fail(
            WHAT,
            format!(
                "cannot reach the Bot API at {host}: {}; check the network, a firewall or \
                 TELOXIDE_API_URL",
                error_chain(&e)
            ),
        ),
        Err(_) => CheckLine::fail(
            WHAT,
            format!(
                "no answer from {host} within {} s; check the network or a firewall",
                TELEGRAM_TIMEOUT.as_secs()
            ),
        ),
    }
}

async fn check_panel(cfg: &Config) -> CheckLine {
    const WHAT: &str = "IA-Café";
    let Some(key) = &cfg.api_key else {
        return CheckLine::pass(
            WHAT,
            "skipped: no IACAFE_API_KEY, the bot will use its built-in sandbox panel",
        );
    };
    let client = match panel::Client::new(&cfg.base_url, ApiKey::new(key.expose())) {
        Ok(c) => c,
        Err(e) => return CheckLine::fail(WHAT, format!("cannot set up the client: {e}")),
    };
    match tokio::time::timeout(PANEL_TIMEOUT, client.balance()).await {
        Ok(Ok(balance)) => CheckLine::pass(
            WHAT,
            format!(
                "API key accepted, wallet balance {balance} ({})",
                cfg.base_url
            ),
        ),
        Ok(Err(panel::Error::Unauthorized)) => CheckLine::fail(
            WHAT,
            "the API key was refused; copy IACAFE_API_KEY again from your IA-Café dashboard",
        ),
        Ok(Err(e)) => CheckLine::fail(
            WHAT,
            format!(
                "whoami at {} failed: {e}; check IACAFE_BASE_URL and the network",
                cfg.base_url
            ),
        ),
        Err(_) => CheckLine::fail(
            WHAT,
            format!(
                "no answer from {} within {} s",
                cfg.base_url,
                PANEL_TIMEOUT.as_secs()
            ),
        ),
    }
}

pub(super) async fn check_database(dir: &Path) -> CheckLine {
    const WHAT: &str = "database";
    let shown = dir.display().to_string();
    if !has_database(dir) {
        let detail = if dir.exists() {
            format!("no database yet in {shown}; the bot creates it on its first run")
        } else {
            format!("{shown} does not exist yet; the bot creates it on its first run")
        };
        return CheckLine::pass(WHAT, detail);
    }
    let path = dir.to_path_buf();
    let opened = tokio::task::spawn_blocking(move || {
        Store::open(&path).map(|s| (s.order_count(), s.user_count()))
    })
    .await;
    match opened {
        Ok(Ok((orders, users))) => {
            CheckLine::pass(WHAT, format!("{shown}: {orders} orders, {users} users"))
        }
        Ok(Err(e)) if is_locked(&e) => match control::ping(dir).await {
            Ok(()) => CheckLine::pass(
                WHAT,
                format!("{shown} is in use by a running bot (it answers on its control socket)"),
            ),
            Err(reason) => CheckLine::fail(
                WHAT,
                format!(
                    "{shown} is locked by another process that does not answer on {} ({reason}); \
                     backups while it runs will fail",
                    super::CONTROL_SOCKET
                ),
            ),
        },
        Ok(Err(e)) => CheckLine::fail(
            WHAT,
            format!("cannot open {shown}: {e}; check the folder's owner and permissions"),
        ),
        Err(e) => CheckLine::fail(WHAT, format!("the check task failed: {e}")),
    }
}

/// An error and its sources on one line ("error sending request: connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

/// `text` with every secret (and a bot token's secret half on its own) replaced.
fn redact(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(secret, "(redacted)");
        if let Some((_, half)) = secret.split_once(':')
            && half.len() >= 8
        {
            out = out.replace(half, "(redacted)");
        }
    }
    out
}
