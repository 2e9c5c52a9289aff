//! The scan detector (being written).
