-- Albums shared by every replica on one database: each replica stores the
-- album photos it receives, and the `/video` caption of an album waits here
-- until exactly one replica claims it. Rows older than a few hours are purged
-- by the bot. Created on SQLite too (one schema), where albums stay in memory.
CREATE TABLE album_photos (
    chat_id        BIGINT NOT NULL,
    media_group_id TEXT NOT NULL,
    message_id     BIGINT NOT NULL,
    file_id        TEXT NOT NULL,
    seen_at        BIGINT NOT NULL,
    PRIMARY KEY (chat_id, media_group_id, message_id)
);
CREATE INDEX album_photos_by_age ON album_photos (seen_at);

CREATE TABLE album_commands (
    chat_id        BIGINT NOT NULL,
    media_group_id TEXT NOT NULL,
    -- The first caption stored wins; a later one of the same album is ignored.
    command        TEXT NOT NULL,
    claimed_by     TEXT,
    seen_at        BIGINT NOT NULL,
    PRIMARY KEY (chat_id, media_group_id)
);
CREATE INDEX album_commands_by_age ON album_commands (seen_at);
