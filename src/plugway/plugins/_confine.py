"""Keeping a supervised plugin host from taking the server's CPU or memory.

Right after a host starts, its CPU priority is lowered below the server's (``nice``), its
address space is capped (``memory_limit_mb``) and it may not write core files (unless
``core_dumps``), so a host that spins, crash-loops through Python start-ups or allocates without
bound slows or fails itself, not the server -- and a crash loop does not fill the disk (or keep
a core-dump handler busy) with one core file per crash. All are set from
the outside (``setpriority``, ``prlimit``) rather than in the child before ``exec``: a
``preexec_fn`` is unsafe in a process with threads, and the child has done nothing yet that the
limits would have had to stop.
"""

from __future__ import annotations

import os
import resource

__all__ = ["confine"]


def confine(
    pid: int, *, nice: int, memory_limit_mb: int | None, core_dumps: bool = False
) -> list[str]:
    """Apply the limits to process ``pid``; what could not be applied, one line each."""
    missed: list[str] = []
    prlimit = getattr(resource, "prlimit", None)  # Linux only
    if nice:
        try:
            mine = os.getpriority(os.PRIO_PROCESS, 0)
            os.setpriority(os.PRIO_PROCESS, pid, min(19, mine + nice))
        except OSError as exc:
            missed.append(f"nice {nice}: {exc}")
    if memory_limit_mb is not None:
        limit = memory_limit_mb * 1024 * 1024
        if prlimit is None:
            missed.append(f"memory_limit_mb {memory_limit_mb}: not supported on this platform")
        else:
            try:
                prlimit(pid, resource.RLIMIT_AS, (limit, limit))
            except (OSError, ValueError) as exc:
                missed.append(f"memory_limit_mb {memory_limit_mb}: {exc}")
    if not core_dumps and prlimit is not None:
        try:
            prlimit(pid, resource.RLIMIT_CORE, (0, 0))
        except (OSError, ValueError) as exc:
            missed.append(f"core_dumps false: {exc}")
    return missed
