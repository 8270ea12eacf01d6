//! postmortemd drafts the timeline of an incident from the evidence of its window:
//! alerts, pages, Kubernetes events and rollouts, Prometheus ranges and pod logs, all in
//! one UTC clock, with clock skew and data gaps marked.
//!
//! Modules in reading order, after the pipeline (see ARCHITECTURE.md):
//! `record` (the shared nouns) → `ingest` (artifact bytes → records) → `collect` (files →
//! records and log streams) → `normalize` (timestamps → instants) → `timeline` (digest,
//! extract, skew, gaps, merge, render) → `draft` (the offline front door).

pub mod config;

pub mod record;

pub mod ingest;

pub mod collect;

pub mod normalize;

pub mod timeline;

pub mod incident;

pub mod draft;

pub mod store;

pub mod api;

pub mod telemetry;

pub mod shutdown;
