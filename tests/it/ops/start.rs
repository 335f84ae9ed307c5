//! Bad configurations at start: one line naming the variable and the cause,
//! a non-zero exit within 10 s, no password; and `0` meaning "no limit" for
//! every limit variable.

use super::*;

/// Starts the bot with `vars` and expects it to stop at once: returns its one
/// line naming `var`.
async fn refused_start(vars: &[(&str, &str)], var: &str) -> String {
    let mut env = TestEnv::start(bot_bin()).await;
    for (key, value) in vars {
        env.set_env(key, value);
    }
    let started = Instant::now();
    let bot = env.start_bot();
    let status = bot
        .wait_exit(Duration::from_secs(10))
        .await
        .unwrap_or_else(|| panic!("still running 10 s after a bad start\n{}", bot.logs()));
    assert!(!status.success(), "{status}\n{}", bot.logs());
    assert!(started.elapsed() < Duration::from_secs(10));
    // Its output is read by threads of their own: wait for the line.
    poll_until(Duration::from_secs(2), || bot.logs().contains(var).then_some(())).await;
    let logs = bot.logs();
    let lines: Vec<&str> = logs.lines().filter(|line| line.contains(var)).collect();
    assert_eq!(lines.len(), 1, "one line names {var}:\n{logs}");
    assert_eq!(logs.lines().filter(|line| line.contains("ERROR") || line.contains("error")).count(), 1, "{logs}");
    assert!(!logs.contains("s3cret-pw") && !logs.contains("pool timed out"), "{logs}");
    assert!(env.tg.attempts_of("getUpdates").is_empty(), "never started half-configured");
    lines[0].to_owned()
}

#[tokio::test]
async fn an_in_memory_sqlite_database_is_refused_at_start() {
    for url in ["sqlite::memory:", "sqlite:", "sqlite://:memory:"] {
        let line = refused_start(&[("DATABASE_URL", url)], "DATABASE_URL").await;
        assert!(
            line.contains("in-memory SQLite database") && line.contains("vanish at every restart"),
            "{url}: {line}"
        );
    }
}

#[tokio::test]
async fn sqlite_start_errors_name_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).display().to_string();
    let line = refused_start(&[("DATABASE_URL", &format!("sqlite://{}/a.db", path("missing")))], "DATABASE_URL").await;
    assert!(line.contains("directory") && line.contains("does not exist"), "{line}");
    let full = format!("sqlite://{}?max_page_count=2", path("full.db"));
    let line = refused_start(&[("DATABASE_URL", &full)], "DATABASE_URL").await;
    assert!(line.contains("is full"), "{line}");
    // A database file opened read-only (as a read-only mount would make it).
    let (env, first) = bot_with(&[("DATABASE_URL", &format!("sqlite://{}", path("ro.db")))]).await;
    first.terminate();
    first.wait_exit(WAIT).await.expect("stops");
    drop(env);
    let line = refused_start(&[("DATABASE_URL", &format!("sqlite://{}?mode=ro", path("ro.db")))], "DATABASE_URL").await;
    assert!(line.contains("read-only"), "{line}");
    let line = refused_start(&[("DATABASE_URL", "sqlite://bot.db?max_page_count=lots")], "DATABASE_URL").await;
    assert!(line.contains("max_page_count must be a whole number"), "not a \"corrupt row\": {line}");
}

#[tokio::test]
async fn postgres_start_errors_name_the_cause() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let cases = [
        (format!("postgres://postgres:s3cret-pw@{closed}/sora"), "connection refused"),
        ("postgres://postgres:s3cret-pw@no-such-host.invalid/sora".to_owned(), "unknown host no-such-host.invalid"),
        ("postgres://nobody_here:s3cret-pw@127.0.0.1:5432/test".to_owned(), "authentication"),
        ("postgres://postgres:s3cret-pw@127.0.0.1:5432/no_such_database".to_owned(), "does not exist"),
        ("postgres://postgres:s3cret-pw@127.0.0.1:5432".to_owned(), "names no database"),
        (
            "postgres://postgres@127.0.0.1:5432/test?options=-c%20default_transaction_read_only%3Don".to_owned(),
            "read-only",
        ),
    ];
    for (url, cause) in cases {
        let line = refused_start(&[("DATABASE_URL", &url)], "DATABASE_URL").await;
        assert!(line.contains(cause), "{cause}: {line}");
    }
}

#[tokio::test]
async fn a_port_in_use_is_reported_once() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let line = refused_start(&[("HTTP_BIND", &addr)], "HTTP_BIND").await;
    assert!(line.contains(&format!("HTTP_BIND: {addr} is already in use")), "{line}");
}

/// `0` turns every limit off: one user makes three videos at once with a
/// daily limit and an active limit of 0.
async fn zero_is_no_limit(database_url: Option<&str>) {
    let mut vars = vec![("DAILY_LIMIT_PER_USER", "0"), ("MAX_ACTIVE_PER_USER", "0"), ("MAX_ACTIVE_TOTAL", "0")];
    vars.extend([("DAILY_LIMIT_TOTAL", "0"), ("DAILY_LIMIT_PER_CHAT", "0")]);
    if let Some(url) = database_url {
        vars.push(("DATABASE_URL", url));
    }
    let (env, _bot) = bot_with(&vars).await;
    let chat = Chat::private(608);
    for n in 1..=3 {
        let command = Msg::text(&chat, &User::new(608), &format!("/video cat number {n}")).build();
        env.tg.push_message(command.clone());
        assert!(reply_to(&env.tg, &command).await.contains(&format!("#{n}")), "video {n} allowed");
    }
    let quota = Msg::text(&chat, &User::new(608), "/quota").build();
    env.tg.push_message(quota.clone());
    let text = reply_to(&env.tg, &quota).await;
    assert!(text.contains("Today: 3 units used, no daily limit.") && text.contains("In progress: 3."), "{text}");
}

#[tokio::test]
async fn zero_means_no_limit_on_sqlite() {
    zero_is_no_limit(None).await;
}

#[tokio::test]
async fn zero_means_no_limit_on_postgres() {
    let db = fresh_postgres_db().await;
    zero_is_no_limit(Some(&db)).await;
    drop_postgres_db(&db).await;
}
