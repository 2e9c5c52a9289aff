//! Recording what a shell line produced, for every front door (telnet, SSH): the commands as
//! typed, the files the attacker wrote ([`EventType::FileWritten`]) and the URLs it named
//! ([`EventType::DownloadAttempt`]). The only part of the shell that does I/O (through the
//! [`Session`]); the shell itself stays pure.

use store::{EventType, escape_text};

use super::{DownloadAttempt, ShellOutput, WrittenFile};
use crate::encoding::base64_encode;
use crate::session::{Session, row};

/// Records each command of `commands` as a `command_type` event (`telnet.command`,
/// `ssh.command`) with `input_type` (`command`, `exec`), marked `unterminated` when the line
/// was cut off by the end of the connection.
pub async fn record_commands(
    session: &mut Session,
    command_type: EventType,
    input_type: &str,
    commands: &[&[u8]],
    unterminated: bool,
) {
    for command in commands {
        let mut data = row([
            ("input_type", input_type.into()),
            ("user_input", escape_text(command).into()),
        ]);
        if unterminated {
            data.insert("unterminated".into(), true.into());
        }
        session.record(command_type, data).await;
    }
}

/// A written file's `file.written` data (shape in docs/events.md).
pub fn file_row(file: &WrittenFile) -> store::Row {
    row([
        ("path", escape_text(file.path.as_bytes()).into()),
        ("size", file.size.into()),
        ("sha256", file.sha256.clone().into()),
        ("data", base64_encode(&file.data).into()),
        ("truncated", file.truncated.into()),
        ("via", file.via.clone().into()),
    ])
}

/// Records a written file as a `file.written` event.
pub async fn record_file(session: &mut Session, file: &WrittenFile) {
    session.record(EventType::FileWritten, file_row(file)).await;
}

/// A URL's `download.attempt` data.
pub fn download_row(download: &DownloadAttempt) -> store::Row {
    row([
        ("url", escape_text(download.url.as_bytes()).into()),
        ("command", download.command.clone().into()),
    ])
}

/// Records a URL named to a download tool as a `download.attempt` event.
pub async fn record_download(session: &mut Session, download: &DownloadAttempt) {
    session
        .record(EventType::DownloadAttempt, download_row(download))
        .await;
}

/// Records all of one line's output: its commands (as `command_type` events with
/// `input_type`), then the files and URLs it revealed.
pub async fn record_output(
    session: &mut Session,
    command_type: EventType,
    input_type: &str,
    output: &ShellOutput,
) {
    let commands: Vec<&[u8]> = output.commands.iter().map(Vec::as_slice).collect();
    record_commands(session, command_type, input_type, &commands, false).await;
    for file in &output.files {
        record_file(session, file).await;
    }
    for download in &output.downloads {
        record_download(session, download).await;
    }
}

/// Records the files a finished shell still held ([`super::Shell::finish`]).
pub async fn record_files(session: &mut Session, files: &[WrittenFile]) {
    for file in files {
        record_file(session, file).await;
    }
}
