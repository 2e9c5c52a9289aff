//! Redirections (`>`, `>>`, `<`, `2>&1`, `&>`) applied: where a command's input comes from and
//! where its output and errors go, session files included.

use super::lexer::{Redir, RedirOp};
use super::{Res, Shell, push_capped};

/// Offsets above this mark a pause in `out` while the final length of `err` is unknown.
const MAX_MARK: usize = usize::MAX / 2;

/// Where one output stream of a command goes after its redirections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Sink {
    Stdout,
    Stderr,
    File(String),
}

/// A command's input and where its two outputs go, after its redirections.
pub(super) struct Streams {
    /// What the command reads: the pipe, a file, or nothing.
    pub(super) stdin: Option<Vec<u8>>,
    /// Where its standard output goes.
    out: Sink,
    /// Where its standard error goes.
    err: Sink,
}

impl Shell {
    /// Applies `redirs` in order, as ash does: a file opened for output is created (or
    /// emptied) at once, even when the command then prints nothing. A file that cannot be read
    /// or created ends the command with ash's message.
    pub(super) fn redirect(
        &mut self,
        redirs: &[Redir],
        stdin: Option<Vec<u8>>,
    ) -> Result<Streams, Res> {
        let mut out_sink = Sink::Stdout;
        let mut err_sink = Sink::Stderr;
        let mut stdin = stdin;
        for r in redirs {
            match r.op {
                RedirOp::In => match self.read(&self.resolve(&r.target)) {
                    Ok(data) => stdin = Some(data),
                    Err(e) => {
                        return Err(Res::fail(
                            format!("-sh: can't open '{}': {e}\n", r.target),
                            1,
                        ));
                    }
                },
                RedirOp::HereString => {
                    let mut data = r.target.clone().into_bytes();
                    data.push(b'\n');
                    stdin = Some(data);
                }
                RedirOp::Dup => {
                    let to = match r.target.as_str() {
                        "1" => out_sink.clone(),
                        "2" => err_sink.clone(),
                        "-" => Sink::File("/dev/null".into()),
                        other => Sink::File(self.resolve(other)),
                    };
                    match r.fd {
                        2 => err_sink = to,
                        3 => {
                            err_sink = to.clone();
                            out_sink = to;
                        }
                        _ => out_sink = to,
                    }
                }
                RedirOp::Out | RedirOp::Append => {
                    let path = self.resolve(&r.target);
                    if let Err(e) = self.write(&path, b"", r.op == RedirOp::Append) {
                        return Err(Res::fail(
                            format!("-sh: can't create {}: {e}\n", r.target),
                            1,
                        ));
                    }
                    let sink = Sink::File(path);
                    match r.fd {
                        2 => err_sink = sink,
                        3 => {
                            err_sink = sink.clone();
                            out_sink = sink;
                        }
                        0 => {}
                        _ => out_sink = sink,
                    }
                }
            }
        }
        Ok(Streams {
            stdin,
            out: out_sink,
            err: err_sink,
        })
    }

    /// Sends a command's output and errors where its redirections said; its status stays.
    ///
    /// Pauses stay where their stream lands: on the terminal, at their place in it; in a file,
    /// where that stream would have started.
    pub(super) fn route(&mut self, res: Res, streams: &Streams, name: &str) -> Res {
        let mut routed = Res {
            status: res.status,
            exit: res.exit,
            ..Res::default()
        };
        let err_len = res.err.len();
        let (mut err_pauses, mut out_pauses) = (Vec::new(), Vec::new());
        for &(at, wait) in &res.pauses {
            if at < err_len || (at == err_len && res.out.is_empty()) {
                err_pauses.push((at, wait));
            } else {
                out_pauses.push((at - err_len, wait));
            }
        }
        // Errors first, as the terminal shows them.
        for (bytes, sink, pauses) in [
            (res.err, &streams.err, err_pauses),
            (res.out, &streams.out, out_pauses),
        ] {
            let (to_err, base) = match sink {
                Sink::Stdout => (false, routed.out.len()),
                Sink::Stderr => (true, routed.err.len()),
                Sink::File(_) => (true, routed.err.len()),
            };
            for (at, wait) in pauses {
                let at = if matches!(sink, Sink::File(_)) {
                    base
                } else {
                    base + at
                };
                routed
                    .pauses
                    .push((if to_err { at } else { usize::MAX - at }, wait));
            }
            match sink {
                Sink::Stdout => push_capped(&mut routed.out, &bytes),
                Sink::Stderr => push_capped(&mut routed.err, &bytes),
                Sink::File(path) => {
                    if let Err(e) = self.write(path, &bytes, true) {
                        let msg = if e == "No space left on device" {
                            let who = if name == "echo" || name == "printf" {
                                format!("-sh: {name}")
                            } else {
                                name.to_string()
                            };
                            format!("{who}: write error: {e}\n")
                        } else {
                            format!("-sh: can't create {path}: {e}\n")
                        };
                        push_capped(&mut routed.err, msg.as_bytes());
                    }
                }
            }
        }
        // Offsets into `out` were marked from the top; they follow the final `err`.
        let err_len = routed.err.len();
        for (at, _) in &mut routed.pauses {
            if *at > MAX_MARK {
                *at = err_len + (usize::MAX - *at);
            }
        }
        routed
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::expect_used,
    clippy::panic
)]
mod tests {
    use crate::shell::test_support::{root, run};

    #[test]
    fn echo_and_redirection() {
        let mut sh = root();
        assert_eq!(run(&mut sh, "echo hello   world"), "hello world\r\n");
        assert_eq!(run(&mut sh, "echo 'a  b' \"c  d\""), "a  b c  d\r\n");
        assert_eq!(run(&mut sh, "echo -n hi"), "hi");
        assert_eq!(run(&mut sh, "echo -e 'a\\tb\\x41\\0102'"), "a\tbAB\r\n");
        assert_eq!(run(&mut sh, "echo -ne '\\x41\\x4b\\x34\\x37'"), "AK47");
        assert_eq!(run(&mut sh, "echo $HOME $USER"), "/root root\r\n");
        assert_eq!(
            run(&mut sh, "cd /tmp; echo one > f; echo two >> f; cat f"),
            "one\r\ntwo\r\n"
        );
        assert_eq!(run(&mut sh, "cat /tmp/f"), "one\r\ntwo\r\n");
        assert_eq!(run(&mut sh, "echo three>f; cat f"), "three\r\n");
        assert_eq!(
            run(&mut sh, "echo x > /etc/x"),
            "-sh: can't create /etc/x: Read-only file system\r\n"
        );
        assert_eq!(
            run(&mut sh, "echo x > /nope/x"),
            "-sh: can't create /nope/x: nonexistent directory\r\n"
        );
        assert_eq!(run(&mut sh, "echo gone >/dev/null"), "");
        assert_eq!(run(&mut sh, "cat /nope 2>/dev/null"), "");
        assert_eq!(run(&mut sh, "cat /nope >/dev/null 2>&1"), "");
        assert_eq!(run(&mut sh, "cat /nope 2>&1 | wc -l"), "1\r\n");
        let bin = sh
            .run_line("echo -ne '\\x7f\\x45\\xff' > /tmp/b; cat /tmp/b")
            .text;
        assert_eq!(bin, b"\x7fE\xff");
    }
}
