//! `postmortemd draft`: files in, timeline out.
