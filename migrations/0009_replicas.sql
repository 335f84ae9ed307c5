-- One heartbeat row per running replica. A task's `lease_owner` names a
-- replica, and the lease holds while that replica's heartbeat is fresh: renewing
-- every lease is one write per replica, whatever the number of tasks. Rows
-- leased this way have `lease_until` NULL; a number there is a lease from
-- before replicas had heartbeats, valid until that time.
CREATE TABLE replicas (
    id           TEXT PRIMARY KEY,
    heartbeat_at BIGINT NOT NULL,
    started_at   BIGINT NOT NULL
);
-- A replica rebuilds its polling schedule from its own open tasks.
CREATE INDEX tasks_by_owner ON tasks (lease_owner, state);
