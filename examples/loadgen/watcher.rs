//! Mode `watcher`: many running tasks followed at the rate limit.

use super::*;

pub(crate) async fn watcher(bin: &Path, args: &Args) -> Result<(), String> {
    let n = args.n;
    let mut env = bench_env(bin, "3600", args).await;
    let interval_secs: u64 = env
        .var("POLL_INTERVAL_SECS")
        .filter(|_| args.extra_env.iter().any(|(key, _)| key == "POLL_INTERVAL_SECS"))
        .map_or(Ok(30), str::parse)
        .map_err(|_| "POLL_INTERVAL_SECS must be a number")?;
    env.set_env("POLL_INTERVAL_SECS", &interval_secs.to_string());
    let rate = env.var("VIDEO_API_QUERIES_PER_SECOND").unwrap_or("20 (default)").to_owned();
    let db = env.dir.path().join("bot.db");
    // The bot makes the schema (its own migrations); stop it cleanly and add rows.
    let first = env.start_bot();
    wait_for_calls(&env.tg, Some(&first), "setMyCommands", 1, STARTUP_WAIT).await?;
    first.terminate();
    first.wait_exit(Duration::from_secs(15)).await;
    first.kill();
    insert_open_tasks(&db, n).await?;
    let open = schedule_open_tasks(&db, Some(interval_secs * 1000)).await?;
    let delay = Duration::from_millis(args.query_ms);
    for id in &open {
        env.video.script_task(id, vec![testkit::Reply::task(id, "pending").after(delay)]);
    }
    println!(
        "  {n} running tasks, next polls spread over one interval; POLL_INTERVAL_SECS={interval_secs}, \
         VIDEO_API_QUERIES_PER_SECOND={rate}, queries answered after {} ms, {} s run",
        args.query_ms, args.secs
    );

    let bot = env.start_bot();
    wait_for_calls(&env.tg, Some(&bot), "setMyCommands", 2, STARTUP_WAIT).await?;
    let started = Instant::now();
    let cpu_before = cpu_ticks(bot.pid());
    wait_until(Some(&bot), Duration::from_secs(args.secs) + Duration::from_secs(1), "the end of the run", || {
        started.elapsed() >= Duration::from_secs(args.secs)
    })
    .await?;
    let window = started.elapsed();
    let cpu_after = cpu_ticks(bot.pid());
    let memory = memory_of(bot.pid());

    let (in_window, tasks_queried, gaps) = report::poll_gaps(env.video.queries(), started, Instant::now());
    println!("results");
    println!(
        "  queries: {in_window} in {:.1} s = {:.1}/s; {} of {n} tasks queried at least once",
        window.as_secs_f64(),
        in_window as f64 / window.as_secs_f64(),
        tasks_queried
    );
    let secs = |d: Option<Duration>| d.map_or("-".into(), |d| format!("{:.1} s", d.as_secs_f64()));
    println!(
        "  poll gap per task ({} gaps): median {}, p99 {}, max {}",
        gaps.len(),
        secs(percentile(&gaps, 0.5)),
        secs(percentile(&gaps, 0.99)),
        secs(gaps.iter().max().copied())
    );
    if let (Some(before), Some(after)) = (cpu_before, cpu_after) {
        let cpu = (after - before) as f64 / CLOCK_TICKS_PER_SEC / window.as_secs_f64();
        println!("  bot CPU: {:.1} % of one core", cpu * 100.0);
    }
    print_memory(&memory, false);
    report_logs(&bot);
    stop(&bot).await;
    Ok(())
}

/// Linux's USER_HZ, the unit of utime and stime in /proc/<pid>/stat.
pub(crate) const CLOCK_TICKS_PER_SEC: f64 = 100.0;

/// User plus system CPU time of `pid`, in clock ticks.
pub(crate) fn cpu_ticks(pid: u32) -> Option<u64> {
    cpu_ticks_split(pid).map(|(user, system)| user + system)
}

/// User and system CPU ticks of `pid` so far.
pub(crate) fn cpu_ticks_split(pid: u32) -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces): state is the first,
    // utime the 12th, stime the 13th.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some((fields.get(11)?.parse::<u64>().ok()?, fields.get(12)?.parse::<u64>().ok()?))
}
