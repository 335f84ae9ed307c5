//! `/settings`: default options per private chat (that is, per user) or per group.

use std::collections::HashMap;

use sqlx::{Row, any::AnyRow};

use super::{Store, StoreError, StoreResult, database::Conn, now_ms};
use crate::models::{Setting, VideoOption, live::ChatChoices};

/// Most chats whose choices a SQLite store keeps in memory (about 80 bytes each).
const CHOICES_IN_MEMORY: usize = 4096;

/// What a store knows of the chats' choices without asking the database.
///
/// SQLite is one process per file, so every change goes through this process:
/// the choices are read once at start and kept up to date by `change_setting`,
/// and most `/video` requests (from chats that never chose anything) need no
/// database round trip for them. `None` (PostgreSQL, where another replica may
/// change them at any time, or more than `CHOICES_IN_MEMORY` chats): read each time.
pub(super) type ChoicesInMemory = std::sync::Arc<std::sync::Mutex<Option<HashMap<i64, ChatChoices>>>>;

impl Store {
    /// The chat's own choices (none for a chat that made none).
    pub async fn chat_choices(&self, chat_id: i64) -> StoreResult<ChatChoices> {
        if let Some(remembered) = self.lock_choices().as_ref() {
            return Ok(remembered.get(&chat_id).copied().unwrap_or_default());
        }
        read_chat_choices(&mut self.db.conn().await?, chat_id).await
    }

    /// SQLite, at start: every chat's choices into memory, unless there are too many.
    pub(super) async fn remember_choices(&self) -> StoreResult<()> {
        let mut conn = self.db.conn().await?;
        let rows = sqlx::query("SELECT chat_id, model, orientation, size, duration FROM chat_settings LIMIT $1")
            .bind(CHOICES_IN_MEMORY as i64 + 1)
            .fetch_all(&mut conn)
            .await?;
        if rows.len() > CHOICES_IN_MEMORY {
            return Ok(());
        }
        let mut remembered = HashMap::with_capacity(rows.len());
        for row in &rows {
            let chat_id: i64 = row.try_get("chat_id")?;
            remembered.insert(chat_id, choices_from_row(row, chat_id)?);
        }
        *self.lock_choices() = Some(remembered);
        Ok(())
    }

    fn lock_choices(&self) -> std::sync::MutexGuard<'_, Option<HashMap<i64, ChatChoices>>> {
        self.choices.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// After a change (done, failed or half done): what the database now holds
    /// goes into memory. Read while holding SQLite's only connection, so no
    /// other change can come between the read and the memory.
    async fn remember_choices_of(&self, chat_id: i64) {
        if self.lock_choices().is_none() {
            return;
        }
        let read = match self.db.conn().await {
            Ok(mut conn) => read_chat_choices(&mut conn, chat_id).await.map(|choices| (choices, conn)),
            Err(error) => Err(error),
        };
        let mut remembered = self.lock_choices();
        match (read, remembered.as_mut()) {
            (Ok((choices, _conn)), Some(chats)) if chats.len() < CHOICES_IN_MEMORY || chats.contains_key(&chat_id) => {
                if choices == ChatChoices::default() {
                    chats.remove(&chat_id);
                } else {
                    chats.insert(chat_id, choices);
                }
            }
            // Unknown now, or too many: from here on, ask the database.
            _ => *remembered = None,
        }
    }

    /// Stores one choice (or forgets them all on `Reset`).
    pub async fn change_setting(&self, chat_id: i64, setting: Setting) -> StoreResult<()> {
        let written = self.write_setting(chat_id, setting).await;
        self.remember_choices_of(chat_id).await;
        written
    }

    async fn write_setting(&self, chat_id: i64, setting: Setting) -> StoreResult<()> {
        let (column, text, number) = match setting {
            Setting::ModelMenu | Setting::Main => return Ok(()),
            Setting::Reset => {
                sqlx::query("DELETE FROM chat_settings WHERE chat_id = $1")
                    .bind(chat_id)
                    .execute(&mut self.db.conn().await?)
                    .await?;
                return Ok(());
            }
            Setting::Choose(VideoOption::Model(model)) => ("model", Some(model.to_string()), None),
            Setting::Choose(VideoOption::Shape(shape)) => ("orientation", Some(shape.stored()), None),
            Setting::Choose(VideoOption::Size(size)) => ("size", Some(size.as_str().to_owned()), None),
            Setting::Choose(VideoOption::Duration(seconds)) => ("duration", None, Some(i64::from(seconds))),
        };
        let now = now_ms();
        sqlx::query("INSERT INTO chat_settings (chat_id, updated_at) VALUES ($1, $2) ON CONFLICT (chat_id) DO NOTHING")
            .bind(chat_id)
            .bind(now)
            .execute(&mut self.db.conn().await?)
            .await?;
        // `column` is one of four fixed names above.
        let update = format!("UPDATE chat_settings SET {column} = $1, updated_at = $2 WHERE chat_id = $3");
        let query = match (text, number) {
            (Some(text), _) => sqlx::query(&update).bind(text),
            (None, number) => sqlx::query(&update).bind(number),
        };
        query.bind(now).bind(chat_id).execute(&mut self.db.conn().await?).await?;
        Ok(())
    }
}

async fn read_chat_choices(conn: &mut Conn<'_>, chat_id: i64) -> StoreResult<ChatChoices> {
    let row = sqlx::query("SELECT model, orientation, size, duration FROM chat_settings WHERE chat_id = $1")
        .bind(chat_id)
        .fetch_optional(&mut *conn)
        .await?;
    row.map_or(Ok(ChatChoices::default()), |row| choices_from_row(&row, chat_id))
}

fn choices_from_row(row: &AnyRow, chat_id: i64) -> StoreResult<ChatChoices> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("settings of chat {chat_id}: bad {what}"));
    let text = |name: &str| row.try_get::<Option<String>, _>(name);
    Ok(ChatChoices {
        model: text("model")?.map(|m| m.parse().map_err(|_| corrupt("model"))).transpose()?,
        shape: text("orientation")?.map(|o| o.parse().map_err(|_| corrupt("orientation"))).transpose()?,
        size: text("size")?.map(|s| s.parse().map_err(|_| corrupt("size"))).transpose()?,
        duration: row
            .try_get::<Option<i64>, _>("duration")?
            .map(|d| u32::try_from(d).map_err(|_| corrupt("duration")))
            .transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        models::{ModelName, Shape, Size},
        test_support,
    };

    fn reopen_url(dir: &tempfile::TempDir) -> String {
        format!("sqlite://{}/test.db", dir.path().display())
    }

    async fn story(store: Store) {
        assert_eq!(store.chat_choices(-1).await.unwrap(), ChatChoices::default());
        store.change_setting(-1, Setting::Choose(VideoOption::Shape(Shape::LANDSCAPE))).await.unwrap();
        store.change_setting(-1, Setting::Choose(VideoOption::Duration(10))).await.unwrap();
        let changed = ChatChoices { shape: Some(Shape::LANDSCAPE), duration: Some(10), ..ChatChoices::default() };
        assert_eq!(store.chat_choices(-1).await.unwrap(), changed);
        let veo = ModelName::new("veo3.1-fast").unwrap();
        store.change_setting(-1, Setting::Choose(VideoOption::Model(veo))).await.unwrap();
        store.change_setting(-1, Setting::Choose(VideoOption::Shape(Shape { width: 21, height: 9 }))).await.unwrap();
        store.change_setting(-1, Setting::Choose(VideoOption::Size(Size::Small))).await.unwrap();
        assert_eq!(
            store.chat_choices(-1).await.unwrap(),
            ChatChoices {
                model: Some(veo),
                shape: Some(Shape { width: 21, height: 9 }),
                size: Some(Size::Small),
                duration: Some(10)
            }
        );
        assert_eq!(store.chat_choices(2).await.unwrap(), ChatChoices::default(), "other chats keep the bot's defaults");
        store.change_setting(-1, Setting::Reset).await.unwrap();
        assert_eq!(store.chat_choices(-1).await.unwrap(), ChatChoices::default());
    }

    #[tokio::test]
    async fn settings_on_sqlite() {
        let (store, dir) = test_support::sqlite().await;
        assert!(store.lock_choices().is_some(), "SQLite keeps the choices in memory");
        story(store.clone()).await;
        store.change_setting(7, Setting::Choose(VideoOption::Duration(10))).await.unwrap();
        store.close().await;
        let reopened = Store::connect(&reopen_url(&dir)).await.unwrap();
        let chosen = ChatChoices { duration: Some(10), ..ChatChoices::default() };
        assert_eq!(reopened.chat_choices(7).await.unwrap(), chosen, "read back into memory at start");
        assert_eq!(reopened.lock_choices().as_ref().map(|chats| chats.len()), Some(1));
    }

    #[tokio::test]
    async fn too_many_chats_with_choices_are_read_from_the_database() {
        let (store, dir) = test_support::sqlite().await;
        for chat_id in 0..=CHOICES_IN_MEMORY as i64 {
            store.change_setting(chat_id, Setting::Choose(VideoOption::Duration(10))).await.unwrap();
        }
        assert!(store.lock_choices().is_none(), "given up once there are too many");
        store.close().await;
        let reopened = Store::connect(&reopen_url(&dir)).await.unwrap();
        assert!(reopened.lock_choices().is_none(), "and not loaded at start");
        let chosen = ChatChoices { duration: Some(10), ..ChatChoices::default() };
        assert_eq!(reopened.chat_choices(3).await.unwrap(), chosen);
        assert_eq!(reopened.chat_choices(-5).await.unwrap(), ChatChoices::default());
    }

    #[tokio::test]
    async fn settings_on_postgres() {
        let store = test_support::postgres().await;
        assert!(store.lock_choices().is_none(), "another replica may change them");
        story(store).await;
    }
}
