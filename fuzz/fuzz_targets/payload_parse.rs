//! The intake's payload parser (the normalizer's and geoloc's) on arbitrary bytes, on each
//! channel it knows: it never panics, and a recce7 event it accepts, serialised again, is
//! accepted again unchanged (what the store writes is what was checked).

#![no_main]

use intake::parse::{Parsed, PayloadLimits, parse};
use libfuzzer_sys::fuzz_target;

const CHANNELS: [&str; 3] = ["recce7.events", "cowrie.sessions", "dionaea.connections"];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, payload)) = data.split_first() else {
        return;
    };
    let channel = CHANNELS[usize::from(selector) % CHANNELS.len()];
    let limits = PayloadLimits {
        max_payload: 64 * 1024,
        max_field: 256,
        max_items: 64,
    };
    if let Ok(Parsed::Event(event)) = parse(channel, "fuzz", payload, &limits) {
        let again = serde_json::to_vec(&*event).expect("an accepted event serialises");
        match parse(channel, "fuzz", &again, &limits) {
            Ok(Parsed::Event(second)) => assert_eq!(event, second),
            other => panic!("an accepted event is refused when sent again: {other:?}"),
        }
    }
});
