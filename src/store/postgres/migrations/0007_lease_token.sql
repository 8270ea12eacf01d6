-- Several daemons on one store (issue 12; mirrors sqlite/migrations/0007, 0006 is left
-- to mirror sqlite's 0006): a collection job's lease carries a fencing token,
-- bumped by every claim. A pass writes only while its token is the job's, so a daemon that
-- stalled past its lease (another claimed the job since) cannot store its pass a second time.
-- Additive: a daemon of the previous release ignores the column.
ALTER TABLE collection_jobs ADD COLUMN lease_token BIGINT NOT NULL DEFAULT 0;
