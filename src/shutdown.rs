//! The shutdown signal: SIGTERM or SIGINT.
