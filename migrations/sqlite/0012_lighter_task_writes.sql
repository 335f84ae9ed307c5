-- Two index pages fewer written for every new task.
--
-- `id BIGINT PRIMARY KEY` is not SQLite's row id: the table kept a row id of
-- its own and a separate index from `id` to it, written on every insert and
-- read on every update by id. `INTEGER PRIMARY KEY` makes `id` the row id.
-- SQLite cannot change a column's type in place, so the table is rebuilt
-- (its indexes and triggers go with the old one and are made again).
--
-- The daily guards count a day's rows, all of them or one chat's:
-- one index on (day, chat_id) serves both, where there were two.
CREATE TABLE tasks_rebuilt (
    id              INTEGER PRIMARY KEY,
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
    cancelled_at    BIGINT,
    video_file_id   TEXT,
    unknown_told_at BIGINT,
    cost            BIGINT NOT NULL DEFAULT 1,
    credits         BIGINT NOT NULL DEFAULT 0,
    -- The same Telegram update delivered twice must not create a second paid task.
    -- (Also the index behind a chat's /tasks.)
    UNIQUE (chat_id, command_msg_id)
);
INSERT INTO tasks_rebuilt (id, chat_id, user_id, command_msg_id, status_msg_id, lang, prompt, model, orientation,
    size, duration, image_file_ids, upstream_id, state, upstream_status, progress_pct, video_url, error, shown_text,
    shown_at, created_at, updated_at, day, next_poll_at, lease_owner, lease_until, cancelled_at, video_file_id,
    unknown_told_at, cost, credits)
SELECT id, chat_id, user_id, command_msg_id, status_msg_id, lang, prompt, model, orientation,
    size, duration, image_file_ids, upstream_id, state, upstream_status, progress_pct, video_url, error, shown_text,
    shown_at, created_at, updated_at, day, next_poll_at, lease_owner, lease_until, cancelled_at, video_file_id,
    unknown_told_at, cost, credits
FROM tasks;
DROP TABLE tasks;
ALTER TABLE tasks_rebuilt RENAME TO tasks;

CREATE INDEX tasks_by_state ON tasks (state, next_poll_at);
CREATE INDEX tasks_by_user_day ON tasks (user_id, day);
CREATE INDEX tasks_by_day_chat ON tasks (day, chat_id);
CREATE INDEX tasks_by_owner ON tasks (lease_owner);

-- The open count's triggers, as migration 0011 made them: the rows moved
-- above were already counted.
CREATE TRIGGER open_count_insert AFTER INSERT ON tasks
    WHEN NEW.state = 'submitting' OR NEW.state = 'running' OR NEW.state = 'delivering'
BEGIN
    UPDATE open_count SET n = n + 1 WHERE id = 1;
END;

CREATE TRIGGER open_count_delete AFTER DELETE ON tasks
    WHEN OLD.state = 'submitting' OR OLD.state = 'running' OR OLD.state = 'delivering'
BEGIN
    UPDATE open_count SET n = n - 1 WHERE id = 1;
END;

CREATE TRIGGER open_count_update AFTER UPDATE OF state ON tasks
    WHEN (OLD.state = 'submitting' OR OLD.state = 'running' OR OLD.state = 'delivering')
      <> (NEW.state = 'submitting' OR NEW.state = 'running' OR NEW.state = 'delivering')
BEGIN
    UPDATE open_count
    SET n = n + CASE WHEN NEW.state = 'submitting' OR NEW.state = 'running' OR NEW.state = 'delivering'
                     THEN 1 ELSE -1 END
    WHERE id = 1;
END;
