//! postmortemd drafts the timeline of an incident from the evidence of its window:
//! alerts, pages, Kubernetes events and rollouts, Prometheus ranges and pod logs, all in
//! one UTC clock, with clock skew and data gaps marked.
//!
//! Modules in reading order, after the pipeline (see ARCHITECTURE.md):
//! `record` (the shared nouns) → `ingest` (artifact bytes → records) → `normalize`
//! (timestamps → instants) → `timeline` (digest, extract, skew, gaps, merge, render) →
//! `artifacts` (offline inputs: files, log streams, the evidence bundle) → `draft` (the
//! offline front door); the daemon: `incident` (its rules) → `store` → `collect` (live
//! passes) → `jobs` (scheduling them) → `api`. `postmortem` (the document drafted from a
//! timeline, its lint and action export) reads `timeline` and `incident`'s severity rank,
//! and `api` and `main.rs` call it.

pub mod config;

pub mod record;

pub mod ingest;

pub mod normalize;

pub mod timeline;

pub mod artifacts;

pub mod draft;

pub mod incident;

pub mod postmortem;

pub mod page;

pub mod store;

pub mod collect;

pub mod jobs;

pub mod reconcile;

pub mod api;

pub mod telemetry;

pub mod shutdown;
