-- Reconciliation (issue 11): what the daemon learns by polling Alertmanager and PagerDuty's
-- REST API is stored as the webhooks it missed, marked by where it came from.
-- `reconciled` NULL: a webhook as received; else 'missed' (an Alertmanager notification made
-- from alerts it never heard of), 'gone' (a resolution made from alerts gone from every
-- reachable Alertmanager: its time is the poll's) or 'rest' (a PagerDuty REST log entry).
ALTER TABLE webhooks ADD COLUMN reconciled TEXT;

-- An incident reconciliation opened for an Alertmanager group it could not name: the alerts
-- API does not return groupKey, so its group key is provisional until a webhook holding one of
-- its alert occurrences (fingerprint, startsAt) adopts it with the real one.
ALTER TABLE incidents ADD COLUMN provisional_group BIGINT NOT NULL DEFAULT 0;
CREATE INDEX incidents_provisional ON incidents (opened_at_ms) WHERE provisional_group = 1;

-- A REST log entry and a webhook of the same transition are one: pages keep their PagerDuty
-- incident, action and time, so either side finds the other.
ALTER TABLE webhooks ADD COLUMN page_action TEXT;
ALTER TABLE webhooks ADD COLUMN page_occurred_at_ms BIGINT;

-- Where each polled source resumes: PagerDuty's last seen time ('pagerduty').
CREATE TABLE reconcile_positions (
    source TEXT PRIMARY KEY,
    position_ms BIGINT NOT NULL
);
