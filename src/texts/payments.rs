//! Texts about credits and Stars: `/buy`, invoices, pre-checkout refusals,
//! payments, `/balance`, the admins' `/grant` and `/refund`, `/paysupport`.

use super::{Lang, cut};
use crate::{
    config::CreditPack,
    payments::CheckoutRefusal,
    store::{CreditReason, Movement},
};

/// Telegram's limits for an invoice's title and description.
const TITLE_LIMIT: usize = 32;
const DESCRIPTION_LIMIT: usize = 255;

/// `/buy`: the balance, then one button per pack.
pub fn buy_menu(lang: Lang, balance: i64) -> String {
    match lang {
        Lang::En => format!(
            "⭐ Buy credits with Telegram Stars. You have {balance} credits.\n\
             A video costs its model's credits (/models); a video that fails gives them back."
        ),
        Lang::Zh => format!(
            "⭐ 用 Telegram 星星购买点数。你现有 {balance} 点。\n\
             每个视频按其模型的点数收费（/models）；生成失败的视频会退回点数。"
        ),
    }
}

/// A pack's button: `10 credits · 150 ⭐`.
pub fn pack_label(lang: Lang, pack: CreditPack) -> String {
    match lang {
        Lang::En => format!("{} credits · {} ⭐", pack.credits, pack.stars),
        Lang::Zh => format!("{} 点 · {} ⭐", pack.credits, pack.stars),
    }
}

pub fn invoice_title(lang: Lang, pack: CreditPack) -> String {
    let title = match lang {
        Lang::En => format!("{} video credits", pack.credits),
        Lang::Zh => format!("{} 点视频点数", pack.credits),
    };
    cut(&title, TITLE_LIMIT)
}

/// In a group the invoice says whose it is: only that person can pay it.
pub fn invoice_description(lang: Lang, pack: CreditPack, buyer: Option<&str>) -> String {
    let mut text = match lang {
        Lang::En => format!(
            "{} credits for AI videos. Each video costs its model's credits; a failed video gives them back.",
            pack.credits
        ),
        Lang::Zh => format!("{} 点 AI 视频点数。每个视频按模型收费；生成失败会退回点数。", pack.credits),
    };
    if let Some(name) = buyer {
        text.push_str(&match lang {
            Lang::En => format!(" For {}.", cut(name, 64)),
            Lang::Zh => format!(" 仅限 {} 支付。", cut(name, 64)),
        });
    }
    cut(&text, DESCRIPTION_LIMIT)
}

/// The price's one label on the invoice.
pub fn invoice_label(lang: Lang, pack: CreditPack) -> String {
    match lang {
        Lang::En => format!("{} credits", pack.credits),
        Lang::Zh => format!("{} 点", pack.credits),
    }
}

pub fn invoice_sent_privately(lang: Lang) -> &'static str {
    lang.pick("📨 The invoice is in your private chat with me.", "📨 账单已发到你和我的私聊。")
}

pub fn invoice_sent_here(lang: Lang) -> &'static str {
    lang.pick("📨 Your invoice is below: only you can pay it.", "📨 账单在下面：只有你可以支付。")
}

pub fn invoice_not_sent(lang: Lang) -> &'static str {
    lang.pick("⚠️ Could not send the invoice. Please try again.", "⚠️ 无法发送账单，请重试。")
}

pub fn pack_gone(lang: Lang) -> &'static str {
    lang.pick("This pack is no longer offered: see /buy.", "这个套餐已下架：请查看 /buy。")
}

/// Shown by Telegram under the payment form: short.
pub fn checkout_refused(lang: Lang, why: CheckoutRefusal) -> &'static str {
    match why {
        CheckoutRefusal::PaymentsOff => lang.pick("This bot sells nothing right now.", "机器人目前不出售点数。"),
        CheckoutRefusal::UnknownInvoice => {
            lang.pick("This invoice is not valid. Use /buy for a new one.", "账单无效。请用 /buy 获取新账单。")
        }
        CheckoutRefusal::NotYours => lang
            .pick("This invoice is someone else's. Use /buy for your own.", "这是别人的账单。请用 /buy 获取你自己的。"),
        CheckoutRefusal::WrongPrice => {
            lang.pick("The price does not match the invoice. Use /buy again.", "价格与账单不符。请重新 /buy。")
        }
        CheckoutRefusal::PackGone => lang
            .pick("This pack is no longer offered at this price. See /buy.", "这个套餐已不按此价格出售。请查看 /buy。"),
        CheckoutRefusal::NotAllowed => lang.pick("You may not use this bot.", "你无权使用这个机器人。"),
    }
}

pub fn checkout_try_again(lang: Lang) -> &'static str {
    lang.pick("Something went wrong on our side. Please try again in a minute.", "我们这边出了问题，请一分钟后重试。")
}

pub fn paid(lang: Lang, credits: u32, balance: i64) -> String {
    match lang {
        Lang::En => format!("✅ Thank you! {credits} credits added. Balance: {balance} credits."),
        Lang::Zh => format!("✅ 谢谢！已到账 {credits} 点。余额：{balance} 点。"),
    }
}

/// A payment the bot cannot match to an invoice: the operator sorts it out.
pub fn payment_not_credited(lang: Lang, charge_id: &str) -> String {
    match lang {
        Lang::En => format!(
            "⚠️ Your payment arrived but could not be credited automatically. An admin will fix it: /paysupport (payment id {charge_id})."
        ),
        Lang::Zh => format!("⚠️ 已收到付款，但未能自动到账。管理员会处理：/paysupport（付款编号 {charge_id}）。"),
    }
}

/// A video the balance cannot pay; the pack buttons follow.
pub fn credits_short(lang: Lang, balance: i64, price: u32) -> String {
    match lang {
        Lang::En => format!("💳 This video costs {price} credits and you have {balance}. Buy credits:"),
        Lang::Zh => format!("💳 这个视频需要 {price} 点，你有 {balance} 点。购买点数："),
    }
}

/// `/balance`, and the top of `/quota`: the balance, then the last movements.
pub fn balance(lang: Lang, balance: i64, movements: &[Movement], admin: bool) -> String {
    let mut text = match lang {
        Lang::En => format!("💳 Credits: {balance}"),
        Lang::Zh => format!("💳 点数：{balance}"),
    };
    if admin {
        text.push_str(lang.pick(" (admins pay nothing)", "（管理员免费）"));
    }
    if !movements.is_empty() {
        text.push_str(lang.pick("\nLast movements:", "\n最近记录："));
        for movement in movements {
            text.push('\n');
            text.push_str(&movement_line(lang, movement));
        }
    }
    text
}

/// `+10 bought (150 ⭐)`, `−3 video #12`, `+3 back: video #12 failed`.
fn movement_line(lang: Lang, movement: &Movement) -> String {
    let amount = if movement.delta >= 0 {
        format!("+{}", movement.delta)
    } else {
        format!("−{}", movement.delta.unsigned_abs())
    };
    let task = movement.task_id.map(|id| format!("#{id}")).unwrap_or_default();
    let stars = movement.stars.map(|stars| format!("{stars} ⭐")).unwrap_or_default();
    let what = match (lang, movement.reason) {
        (Lang::En, CreditReason::Bought) => format!("bought ({stars})"),
        (Lang::Zh, CreditReason::Bought) => format!("购买（{stars}）"),
        (Lang::En, CreditReason::Spent) => format!("video {task}"),
        (Lang::Zh, CreditReason::Spent) => format!("视频 {task}"),
        (Lang::En, CreditReason::GivenBack) => format!("back: video {task} not made"),
        (Lang::Zh, CreditReason::GivenBack) => format!("退回：视频 {task} 未生成"),
        (Lang::En, CreditReason::Granted) if movement.by_user.is_none() => "free credits".to_owned(),
        (Lang::Zh, CreditReason::Granted) if movement.by_user.is_none() => "赠送点数".to_owned(),
        (Lang::En, CreditReason::Granted) => "from an admin".to_owned(),
        (Lang::Zh, CreditReason::Granted) => "管理员调整".to_owned(),
        (Lang::En, CreditReason::Refunded) => format!("refunded ({stars} returned)"),
        (Lang::Zh, CreditReason::Refunded) => format!("已退款（退回 {stars}）"),
    };
    format!("{amount} {what} → {}", movement.balance_after)
}

pub fn admins_only(lang: Lang) -> &'static str {
    lang.pick("🔒 Only the bot's admins can do that.", "🔒 只有机器人管理员可以这样做。")
}

pub fn grant_usage(lang: Lang) -> &'static str {
    lang.pick(
        "Usage: /grant <user id> <credits> (negative takes credits away)",
        "用法：/grant <用户 ID> <点数>（负数表示扣除）",
    )
}

pub fn granted(lang: Lang, user_id: i64, delta: i64, balance: i64) -> String {
    match lang {
        Lang::En => format!("✅ User {user_id}: {delta:+} credits. Balance: {balance}."),
        Lang::Zh => format!("✅ 用户 {user_id}：{delta:+} 点。余额：{balance}。"),
    }
}

pub fn refund_usage(lang: Lang) -> &'static str {
    lang.pick(
        "Usage: /refund <charge id> (the payment id in the user's receipt)",
        "用法：/refund <付款编号>（用户收据中的付款编号）",
    )
}

pub fn refunded(lang: Lang, user_id: i64, stars: i64, credits: i64, balance: i64) -> String {
    match lang {
        Lang::En => {
            format!("↩️ Refunded {stars} ⭐ to user {user_id}; {credits} credits removed. Their balance: {balance}.")
        }
        Lang::Zh => format!("↩️ 已向用户 {user_id} 退还 {stars} ⭐，扣除 {credits} 点。其余额：{balance}。"),
    }
}

pub fn refund_not_found(lang: Lang) -> &'static str {
    lang.pick("No payment with this charge id.", "没有这个付款编号的付款。")
}

pub fn refund_already(lang: Lang, user_id: i64) -> String {
    match lang {
        Lang::En => format!("This payment of user {user_id} was refunded before; nothing done."),
        Lang::Zh => format!("用户 {user_id} 的这笔付款之前已退款；未做任何操作。"),
    }
}

pub fn refund_spent(lang: Lang, user_id: i64, credits: i64, balance: i64) -> String {
    match lang {
        Lang::En => format!(
            "Not refunded: user {user_id} has {balance} credits left of this payment's {credits}. Nothing was changed."
        ),
        Lang::Zh => format!("未退款：用户 {user_id} 这笔付款的 {credits} 点只剩 {balance} 点。未做任何更改。"),
    }
}

pub fn refund_failed(lang: Lang, error: &str) -> String {
    match lang {
        Lang::En => format!("⚠️ Telegram did not refund: {}. The credits were left as they were.", cut(error, 200)),
        Lang::Zh => format!("⚠️ Telegram 未退款：{}。点数未做更改。", cut(error, 200)),
    }
}

/// `/paysupport` when `PAYSUPPORT_TEXT` is not set.
pub fn paysupport_default(lang: Lang, admins: &[i64]) -> String {
    let admins = admins.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
    match (lang, admins.is_empty()) {
        (Lang::En, false) => format!(
            "💬 Payment questions or a refund: write to the bot's admin (Telegram user id {admins}). \
             Videos that fail give their credits back by themselves; /balance shows every movement."
        ),
        (Lang::En, true) => "💬 Payment questions or a refund: write to the bot's owner. \
             Videos that fail give their credits back by themselves; /balance shows every movement."
            .to_owned(),
        (Lang::Zh, false) => format!(
            "💬 付款问题或退款：请联系机器人管理员（Telegram 用户 ID {admins}）。生成失败的视频会自动退回点数；/balance 显示所有记录。"
        ),
        (Lang::Zh, true) => {
            "💬 付款问题或退款：请联系机器人的主人。生成失败的视频会自动退回点数；/balance 显示所有记录。".to_owned()
        }
    }
}
