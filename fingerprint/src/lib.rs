//! Passive fingerprints and scan detection: pure functions over bytes, no sockets (the sensor's
//! packet capture feeds them).
