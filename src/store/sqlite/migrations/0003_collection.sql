-- Live collection: one job per incident (a pass at first signal, again while open, a final
-- pass after resolution plus the tail) and what its passes brought back. Bodies are gzip.
-- Times are unix milliseconds; the SQL runs on PostgreSQL too.
CREATE TABLE collection_jobs (
    incident_id BIGINT PRIMARY KEY REFERENCES incidents (id),
    next_run_at_ms BIGINT NOT NULL,
    -- A daemon working on the job holds it until then; a crashed one's lease runs out.
    lease_until_ms BIGINT,
    passes BIGINT NOT NULL DEFAULT 0,
    last_run_at_ms BIGINT,
    finished_at_ms BIGINT,
    -- Where each container's log resumes: JSON, stream key → cursor.
    cursors TEXT NOT NULL
);
CREATE INDEX collection_jobs_due ON collection_jobs (next_run_at_ms);

-- Log lines in `kubectl logs --prefix --timestamps` form, appended per pass and stream.
-- Each chunk is stored as soon as it is read, in a transaction of its own, tagged with the
-- pass it belongs to; readers see only chunks of passes the job counts as stored (`pass <=
-- collection_jobs.passes`), so a pass that crashed before its cursors were stored shows
-- nothing, and its retry (the same pass number) deletes what it left first.
CREATE TABLE evidence_logs (
    id INTEGER PRIMARY KEY,
    incident_id BIGINT NOT NULL REFERENCES incidents (id),
    pass BIGINT NOT NULL,
    stream TEXT NOT NULL,
    n_bytes BIGINT NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX evidence_logs_incident ON evidence_logs (incident_id, stream, id);
CREATE INDEX evidence_logs_pass ON evidence_logs (incident_id, pass);

-- Kubernetes objects, the newest seen of each uid (so a deleted pod keeps its last state).
CREATE TABLE evidence_objects (
    incident_id BIGINT NOT NULL REFERENCES incidents (id),
    kind TEXT NOT NULL,
    uid TEXT NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (incident_id, kind, uid)
);

-- Whole files replaced on each pass (Prometheus range queries and their queries.json).
CREATE TABLE evidence_files (
    incident_id BIGINT NOT NULL REFERENCES incidents (id),
    name TEXT NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (incident_id, name)
);

-- Gaps the collectors reported, one per source and reason, widened as passes repeat them.
CREATE TABLE evidence_gaps (
    incident_id BIGINT NOT NULL REFERENCES incidents (id),
    source TEXT NOT NULL,
    reason TEXT NOT NULL,
    start_ms BIGINT NOT NULL,
    end_ms BIGINT NOT NULL,
    node TEXT,
    PRIMARY KEY (incident_id, source, reason)
);
