//! The customer's slash commands and the main menu.

use std::sync::Arc;

use rust_i18n::t;
use teloxide::prelude::*;
use teloxide::utils::command::BotCommands;

use super::{
    BotDialogue, HandlerResult, Lang, Shop, State, keyboards, language, my_orders, order_flow,
    reply, text::esc, wallet,
};
use crate::config::WalletMode;

/// Commands every customer may use.
#[derive(BotCommands, Clone, Debug, PartialEq, Eq)]
#[command(rename_rule = "lowercase")]
pub enum Command {
    /// Greeting and main menu; `/start svc_<id>` opens that service.
    Start(String),
    /// Start a new order.
    Order,
    /// List my orders.
    MyOrders,
    /// Live status of one order: `/status <order id>`.
    Status(String),
    /// Leave the current dialogue.
    Cancel,
    /// How the shop works.
    Help,
    /// Choose a language.
    Language,
    /// Wallet balance and history.
    Wallet,
    /// Add money to the wallet with Telegram Stars.
    TopUp,
}

/// Routes a parsed customer command.
pub async fn handle(
    bot: Bot,
    shop: Arc<Shop>,
    dialogue: BotDialogue,
    msg: Message,
    lang: Lang,
    cmd: Command,
) -> HandlerResult {
    let user_id = msg.from.as_ref().map(|u| u.id.0).unwrap_or_default();
    match cmd {
        Command::Start(arg) => {
            let deep = arg
                .trim()
                .strip_prefix("svc_")
                .and_then(|id| id.parse::<u64>().ok());
            match deep {
                Some(id) if order_flow::may_order(&shop, user_id) => {
                    order_flow::show_service(&bot, &shop, &dialogue, msg.chat.id, lang, None, id)
                        .await
                }
                _ => {
                    dialogue.update(State::Idle).await?;
                    greet(&bot, &shop, msg.chat.id, lang).await
                }
            }
        }
        Command::Order => {
            order_flow::start_order(bot, shop, dialogue, msg.chat.id, user_id, lang, None).await
        }
        Command::Cancel => order_flow::cancel_dialogue(bot, dialogue, msg, lang).await,
        Command::Help => help(bot, shop, msg, lang).await,
        // Following orders (my_orders.rs).
        Command::MyOrders => my_orders::my_orders(bot, shop, msg, lang).await,
        Command::Status(arg) => my_orders::status_command(bot, shop, msg, lang, arg).await,
        // Languages (language.rs).
        Command::Language => language::show_choices(&bot, msg.chat.id, lang, None).await,
        // Wallet and Stars (wallet.rs).
        Command::Wallet | Command::TopUp if shop.cfg.wallets == WalletMode::Off => {
            help(bot, shop, msg, lang).await
        }
        Command::Wallet => wallet::show_wallet(&bot, &shop, msg.chat.id, user_id, lang, None).await,
        Command::TopUp => wallet::show_topup(&bot, &shop, msg.chat.id, lang, None).await,
    }
}

/// The greeting with the main menu.
pub async fn greet(bot: &Bot, shop: &Shop, chat: ChatId, lang: Lang) -> HandlerResult {
    let l = lang.code();
    let mut text = t!("menu.greeting", locale = l, shop = esc(&shop.cfg.shop_name)).to_string();
    if shop.sandbox() {
        text = format!("{}\n\n{text}", t!("common.sandbox_mark", locale = l));
    }
    let menu = keyboards::main_menu(lang, shop.cfg.wallets == WalletMode::On);
    reply(bot, chat, text, Some(menu)).await?;
    Ok(())
}

/// `/help`, and the answer to anything that looks like a command but is not one of ours.
pub async fn help(bot: Bot, shop: Arc<Shop>, msg: Message, lang: Lang) -> HandlerResult {
    let l = lang.code();
    let mut text = t!("help.text", locale = l).to_string();
    if shop.cfg.wallets == WalletMode::On {
        text.push_str("\n\n");
        // Only mention /topup where Stars top-ups are switched on.
        let key = if shop.cfg.stars_ngn_rate.is_some() {
            "help.wallet"
        } else {
            "help.wallet_no_stars"
        };
        text.push_str(&t!(key, locale = l));
    }
    let menu = keyboards::main_menu(lang, shop.cfg.wallets == WalletMode::On);
    reply(&bot, msg.chat.id, text, Some(menu)).await?;
    Ok(())
}
