//! Telnet option negotiation and input decoding for the telnet honeypot.
//!
//! The honeypot has to look like the `telnetd` of a BusyBox-based embedded device, because
//! scanners (nmap `-sV`, Shodan, Censys) and bots fingerprint the very first bytes a telnet
//! server sends, and brute-forcers such as hydra change how they type by what the server
//! answers. BusyBox 1.15 and later `telnetd` sends exactly
//! `IAC DO ECHO, IAC DO NAWS, IAC WILL ECHO, IAC WILL SGA` at connect (1.00 to 1.14 also sent
//! `IAC DO LFLOW`), then never answers the peer's negotiation at all. We do the same: the
//! greeting ([`greeting`]) is the only negotiation we ever send.
//!
//! The peer's commands are stripped from the input exactly as BusyBox 1.24's `telnetd`
//! strips them (its `remove_iacs`), quirks included, because what reaches the shell (and
//! what is echoed back) is observable:
//! - `IAC IAC` is one 0xFF data byte, and `IAC NOP` (PuTTY's keep-alive) is dropped;
//! - `IAC SB NAWS` is taken as exactly nine bytes: the four after the option byte are the
//!   window size (columns then rows, high byte first, never un-doubled), and the two after
//!   them (meant to be `IAC SE`) are dropped whatever they are;
//! - every other command is taken as three bytes and dropped, so a two-byte command such as
//!   `IAC AYT` swallows the byte after it, and `IAC SB` of any other option drops only the
//!   option byte: its payload reaches the shell as data, and its closing `IAC SE` swallows
//!   the next byte.
//!
//! Everything here is pure and byte-at-a-time: [`TelnetDecoder`] and [`LineEditor`] keep their
//! state between calls, so input split at any byte boundary decodes exactly like input given
//! in one piece (BusyBox waits for a command's missing bytes the same way). Every buffer is
//! bounded, nothing here can panic on attacker input, and there is no I/O: the caller owns the
//! socket.
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

/// "Interpret as command" (255): starts every telnet command; doubled to send a 0xFF data byte.
pub const IAC: u8 = 255;
/// Peer must stop using an option (254): part of the four negotiation verbs of RFC 855.
pub const DONT: u8 = 254;
/// Asks the peer to use an option (253): part of the four negotiation verbs of RFC 855.
pub const DO: u8 = 253;
/// Refuses or stops using an option (252): part of the four negotiation verbs of RFC 855.
pub const WONT: u8 = 252;
/// Offers or agrees to use an option (251): part of the four negotiation verbs of RFC 855.
pub const WILL: u8 = 251;
/// Subnegotiation begin (250): option parameters (window size, terminal type) follow until `IAC SE`.
pub const SB: u8 = 250;
/// Go ahead (249): a two-byte command; BusyBox takes it as three bytes, as every command but NOP.
pub const GA: u8 = 249;
/// Erase line (248): a two-byte command; BusyBox takes it as three bytes and ignores it.
pub const EL: u8 = 248;
/// Erase character (247): a two-byte command; BusyBox takes it as three bytes and ignores it.
pub const EC: u8 = 247;
/// Are you there (246): a two-byte command; BusyBox takes it as three bytes and never answers.
pub const AYT: u8 = 246;
/// Abort output (245): a two-byte command; BusyBox takes it as three bytes and ignores it.
pub const AO: u8 = 245;
/// Interrupt process (244): a two-byte command; BusyBox takes it as three bytes (no Ctrl-C).
pub const IP: u8 = 244;
/// Break (243): a two-byte command; BusyBox takes it as three bytes and ignores it.
pub const BRK: u8 = 243;
/// Data mark (242): a two-byte command; BusyBox takes it as three bytes and ignores it.
pub const DM: u8 = 242;
/// No operation (241): sent by clients such as PuTTY as keep-alive; the one two-byte command
/// BusyBox strips as two bytes.
pub const NOP: u8 = 241;
/// Subnegotiation end (240): closes an `IAC SB` block.
pub const SE: u8 = 240;
/// End of record (239, RFC 885): a valid two-byte command; BusyBox takes it as three bytes.
pub const EOR: u8 = 239;
/// Lowest valid command byte after IAC (236 = EOF of RFC 1184); anything lower is a protocol
/// error (counted, then handled as BusyBox handles any command).
const LOWEST_COMMAND: u8 = 236;

/// Option 0, binary transmission: listed so callers can name what the peer asked for in logs.
pub const OPT_BINARY: u8 = 0;
/// Option 1, echo: offered in the greeting (server-side echo for character-at-a-time mode).
pub const OPT_ECHO: u8 = 1;
/// Option 3, suppress go-ahead: offered in the greeting so the client sends each keystroke.
pub const OPT_SGA: u8 = 3;
/// Option 5, status: listed so callers can name what the peer asked for in logs.
pub const OPT_STATUS: u8 = 5;
/// Option 6, timing mark: listed so callers can name what the peer asked for in logs.
pub const OPT_TIMING_MARK: u8 = 6;
/// Option 24, terminal type (RFC 1091): never asked for, as BusyBox never asks.
pub const OPT_TTYPE: u8 = 24;
/// Option 31, negotiate about window size (RFC 1073): requested at connect, as BusyBox does.
pub const OPT_NAWS: u8 = 31;
/// Option 32, terminal speed: listed so callers can name what the peer asked for in logs.
pub const OPT_TSPEED: u8 = 32;
/// Option 33, remote flow control: old BusyBox asked for it at connect; 1.2x does not.
pub const OPT_LFLOW: u8 = 33;
/// Option 34, linemode: hydra and netkit clients offer it; BusyBox leaves the offer unanswered.
pub const OPT_LINEMODE: u8 = 34;
/// Option 39, new environment: listed so callers can name what the peer asked for in logs.
pub const OPT_NEW_ENVIRON: u8 = 39;

/// The bytes BusyBox 1.2x `telnetd` sends at connect, byte for byte:
/// `IAC DO ECHO, IAC DO NAWS, IAC WILL ECHO, IAC WILL SGA`.
const GREETING: [u8; 12] = [
    IAC, DO, OPT_ECHO, IAC, DO, OPT_NAWS, IAC, WILL, OPT_ECHO, IAC, WILL, OPT_SGA,
];

/// Bytes to send as soon as a connection is accepted, before any banner.
///
/// They are the exact bytes of BusyBox 1.2x `telnetd`, so nmap and internet scanners classify
/// the port as the telnet service of an embedded device rather than as an unknown service or
/// as a honeypot. They are the only negotiation the server ever sends: [`TelnetDecoder`]
/// answers nothing, as BusyBox answers nothing.
pub fn greeting() -> &'static [u8] {
    &GREETING
}

/// Appends `data` to `out` with every 0xFF byte doubled (`IAC IAC`), as RFC 854 requires.
///
/// Shell output and echo can contain 0xFF (for example `cat` of a binary or `echo -e '\xff'`);
/// sent unescaped it would be read by the client as the start of a command and corrupt the
/// session, which a careful attacker would notice. BusyBox's `telnetd` doubles it too.
pub fn escape_iac(data: &[u8], out: &mut Vec<u8>) {
    for &b in data {
        out.push(b);
        if b == IAC {
            out.push(IAC);
        }
    }
}

/// Bytes of `IAC SB NAWS` taken after the option byte: four of window size, then the two
/// meant to be `IAC SE`, dropped unchecked (BusyBox takes the block as nine bytes in all).
const NAWS_TAIL: usize = 6;

/// Where the byte parser is inside the telnet stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Plain data.
    Data,
    /// After IAC.
    Iac,
    /// After `IAC x` for any command but IAC, NOP and SB: the third byte is dropped.
    Third,
    /// After `IAC SB`: NAWS starts the window size, any other byte ends the command.
    SbOption,
    /// Inside `IAC SB NAWS`: the first `got` of its [`NAWS_TAIL`] bytes.
    Naws { got: u8, bytes: [u8; NAWS_TAIL] },
}

/// Per-connection telnet input state: strips the peer's commands from the stream exactly as
/// BusyBox 1.24 `telnetd` does, and records the window size it reports.
///
/// Why a state machine fed byte by byte: TCP may split a command anywhere (between `IAC` and
/// `SB`, inside a NAWS payload...), and bots deliberately send odd sequences. Feeding any split
/// of the same input gives the same data and state. It holds no buffer: a few bytes per
/// connection.
#[derive(Clone, Debug)]
pub struct TelnetDecoder {
    state: State,
    window: Option<(u16, u16)>,
    errors: u32,
}

impl Default for TelnetDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl TelnetDecoder {
    /// A decoder for a connection on which [`greeting`] has just been sent.
    pub fn new() -> Self {
        TelnetDecoder {
            state: State::Data,
            window: None,
            errors: 0,
        }
    }

    /// Feeds raw bytes from the socket.
    ///
    /// Plain data bytes are appended to `data` (`IAC IAC` becomes one 0xFF byte; commands are
    /// dropped as BusyBox drops them, see the module docs). `reply` is where answers to the
    /// peer's negotiation would go: BusyBox never answers, so nothing is ever appended to it;
    /// it is kept so callers send whatever it holds. `data` grows by at most `input.len()`
    /// bytes. The line discipline (CR LF, CR NUL) is left to [`LineEditor`].
    pub fn decode(&mut self, input: &[u8], data: &mut Vec<u8>, reply: &mut Vec<u8>) {
        let _ = reply;
        for &b in input {
            self.step(b, data);
        }
    }

    /// The peer's window size as `(columns, rows)`, from its last `IAC SB NAWS`.
    ///
    /// Lets the shell lay out `ls` in as many columns as a real terminal would, and is a
    /// useful fingerprint of the client (bots usually never send one). Read as BusyBox reads
    /// it: a doubled 0xFF in the payload is not un-doubled.
    pub fn window_size(&self) -> Option<(u16, u16)> {
        self.window
    }

    /// How many malformed sequences the peer sent: a byte after IAC that is no command, an
    /// `IAC SE` outside a subnegotiation, an `IAC SB NAWS` not closed by `IAC SE` after four
    /// bytes (a doubled 0xFF or a wrong length), an empty `IAC SB IAC SE`.
    ///
    /// They are handled as BusyBox handles them; the count is only for the record. Real
    /// clients make none; a non-zero count marks a fuzzer, a broken bot or an exploit attempt
    /// against telnet parsers, which is worth recording.
    pub fn protocol_errors(&self) -> u32 {
        self.errors
    }

    fn error(&mut self) {
        self.errors = self.errors.saturating_add(1);
    }

    fn step(&mut self, b: u8, data: &mut Vec<u8>) {
        self.state = match self.state {
            State::Data if b == IAC => State::Iac,
            State::Data => {
                data.push(b);
                State::Data
            }
            State::Iac => match b {
                IAC => {
                    data.push(IAC);
                    State::Data
                }
                NOP => State::Data,
                SB => State::SbOption,
                _ => {
                    if b == SE || b < LOWEST_COMMAND {
                        self.error();
                    }
                    State::Third
                }
            },
            State::Third => State::Data,
            State::SbOption if b == OPT_NAWS => State::Naws {
                got: 0,
                bytes: [0; NAWS_TAIL],
            },
            State::SbOption => {
                if b == IAC {
                    // `IAC SB IAC`: an empty subnegotiation (the SE that follows becomes data).
                    self.error();
                }
                State::Data
            }
            State::Naws { got, mut bytes } => {
                if let Some(slot) = bytes.get_mut(usize::from(got)) {
                    *slot = b;
                }
                let got = got.saturating_add(1);
                if usize::from(got) < NAWS_TAIL {
                    State::Naws { got, bytes }
                } else {
                    let [c1, c0, r1, r0, iac, se] = bytes;
                    if (iac, se) != (IAC, SE) {
                        self.error();
                    }
                    self.window =
                        Some((u16::from_be_bytes([c1, c0]), u16::from_be_bytes([r1, r0])));
                    State::Data
                }
            }
        };
    }
}

/// What the [`LineEditor`] produced from the keystrokes it was fed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LineEvent {
    /// A complete line, without its terminator, control bytes included (the honeypot
    /// records exactly what was typed).
    Line(Vec<u8>),
    /// Ctrl-C: the partial line was dropped, the caller should show a fresh prompt.
    Interrupt,
    /// Ctrl-D on an empty line: the client wants to log out.
    Eof,
    /// The line grew past the maximum; this is the partial line (exactly the maximum length).
    /// The rest of that line, up to its terminator, is discarded rather than run as a
    /// second command.
    TooLong(Vec<u8>),
}

/// Where the editor is inside a terminal escape sequence (arrow keys send `ESC [ A`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Escape {
    None,
    Esc,
    Csi(u8),
}

/// How one stored byte appeared on the client's screen, so backspace erases correctly.
const CELL_HIDDEN: u8 = 0;
const CELL_START: u8 = 1;
const CELL_CONTINUATION: u8 = 2;
/// Longest escape sequence swallowed before giving up on it.
const MAX_ESCAPE: u8 = 16;

const CR: u8 = b'\r';
const LF: u8 = b'\n';
const NUL: u8 = 0;
const CTRL_C: u8 = 0x03;
const CTRL_D: u8 = 0x04;
const BS: u8 = 0x08;
const ESC: u8 = 0x1b;
const DEL: u8 = 0x7f;

/// Assembles lines from character-at-a-time input, as the server-side line editor of a
/// BusyBox shell would, and produces the echo the client expects.
///
/// Why here and not in the shell: in character mode the client sends each keystroke and
/// shows only what the server echoes, so the server must echo, erase on backspace and
/// recognise every end-of-line convention (CR LF, CR NUL, LF, lone CR) that clients and bots
/// use, across any split of the input.
#[derive(Clone, Debug)]
pub struct LineEditor {
    max: usize,
    buf: Vec<u8>,
    cells: Vec<u8>,
    after_cr: bool,
    discarding: bool,
    escape: Escape,
}

impl LineEditor {
    /// An editor whose lines hold at most `max_line_bytes` bytes (at least 1).
    ///
    /// The bound keeps a peer that never sends a newline from growing memory; longer lines
    /// produce [`LineEvent::TooLong`].
    pub fn new(max_line_bytes: usize) -> Self {
        let max = max_line_bytes.max(1);
        LineEditor {
            max,
            buf: Vec::new(),
            cells: Vec::new(),
            after_cr: false,
            discarding: false,
            escape: Escape::None,
        }
    }

    /// The bytes of the line typed so far (not yet ended).
    ///
    /// Lets the caller record what was pending when the connection closed.
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }

    /// Feeds decoded data bytes (the `data` output of [`TelnetDecoder::decode`]).
    ///
    /// `echo` says whether to echo (false while reading a password). Echo bytes are appended
    /// to `echo_out`: printable bytes as typed, CR LF at the end of a line, `"\x08 \x08"`
    /// when backspace (0x08) or DEL (0x7f) erases a printed character, `"^C\r\n"` on Ctrl-C.
    /// Control bytes and escape sequences (arrow keys) are kept in the line, because the
    /// honeypot records them, but are not echoed raw. `echo_out` may contain 0xFF: pass it
    /// through [`escape_iac`] before sending.
    ///
    /// CR LF, CR NUL, a lone LF and a lone CR all end a line; the LF or NUL after a CR is
    /// swallowed even when it arrives in a later call, so it never makes an extra empty line.
    pub fn push(
        &mut self,
        data: &[u8],
        echo: bool,
        echo_out: &mut Vec<u8>,
        events: &mut Vec<LineEvent>,
    ) {
        for &b in data {
            if self.after_cr {
                self.after_cr = false;
                if b == LF || b == NUL {
                    continue;
                }
            }
            match b {
                CR => {
                    self.end_line(echo, echo_out, events);
                    self.after_cr = true;
                }
                LF => self.end_line(echo, echo_out, events),
                CTRL_C => {
                    self.clear();
                    if echo {
                        echo_out.extend_from_slice(b"^C\r\n");
                    }
                    events.push(LineEvent::Interrupt);
                }
                CTRL_D if self.buf.is_empty() && !self.discarding => events.push(LineEvent::Eof),
                BS | DEL => self.erase(echo, echo_out),
                ESC => {
                    self.escape = Escape::Esc;
                    self.store(b, CELL_HIDDEN, events);
                }
                _ if b >= 0x20 && self.escape != Escape::None => {
                    self.escape = match self.escape {
                        Escape::Esc if b == b'[' || b == b'O' => Escape::Csi(0),
                        Escape::Csi(n) if !(0x40..=0x7e).contains(&b) && n < MAX_ESCAPE => {
                            Escape::Csi(n.saturating_add(1))
                        }
                        _ => Escape::None,
                    };
                    self.store(b, CELL_HIDDEN, events);
                }
                _ if b < 0x20 => {
                    self.escape = Escape::None;
                    self.store(b, CELL_HIDDEN, events);
                }
                _ => {
                    let cell = if (0x80..=0xbf).contains(&b)
                        && self.cells.last().is_some_and(|&c| c != CELL_HIDDEN)
                    {
                        CELL_CONTINUATION
                    } else {
                        CELL_START
                    };
                    if self.store(b, cell, events) && echo {
                        echo_out.push(b);
                    }
                }
            }
        }
    }

    fn clear(&mut self) {
        self.buf.clear();
        self.cells.clear();
        self.discarding = false;
        self.escape = Escape::None;
    }

    /// Stores one byte; returns whether it was kept (false while discarding an overlong line).
    fn store(&mut self, b: u8, cell: u8, events: &mut Vec<LineEvent>) -> bool {
        if self.discarding {
            return false;
        }
        if self.buf.len() >= self.max {
            self.cells.clear();
            self.escape = Escape::None;
            events.push(LineEvent::TooLong(std::mem::take(&mut self.buf)));
            self.discarding = true;
            return false;
        }
        self.buf.push(b);
        self.cells.push(cell);
        true
    }

    fn end_line(&mut self, echo: bool, echo_out: &mut Vec<u8>, events: &mut Vec<LineEvent>) {
        if echo {
            echo_out.extend_from_slice(b"\r\n");
        }
        if self.discarding {
            self.clear();
            return;
        }
        let line = std::mem::take(&mut self.buf);
        self.clear();
        events.push(LineEvent::Line(line));
    }

    fn erase(&mut self, echo: bool, echo_out: &mut Vec<u8>) {
        self.escape = Escape::None;
        if self.discarding {
            return;
        }
        // Drop the continuation bytes of a UTF-8 character, then the byte that started it.
        while self.cells.last() == Some(&CELL_CONTINUATION) {
            self.cells.pop();
            self.buf.pop();
        }
        let Some(cell) = self.cells.pop() else {
            return;
        };
        self.buf.pop();
        if cell == CELL_START && echo {
            echo_out.extend_from_slice(b"\x08 \x08");
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::expect_used)]
mod tests {
    use super::*;

    fn decode_all(d: &mut TelnetDecoder, input: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let mut data = Vec::new();
        let mut reply = Vec::new();
        d.decode(input, &mut data, &mut reply);
        (data, reply)
    }

    #[test]
    fn greeting_is_busybox_telnetd() {
        assert_eq!(
            greeting(),
            &[
                0xff, 0xfd, 0x01, 0xff, 0xfd, 0x1f, 0xff, 0xfb, 0x01, 0xff, 0xfb, 0x03
            ]
        );
    }

    #[test]
    fn plain_data_passes_through() {
        let mut d = TelnetDecoder::new();
        let (data, reply) = decode_all(&mut d, b"root\r\n");
        assert_eq!(data, b"root\r\n");
        assert!(reply.is_empty());
        assert_eq!(d.protocol_errors(), 0);
    }

    #[test]
    fn iac_iac_is_one_data_byte() {
        let mut d = TelnetDecoder::new();
        let (data, _) = decode_all(&mut d, &[b'a', IAC, IAC, b'b']);
        assert_eq!(data, [b'a', 0xff, b'b']);
    }

    #[test]
    fn acknowledgements_of_greeting_get_no_reply() {
        let mut d = TelnetDecoder::new();
        // netkit-telnet style answers to the greeting.
        let input = [
            IAC, WONT, OPT_ECHO, IAC, WILL, OPT_NAWS, IAC, DO, OPT_ECHO, IAC, DO, OPT_SGA,
        ];
        let (data, reply) = decode_all(&mut d, &input);
        assert!(data.is_empty());
        assert!(reply.is_empty(), "reply {reply:?}");
        // Repeating the same answers changes nothing and still gets no reply.
        let (_, reply) = decode_all(&mut d, &input);
        assert!(reply.is_empty());
        assert_eq!(d.protocol_errors(), 0);
    }

    #[test]
    fn no_negotiation_is_ever_answered() {
        // BusyBox telnetd skips every WILL/WONT/DO/DONT without a word: hydra's
        // `IAC WILL LINEMODE` included (answered, it makes hydra type a character at a time).
        let mut d = TelnetDecoder::new();
        let mut input = Vec::new();
        for verb in [WILL, WONT, DO, DONT] {
            for opt in [
                OPT_BINARY,
                OPT_ECHO,
                OPT_SGA,
                OPT_STATUS,
                OPT_TIMING_MARK,
                OPT_TTYPE,
                OPT_NAWS,
                OPT_TSPEED,
                OPT_LFLOW,
                OPT_LINEMODE,
                OPT_NEW_ENVIRON,
                200,
            ] {
                input.extend_from_slice(&[IAC, verb, opt]);
            }
        }
        input.extend_from_slice(b"root\r\n");
        let (data, reply) = decode_all(&mut d, &input);
        assert_eq!(data, b"root\r\n");
        assert!(reply.is_empty(), "reply {reply:?}");
        assert_eq!(d.protocol_errors(), 0);
    }

    #[test]
    fn hydra_session_reaches_the_login_intact() {
        // What hydra 9.4 sends: its answers to the greeting, its own offers, then the user name.
        let mut d = TelnetDecoder::new();
        let mut input = vec![
            IAC,
            WILL,
            OPT_NAWS,
            IAC,
            DO,
            OPT_ECHO,
            IAC,
            DO,
            OPT_SGA,
            IAC,
            WILL,
            OPT_LINEMODE,
            IAC,
            WONT,
            OPT_ECHO,
        ];
        input.extend_from_slice(b"root\r\n");
        let (data, reply) = decode_all(&mut d, &input);
        assert_eq!(data, b"root\r\n");
        assert!(reply.is_empty());
    }

    #[test]
    fn ttype_is_never_asked_and_its_payload_is_data() {
        // BusyBox never sends DO TTYPE nor SB TTYPE SEND.
        let mut d = TelnetDecoder::new();
        let (_, reply) = decode_all(&mut d, &[IAC, WILL, OPT_TTYPE]);
        assert!(reply.is_empty());
        // An unasked `SB TTYPE IS ...` is taken as BusyBox takes any SB but NAWS: the three
        // bytes `IAC SB TTYPE` are dropped, the payload is data, and `IAC SE` swallows the
        // byte after it.
        let mut input = vec![IAC, SB, OPT_TTYPE, 0];
        input.extend_from_slice(b"XTERM");
        input.extend_from_slice(&[IAC, SE, b'!', b'k']);
        let (data, reply) = decode_all(&mut d, &input);
        assert_eq!(data, b"\0XTERMk");
        assert!(reply.is_empty());
        assert_eq!(d.protocol_errors(), 1, "the stray IAC SE");
    }

    #[test]
    fn naws_window_size() {
        let mut d = TelnetDecoder::new();
        let (data, _) = decode_all(
            &mut d,
            &[b'x', IAC, SB, OPT_NAWS, 0, 132, 0, 43, IAC, SE, b'y'],
        );
        assert_eq!(data, b"xy");
        assert_eq!(d.window_size(), Some((132, 43)));
        assert_eq!(d.protocol_errors(), 0);
        // Read as BusyBox reads it: nine bytes, the doubled 0xFF not un-doubled, so the
        // real IAC SE is off by one and its SE reaches the data.
        let (data, _) = decode_all(&mut d, &[IAC, SB, OPT_NAWS, 1, IAC, IAC, 0, 24, IAC, SE]);
        assert_eq!(d.window_size(), Some((0x01ff, 0xff00)));
        assert_eq!(data, [SE]);
        assert_eq!(d.protocol_errors(), 1);
        // Too short: the next bytes complete it, whatever they are.
        let (data, _) = decode_all(&mut d, &[IAC, SB, OPT_NAWS, 0, 80, IAC, SE, b'a', b'b']);
        assert_eq!(d.window_size(), Some((80, 0xfff0)));
        assert!(data.is_empty());
        assert_eq!(d.protocol_errors(), 2);
    }

    #[test]
    fn every_split_point_decodes_the_same() {
        let mut sample = Vec::new();
        sample.extend_from_slice(b"ab");
        sample.extend_from_slice(&[IAC, DO, OPT_STATUS, IAC, WILL, OPT_TTYPE]);
        sample.extend_from_slice(&[IAC, SB, OPT_NAWS, 0, 80, 0, 24, IAC, SE]);
        sample.extend_from_slice(&[b'c', IAC, IAC, IAC, NOP, IAC, AYT, b'x', b'd']);
        sample.extend_from_slice(&[IAC, SB, OPT_TTYPE, 0, b'v', b't', IAC, SE, b'y']);
        sample.extend_from_slice(&[IAC, SB, 99, 1, 2, IAC, SE, b'z', b'\r', 0]);
        let mut whole = TelnetDecoder::new();
        let (data, reply) = decode_all(&mut whole, &sample);
        assert_eq!(
            data,
            [b'a', b'b', b'c', 0xff, b'd', 0, b'v', b't', 1, 2, b'\r', 0]
        );
        assert!(reply.is_empty());
        assert_eq!(whole.window_size(), Some((80, 24)));
        assert_eq!(whole.protocol_errors(), 2, "two stray IAC SE");
        for i in 0..=sample.len() {
            for j in i..=sample.len() {
                let mut d = TelnetDecoder::new();
                let mut dd = Vec::new();
                let mut rr = Vec::new();
                d.decode(&sample[..i], &mut dd, &mut rr);
                d.decode(&sample[i..j], &mut dd, &mut rr);
                d.decode(&sample[j..], &mut dd, &mut rr);
                assert_eq!(dd, data, "split at {i},{j}");
                assert_eq!(rr, reply, "split at {i},{j}");
                assert_eq!(d.window_size(), whole.window_size());
                assert_eq!(d.protocol_errors(), whole.protocol_errors());
            }
        }
        // One byte at a time, too.
        let mut d = TelnetDecoder::new();
        let mut dd = Vec::new();
        let mut rr = Vec::new();
        for b in &sample {
            d.decode(std::slice::from_ref(b), &mut dd, &mut rr);
        }
        assert_eq!((dd, rr), (data, reply));
    }

    #[test]
    fn two_byte_commands_are_taken_as_three_bytes_but_nop() {
        // BusyBox strips `IAC NOP` as two bytes and every other command as three, so a
        // two-byte command swallows the byte after it.
        let mut d = TelnetDecoder::new();
        let (data, reply) = decode_all(&mut d, &[b'a', IAC, NOP, IAC, NOP, b'b']);
        assert_eq!(data, b"ab");
        assert!(reply.is_empty());
        for c in [DM, BRK, IP, AO, AYT, EC, EL, GA, EOR, 236, 237, 238] {
            let mut d = TelnetDecoder::new();
            let (data, reply) = decode_all(&mut d, &[b'a', IAC, c, b'x', b'b']);
            assert_eq!(data, b"ab", "command {c}");
            assert!(reply.is_empty());
            assert_eq!(d.protocol_errors(), 0);
        }
    }

    #[test]
    fn invalid_bytes_after_iac_are_errors() {
        let mut d = TelnetDecoder::new();
        let (data, _) = decode_all(&mut d, &[b'a', IAC, 7, b'b', IAC, SE, b'c', b'd']);
        assert_eq!(data, b"ad");
        assert_eq!(d.protocol_errors(), 2);
    }

    #[test]
    fn overlong_subnegotiation_is_bounded() {
        // No buffer: NAWS takes its nine bytes, the rest is data, bounded by the input.
        let mut d = TelnetDecoder::new();
        let mut input = vec![IAC, SB, OPT_NAWS];
        input.extend(std::iter::repeat_n(7u8, 10_000));
        input.extend_from_slice(&[IAC, SE, b'z', b'!']);
        let (data, reply) = decode_all(&mut d, &input);
        assert_eq!(data.len(), 10_000 - 6 + 1);
        assert_eq!(data.last(), Some(&b'!'));
        assert!(reply.is_empty());
        assert_eq!(d.protocol_errors(), 2, "the NAWS tail, the stray SE");
        assert_eq!(d.window_size(), Some((0x0707, 0x0707)));
    }

    #[test]
    fn unclosed_subnegotiation_takes_the_next_bytes() {
        // BusyBox does not look for IAC SE inside NAWS: a command there is part of it.
        let mut d = TelnetDecoder::new();
        let (data, reply) = decode_all(
            &mut d,
            &[
                IAC, SB, OPT_NAWS, 0, IAC, WILL, OPT_TSPEED, b'k', b'l', b'm',
            ],
        );
        assert_eq!(data, b"m");
        assert!(reply.is_empty());
        assert_eq!(d.window_size(), Some((0x00ff, 0xfb20)));
        assert_eq!(d.protocol_errors(), 1);
        // Empty subnegotiation: `IAC SB IAC` is one command, the SE after it is data.
        let (data, _) = decode_all(&mut d, &[IAC, SB, IAC, SE]);
        assert_eq!(data, [SE]);
        assert_eq!(d.protocol_errors(), 2);
    }

    #[test]
    fn a_negotiation_flood_gets_no_reply() {
        let mut d = TelnetDecoder::new();
        let mut input = Vec::new();
        for _ in 0..1000 {
            input.extend_from_slice(&[IAC, DO, OPT_STATUS]);
        }
        let (data, reply) = decode_all(&mut d, &input);
        assert!(data.is_empty());
        assert!(reply.is_empty());
        assert_eq!(d.protocol_errors(), 0);
    }

    #[test]
    fn escape_iac_doubles_ff() {
        let mut out = Vec::new();
        escape_iac(&[1, 0xff, 2, 0xff, 0xff], &mut out);
        assert_eq!(out, [1, 0xff, 0xff, 2, 0xff, 0xff, 0xff, 0xff]);
    }

    fn feed(ed: &mut LineEditor, data: &[u8], echo: bool) -> (Vec<u8>, Vec<LineEvent>) {
        let mut out = Vec::new();
        let mut ev = Vec::new();
        ed.push(data, echo, &mut out, &mut ev);
        (out, ev)
    }

    fn line(s: &[u8]) -> LineEvent {
        LineEvent::Line(s.to_vec())
    }

    #[test]
    fn line_endings() {
        for input in [
            &b"ls\r\npwd\r\n"[..],
            b"ls\r\0pwd\r\0",
            b"ls\npwd\n",
            b"ls\rpwd\r",
        ] {
            let mut ed = LineEditor::new(100);
            let (_, ev) = feed(&mut ed, input, true);
            assert_eq!(ev, [line(b"ls"), line(b"pwd")], "input {input:?}");
        }
    }

    #[test]
    fn cr_then_lf_in_a_later_push_is_one_line() {
        let mut ed = LineEditor::new(100);
        let (echo, ev) = feed(&mut ed, b"id\r", true);
        assert_eq!(ev, [line(b"id")]);
        assert_eq!(echo, b"id\r\n");
        let (echo, ev) = feed(&mut ed, b"\n", true);
        assert!(ev.is_empty());
        assert!(echo.is_empty());
        let (_, ev) = feed(&mut ed, b"\0", true);
        assert!(ev.is_empty(), "NUL after the swallowed LF is kept as data");
        let (_, ev) = feed(&mut ed, b"\r", true);
        assert_eq!(ev, [line(b"\0")]);
        // Empty lines still produce events (the caller prints a new prompt).
        let (_, ev) = feed(&mut ed, b"\r\n\r\n", true);
        assert_eq!(ev, [line(b""), line(b"")]);
    }

    #[test]
    fn bot_lines_at_once_every_split() {
        let sample = b"enable\r\0system\r\0shell\r\nsh\r\n/bin/busybox ECCHI\r\n";
        let expected = vec![
            line(b"enable"),
            line(b"system"),
            line(b"shell"),
            line(b"sh"),
            line(b"/bin/busybox ECCHI"),
        ];
        for i in 0..=sample.len() {
            let mut ed = LineEditor::new(100);
            let (e1, mut ev) = feed(&mut ed, &sample[..i], true);
            let (e2, ev2) = feed(&mut ed, &sample[i..], true);
            ev.extend(ev2);
            assert_eq!(ev, expected, "split {i}");
            let mut echo = e1;
            echo.extend(e2);
            assert_eq!(
                echo,
                b"enable\r\nsystem\r\nshell\r\nsh\r\n/bin/busybox ECCHI\r\n"
            );
        }
    }

    #[test]
    fn backspace_and_del_erase() {
        let mut ed = LineEditor::new(100);
        let (echo, ev) = feed(&mut ed, b"lsx\x08\x7f\x08\x08s\r", true);
        assert_eq!(ev, [line(b"s")]);
        assert_eq!(echo, b"lsx\x08 \x08\x08 \x08\x08 \x08s\r\n");
    }

    #[test]
    fn backspace_erases_whole_utf8_char_and_hidden_controls_silently() {
        let mut ed = LineEditor::new(100);
        let (echo, ev) = feed(&mut ed, "aé\x08\t\x08b\r".as_bytes(), true);
        assert_eq!(ev, [line(b"ab")]);
        let mut expected = "aé".as_bytes().to_vec();
        expected.extend_from_slice(b"\x08 \x08b\r\n");
        assert_eq!(echo, expected);
    }

    #[test]
    fn no_echo_for_passwords() {
        let mut ed = LineEditor::new(100);
        let (echo, ev) = feed(&mut ed, b"secret\x7f\r\n", false);
        assert_eq!(ev, [line(b"secre")]);
        assert!(echo.is_empty());
    }

    #[test]
    fn ctrl_c_and_ctrl_d() {
        let mut ed = LineEditor::new(100);
        let (echo, ev) = feed(&mut ed, b"rm -rf /\x03", true);
        assert_eq!(ev, [LineEvent::Interrupt]);
        assert!(echo.ends_with(b"^C\r\n"));
        let (_, ev) = feed(&mut ed, b"\x04", true);
        assert_eq!(ev, [LineEvent::Eof]);
        let (echo, ev) = feed(&mut ed, b"a\x04b\r", true);
        assert_eq!(ev, [line(b"a\x04b")]);
        assert_eq!(echo, b"ab\r\n");
    }

    #[test]
    fn control_bytes_kept_not_echoed() {
        let mut ed = LineEditor::new(100);
        let (echo, ev) = feed(&mut ed, b"a\x01\x1b[Ab\r", true);
        assert_eq!(ev, [line(b"a\x01\x1b[Ab")]);
        assert_eq!(echo, b"ab\r\n");
    }

    #[test]
    fn too_long_returns_partial_and_discards_rest() {
        let mut ed = LineEditor::new(4);
        let (echo, ev) = feed(&mut ed, b"abcdefgh\r\nok\r\n", true);
        assert_eq!(ev, [LineEvent::TooLong(b"abcd".to_vec()), line(b"ok")]);
        assert_eq!(echo, b"abcd\r\nok\r\n");
        // Exactly the maximum is fine.
        let (_, ev) = feed(&mut ed, b"abcd\r", true);
        assert_eq!(ev, [line(b"abcd")]);
        // Ctrl-D while discarding is not EOF.
        let (_, ev) = feed(&mut ed, b"abcde\x04\x04\rx\n", true);
        assert_eq!(ev, [LineEvent::TooLong(b"abcd".to_vec()), line(b"x")]);
    }

    #[test]
    fn decoder_and_editor_together() {
        let mut d = TelnetDecoder::new();
        let mut ed = LineEditor::new(64);
        let wire = [
            IAC, DO, OPT_ECHO, b'r', b'o', IAC, NOP, b'o', b't', b'\r', 0, b'x', IAC, IAC, b'\r',
            b'\n',
        ];
        let (data, reply) = decode_all(&mut d, &wire);
        assert!(reply.is_empty());
        let (echo, ev) = feed(&mut ed, &data, true);
        assert_eq!(ev, [line(b"root"), line(&[b'x', 0xff])]);
        let mut escaped = Vec::new();
        escape_iac(&echo, &mut escaped);
        assert_eq!(escaped, b"root\r\nx\xff\xff\r\n");
    }
}
