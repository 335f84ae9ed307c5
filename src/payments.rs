//! Selling credits for Telegram Stars (`PAYMENTS=stars`): the invoice payload
//! and the checks a pre-checkout must pass. Pure: the bot's payment handlers
//! (`bot/payments.rs`) look the invoice up and act on the verdict.

use crate::{
    config::{CreditPack, Payments},
    store::Invoice,
};

/// Telegram Stars: digital goods on Telegram are paid in this currency, with
/// no payment provider (an empty provider token).
pub const CURRENCY: &str = "XTR";

/// What an invoice carries back to the bot. It names the pack and the buyer
/// so that a payment can be read by a person, but only the nonce counts: the
/// figures are checked against the stored invoice, never trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    pub credits: u32,
    pub stars: u32,
    pub buyer: i64,
    pub nonce: String,
}

impl Payload {
    const PREFIX: &str = "credits";

    pub fn of(invoice: &Invoice) -> Payload {
        Payload {
            credits: invoice.pack.credits,
            stars: invoice.pack.stars,
            buyer: invoice.user_id,
            nonce: invoice.nonce.clone(),
        }
    }

    /// `credits:10:150:42:<32 hex digits>`, well within Telegram's 128 bytes.
    pub fn encode(&self) -> String {
        format!("{}:{}:{}:{}:{}", Self::PREFIX, self.credits, self.stars, self.buyer, self.nonce)
    }

    pub fn parse(raw: &str) -> Option<Payload> {
        let mut parts = raw.split(':');
        if parts.next()? != Self::PREFIX {
            return None;
        }
        let payload = Payload {
            credits: parts.next()?.parse().ok()?,
            stars: parts.next()?.parse().ok()?,
            buyer: parts.next()?.parse().ok()?,
            nonce: parts.next()?.to_owned(),
        };
        let hex = payload.nonce.len() == 32 && payload.nonce.bytes().all(|b| b.is_ascii_hexdigit());
        (hex && parts.next().is_none()).then_some(payload)
    }

    /// Whether the stored invoice is the one this payload names, figures and all.
    fn names(&self, invoice: &Invoice) -> bool {
        *self == Payload::of(invoice)
    }
}

/// What a pre-checkout query (or a successful payment) says.
#[derive(Debug, Clone, Copy)]
pub struct Checkout<'a> {
    pub payload: &'a str,
    pub currency: &'a str,
    pub total_amount: u32,
    pub payer: i64,
}

/// Why a pre-checkout is answered no.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckoutRefusal {
    /// The bot sells nothing now (`PAYMENTS=off`).
    PaymentsOff,
    /// Not an invoice this bot made, or altered.
    UnknownInvoice,
    /// Made for someone else (an invoice sent into a group).
    NotYours,
    /// Another amount or currency than the invoice's.
    WrongPrice,
    /// The pack is no longer offered at that price.
    PackGone,
    /// The buyer may not use the bot (any more).
    NotAllowed,
}

/// Yes (with the pack) only for an invoice this bot stored, unaltered, paid by
/// its buyer at its price in Stars, for a pack still offered at that price,
/// by someone who may use the bot where they asked for it.
pub fn check(
    checkout: &Checkout<'_>,
    stored: Option<&Invoice>,
    payments: Option<&Payments>,
    may_use: impl Fn(&Invoice) -> bool,
) -> Result<CreditPack, CheckoutRefusal> {
    let payments = payments.ok_or(CheckoutRefusal::PaymentsOff)?;
    let payload = Payload::parse(checkout.payload).ok_or(CheckoutRefusal::UnknownInvoice)?;
    let invoice = stored.filter(|invoice| payload.names(invoice)).ok_or(CheckoutRefusal::UnknownInvoice)?;
    if checkout.payer != invoice.user_id {
        return Err(CheckoutRefusal::NotYours);
    }
    if checkout.currency != CURRENCY || checkout.total_amount != invoice.pack.stars {
        return Err(CheckoutRefusal::WrongPrice);
    }
    let pack = payments.pack(invoice.pack.credits, invoice.pack.stars).ok_or(CheckoutRefusal::PackGone)?;
    if !may_use(invoice) {
        return Err(CheckoutRefusal::NotAllowed);
    }
    Ok(pack)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONCE: &str = "0123456789abcdef0123456789abcdef";

    fn invoice() -> Invoice {
        Invoice { nonce: NONCE.into(), user_id: 42, chat_id: -100, pack: CreditPack { credits: 10, stars: 150 } }
    }

    fn payments() -> Payments {
        Payments { packs: vec![CreditPack { credits: 10, stars: 150 }], free_credits: 0, support_text: None }
    }

    fn checkout(payload: &str) -> Checkout<'_> {
        Checkout { payload, currency: "XTR", total_amount: 150, payer: 42 }
    }

    fn verdict(checkout: &Checkout<'_>) -> Result<CreditPack, CheckoutRefusal> {
        check(checkout, Some(&invoice()), Some(&payments()), |_| true)
    }

    #[test]
    fn payloads_round_trip_and_refuse_junk() {
        let payload = Payload::of(&invoice());
        let text = payload.encode();
        assert_eq!(text, format!("credits:10:150:42:{NONCE}"));
        assert!(text.len() <= 128, "Telegram's limit");
        assert_eq!(Payload::parse(&text), Some(payload));
        for junk in [
            "",
            "credits:10:150:42",
            "credits:10:150:42:xyz",
            &format!("credits:10:150:42:{NONCE}:1"),
            &format!("gift:10:150:42:{NONCE}"),
        ] {
            assert_eq!(Payload::parse(junk), None, "{junk}");
        }
    }

    #[test]
    fn the_invoice_as_made_is_accepted() {
        let payload = Payload::of(&invoice()).encode();
        assert_eq!(verdict(&checkout(&payload)), Ok(CreditPack { credits: 10, stars: 150 }));
    }

    #[test]
    fn tampering_is_refused() {
        let payload = Payload::of(&invoice()).encode();
        let more_credits = payload.replace("credits:10:", "credits:50:");
        assert_eq!(verdict(&checkout(&more_credits)), Err(CheckoutRefusal::UnknownInvoice));
        let other_buyer = payload.replace(":42:", ":43:");
        assert_eq!(verdict(&checkout(&other_buyer)), Err(CheckoutRefusal::UnknownInvoice));
        assert_eq!(verdict(&Checkout { total_amount: 1, ..checkout(&payload) }), Err(CheckoutRefusal::WrongPrice));
        assert_eq!(verdict(&Checkout { currency: "USD", ..checkout(&payload) }), Err(CheckoutRefusal::WrongPrice));
        assert_eq!(verdict(&Checkout { payer: 7, ..checkout(&payload) }), Err(CheckoutRefusal::NotYours));
        let unknown = check(&checkout(&payload), None, Some(&payments()), |_| true);
        assert_eq!(unknown, Err(CheckoutRefusal::UnknownInvoice));
    }

    #[test]
    fn a_pack_repriced_payments_off_or_a_banned_buyer_are_refused() {
        let payload = Payload::of(&invoice()).encode();
        let repriced = Payments { packs: vec![CreditPack { credits: 10, stars: 200 }], ..payments() };
        assert_eq!(
            check(&checkout(&payload), Some(&invoice()), Some(&repriced), |_| true),
            Err(CheckoutRefusal::PackGone)
        );
        assert_eq!(check(&checkout(&payload), Some(&invoice()), None, |_| true), Err(CheckoutRefusal::PaymentsOff));
        let banned = check(&checkout(&payload), Some(&invoice()), Some(&payments()), |_| false);
        assert_eq!(banned, Err(CheckoutRefusal::NotAllowed));
    }
}
