//! Turns every timestamp a source wrote into an [`Instant`](crate::record::Instant),
//! keeping what was assumed (zone, year) as flags. It reads text and returns data; it
//! never opens files.

pub mod bytes;
pub mod redact;
pub mod time;
