-- One schema for SQLite and PostgreSQL: only types and syntax both speak.
-- Times are unix milliseconds; `day` is the UTC day number for the daily quota.
CREATE TABLE tasks (
    id              BIGINT PRIMARY KEY,
    chat_id         BIGINT NOT NULL,
    user_id         BIGINT NOT NULL,
    command_msg_id  BIGINT NOT NULL,
    status_msg_id   BIGINT,
    lang            TEXT NOT NULL,
    prompt          TEXT NOT NULL,
    model           TEXT NOT NULL,
    orientation     TEXT NOT NULL,
    size            TEXT NOT NULL,
    duration        BIGINT NOT NULL,
    image_file_ids  TEXT NOT NULL,
    upstream_id     TEXT,
    state           TEXT NOT NULL,
    upstream_status TEXT,
    progress_pct    BIGINT,
    video_url       TEXT,
    error           TEXT,
    shown_text      TEXT,
    shown_at        BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    day             BIGINT NOT NULL,
    next_poll_at    BIGINT NOT NULL,
    lease_owner     TEXT,
    lease_until     BIGINT,
    -- The same Telegram update delivered twice must not create a second paid task.
    -- (Also the index behind a chat's /tasks: one index fewer to write per command.)
    UNIQUE (chat_id, command_msg_id)
);
CREATE INDEX tasks_by_state ON tasks (state, next_poll_at);
CREATE INDEX tasks_by_user_day ON tasks (user_id, day);

-- A single row locked by every quota check, so two creates (even from two
-- processes) are counted one after the other and never share the last slot.
CREATE TABLE quota_guard (id BIGINT PRIMARY KEY, n BIGINT NOT NULL);
INSERT INTO quota_guard (id, n) VALUES (1, 0);

-- Media proxy tokens: unguessable name → Telegram file id, until expiry.
CREATE TABLE media (
    token      TEXT PRIMARY KEY,
    file_id    TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
