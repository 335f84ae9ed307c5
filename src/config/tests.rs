use std::collections::HashMap;

use secrecy::ExposeSecret;

use super::*;

const TOKEN: &str = "12345:abcdefghijklmnop";

fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let mut env: HashMap<String, String> = [("TELOXIDE_TOKEN", TOKEN), ("VIDEO_API_KEY", "sk-key")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for (k, v) in pairs {
        env.insert(k.to_string(), v.to_string());
    }
    Config::from_lookup(|name| env.get(name).cloned())
}

fn error_var(pairs: &[(&str, &str)]) -> &'static str {
    config(pairs).unwrap_err().var
}

#[test]
fn defaults_follow_the_spec() {
    let c = config(&[]).unwrap();
    assert_eq!(c.telegram_api_url.as_str(), "https://api.telegram.org/");
    assert_eq!(c.video_api_base_url.as_str(), "https://yunwu.ai/");
    assert_eq!(c.database_url.expose_secret(), "sqlite://sora-bot.db");
    assert_eq!(
        c.defaults,
        VideoOptions { model: crate::models::SORA_2, shape: Shape::PORTRAIT, size: Some(Size::Large), duration: None }
    );
    assert_eq!(c.models, Catalog::builtin());
    assert_eq!(c.default_model, None, "the default follows the video API's listing");
    assert_eq!(
        c.limits,
        Limits {
            daily_per_user: Some(10),
            max_active_per_user: Some(2),
            max_active_total: Some(20),
            daily_total: None,
            daily_per_chat: None
        }
    );
    assert_eq!(c.max_images, 4);
    assert_eq!(c.poll_interval, Duration::from_secs(30));
    assert_eq!(c.video_api_queries_per_second, 20);
    assert_eq!(c.task_timeout, Duration::from_secs(3600));
    assert_eq!(c.http_bind.to_string(), "127.0.0.1:8080");
    assert_eq!(c.image_mode, ImageMode::Data);
    assert!(c.telegram_send_limits);
    assert_eq!(c.commands_per_minute, 20);
    assert!(!c.access.allow_everyone && !c.uses_webhook());
}

#[test]
fn missing_secrets_name_the_variable() {
    let empty = Config::from_lookup(|_| None).unwrap_err();
    assert_eq!(empty.var, "TELOXIDE_TOKEN");
    assert_eq!(error_var(&[("VIDEO_API_KEY", "  ")]), "VIDEO_API_KEY");
    assert_eq!(error_var(&[("TELOXIDE_TOKEN", "nonsense")]), "TELOXIDE_TOKEN");
}

#[test]
fn bad_values_name_the_variable() {
    assert_eq!(error_var(&[("DEFAULT_MODEL", "sora-3")]), "DEFAULT_MODEL");
    assert_eq!(error_var(&[("DEFAULT_DURATION", "long")]), "DEFAULT_DURATION");
    assert_eq!(error_var(&[("DEFAULT_ORIENTATION", "diagonal")]), "DEFAULT_ORIENTATION");
    assert_eq!(error_var(&[("DAILY_LIMIT_PER_USER", "-1")]), "DAILY_LIMIT_PER_USER");
    assert_eq!(error_var(&[("POLL_INTERVAL_SECS", "0")]), "POLL_INTERVAL_SECS");
    assert_eq!(error_var(&[("VIDEO_API_QUERIES_PER_SECOND", "0")]), "VIDEO_API_QUERIES_PER_SECOND");
    assert_eq!(error_var(&[("VIDEO_API_QUERIES_PER_SECOND", "20001")]), "VIDEO_API_QUERIES_PER_SECOND");
    assert_eq!(error_var(&[("ALLOWED_USER_IDS", "1,abc")]), "ALLOWED_USER_IDS");
    assert_eq!(error_var(&[("ALLOW_EVERYONE", "maybe")]), "ALLOW_EVERYONE");
    assert_eq!(error_var(&[("HTTP_BIND", "localhost")]), "HTTP_BIND");
    assert_eq!(error_var(&[("VIDEO_API_BASE_URL", "ftp://x")]), "VIDEO_API_BASE_URL");
    assert_eq!(error_var(&[("DATABASE_URL", "mysql://x")]), "DATABASE_URL");
    assert_eq!(error_var(&[("IMAGE_MODE", "proxy")]), "IMAGE_MODE");
    assert_eq!(error_var(&[("IMAGE_MODE", "ftp")]), "IMAGE_MODE");
    assert_eq!(error_var(&[("WEBHOOK_SECRET", "abc")]), "WEBHOOK_SECRET");
    assert_eq!(
        error_var(&[("PUBLIC_BASE_URL", "https://bot.example"), ("WEBHOOK_SECRET", "has space")]),
        "WEBHOOK_SECRET"
    );
    assert_eq!(error_var(&[("TELEGRAM_SEND_LIMITS", "fast")]), "TELEGRAM_SEND_LIMITS");
    assert_eq!(error_var(&[("COMMANDS_PER_MINUTE", "-5")]), "COMMANDS_PER_MINUTE");
    assert_eq!(error_var(&[("MAX_IMAGES", "11")]), "MAX_IMAGES");
    assert_eq!(error_var(&[("DAILY_LIMIT_TOTAL", "lots")]), "DAILY_LIMIT_TOTAL");
    assert_eq!(error_var(&[("DAILY_LIMIT_PER_CHAT", "-3")]), "DAILY_LIMIT_PER_CHAT");
}

#[test]
fn http_hardening_knobs() {
    let c = config(&[]).unwrap();
    assert!(c.metrics_token.is_none());
    assert_eq!(c.http_max_connections, 512);
    let c = config(&[("METRICS_TOKEN", "0123456789abcdef"), ("HTTP_MAX_CONNECTIONS", "64")]).unwrap();
    assert_eq!(c.metrics_token.unwrap().expose_secret(), "0123456789abcdef");
    assert_eq!(c.http_max_connections, 64);
    assert_eq!(error_var(&[("METRICS_TOKEN", "short")]), "METRICS_TOKEN");
    assert_eq!(error_var(&[("METRICS_TOKEN", "has a space in it here")]), "METRICS_TOKEN");
    assert_eq!(error_var(&[("HTTP_MAX_CONNECTIONS", "2")]), "HTTP_MAX_CONNECTIONS");
}

#[test]
fn errors_never_echo_secrets() {
    let err = config(&[("TELOXIDE_TOKEN", "secret-without-colon-xyz")]).unwrap_err();
    assert!(!err.to_string().contains("secret-without-colon-xyz"));
    let c = config(&[("PUBLIC_BASE_URL", "https://bot.example"), ("WEBHOOK_SECRET", "s3cr3t_value")]).unwrap();
    let debug = format!("{c:?}");
    assert!(!debug.contains(TOKEN) && !debug.contains("sk-key") && !debug.contains("s3cr3t_value"), "{debug}");
}

#[test]
fn public_url_selects_proxy_and_webhook() {
    let c = config(&[("PUBLIC_BASE_URL", "https://bot.example"), ("WEBHOOK_SECRET", "s3cret_-")]).unwrap();
    assert_eq!(c.image_mode, ImageMode::Proxy);
    assert!(c.uses_webhook());
    let c = config(&[("PUBLIC_BASE_URL", "https://bot.example"), ("IMAGE_MODE", "telegram")]).unwrap();
    assert_eq!(c.image_mode, ImageMode::Telegram);
    assert!(!c.uses_webhook());
}

#[test]
fn budgets_are_unlimited_unless_set() {
    let c = config(&[("DAILY_LIMIT_TOTAL", "50"), ("DAILY_LIMIT_PER_CHAT", "5")]).unwrap();
    assert_eq!((c.limits.daily_total, c.limits.daily_per_chat), (Some(50), Some(5)));
    let c = config(&[("DAILY_LIMIT_TOTAL", " ")]).unwrap();
    assert_eq!(c.limits.daily_total, None);
}

#[test]
fn id_lists_and_access() {
    let c = config(&[("ALLOWED_USER_IDS", " 1, 2 ,,"), ("ALLOWED_CHAT_IDS", "-100"), ("ADMIN_USER_IDS", "9")]).unwrap();
    assert!(c.access.may_create(1, 1));
    assert!(c.access.may_create(7, -100));
    assert!(c.access.may_create(9, 5) && c.access.is_admin(9));
    assert!(!c.access.may_create(7, 7));
    let open = config(&[("ALLOW_EVERYONE", "true")]).unwrap();
    assert!(open.access.may_create(42, 42));
}

#[test]
fn video_models_chooses_and_orders_what_is_offered() {
    let c = config(&[("VIDEO_MODELS", "grok, veo3.1-fast ,jimeng-video-3.0"), ("DEFAULT_MODEL", "VEO")]).unwrap();
    let offered: Vec<_> = c.models.offered().iter().map(|m| m.name.to_string()).collect();
    assert_eq!(offered, ["grok-video-3", "veo3.1-fast", "jimeng-video-3.0"]);
    assert_eq!(c.default_model.map(|m| m.to_string()).as_deref(), Some("veo3.1-fast"));
    assert_eq!(c.defaults.model.as_str(), "veo3.1-fast");

    let problem = config(&[("VIDEO_MODELS", "veo,sora-3")]).unwrap_err();
    assert_eq!(problem.var, "VIDEO_MODELS");
    assert!(problem.problem.contains("\"sora-3\" is not a known model"), "{problem}");
    assert_eq!(error_var(&[("VIDEO_MODELS", "veo,veo3.1-fast")]), "VIDEO_MODELS");
    assert_eq!(error_var(&[("VIDEO_MODELS", " , ")]), "VIDEO_MODELS");
    let problem = config(&[("VIDEO_MODELS", "veo"), ("DEFAULT_MODEL", "sora-2")]).unwrap_err();
    assert_eq!(problem.to_string(), "DEFAULT_MODEL: \"sora-2\" is not one of the offered models (veo3.1-fast)");
}

#[test]
fn a_models_file_adds_models_and_its_mistakes_stop_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("models.toml");
    std::fs::write(&path, "[[model]]\nname = \"kling-v2\"\nfamily = \"veo\"\ncost = 2\n").unwrap();
    let file = path.to_str().unwrap();
    let c = config(&[("VIDEO_MODELS_FILE", file), ("VIDEO_MODELS", "kling-v2,sora-2")]).unwrap();
    assert_eq!(c.models.offered()[0].cost, 2);
    assert_eq!(c.defaults.model.as_str(), "kling-v2");

    std::fs::write(&path, "[[model]]\nname = \"kling-v2\"\nfamily = \"veo\"\ncost = \"two\"\n").unwrap();
    let problem = config(&[("VIDEO_MODELS_FILE", file)]).unwrap_err().to_string();
    assert_eq!(
        problem,
        format!(
            "VIDEO_MODELS_FILE: {file}: [[model]] #1 \"kling-v2\", field `cost`: must be a whole number from 0 to 1000"
        )
    );
    let missing = config(&[("VIDEO_MODELS_FILE", "/nonexistent/models.toml")]).unwrap_err();
    assert_eq!(missing.var, "VIDEO_MODELS_FILE");
    assert!(missing.problem.starts_with("/nonexistent/models.toml: cannot be read"), "{missing}");
}

#[test]
fn payments_are_off_unless_stars() {
    assert_eq!(config(&[]).unwrap().payments, None);
    assert_eq!(config(&[("PAYMENTS", "off"), ("FREE_CREDITS", "3")]).unwrap().payments, None);
    let c = config(&[("PAYMENTS", "stars")]).unwrap();
    let payments = c.payments.unwrap();
    assert_eq!(
        payments.packs,
        [CreditPack { credits: 10, stars: 150 }, CreditPack { credits: 50, stars: 600 }],
        "the default packs"
    );
    assert_eq!((payments.free_credits, payments.support_text), (0, None));
    let c = config(&[
        ("PAYMENTS", "STARS"),
        ("CREDIT_PACKS", " 1:20 , 100:1000,"),
        ("FREE_CREDITS", "2"),
        ("PAYSUPPORT_TEXT", "Write to @owner"),
    ])
    .unwrap();
    let payments = c.payments.unwrap();
    assert_eq!(payments.pack(100, 1000), Some(CreditPack { credits: 100, stars: 1000 }));
    assert_eq!(payments.pack(100, 999), None);
    assert_eq!(payments.free_credits, 2);
    assert_eq!(payments.support_text.as_deref(), Some("Write to @owner"));
}

#[test]
fn bad_payment_settings_name_the_variable() {
    assert_eq!(error_var(&[("PAYMENTS", "paypal")]), "PAYMENTS");
    for packs in ["10", "10:x", "0:5", "5:0", "5:10001", "5:10,5:20", " , ", "-1:5"] {
        assert_eq!(error_var(&[("PAYMENTS", "stars"), ("CREDIT_PACKS", packs)]), "CREDIT_PACKS", "{packs}");
    }
    // Checked with payments off too: turning them on later must not meet an old typo.
    assert_eq!(error_var(&[("CREDIT_PACKS", "10-150")]), "CREDIT_PACKS");
    assert_eq!(error_var(&[("FREE_CREDITS", "-1")]), "FREE_CREDITS");
    let problem = config(&[("CREDIT_PACKS", "10:abc")]).unwrap_err();
    assert_eq!(problem.to_string(), "CREDIT_PACKS: \"10:abc\": stars must be a whole number");
}

#[test]
fn zero_means_no_limit_for_every_limit() {
    let c = config(&[
        ("DAILY_LIMIT_PER_USER", "0"),
        ("MAX_ACTIVE_PER_USER", "0"),
        ("MAX_ACTIVE_TOTAL", "0"),
        ("DAILY_LIMIT_TOTAL", "0"),
        ("DAILY_LIMIT_PER_CHAT", "0"),
        ("COMMANDS_PER_MINUTE", "0"),
        ("MAX_IMAGES", "0"),
    ])
    .unwrap();
    let none = Limits {
        daily_per_user: None,
        max_active_per_user: None,
        max_active_total: None,
        daily_total: None,
        daily_per_chat: None,
    };
    assert_eq!(c.limits, none);
    assert_eq!((c.commands_per_minute, c.max_images), (0, 10));
    let error = config(&[("DAILY_LIMIT_PER_USER", "-1")]).unwrap_err();
    assert_eq!(error.to_string(), "DAILY_LIMIT_PER_USER: \"-1\" is not a whole number (0 means no limit)");
    // Times and rates cannot be "no limit": they must be positive.
    for var in ["POLL_INTERVAL_SECS", "TASK_TIMEOUT_SECS", "VIDEO_API_TIMEOUT_SECS", "VIDEO_API_QUERIES_PER_SECOND"] {
        assert_eq!(error_var(&[(var, "0")]), var);
    }
}

#[test]
fn the_unknown_hold_is_ten_minutes_or_the_task_timeout() {
    assert_eq!(config(&[]).unwrap().unknown_hold, Duration::from_secs(600));
    assert_eq!(config(&[("TASK_TIMEOUT_SECS", "3")]).unwrap().unknown_hold, Duration::from_secs(3));
}

#[test]
fn the_database_must_be_a_file_or_a_server() {
    for url in [
        "sqlite::memory:",
        "sqlite:",
        "sqlite://",
        "sqlite://:memory:",
        "sqlite::memory:?cache=shared",
        "sqlite://file:bot?mode=memory&cache=shared",
    ] {
        let error = config(&[("DATABASE_URL", url)]).unwrap_err();
        assert_eq!(error.var, "DATABASE_URL", "{url}");
        assert!(error.problem.contains("in-memory"), "{url}: {error}");
    }
    for url in ["postgres://bot:pw@db", "postgres://bot:pw@db/", "postgresql://db:5432/?sslmode=require"] {
        let error = config(&[("DATABASE_URL", url)]).unwrap_err();
        assert!(error.problem.contains("names no database"), "{url}: {error}");
        assert!(!error.to_string().contains("pw"), "no password in the message");
    }
    let error = config(&[("DATABASE_URL", "mysql://db/bot")]).unwrap_err();
    assert_eq!(error.to_string(), "DATABASE_URL: must start with sqlite:// (a file) or postgres:// (a server)");
    for url in ["sqlite://sora-bot.db", "sqlite:data.db?mode=rwc", "postgres://bot@db/bot", "postgres://db?dbname=bot"]
    {
        assert!(config(&[("DATABASE_URL", url)]).is_ok(), "{url}");
    }
}
