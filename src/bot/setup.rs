//! Start-up registration with Telegram: the command menus per language and per admin.

use rust_i18n::t;
use teloxide::prelude::*;
use teloxide::types::{BotCommand, BotCommandScope, Recipient};

use super::lang::LANGUAGES;
use crate::config::{Config, WalletMode};

/// The customer commands with their descriptions in `locale` (no wallet commands when
/// `wallets` is false: a private shop has no wallets).
pub fn customer_commands(locale: &str, wallets: bool) -> Vec<BotCommand> {
    [
        ("order", "cmd.order"),
        ("myorders", "cmd.myorders"),
        ("status", "cmd.status"),
        ("wallet", "cmd.wallet"),
        ("topup", "cmd.topup"),
        ("language", "cmd.language"),
        ("help", "cmd.help"),
        ("cancel", "cmd.cancel"),
    ]
    .into_iter()
    .filter(|(c, _)| wallets || !matches!(*c, "wallet" | "topup"))
    .map(|(c, key)| BotCommand::new(c, t!(key, locale = locale)))
    .collect()
}

/// The admin commands (shown only in admins' own chats).
pub fn admin_commands() -> Vec<BotCommand> {
    [
        ("balance", "cmd.balance"),
        ("orders", "cmd.orders"),
        ("stats", "cmd.stats"),
        ("credit", "cmd.credit"),
        ("debit", "cmd.debit"),
        ("broadcast", "cmd.broadcast"),
        ("refundstars", "cmd.refundstars"),
    ]
    .into_iter()
    .map(|(c, key)| BotCommand::new(c, t!(key, locale = "en")))
    .collect()
}

/// Registers the menus: one per shipped language, and a longer one in each admin's chat.
/// Failures are logged, never fatal: the bot works without a menu.
pub async fn register_commands(bot: &Bot, cfg: &Config) {
    let wallets = cfg.wallets == WalletMode::On;
    for (code, _) in LANGUAGES {
        let mut req = bot.set_my_commands(customer_commands(code, wallets));
        if *code != "en" {
            req = req.language_code(*code);
        }
        if let Err(e) = req.await {
            log::warn!("cannot register the {code} command menu: {e}");
        }
    }
    for admin in &cfg.admin_ids {
        let mut all = customer_commands("en", wallets);
        all.extend(admin_commands());
        let scope = BotCommandScope::Chat {
            chat_id: Recipient::Id(ChatId(*admin as i64)),
        };
        if let Err(e) = bot.set_my_commands(all).scope(scope).await {
            log::warn!("cannot register the admin menu for {admin}: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bot::admin::AdminCommand;
    use teloxide::utils::command::BotCommands;

    #[test]
    fn admin_menu_lists_every_admin_command() {
        let menu: Vec<String> = admin_commands().into_iter().map(|c| c.command).collect();
        let parsed: Vec<String> = AdminCommand::bot_commands()
            .into_iter()
            .map(|c| c.command.trim_start_matches('/').to_string())
            .collect();
        assert_eq!(menu, parsed);
        for c in admin_commands() {
            assert!(!c.description.starts_with("cmd."), "{}", c.description);
        }
    }

    #[test]
    fn private_shop_menu_has_no_wallet_commands() {
        let names = |w| -> Vec<String> {
            customer_commands("en", w)
                .into_iter()
                .map(|c| c.command)
                .collect()
        };
        assert!(names(true).contains(&"topup".to_string()));
        assert!(!names(false).iter().any(|c| c == "wallet" || c == "topup"));
    }
}
