-- Incidents and the webhooks that make them. Times are unix milliseconds (BIGINT), so the
-- same queries run on PostgreSQL; no SQLite date functions.
CREATE TABLE incidents (
    id INTEGER PRIMARY KEY,
    group_key TEXT,
    pd_incident_key TEXT,
    pd_incident_id TEXT,
    title TEXT NOT NULL,
    status TEXT NOT NULL,
    severity TEXT,
    opened_at_ms BIGINT NOT NULL,
    last_signal_at_ms BIGINT NOT NULL,
    resolved_at_ms BIGINT,
    truncated_alerts BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX incidents_group_key ON incidents (group_key);
CREATE INDEX incidents_pd_incident_key ON incidents (pd_incident_key);
CREATE INDEX incidents_pd_incident_id ON incidents (pd_incident_id);

CREATE TABLE webhooks (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    dedup_key TEXT NOT NULL,
    received_at_ms BIGINT NOT NULL,
    incident_id BIGINT REFERENCES incidents (id),
    body BLOB NOT NULL,
    UNIQUE (source, dedup_key)
);
CREATE INDEX webhooks_incident ON webhooks (incident_id);
