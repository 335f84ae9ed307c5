-- /cancel silences a task but keeps it open: the job still runs (and is paid
-- for) upstream, so it keeps its active slot until the API ends it.
ALTER TABLE tasks ADD COLUMN cancelled_at BIGINT;
-- Daily budgets for everyone together and per group chat.
CREATE INDEX tasks_by_day ON tasks (day);
CREATE INDEX tasks_by_chat_day ON tasks (chat_id, day);

-- Media tokens belong to a task: deleted when its create is refused or it ends,
-- so a photo is not served longer than the video API can need it.
ALTER TABLE media ADD COLUMN task_id BIGINT;
CREATE INDEX media_by_task ON media (task_id);

-- /healthz writes here to prove the database still takes writes.
CREATE TABLE health_probe (id BIGINT PRIMARY KEY, at BIGINT NOT NULL, pad TEXT NOT NULL);
