//! Mode `failover`: two replicas polling on one PostgreSQL database; the poller is killed.

use super::*;

pub(crate) const POLLER_LINE: &str = "this replica polls Telegram for updates";

pub(crate) async fn failover(bin: &Path, args: &Args) -> Result<(), String> {
    let db = testkit::fresh_postgres_db().await;
    let mut env = TestEnv::start(bin).await;
    env.set_env("DATABASE_URL", &db);
    env.set_env("RUST_LOG", "info");
    for (key, value) in &args.extra_env {
        env.set_env(key, value);
    }
    println!("  two replicas in polling mode on {db}");
    let mut poller = env.start_bot();
    wait_log(&poller, POLLER_LINE, STARTUP_WAIT).await?;
    let mut follower = env.start_bot();
    wait_log(&follower, "another replica polls Telegram", STARTUP_WAIT).await?;
    let mut took = Vec::new();
    for round in 1..=3 {
        // Let the follower settle into its retry rhythm at a random phase.
        tokio::time::sleep(Duration::from_millis(1_000 + 700 * round)).await;
        let killed = Instant::now();
        poller.kill();
        wait_log(&follower, POLLER_LINE, Duration::from_secs(30)).await?;
        let elected = killed.elapsed();
        wait_until(Some(&follower), Duration::from_secs(30), "a getUpdates from the new poller", || {
            env.tg.attempts_of("getUpdates").iter().any(|call| call.at > killed)
        })
        .await?;
        let polling = env
            .tg
            .attempts_of("getUpdates")
            .iter()
            .filter(|call| call.at > killed)
            .map(|call| call.at.duration_since(killed))
            .min()
            .unwrap_or_default();
        println!(
            "  round {round}: SIGKILL → other replica holds the lock {:.2} s, → its first getUpdates {:.2} s",
            elected.as_secs_f64(),
            polling.as_secs_f64()
        );
        took.push(polling);
        // The killed replica comes back as the follower.
        let restarted = env.start_bot();
        wait_log(&restarted, "another replica polls Telegram", STARTUP_WAIT).await?;
        poller = std::mem::replace(&mut follower, restarted);
    }
    println!("results");
    println!(
        "  poller failover (SIGKILL → first getUpdates of the other replica): max {:.2} s of 3",
        took.iter().max().copied().unwrap_or_default().as_secs_f64()
    );
    stop(&poller).await;
    stop(&follower).await;
    testkit::drop_postgres_db(&db).await;
    Ok(())
}

/// Like `BotProcess::wait_log`, as an error instead of a panic.
pub(crate) async fn wait_log(bot: &BotProcess, needle: &str, timeout: Duration) -> Result<(), String> {
    wait_until(Some(bot), timeout, &format!("log line {needle:?}"), || bot.logs().contains(needle)).await
}
