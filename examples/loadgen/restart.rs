//! Modes `backlog` and `memory`: a restart with many open tasks.

use sora_bot::{command::VideoOptions, store::Store, task::NewTask};

use super::*;

pub(crate) enum Prefill {
    /// `/video` commands through the bot (whose create answers stay pending), then SIGKILL.
    Bot(Pacing),
    /// Rows inserted through the store in one transaction; much faster for 10,000 tasks.
    Store,
}

pub(crate) async fn backlog(bin: &Path, args: &Args, prefill: Prefill) -> Result<(), String> {
    let n = args.n;
    // The first run must not poll: the restarted process is the one measured.
    let mut env = bench_env(bin, "3600", args).await;
    let db = env.dir.path().join("bot.db");
    let first = env.start_bot();
    wait_for_calls(&env.tg, Some(&first), "setMyCommands", 1, STARTUP_WAIT).await?;
    match prefill {
        Prefill::Bot(pacing) => {
            println!(
                "  prefill: {n} /video commands through the bot, {}; every create answer and query says pending",
                pacing.describe()
            );
            let started = Instant::now();
            send_commands(&env.tg, FIRST_USER, "backlog", n, pacing).await;
            let timeout = Duration::from_secs(60) + Duration::from_millis(20 * n as u64);
            wait_for_commands(&env, Some(&first), n, timeout).await?;
            println!("  prefill took {:.2} s; SIGKILL", started.elapsed().as_secs_f64());
            first.kill();
        }
        Prefill::Store => {
            // The bot made the schema (its own migrations); stop it cleanly and add rows.
            first.terminate();
            first.wait_exit(Duration::from_secs(15)).await;
            first.kill();
            let started = Instant::now();
            insert_open_tasks(&db, n).await?;
            println!(
                "  prefill: {n} running tasks inserted through the store in {:.2} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    // A prefill run with POLL_INTERVAL_SECS=3600 scheduled them an hour ahead; a
    // bot that was down longer than its interval finds them all due, the worst case.
    let open = schedule_open_tasks(&db, None).await?;
    if open.len() != n {
        return Err(format!("expected {n} open tasks in the database, found {}", open.len()));
    }
    println!("  all {n} tasks due at restart (next_poll_at = 0: the bot was down longer than the interval)");

    env.set_env("POLL_INTERVAL_SECS", "1");
    // The restart backlog, not the rate limit, is measured (unless --env sets one).
    if !args.extra_env.iter().any(|(key, _)| key == "VIDEO_API_QUERIES_PER_SECOND") {
        env.set_env("VIDEO_API_QUERIES_PER_SECOND", "10000");
    }
    println!(
        "  restart: same database, POLL_INTERVAL_SECS=1, VIDEO_API_QUERIES_PER_SECOND={}, RUST_LOG=warn",
        env.var("VIDEO_API_QUERIES_PER_SECOND").unwrap_or_default()
    );
    let queries_before = env.video.queries().len();
    let restarted = Instant::now();
    let bot = env.start_bot();
    let ready = wait_for_calls(&env.tg, Some(&bot), "setMyCommands", 2, STARTUP_WAIT).await?;

    // Generous: the watcher may take a few hundred tasks a round.
    let timeout = Duration::from_secs(120) + Duration::from_millis(30 * n as u64);
    let mut first_query: HashMap<String, Instant> = HashMap::new();
    let waited = wait_until(Some(&bot), timeout, &format!("a query of each of the {n} tasks"), || {
        for query in env.video.queries().into_iter().skip(queries_before) {
            first_query.entry(query.id).or_insert(query.at);
        }
        open.iter().all(|id| first_query.contains_key(id))
    })
    .await;
    let memory = memory_of(bot.pid());

    let times: Vec<Instant> = open.iter().filter_map(|id| first_query.get(id).copied()).collect();
    println!("results");
    println!("  tasks queried by the new process: {}/{n}", times.len());
    let since_start = |at: Instant| at.duration_since(restarted).as_secs_f64();
    println!("  start → setMyCommands:       {:8.3} s", since_start(ready));
    if let (Some(&first), Some(&last)) = (times.iter().min(), times.iter().max()) {
        println!("  start → first task queried:  {:8.3} s", since_start(first));
        println!("  start → every task queried:  {:8.3} s   <- backlog after a restart", since_start(last));
        let span = last.duration_since(first).as_secs_f64();
        if span > 0.0 {
            println!("  first → last:                {span:8.3} s   ({:.0} tasks/s)", times.len() as f64 / span);
        }
    }
    print_memory(&memory, false);
    report_logs(&bot);
    stop(&bot).await;
    waited
}

/// The bot's own store on its SQLite file (the bot is stopped meanwhile).
pub(crate) async fn open_store(db: &Path) -> Result<Store, String> {
    Store::connect(&format!("sqlite://{}", db.display())).await.map_err(|e| format!("open {}: {e}", db.display()))
}

/// `n` tasks as the bot leaves them after a create answered "pending":
/// running, with an upstream id, no lease. No status message, so polling does
/// not edit one.
pub(crate) async fn insert_open_tasks(db: &Path, n: usize) -> Result<(), String> {
    let tasks: Vec<(NewTask, String)> = (0..n)
        .map(|i| {
            let user_id = FIRST_USER + i as i64;
            let new = NewTask {
                chat_id: user_id,
                user_id,
                command_msg_id: 1 + i as i32,
                lang: sora_bot::lang::Lang::En,
                prompt: format!("memory prompt {i}"),
                options: VideoOptions::STANDARD,
                image_file_ids: vec![],
            };
            (new, FakeVideoApi::task_id(i + 1))
        })
        .collect();
    let store = open_store(db).await?;
    store.insert_running(&tasks).await.map_err(|e| format!("prefill: {e}"))?;
    store.close().await;
    Ok(())
}

/// Makes every running task due (or spreads their next polls over `spread_ms`
/// from now, as in a bot that has been following them for a while) and returns
/// their upstream ids.
pub(crate) async fn schedule_open_tasks(db: &Path, spread_ms: Option<u64>) -> Result<Vec<String>, String> {
    let store = open_store(db).await?;
    let (earliest, spread) = match spread_ms {
        None => (0, 1),
        Some(spread) => (sora_bot::store::now_ms(), spread as i64),
    };
    let ids = store.schedule_running(earliest, spread).await.map_err(|e| format!("database: {e}"))?;
    store.close().await;
    Ok(ids)
}
