//! What the benchmark programs (examples/) share: finding the bot they drive,
//! and reducing samples to figures.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// `target/<profile>/sora-bot`, next to this program's
/// `target/<profile>/examples/<name>` (or `SORA_BOT_BIN`).
pub fn bot_binary() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("SORA_BOT_BIN") {
        let path = PathBuf::from(path);
        return if path.is_file() { Ok(path) } else { Err(format!("SORA_BOT_BIN={} is not a file", path.display())) };
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find my own path: {e}"))?;
    let profile_dir =
        exe.parent().and_then(Path::parent).ok_or_else(|| format!("unexpected location {}", exe.display()))?;
    let bin = profile_dir.join("sora-bot");
    if !bin.is_file() {
        let release = if profile_dir.ends_with("release") { " --release" } else { "" };
        return Err(format!(
            "the bot binary {} is missing; build it first:\n  cargo build{release} --bin sora-bot",
            bin.display()
        ));
    }
    if !profile_dir.ends_with("release") {
        println!("  note: not a release build; figures of a debug bot mean little");
    }
    Ok(bin)
}

/// Nearest-rank percentile.
pub fn percentile(samples: &[Duration], p: f64) -> Option<Duration> {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1));
    sorted.get(rank - 1).copied()
}
