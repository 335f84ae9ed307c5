//! Prometheus metrics: names in one place so `/metrics` stays consistent.

use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Installs the global recorder; call once at start. `None` if one is installed already.
/// Histograms grow until upkeep drains them, so it runs every few seconds.
pub fn install() -> Option<PrometheusHandle> {
    let handle = PrometheusBuilder::new().install_recorder().ok()?;
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    Some(handle)
}

pub fn command(kind: &'static str) {
    metrics::counter!("sora_commands_total", "kind" => kind).increment(1);
}

pub fn create_outcome(outcome: &'static str) {
    metrics::counter!("sora_creates_total", "outcome" => outcome).increment(1);
}

pub fn video_api_latency(operation: &'static str, elapsed: Duration) {
    metrics::histogram!("sora_video_api_seconds", "operation" => operation).record(elapsed.as_secs_f64());
}

pub fn telegram_error(method: &'static str, kind: &'static str) {
    metrics::counter!("sora_telegram_errors_total", "method" => method, "kind" => kind).increment(1);
}

pub fn open_tasks(count: i64) {
    metrics::gauge!("sora_open_tasks").set(count as f64);
}

pub fn delivered(how: &'static str) {
    metrics::counter!("sora_videos_delivered_total", "how" => how).increment(1);
}

/// Something dropped on purpose under load: "command" or "press" over the
/// rate limit, "stranger" updates, "answer" past a full outbox.
pub fn dropped(what: &'static str) {
    metrics::counter!("sora_dropped_total", "what" => what).increment(1);
}
