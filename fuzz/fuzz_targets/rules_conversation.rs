//! The rules engine (`kind = "rules"`) on arbitrary attacker lines, with the service pack's own
//! FTP and SMTP rules: matching, templates (captures, variables, `base64` and `nul:N`) and state
//! changes never panic, every reply stays free of the attacker's CR and LF (only the template's
//! own line ends), variables stay within their bound, and the state is always one that exists.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sensor::limits::Limits;
use sensor::plugins::rules::engine::Place;
use sensor::plugins::rules::options::{Compiled, compile};

const PACK: &str = include_str!("../../configs/service-pack.toml");

/// The pack's rules instances, compiled once.
fn instances() -> &'static [Compiled] {
    static COMPILED: OnceLock<Vec<Compiled>> = OnceLock::new();
    COMPILED.get_or_init(|| {
        let pack: toml::Table = PACK.parse().expect("the pack parses");
        pack["plugin"]
            .as_array()
            .expect("instances")
            .iter()
            .filter(|p| p.get("kind").and_then(|k| k.as_str()) == Some("rules"))
            .map(|p| {
                let options = p["options"].as_table().expect("options");
                compile(options, &Limits::default()).expect("the pack's rules compile")
            })
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    let all = instances();
    let compiled = &all[usize::from(selector) % all.len()];
    let rules = &compiled.rules;
    let mut conv = rules.start();
    let place = Place {
        peer: "203.0.113.9:40000".parse().unwrap(),
        local: "127.0.0.1:2121".parse().unwrap(),
        session: "fuzz",
        passive_port: Some(40001),
    };
    for line_bytes in input.split(|b| *b == b'\n').take(64) {
        let line_bytes = &line_bytes[..line_bytes.len().min(compiled.max_line)];
        let line = String::from_utf8_lossy(line_bytes);
        let chosen = rules.choose(conv.state, &line);
        let outcome = rules.apply(
            &mut conv,
            chosen.as_ref().map(|(rule, captures)| (*rule, captures)),
            line_bytes,
            &line,
            place,
        );
        assert!(conv.state < rules.states.len(), "a state that exists");
        for var in &conv.vars {
            assert!(var.value.len() <= rules.max_var_bytes, "variable {} within its bound", var.name);
        }
        // A reply's line ends are the template's: every CR is followed by LF, and an attacker's
        // bare CR or LF never reaches the peer.
        let reply = &outcome.reply;
        for (i, b) in reply.iter().enumerate() {
            if *b == b'\r' {
                assert_eq!(reply.get(i + 1), Some(&b'\n'), "a bare CR in {reply:?}");
            }
            if *b == b'\n' {
                assert!(i > 0 && reply[i - 1] == b'\r', "a bare LF in {reply:?}");
            }
        }
        if outcome.close {
            break;
        }
    }
});
