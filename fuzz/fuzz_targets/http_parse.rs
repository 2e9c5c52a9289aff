//! The HTTP request parser never panics, never claims more bytes than it was given, and the
//! pages answer whatever it accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sensor::plugins::http::{pages, parse};

fuzz_target!(|input: &[u8]| {
    let limits = parse::Limits::default();
    let _ = parse::looks_like_http(input);
    let mut rest = input;
    while let Ok(Some((req, used))) = parse::parse_request(rest, &limits) {
        assert!(used > 0 && used <= rest.len());
        assert!(req.body.len() <= limits.max_body_bytes);
        let _ = pages::login_attempt(&req);
        let mut out = Vec::new();
        pages::respond(&req, Some("0193f7a0-0000-7000-8000-000000000000"), req.keep_alive())
            .encode(&mut out);
        rest = &rest[used..];
    }
});
