//! `/settings`: default options per private chat (that is, per user) or per group.

use sqlx::Row;

use super::{Store, StoreError, StoreResult, now_ms};
use crate::{command::VideoOptions, keyboards::Setting};

impl Store {
    /// The chat's defaults: the bot's `defaults` with the chat's own choices on top.
    /// A duration the chosen model does not offer becomes the nearest one it does.
    pub async fn chat_defaults(&self, chat_id: i64, defaults: &VideoOptions) -> StoreResult<VideoOptions> {
        let row = sqlx::query("SELECT model, orientation, size, duration FROM chat_settings WHERE chat_id = $1")
            .bind(chat_id)
            .fetch_optional(&mut *self.db.conn().await?)
            .await?;
        let Some(row) = row else { return Ok(*defaults) };
        let corrupt = |what: &str| StoreError::Corrupt(format!("settings of chat {chat_id}: bad {what}"));
        let mut options = *defaults;
        if let Some(model) = row.try_get::<Option<String>, _>("model")? {
            options.model = model.parse().map_err(|_| corrupt("model"))?;
        }
        if let Some(orientation) = row.try_get::<Option<String>, _>("orientation")? {
            options.orientation = orientation.parse().map_err(|_| corrupt("orientation"))?;
        }
        if let Some(size) = row.try_get::<Option<String>, _>("size")? {
            options.size = size.parse().map_err(|_| corrupt("size"))?;
        }
        if let Some(duration) = row.try_get::<Option<i64>, _>("duration")? {
            options.duration = u32::try_from(duration).map_err(|_| corrupt("duration"))?;
        }
        options.duration = options.model.nearest_duration(options.duration);
        Ok(options)
    }

    /// Stores one choice (or forgets them all on `Reset`).
    pub async fn change_setting(&self, chat_id: i64, setting: Setting) -> StoreResult<()> {
        let (column, text, number) = match setting {
            Setting::Reset => {
                sqlx::query("DELETE FROM chat_settings WHERE chat_id = $1")
                    .bind(chat_id)
                    .execute(&mut *self.db.conn().await?)
                    .await?;
                return Ok(());
            }
            Setting::Model(model) => ("model", Some(model.as_str()), None),
            Setting::Orientation(orientation) => ("orientation", Some(orientation.as_str()), None),
            Setting::Size(size) => ("size", Some(size.as_str()), None),
            Setting::Duration(seconds) => ("duration", None, Some(i64::from(seconds))),
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
        command::{Model, Orientation, Size},
        store::test_support,
    };

    const DEFAULTS: VideoOptions =
        VideoOptions { model: Model::Sora2, orientation: Orientation::Portrait, size: Size::Large, duration: 15 };

    async fn story(store: Store) {
        assert_eq!(store.chat_defaults(-1, &DEFAULTS).await.unwrap(), DEFAULTS);
        store.change_setting(-1, Setting::Orientation(Orientation::Landscape)).await.unwrap();
        store.change_setting(-1, Setting::Duration(10)).await.unwrap();
        let changed = VideoOptions { orientation: Orientation::Landscape, duration: 10, ..DEFAULTS };
        assert_eq!(store.chat_defaults(-1, &DEFAULTS).await.unwrap(), changed);
        // Pro has no 10 s: the nearest it offers.
        store.change_setting(-1, Setting::Model(Model::Sora2Pro)).await.unwrap();
        assert_eq!(
            store.chat_defaults(-1, &DEFAULTS).await.unwrap(),
            VideoOptions { model: Model::Sora2Pro, duration: 15, ..changed }
        );
        assert_eq!(store.chat_defaults(2, &DEFAULTS).await.unwrap(), DEFAULTS, "other chats keep the bot's defaults");
        store.change_setting(-1, Setting::Reset).await.unwrap();
        assert_eq!(store.chat_defaults(-1, &DEFAULTS).await.unwrap(), DEFAULTS);
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
