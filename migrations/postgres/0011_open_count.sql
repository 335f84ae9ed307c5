-- How many tasks are open (submitting, running, delivering), kept by
-- triggers in the same transaction as every change of a task's state. The
-- total-active guard reads this one row instead of counting every open task
-- on each /video: at 100,000 open tasks that count was milliseconds per
-- command, under the lock that serialises reservations across replicas.
-- SQLite and PostgreSQL write triggers differently, so this migration has
-- one version per backend.
CREATE TABLE open_count (id BIGINT PRIMARY KEY, n BIGINT NOT NULL);
-- No reservation may slip between the count and the triggers.
LOCK TABLE tasks IN SHARE ROW EXCLUSIVE MODE;
INSERT INTO open_count (id, n)
    SELECT 1, COUNT(*) FROM tasks WHERE state IN ('submitting', 'running', 'delivering');

-- Once per statement, from the rows it changed: a row trigger would update
-- the one row once per task, and in a single transaction PostgreSQL walks
-- every earlier version of it on each update (a bulk insert of 100,000
-- tasks had not finished after two minutes).
CREATE FUNCTION open_count_follow() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    opened BIGINT := 0;
    closed BIGINT := 0;
BEGIN
    IF TG_OP <> 'DELETE' THEN
        SELECT COUNT(*) INTO opened FROM new_rows WHERE state IN ('submitting', 'running', 'delivering');
    END IF;
    IF TG_OP <> 'INSERT' THEN
        SELECT COUNT(*) INTO closed FROM old_rows WHERE state IN ('submitting', 'running', 'delivering');
    END IF;
    -- submitting → running → delivering, and every other update, leave the row alone (no write).
    IF opened <> closed THEN
        UPDATE open_count SET n = n + opened - closed WHERE id = 1;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER open_count_insert AFTER INSERT ON tasks
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION open_count_follow();
CREATE TRIGGER open_count_update AFTER UPDATE ON tasks
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION open_count_follow();
CREATE TRIGGER open_count_delete AFTER DELETE ON tasks
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION open_count_follow();
