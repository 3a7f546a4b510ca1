"""What Linux's /proc says of a process (proc(5)): children, memory, CPU time, sockets."""
from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int | str) -> list[str]:
    """Return the fields of /proc/PID/stat after the command name (field 3 onwards)."""
    return Path("/proc", str(pid), "stat").read_text().rpartition(")")[2].split()


def children(parent: int) -> set[int]:
    """Return the pids of the processes whose parent is *parent* (gunicorn's workers)."""
    pids = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            ppid = int(_stat_fields(entry)[1])     # proc(5): field 4 is the ppid
        except (OSError, IndexError, ValueError):  # gone meanwhile
            continue
        if ppid == parent:
            pids.add(int(entry))
    return pids


def rss_kib(pid: int) -> int:
    """Return the resident set size of *pid* in KiB (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise LookupError(f"no VmRSS for process {pid}")


def memory_mb(pid: int) -> tuple[float, float]:
    """Return RSS and PSS of *pid* in MB (PSS: shared pages split between their sharers)."""
    values = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("Rss", "Pss"):
            values[name] = int(rest.split()[0]) / 1024
    return values["Rss"], values["Pss"]


def cpu_seconds(pid: int) -> float:
    """Return the user + system CPU seconds *pid* has used; raise OSError once it is gone."""
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / TICKS   # utime, stime: proc(5) fields 14, 15


def socket_owner(server_port: int, client_port: int, pids: Iterable[int]) -> int | None:
    """Return which of *pids* holds the server end of a loopback TCP connection, or None."""
    local, remote = f"0100007F:{server_port:04X}", f"0100007F:{client_port:04X}"
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == local and fields[2] == remote:
            inode = fields[9]
    if inode is None:
        return None
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    return None
