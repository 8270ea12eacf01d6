-- Responders add to the draft over the write API (issue 16): notes, corrections of the title
-- or severity, manual resolutions and merges, each kept with its author and times.
-- `kind`: 'note' (text), 'correction' (title and/or severity), 'resolve' (text: its optional
-- note), 'merge' (merged_from: the incident merged into this one).
-- `at_ms`: when it happened (a note's or resolution's own time); `received_at_ms`: when it
-- was sent. The id orders inputs and is the revision a timeline's cache key carries.
CREATE TABLE responder_inputs (
    id INTEGER PRIMARY KEY,
    incident_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    received_at_ms BIGINT NOT NULL,
    author TEXT NOT NULL,
    text TEXT,
    title TEXT,
    severity TEXT,
    merged_from BIGINT
);
CREATE INDEX responder_inputs_incident ON responder_inputs (incident_id, id);

-- The corrected title and severity shown instead of those the signals gave (which grouping
-- keeps writing to title and severity); NULL: not corrected.
ALTER TABLE incidents ADD COLUMN title_corrected TEXT;
ALTER TABLE incidents ADD COLUMN severity_corrected TEXT;

-- The incident this one was merged into (NULL: none). Merges are kept flat: merging B into A
-- also points every incident merged into B at A, so one level of lookup finds them all.
ALTER TABLE incidents ADD COLUMN merged_into BIGINT;
CREATE INDEX incidents_merged_into ON incidents (merged_into) WHERE merged_into IS NOT NULL;
