-- (Mirrors sqlite/migrations/0002.) PagerDuty fallback links. An Alertmanager incident keeps
-- its group's commonLabels as a JSON object (text, matched in Rust, so no JSON SQL functions); a stored page keeps its PagerDuty
-- incident id, so every later event of that incident joins the same incident whatever linked
-- the first one.
ALTER TABLE incidents ADD COLUMN labels TEXT;
ALTER TABLE webhooks ADD COLUMN pd_incident_id TEXT;
CREATE INDEX webhooks_pd_incident_id ON webhooks (pd_incident_id) WHERE pd_incident_id IS NOT NULL;
-- With the id, as SQLite's index ends in the rowid: the incident list's keyset seeks it.
CREATE INDEX incidents_opened_at ON incidents (opened_at_ms, id);
-- The writer finds a group's incidents by pd_incident_key (= sha256 of the group key), which
-- also finds the page-only incidents it takes over; an index on the group key itself only
-- cost every new incident one more random page write.
DROP INDEX incidents_group_key;
