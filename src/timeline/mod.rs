//! From records and log digests to the draft timeline: extraction of rows, skew and gap
//! detection, merging, rendering. Pure: data in, data (and doubts) out.

pub mod templates;
