//! The incident: its window and title drawn from its signals. `draft` and the daemon share
//! these rules, so an incident's window is the same whichever door its evidence came in by.
