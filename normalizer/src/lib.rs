//! The normalizer: an hpfeeds consumer that turns `recce7.events` (and compatible channels of
//! other honeypots, such as `cowrie.sessions` and `dionaea.connections`) into normalized session
//! records in the central store, deduplicated by event id.
//!
//! Not built yet (issue 6).
