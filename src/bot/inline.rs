//! Inline mode: `@<bot> [words]` in any chat lists the user's own delivered
//! videos (newest first, filtered by prompt) by their Telegram file ids, so
//! choosing one sends it there without uploading it again. Telegram sends
//! these updates only when inline mode is on in BotFather (`/setinline`).

use std::sync::Arc;

use teloxide::{
    prelude::*,
    types::{FileId, InlineQueryResult, InlineQueryResultCachedVideo},
};

use super::{context::AppState, error::HandlerResult};
use crate::texts::{self, Lang};

/// Results per answer (Telegram allows 50); scrolling asks for the next page.
const MAX_RESULTS: usize = 20;
/// How long Telegram may reuse an answer for this user: a new video appears soon.
const CACHE_SECS: u32 = 10;

pub async fn answer(query: InlineQuery, state: Arc<AppState>) -> HandlerResult {
    let user_id = query.from.id.0 as i64;
    // As in a private chat with the bot: strangers get an empty list.
    // The offset we gave with the previous page: the id to continue below.
    let before = query.offset.parse::<i64>().ok();
    let (videos, next) = if state.config.access.may_create(user_id, user_id) {
        state.store.shareable_videos(user_id, query.query.trim(), before, MAX_RESULTS).await?
    } else {
        (Vec::new(), None)
    };
    let next_offset = next.map(|id| id.to_string()).unwrap_or_default();
    let lang = Lang::from_code(query.from.language_code.as_deref());
    let results: Vec<InlineQueryResult> = videos
        .into_iter()
        .map(|(task, file_id)| {
            let caption = texts::video_caption(lang, &task);
            InlineQueryResultCachedVideo::new(task.id.to_string(), FileId(file_id), texts::inline_title(&task))
                .caption(caption)
                .into()
        })
        .collect();
    crate::telegram::with_retry("answerInlineQuery", || {
        state
            .telegram
            .bot
            .answer_inline_query(query.id.clone(), results.clone())
            .cache_time(CACHE_SECS)
            .is_personal(true)
            .next_offset(next_offset.clone())
            .send()
    })
    .await?;
    Ok(())
}
