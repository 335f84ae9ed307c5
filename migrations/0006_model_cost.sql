-- What each video counts against the daily limits: its model's cost when it
-- was requested. Rows from before models had costs count 1, as they did.
ALTER TABLE tasks ADD COLUMN cost BIGINT NOT NULL DEFAULT 1;
