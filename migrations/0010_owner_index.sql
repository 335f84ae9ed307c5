-- A replica finds its open tasks by owner alone: every way a task ends clears
-- its owner, so the index needs no state, and a task whose state moves on
-- (submitting → running → delivering) no longer rewrites its entry: one page
-- fewer written per created video. Rows ended before owners were cleared
-- (per-row leases) lose theirs here, so that holds for every row.
UPDATE tasks SET lease_owner = NULL WHERE state NOT IN ('submitting', 'running', 'delivering');
DROP INDEX tasks_by_owner;
CREATE INDEX tasks_by_owner ON tasks (lease_owner);
