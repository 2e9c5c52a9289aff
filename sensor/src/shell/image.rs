//! The device the shell pretends to be: a MIPS (MediaTek MT7621) home router with BusyBox
//! v1.24.1 on Linux 3.10.14. Its identity, its read-only firmware filesystem and the BusyBox
//! applets compiled into it, all static data.

pub(super) const KERNEL_RELEASE: &str = "3.10.14";
pub(super) const PATH_VAR: &str = "/bin:/sbin:/usr/bin:/usr/sbin";
/// PID of the login shell, as shown by `ps` and `$$`.
pub(super) const SHELL_PID: u32 = 1342;
/// Seconds the device had been up when the session started, for a persona without a boot
/// time.
pub(super) const BOOT_UPTIME: u64 = 1_047_263;
/// Directories on writable mounts (tmpfs, jffs2); the rest of the rootfs is read-only squashfs.
/// `/root` and `/home` are on the jffs2 overlay, as on firmwares that keep users' files.
pub(super) const WRITABLE: &[&str] = &["/tmp", "/var", "/dev", "/mnt", "/root", "/home"];
/// Directories searched for commands, in `$PATH` order.
pub(super) const PATH_DIRS: &[&str] = &["/bin", "/sbin", "/usr/bin", "/usr/sbin"];

/// One entry of the static fake filesystem.
#[derive(Clone, Copy)]
pub(super) enum Node {
    Dir,
    File(&'static str),
    /// A binary: the bytes `cat` shows and the size `ls -l` shows.
    Bin(&'static [u8], u32),
    Link(&'static str),
    /// A character device (major, minor).
    Dev(u8, u8),
}

pub(super) const D: &str = "drwxr-xr-x";
pub(super) const F: &str = "-rw-r--r--";
pub(super) const X: &str = "-rwxr-xr-x";
pub(super) const L: &str = "lrwxrwxrwx";
pub(super) const R: &str = "-r--r--r--";
pub(super) const C: &str = "crw-rw-rw-";

/// A little-endian MIPS32 ELF header, so bots that `cat /bin/echo` to learn the
/// architecture (Mirai does) see a MIPS executable. Contains no `\n` byte on purpose.
pub(super) const ELF_MIPSEL: &[u8] = b"\x7fELF\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\
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

pub(super) const CPUINFO: &str = concat!(
    "system type\t\t: MT7621\n",
    cpu!("0", "0", "0", "583.68"),
    cpu!("1", "0", "1", "583.68"),
    cpu!("2", "1", "0", "583.68"),
    cpu!("3", "1", "1", "583.68"),
);

pub(super) const MEMINFO: &str = "MemTotal:         126072 kB\nMemFree:           72560 kB\n\
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

pub(super) const MOUNTS: &str = "rootfs / rootfs rw 0 0\n/dev/root / squashfs ro,relatime 0 0\n\
proc /proc proc rw,relatime 0 0\nsysfs /sys sysfs rw,relatime 0 0\n\
tmpfs /dev tmpfs rw,relatime,size=63036k,mode=755 0 0\n\
devpts /dev/pts devpts rw,relatime,mode=600 0 0\ntmpfs /tmp tmpfs rw,relatime 0 0\n\
tmpfs /var tmpfs rw,relatime 0 0\n/dev/mtdblock5 /mnt jffs2 rw,relatime 0 0\n";

/// `/proc/self/status` of the login shell.
pub(super) const PROC_STATUS: &str = "Name:\tsh\nState:\tS (sleeping)\nTgid:\t1342\nPid:\t1342\n\
PPid:\t401\nTracerPid:\t0\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nFDSize:\t32\nGroups:\t\n\
VmPeak:\t    1524 kB\nVmSize:\t    1520 kB\nVmLck:\t       0 kB\nVmPin:\t       0 kB\n\
VmHWM:\t     312 kB\nVmRSS:\t     312 kB\nVmData:\t     176 kB\nVmStk:\t     136 kB\n\
VmExe:\t     868 kB\nVmLib:\t     316 kB\nVmPTE:\t      12 kB\nVmSwap:\t       0 kB\n\
Threads:\t1\nSigQ:\t0/1008\nSigPnd:\t00000000000000000000000000000000\n\
ShdPnd:\t00000000000000000000000000000000\nSigBlk:\t00000000000000000000000000000000\n\
SigIgn:\t00000000000000000000000000380004\nSigCgt:\t00000000000000000000000008080002\n\
CapInh:\t0000000000000000\nCapPrm:\tffffffffffffffff\nCapEff:\tffffffffffffffff\n\
CapBnd:\tffffffffffffffff\nCpus_allowed:\tf\nCpus_allowed_list:\t0-3\n\
voluntary_ctxt_switches:\t41\nnonvoluntary_ctxt_switches:\t7\n";

/// `/proc/self/maps` of the login shell: BusyBox and uClibc mapped as on MIPS.
pub(super) const PROC_MAPS: &str = "00400000-004d9000 r-xp 00000000 1f:03 211        /bin/busybox\n\
004e9000-004ea000 rw-p 000d9000 1f:03 211        /bin/busybox\n\
004ea000-004ec000 rwxp 00000000 00:00 0          [heap]\n\
77e54000-77e69000 r-xp 00000000 1f:03 317        /lib/libgcc_s.so.1\n\
77ed2000-77f2f000 r-xp 00000000 1f:03 324        /lib/libuClibc-0.9.33.2.so\n\
77f3e000-77f3f000 r--p 0005c000 1f:03 324        /lib/libuClibc-0.9.33.2.so\n\
77f3f000-77f40000 rw-p 0005d000 1f:03 324        /lib/libuClibc-0.9.33.2.so\n\
77f45000-77f4c000 r-xp 00000000 1f:03 301        /lib/ld-uClibc-0.9.33.2.so\n\
77f5b000-77f5c000 r--p 00006000 1f:03 301        /lib/ld-uClibc-0.9.33.2.so\n\
77f5c000-77f5d000 rw-p 00007000 1f:03 301        /lib/ld-uClibc-0.9.33.2.so\n\
7fc1e000-7fc3f000 rwxp 00000000 00:00 0          [stack]\n\
7fff7000-7fff8000 r-xp 00000000 00:00 0          [vdso]\n";

pub(super) const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\n\
admin:x:1000:1000:admin:/home/admin:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";

pub(super) const SHADOW: &str = "root:$1$GTN.gpri$DlSyKvZKMR9A9Uj9e9wR3/:17234:0:99999:7:::\n\
daemon:*:17234:0:99999:7:::\nadmin:$1$zSI7q9Ez$VbJpK7eMpkG0wC8SRgX4R.:17234:0:99999:7:::\n\
nobody:*:17234:0:99999:7:::\n";

pub(super) const RCS: &str = "#!/bin/sh\n\nmount -a\nmkdir -p /var/run /var/log /var/lock\n\
echo /sbin/mdev > /proc/sys/kernel/hotplug\nmdev -s\n\nifconfig lo 127.0.0.1\n\
nvram_daemon &\nsyslogd -C8\nklogd\ntelnetd -l /bin/login\ngoahead &\n";

pub(super) const INITTAB: &str = "::sysinit:/etc/init.d/rcS\nttyS1::respawn:/bin/login\n\
::ctrlaltdel:/sbin/reboot\n::shutdown:/bin/umount -a -r\n::restart:/sbin/init\n";

/// The static filesystem: (path, mode as `ls -l` shows it, node). Applet symlinks are added
/// from [`APPLETS`], the session's files from [`Shell`].
pub(super) static FS: &[(&str, &str, Node)] = &[
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
    ("/dev/pts/0", "crw--w----", Node::Dev(136, 0)),
    ("/dev/tty", C, Node::Dev(5, 0)),
    ("/dev/random", C, Node::Dev(1, 8)),
    ("/dev/shm", "drwxrwxrwt", Node::Dir),
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
    ("/proc/1342/cmdline", R, Node::File("-sh\0")),
    ("/proc/1342/cwd", L, Node::Link("/")),
    ("/proc/1342/exe", L, Node::Link("/bin/busybox")),
    ("/proc/1342/fd", "dr-x------", Node::Dir),
    ("/proc/1342/fd/0", "lrwx------", Node::Link("/dev/pts/0")),
    ("/proc/1342/fd/1", "lrwx------", Node::Link("/dev/pts/0")),
    ("/proc/1342/fd/10", "lrwx------", Node::Link("/dev/tty")),
    ("/proc/1342/fd/2", "lrwx------", Node::Link("/dev/pts/0")),
    ("/proc/1342/maps", R, Node::File(PROC_MAPS)),
    ("/proc/1342/status", R, Node::File(PROC_STATUS)),
    (
        "/proc/cmdline",
        R,
        Node::File("console=ttyS1,57600n8 rootfstype=squashfs,jffs2\n"),
    ),
    ("/proc/cpuinfo", R, Node::File(CPUINFO)),
    ("/proc/loadavg", R, Node::File("")),
    ("/proc/meminfo", R, Node::File(MEMINFO)),
    ("/proc/mounts", R, Node::File(MOUNTS)),
    ("/proc/net", "dr-xr-xr-x", Node::Dir),
    ("/proc/self", L, Node::Link("1342")),
    ("/proc/sys", "dr-xr-xr-x", Node::Dir),
    ("/proc/uptime", R, Node::File("")),
    ("/proc/version", R, Node::File("")),
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
pub(super) static APPLETS: &[(&str, &str)] = &[
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
    ("readlink", "/usr/bin"), ("reboot", "/sbin"), ("rm", "/bin"), ("rmdir", "/bin"), ("rmmod", "/sbin"),
    ("route", "/sbin"), ("sed", "/bin"), ("sh", "/bin"), ("sleep", "/bin"),
    ("sort", "/usr/bin"), ("sync", "/bin"), ("syslogd", "/sbin"), ("tail", "/usr/bin"),
    ("tar", "/bin"), ("tee", "/usr/bin"), ("telnet", "/usr/bin"), ("telnetd", "/usr/sbin"), ("test", "/usr/bin"),
    ("tftp", "/usr/bin"), ("top", "/usr/bin"), ("touch", "/bin"), ("tr", "/usr/bin"),
    ("true", "/bin"), ("udhcpc", "/sbin"), ("umount", "/bin"), ("uname", "/bin"),
    ("uniq", "/usr/bin"), ("uptime", "/usr/bin"), ("vi", "/bin"), ("w", "/usr/bin"),
    ("wc", "/usr/bin"), ("wget", "/usr/bin"), ("which", "/usr/bin"), ("who", "/usr/bin"),
    ("whoami", "/usr/bin"), ("xargs", "/usr/bin"), ("zcat", "/bin"),
];
