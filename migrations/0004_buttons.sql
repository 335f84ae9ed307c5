-- Buttons (inline keyboards), /settings and inline sharing.

-- A /video command refused for a fixable mistake (wrong duration, unknown
-- option): its text is kept here so a button under the error can run it
-- corrected. Button data holds only the random id, never the text.
CREATE TABLE pending_requests (
    id             BIGINT PRIMARY KEY,
    chat_id        BIGINT NOT NULL,
    user_id        BIGINT NOT NULL,
    args           TEXT NOT NULL,
    image_file_ids TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);
CREATE INDEX pending_requests_by_age ON pending_requests (created_at);

-- Button presses already acted on: Telegram may deliver the same update
-- twice, and a re-request press must not become two paid tasks.
CREATE TABLE button_presses (
    callback_id TEXT PRIMARY KEY,
    created_at  BIGINT NOT NULL
);
CREATE INDEX button_presses_by_age ON button_presses (created_at);

-- /settings: default options per private chat (= per user) or per group.
-- NULL means "the bot's default".
CREATE TABLE chat_settings (
    chat_id     BIGINT PRIMARY KEY,
    model       TEXT,
    orientation TEXT,
    size        TEXT,
    duration    BIGINT,
    updated_at  BIGINT NOT NULL
);

-- The Telegram file id of a delivered video, so inline mode can share it.
ALTER TABLE tasks ADD COLUMN video_file_id TEXT;
