//! File kind detection (by content) and dispatch to the `ingest` parsers.
