//! `GET /media/<token>.jpg`: photos served to the video API from Telegram.
//!
//! Anyone holding a URL can ask for it many times at once, so each Telegram
//! file is fetched once (getFile + one download) however many requests want
//! it: the first request starts the download and every request, current or
//! later, streams the bytes as they arrive from that one shared copy. Finished
//! files stay cached for a short time within a byte budget, and only a few
//! downloads run at once.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    body::{Body, Bytes},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use futures_util::StreamExt;
use teloxide::{Bot, net::Download, prelude::Requester, types::FileId};
use tokio::sync::{Semaphore, watch};

use crate::{
    images::{media_token, sniff_image_type},
    store::Store,
};

/// Telegram lets bots download files of up to 20 MB.
const MAX_FILE_BYTES: u32 = 20 * 1024 * 1024;
/// Finished files kept for repeat requests, in bytes (downloads in progress count too).
const CACHE_BYTES: usize = 64 * 1024 * 1024;
/// A video API fetches a task's photos within moments of the create call.
const CACHE_TTL: Duration = Duration::from_secs(300);
/// Downloads from Telegram at once; more requests for other files wait a little.
const MAX_DOWNLOADS: usize = 4;
/// How long a new download waits for its turn before the request gets 503.
const DOWNLOAD_WAIT: Duration = Duration::from_secs(5);
/// getFile plus a 20 MB download.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(120);
/// Sniffing the type needs this many bytes (WebP's RIFF header).
const SNIFF_BYTES: usize = 12;

#[derive(Clone)]
pub struct MediaProxy {
    inner: Arc<Inner>,
}

struct Inner {
    files: Bot,
    /// Telegram file id → its fetch, running or finished.
    fetches: Mutex<HashMap<String, Arc<Fetch>>>,
    downloads: Semaphore,
}

/// One download of one file, shared by every request for it.
struct Fetch {
    started: Instant,
    state: Mutex<Progress>,
    /// Bumped on every change of `state`.
    changed: watch::Sender<u64>,
}

#[derive(Default)]
struct Progress {
    chunks: Vec<Bytes>,
    bytes: usize,
    content_type: Option<&'static str>,
    end: Option<Result<(), Failure>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// Too many downloads already running.
    Busy,
    /// Telegram would not give the file, or it is not an image we serve.
    Upstream,
}

impl MediaProxy {
    pub fn new(files: Bot) -> Self {
        MediaProxy {
            inner: Arc::new(Inner {
                files,
                fetches: Mutex::new(HashMap::new()),
                downloads: Semaphore::new(MAX_DOWNLOADS),
            }),
        }
    }

    /// Answers a `/media/{name}` request: the photo while its token lives, else 404.
    pub async fn respond(&self, store: &Store, name: &str) -> Response {
        let Some(token) = media_token(name) else { return StatusCode::NOT_FOUND.into_response() };
        let file_id = match store.media_file(token).await {
            Ok(Some(file_id)) => file_id,
            Ok(None) => return StatusCode::NOT_FOUND.into_response(),
            Err(error) => {
                tracing::warn!(%error, "media lookup failed");
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
        };
        let fetch = self.fetch(&file_id);
        match fetch.head().await {
            Ok((content_type, complete_len)) => {
                let mut response = (
                    [(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "private, max-age=600")],
                    Body::from_stream(fetch.stream()),
                )
                    .into_response();
                if let Some(len) = complete_len {
                    response.headers_mut().insert(header::CONTENT_LENGTH, len.into());
                }
                response
            }
            Err(Failure::Busy) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
            Err(Failure::Upstream) => StatusCode::BAD_GATEWAY.into_response(),
        }
    }

    /// The shared fetch of `file_id`: a live or cached one, else a new download.
    fn fetch(&self, file_id: &str) -> Arc<Fetch> {
        let mut fetches = self.inner.fetches.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(fetch) = fetches.get(file_id).filter(|f| f.usable()) {
            return fetch.clone();
        }
        let fetch = Arc::new(Fetch {
            started: Instant::now(),
            state: Mutex::new(Progress::default()),
            changed: watch::Sender::new(0),
        });
        fetches.insert(file_id.to_owned(), fetch.clone());
        trim(&mut fetches);
        drop(fetches);
        let inner = self.inner.clone();
        let (file_id, task_fetch) = (file_id.to_owned(), fetch.clone());
        // Its own task: the download goes on for the others if the first client leaves.
        tokio::spawn(async move {
            let end = match tokio::time::timeout(DOWNLOAD_TIMEOUT, inner.download(&file_id, &task_fetch)).await {
                Ok(end) => end,
                Err(_) => Err(Failure::Upstream),
            };
            if end.is_err() {
                tracing::warn!(failure = ?end, "media proxy could not fetch a photo");
                let mut fetches = inner.fetches.lock().unwrap_or_else(|e| e.into_inner());
                if fetches.get(&file_id).is_some_and(|f| Arc::ptr_eq(f, &task_fetch)) {
                    fetches.remove(&file_id);
                }
            }
            task_fetch.update(|p| p.end = Some(end));
        });
        fetch
    }
}

impl Inner {
    async fn download(&self, file_id: &str, fetch: &Fetch) -> Result<(), Failure> {
        let _permit = tokio::time::timeout(DOWNLOAD_WAIT, self.downloads.acquire())
            .await
            .map_err(|_| Failure::Busy)?
            .map_err(|_| Failure::Busy)?;
        // Neither error below is logged as is: a download error holds the file URL, which holds the bot token.
        let file = self.files.get_file(FileId(file_id.to_owned())).await.map_err(|_| Failure::Upstream)?;
        if file.size > MAX_FILE_BYTES {
            return Err(Failure::Upstream);
        }
        let mut stream = self.files.download_file_stream(&file.path);
        let mut sniffed = false;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| Failure::Upstream)?;
            let mut too_large = false;
            fetch.update(|p| {
                p.bytes += chunk.len();
                too_large = p.bytes > MAX_FILE_BYTES as usize;
                p.chunks.push(chunk);
            });
            if too_large {
                return Err(Failure::Upstream);
            }
            if !sniffed {
                sniffed = fetch.sniff(false)?;
            }
        }
        if !sniffed {
            fetch.sniff(true)?;
        }
        Ok(())
    }
}

impl Fetch {
    fn update(&self, change: impl FnOnce(&mut Progress)) {
        change(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()));
        self.changed.send_modify(|version| *version += 1);
    }

    fn bytes(&self) -> usize {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).bytes
    }

    /// Fresh and not failed.
    fn usable(&self) -> bool {
        self.started.elapsed() < CACHE_TTL
            && !matches!(self.state.lock().unwrap_or_else(|e| e.into_inner()).end, Some(Err(_)))
    }

    fn finished(&self) -> bool {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).end.is_some()
    }

    /// Sets the content type once enough bytes are in (or all of them, `at_end`).
    /// `Ok(false)`: not enough yet. Anything but JPEG, PNG or WebP is refused.
    fn sniff(&self, at_end: bool) -> Result<bool, Failure> {
        let mut progress = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if progress.bytes < SNIFF_BYTES && !at_end {
            return Ok(false);
        }
        let head: Vec<u8> = progress.chunks.iter().flat_map(|c| c.iter().copied()).take(SNIFF_BYTES).collect();
        progress.content_type = Some(sniff_image_type(&head).ok_or(Failure::Upstream)?);
        drop(progress);
        self.changed.send_modify(|version| *version += 1);
        Ok(true)
    }

    /// Waits until the content type is known: it and, if the file is complete, its length.
    async fn head(&self) -> Result<(&'static str, Option<usize>), Failure> {
        let mut changes = self.changed.subscribe();
        loop {
            changes.borrow_and_update();
            {
                let progress = self.state.lock().unwrap_or_else(|e| e.into_inner());
                match (&progress.end, progress.content_type) {
                    (Some(Err(failure)), _) => return Err(*failure),
                    (Some(Ok(())), Some(content_type)) => return Ok((content_type, Some(progress.bytes))),
                    (None, Some(content_type)) => return Ok((content_type, None)),
                    _ => {}
                }
            }
            if changes.changed().await.is_err() {
                return Err(Failure::Upstream);
            }
        }
    }

    /// The file's bytes from the start, as they arrive.
    fn stream(self: Arc<Self>) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
        let changes = self.changed.subscribe();
        futures_util::stream::unfold((self, changes, Some(0usize)), |(fetch, mut changes, next)| async move {
            // `None`: an error was sent, the body ends there.
            let next = next?;
            loop {
                changes.borrow_and_update();
                let item = {
                    let progress = fetch.state.lock().unwrap_or_else(|e| e.into_inner());
                    match (progress.chunks.get(next), &progress.end) {
                        (Some(chunk), _) => Some(Ok(chunk.clone())),
                        (None, Some(Ok(()))) => return None,
                        (None, Some(Err(_))) => Some(Err(std::io::Error::other("media download failed"))),
                        (None, None) => None,
                    }
                };
                match item {
                    Some(Ok(chunk)) => return Some((Ok(chunk), (fetch, changes, Some(next + 1)))),
                    Some(Err(error)) => return Some((Err(error), (fetch, changes, None))),
                    None if changes.changed().await.is_err() => return None,
                    None => {}
                }
            }
        })
    }
}

/// Drops stale and failed fetches, then the oldest finished ones while over budget.
fn trim(fetches: &mut HashMap<String, Arc<Fetch>>) {
    fetches.retain(|_, f| f.usable());
    let mut total: usize = fetches.values().map(|f| f.bytes()).sum();
    while total > CACHE_BYTES {
        let oldest = fetches
            .iter()
            .filter(|(_, f)| f.finished())
            .min_by_key(|(_, f)| f.started)
            .map(|(id, f)| (id.clone(), f.bytes()));
        let Some((id, bytes)) = oldest else { break };
        fetches.remove(&id);
        total -= bytes;
    }
}
