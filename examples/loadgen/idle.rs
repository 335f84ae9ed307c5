//! Mode `idle`: start-up time and idle memory, with an empty database or with
//! N open tasks (as a restart finds them).

use super::*;

/// Starts measured, each on a fresh database.
const STARTS: usize = 5;
/// How long the bot idles before its RSS is read.
const IDLE_FOR: Duration = Duration::from_secs(3);

pub(crate) async fn idle(bin: &Path, args: &Args) -> Result<(), String> {
    let n = args.n;
    println!(
        "  {STARTS} starts, each on a fresh database {}; ready = the first getUpdates call, RSS read {} s later",
        if n == 0 { "(empty)".to_owned() } else { format!("holding {n} running tasks due over the next 30 s") },
        IDLE_FOR.as_secs()
    );
    let (mut ready, mut rss) = (Vec::new(), Vec::new());
    for _ in 0..STARTS {
        let env = bench_env(bin, "30", args).await;
        if n > 0 {
            // The bot makes the schema (its own migrations); stop it and add rows.
            let first = env.start_bot();
            wait_for_calls(&env.tg, Some(&first), "getUpdates", 1, STARTUP_WAIT).await?;
            stop(&first).await;
            let db = env.dir.path().join("bot.db");
            insert_open_tasks(&db, n).await?;
            schedule_open_tasks(&db, Some(30_000)).await?;
        }
        let polls_before = env.tg.calls_of("getUpdates").len();
        let started = Instant::now();
        let bot = env.start_bot();
        let first_poll = wait_for_calls(&env.tg, Some(&bot), "getUpdates", polls_before + 1, STARTUP_WAIT).await?;
        ready.push(first_poll.duration_since(started));
        tokio::time::sleep(IDLE_FOR).await;
        let memory = memory_of(bot.pid()).ok_or("the bot's /proc status is not readable")?;
        rss.push(memory.current_kib);
        report_logs(&bot);
        stop(&bot).await;
    }
    ready.sort();
    rss.sort();
    let target = if n == 0 { Duration::from_millis(100) } else { Duration::from_secs(1) };
    println!("results");
    println!(
        "  start → ready (exec to first getUpdates): min {} / median {} / max {} ms   target < {} ms: {}",
        ms(ready[0]),
        ms(ready[STARTS / 2]),
        ms(ready[STARTS - 1]),
        target.as_millis(),
        verdict(ready[STARTS - 1] < target)
    );
    let mb = |kib: u64| kib as f64 * 1024.0 / 1e6;
    println!(
        "  RSS {} s after ready: min {:.1} / median {:.1} / max {:.1} MB{}",
        IDLE_FOR.as_secs(),
        mb(rss[0]),
        mb(rss[STARTS / 2]),
        mb(rss[STARTS - 1]),
        if n == 0 {
            format!("   target ≤ 10 MB: {}", verdict(rss[STARTS - 1] * 1024 <= IDLE_RSS_TARGET_BYTES))
        } else {
            String::new()
        }
    );
    Ok(())
}
