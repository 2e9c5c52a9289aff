//! The report service: the RECCE7 REST API, the world map, the web dashboard and `/metrics`.
//!
//! Not built yet (issue 7).
