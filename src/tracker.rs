//! The background status poller and the notification outbox sender.
//!
//! The poller reads active orders from the store, asks the bulk status endpoint (≤100 ids a
//! call), and writes each change together with its notifications in one transaction. The
//! sender drains that outbox at Telegram-safe rates; an entry leaves only once Telegram
//! accepted it, so a crash can delay a notification but never drop it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rust_i18n::t;
use teloxide::adaptors::throttle::{Limits, Throttle};
use teloxide::prelude::*;
use teloxide::types::ParseMode;
use teloxide::{ApiError, RequestError};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::bot::text::{esc, progress_bar, thousands};
use crate::bot::{Lang, Shop};
use crate::money::{self, Naira};
use crate::ordering;
use crate::panel::OrderStatus;
use crate::store::{OrderRecord, OutboxEntry, Phase, StoreError};

/// Most ids the bulk status endpoint takes in one call.
pub const BULK_LIMIT: usize = 100;
/// Meta key holding `(old, new)` chat ids after Telegram migrated the group to a supergroup.
/// Kept as a pair so a changed `NOTIFY_CHAT_ID` is not redirected to an old group's successor.
pub const GROUP_CHAT_KEY: &str = "group_chat_migration";

/// What one poll cycle did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CycleReport {
    /// Active placed orders looked at.
    pub active: usize,
    /// Bulk status calls made.
    pub calls: usize,
    /// Orders whose status or progress changed.
    pub changed: usize,
    /// Orders the API did not mention.
    pub missing: usize,
    /// Bulk calls that failed (their orders wait for the next cycle).
    pub failed_calls: usize,
    /// Pending placements settled by reconciliation.
    pub reconciled: usize,
}

/// Starts the poller and the sender; both stop when `stop` turns true.
pub fn spawn(shop: Arc<Shop>, bot: Bot, stop: watch::Receiver<bool>) -> JoinHandle<()> {
    let sender_shop = shop.clone();
    let sender_stop = stop.clone();
    let sender = tokio::spawn(async move {
        run_sender(sender_shop, bot, sender_stop).await;
    });
    tokio::spawn(async move {
        run_poller(shop, stop).await;
        let _ = sender.await;
    })
}

async fn run_poller(shop: Arc<Shop>, mut stop: watch::Receiver<bool>) {
    let mut backoff = Duration::ZERO;
    loop {
        if *stop.borrow() {
            return;
        }
        let report = poll_cycle(&shop).await;
        if report.calls > 0 || report.reconciled > 0 {
            log::info!(
                "poll: {} active, {} calls, {} changed, {} missing, {} failed, {} reconciled",
                report.active,
                report.calls,
                report.changed,
                report.missing,
                report.failed_calls,
                report.reconciled
            );
        }
        // Back off while the API keeps failing, up to 10 intervals.
        backoff = if report.failed_calls > 0 && report.failed_calls == report.calls {
            (backoff + shop.cfg.poll_interval).min(shop.cfg.poll_interval * 10)
        } else {
            Duration::ZERO
        };
        let wait = shop.cfg.poll_interval + backoff;
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
    }
}

/// One poll over every active order: bulk status in chunks of ≤100, changes stored with
/// their notifications, refunds for orders that ended short. Never fails as a whole.
pub async fn poll_cycle(shop: &Shop) -> CycleReport {
    let mut report = CycleReport::default();
    match ordering::reconcile_all(shop).await {
        Ok(n) => report.reconciled = n,
        Err(e) => log::warn!("reconciliation failed: {e}"),
    }
    let active = match shop.store.active_orders() {
        Ok(a) => a,
        Err(e) => {
            log::error!("cannot read active orders: {e}");
            return report;
        }
    };
    let mut by_provider: HashMap<u64, OrderRecord> = HashMap::new();
    let mut by_api: HashMap<u64, u64> = HashMap::new();
    for rec in active {
        if rec.phase != Phase::Placed {
            continue;
        }
        let Some(api_id) = rec.api_order_id else {
            continue;
        };
        let pid = match rec.provider_order_id {
            Some(p) => p,
            None => match learn_provider_id(shop, &rec, api_id).await {
                Some(p) => p,
                None => continue,
            },
        };
        by_api.insert(api_id, pid);
        by_provider.insert(pid, rec);
    }
    report.active = by_provider.len();
    let api_ids: Vec<u64> = by_api.keys().copied().collect();
    for chunk in api_ids.chunks(BULK_LIMIT) {
        report.calls += 1;
        let answer = match shop.panel.bulk_status(chunk).await {
            Ok(a) => a,
            Err(e) => {
                log::warn!("bulk status of {} orders failed: {e}", chunk.len());
                report.failed_calls += 1;
                continue;
            }
        };
        for api_id in chunk {
            let Some(pid) = by_api.get(api_id) else {
                continue;
            };
            let (Some(rec), Some(entry)) = (by_provider.get(pid), answer.get(pid)) else {
                report.missing += 1;
                log::debug!("order {api_id} missing from the bulk answer");
                continue;
            };
            match apply_status(shop, rec, &entry.status, entry.remains, Audience::Customer).await {
                Ok(a) if a.changed => report.changed += 1,
                Ok(_) => {}
                Err(e) => log::error!("cannot record the status of order {}: {e}", rec.id),
            }
        }
        let unknown = answer
            .keys()
            .filter(|k| !by_provider.contains_key(k))
            .count();
        if unknown > 0 {
            log::debug!("{unknown} unknown ids in a bulk answer");
        }
    }
    report
}

/// Orders placed before the provider id was known: one single-status call fills it in.
async fn learn_provider_id(shop: &Shop, rec: &OrderRecord, api_id: u64) -> Option<u64> {
    match shop.panel.status(api_id).await {
        Ok(r) => {
            let pid = r.provider_order_id?;
            let _ = shop
                .store
                .update_order(rec.id, move |o| o.provider_order_id = Some(pid))
                .await;
            Some(pid)
        }
        Err(e) => {
            log::debug!("status of order {api_id} unavailable: {e}");
            None
        }
    }
}

/// The language a customer reads notifications in.
pub fn customer_lang(shop: &Shop, user_id: u64) -> Lang {
    let user = shop.store.get_user(user_id).ok().flatten();
    Lang::choose(
        user.as_ref().and_then(|u| u.language.as_deref()),
        user.as_ref().and_then(|u| u.telegram_language.as_deref()),
    )
}

/// Who hears about a stored status change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// Background polling: the customer gets a message, the group too when the order ended.
    Customer,
    /// The customer is looking at the order right now: only the group hears (when it ended).
    GroupOnly,
}

/// What storing one status report did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// True when the status or progress was new and got stored.
    pub changed: bool,
    /// Money returned to the wallet for this order's end (now or by an earlier attempt).
    pub refund: Option<Naira>,
}

/// Stores a reported status. Refunds first (each once, by reference), then the status and its
/// notifications (only when the status word changed) in one transaction: a crash in between repeats the refund as a no-op. The
/// live status view uses it too (with [`Audience::GroupOnly`]), so whoever sees a change first
/// stores it and the other finds nothing new to tell.
pub async fn apply_status(
    shop: &Shop,
    rec: &OrderRecord,
    status: &OrderStatus,
    remains: Option<u64>,
    audience: Audience,
) -> Result<Applied, StoreError> {
    let remains = remains.or(rec.remains);
    if rec.status == *status && rec.remains == remains {
        return Ok(Applied::default());
    }
    let refund = refund_for(shop, rec, status, remains).await?;
    let mut outbox = if worth_telling(&rec.status, status) {
        notifications(shop, rec, status, remains, refund)
    } else {
        Vec::new()
    };
    if audience == Audience::GroupOnly {
        outbox.retain(|e| e.group);
    }
    let changed = shop
        .store
        .record_status_change(rec.id, status.clone(), remains, outbox)
        .await?;
    Ok(Applied { changed, refund })
}

/// Whether a change deserves a message. Progress alone is stored silently (a message per poll
/// while an order delivers would be spam; /myorders shows it), and so is a move between the
/// not-yet-started words: the placement answer says `processing`, the first poll `pending`,
/// and the customer was already told the order was placed.
fn worth_telling(old: &OrderStatus, new: &OrderStatus) -> bool {
    old != new && !matches!(new, OrderStatus::Pending | OrderStatus::Processing)
}

/// Returns money for an order that ended short: remains × unit price for partial, the rest
/// of the price for cancelled, failed or refunded. Once per order and reason.
///
/// Keyed on `wallet_debited` alone: money taken from a wallet goes back to it even if
/// wallets were switched off since.
async fn refund_for(
    shop: &Shop,
    rec: &OrderRecord,
    status: &OrderStatus,
    remains: Option<u64>,
) -> Result<Option<Naira>, StoreError> {
    if !rec.wallet_debited {
        return Ok(None);
    }
    let reason = match status {
        OrderStatus::Partial => "partial",
        OrderStatus::Cancelled | OrderStatus::Failed | OrderStatus::Refunded => "ended",
        _ => return Ok(None),
    };
    // Applied before (a crash before the status was stored, or a concurrent view): report
    // what was returned then rather than recomputing it from the new, smaller remainder.
    let reference = format!("refund:{}:{reason}", rec.id);
    if let Some(done) = shop.store.ledger_by_reference(&reference)? {
        return Ok(Some(done.amount));
    }
    let refundable = rec
        .price
        .checked_sub(shop.store.order_refunded(rec.id)?)
        .unwrap_or(Naira::ZERO);
    let amount = match status {
        OrderStatus::Partial => {
            let Some(left) = remains else {
                log::warn!("order {} ended partial without remains; no refund", rec.id);
                return Ok(None);
            };
            money::cost(left.min(rec.quantity), rec.unit_rate).unwrap_or(Naira::ZERO)
        }
        _ => refundable,
    };
    let amount = amount.min(refundable);
    if amount <= Naira::ZERO {
        return Ok(None);
    }
    match shop.store.refund_order_once(rec.id, amount, reason).await? {
        Some(entry) => Ok(Some(entry.amount)),
        // Someone else applied it between the check and now.
        None => Ok(shop
            .store
            .ledger_by_reference(&reference)?
            .map(|e| e.amount)),
    }
}

fn notifications(
    shop: &Shop,
    rec: &OrderRecord,
    status: &OrderStatus,
    remains: Option<u64>,
    refund: Option<Naira>,
) -> Vec<OutboxEntry> {
    let l = customer_lang(shop, rec.user_id).code();
    let order_id = rec.api_order_id.unwrap_or(rec.id);
    let word = match status {
        OrderStatus::Other(w) => esc(w),
        s => t!(format!("status.{}", s.key()), locale = l).to_string(),
    };
    let mut text = t!(
        "notify.status",
        locale = l,
        order_id = order_id,
        service = esc(&rec.service_name),
        emoji = status.emoji(),
        status = word,
        progress = progress_bar(rec.quantity, remains)
    )
    .to_string();
    if let Some(amount) = refund {
        text.push('\n');
        text.push_str(&t!("notify.refunded", locale = l, amount = amount));
    }
    let mut out = vec![OutboxEntry::new(rec.chat_id, text, false, Some(rec.id))];
    if status.is_terminal()
        && let Some(group) = shop.cfg.notify_chat_id
    {
        let name = shop
            .store
            .get_user(rec.user_id)
            .ok()
            .flatten()
            .map(|u| u.first_name)
            .unwrap_or_default();
        let word = match status {
            OrderStatus::Other(w) => esc(w),
            s => t!(format!("status.{}", s.key()), locale = "en").to_string(),
        };
        let text = t!(
            "notify.group",
            locale = "en",
            emoji = status.emoji(),
            order_id = order_id,
            status = word,
            service = esc(&rec.service_name),
            quantity = thousands(rec.quantity),
            name = esc(&name)
        );
        out.push(OutboxEntry::new(group, text, true, Some(rec.id)));
    }
    out
}

async fn run_sender(shop: Arc<Shop>, bot: Bot, mut stop: watch::Receiver<bool>) {
    let (throttled, worker) = Throttle::new(bot, Limits::default());
    let worker = tokio::spawn(worker);
    loop {
        if *stop.borrow() {
            break;
        }
        let report = drain_outbox(&shop, &throttled).await;
        let idle = report.sent == 0 && report.dropped == 0;
        let wait = if report.deferred {
            Duration::from_secs(5)
        } else if idle {
            Duration::from_millis(500)
        } else {
            Duration::ZERO
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => break,
        }
    }
    // Last chance to send what the final poll queued; anything left waits for the next start.
    let _ = tokio::time::timeout(Duration::from_secs(5), drain_outbox(&shop, &throttled)).await;
    drop(throttled);
    worker.abort();
}

/// What one drain of the outbox did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DrainReport {
    /// Messages Telegram accepted.
    pub sent: usize,
    /// Messages given up on (blocked customer, undeliverable chat).
    pub dropped: usize,
    /// True when Telegram or the network failed and the rest waits for later.
    pub deferred: bool,
}

/// Sends queued messages oldest first. 429 is waited out, 403 marks the customer blocked and
/// moves on, a migrated group is followed; an entry is removed only after Telegram took it.
pub async fn drain_outbox<B>(shop: &Shop, bot: &B) -> DrainReport
where
    B: Requester<Err = RequestError>,
{
    let mut report = DrainReport::default();
    let entries = match shop.store.pending_outbox(100) {
        Ok(e) => e,
        Err(e) => {
            log::error!("cannot read the outbox: {e}");
            report.deferred = true;
            return report;
        }
    };
    let started = Instant::now();
    for entry in entries {
        let mut chat = if entry.group {
            group_chat(shop, entry.chat_id)
        } else {
            entry.chat_id
        };
        let mut attempts = 0;
        loop {
            attempts += 1;
            let res = bot
                .send_message(ChatId(chat), entry.text.clone())
                .parse_mode(ParseMode::Html)
                .send()
                .await;
            match res {
                Ok(_) => {
                    ack(shop, entry.id).await;
                    report.sent += 1;
                    break;
                }
                Err(RequestError::RetryAfter(secs)) if attempts <= 5 => {
                    let wait = secs.duration();
                    log::info!("Telegram asked to wait {}s", wait.as_secs());
                    tokio::time::sleep(wait).await;
                }
                Err(RequestError::MigrateToChatId(new)) if attempts <= 5 => {
                    log::info!("group {chat} moved to {new}");
                    chat = new.0;
                    if entry.group
                        && let Err(e) = shop
                            .store
                            .meta_set(GROUP_CHAT_KEY, &(entry.chat_id, new.0))
                            .await
                    {
                        log::warn!("cannot remember the group's new id: {e}");
                    }
                }
                Err(RequestError::Api(
                    ApiError::BotBlocked
                    | ApiError::UserDeactivated
                    | ApiError::BotKicked
                    | ApiError::BotKickedFromSupergroup
                    | ApiError::ChatNotFound
                    | ApiError::CantInitiateConversation,
                )) => {
                    log::info!("chat {chat} cannot receive messages; skipping its notification");
                    if !entry.group {
                        mark_blocked(shop, &entry).await;
                    }
                    ack(shop, entry.id).await;
                    report.dropped += 1;
                    break;
                }
                Err(RequestError::Api(e)) => {
                    // Telegram will never take this message (e.g. malformed); do not let it block the queue.
                    log::error!("Telegram refused outbox entry {}: {e}", entry.id);
                    ack(shop, entry.id).await;
                    report.dropped += 1;
                    break;
                }
                Err(e) => {
                    log::warn!("sending a notification failed, will retry: {e}");
                    report.deferred = true;
                    return report;
                }
            }
        }
        if started.elapsed() > Duration::from_secs(60) {
            break;
        }
    }
    report
}

/// Where the group's messages go: the configured chat, or its successor after a migration.
fn group_chat(shop: &Shop, configured: i64) -> i64 {
    match shop.store.meta_get::<(i64, i64)>(GROUP_CHAT_KEY) {
        Ok(Some((old, new))) if old == configured => new,
        _ => configured,
    }
}

/// Remembers that a customer cannot be reached, so broadcasts skip them. The order names the
/// user; a private chat's id is the user's id otherwise.
async fn mark_blocked(shop: &Shop, entry: &OutboxEntry) {
    let user = entry
        .order_id
        .and_then(|id| shop.store.get_order(id).ok().flatten())
        .map(|o| o.user_id)
        .or_else(|| u64::try_from(entry.chat_id).ok());
    if let Some(user) = user
        && let Err(e) = shop.store.set_blocked(user, true).await
    {
        log::info!("cannot mark user {user} blocked: {e}");
    }
}

async fn ack(shop: &Shop, id: u64) {
    if let Err(e) = shop.store.ack_outbox(id).await {
        log::error!("cannot remove sent outbox entry {id}: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_real_status_changes_are_worth_a_message() {
        use OrderStatus::*;
        assert!(worth_telling(&Pending, &InProgress));
        assert!(worth_telling(&InProgress, &Completed));
        assert!(worth_telling(&Processing, &Partial));
        assert!(worth_telling(&Pending, &Other("Awaiting".into())));
        // Progress alone, or the placement's `processing` turning into `pending`.
        assert!(!worth_telling(&InProgress, &InProgress));
        assert!(!worth_telling(&Processing, &Pending));
        assert!(!worth_telling(&Pending, &Processing));
    }
}
