-- A create whose outcome is unknown holds its requester's slot only for a
-- short while; when that ends the requester is told once. The time they were
-- told is kept in the row, so no other replica (nor the next start) tells
-- them again.
ALTER TABLE tasks ADD COLUMN unknown_told_at BIGINT;
-- Unknown outcomes from before this column were reported when they happened;
-- telling their requesters again now, maybe months later, would only confuse.
UPDATE tasks SET unknown_told_at = updated_at WHERE state = 'unknown';
