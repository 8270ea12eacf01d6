-- Incidents in event time: when an incident last fired (an alert's startsAt, a page
-- triggered or reopened), so a late, older event never reopens it (`incident::grouping`).
-- NULL: a page-only incident no trigger reached. Incidents stored before read as having
-- fired when they opened, so any later resolution still resolves them.
ALTER TABLE incidents ADD COLUMN last_fired_at_ms BIGINT;
UPDATE incidents SET last_fired_at_ms = opened_at_ms;
