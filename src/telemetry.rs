//! Tracing initialisation and the one `Metrics` struct.
