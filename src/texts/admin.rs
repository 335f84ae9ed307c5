//! Texts of the admin commands that resolve creates with an unknown outcome.
//! Each answer is one line, so it reads well in a log or a busy group.

use super::{Lang, MESSAGE_LIMIT, cut, state_label};
use crate::task::Task;

/// The admin section of `/help`, shown to admins only.
pub fn admin_help(lang: Lang) -> String {
    lang.pick(
        "👑 Admin commands (from any chat):\n\
         /unknown: videos whose outcome is unknown, newest first\n\
         /attach <number> <upstream id>: give one the id shown in the video API's console; it is then followed and delivered\n\
         /release <number>: end one as not made; the user gets the slot and today's count back",
        "👑 管理员命令（任何聊天中可用）：\n\
         /unknown：结果未知的视频，最新的在前\n\
         /attach <编号> <上游 ID>：填入视频接口控制台中的 ID，之后照常跟踪并发送\n\
         /release <编号>：确认没有生成，归还用户的名额和今日额度",
    )
    .to_owned()
}

/// `/unknown`: the newest unknown outcomes (of `total`), one line each, as
/// many as fit in one message.
pub fn unknown_list(lang: Lang, tasks: &[Task], total: i64) -> String {
    if tasks.is_empty() {
        return lang.pick("✅ No video has an unknown outcome.", "✅ 没有结果未知的视频。").to_owned();
    }
    let head = match lang {
        Lang::En => format!(
            "❓ {total} with an unknown outcome, newest first (/attach <number> <upstream id>, /release <number>):"
        ),
        Lang::Zh => format!("❓ {total} 个结果未知，最新的在前（/attach <编号> <上游 ID>，/release <编号>）："),
    };
    let mut text = head;
    let mut shown = 0;
    for task in tasks {
        let line = unknown_line(lang, task);
        // Room for the line and the "… and N more" that may follow it.
        if text.chars().count() + line.chars().count() + 40 > MESSAGE_LIMIT {
            break;
        }
        text.push('\n');
        text.push_str(&line);
        shown += 1;
    }
    let more = total - shown;
    if more > 0 {
        text.push_str(&match lang {
            Lang::En => format!("\n… and {more} more"),
            Lang::Zh => format!("\n…… 还有 {more} 个"),
        });
    }
    text
}

/// `#12 · 2026-12-07 14:05 UTC · user 2000 · chat -100 · holds a slot · “a red kite…”`
fn unknown_line(lang: Lang, task: &Task) -> String {
    let held = match (lang, task.unknown_told_at.is_none()) {
        (_, false) => "",
        (Lang::En, true) => " · holds a slot",
        (Lang::Zh, true) => " · 占用名额中",
    };
    let (user, chat) = lang.pick("user|chat", "用户|聊天").split_once('|').expect("two words");
    format!(
        "#{} · {} · {user} {} · {chat} {}{held} · “{}”",
        task.id,
        utc_minute(task.created_at),
        task.user_id,
        task.chat_id,
        cut(&task.prompt, 40)
    )
}

pub fn attach_usage(lang: Lang) -> String {
    lang.pick(
        "Usage: /attach <number> <upstream id>, e.g. /attach 12 sora-2:task_01k7znn323 (numbers: /unknown)",
        "用法：/attach <编号> <上游 ID>，例如 /attach 12 sora-2:task_01k7znn323（编号见 /unknown）",
    )
    .to_owned()
}

pub fn release_usage(lang: Lang) -> String {
    lang.pick(
        "Usage: /release <number>, e.g. /release 12 (numbers: /unknown)",
        "用法：/release <编号>，例如 /release 12（编号见 /unknown）",
    )
    .to_owned()
}

pub fn attached(lang: Lang, task: &Task) -> String {
    let upstream = task.upstream_id.as_deref().unwrap_or_default();
    match lang {
        Lang::En => format!(
            "✅ #{} is now followed as {upstream}; its video goes to chat {} as a reply to the request.",
            task.id, task.chat_id
        ),
        Lang::Zh => format!("✅ #{} 现在按 {upstream} 跟踪；视频会回复到聊天 {} 的原请求。", task.id, task.chat_id),
    }
}

/// `credits`: what went back to the requester (with payments on).
pub fn released(lang: Lang, task: &Task, credits: Option<i64>) -> String {
    match (lang, credits) {
        (Lang::En, None) => {
            format!("✅ #{} released as not made; user {} has the slot and today's count back.", task.id, task.user_id)
        }
        (Lang::En, Some(credits)) => format!(
            "✅ #{} released as not made; user {} has the slot, today's count and {credits} credits back.",
            task.id, task.user_id
        ),
        (Lang::Zh, None) => format!("✅ #{} 已确认未生成；用户 {} 的名额和今日额度已归还。", task.id, task.user_id),
        (Lang::Zh, Some(credits)) => {
            format!("✅ #{} 已确认未生成；用户 {} 的名额、今日额度和 {credits} 点数已归还。", task.id, task.user_id)
        }
    }
}

pub fn no_such_video(lang: Lang, id: i64) -> String {
    match lang {
        Lang::En => format!("🤷 There is no video #{id}."),
        Lang::Zh => format!("🤷 没有视频 #{id}。"),
    }
}

pub fn not_unknown(lang: Lang, task: &Task) -> String {
    match lang {
        Lang::En => format!("#{}'s outcome is not unknown ({}); nothing changed.", task.id, state_label(lang, task)),
        Lang::Zh => format!("#{} 的结果不是未知（{}）；没有改动。", task.id, state_label(lang, task)),
    }
}

pub fn upstream_taken(lang: Lang, upstream_id: &str, other: i64) -> String {
    match lang {
        Lang::En => format!("{} already belongs to video #{other}; nothing changed.", cut(upstream_id, 100)),
        Lang::Zh => format!("{} 已属于视频 #{other}；没有改动。", cut(upstream_id, 100)),
    }
}

pub fn bad_upstream_id(lang: Lang) -> String {
    lang.pick(
        "That does not look like an upstream id (one word of up to 200 printable characters); nothing changed.",
        "这不像上游 ID（应为不超过 200 个可见字符的一个词）；没有改动。",
    )
    .to_owned()
}

/// Unix ms as `2026-12-07 14:05 UTC`.
pub fn utc_minute(ms: i64) -> String {
    let minutes = ms.div_euclid(60_000);
    let (days, minute_of_day) = (minutes.div_euclid(1440), minutes.rem_euclid(1440));
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02} UTC", minute_of_day / 60, minute_of_day % 60)
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::TaskState;

    #[test]
    fn utc_minutes_read_as_calendar_dates() {
        assert_eq!(utc_minute(0), "1970-01-01 00:00 UTC");
        // 2024-02-29 23:59:59.999 UTC, a leap day.
        assert_eq!(utc_minute(1_709_251_199_999), "2024-02-29 23:59 UTC");
        assert_eq!(utc_minute(1_709_251_200_000), "2024-03-01 00:00 UTC");
        // 2026-12-07 14:05 UTC.
        assert_eq!(utc_minute(1_796_652_300_000), "2026-12-07 14:05 UTC");
    }

    fn unknown(id: i64, told: bool) -> Task {
        Task {
            id,
            state: TaskState::Unknown,
            upstream_id: None,
            user_id: 2000,
            chat_id: -100,
            created_at: 1_796_652_300_000,
            prompt: "a red kite over the hills at dawn, with fog in the valley below".into(),
            unknown_told_at: told.then_some(1),
            ..Task::example()
        }
    }

    #[test]
    fn the_unknown_list_names_number_requester_chat_time_and_prompt_start() {
        let text = unknown_list(Lang::En, &[unknown(12, false), unknown(9, true)], 2);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert_eq!(
            lines[1],
            "#12 · 2026-12-07 14:05 UTC · user 2000 · chat -100 · holds a slot · “a red kite over the hills at dawn, with…”"
        );
        assert!(lines[2].starts_with("#9 · ") && !lines[2].contains("holds a slot"), "{text}");
        assert_eq!(unknown_list(Lang::Zh, &[], 0), "✅ 没有结果未知的视频。");
    }

    #[test]
    fn a_long_unknown_list_fits_one_message_and_says_how_many_more() {
        let tasks: Vec<Task> = (1..=100).rev().map(|id| unknown(id, false)).collect();
        let text = unknown_list(Lang::En, &tasks, 250);
        assert!(text.chars().count() <= MESSAGE_LIMIT, "{}", text.chars().count());
        let shown = text.lines().filter(|line| line.starts_with('#')).count();
        assert!(shown > 20, "{shown}");
        assert!(text.ends_with(&format!("… and {} more", 250 - shown)), "{text}");
    }

    #[test]
    fn admin_answers_are_one_line() {
        let task = Task { upstream_id: Some("sora-2:task_9".into()), ..unknown(12, true) };
        for lang in [Lang::En, Lang::Zh] {
            for text in [
                attached(lang, &task),
                released(lang, &task, None),
                released(lang, &task, Some(3)),
                no_such_video(lang, 5),
                not_unknown(lang, &Task::example()),
                upstream_taken(lang, "sora-2:task_9", 3),
                bad_upstream_id(lang),
                attach_usage(lang),
                release_usage(lang),
            ] {
                assert_eq!(text.lines().count(), 1, "{text}");
            }
        }
    }
}
