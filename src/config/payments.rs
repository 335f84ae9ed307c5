//! Selling credits for Telegram Stars: `PAYMENTS`, `CREDIT_PACKS`,
//! `FREE_CREDITS`, `PAYSUPPORT_TEXT`.

use super::{ConfigError, problem, values::number};

/// Selling credits for Telegram Stars (`PAYMENTS=stars`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payments {
    /// What `/buy` offers, in the order written.
    pub packs: Vec<CreditPack>,
    /// Given once per user, at their first request.
    pub free_credits: u32,
    /// What `/paysupport` answers; `None`: a default naming the admins.
    pub support_text: Option<String>,
}

/// `credits:stars`: this many credits for this many Stars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CreditPack {
    pub credits: u32,
    pub stars: u32,
}

impl Payments {
    /// The pack offered at exactly these figures (a pack the operator removed
    /// or repriced since an invoice was made is not).
    pub fn pack(&self, credits: u32, stars: u32) -> Option<CreditPack> {
        self.packs.iter().copied().find(|pack| pack.credits == credits && pack.stars == stars)
    }
}

/// Telegram's bounds for one Stars invoice.
const MAX_STARS: u32 = 10_000;
/// A pack larger than this is a typo (and would overflow nothing, but confuse everyone).
const MAX_PACK_CREDITS: u32 = 1_000_000;
/// Telegram shows a refused pre-checkout's reason and `/paysupport` as plain messages.
const MAX_SUPPORT_TEXT: usize = 4000;

/// `PAYMENTS`, `CREDIT_PACKS`, `FREE_CREDITS`, `PAYSUPPORT_TEXT`. The packs are
/// checked even with payments off, so turning them on later cannot fail on a
/// typo made long before.
pub(super) fn payments(get: &impl Fn(&str) -> Option<String>) -> Result<Option<Payments>, ConfigError> {
    let on = match get("PAYMENTS").map(|raw| raw.to_ascii_lowercase()).as_deref() {
        None | Some("off") => false,
        Some("stars") => true,
        Some(_) => return Err(problem("PAYMENTS", "must be stars or off")),
    };
    let packs = credit_packs(&get("CREDIT_PACKS").unwrap_or_else(|| "10:150,50:600".to_owned()))?;
    let free_credits: u32 = number("FREE_CREDITS", get("FREE_CREDITS"), 0)?;
    if free_credits > MAX_PACK_CREDITS {
        return Err(problem("FREE_CREDITS", format!("must be at most {MAX_PACK_CREDITS}")));
    }
    let support_text = get("PAYSUPPORT_TEXT");
    if support_text.as_ref().is_some_and(|text| text.chars().count() > MAX_SUPPORT_TEXT) {
        return Err(problem("PAYSUPPORT_TEXT", format!("must be at most {MAX_SUPPORT_TEXT} characters")));
    }
    Ok(on.then_some(Payments { packs, free_credits, support_text }))
}

fn credit_packs(raw: &str) -> Result<Vec<CreditPack>, ConfigError> {
    let mut packs: Vec<CreditPack> = Vec::new();
    for written in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let bad = |why: &str| problem("CREDIT_PACKS", format!("{written:?}: {why}"));
        let (credits, stars) = written.split_once(':').ok_or_else(|| bad("expected credits:stars, like 10:150"))?;
        let credits: u32 = credits.trim().parse().map_err(|_| bad("credits must be a whole number"))?;
        let stars: u32 = stars.trim().parse().map_err(|_| bad("stars must be a whole number"))?;
        if !(1..=MAX_PACK_CREDITS).contains(&credits) {
            return Err(bad(&format!("credits must be from 1 to {MAX_PACK_CREDITS}")));
        }
        if !(1..=MAX_STARS).contains(&stars) {
            return Err(bad(&format!("stars must be from 1 to {MAX_STARS} (Telegram's limit per invoice)")));
        }
        if packs.iter().any(|pack| pack.credits == credits) {
            return Err(bad("another pack has as many credits"));
        }
        packs.push(CreditPack { credits, stars });
    }
    if packs.is_empty() {
        return Err(problem("CREDIT_PACKS", "names no pack"));
    }
    // One row of buttons each; more would not fit a phone's screen.
    if packs.len() > 8 {
        return Err(problem("CREDIT_PACKS", "at most 8 packs"));
    }
    Ok(packs)
}
