"""What the hostile tests and the benches read from Linux ``/proc`` about a server under load:
resident memory, the processes under it, and the CPU its process group has used. Plain
functions with no test framework, so ``bench/`` imports them too."""

from __future__ import annotations

import os
from pathlib import Path


def rss(pid: int) -> int:
    """Resident bytes of ``pid`` (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def descendants(pid: int) -> list[int]:
    """Every process under ``pid`` (its verification workers, their forkserver)."""
    out: list[int] = []
    todo = [pid]
    while todo:
        cur = todo.pop()
        try:
            tasks = list(Path(f"/proc/{cur}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                children = [int(x) for x in (task / "children").read_text().split()]
            except OSError:
                continue
            out.extend(children)
            todo.extend(children)
    return out


def tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and every process under it."""
    return rss(pid) + sum(rss(p) for p in descendants(pid))


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU of every live process in the process group ``pgid`` (a server, its
    workers and their pool processes): CPU per request is the figure that other load on the
    machine disturbs least, where req/s moves with every neighbour."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # field 5 (pgrp), after state and ppid
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick
