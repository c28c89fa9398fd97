//! The customer's wallet: balance and history, Telegram Stars top-ups (invoice, pre-checkout,
//! successful payment credited once per charge id).

use std::sync::Arc;

use rust_i18n::t;
use teloxide::prelude::*;
use teloxide::types::{
    InlineKeyboardMarkup, LabeledPrice, MessageId, PreCheckoutQuery, SuccessfulPayment,
};

use super::callback::Cb;
use super::keyboards::button;
use super::text::esc;
use super::{HandlerResult, Lang, Shop, show};
use crate::config::WalletMode;
use crate::money::Naira;
use crate::store::{LedgerEntry, LedgerKind, StoreError};

/// The Star amounts offered by `/topup`.
pub const TOPUP_PRESETS: [u32; 5] = [50, 100, 250, 500, 1000];
/// The Telegram Stars currency code.
pub const STARS: &str = "XTR";
/// Ledger entries shown by `/wallet`.
pub const HISTORY_LEN: usize = 10;
/// The largest Star payment accepted (Telegram's own cap on one invoice is lower still).
const MAX_STARS: u32 = 100_000;

/// What a top-up invoice carries: `topup:<user id>:<stars>:<nonce>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopUpPayload {
    /// The customer the invoice was made for.
    pub user_id: u64,
    /// Stars to pay.
    pub stars: u32,
    /// Random letters, so two invoices never share a payload.
    pub nonce: String,
}

impl TopUpPayload {
    /// A fresh payload for `user_id` paying `stars`.
    pub fn new(user_id: u64, stars: u32) -> TopUpPayload {
        TopUpPayload {
            user_id,
            stars,
            nonce: (0..10).map(|_| fastrand::alphanumeric()).collect(),
        }
    }

    /// The invoice payload string (well under Telegram's 128 bytes).
    pub fn encode(&self) -> String {
        format!("topup:{}:{}:{}", self.user_id, self.stars, self.nonce)
    }

    /// Parses a payload strictly; anything else is not one of our invoices.
    pub fn parse(text: &str) -> Option<TopUpPayload> {
        let mut parts = text.split(':');
        let (Some("topup"), Some(user), Some(stars), Some(nonce), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(user)
            || !digits(stars)
            || nonce.is_empty()
            || nonce.len() > 32
            || !nonce.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return None;
        }
        let stars: u32 = stars.parse().ok()?;
        if stars == 0 || stars > MAX_STARS {
            return None;
        }
        Some(TopUpPayload {
            user_id: user.parse().ok()?,
            stars,
            nonce: nonce.to_string(),
        })
    }
}

/// The naira `stars` buy at `rate` naira per Star, rounded to kobo.
pub fn stars_to_naira(stars: u32, rate: Naira) -> Option<Naira> {
    rate.0
        .checked_mul(stars.into())
        .map(|n| Naira(n).round_kobo())
}

fn wallets_on(shop: &Shop) -> bool {
    shop.cfg.wallets == WalletMode::On
}

/// `/wallet` and the menu's Wallet button: balance and the latest movements.
pub async fn show_wallet(
    bot: &Bot,
    shop: &Shop,
    chat: ChatId,
    user_id: u64,
    lang: Lang,
    edit: Option<MessageId>,
) -> HandlerResult {
    let l = lang.code();
    if !wallets_on(shop) {
        show(bot, chat, edit, t!("wallet.off", locale = l).into(), None).await?;
        return Ok(());
    }
    let balance = shop.store.balance(user_id)?;
    let entries = shop.store.ledger(user_id, HISTORY_LEN)?;
    let mut text = t!("wallet.title", locale = l, balance = balance).to_string();
    text.push_str("\n\n");
    if entries.is_empty() {
        text.push_str(&t!("wallet.empty", locale = l));
    } else {
        text.push_str(&t!("wallet.history", locale = l));
        for e in &entries {
            text.push('\n');
            text.push_str(&history_line(e, lang));
        }
    }
    text.push_str("\n\n");
    text.push_str(&t!("wallet.topup_hint", locale = l));
    show(bot, chat, edit, text, None).await?;
    Ok(())
}

/// One ledger entry as a line: sign and amount, kind, date, reason.
pub fn history_line(e: &LedgerEntry, lang: Lang) -> String {
    let l = lang.code();
    let kind = match e.kind {
        LedgerKind::TopUp => "wallet.kind_top_up",
        LedgerKind::Charge => "wallet.kind_charge",
        LedgerKind::Refund => "wallet.kind_refund",
        LedgerKind::Adjustment => "wallet.kind_adjustment",
        LedgerKind::StarsRefund => "wallet.kind_stars_refund",
        LedgerKind::SandboxCredit => "wallet.kind_sandbox_credit",
    };
    let date = chrono::DateTime::from_timestamp(e.at, 0)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    let mut line = t!(
        "wallet.entry",
        locale = l,
        sign = if e.amount.is_negative() { "−" } else { "+" },
        amount = Naira(e.amount.0.abs()),
        kind = t!(kind, locale = l),
        date = date
    )
    .to_string();
    if let Some(reason) = e.reason.as_deref().filter(|r| !r.is_empty()) {
        line.push_str(" · ");
        line.push_str(&esc(&super::text::shorten(reason, 80)));
    }
    line
}

/// `/topup`: the preset Star amounts with the naira each buys, or why top-ups are unavailable.
pub async fn show_topup(
    bot: &Bot,
    shop: &Shop,
    chat: ChatId,
    lang: Lang,
    edit: Option<MessageId>,
) -> HandlerResult {
    let l = lang.code();
    if !wallets_on(shop) {
        show(bot, chat, edit, t!("wallet.off", locale = l).into(), None).await?;
        return Ok(());
    }
    let Some(rate) = shop.cfg.stars_ngn_rate else {
        let text = t!("wallet.topup_unavailable", locale = l).into();
        show(bot, chat, edit, text, None).await?;
        return Ok(());
    };
    let rows: Vec<_> = TOPUP_PRESETS
        .iter()
        .filter_map(|&stars| {
            let naira = stars_to_naira(stars, rate)?;
            let label = t!(
                "wallet.topup_button",
                locale = l,
                stars = stars,
                naira = naira
            );
            Some(vec![button(label, &Cb::TopUp { stars })])
        })
        .collect();
    let text = t!("wallet.topup_choose", locale = l, rate = rate).into();
    show(bot, chat, edit, text, Some(InlineKeyboardMarkup::new(rows))).await?;
    Ok(())
}

/// A preset button: sends the Stars invoice for that amount.
pub async fn send_topup_invoice(
    bot: &Bot,
    shop: &Shop,
    chat: ChatId,
    user_id: u64,
    lang: Lang,
    stars: u32,
) -> HandlerResult {
    let l = lang.code();
    let rate = shop.cfg.stars_ngn_rate.filter(|_| wallets_on(shop));
    let naira = rate.and_then(|r| stars_to_naira(stars, r));
    let (Some(naira), true) = (naira, TOPUP_PRESETS.contains(&stars)) else {
        super::reply(bot, chat, t!("common.expired", locale = l), None).await?;
        return Ok(());
    };
    let payload = TopUpPayload::new(user_id, stars).encode();
    let title = super::text::shorten(&t!("wallet.invoice_title", locale = l), 32);
    let description = super::text::shorten(
        &t!(
            "wallet.invoice_description",
            locale = l,
            naira = naira,
            shop = &shop.cfg.shop_name
        ),
        255,
    );
    let label = t!("wallet.invoice_label", locale = l, stars = stars);
    // Stars invoices carry no provider token.
    bot.send_invoice(
        chat,
        title,
        description,
        payload,
        STARS,
        [LabeledPrice::new(label, stars)],
    )
    .await?;
    Ok(())
}

/// Why a pre-checkout query is declined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decline {
    /// The payload is not one of our invoices.
    BadPayload,
    /// The invoice was made for someone else.
    WrongUser,
    /// Not Telegram Stars.
    WrongCurrency,
    /// The amount differs from the invoice's.
    WrongAmount,
    /// Top-ups are off (no rate, or no wallets).
    Unavailable,
}

/// Checks a pre-checkout query against the invoice it claims to pay.
pub fn check_pre_checkout(shop: &Shop, q: &PreCheckoutQuery) -> Result<TopUpPayload, Decline> {
    if !wallets_on(shop) || shop.cfg.stars_ngn_rate.is_none() {
        return Err(Decline::Unavailable);
    }
    let payload = TopUpPayload::parse(&q.invoice_payload).ok_or(Decline::BadPayload)?;
    if payload.user_id != q.from.id.0 {
        return Err(Decline::WrongUser);
    }
    if q.currency != STARS {
        return Err(Decline::WrongCurrency);
    }
    if q.total_amount != payload.stars {
        return Err(Decline::WrongAmount);
    }
    Ok(payload)
}

/// Answers a pre-checkout query at once (Telegram waits at most 10 seconds).
pub async fn pre_checkout(bot: Bot, shop: Arc<Shop>, q: PreCheckoutQuery) -> HandlerResult {
    match check_pre_checkout(&shop, &q) {
        Ok(_) => {
            bot.answer_pre_checkout_query(q.id, true).await?;
        }
        Err(why) => {
            log::warn!(
                "declined a pre-checkout from {} ({why:?}): payload {:?}, {} {}",
                q.from.id,
                q.invoice_payload,
                q.total_amount,
                q.currency
            );
            let stored = shop.store.get_user(q.from.id.0).ok().flatten();
            let lang = Lang::choose(
                stored.as_ref().and_then(|u| u.language.as_deref()),
                q.from.language_code.as_deref(),
            );
            bot.answer_pre_checkout_query(q.id, false)
                .error_message(t!("wallet.declined", locale = lang.code()))
                .await?;
        }
    }
    Ok(())
}

/// What crediting a payment did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credit {
    /// Credited now.
    Credited(LedgerEntry),
    /// This charge id was credited before (a repeated update).
    AlreadyCredited(LedgerEntry),
    /// Not ours to credit (not Stars, or no rate configured): needs the shop's attention.
    NotCredited,
}

/// Credits a successful Stars payment to `user_id`, once per charge id
/// (reference `stars:<telegram_payment_charge_id>`).
pub async fn credit_payment(
    shop: &Shop,
    user_id: u64,
    payment: &SuccessfulPayment,
) -> Result<Credit, StoreError> {
    let charge = &payment.telegram_payment_charge_id.0;
    let reference = format!("stars:{charge}");
    if let Some(entry) = shop.store.ledger_by_reference(&reference)? {
        return Ok(Credit::AlreadyCredited(entry));
    }
    let naira = shop
        .cfg
        .stars_ngn_rate
        .and_then(|rate| stars_to_naira(payment.total_amount, rate))
        .filter(|n| *n > Naira::ZERO);
    let (Some(amount), true) = (naira, payment.currency == STARS && !charge.is_empty()) else {
        return Ok(Credit::NotCredited);
    };
    let reason = format!("{} Telegram Stars", payment.total_amount);
    let applied = shop
        .store
        .apply_ledger(
            user_id,
            amount,
            LedgerKind::TopUp,
            &reference,
            Some(&reason),
            None,
        )
        .await?;
    match applied {
        Some(entry) => Ok(Credit::Credited(entry)),
        // Another delivery of the same update won the race.
        None => match shop.store.ledger_by_reference(&reference)? {
            Some(entry) => Ok(Credit::AlreadyCredited(entry)),
            None => Ok(Credit::NotCredited),
        },
    }
}

/// The `successful_payment` service message: credit the wallet, tell the customer.
pub async fn successful_payment(
    bot: Bot,
    shop: Arc<Shop>,
    msg: Message,
    lang: Lang,
) -> HandlerResult {
    let (Some(payment), Some(user)) = (msg.successful_payment(), msg.from.as_ref()) else {
        return Ok(());
    };
    let l = lang.code();
    let charge = &payment.telegram_payment_charge_id.0;
    let text = match credit_payment(&shop, user.id.0, payment).await {
        Ok(Credit::Credited(entry)) | Ok(Credit::AlreadyCredited(entry)) => {
            if entry.user_id != user.id.0 {
                log::error!(
                    "Stars charge {charge} paid by {} was credited to {} before",
                    user.id,
                    entry.user_id
                );
            }
            let balance = shop.store.balance(user.id.0)?;
            t!(
                "wallet.credited",
                locale = l,
                amount = entry.amount,
                balance = balance
            )
        }
        Ok(Credit::NotCredited) => {
            log::error!(
                "Stars payment {charge} from {} ({} {}) not credited: no STARS_NGN_RATE or not Stars",
                user.id,
                payment.total_amount,
                payment.currency
            );
            t!("wallet.credit_failed", locale = l, charge = esc(charge))
        }
        Err(e) => {
            log::error!("cannot credit Stars payment {charge} from {}: {e}", user.id);
            t!("wallet.credit_failed", locale = l, charge = esc(charge))
        }
    };
    super::reply(&bot, msg.chat.id, text, None).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn payload_round_trips_and_rejects_forgeries() {
        let p = TopUpPayload::new(12345678, 250);
        let s = p.encode();
        assert!(s.len() <= 128);
        assert_eq!(TopUpPayload::parse(&s), Some(p));
        for bad in [
            "",
            "topup",
            "topup:1:50",
            "topup:1:50:abc:extra",
            "topup:x:50:abc",
            "topup:1:-50:abc",
            "topup:1:0:abc",
            "topup:1:50:",
            "topup:1:50:ab c",
            "refund:1:50:abc",
            "topup:1:4294967296:abc",
        ] {
            assert_eq!(TopUpPayload::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn stars_convert_to_kobo() {
        let rate = Naira(rust_decimal::Decimal::from_str("24.995").unwrap());
        assert_eq!(stars_to_naira(1, rate), Naira::parse("25.00"));
        assert_eq!(
            stars_to_naira(100, Naira::parse("25").unwrap()),
            Naira::parse("2500")
        );
    }
}
