//! The real `sora-bot` binary as a child process, with its logs captured.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::server::poll_until;

pub const DEFAULT_RUST_LOG: &str = "info,sora_bot=debug";
/// Variables kept from the test's own environment; everything else is cleared
/// so a developer's shell (or CI) cannot change the bot's configuration.
const INHERITED_VARS: [&str; 2] = ["PATH", "HOME"];

pub struct BotProcess {
    child: Mutex<Child>,
    logs: Arc<Mutex<String>>,
    /// The threads copying stdout and stderr into `logs`.
    readers: Vec<JoinHandle<()>>,
}

/// Once the bot has exited, its output pipes close and the readers finish.
const OUTPUT_DRAINED_WITHIN: Duration = Duration::from_secs(2);

impl BotProcess {
    /// Starts `bin` with only `env` (plus PATH, HOME, NO_COLOR, and RUST_LOG
    /// unless `env` sets it), in the system temp directory so dotenvy finds
    /// no `.env`.
    pub fn start(bin: &Path, env: &[(String, String)]) -> BotProcess {
        BotProcess::start_in(bin, env, &std::env::temp_dir())
    }

    /// Like `start`, in working directory `dir`.
    pub fn start_in(bin: &Path, env: &[(String, String)], dir: &Path) -> BotProcess {
        let mut command = Command::new(bin);
        command.env_clear().current_dir(dir).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        for name in INHERITED_VARS {
            if let Some(value) = std::env::var_os(name) {
                command.env(name, value);
            }
        }
        command.env("RUST_LOG", DEFAULT_RUST_LOG).env("NO_COLOR", "1");
        command.envs(env.iter().map(|(key, value)| (key, value)));

        let mut child = command.spawn().unwrap_or_else(|error| panic!("cannot start {}: {error}", bin.display()));
        let logs = Arc::new(Mutex::new(String::new()));
        let readers = vec![
            capture(child.stdout.take().expect("piped stdout"), logs.clone()),
            capture(child.stderr.take().expect("piped stderr"), logs.clone()),
        ];
        BotProcess { child: Mutex::new(child), logs, readers }
    }

    pub fn pid(&self) -> u32 {
        self.child().id()
    }

    /// Everything the bot printed so far, stdout and stderr interleaved by line.
    pub fn logs(&self) -> String {
        lock(&self.logs).clone()
    }

    /// Waits for a log line containing `needle` and returns that line.
    /// Panics with the logs on timeout or if the bot exits first.
    pub async fn wait_log(&self, needle: &str, timeout: Duration) -> String {
        let found = poll_until(timeout, || {
            let line = self.logs().lines().find(|line| line.contains(needle)).map(str::to_owned);
            line.map(Ok).or_else(|| self.exit_status().map(Err))
        });
        match found.await {
            Some(Ok(line)) => line,
            Some(Err(status)) => self.fail(&format!("bot exited ({status}) before logging {needle:?}")),
            None => self.fail(&format!("no log line containing {needle:?} within {timeout:?}")),
        }
    }

    /// The address of the bot's HTTP server, from its
    /// `http server listening addr=<ip:port>` log line.
    pub async fn http_addr(&self, timeout: Duration) -> SocketAddr {
        let line = self.wait_log("http server listening", timeout).await;
        let addr = line.split_once("addr=").map(|(_, rest)| rest.split_whitespace().next().unwrap_or_default());
        match addr.map(|addr| addr.trim_matches(|c| c == '"' || c == ',').parse()) {
            Some(Ok(addr)) => addr,
            _ => self.fail(&format!("no addr=<ip:port> in {line:?}")),
        }
    }

    /// SIGKILL: a crash, nothing is cleaned up.
    pub fn kill(&self) {
        let mut child = self.child();
        let _ = child.kill();
        let _ = child.wait();
    }

    /// SIGTERM: asks the bot to shut down gracefully.
    pub fn terminate(&self) {
        let status = Command::new("kill").args(["-TERM", &self.pid().to_string()]).status();
        assert!(status.is_ok_and(|status| status.success()), "kill -TERM {} failed", self.pid());
    }

    /// The exit status if the bot has exited.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        self.child().try_wait().expect("try_wait")
    }

    /// Waits up to `timeout` for the bot to exit, then for its last lines:
    /// the threads reading its output may still be behind when it is gone.
    pub async fn wait_exit(&self, timeout: Duration) -> Option<ExitStatus> {
        let status = poll_until(timeout, || self.exit_status()).await?;
        let read = || self.readers.iter().all(JoinHandle::is_finished).then_some(());
        poll_until(OUTPUT_DRAINED_WITHIN, read).await;
        Some(status)
    }

    fn child(&self) -> MutexGuard<'_, Child> {
        lock(&self.child)
    }

    fn fail(&self, problem: &str) -> ! {
        panic!("BotProcess: {problem}\n--- bot logs ---\n{}--- end of bot logs ---", self.logs())
    }
}

impl Drop for BotProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Appends each line of `stream` to `logs` from a thread of its own
/// (the crate's tokio has no `process` feature).
fn capture(stream: impl Read + Send + 'static, logs: Arc<Mutex<String>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        while reader.read_until(b'\n', &mut line).is_ok_and(|read| read > 0) {
            let text = strip_ansi(&String::from_utf8_lossy(&line));
            let mut logs = lock(&logs);
            logs.push_str(text.trim_end_matches(['\r', '\n']));
            logs.push('\n');
            line.clear();
        }
    })
}

/// Removes terminal colour codes (`ESC [ … letter`), in case the bot's
/// logger colours its output even without a terminal.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            chars.by_ref().find(|c| c.is_ascii_alphabetic());
        } else {
            out.push(c);
        }
    }
    out
}
