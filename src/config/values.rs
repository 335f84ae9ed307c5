//! Reading one variable's value: each parser names the variable in its error.

use std::{collections::HashSet, str::FromStr};

use reqwest::Url;

use super::{ConfigError, problem};

pub(super) fn looks_like_bot_token(token: &str) -> bool {
    match token.split_once(':') {
        Some((id, secret)) => !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) && secret.len() >= 10,
        None => false,
    }
}

pub(super) fn http_url(var: &'static str, raw: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(raw).map_err(|_| problem(var, "is not a valid URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(problem(var, "must be an http(s) URL"));
    }
    Ok(url)
}

pub(super) fn id_list(var: &'static str, raw: Option<String>) -> Result<HashSet<i64>, ConfigError> {
    raw.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<i64>().map_err(|_| problem(var, format!("{s:?} is not a numeric Telegram id"))))
        .collect()
}

pub(super) fn boolean(var: &'static str, raw: Option<String>, default: bool) -> Result<bool, ConfigError> {
    match raw.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None => Ok(default),
        Some("true" | "1" | "yes" | "on") => Ok(true),
        Some("false" | "0" | "no" | "off") => Ok(false),
        Some(_) => Err(problem(var, "must be true or false")),
    }
}

pub(super) fn number<T: FromStr>(var: &'static str, raw: Option<String>, default: T) -> Result<T, ConfigError> {
    raw.map_or(Ok(default), |s| s.parse().map_err(|_| problem(var, format!("{s:?} is not a valid number"))))
}

/// A limit: a whole number, `0` for no limit (one meaning for every limit variable).
pub(super) fn limit(var: &'static str, raw: Option<String>, default: Option<u32>) -> Result<Option<u32>, ConfigError> {
    let Some(raw) = raw else { return Ok(default) };
    match raw.parse::<u32>() {
        Ok(0) => Ok(None),
        Ok(n) => Ok(Some(n)),
        Err(_) => Err(problem(var, format!("{raw:?} is not a whole number (0 means no limit)"))),
    }
}

/// `DATABASE_URL` must name a file or a server: an in-memory SQLite database
/// loses every task (paid videos among them) at a restart, and a PostgreSQL
/// URL without a database would connect to the one named after the user and
/// create the bot's tables there.
pub(super) fn database_url(raw: &str) -> Result<String, ConfigError> {
    let var = "DATABASE_URL";
    if let Some(rest) = raw.strip_prefix("sqlite:") {
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let in_memory = path.is_empty()
            || path.contains(":memory:")
            || query.split('&').any(|pair| pair == "mode=memory")
            || query.split('&').any(|pair| pair.starts_with("vfs=memdb"));
        let page_cap = query.split('&').find_map(|pair| pair.strip_prefix("max_page_count="));
        if page_cap.is_some_and(|pages| pages.parse::<u64>().is_err()) {
            return Err(problem(var, "max_page_count must be a whole number of pages"));
        }
        if in_memory {
            return Err(problem(
                var,
                "names an in-memory SQLite database, whose tasks (paid videos among them) vanish at every restart; \
                 name a file (sqlite://sora-bot.db) or a server (postgres://user@host/database)",
            ));
        }
        return Ok(raw.to_owned());
    }
    if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
        let url = Url::parse(raw).map_err(|_| problem(var, "is not a valid postgres:// URL"))?;
        let names_database = !url.path().trim_matches('/').is_empty()
            || url.query_pairs().any(|(key, value)| key == "dbname" && !value.is_empty());
        if !names_database {
            return Err(problem(
                var,
                "names no database (postgres://user@host/<database>); PostgreSQL would pick one named after the user",
            ));
        }
        return Ok(raw.to_owned());
    }
    Err(problem(var, "must start with sqlite:// (a file) or postgres:// (a server)"))
}

pub(super) fn positive(var: &'static str, raw: Option<String>, default: u64) -> Result<u64, ConfigError> {
    match number(var, raw, default)? {
        0 => Err(problem(var, "must be greater than 0")),
        n => Ok(n),
    }
}

pub(super) fn choice<T: FromStr>(var: &'static str, raw: &str, expected: &str) -> Result<T, ConfigError> {
    raw.parse().map_err(|_| problem(var, format!("{raw:?} is not one of {expected}")))
}
