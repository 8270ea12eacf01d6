//! Where evidence comes from. Today: files exported by hand (`files`) and the log
//! streams in them (`logs`). Every collector yields [`crate::record::Record`]s for the
//! small artifacts and line streams for logs.

pub mod files;

pub mod logs;
