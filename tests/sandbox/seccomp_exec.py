"""Runs a command under the system call sandbox a systemd unit file asks for, as systemd would
apply it, without systemd (this machine does not run it as PID 1).

    /usr/bin/python3 seccomp_exec.py UNIT_FILE -- COMMAND [ARGS...]

From the unit's [Service] section: `SystemCallFilter=` lines (an allow list with `@groups`, then
`~` lines taking groups and calls out of it, expanded with `systemd-analyze syscall-filter`),
`SystemCallErrorNumber=` (what a refused call returns), `RestrictAddressFamilies=` (socket() of
any other family is refused; systemd answers EAFNOSUPPORT, this the unit's error number) and
`MemoryDenyWriteExecute=` (no mapping both writable and executable, no mprotect adding
execute). `NoNewPrivileges` comes with loading the filter.
Then it replaces itself with COMMAND (same pid). Needs Debian's python3-seccomp (libseccomp).
"""

import errno
import os
import socket
import subprocess
import sys

import seccomp

FAMILIES = {"AF_UNIX": socket.AF_UNIX, "AF_INET": socket.AF_INET, "AF_INET6": socket.AF_INET6,
            "AF_NETLINK": socket.AF_NETLINK, "AF_PACKET": socket.AF_PACKET}
PROT_WRITE, PROT_EXEC = 0x2, 0x4


def service_settings(path):
    settings = {}
    section = None
    for raw in open(path):
        line = raw.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def expand(name, seen=None):
    """The system calls of a name: a call, or a @group expanded recursively."""
    if not name.startswith("@"):
        return {name}
    seen = seen if seen is not None else set()
    if name in seen:
        return set()
    seen.add(name)
    out = subprocess.run(["systemd-analyze", "syscall-filter", name], check=True,
                         capture_output=True, text=True).stdout
    calls = set()
    for line in out.splitlines()[1:]:
        item = line.strip()
        if item and not item.startswith("#"):
            calls |= expand(item, seen)
    return calls


def allowed_calls(lines):
    allowed = None
    for value in lines:
        names = value.split()
        if names and names[0].startswith("~"):
            names[0] = names[0][1:]
            removed = set().union(*(expand(n) for n in names if n))
            if allowed is None:
                sys.exit("seccomp_exec: a deny list alone (SystemCallFilter=~...) is not supported")
            allowed -= removed
        else:
            added = set().union(*(expand(n) for n in names))
            allowed = added if allowed is None else allowed | added
    return allowed


def main():
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.exit(__doc__)
    unit, command = sys.argv[1], sys.argv[3:]
    settings = service_settings(unit)
    allowed = allowed_calls(settings.get("SystemCallFilter", []))
    if allowed is None:
        sys.exit(f"seccomp_exec: {unit} has no SystemCallFilter=")
    errname = settings.get("SystemCallErrorNumber", ["EPERM"])[-1]
    refused = seccomp.ERRNO(getattr(errno, errname))
    f = seccomp.SyscallFilter(defaction=refused)
    # Calls allowed only with some arguments: libseccomp takes one action per call and
    # arguments, so they get conditional ALLOW rules, and the default (refused) otherwise.
    conditional = {}
    families = settings.get("RestrictAddressFamilies", [])
    if families and "socket" in allowed:
        keep = [FAMILIES[n] for v in families for n in v.split()]
        conditional["socket"] = [[seccomp.Arg(0, seccomp.EQ, fam)] for fam in keep]
    if settings.get("MemoryDenyWriteExecute", ["no"])[-1] in ("yes", "true", "1"):
        wx = PROT_WRITE | PROT_EXEC
        for call in ("mmap", "mmap2"):
            conditional[call] = [[seccomp.Arg(2, seccomp.MASKED_EQ, wx, v)] for v in (0, PROT_WRITE, PROT_EXEC)]
        for call in ("mprotect", "pkey_mprotect"):
            conditional[call] = [[seccomp.Arg(2, seccomp.MASKED_EQ, PROT_EXEC, 0)]]
    known = 0
    for call in sorted(allowed):
        try:
            if call in conditional:
                for args in conditional[call]:
                    f.add_rule(seccomp.ALLOW, call, *args)
            else:
                f.add_rule(seccomp.ALLOW, call)
            known += 1
        except (RuntimeError, ValueError):
            pass  # a call this architecture does not have (e.g. arm_fadvise64_64 on x86-64)
    print(f"seccomp_exec: {os.path.basename(unit)}: {known} system calls allowed, others {errname}",
          file=sys.stderr, flush=True)
    f.load()
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
