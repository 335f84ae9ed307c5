//! Photos → image URLs for the video API, in the configured `IMAGE_MODE`.
//!
//! A Telegram file URL contains the bot token (`/file/bot<TOKEN>/…`), so only the
//! explicitly opted-in `telegram` mode ever builds one.

use std::time::Duration;

use base64::Engine;
use futures_util::StreamExt;
use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};
use teloxide::{Bot, net::Download, prelude::Requester};

use crate::{
    config::{Config, ImageMode},
    store::Store,
};

/// Largest image we inline or proxy (Telegram's own download limit is 20 MB).
const MAX_IMAGE_BYTES: u32 = 20 * 1024 * 1024;
/// Largest total of inlined images in one create request: the whole request
/// must stay a size the video API accepts and we can hold in memory.
pub const MAX_DATA_BYTES_TOTAL: u32 = 20 * 1024 * 1024;
/// Enough of a file to tell JPEG, PNG and WebP apart.
const SNIFF_BYTES: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// Telegram would not give us the file (deleted, bad id, network). Never holds a URL.
    #[error("telegram file unavailable: {0}")]
    Telegram(String),
    #[error("image too large ({0} bytes)")]
    TooLarge(u32),
    #[error("images too large together (more than {MAX_DATA_BYTES_TOTAL} bytes)")]
    TooLargeTogether,
    #[error("not a JPEG, PNG or WebP image")]
    NotAnImage,
    #[error("storing the media token failed: {0}")]
    Store(#[from] crate::store::StoreError),
}

/// An image file from Telegram, with its detected content type.
pub struct Image {
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
}

#[derive(Clone)]
pub struct ImageUrls {
    mode: ImageMode,
    files: Bot,
    store: Store,
    public_base_url: Option<Url>,
    telegram_api_url: Url,
    token: SecretString,
    proxy_ttl: Duration,
}

impl ImageUrls {
    /// Proxy tokens live as long as a task may run: the video API may fetch late.
    pub fn new(config: &Config, files: Bot, store: Store) -> Self {
        ImageUrls {
            mode: config.image_mode,
            files,
            store,
            public_base_url: config.public_base_url.clone(),
            telegram_api_url: config.telegram_api_url.clone(),
            token: config.telegram_token.clone(),
            proxy_ttl: config.task_timeout,
        }
    }

    /// One URL per Telegram file id, in order, for task `task_id`. Every file
    /// is checked to be a JPEG, PNG or WebP image first, in every mode, so a
    /// file the video API cannot read never costs a create.
    pub async fn urls(&self, task_id: i64, file_ids: &[String]) -> Result<Vec<String>, ImageError> {
        let mut urls = Vec::with_capacity(file_ids.len());
        let mut inlined: u64 = 0;
        for file_id in file_ids {
            let url = match self.mode {
                ImageMode::Data => {
                    let image = self.fetch(file_id).await?;
                    inlined += image.bytes.len() as u64;
                    if inlined > u64::from(MAX_DATA_BYTES_TOTAL) {
                        return Err(ImageError::TooLargeTogether);
                    }
                    let encoded = base64::engine::general_purpose::STANDARD.encode(&image.bytes);
                    format!("data:{};base64,{encoded}", image.content_type)
                }
                ImageMode::Proxy => {
                    self.check_is_image(file_id).await?;
                    let token = format!("{:032x}", rand::random::<u128>());
                    let expires_at = crate::store::now_ms() + self.proxy_ttl.as_millis() as i64;
                    self.store.add_media(&token, file_id, expires_at, task_id).await?;
                    // Expired tokens are dead rows: drop them as new ones come, so the table stays small.
                    self.store.purge_expired_media().await?;
                    let base = self.public_base_url.as_ref().expect("config: proxy mode has PUBLIC_BASE_URL");
                    format!("{}/media/{token}.jpg", base.as_str().trim_end_matches('/'))
                }
                ImageMode::Telegram => {
                    let path = self.check_is_image(file_id).await?;
                    let api = self.telegram_api_url.as_str().trim_end_matches('/');
                    format!("{api}/file/bot{}/{path}", self.token.expose_secret())
                }
            };
            urls.push(url);
        }
        Ok(urls)
    }

    /// Reads the first bytes of the file (the rest is not downloaded) and
    /// returns its Telegram path when it is an image the video API can read.
    async fn check_is_image(&self, file_id: &str) -> Result<String, ImageError> {
        let path = self.file_path(file_id).await?;
        let mut stream = self.files.download_file_stream(&path);
        let mut head = Vec::with_capacity(SNIFF_BYTES);
        while head.len() < SNIFF_BYTES {
            match stream.next().await {
                Some(Ok(chunk)) => head.extend_from_slice(&chunk),
                Some(Err(error)) => return Err(ImageError::Telegram(error.without_url().to_string())),
                None => break,
            }
        }
        sniff_image_type(&head).ok_or(ImageError::NotAnImage)?;
        Ok(path)
    }

    async fn file_path(&self, file_id: &str) -> Result<String, ImageError> {
        let file = self
            .files
            .get_file(teloxide::types::FileId(file_id.to_owned()))
            .await
            .map_err(|e| ImageError::Telegram(e.to_string()))?;
        if file.size > MAX_IMAGE_BYTES {
            return Err(ImageError::TooLarge(file.size));
        }
        Ok(file.path)
    }

    /// Downloads an image from Telegram (for `data` URLs and the media proxy).
    pub async fn fetch(&self, file_id: &str) -> Result<Image, ImageError> {
        let path = self.file_path(file_id).await?;
        let mut bytes = Vec::new();
        self.files.download_file(&path, &mut bytes).await.map_err(|e| ImageError::Telegram(e.to_string()))?;
        let content_type = sniff_image_type(&bytes).ok_or(ImageError::NotAnImage)?;
        Ok(Image { bytes, content_type })
    }
}

/// Content type from the first bytes; `None` for anything but JPEG, PNG, WebP.
pub fn sniff_image_type(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [0xFF, 0xD8, 0xFF, ..] => Some("image/jpeg"),
        [0x89, b'P', b'N', b'G', ..] => Some("image/png"),
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => Some("image/webp"),
        _ => None,
    }
}

/// A media proxy file name `<32 hex>.jpg` → its token; anything else is refused
/// before it reaches the database (no traversal, no other files).
pub fn media_token(file_name: &str) -> Option<&str> {
    let token = file_name.strip_suffix(".jpg")?;
    (token.len() == 32 && token.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_the_three_accepted_types() {
        assert_eq!(sniff_image_type(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(sniff_image_type(b"\x89PNG\r\n"), Some("image/png"));
        assert_eq!(sniff_image_type(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff_image_type(b"GIF89a"), None);
        assert_eq!(sniff_image_type(b""), None);
    }

    #[test]
    fn media_names_are_strict() {
        let good = "0123456789abcdef0123456789abcdef";
        assert_eq!(media_token(&format!("{good}.jpg")), Some(good));
        for bad in [
            good.to_owned(),
            format!("{good}.png"),
            format!("../{good}.jpg"),
            format!("{}.jpg", good.to_uppercase()),
            format!("{}x.jpg", &good[1..]),
            "..%2F..%2Fetc%2Fpasswd.jpg".to_owned(),
            ".jpg".to_owned(),
        ] {
            assert_eq!(media_token(&bad), None, "{bad}");
        }
    }
}
