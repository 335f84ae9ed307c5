//! Waiting for the bot and printing figures, shared by the modes.

use super::*;

pub(crate) async fn wait_until(
    bot: Option<&BotProcess>,
    timeout: Duration,
    what: &str,
    mut done: impl FnMut() -> bool,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return Ok(());
        }
        if let Some(bot) = bot
            && let Some(status) = bot.exit_status()
        {
            return Err(format!(
                "the bot exited ({status}) while waiting for {what}\n--- bot logs ---\n{}",
                bot.logs()
            ));
        }
        if Instant::now() >= deadline {
            return Err(format!("no {what} within {timeout:?}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits for the `count`th successful call of `method` and returns when it arrived.
pub(crate) async fn wait_for_calls(
    tg: &FakeTelegram,
    bot: Option<&BotProcess>,
    method: &str,
    count: usize,
    timeout: Duration,
) -> Result<Instant, String> {
    wait_until(bot, timeout, &format!("{method} call #{count}"), || tg.calls_of(method).len() >= count).await?;
    Ok(tg.calls_of(method)[count - 1].at)
}

/// Peak (VmHWM) and current (VmRSS) resident memory, in KiB.
pub(crate) struct Memory {
    pub(crate) peak_kib: u64,
    pub(crate) current_kib: u64,
}

pub(crate) fn memory_of(pid: u32) -> Option<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        let line = status.lines().find(|line| line.starts_with(name))?;
        line[name.len()..].trim().trim_end_matches("kB").trim().parse().ok()
    };
    Some(Memory { peak_kib: field("VmHWM:")?, current_kib: field("VmRSS:")? })
}

pub(crate) fn print_memory(memory: &Option<Memory>, with_target: bool) {
    let Some(memory) = memory else {
        println!("  RSS: /proc/<pid>/status not readable");
        return;
    };
    let show = |kib: u64| format!("{:.1} MiB = {:.1} MB", kib as f64 / 1024.0, kib as f64 * 1024.0 / 1e6);
    let target = if with_target {
        let ok = memory.peak_kib * 1024 <= RSS_TARGET_BYTES;
        format!("   target ≤ 20 MB (500-command burst): {}", verdict(ok))
    } else {
        String::new()
    };
    println!("  bot peak RSS (VmHWM):    {}{target}", show(memory.peak_kib));
    println!("  bot current RSS (VmRSS): {}", show(memory.current_kib));
}

pub(crate) fn print_latency(label: &str, samples: &[Duration]) {
    let p99 = percentile(samples, 0.99);
    let ok = p99.is_some_and(|p99| p99 < P99_TARGET);
    print_stats(&format!("  {label}"), samples, &format!("   p99 < 2 ms: {}", verdict(ok)));
}

pub(crate) fn print_stats(label: &str, samples: &[Duration], suffix: &str) {
    let show = |d: Option<Duration>| d.map_or("-".into(), ms);
    println!(
        "{label} {:>10} {:>10} {:>10}{suffix}",
        show(percentile(samples, 0.50)),
        show(percentile(samples, 0.99)),
        show(samples.iter().max().copied()),
    );
}

/// Milliseconds with 3 decimals.
/// The task queries made in `[from, until)`: how many, of how many tasks,
/// and the gaps between each task's consecutive queries.
pub(crate) fn poll_gaps(
    queries: Vec<testkit::QueryCall>,
    from: Instant,
    until: Instant,
) -> (usize, usize, Vec<Duration>) {
    let mut by_task: std::collections::HashMap<String, Vec<Instant>> = std::collections::HashMap::new();
    let mut in_window = 0;
    for query in queries {
        if query.at >= from && query.at < until {
            in_window += 1;
            by_task.entry(query.id).or_default().push(query.at);
        }
    }
    let mut gaps = Vec::new();
    for times in by_task.values_mut() {
        times.sort_unstable();
        gaps.extend(times.windows(2).map(|pair| pair[1].duration_since(pair[0])));
    }
    (in_window, by_task.len(), gaps)
}

pub(crate) fn ms(duration: Duration) -> String {
    format!("{:.3}", duration.as_secs_f64() * 1e3)
}

pub(crate) fn verdict(ok: bool) -> &'static str {
    if ok { "ok" } else { "MISSED" }
}

/// At RUST_LOG=warn a clean run logs nothing; show what it did log.
pub(crate) fn report_logs(bot: &BotProcess) {
    let logs = bot.logs();
    let lines: Vec<&str> = logs.lines().filter(|line| !line.trim().is_empty()).collect();
    if lines.is_empty() {
        println!("  bot logs: nothing at warn level");
        return;
    }
    println!("  bot logs: {} line(s) at warn level, first ones:", lines.len());
    for line in lines.iter().take(5) {
        println!("    {line}");
    }
}

/// SIGTERM, as a supervisor would stop it; SIGKILL if it hangs.
pub(crate) async fn stop(bot: &BotProcess) {
    bot.terminate();
    match bot.wait_exit(Duration::from_secs(15)).await {
        Some(status) if status.success() => {}
        Some(status) => println!("  note: the bot exited with {status} after SIGTERM"),
        None => {
            println!("  note: the bot did not stop within 15 s of SIGTERM; killed");
            bot.kill();
        }
    }
}
