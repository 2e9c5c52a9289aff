//! The telnet decoder, line editor and shell never panic and stay bounded on any input, split
//! at any point.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sensor::plugins::telnet::negotiation::{LineEditor, LineEvent, TelnetDecoder};
use sensor::shell::Shell;

fuzz_target!(|input: &[u8]| {
    let split = input.first().map_or(0, |b| *b as usize) % (input.len() + 1);
    let (a, b) = input.split_at(split);
    let mut decoder = TelnetDecoder::new();
    let mut editor = LineEditor::new(256);
    let mut shell = Shell::new("root");
    let (mut data, mut reply, mut echo, mut events) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for part in [a, b] {
        decoder.decode(part, &mut data, &mut reply);
        assert!(data.len() <= part.len());
        editor.push(&data, true, &mut echo, &mut events);
        data.clear();
        for event in events.drain(..) {
            if let LineEvent::Line(line) | LineEvent::TooLong(line) = event {
                assert!(line.len() <= 257);
                let out = shell.run_input(&line);
                assert!(out.commands.iter().all(|c| c.len() <= line.len()));
                assert!(out.text.len() <= 64 * 1024);
            }
        }
    }
});
