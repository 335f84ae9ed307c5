//! Paying for videos with Telegram Stars (`PAYMENTS=stars`): `/buy` and its
//! pack buttons, invoices, pre-checkout answers, successful payments,
//! `/balance`, the admins' `/grant` and `/refund`, `/paysupport`.
//!
//! Money moves only in the store, in one transaction with its ledger row;
//! here the bot checks what Telegram sends against what it stored.

use std::{sync::Arc, time::Duration};

use teloxide::types::{Message, PreCheckoutQuery};

use super::{
    context::{AppState, Pressed, Sender, notice},
    error::HandlerResult,
};
use crate::{
    config::CreditPack,
    keyboards,
    payments::{self, Checkout, Payload},
    store::{ChargeTakeBack, Purchase, StoreError},
    telegram::StarsInvoice,
    texts::{self, Lang},
};

/// Movements `/balance` lists; `/quota` shows fewer.
const BALANCE_MOVEMENTS: i64 = 5;
const QUOTA_MOVEMENTS: i64 = 3;

/// Telegram cancels a payment whose pre-checkout is not answered within 10 s:
/// a database that has not answered by then gets a "no, try again".
const CHECKOUT_LOOKUP_LIMIT: Duration = Duration::from_secs(5);

/// How long a payment that could not be stored is retried, and the longest gap.
const CREDIT_RETRY_FOR: Duration = Duration::from_secs(10 * 60);
const CREDIT_RETRY_MAX_GAP: Duration = Duration::from_secs(30);

/// `/buy`: the balance and one button per pack.
pub(super) async fn buy(sender: Sender, state: Arc<AppState>) -> HandlerResult {
    let Some(payments) = &state.config.payments else { return Ok(()) };
    let balance = state.store.balance(sender.user_id).await?;
    let markup = keyboards::packs(sender.lang, &payments.packs);
    let text = texts::buy_menu(sender.lang, balance);
    state.telegram.queue_reply_with_keyboard(sender.chat_id, sender.message_id, text, markup, |_| async {});
    Ok(())
}

/// A pack's button: an invoice for the presser, in their private chat when
/// the bot may write there, else in the group, under the pressed message.
/// The press is answered at once; the invoice follows off the chat's turn.
pub(super) async fn press_buy(state: Arc<AppState>, buyer: Pressed, pack: CreditPack) -> HandlerResult {
    let callback_id = &buyer.callback_id;
    let offered = state.config.payments.as_ref().and_then(|payments| payments.pack(pack.credits, pack.stars));
    let Some(pack) = offered else {
        return notice(&state, callback_id, Some(texts::pack_gone(buyer.lang))).await;
    };
    let invoice = state.store.create_invoice(buyer.user_id, buyer.chat_id, pack).await?;
    let answer = buyer.in_group.then(|| texts::invoice_sent_privately(buyer.lang));
    notice(&state, callback_id, answer).await?;
    let payload = Payload::of(&invoice).encode();
    let tracker = state.tracker.clone();
    tracker.spawn(async move { send_invoice(&state, &buyer, pack, payload).await });
    Ok(())
}

async fn send_invoice(state: &AppState, buyer: &Pressed, pack: CreditPack, payload: String) {
    let lang = buyer.lang;
    let mut invoice = StarsInvoice {
        title: texts::invoice_title(lang, pack),
        description: texts::invoice_description(lang, pack, None),
        payload,
        label: texts::invoice_label(lang, pack),
        stars: pack.stars,
    };
    // A private chat's id is its user's id.
    let private = state.telegram.send_invoice(buyer.user_id, None, &invoice).await;
    let error = match private {
        Ok(_) => return,
        Err(error) => error,
    };
    if !buyer.in_group {
        tracing::warn!(user_id = buyer.user_id, %error, "could not send an invoice");
        return state.telegram.queue_reply(buyer.chat_id, buyer.message_id, texts::invoice_not_sent(lang));
    }
    // Never started a private chat with the bot, or blocked it: the group gets
    // the invoice, saying whose it is (the pre-checkout refuses anyone else).
    tracing::info!(user_id = buyer.user_id, %error, "invoice not sent privately; sending it into the group");
    invoice.description = texts::invoice_description(lang, pack, Some(&buyer.name));
    match state.telegram.send_invoice(buyer.chat_id, Some(buyer.message_id), &invoice).await {
        Ok(_) => state.telegram.queue_reply(buyer.chat_id, buyer.message_id, texts::invoice_sent_here(lang)),
        Err(error) => {
            tracing::warn!(user_id = buyer.user_id, chat_id = buyer.chat_id, %error, "could not send an invoice");
            state.telegram.queue_reply(buyer.chat_id, buyer.message_id, texts::invoice_not_sent(lang));
        }
    }
}

/// `pre_checkout_query`: yes only for an invoice this bot stored, unaltered,
/// paid by its buyer at its price, for a pack still offered, by someone who
/// may use the bot; otherwise no, with a short reason in the payer's language.
pub async fn pre_checkout(query: PreCheckoutQuery, state: Arc<AppState>) -> HandlerResult {
    let lang = Lang::from_code(query.from.language_code.as_deref());
    let payer = query.from.id.0 as i64;
    let checkout = Checkout {
        payload: &query.invoice_payload,
        currency: &query.currency,
        total_amount: query.total_amount,
        payer,
    };
    let stored = match Payload::parse(&query.invoice_payload) {
        Some(payload) => tokio::time::timeout(CHECKOUT_LOOKUP_LIMIT, state.store.invoice(&payload.nonce)).await,
        None => Ok(Ok(None)),
    };
    let refusal = match stored {
        Ok(Ok(stored)) => payments::check(&checkout, stored.as_ref(), state.config.payments.as_ref(), |invoice| {
            state.config.access.may_create(invoice.user_id, invoice.chat_id)
        })
        .err()
        .map(|why| {
            tracing::info!(user_id = payer, ?why, "pre-checkout refused");
            texts::checkout_refused(lang, why)
        }),
        Ok(Err(error)) => {
            tracing::warn!(user_id = payer, %error, "could not look up an invoice; pre-checkout refused");
            Some(texts::checkout_try_again(lang))
        }
        Err(_) => {
            tracing::warn!(user_id = payer, "the database did not answer in time; pre-checkout refused");
            Some(texts::checkout_try_again(lang))
        }
    };
    if refusal.is_none() {
        tracing::info!(user_id = payer, stars = query.total_amount, "pre-checkout accepted");
    }
    state.telegram.answer_pre_checkout(&query.id.0, refusal).await?;
    Ok(())
}

/// A `successful_payment`: Telegram took the Stars, so it is credited (once
/// per charge, whatever is redelivered) and the payer told the new balance.
/// Never refused for access: the money has moved.
pub async fn paid(message: Arc<Message>, state: Arc<AppState>) -> HandlerResult {
    let Some(payment) = message.successful_payment() else { return Ok(()) };
    let Some(sender) = Sender::of(&message) else { return Ok(()) };
    let charge_id = payment.telegram_payment_charge_id.0.clone();
    let payload = Payload::parse(&payment.invoice_payload);
    let stored = match &payload {
        Some(payload) => match state.store.invoice(&payload.nonce).await {
            Ok(stored) => stored,
            Err(error) => {
                // The Stars were taken: not "nothing was charged", but the charge to ask about.
                tracing::error!(user_id = sender.user_id, charge_id, %error, "could not look up a paid invoice; not credited (/grant it by hand)");
                let text = texts::payment_not_credited(sender.lang, &charge_id);
                state.telegram.queue_reply(sender.chat_id, sender.message_id, text);
                return Ok(());
            }
        },
        None => None,
    };
    // The invoice as stored decides what was bought; the pre-checkout made sure
    // the payer and the price matched it.
    let bought = stored.filter(|invoice| {
        payment.currency == payments::CURRENCY
            && payment.total_amount == invoice.pack.stars
            && payload.as_ref().is_some_and(|payload| *payload == Payload::of(invoice))
    });
    let Some(invoice) = bought else {
        tracing::error!(
            user_id = sender.user_id,
            charge_id,
            stars = payment.total_amount,
            "a payment matches no invoice; not credited (use /grant, or /refund the charge)"
        );
        let text = texts::payment_not_credited(sender.lang, &charge_id);
        state.telegram.queue_reply(sender.chat_id, sender.message_id, text);
        return Ok(());
    };
    let tracker = state.tracker.clone();
    tracker.spawn(async move { credit(&state, &sender, &charge_id, invoice.user_id, invoice.pack).await });
    Ok(())
}

/// Stores the purchase, retrying a failing database for a while: the payer
/// has paid, and a lost credit is money taken for nothing.
async fn credit(state: &AppState, sender: &Sender, charge_id: &str, user_id: i64, pack: CreditPack) {
    let give_up_at = tokio::time::Instant::now() + CREDIT_RETRY_FOR;
    let mut gap = Duration::from_millis(500);
    loop {
        match state.store.credit_purchase(charge_id, user_id, pack.credits, pack.stars).await {
            Ok(Purchase::Credited { balance }) => {
                crate::metrics::command("payment");
                tracing::info!(user_id, charge_id, credits = pack.credits, stars = pack.stars, "payment credited");
                let text = texts::paid(sender.lang, pack.credits, balance);
                return state.telegram.queue_reply(sender.chat_id, sender.message_id, text);
            }
            Ok(Purchase::AlreadyCredited) => {
                return tracing::info!(user_id, charge_id, "payment delivered again; credited before, not again");
            }
            Err(error) if tokio::time::Instant::now() < give_up_at => {
                tracing::warn!(user_id, charge_id, %error, "could not credit a payment; retrying");
                tokio::time::sleep(gap).await;
                gap = (gap * 2).min(CREDIT_RETRY_MAX_GAP);
            }
            Err(error) => {
                tracing::error!(user_id, charge_id, credits = pack.credits, %error, "gave up crediting a payment: /grant it by hand");
                let text = texts::payment_not_credited(sender.lang, charge_id);
                return state.telegram.queue_reply(sender.chat_id, sender.message_id, text);
            }
        }
    }
}

/// `/balance`: the credits, then the last movements.
pub(super) async fn balance(sender: Sender, state: Arc<AppState>) -> HandlerResult {
    let text = balance_text(&state, &sender, BALANCE_MOVEMENTS).await?;
    state.telegram.queue_reply(sender.chat_id, sender.message_id, text);
    Ok(())
}

/// The balance block of `/balance` and `/quota`.
pub(super) async fn balance_text(state: &AppState, sender: &Sender, movements: i64) -> Result<String, StoreError> {
    let balance = state.store.balance(sender.user_id).await?;
    let movements = state.store.movements(sender.user_id, movements).await?;
    let admin = state.config.access.is_admin(sender.user_id);
    Ok(texts::balance(sender.lang, balance, &movements, admin))
}

/// `/quota`'s first lines with payments on.
pub(super) async fn quota_block(state: &AppState, sender: &Sender) -> Result<String, StoreError> {
    balance_text(state, sender, QUOTA_MOVEMENTS).await
}

/// `/paysupport`: what the operator wrote, or who to ask.
pub(super) async fn paysupport(sender: Sender, state: Arc<AppState>) -> HandlerResult {
    let configured = state.config.payments.as_ref().and_then(|payments| payments.support_text.clone());
    let text = configured.unwrap_or_else(|| {
        let mut admins: Vec<i64> = state.config.access.admins.iter().copied().collect();
        admins.sort_unstable();
        texts::paysupport_default(sender.lang, &admins)
    });
    state.telegram.queue_reply(sender.chat_id, sender.message_id, text);
    Ok(())
}

/// `/grant <user id> <credits>` (admins): negative takes credits, down to 0.
pub(super) async fn grant(sender: Sender, args: String, state: Arc<AppState>) -> HandlerResult {
    let reply = |text: String| state.telegram.queue_reply(sender.chat_id, sender.message_id, text);
    if !state.config.access.is_admin(sender.user_id) {
        reply(texts::admins_only(sender.lang).to_owned());
        return Ok(());
    }
    let mut words = args.split_whitespace();
    let parsed = match (words.next(), words.next(), words.next()) {
        (Some(user), Some(credits), None) => user.parse::<i64>().ok().zip(parse_credits(credits)),
        _ => None,
    };
    let Some((user_id, delta)) = parsed.filter(|(user_id, delta)| *user_id > 0 && *delta != 0) else {
        reply(texts::grant_usage(sender.lang).to_owned());
        return Ok(());
    };
    let granted = state.store.grant(sender.user_id, user_id, delta).await?;
    tracing::info!(admin = sender.user_id, user_id, asked = delta, moved = granted.delta, "credits granted");
    reply(texts::granted(sender.lang, user_id, granted.delta, granted.balance));
    Ok(())
}

/// `+5`, `5`, `-5`, also with a phone's minus sign; at most a million either way.
fn parse_credits(raw: &str) -> Option<i64> {
    let raw = raw.replace('−', "-");
    raw.strip_prefix('+').unwrap_or(&raw).parse::<i64>().ok().filter(|n| n.abs() <= 1_000_000)
}

/// `/refund <charge id>` (admins): the charge's credits are taken back when
/// still all there, then its Stars returned; if Telegram refuses, the credits
/// are put back. Runs off the chat's turn (it waits for Telegram).
pub(super) async fn refund(sender: Sender, args: String, state: Arc<AppState>) -> HandlerResult {
    let (lang, chat_id, message_id) = (sender.lang, sender.chat_id, sender.message_id);
    let reply = move |state: &AppState, text: String| state.telegram.queue_reply(chat_id, message_id, text);
    if !state.config.access.is_admin(sender.user_id) {
        reply(&state, texts::admins_only(lang).to_owned());
        return Ok(());
    }
    let charge_id = args.trim().to_owned();
    if charge_id.is_empty() || charge_id.contains(char::is_whitespace) || charge_id.len() > 256 {
        reply(&state, texts::refund_usage(lang).to_owned());
        return Ok(());
    }
    let taken = state.store.take_back_charge(&charge_id, sender.user_id).await?;
    let (user_id, credits, stars) = match taken {
        ChargeTakeBack::Taken { user_id, credits, stars, .. } => (user_id, credits, stars),
        ChargeTakeBack::NotFound => {
            reply(&state, texts::refund_not_found(lang).to_owned());
            return Ok(());
        }
        ChargeTakeBack::AlreadyRefunded { user_id } => {
            reply(&state, texts::refund_already(lang, user_id));
            return Ok(());
        }
        ChargeTakeBack::Spent { user_id, credits, balance } => {
            tracing::info!(
                admin = sender.user_id,
                user_id,
                charge_id,
                credits,
                balance,
                "refund refused: credits spent"
            );
            reply(&state, texts::refund_spent(lang, user_id, credits, balance));
            return Ok(());
        }
    };
    let admin = sender.user_id;
    let tracker = state.tracker.clone();
    tracker.spawn(async move {
        match state.telegram.refund_stars(user_id, &charge_id).await {
            Ok(()) => {
                let balance = state.store.balance(user_id).await.unwrap_or_default();
                tracing::info!(admin, user_id, charge_id, stars, credits, "charge refunded");
                reply(&state, texts::refunded(lang, user_id, stars, credits, balance));
            }
            Err(error) => {
                tracing::warn!(admin, user_id, charge_id, %error, "refundStarPayment failed; credits put back");
                if let Err(error) = state.store.undo_take_back(&charge_id).await {
                    tracing::error!(user_id, charge_id, %error, "could not put a refused refund's credits back: /grant them");
                }
                reply(&state, texts::refund_failed(lang, &error.to_string()));
            }
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_credits;

    #[test]
    fn grants_read_signs_as_phones_write_them() {
        assert_eq!(parse_credits("5"), Some(5));
        assert_eq!(parse_credits("+5"), Some(5));
        assert_eq!(parse_credits("-5"), Some(-5));
        assert_eq!(parse_credits("−5"), Some(-5));
        assert_eq!(parse_credits("5x"), None);
        assert_eq!(parse_credits("2000000"), None);
    }
}
