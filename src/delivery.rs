//! Sends a finished video into the chat, as a reply to the command, playable
//! inline: by URL; else downloaded (≤ 50 MB, streamed to a temp file, only
//! from public addresses or the video API's own origin, and only if it looks
//! like a video) and uploaded; else as a link.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use teloxide::{ApiError, RequestError, types::InlineKeyboardMarkup};
use tokio::io::AsyncWriteExt;

use crate::{
    net_guard::{GuardError, GuardedClient},
    task::Task,
    telegram::Telegram,
    texts,
};

/// Bots may upload videos of up to 50 MB (Bot API `sendVideo`).
pub const MAX_UPLOAD_BYTES: u64 = 50 * 1024 * 1024;

/// A whole 50 MB download from a slow CDN; the client's own timeout may be shorter.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(300);

/// A chat action shows for 5 s or until a message arrives: repeat it while uploading.
const ACTION_EVERY: Duration = Duration::from_secs(4);

/// How the video reached the chat (for logs and metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr)]
pub enum Delivered {
    /// Telegram fetched it from the video URL itself.
    #[strum(serialize = "url")]
    ByUrl,
    /// Downloaded by the bot and uploaded.
    #[strum(serialize = "upload")]
    Uploaded,
    /// Only its link was sent (too large, or it could not be fetched).
    #[strum(serialize = "link")]
    Link,
}

impl Delivered {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Nothing reached the chat, not even the link: try again on a later round.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("telegram refused or did not answer the message: {0}")]
    Telegram(#[source] RequestError),
}

impl DeliveryError {
    /// Telegram refused the message for a reason it names (chat gone, bot blocked,
    /// no rights, …): sending it again will not help. Network trouble, exhausted
    /// 429s and errors Telegram does not name (e.g. "Bad Gateway") are worth a retry.
    pub fn is_permanent(&self) -> bool {
        match self {
            DeliveryError::Telegram(RequestError::Api(error)) => !matches!(error, ApiError::Unknown(_)),
            DeliveryError::Telegram(RequestError::MigrateToChatId(_)) => true,
            DeliveryError::Telegram(_) => false,
        }
    }
}

/// Delivers `video_url` for `task`, with `buttons` (the re-requests) under
/// what it sends. See the module doc for the order of attempts. Also returns
/// the Telegram file id of the sent video (none for a link).
pub async fn deliver(
    telegram: &Telegram,
    http: &GuardedClient,
    task: &Task,
    video_url: &str,
    buttons: &InlineKeyboardMarkup,
) -> Result<(Delivered, Option<String>), DeliveryError> {
    deliver_with_limit(telegram, http, task, video_url, buttons, MAX_UPLOAD_BYTES).await
}

async fn deliver_with_limit(
    telegram: &Telegram,
    http: &GuardedClient,
    task: &Task,
    video_url: &str,
    buttons: &InlineKeyboardMarkup,
    limit: u64,
) -> Result<(Delivered, Option<String>), DeliveryError> {
    let lang = task.lang;
    let caption = texts::video_caption(lang, task);
    tracing::debug!(task = task.id, video_url, "delivering video");

    // Only web URLs: the URL comes from the video API and is fetched by us below.
    let url = reqwest::Url::parse(video_url).ok().filter(|u| matches!(u.scheme(), "http" | "https"));
    if let Some(url) = url {
        let by_url = telegram.send_video_url(task.chat_id, task.command_msg_id, url.clone(), &caption, buttons).await;
        match by_url {
            Ok(sent) => return Ok((Delivered::ByUrl, video_file_id(&sent))),
            // The chat itself is closed to us: an upload would fail the same way.
            Err(RequestError::Api(error)) if refuses_chat(&error) => {
                tracing::info!(task = task.id, %error, "telegram refused the video for this chat");
            }
            // Telegram could not use the URL (too large for it, unreachable, wrong type…).
            Err(RequestError::Api(error)) => {
                tracing::info!(task = task.id, %error, "telegram could not send the video by URL; uploading it");
                match upload(telegram, http, task, &url, &caption, buttons, limit).await {
                    Ok(file_id) => return Ok((Delivered::Uploaded, file_id)),
                    Err(why) => tracing::info!(task = task.id, %why, "video not uploaded; sending its link"),
                }
            }
            // The request never reached Telegram, or 429 outlasted the retries:
            // nothing was sent, so the next round tries the video again.
            Err(error) if !may_have_arrived(&error) => return Err(DeliveryError::Telegram(error)),
            // No clear answer (e.g. the client timed out while Telegram was still
            // fetching the URL): the video may have arrived, and a second video is
            // worse than a superfluous link, so only the link follows.
            Err(error) => {
                tracing::warn!(task = task.id, %error, "unclear whether the video was sent by URL; sending its link")
            }
        }
    } else {
        tracing::warn!(task = task.id, "video URL is not an http(s) URL; sending it as text");
    }
    telegram
        .reply_with_keyboard(
            task.chat_id,
            task.command_msg_id,
            &texts::video_link(lang, task, video_url),
            buttons.clone(),
        )
        .await
        .map(|_| (Delivered::Link, None))
        .map_err(DeliveryError::Telegram)
}

fn video_file_id(sent: &teloxide::types::Message) -> Option<String> {
    sent.video().map(|video| video.file.id.0.clone())
}

/// Refusals about the chat, not the video: no point downloading and uploading it.
fn refuses_chat(error: &ApiError) -> bool {
    use ApiError::*;
    matches!(
        error,
        BotBlocked
            | ChatNotFound
            | UserNotFound
            | GroupDeactivated
            | BotKicked
            | BotKickedFromSupergroup
            | BotKickedFromChannel
            | UserDeactivated
            | CantInitiateConversation
            | CantTalkWithBots
            | NotEnoughRightsToPostMessages
    )
}

/// Whether a failed send may still have reached the chat.
fn may_have_arrived(error: &RequestError) -> bool {
    match error {
        RequestError::RetryAfter(_) | RequestError::MigrateToChatId(_) => false,
        RequestError::Network(e) => !(e.is_connect() || e.is_builder()),
        _ => true,
    }
}

#[derive(Debug, thiserror::Error)]
enum UploadError {
    #[error("larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("download failed: {0}")]
    Download(reqwest::Error),
    #[error("download refused: {0}")]
    Refused(#[from] GuardError),
    #[error("not a video (content type {0:?})")]
    NotAVideo(String),
    #[error("temp file: {0}")]
    Io(#[from] std::io::Error),
    #[error("upload failed: {0}")]
    Telegram(#[from] RequestError),
}

impl From<reqwest::Error> for UploadError {
    fn from(error: reqwest::Error) -> Self {
        // reqwest puts the URL into its message; video URLs are logged at debug only.
        UploadError::Download(error.without_url())
    }
}

async fn upload(
    telegram: &Telegram,
    http: &GuardedClient,
    task: &Task,
    url: &reqwest::Url,
    caption: &str,
    buttons: &InlineKeyboardMarkup,
    limit: u64,
) -> Result<Option<String>, UploadError> {
    let file = TempVideo::new(task.id);
    let send = async {
        download(http, url, file.path(), limit).await?;
        let sent = telegram.upload_video(task.chat_id, task.command_msg_id, file.path(), caption, buttons).await?;
        Ok::<_, UploadError>(video_file_id(&sent))
    };
    // "uploading video…" in the chat while we download and upload, so a phone shows progress.
    let result = tokio::select! {
        result = send => result,
        () = keep_showing_upload(telegram, task.chat_id) => unreachable!("the chat action loop never ends"),
    };
    file.remove().await;
    result
}

async fn keep_showing_upload(telegram: &Telegram, chat_id: i64) {
    loop {
        telegram.uploading_video(chat_id).await;
        tokio::time::sleep(ACTION_EVERY).await;
    }
}

/// Streams `url` into `path`, never holding the video in memory; refuses more
/// than `limit` bytes, and anything that is neither labelled nor shaped like a video.
async fn download(http: &GuardedClient, url: &reqwest::Url, path: &Path, limit: u64) -> Result<(), UploadError> {
    let mut response = http.get(url, DOWNLOAD_TIMEOUT).await?.error_for_status()?;
    if response.content_length().is_some_and(|n| n > limit) {
        return Err(UploadError::TooLarge { limit });
    }
    let content_type =
        response.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let mut checked = content_type.to_ascii_lowercase().starts_with("video/");
    let mut head = Vec::with_capacity(VIDEO_MAGIC_BYTES);
    let mut out = tokio::fs::File::create(path).await?;
    let mut written: u64 = 0;
    while let Some(chunk) = response.chunk().await? {
        written += chunk.len() as u64;
        if written > limit {
            return Err(UploadError::TooLarge { limit });
        }
        if !checked {
            head.extend(chunk.iter().take(VIDEO_MAGIC_BYTES - head.len()));
            if head.len() == VIDEO_MAGIC_BYTES {
                if !looks_like_video(&head) {
                    return Err(UploadError::NotAVideo(content_type));
                }
                checked = true;
            }
        }
        out.write_all(&chunk).await?;
    }
    if !checked && !looks_like_video(&head) {
        return Err(UploadError::NotAVideo(content_type));
    }
    out.flush().await?;
    Ok(())
}

/// Bytes needed to recognise a video container.
const VIDEO_MAGIC_BYTES: usize = 8;

/// MP4/MOV (an `ftyp` box first) or WebM/Matroska (an EBML header).
fn looks_like_video(head: &[u8]) -> bool {
    matches!(head, [_, _, _, _, b'f', b't', b'y', b'p', ..] | [0x1A, 0x45, 0xDF, 0xA3, ..])
}

/// A temp file path removed when done: explicitly, or on drop (error, panic, cancellation).
struct TempVideo {
    path: PathBuf,
}

impl TempVideo {
    fn new(task_id: i64) -> Self {
        let name = format!("sora-bot-{task_id}-{:016x}.mp4", rand::random::<u64>());
        TempVideo { path: std::env::temp_dir().join(name) }
    }

    fn path(&self) -> &Path {
        &self.path
    }

    async fn remove(mut self) {
        let path = std::mem::take(&mut self.path);
        if let Err(error) = tokio::fs::remove_file(&path).await
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %path.display(), %error, "temp video not removed");
        }
    }
}

impl Drop for TempVideo {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests;
