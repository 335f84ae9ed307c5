//! Mode `replicas`: N running tasks whose answer never changes, followed by
//! R replicas on one PostgreSQL database; then the replica holding the most
//! tasks is SIGKILLed.

use sqlx::Row;

use super::*;

/// Row writes so far in every table (inserts, updates and deletes, as
/// PostgreSQL counts them; a session reports its counts within about a second
/// while busy, at the latest when it ends).
async fn row_writes(pool: &sqlx::AnyPool) -> Result<i64, String> {
    sqlx::query("SELECT pg_stat_clear_snapshot()").execute(pool).await.map_err(|e| e.to_string())?;
    let row = sqlx::query(
        "SELECT CAST(COALESCE(SUM(n_tup_ins + n_tup_upd + n_tup_del), 0) AS BIGINT) AS n FROM pg_stat_user_tables",
    )
    .fetch_one(pool)
    .await
    .map_err(|e| e.to_string())?;
    row.try_get("n").map_err(|e| e.to_string())
}

/// The tasks not yet queried (after `since`), read from the fake's record a
/// new part at a time: at 100,000 tasks the record reaches millions of
/// queries, too many to copy every 50 ms.
struct Unqueried {
    left: std::collections::HashSet<String>,
    read: usize,
    since: Option<Instant>,
}

impl Unqueried {
    fn new(ids: Vec<String>, since: Option<Instant>) -> Self {
        Unqueried { left: ids.into_iter().collect(), read: 0, since }
    }

    fn none_left(&mut self, video: &FakeVideoApi) -> bool {
        let new = video.queries_from(self.read);
        self.read += new.len();
        for query in new.into_iter().filter(|q| self.since.is_none_or(|since| q.at > since)) {
            self.left.remove(&query.id);
        }
        self.left.is_empty()
    }
}

pub(crate) async fn replicas(bin: &Path, args: &Args) -> Result<(), String> {
    let (n, count) = (args.n, args.replicas);
    let db = testkit::fresh_postgres_db().await;
    let mut env = bench_env(bin, "10", args).await;
    env.set_env("DATABASE_URL", &db);
    let interval_secs: i64 = env.var("POLL_INTERVAL_SECS").unwrap_or("10").parse().map_err(|_| "POLL_INTERVAL_SECS")?;
    let rate = env.var("VIDEO_API_QUERIES_PER_SECOND").unwrap_or("20 (default)").to_owned();
    // The bot makes the schema (its own migrations, whichever version it is).
    let first = env.start_bot();
    wait_for_calls(&env.tg, Some(&first), "setMyCommands", 1, STARTUP_WAIT).await?;
    stop(&first).await;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db).await.map_err(|e| e.to_string())?;
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_millis() as i64;
    // Plain SQL, not the store: the bot under test may be an older version.
    sqlx::query(
        "INSERT INTO tasks (id, chat_id, user_id, command_msg_id, lang, prompt, model, orientation, size, duration, \
         image_file_ids, upstream_id, state, upstream_status, progress_pct, created_at, updated_at, day, next_poll_at) \
         SELECT g, 100000 + g, 100000 + g, g, 'en', 'p', 'sora-2', 'portrait', 'large', 15, '[]', \
         'sora-2:task_' || CAST(g AS TEXT), 'running', 'processing', 50, $1, $1, $1 / 86400000, $1 + (g * 7919) % $2 \
         FROM generate_series(1, $3) AS g",
    )
    .bind(now)
    .bind(interval_secs * 1000)
    .bind(n as i64)
    .execute(&pool)
    .await
    .map_err(|e| format!("prefill: {e}"))?;
    let delay = Duration::from_millis(args.query_ms);
    env.video.answer_all(
        testkit::Reply::json(200, serde_json::json!({"status": "processing", "progress": 50})).after(delay),
    );
    println!(
        "  {n} running tasks answering \"processing, 50 %\", {count} replicas on PostgreSQL, POLL_INTERVAL_SECS={interval_secs}, \
         VIDEO_API_QUERIES_PER_SECOND={rate}, queries answered after {} ms, {} s measured",
        args.query_ms, args.secs
    );

    let started = Instant::now();
    let mut bots = Vec::new();
    for i in 0..count {
        let menus_before = env.tg.calls_of("setMyCommands").len();
        let exec = Instant::now();
        let bot = env.start_bot();
        // Its menu (two calls: English, Chinese) is sent once the store is
        // open and migrated, the watcher built.
        let ready = wait_for_calls(&env.tg, Some(&bot), "setMyCommands", menus_before + 1, STARTUP_WAIT).await?;
        println!("  replica {i} started (exec to its setMyCommands) in {} ms", ms(ready.duration_since(exec)));
        bots.push(bot);
    }
    if args.secs == 0 {
        // Start-up only.
        for bot in &bots {
            stop(bot).await;
        }
        pool.close().await;
        testkit::drop_postgres_db(&db).await;
        return Ok(());
    }
    let ids: Vec<String> = (1..=n).map(FakeVideoApi::task_id).collect();
    // The first polls are spread over one interval (as in a bot that has run a while).
    let first_round = Duration::from_secs(120).max(Duration::from_secs(2 * interval_secs as u64));
    let mut unqueried = Unqueried::new(ids, None);
    wait_until(None, first_round, "every task queried once", || unqueried.none_left(&env.video)).await?;
    println!("  every task queried once {:.1} s after the first start", started.elapsed().as_secs_f64());
    // Settle: the first polls and any take-over are done.
    tokio::time::sleep(Duration::from_secs(interval_secs as u64 + 2)).await;
    let writes_before = row_writes(&pool).await?;
    let from = Instant::now();
    let cpu_before: Vec<Option<u64>> = bots.iter().map(|bot| cpu_ticks(bot.pid())).collect();
    tokio::time::sleep(Duration::from_secs(args.secs)).await;
    let window = from.elapsed();
    let cpu_after: Vec<Option<u64>> = bots.iter().map(|bot| cpu_ticks(bot.pid())).collect();
    // A second for the last busy sessions to report their counts.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let writes = row_writes(&pool).await? - writes_before;

    let (in_window, _, gaps) = report::poll_gaps(env.video.queries(), from, from + window);
    let secs = |d: Option<Duration>| d.map_or("-".into(), |d| format!("{:.1} s", d.as_secs_f64()));
    println!("results");
    println!(
        "  row writes (all tables, pg_stat_user_tables): {writes} in {:.1} s = {:.2}/s",
        window.as_secs_f64(),
        writes as f64 / window.as_secs_f64()
    );
    println!(
        "  queries: {in_window} = {:.1}/s for all replicas; poll gap per task ({} gaps): median {}, max {}",
        in_window as f64 / window.as_secs_f64(),
        gaps.len(),
        secs(percentile(&gaps, 0.5)),
        secs(gaps.iter().max().copied())
    );
    for (i, bot) in bots.iter().enumerate() {
        if let (Some(before), Some(after)) = (cpu_before[i], cpu_after[i]) {
            let cpu = (after - before) as f64 / CLOCK_TICKS_PER_SEC / window.as_secs_f64();
            let rss = memory_of(bot.pid()).map_or("-".into(), |m| format!("{:.1} MB", m.current_kib as f64 / 1024.0));
            println!("  replica {i}: CPU {:.1} % of one core, RSS {rss}", cpu * 100.0);
        }
    }

    // The replica holding the most tasks dies.
    let rows = sqlx::query(
        "SELECT lease_owner, COUNT(*) AS n FROM tasks WHERE state = 'running' AND lease_owner IS NOT NULL \
         GROUP BY lease_owner ORDER BY n DESC",
    )
    .fetch_all(&pool)
    .await
    .map_err(|e| e.to_string())?;
    let holders: Vec<(String, i64)> = rows.iter().map(|r| (r.get("lease_owner"), r.get("n"))).collect();
    println!("  tasks per replica: {holders:?}");
    if count > 1
        && let Some((owner, held)) = holders.first()
    {
        let pid: u32 = owner.split('-').next().and_then(|p| p.parse().ok()).ok_or("owner without a pid")?;
        let victim = bots.iter().position(|bot| bot.pid() == pid).ok_or("the holder is not one of ours")?;
        let upstream: Vec<String> = sqlx::query("SELECT upstream_id FROM tasks WHERE lease_owner = $1")
            .bind(owner)
            .fetch_all(&pool)
            .await
            .map_err(|e| e.to_string())?
            .iter()
            .map(|r| r.get("upstream_id"))
            .collect();
        let killed = Instant::now();
        bots.remove(victim).kill();
        // The bot's bound: a lease time until the tasks are taken; then their
        // polls, spread over an interval, and an interval and two minutes of slack.
        let interval = Duration::from_secs(interval_secs as u64);
        let take_over = sora_bot::watcher::lease_ttl(interval) + 2 * interval + Duration::from_secs(120);
        let mut unqueried = Unqueried::new(upstream.clone(), Some(killed + delay));
        wait_until(None, take_over.max(Duration::from_secs(300)), "its tasks queried by the others", || {
            unqueried.none_left(&env.video)
        })
        .await?;
        let mut first_after: HashMap<String, Instant> = HashMap::new();
        for query in env.video.queries().into_iter().filter(|q| q.at > killed + delay) {
            let at = first_after.entry(query.id).or_insert(query.at);
            *at = (*at).min(query.at);
        }
        let theirs: Vec<Instant> = upstream.iter().filter_map(|id| first_after.get(id).copied()).collect();
        let first = theirs.iter().min().copied().unwrap_or(killed);
        let last = theirs.iter().max().copied().unwrap_or(killed);
        println!(
            "  take-over after SIGKILL of the replica holding {held}: first of its tasks polled again {:.1} s later, \
             all {:.1} s later",
            first.duration_since(killed).as_secs_f64(),
            last.duration_since(killed).as_secs_f64()
        );
    }
    for bot in &bots {
        stop(bot).await;
    }
    pool.close().await;
    testkit::drop_postgres_db(&db).await;
    Ok(())
}
