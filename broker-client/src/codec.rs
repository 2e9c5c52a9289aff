//! A tokio-util codec over [`crate::wire`].

use bytes::{Buf, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::error::FeedError;
use crate::wire::{self, Check, DEFAULT_MAX_FRAME_BYTES, Frame, FrameRef};

/// Frames hpfeeds over a byte stream, with a maximum frame size applied in both directions.
///
/// Decoding checks the header before reserving room for a body, so a hostile length field
/// costs at most `max_frame_bytes` of buffer, never what it claims. Decoded frames share the
/// read buffer's memory.
#[derive(Debug, Clone, Copy)]
pub struct HpfeedsCodec {
    max_frame_bytes: usize,
}

impl HpfeedsCodec {
    /// A codec that accepts and produces frames of up to `max_frame_bytes` (INFO and AUTH are
    /// further capped at [`wire::MAX_HANDSHAKE_FRAME_BYTES`]). The limit is kept below 4 GiB,
    /// which the length field cannot exceed anyway.
    pub fn new(max_frame_bytes: usize) -> Self {
        Self {
            max_frame_bytes: max_frame_bytes.clamp(wire::HEADER_BYTES, u32::MAX as usize),
        }
    }

    /// The limit in force.
    pub fn max_frame_bytes(&self) -> usize {
        self.max_frame_bytes
    }
}

impl Default for HpfeedsCodec {
    /// hpfeeds3's limit: 1,048,581 bytes.
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME_BYTES)
    }
}

impl Decoder for HpfeedsCodec {
    type Item = Frame;
    type Error = FeedError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, FeedError> {
        match wire::check(src, self.max_frame_bytes)? {
            Check::NeedHeader => Ok(None),
            Check::NeedBody { frame_len } => {
                // Bounded by the limit: `check` refused anything longer.
                src.reserve(frame_len - src.len());
                Ok(None)
            }
            Check::Complete { frame_len } => {
                let buf = src.split_to(frame_len).freeze();
                let frame = wire::parse(&buf)?;
                Ok(Some(Frame::from_ref(&buf, frame)))
            }
        }
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, FeedError> {
        match self.decode(src)? {
            Some(frame) => Ok(Some(frame)),
            None if src.is_empty() => Ok(None),
            None => {
                let left = src.remaining();
                src.clear();
                Err(FeedError::TruncatedFrame { bytes: left })
            }
        }
    }
}

impl Encoder<FrameRef<'_>> for HpfeedsCodec {
    type Error = FeedError;

    fn encode(&mut self, frame: FrameRef<'_>, dst: &mut BytesMut) -> Result<(), FeedError> {
        Ok(wire::encode(&frame, self.max_frame_bytes, dst)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::WireError;

    #[test]
    fn decodes_byte_by_byte_and_in_bulk() {
        let mut codec = HpfeedsCodec::default();
        let frame = FrameRef::Publish {
            ident: b"a",
            channel: b"b",
            payload: b"payload",
        };
        let mut wire_bytes = BytesMut::new();
        codec.encode(frame, &mut wire_bytes).unwrap();
        codec.encode(frame, &mut wire_bytes).unwrap();

        let mut src = BytesMut::new();
        let mut out = Vec::new();
        for b in wire_bytes.iter() {
            src.extend_from_slice(&[*b]);
            while let Some(f) = codec.decode(&mut src).unwrap() {
                out.push(f);
            }
        }
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|f| f.as_ref() == frame));
        assert!(src.is_empty());
    }

    #[test]
    fn hostile_length_does_not_allocate() {
        let mut codec = HpfeedsCodec::new(1024);
        let mut src = BytesMut::from(&b"\x7f\xff\xff\xff\x03"[..]);
        assert!(matches!(
            codec.decode(&mut src),
            Err(FeedError::Wire(WireError::Oversize { .. }))
        ));
        assert!(src.capacity() < 1024);

        // At the limit: room for exactly the frame, no more.
        let mut src = BytesMut::from(&b"\x00\x00\x04\x00\x03"[..]);
        assert!(codec.decode(&mut src).unwrap().is_none());
        assert!(src.capacity() >= 1024 && src.capacity() < 2 * 1024);
    }

    #[test]
    fn eof_mid_frame_is_an_error() {
        let mut codec = HpfeedsCodec::default();
        let mut src = BytesMut::from(&b"\x00\x00\x00\x10\x03\x01"[..]);
        assert!(matches!(
            codec.decode_eof(&mut src),
            Err(FeedError::TruncatedFrame { bytes: 6 })
        ));
        assert!(codec.decode_eof(&mut BytesMut::new()).unwrap().is_none());
    }
}
