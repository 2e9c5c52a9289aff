//! Telnet option negotiation and input decoding for the telnet honeypot.
//!
//! The honeypot has to look like the `telnetd` of a BusyBox-based embedded device, because
//! scanners (nmap `-sV`, Shodan, Censys) and bots fingerprint the very first bytes a telnet
//! server sends. BusyBox 1.15 and later `telnetd` sends exactly
//! `IAC DO ECHO, IAC DO NAWS, IAC WILL ECHO, IAC WILL SGA` at connect (1.00 to 1.14 also sent
//! `IAC DO LFLOW`), then never answers the peer's negotiation. We send the same greeting
//! ([`greeting`]) and, to stay a correct telnet peer, answer the peer with the RFC 1143 "Q
//! method", which can never loop (it never answers an acknowledgement).
//!
//! Everything here is pure and byte-at-a-time: [`TelnetDecoder`] and [`LineEditor`] keep their
//! state between calls, so input split at any byte boundary decodes exactly like input given
//! in one piece. Every buffer is bounded, nothing here can panic on attacker input, and there
//! is no I/O: the caller owns the socket.
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
/// Go ahead (249): half-duplex relic; stripped from the data because it carries no data.
pub const GA: u8 = 249;
/// Erase line (248): a two-byte command, stripped (BusyBox ignores it too).
pub const EL: u8 = 248;
/// Erase character (247): a two-byte command, stripped (BusyBox ignores it too).
pub const EC: u8 = 247;
/// Are you there (246): a two-byte command, stripped without answer, as BusyBox does.
pub const AYT: u8 = 246;
/// Abort output (245): a two-byte command, stripped.
pub const AO: u8 = 245;
/// Interrupt process (244): a two-byte command, stripped (BusyBox does not map it to Ctrl-C).
pub const IP: u8 = 244;
/// Break (243): a two-byte command, stripped.
pub const BRK: u8 = 243;
/// Data mark (242): a two-byte command, stripped.
pub const DM: u8 = 242;
/// No operation (241): sent by clients such as PuTTY as keep-alive; stripped.
pub const NOP: u8 = 241;
/// Subnegotiation end (240): closes an `IAC SB` block.
pub const SE: u8 = 240;
/// End of record (239, RFC 885): a valid two-byte command, stripped.
pub const EOR: u8 = 239;
/// Lowest valid command byte after IAC (236 = EOF of RFC 1184); anything lower is a protocol error.
const LOWEST_COMMAND: u8 = 236;

/// Option 0, binary transmission: listed so callers can name what the peer asked for in logs.
pub const OPT_BINARY: u8 = 0;
/// Option 1, echo: we offer to echo (server-side echo for character-at-a-time mode).
pub const OPT_ECHO: u8 = 1;
/// Option 3, suppress go-ahead: we offer it so the client sends each keystroke at once.
pub const OPT_SGA: u8 = 3;
/// Option 5, status: listed so callers can name what the peer asked for in logs.
pub const OPT_STATUS: u8 = 5;
/// Option 6, timing mark: listed so callers can name what the peer asked for in logs.
pub const OPT_TIMING_MARK: u8 = 6;
/// Option 24, terminal type (RFC 1091): accepted when the peer offers it, to log the client's terminal.
pub const OPT_TTYPE: u8 = 24;
/// Option 31, negotiate about window size (RFC 1073): requested at connect, as BusyBox does.
pub const OPT_NAWS: u8 = 31;
/// Option 32, terminal speed: refused.
pub const OPT_TSPEED: u8 = 32;
/// Option 33, remote flow control: refused (old BusyBox asked for it; 1.2x does not).
pub const OPT_LFLOW: u8 = 33;
/// Option 34, linemode: refused, because we want character-at-a-time input like BusyBox.
pub const OPT_LINEMODE: u8 = 34;
/// Option 39, new environment: refused (it could carry `USER`, but BusyBox refuses it silently).
pub const OPT_NEW_ENVIRON: u8 = 39;

/// TTYPE subnegotiation code "IS" (the peer tells its terminal type).
const TTYPE_IS: u8 = 0;
/// TTYPE subnegotiation code "SEND" (we ask for the terminal type).
const TTYPE_SEND: u8 = 1;

/// Largest subnegotiation payload kept (option byte included); the rest is discarded.
pub const MAX_SUBNEGOTIATION: usize = 64;
/// Most negotiation replies sent on one connection: a peer flooding `DO x` cannot make us
/// write without bound. Real clients need fewer than 20.
pub const MAX_REPLIES: u32 = 256;

/// The bytes BusyBox 1.2x `telnetd` sends at connect, byte for byte:
/// `IAC DO ECHO, IAC DO NAWS, IAC WILL ECHO, IAC WILL SGA`.
const GREETING: [u8; 12] = [
    IAC, DO, OPT_ECHO, IAC, DO, OPT_NAWS, IAC, WILL, OPT_ECHO, IAC, WILL, OPT_SGA,
];

/// Bytes to send as soon as a connection is accepted, before any banner.
///
/// They are the exact bytes of BusyBox 1.2x `telnetd`, so nmap and internet scanners classify
/// the port as the telnet service of an embedded device rather than as an unknown service or
/// as a honeypot. [`TelnetDecoder::new`] assumes these bytes were sent (it records the four
/// requests as pending), so always send them on a connection that uses the decoder.
pub fn greeting() -> &'static [u8] {
    &GREETING
}

/// Appends `data` to `out` with every 0xFF byte doubled (`IAC IAC`), as RFC 854 requires.
///
/// Shell output and echo can contain 0xFF (for example `cat` of a binary or `echo -e '\xff'`);
/// sent unescaped it would be read by the client as the start of a command and corrupt the
/// session, which a careful attacker would notice.
pub fn escape_iac(data: &[u8], out: &mut Vec<u8>) {
    for &b in data {
        out.push(b);
        if b == IAC {
            out.push(IAC);
        }
    }
}

/// RFC 1143 per-option state for one side. The queue bit is not needed because the server
/// never asks to change an option after the greeting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Q {
    No,
    Yes,
    /// We asked to disable the option. The server never does today; the state is kept so the
    /// RFC 1143 machine stays complete.
    #[allow(dead_code)]
    WantNo,
    WantYes,
}

/// Where the byte parser is inside the telnet stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Plain data.
    Data,
    /// After IAC.
    Iac,
    /// After IAC WILL/WONT/DO/DONT, waiting for the option byte.
    Verb(u8),
    /// Inside IAC SB ... collecting the payload.
    Sb,
    /// IAC seen inside a subnegotiation.
    SbIac,
}

/// Per-connection telnet protocol state: strips commands from the stream and answers the
/// peer's option negotiation.
///
/// Why a state machine fed byte by byte: TCP may split a command anywhere (between `IAC` and
/// `SB`, inside a NAWS payload...), and bots deliberately send odd sequences. Feeding any split
/// of the same input gives the same data, replies and state.
#[derive(Clone, Debug)]
pub struct TelnetDecoder {
    state: State,
    /// Our side of each option (what we WILL do).
    us: QTable,
    /// The peer's side of each option (what we asked it to DO).
    him: QTable,
    sb: Vec<u8>,
    sb_overflow: bool,
    window: Option<(u16, u16)>,
    terminal_type: Option<String>,
    ttype_requested: bool,
    errors: u32,
    replies_sent: u32,
}

impl Default for TelnetDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl TelnetDecoder {
    /// A decoder for a connection on which [`greeting`] has just been sent.
    ///
    /// The greeting's four requests are recorded as pending (RFC 1143 `WANTYES`), so the
    /// peer's answers to them are taken as acknowledgements and never answered again.
    pub fn new() -> Self {
        let mut d = TelnetDecoder {
            state: State::Data,
            us: QTable::default(),
            him: QTable::default(),
            sb: Vec::with_capacity(MAX_SUBNEGOTIATION),
            sb_overflow: false,
            window: None,
            terminal_type: None,
            ttype_requested: false,
            errors: 0,
            replies_sent: 0,
        };
        set_q(&mut d.him, OPT_ECHO, Q::WantYes);
        set_q(&mut d.him, OPT_NAWS, Q::WantYes);
        set_q(&mut d.us, OPT_ECHO, Q::WantYes);
        set_q(&mut d.us, OPT_SGA, Q::WantYes);
        d
    }

    /// Feeds raw bytes from the socket.
    ///
    /// Plain data bytes are appended to `data` (`IAC IAC` becomes one 0xFF byte; every
    /// command, option and subnegotiation byte is stripped), and the answers to the peer's
    /// negotiation are appended to `reply`, ready to send as is. `data` grows by at most
    /// `input.len()` bytes; `reply` by a bounded amount over the whole connection
    /// ([`MAX_REPLIES`]). The line discipline (CR LF, CR NUL) is left to [`LineEditor`].
    pub fn decode(&mut self, input: &[u8], data: &mut Vec<u8>, reply: &mut Vec<u8>) {
        for &b in input {
            self.step(b, data, reply);
        }
    }

    /// The peer's window size as `(columns, rows)`, from its last NAWS subnegotiation.
    ///
    /// Lets the shell lay out `ls` in as many columns as a real terminal would, and is a
    /// useful fingerprint of the client (bots usually never send one).
    pub fn window_size(&self) -> Option<(u16, u16)> {
        self.window
    }

    /// The terminal type the peer reported (RFC 1091), if it offered TTYPE.
    ///
    /// Only printable ASCII is kept. Worth recording: `xterm`, `ANSI` or none at all tells
    /// an interactive human from a scripted bot.
    pub fn terminal_type(&self) -> Option<&str> {
        self.terminal_type.as_deref()
    }

    /// How many malformed sequences the peer sent: an invalid byte after IAC, a stray `IAC SE`,
    /// a subnegotiation longer than [`MAX_SUBNEGOTIATION`] or with a bad payload, an IAC
    /// inside a subnegotiation that is not `IAC IAC`/`IAC SE`, replies dropped past
    /// [`MAX_REPLIES`].
    ///
    /// Real clients make none; a non-zero count marks a fuzzer, a broken bot or an exploit
    /// attempt against telnet parsers, which is worth recording.
    pub fn protocol_errors(&self) -> u32 {
        self.errors
    }

    /// Whether we currently perform `option` (agreed by both sides), e.g. [`OPT_ECHO`].
    ///
    /// Lets the caller know whether the client accepted server-side echo and SGA, i.e.
    /// whether it is really in character-at-a-time mode.
    pub fn local_enabled(&self, option: u8) -> bool {
        get_q(&self.us, option) == Q::Yes
    }

    /// Whether the peer currently performs `option` (agreed by both sides), e.g. [`OPT_NAWS`].
    ///
    /// Lets the caller log which options the client agreed to, a cheap client fingerprint.
    pub fn remote_enabled(&self, option: u8) -> bool {
        get_q(&self.him, option) == Q::Yes
    }

    fn error(&mut self) {
        self.errors = self.errors.saturating_add(1);
    }

    fn step(&mut self, b: u8, data: &mut Vec<u8>, reply: &mut Vec<u8>) {
        match self.state {
            State::Data => {
                if b == IAC {
                    self.state = State::Iac;
                } else {
                    data.push(b);
                }
            }
            State::Iac => self.command(b, data),
            State::Verb(verb) => {
                self.state = State::Data;
                self.negotiate(verb, b, reply);
            }
            State::Sb => {
                if b == IAC {
                    self.state = State::SbIac;
                } else {
                    self.sb_push(b);
                }
            }
            State::SbIac => match b {
                SE => {
                    self.state = State::Data;
                    self.finish_subnegotiation();
                }
                IAC => {
                    self.state = State::Sb;
                    self.sb_push(IAC);
                }
                _ => {
                    // RFC 855 allows only IAC IAC and IAC SE inside a subnegotiation. Drop the
                    // unfinished block and take this byte as the command it looks like, so a
                    // peer that forgot IAC SE does not swallow the rest of the session.
                    self.error();
                    self.sb.clear();
                    self.sb_overflow = false;
                    self.command(b, data);
                }
            },
        }
    }

    /// Handles the byte after an IAC.
    fn command(&mut self, b: u8, data: &mut Vec<u8>) {
        self.state = State::Data;
        match b {
            IAC => data.push(IAC),
            WILL | WONT | DO | DONT => self.state = State::Verb(b),
            SB => {
                self.sb.clear();
                self.sb_overflow = false;
                self.state = State::Sb;
            }
            SE => self.error(),
            LOWEST_COMMAND..=GA => {}
            _ => self.error(),
        }
    }

    fn sb_push(&mut self, b: u8) {
        if self.sb.len() < MAX_SUBNEGOTIATION {
            self.sb.push(b);
        } else if !self.sb_overflow {
            self.sb_overflow = true;
            self.error();
        }
    }

    fn finish_subnegotiation(&mut self) {
        if self.sb_overflow {
            // Already counted; a truncated payload is not trusted.
            self.sb.clear();
            self.sb_overflow = false;
            return;
        }
        let payload = std::mem::take(&mut self.sb);
        match payload.split_first() {
            None => self.error(),
            Some((&OPT_NAWS, [c1, c0, r1, r0])) => {
                self.window = Some((
                    u16::from_be_bytes([*c1, *c0]),
                    u16::from_be_bytes([*r1, *r0]),
                ));
            }
            Some((&OPT_NAWS, _)) => self.error(),
            Some((&OPT_TTYPE, rest)) => match rest.split_first() {
                Some((&TTYPE_IS, name)) => {
                    let name: String = name
                        .iter()
                        .filter(|c| c.is_ascii_graphic() || **c == b' ')
                        .map(|&c| char::from(c))
                        .collect();
                    self.terminal_type = Some(name);
                }
                _ => self.error(),
            },
            // Subnegotiations of options we never agreed to are stripped silently.
            Some(_) => {}
        }
        // Keep the allocation for the next subnegotiation.
        self.sb = payload;
        self.sb.clear();
    }

    fn send(&mut self, reply: &mut Vec<u8>, bytes: &[u8]) {
        if self.replies_sent >= MAX_REPLIES {
            self.error();
            return;
        }
        self.replies_sent = self.replies_sent.saturating_add(1);
        reply.extend_from_slice(bytes);
    }

    /// RFC 1143 section 7, without the queue (we never initiate a change after the greeting).
    fn negotiate(&mut self, verb: u8, opt: u8, reply: &mut Vec<u8>) {
        match verb {
            DO => match get_q(&self.us, opt) {
                Q::No => {
                    if we_perform(opt) {
                        set_q(&mut self.us, opt, Q::Yes);
                        self.send(reply, &[IAC, WILL, opt]);
                    } else {
                        self.send(reply, &[IAC, WONT, opt]);
                    }
                }
                Q::Yes => {}
                Q::WantNo => set_q(&mut self.us, opt, Q::No),
                Q::WantYes => set_q(&mut self.us, opt, Q::Yes),
            },
            DONT => match get_q(&self.us, opt) {
                Q::No => {}
                Q::Yes => {
                    set_q(&mut self.us, opt, Q::No);
                    self.send(reply, &[IAC, WONT, opt]);
                }
                Q::WantNo | Q::WantYes => set_q(&mut self.us, opt, Q::No),
            },
            WILL => match get_q(&self.him, opt) {
                Q::No => {
                    if we_accept_from_peer(opt) {
                        set_q(&mut self.him, opt, Q::Yes);
                        self.send(reply, &[IAC, DO, opt]);
                        self.peer_enabled(opt, reply);
                    } else {
                        self.send(reply, &[IAC, DONT, opt]);
                    }
                }
                Q::Yes => {}
                Q::WantNo => set_q(&mut self.him, opt, Q::No),
                Q::WantYes => {
                    set_q(&mut self.him, opt, Q::Yes);
                    self.peer_enabled(opt, reply);
                }
            },
            WONT => match get_q(&self.him, opt) {
                Q::No => {}
                Q::Yes => {
                    set_q(&mut self.him, opt, Q::No);
                    self.send(reply, &[IAC, DONT, opt]);
                }
                Q::WantNo | Q::WantYes => set_q(&mut self.him, opt, Q::No),
            },
            _ => self.error(),
        }
    }

    /// Follow-up once the peer agreed to an option: ask for the terminal type once.
    fn peer_enabled(&mut self, opt: u8, reply: &mut Vec<u8>) {
        if opt == OPT_TTYPE && !self.ttype_requested {
            self.ttype_requested = true;
            self.send(reply, &[IAC, SB, OPT_TTYPE, TTYPE_SEND, IAC, SE]);
        }
    }
}

/// Options we agree to perform ourselves: echo and suppress-go-ahead (character mode).
fn we_perform(opt: u8) -> bool {
    matches!(opt, OPT_ECHO | OPT_SGA)
}

/// Options we agree to let the peer perform when it offers them unasked.
fn we_accept_from_peer(opt: u8) -> bool {
    matches!(opt, OPT_NAWS | OPT_TTYPE)
}

/// One side's [`Q`] for all 256 options, two bits each: 64 bytes instead of 256, because every
/// idle telnet session carries two of them (docs/BENCHMARKS.md, 10,000 idle connections).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct QTable([u64; 8]);

fn get_q(table: &QTable, opt: u8) -> Q {
    let (word, shift) = (usize::from(opt / 32), u32::from(opt % 32) * 2);
    match table.0.get(word).map_or(0, |w| (w >> shift) & 0b11) {
        1 => Q::Yes,
        2 => Q::WantNo,
        3 => Q::WantYes,
        _ => Q::No,
    }
}

fn set_q(table: &mut QTable, opt: u8, q: Q) {
    let (word, shift) = (usize::from(opt / 32), u32::from(opt % 32) * 2);
    let bits: u64 = match q {
        Q::No => 0,
        Q::Yes => 1,
        Q::WantNo => 2,
        Q::WantYes => 3,
    };
    if let Some(w) = table.0.get_mut(word) {
        *w = (*w & !(0b11 << shift)) | (bits << shift);
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
    fn every_option_keeps_its_own_state_in_the_packed_table() {
        let mut t = QTable::default();
        let states = [Q::No, Q::Yes, Q::WantNo, Q::WantYes];
        for opt in 0..=255u8 {
            set_q(&mut t, opt, states[usize::from(opt) % 4]);
        }
        for opt in 0..=255u8 {
            assert_eq!(get_q(&t, opt), states[usize::from(opt) % 4], "option {opt}");
        }
        set_q(&mut t, 31, Q::No);
        set_q(&mut t, 32, Q::WantYes);
        assert_eq!(get_q(&t, 30), Q::WantNo);
        assert_eq!(get_q(&t, 31), Q::No);
        assert_eq!(get_q(&t, 32), Q::WantYes);
        assert_eq!(get_q(&t, 33), Q::Yes);
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
        assert!(d.local_enabled(OPT_ECHO));
        assert!(d.local_enabled(OPT_SGA));
        assert!(d.remote_enabled(OPT_NAWS));
        assert!(!d.remote_enabled(OPT_ECHO));
        // Repeating the same answers changes nothing and still gets no reply.
        let (_, reply) = decode_all(&mut d, &input);
        assert!(reply.is_empty());
    }

    #[test]
    fn unsupported_do_is_refused() {
        let mut d = TelnetDecoder::new();
        let (_, reply) = decode_all(&mut d, &[IAC, DO, OPT_STATUS]);
        assert_eq!(reply, [IAC, WONT, OPT_STATUS]);
        // Peer's DONT for an option we never enabled is an acknowledgement: no reply.
        let (_, reply) = decode_all(&mut d, &[IAC, DONT, OPT_STATUS]);
        assert!(reply.is_empty());
    }

    #[test]
    fn dont_echo_after_enabled_is_answered_once() {
        let mut d = TelnetDecoder::new();
        decode_all(&mut d, &[IAC, DO, OPT_ECHO]);
        let (_, reply) = decode_all(&mut d, &[IAC, DONT, OPT_ECHO]);
        assert_eq!(reply, [IAC, WONT, OPT_ECHO]);
        let (_, reply) = decode_all(&mut d, &[IAC, DONT, OPT_ECHO]);
        assert!(reply.is_empty());
        // Asked again: we agree again.
        let (_, reply) = decode_all(&mut d, &[IAC, DO, OPT_ECHO]);
        assert_eq!(reply, [IAC, WILL, OPT_ECHO]);
    }

    #[test]
    fn dont_before_ack_is_a_refusal_without_reply() {
        let mut d = TelnetDecoder::new();
        let (_, reply) = decode_all(&mut d, &[IAC, DONT, OPT_SGA]);
        assert!(reply.is_empty());
        assert!(!d.local_enabled(OPT_SGA));
    }

    #[test]
    fn will_is_accepted_or_refused() {
        let mut d = TelnetDecoder::new();
        let (_, reply) = decode_all(&mut d, &[IAC, WILL, OPT_LINEMODE]);
        assert_eq!(reply, [IAC, DONT, OPT_LINEMODE]);
        // WILL ECHO while our DO ECHO is pending is its acknowledgement.
        let (_, reply) = decode_all(&mut d, &[IAC, WILL, OPT_ECHO]);
        assert!(reply.is_empty());
        // Unasked WILL ECHO after the peer turned it off is refused.
        let (_, reply) = decode_all(&mut d, &[IAC, WONT, OPT_ECHO]);
        assert_eq!(reply, [IAC, DONT, OPT_ECHO]);
        let (_, reply) = decode_all(&mut d, &[IAC, WILL, OPT_ECHO]);
        assert_eq!(reply, [IAC, DONT, OPT_ECHO]);
        // WONT for something never enabled: no reply.
        let (_, reply) = decode_all(&mut d, &[IAC, WONT, OPT_LINEMODE]);
        assert!(reply.is_empty());
    }

    #[test]
    fn naws_offer_after_refusal_is_accepted_once() {
        let mut d = TelnetDecoder::new();
        decode_all(&mut d, &[IAC, WONT, OPT_NAWS]);
        let (_, reply) = decode_all(&mut d, &[IAC, WILL, OPT_NAWS]);
        assert_eq!(reply, [IAC, DO, OPT_NAWS]);
        let (_, reply) = decode_all(&mut d, &[IAC, WILL, OPT_NAWS]);
        assert!(reply.is_empty());
        let (_, reply) = decode_all(&mut d, &[IAC, WONT, OPT_NAWS]);
        assert_eq!(reply, [IAC, DONT, OPT_NAWS]);
    }

    #[test]
    fn ttype_is_requested_and_recorded() {
        let mut d = TelnetDecoder::new();
        let (_, reply) = decode_all(&mut d, &[IAC, WILL, OPT_TTYPE]);
        assert_eq!(
            reply,
            [IAC, DO, OPT_TTYPE, IAC, SB, OPT_TTYPE, TTYPE_SEND, IAC, SE]
        );
        let mut input = vec![IAC, SB, OPT_TTYPE, TTYPE_IS];
        input.extend_from_slice(b"XTERM-256color");
        input.extend_from_slice(&[IAC, SE]);
        let (data, reply) = decode_all(&mut d, &input);
        assert!(data.is_empty());
        assert!(reply.is_empty());
        assert_eq!(d.terminal_type(), Some("XTERM-256color"));
        // A second WILL TTYPE does not ask again.
        let (_, reply) = decode_all(&mut d, &[IAC, WILL, OPT_TTYPE]);
        assert!(reply.is_empty());
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
        // 255 in the payload is doubled.
        decode_all(&mut d, &[IAC, SB, OPT_NAWS, 1, IAC, IAC, 0, 24, IAC, SE]);
        assert_eq!(d.window_size(), Some((511, 24)));
        assert_eq!(d.protocol_errors(), 0);
        // Wrong length: error, size unchanged.
        decode_all(&mut d, &[IAC, SB, OPT_NAWS, 0, 80, IAC, SE]);
        assert_eq!(d.window_size(), Some((511, 24)));
        assert_eq!(d.protocol_errors(), 1);
    }

    #[test]
    fn every_split_point_decodes_the_same() {
        let mut sample = Vec::new();
        sample.extend_from_slice(b"ab");
        sample.extend_from_slice(&[IAC, DO, OPT_STATUS, IAC, WILL, OPT_TTYPE]);
        sample.extend_from_slice(&[IAC, SB, OPT_NAWS, 0, 80, IAC, IAC, 24, IAC, SE]);
        sample.extend_from_slice(&[b'c', IAC, IAC, IAC, NOP, IAC, AYT, b'd']);
        sample.extend_from_slice(&[IAC, SB, OPT_TTYPE, TTYPE_IS, b'v', b't', IAC, SE]);
        sample.extend_from_slice(&[IAC, SB, 99, 1, 2, 3, IAC, SE, b'\r', 0]);
        let mut whole = TelnetDecoder::new();
        let (data, reply) = decode_all(&mut whole, &sample);
        assert_eq!(data, [b'a', b'b', b'c', 0xff, b'd', b'\r', 0]);
        assert_eq!(whole.window_size(), Some((80, 0xff18)));
        assert_eq!(whole.terminal_type(), Some("vt"));
        assert_eq!(whole.protocol_errors(), 0);
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
                assert_eq!(d.terminal_type(), whole.terminal_type());
                assert_eq!(d.protocol_errors(), 0);
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
    fn two_byte_commands_are_stripped() {
        let mut d = TelnetDecoder::new();
        let mut input = vec![b'a'];
        for c in [NOP, DM, BRK, IP, AO, AYT, EC, EL, GA, EOR, 236, 237, 238] {
            input.extend_from_slice(&[IAC, c]);
        }
        input.push(b'b');
        let (data, reply) = decode_all(&mut d, &input);
        assert_eq!(data, b"ab");
        assert!(reply.is_empty());
        assert_eq!(d.protocol_errors(), 0);
    }

    #[test]
    fn invalid_bytes_after_iac_are_errors() {
        let mut d = TelnetDecoder::new();
        let (data, _) = decode_all(&mut d, &[b'a', IAC, 7, b'b', IAC, SE, b'c']);
        assert_eq!(data, b"abc");
        assert_eq!(d.protocol_errors(), 2);
    }

    #[test]
    fn overlong_subnegotiation_is_capped() {
        let mut d = TelnetDecoder::new();
        let mut input = vec![IAC, SB, OPT_NAWS];
        input.extend(std::iter::repeat_n(7u8, 10_000));
        input.extend_from_slice(&[IAC, SE, b'z']);
        let (data, _) = decode_all(&mut d, &input);
        assert_eq!(data, b"z");
        assert_eq!(d.protocol_errors(), 1);
        assert_eq!(d.window_size(), None);
        assert!(d.sb.len() <= MAX_SUBNEGOTIATION);
    }

    #[test]
    fn unclosed_subnegotiation_recovers_on_next_command() {
        let mut d = TelnetDecoder::new();
        // IAC WILL inside SB: the SB is dropped and the WILL is handled.
        let (data, reply) =
            decode_all(&mut d, &[IAC, SB, OPT_NAWS, 0, IAC, WILL, OPT_TSPEED, b'k']);
        assert_eq!(data, b"k");
        assert_eq!(reply, [IAC, DONT, OPT_TSPEED]);
        assert_eq!(d.protocol_errors(), 1);
        // Empty subnegotiation is malformed too.
        decode_all(&mut d, &[IAC, SB, IAC, SE]);
        assert_eq!(d.protocol_errors(), 2);
    }

    #[test]
    fn replies_are_bounded() {
        let mut d = TelnetDecoder::new();
        let mut input = Vec::new();
        for _ in 0..1000 {
            input.extend_from_slice(&[IAC, DO, OPT_STATUS]);
        }
        let (_, reply) = decode_all(&mut d, &input);
        assert_eq!(reply.len(), 3 * MAX_REPLIES as usize);
        assert_eq!(d.protocol_errors(), 1000 - MAX_REPLIES);
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
