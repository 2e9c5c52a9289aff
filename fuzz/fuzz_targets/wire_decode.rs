//! Fuzzes the hpfeeds decoder: arbitrary bytes, fed whole and in pieces, must never panic or
//! over-allocate, and every frame that decodes must re-encode to exactly the bytes it came from.
#![no_main]

use broker_client::{HpfeedsCodec, wire};
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::{Decoder, Encoder};

const MAX: usize = 4096;

fuzz_target!(|data: &[u8]| {
    // The pure functions, on the whole input.
    let _ = wire::parse(data);
    let mut rest = data;
    while let Ok(Some((frame, used))) = wire::decode(rest, MAX) {
        let mut out = BytesMut::new();
        wire::encode(&frame, MAX, &mut out).expect("a decoded frame re-encodes");
        assert_eq!(&out[..], &rest[..used], "round trip changes bytes");
        rest = &rest[used..];
    }

    // The codec, fed in pieces whose sizes come from the input itself.
    let mut codec = HpfeedsCodec::new(MAX);
    let mut buf = BytesMut::new();
    let step = usize::from(data.first().copied().unwrap_or(1)).max(1);
    for chunk in data.chunks(step) {
        buf.extend_from_slice(chunk);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(frame)) => {
                    let mut out = BytesMut::new();
                    codec.encode(frame.as_ref(), &mut out).expect("re-encodes");
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
        assert!(buf.capacity() <= 4 * MAX + 4 * step, "buffer grew past the limit");
    }
});
