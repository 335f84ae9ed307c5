//! `/settings`: default options per private chat (that is, per user) or per group.

use sqlx::Row;

use super::{Store, StoreError, StoreResult, now_ms};
use crate::models::{Setting, VideoOption, live::ChatChoices};

impl Store {
    /// The chat's own choices (none for a chat that made none).
    pub async fn chat_choices(&self, chat_id: i64) -> StoreResult<ChatChoices> {
        let row = sqlx::query("SELECT model, orientation, size, duration FROM chat_settings WHERE chat_id = $1")
            .bind(chat_id)
            .fetch_optional(&mut *self.db.conn().await?)
            .await?;
        let Some(row) = row else { return Ok(ChatChoices::default()) };
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

    /// Stores one choice (or forgets them all on `Reset`).
    pub async fn change_setting(&self, chat_id: i64, setting: Setting) -> StoreResult<()> {
        let (column, text, number) = match setting {
            Setting::ModelMenu | Setting::Main => return Ok(()),
            Setting::Reset => {
                sqlx::query("DELETE FROM chat_settings WHERE chat_id = $1")
                    .bind(chat_id)
                    .execute(&mut *self.db.conn().await?)
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
            .execute(&mut *self.db.conn().await?)
            .await?;
        // `column` is one of four fixed names above.
        let update = format!("UPDATE chat_settings SET {column} = $1, updated_at = $2 WHERE chat_id = $3");
        let query = match (text, number) {
            (Some(text), _) => sqlx::query(&update).bind(text),
            (None, number) => sqlx::query(&update).bind(number),
        };
        query.bind(now).bind(chat_id).execute(&mut *self.db.conn().await?).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        models::{ModelName, Shape, Size},
        test_support,
    };

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
        let (store, _dir) = test_support::sqlite().await;
        story(store).await;
    }

    #[tokio::test]
    async fn settings_on_postgres() {
        story(test_support::postgres().await).await;
    }
}
