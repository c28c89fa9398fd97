//! Running the shop: admin-only commands (balances, all orders, stats, wallet adjustments,
//! broadcasts, Stars refunds). Reached only through one filter on `ADMIN_IDS`; anyone else
//! sending these gets the ordinary help.

use std::sync::Arc;
use std::time::Duration;

use rust_i18n::t;
use teloxide::dispatching::UpdateHandler;
use teloxide::prelude::*;
use teloxide::types::{
    InlineKeyboardButton, InlineKeyboardMarkup, MessageId, ParseMode, TelegramTransactionId,
};
use teloxide::utils::command::BotCommands;
use teloxide::{ApiError, RequestError};

use super::callback::Cb;
use super::keyboards::button;
use super::schema::HandlerError;
use super::text::{MAX_MESSAGE_CHARS, esc, shorten, thousands};
use super::{HandlerResult, Shop, reply, show};
use crate::config::WalletMode;
use crate::money::Naira;
use crate::panel::{ListedOrder, OrderQuery, OrderStatus};
use crate::store::{LedgerKind, OrderRecord, OutboxEntry, Phase, StoreError};
use crate::tracker::customer_lang;

/// Admin texts are in English.
const L: &str = "en";
/// Orders per page of `/orders`.
pub const ORDERS_PER_PAGE: u32 = 10;
/// Gap between broadcast messages: at most 25 a second, under Telegram's 30.
pub const BROADCAST_GAP: Duration = Duration::from_millis(40);
/// Broadcast sends between progress edits.
pub const PROGRESS_EVERY: usize = 50;
/// Status words `/orders` accepts (the API's filter words), and aliases.
pub const STATUS_WORDS: &[&str] = &[
    "pending",
    "processing",
    "completed",
    "partial",
    "cancelled",
    "failed",
];

/// Commands only admins may use.
#[derive(BotCommands, Clone, Debug, PartialEq, Eq)]
#[command(rename_rule = "lowercase")]
pub enum AdminCommand {
    /// IA-Café wallet, what customers' wallets hold, and a warning when short.
    Balance,
    /// All orders: `/orders [status] [service id]`.
    Orders(String),
    /// Orders, revenue, cost and margin for today, 7 and 30 days.
    Stats,
    /// Add to a wallet: `/credit <user id> <amount> [reason]`.
    Credit(String),
    /// Take from a wallet: `/debit <user id> <amount> [reason]`.
    Debit(String),
    /// Message every customer: `/broadcast <text>`.
    Broadcast(String),
    /// Refund a Stars top-up: `/refundstars <user id> <charge id>`.
    RefundStars(String),
}

/// The admin branch of the message tree: one filter on the sender, then the commands.
pub fn branch() -> UpdateHandler<HandlerError> {
    dptree::filter(|msg: Message, shop: Arc<Shop>| is_admin_message(&shop, &msg))
        .chain(teloxide::filter_command::<AdminCommand, _>())
        .endpoint(handle)
}

/// True when the message comes from a user listed in `ADMIN_IDS`.
pub fn is_admin_message(shop: &Shop, msg: &Message) -> bool {
    msg.from.as_ref().is_some_and(|u| shop.cfg.is_admin(u.id.0))
}

/// Routes an admin command.
pub async fn handle(bot: Bot, shop: Arc<Shop>, msg: Message, cmd: AdminCommand) -> HandlerResult {
    let chat = msg.chat.id;
    match cmd {
        AdminCommand::Balance => {
            let text = balance_text(&shop).await?;
            reply(&bot, chat, text, None).await?;
        }
        AdminCommand::Orders(args) => match parse_orders_args(&args) {
            Some((status, service)) => {
                orders_page(&bot, &shop, chat, None, 1, &status, service).await?;
            }
            None => {
                let usage = t!(
                    "admin.orders_usage",
                    locale = L,
                    statuses = STATUS_WORDS.join(", ")
                );
                reply(&bot, chat, usage, None).await?;
            }
        },
        AdminCommand::Stats => {
            let text = stats_text(&shop, chrono::Utc::now().timestamp())?;
            reply(&bot, chat, text, None).await?;
        }
        AdminCommand::Credit(args) => {
            let text = adjust(&shop, &msg, &args, Direction::Credit).await;
            reply(&bot, chat, text, None).await?;
        }
        AdminCommand::Debit(args) => {
            let text = adjust(&shop, &msg, &args, Direction::Debit).await;
            reply(&bot, chat, text, None).await?;
        }
        AdminCommand::Broadcast(text) => start_broadcast(bot, shop, chat, text).await?,
        AdminCommand::RefundStars(args) => {
            let admin = msg.from.as_ref().map(|u| u.id.0).unwrap_or_default();
            let text = refund_stars(&bot, &shop, admin, &args).await;
            reply(&bot, chat, text, None).await?;
        }
    }
    Ok(())
}

/// The admin's paging buttons; anyone else pressing one (a forged button) learns nothing.
pub async fn on_callback(
    bot: Bot,
    shop: Arc<Shop>,
    q: CallbackQuery,
    page: u32,
    status: String,
    service: u64,
) -> HandlerResult {
    let chat = q
        .message
        .as_ref()
        .map(|m| m.chat().id)
        .unwrap_or(ChatId(q.from.id.0 as i64));
    if !shop.cfg.is_admin(q.from.id.0) || !(status.is_empty() || status_word(&status).is_some()) {
        reply(&bot, chat, t!("common.expired", locale = L), None).await?;
        return Ok(());
    }
    let edit = q.message.as_ref().map(|m| m.id());
    orders_page(&bot, &shop, chat, edit, page.max(1), &status, service).await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// /balance
// ---------------------------------------------------------------------------------------------

fn when(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "?".into())
}

/// The IA-Café balance (live, else the last one an order reported), what the shop owes its
/// customers, and a warning when IA-Café holds less than that.
pub async fn balance_text(shop: &Shop) -> Result<String, StoreError> {
    let owed = shop.store.total_customer_balances()?;
    let (panel, seen) = match shop.panel.balance().await {
        Ok(b) => (
            Some(b),
            format!("{}, {}", t!("admin.balance_live", locale = L), when(now())),
        ),
        Err(e) => {
            log::warn!("IA-Café balance unavailable: {e}");
            match shop.store.meta_get::<(Naira, i64)>("provider_balance") {
                Ok(Some((b, at))) => (
                    Some(b),
                    t!("admin.balance_stale", locale = L, when = when(at)).to_string(),
                ),
                Ok(None) => (None, String::new()),
                Err(e) => {
                    log::warn!("stored IA-Café balance unreadable: {e}");
                    (None, String::new())
                }
            }
        }
    };
    let Some(panel) = panel else {
        return Ok(t!("admin.balance_unknown", locale = L, owed = owed).to_string());
    };
    let mut text = t!(
        "admin.balance",
        locale = L,
        panel = panel,
        when = seen,
        owed = owed
    )
    .to_string();
    if panel < owed {
        let short = owed.checked_sub(panel).unwrap_or(owed);
        text.push_str("\n\n");
        text.push_str(&t!("admin.balance_short", locale = L, short = short));
    }
    Ok(text)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

// ---------------------------------------------------------------------------------------------
// /orders
// ---------------------------------------------------------------------------------------------

/// The canonical status word for what an admin typed (`canceled` → `cancelled`).
pub fn status_word(word: &str) -> Option<&'static str> {
    let w = word.trim().to_ascii_lowercase();
    let w = if w == "canceled" { "cancelled" } else { &w };
    STATUS_WORDS.iter().copied().find(|s| *s == w)
}

/// `[status] [service id]` in either order; `None` when an argument is not understood.
pub fn parse_orders_args(args: &str) -> Option<(String, u64)> {
    let mut status = String::new();
    let mut service = 0;
    for word in args.split_whitespace() {
        if word.bytes().all(|b| b.is_ascii_digit()) && service == 0 {
            service = word.parse().ok().filter(|s| *s > 0)?;
        } else if status.is_empty() {
            status = status_word(word)?.to_string();
        } else {
            return None;
        }
    }
    Some((status, service))
}

async fn orders_page(
    bot: &Bot,
    shop: &Shop,
    chat: ChatId,
    edit: Option<MessageId>,
    page: u32,
    status: &str,
    service: u64,
) -> HandlerResult {
    let query = OrderQuery {
        page,
        limit: ORDERS_PER_PAGE,
        status: (!status.is_empty()).then(|| status.to_string()),
        service_id: (service > 0).then_some(service),
    };
    let listing = match shop.panel.orders(&query).await {
        Ok(l) => l,
        Err(e) => {
            log::warn!("admin order list failed: {e}");
            let text = t!("admin.orders_unavailable", locale = L).into();
            show(bot, chat, edit, text, None).await?;
            return Ok(());
        }
    };
    let (text, markup) = render_orders(shop, &listing, status, service);
    show(bot, chat, edit, text, markup).await?;
    Ok(())
}

/// One page of the order list as text (always within one message) and its Prev/Next row.
pub fn render_orders(
    shop: &Shop,
    listing: &crate::panel::OrderPage,
    status: &str,
    service: u64,
) -> (String, Option<InlineKeyboardMarkup>) {
    let pages = listing.pages.max(1);
    let page = listing.page.clamp(1, pages);
    let mut filter = String::new();
    if !status.is_empty() {
        filter.push_str(&format!(" · {status}"));
    }
    if service > 0 {
        filter.push_str(&format!(" · service {service}"));
    }
    let mut text = t!(
        "admin.orders_title",
        locale = L,
        filter = filter,
        page = page,
        pages = pages,
        total = thousands(listing.total)
    )
    .to_string();
    if listing.orders.is_empty() {
        text.push_str("\n\n");
        text.push_str(&t!("admin.orders_none", locale = L));
    }
    for o in &listing.orders {
        let block = format!("\n\n{}", order_line(shop, o));
        // Never more than one message, whatever the API sends.
        if text.chars().count() + block.chars().count() > MAX_MESSAGE_CHARS {
            break;
        }
        text.push_str(&block);
    }
    let mut nav: Vec<InlineKeyboardButton> = Vec::new();
    let to = |p: u32| Cb::AdminOrders {
        page: p,
        status: status.to_string(),
        service,
    };
    if page > 1 {
        nav.push(button(t!("common.prev", locale = L), &to(page - 1)));
    }
    if pages > 1 {
        nav.push(button(
            t!("common.page", locale = L, page = page, pages = pages),
            &Cb::Noop,
        ));
    }
    if page < pages {
        nav.push(button(t!("common.next", locale = L), &to(page + 1)));
    }
    let markup = (!nav.is_empty()).then(|| InlineKeyboardMarkup::new(vec![nav]));
    (text, markup)
}

fn order_line(shop: &Shop, o: &ListedOrder) -> String {
    let status = match &o.status {
        OrderStatus::Other(w) => esc(&shorten(w, 20)),
        s => s.as_str().to_string(),
    };
    let date = o
        .created_at
        .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default();
    let customer = shop
        .store
        .order_by_api_id(o.id)
        .ok()
        .flatten()
        .map(|rec| {
            let name = shop
                .store
                .get_user(rec.user_id)
                .ok()
                .flatten()
                .map(|u| u.first_name)
                .unwrap_or_default();
            format!(
                "\n👤 {} (<code>{}</code>) · {}",
                esc(&shorten(&name, 30)),
                rec.user_id,
                rec.price
            )
        })
        .unwrap_or_default();
    let remains = match o.remains {
        Some(r) if r > 0 => format!(" · {} left", thousands(r)),
        _ => String::new(),
    };
    format!(
        "<b>#{}</b> {} {}{} · {}\n{} × {} · {}\n{}{}",
        o.id,
        o.status.emoji(),
        status,
        remains,
        date,
        esc(&shorten(&o.service_name, 50)),
        thousands(o.quantity),
        o.amount,
        esc(&shorten(&o.link, 70)),
        customer
    )
}

// ---------------------------------------------------------------------------------------------
// /stats
// ---------------------------------------------------------------------------------------------

/// Totals over a period.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Figures {
    /// Orders placed with IA-Café.
    pub orders: usize,
    /// What customers paid, less what was refunded to them.
    pub revenue: Naira,
    /// What IA-Café charged, less its estimated returns for undelivered units.
    pub cost: Naira,
}

impl Figures {
    /// Revenue minus cost.
    pub fn margin(&self) -> Naira {
        self.revenue.checked_sub(self.cost).unwrap_or(Naira::ZERO)
    }

    fn add(&mut self, shop: &Shop, rec: &OrderRecord) -> Result<(), StoreError> {
        if rec.phase != Phase::Placed {
            return Ok(());
        }
        self.orders += 1;
        if rec.wallet_debited {
            let refunded = shop.store.order_refunded(rec.id)?;
            let paid = rec.price.checked_sub(refunded).unwrap_or(Naira::ZERO);
            self.revenue = self.revenue.checked_add(paid).ok_or(StoreError::Overflow)?;
        }
        let cost = net_cost(rec);
        self.cost = self.cost.checked_add(cost).ok_or(StoreError::Overflow)?;
        Ok(())
    }
}

/// What IA-Café keeps for an order: its charge, less the undelivered share for orders that
/// ended partial, cancelled, failed or refunded (IA-Café returns that share to its wallet).
pub fn net_cost(rec: &OrderRecord) -> Naira {
    let charged = rec.api_cost.unwrap_or(Naira::ZERO);
    let kept = match rec.status {
        OrderStatus::Cancelled | OrderStatus::Failed | OrderStatus::Refunded => {
            rust_decimal::Decimal::ZERO
        }
        OrderStatus::Partial if rec.quantity > 0 => {
            let left = rec.remains.unwrap_or(0).min(rec.quantity);
            rust_decimal::Decimal::from(rec.quantity - left)
                / rust_decimal::Decimal::from(rec.quantity)
        }
        _ => rust_decimal::Decimal::ONE,
    };
    Naira(charged.0 * kept).round_kobo()
}

/// Figures for orders created since today's UTC midnight, in the last 7 and the last 30 days.
pub fn stats(shop: &Shop, now: i64) -> Result<[Figures; 3], StoreError> {
    let midnight = now - now.rem_euclid(86_400);
    let week = now - 7 * 86_400;
    let month = now - 30 * 86_400;
    let mut out = [Figures::default(); 3];
    for rec in shop.store.all_orders_since(month)? {
        for (i, since) in [midnight, week, month].into_iter().enumerate() {
            if rec.created_at >= since {
                out[i].add(shop, &rec)?;
            }
        }
    }
    Ok(out)
}

fn stats_text(shop: &Shop, now: i64) -> Result<String, StoreError> {
    let figures = stats(shop, now)?;
    let mut text = t!("admin.stats", locale = L).to_string();
    for (f, key) in figures
        .iter()
        .zip(["admin.stats_today", "admin.stats_7d", "admin.stats_30d"])
    {
        let margin = f.margin();
        let margin = if f.cost > f.revenue {
            format!("−{}", f.cost.checked_sub(f.revenue).unwrap_or(Naira::ZERO))
        } else {
            margin.to_string()
        };
        text.push('\n');
        text.push_str(&t!(
            "admin.stats_period",
            locale = L,
            period = t!(key, locale = L),
            orders = f.orders,
            revenue = f.revenue,
            cost = f.cost,
            margin = margin
        ));
    }
    Ok(text)
}

// ---------------------------------------------------------------------------------------------
// /credit, /debit
// ---------------------------------------------------------------------------------------------

/// Which way an adjustment moves money.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Into the wallet.
    Credit,
    /// Out of the wallet.
    Debit,
}

/// The first whitespace-separated word and the rest (trimmed).
fn next_word(s: &str) -> (&str, &str) {
    let s = s.trim();
    match s.split_once(char::is_whitespace) {
        Some((w, rest)) => (w, rest.trim()),
        None => (s, ""),
    }
}

/// A positive naira amount with at most two decimals.
pub fn parse_amount(text: &str) -> Option<Naira> {
    let n = Naira::parse(text)?;
    (n > Naira::ZERO && n.round_kobo() == n).then_some(n)
}

/// Applies `/credit` or `/debit` once per command message; returns the admin's answer.
pub async fn adjust(shop: &Shop, msg: &Message, args: &str, dir: Direction) -> String {
    let cmd = match dir {
        Direction::Credit => "credit",
        Direction::Debit => "debit",
    };
    if shop.cfg.wallets == WalletMode::Off {
        return t!("admin.wallets_off", locale = L).into();
    }
    let (user, rest) = next_word(args);
    let (amount, reason) = next_word(rest);
    if user.is_empty() || amount.is_empty() {
        return t!("admin.adjust_usage", locale = L, cmd = cmd).into();
    }
    let Some(user_id) = user
        .parse::<u64>()
        .ok()
        .filter(|_| user.bytes().all(|b| b.is_ascii_digit()))
    else {
        return t!("admin.bad_user", locale = L, user = esc(user)).into();
    };
    let Some(amount) = parse_amount(amount) else {
        return t!("admin.bad_amount", locale = L, amount = esc(amount)).into();
    };
    let customer = match shop.store.get_user(user_id) {
        Ok(Some(u)) => u,
        Ok(None) => return t!("admin.unknown_user", locale = L, user = user_id).into(),
        Err(e) => {
            log::error!("cannot read user {user_id}: {e}");
            return t!("admin.failed", locale = L).into();
        }
    };
    let admin = msg.from.as_ref().map(|u| u.id.0);
    // One reference per command message: a redelivered update applies once.
    let reference = format!("adj:{}:{}", msg.chat.id.0, msg.id.0);
    let signed = match dir {
        Direction::Credit => amount,
        Direction::Debit => Naira(-amount.0),
    };
    let reason = (!reason.is_empty()).then(|| shorten(reason, 200));
    let l = customer_lang(shop, user_id).code();
    let why = reason
        .as_deref()
        .map(|r| t!("wallet.adjusted_reason", locale = l, reason = esc(r)).to_string())
        .unwrap_or_default();
    let key = match dir {
        Direction::Credit => "wallet.adjusted_credit",
        Direction::Debit => "wallet.adjusted_debit",
    };
    // The customer's notice is written with the money, in one transaction.
    let notice = |balance: Naira| {
        let note = t!(
            key,
            locale = l,
            amount = amount,
            reason = why.as_str(),
            balance = balance
        );
        Some(OutboxEntry::new(customer.chat_id, note, false, None))
    };
    let applied = shop
        .store
        .apply_ledger_notify(
            user_id,
            signed,
            LedgerKind::Adjustment,
            &reference,
            reason.as_deref(),
            admin,
            notice,
        )
        .await;
    let name = esc(&customer.first_name);
    match applied {
        Ok(Some(_)) => {}
        Ok(None) => return t!("admin.already_applied", locale = L).into(),
        Err(StoreError::InsufficientFunds { balance, .. }) => {
            return t!(
                "admin.overdraft",
                locale = L,
                name = name,
                balance = balance,
                amount = amount
            )
            .into();
        }
        Err(e) => {
            log::error!("adjustment {reference} failed: {e}");
            return t!("admin.failed", locale = L).into();
        }
    }
    let balance = shop.store.balance(user_id).unwrap_or(Naira::ZERO);
    let key = match dir {
        Direction::Credit => "admin.credited",
        Direction::Debit => "admin.debited",
    };
    t!(
        key,
        locale = L,
        amount = amount,
        name = name,
        user = user_id,
        balance = balance
    )
    .into()
}

// ---------------------------------------------------------------------------------------------
// /broadcast
// ---------------------------------------------------------------------------------------------

/// How a broadcast went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BroadcastReport {
    /// Customers it was meant for.
    pub total: usize,
    /// Telegram accepted the message.
    pub sent: usize,
    /// They blocked the bot (now marked so).
    pub blocked: usize,
    /// Other failures.
    pub failed: usize,
}

async fn start_broadcast(bot: Bot, shop: Arc<Shop>, chat: ChatId, text: String) -> HandlerResult {
    let text = text.trim().to_string();
    if text.is_empty() {
        reply(&bot, chat, t!("admin.broadcast_usage", locale = L), None).await?;
        return Ok(());
    }
    let total = recipients(&shop)?.len();
    let progress = reply(
        &bot,
        chat,
        t!("admin.broadcast_started", locale = L, total = total),
        None,
    )
    .await?;
    // The dispatcher is not held while thousands of messages go out.
    tokio::spawn(async move {
        let report = broadcast(&bot, &shop, &text, chat, Some(progress.id)).await;
        log::info!("broadcast done: {report:?}");
    });
    Ok(())
}

fn recipients(shop: &Shop) -> Result<Vec<crate::store::UserRecord>, StoreError> {
    Ok(shop
        .store
        .all_users()?
        .into_iter()
        .filter(|u| !u.blocked)
        .collect())
}

/// Sends `text` (plain, no markup) to every customer who has not blocked the bot, at most
/// 25 a second, editing `progress` every [`PROGRESS_EVERY`] sends and at the end.
/// A 403 marks the customer blocked; a 429 is waited out.
pub async fn broadcast<B>(
    bot: &B,
    shop: &Shop,
    text: &str,
    admin_chat: ChatId,
    progress: Option<MessageId>,
) -> BroadcastReport
where
    B: Requester<Err = RequestError>,
{
    let users = match recipients(shop) {
        Ok(u) => u,
        Err(e) => {
            log::error!("broadcast: cannot list customers: {e}");
            return BroadcastReport::default();
        }
    };
    let mut report = BroadcastReport {
        total: users.len(),
        ..BroadcastReport::default()
    };
    let mut pace = tokio::time::interval(BROADCAST_GAP);
    pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for (i, user) in users.iter().enumerate() {
        let mut attempts = 0;
        loop {
            pace.tick().await;
            attempts += 1;
            match bot.send_message(ChatId(user.chat_id), text).send().await {
                Ok(_) => report.sent += 1,
                Err(RequestError::RetryAfter(secs)) if attempts <= 3 => {
                    tokio::time::sleep(secs.duration()).await;
                    continue;
                }
                Err(RequestError::Api(
                    ApiError::BotBlocked
                    | ApiError::UserDeactivated
                    | ApiError::CantInitiateConversation
                    | ApiError::ChatNotFound,
                )) => {
                    report.blocked += 1;
                    if let Err(e) = shop.store.set_blocked(user.id, true).await {
                        log::warn!("cannot mark {} blocked: {e}", user.id);
                    }
                }
                Err(e) => {
                    log::warn!("broadcast to {} failed: {e}", user.id);
                    report.failed += 1;
                }
            }
            break;
        }
        if (i + 1) % PROGRESS_EVERY == 0 && i + 1 < users.len() {
            let done = i + 1;
            let note = t!(
                "admin.broadcast_progress",
                locale = L,
                done = done,
                total = report.total,
                sent = report.sent,
                blocked = report.blocked,
                failed = report.failed
            );
            edit_progress(bot, admin_chat, progress, note.into()).await;
        }
    }
    let done = t!(
        "admin.broadcast_done",
        locale = L,
        total = report.total,
        sent = report.sent,
        blocked = report.blocked,
        failed = report.failed
    );
    edit_progress(bot, admin_chat, progress, done.into()).await;
    report
}

async fn edit_progress<B>(bot: &B, chat: ChatId, progress: Option<MessageId>, text: String)
where
    B: Requester<Err = RequestError>,
{
    let res = match progress {
        Some(id) => bot
            .edit_message_text(chat, id, text)
            .parse_mode(ParseMode::Html)
            .send()
            .await
            .map(|_| ()),
        None => bot
            .send_message(chat, text)
            .parse_mode(ParseMode::Html)
            .send()
            .await
            .map(|_| ()),
    };
    if let Err(e) = res {
        log::debug!("broadcast progress not shown: {e}");
    }
}

// ---------------------------------------------------------------------------------------------
// /refundstars
// ---------------------------------------------------------------------------------------------

/// Refunds a Stars top-up with Telegram and takes its naira back from the wallet, once
/// (reference `stars_refund:<charge id>`). Returns the admin's answer.
pub async fn refund_stars<B>(bot: &B, shop: &Shop, admin: u64, args: &str) -> String
where
    B: Requester<Err = RequestError>,
{
    let (user, rest) = next_word(args);
    let (charge, extra) = next_word(rest);
    if user.is_empty() || charge.is_empty() || !extra.is_empty() || charge.len() > 256 {
        return t!("admin.refundstars_usage", locale = L).into();
    }
    let Some(user_id) = user
        .parse::<u64>()
        .ok()
        .filter(|_| user.bytes().all(|b| b.is_ascii_digit()))
    else {
        return t!("admin.bad_user", locale = L, user = esc(user)).into();
    };
    let unknown = || {
        t!(
            "admin.refundstars_unknown",
            locale = L,
            charge = esc(charge),
            user = user_id
        )
        .into()
    };
    let refund_ref = format!("stars_refund:{charge}");
    let topup = match shop.store.ledger_by_reference(&format!("stars:{charge}")) {
        Ok(Some(e)) if e.user_id == user_id && e.kind == LedgerKind::TopUp => e,
        Ok(_) => return unknown(),
        Err(e) => {
            log::error!("cannot read Stars payment {charge}: {e}");
            return t!("admin.failed", locale = L).into();
        }
    };
    match shop.store.ledger_by_reference(&refund_ref) {
        Ok(Some(_)) => return t!("admin.refundstars_already", locale = L).into(),
        Ok(None) => {}
        Err(e) => {
            log::error!("cannot read Stars refund {charge}: {e}");
            return t!("admin.failed", locale = L).into();
        }
    }
    let amount = topup.amount;
    let balance = shop.store.balance(user_id).unwrap_or(Naira::ZERO);
    if balance < amount {
        return t!(
            "admin.refundstars_short",
            locale = L,
            balance = balance,
            amount = amount
        )
        .into();
    }
    let res = bot
        .refund_star_payment(UserId(user_id), TelegramTransactionId(charge.to_string()))
        .send()
        .await;
    match res {
        Ok(_) => {}
        // Refunded before, but the debit did not follow (crash, or a race): do the debit now.
        Err(RequestError::Api(ApiError::Unknown(ref text)))
            if text.contains("CHARGE_ALREADY_REFUNDED") => {}
        Err(e) => {
            log::warn!("refundStarPayment {charge} for {user_id} failed: {e}");
            return t!(
                "admin.refundstars_telegram",
                locale = L,
                error = esc(&e.to_string())
            )
            .into();
        }
    }
    let customer = shop.store.get_user(user_id).ok().flatten();
    let l = customer_lang(shop, user_id).code();
    // The customer's notice is written with the debit, in one transaction.
    let notice = |balance: Naira| {
        let note = t!(
            "wallet.stars_refunded",
            locale = l,
            amount = amount,
            balance = balance
        );
        customer
            .as_ref()
            .map(|c| OutboxEntry::new(c.chat_id, note, false, None))
    };
    let debit = shop
        .store
        .apply_ledger_notify(
            user_id,
            Naira(-amount.0),
            LedgerKind::StarsRefund,
            &refund_ref,
            Some("Telegram Stars refunded"),
            Some(admin),
            notice,
        )
        .await;
    match debit {
        Ok(Some(_)) => {}
        Ok(None) => return t!("admin.refundstars_already", locale = L).into(),
        Err(e) => {
            log::error!("Stars {charge} refunded to {user_id} but not debited: {e}");
            return t!(
                "admin.refundstars_not_debited",
                locale = L,
                error = esc(&e.to_string())
            )
            .into();
        }
    }
    t!(
        "admin.refundstars_done",
        locale = L,
        user = user_id,
        amount = amount,
        balance = balance
    )
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_commands_parse_with_arguments() {
        let p = |s: &str| AdminCommand::parse(s, "bot").ok();
        assert_eq!(p("/balance"), Some(AdminCommand::Balance));
        assert_eq!(p("/orders"), Some(AdminCommand::Orders(String::new())));
        assert_eq!(
            p("/orders partial 101"),
            Some(AdminCommand::Orders("partial 101".into()))
        );
        assert_eq!(
            p("/refundstars 1 abc"),
            Some(AdminCommand::RefundStars("1 abc".into()))
        );
        assert_eq!(
            p("/broadcast Hello\nall"),
            Some(AdminCommand::Broadcast("Hello\nall".into()))
        );
    }

    #[test]
    fn order_filters_are_validated() {
        assert_eq!(parse_orders_args(""), Some((String::new(), 0)));
        assert_eq!(
            parse_orders_args("Partial 101"),
            Some(("partial".into(), 101))
        );
        assert_eq!(
            parse_orders_args("101 canceled"),
            Some(("cancelled".into(), 101))
        );
        for bad in ["done", "partial failed", "1 2", "0", "-5", "pending x"] {
            assert_eq!(parse_orders_args(bad), None, "{bad}");
        }
    }

    #[test]
    fn amounts_are_positive_whole_kobo() {
        assert_eq!(parse_amount("1,500.50"), Naira::parse("1500.50"));
        for bad in ["0", "-1", "1.005", "abc", "", "1e3"] {
            assert_eq!(parse_amount(bad), None, "{bad}");
        }
    }
}
