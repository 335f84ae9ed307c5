//! The two languages the bot speaks, chosen from Telegram's `language_code`.

/// Stored (tasks, album commands) as its code, `en` or `zh`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Lang {
    En,
    Zh,
}

impl Lang {
    /// From Telegram's `language_code` (`zh`, `zh-hans`, `zh-TW` → Chinese; anything else → English).
    pub fn from_code(code: Option<&str>) -> Lang {
        match code {
            Some(c) if c.to_ascii_lowercase().starts_with("zh") => Lang::Zh,
            _ => Lang::En,
        }
    }

    pub fn code(self) -> &'static str {
        self.into()
    }

    /// Picks the text written in this language.
    pub fn pick<'a>(self, en: &'a str, zh: &'a str) -> &'a str {
        match self {
            Lang::En => en,
            Lang::Zh => zh,
        }
    }
}
