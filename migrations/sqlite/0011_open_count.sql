-- How many tasks are open (submitting, running, delivering), kept by
-- triggers in the same transaction as every change of a task's state. The
-- total-active guard reads this one row instead of counting every open task
-- on each /video: at 100,000 open tasks that count was milliseconds per
-- command. SQLite and PostgreSQL write triggers differently, so this
-- migration has one version per backend.
CREATE TABLE open_count (id BIGINT PRIMARY KEY, n BIGINT NOT NULL);
INSERT INTO open_count (id, n)
    SELECT 1, COUNT(*) FROM tasks WHERE state IN ('submitting', 'running', 'delivering');

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

-- Only a change between open and not open moves the count: submitting →
-- running → delivering does not touch it.
CREATE TRIGGER open_count_update AFTER UPDATE OF state ON tasks
    WHEN (OLD.state = 'submitting' OR OLD.state = 'running' OR OLD.state = 'delivering')
      <> (NEW.state = 'submitting' OR NEW.state = 'running' OR NEW.state = 'delivering')
BEGIN
    UPDATE open_count
    SET n = n + CASE WHEN NEW.state = 'submitting' OR NEW.state = 'running' OR NEW.state = 'delivering'
                     THEN 1 ELSE -1 END
    WHERE id = 1;
END;
