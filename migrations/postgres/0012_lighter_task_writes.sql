-- The daily guards count a day's rows, all of them or one chat's: one index
-- on (day, chat_id) serves both, where there were two, so every new task
-- writes one index entry fewer. (SQLite's version of this migration also
-- makes `id` its row id; PostgreSQL has no row id to share.)
CREATE INDEX tasks_by_day_chat ON tasks (day, chat_id);
DROP INDEX tasks_by_day;
DROP INDEX tasks_by_chat_day;
