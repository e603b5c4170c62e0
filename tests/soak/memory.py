"""Resident memory of the local stack's process groups (the Worker's node + workerd, the origin)."""
from __future__ import annotations

from pathlib import Path

from gateway_ops.processes import live_processes_in_group
from gateway_ops.stack import LocalStack


def group_rss_mb(pgid: int) -> float:
    """The summed VmRSS of every live process in group ``pgid``, in MiB (from /proc)."""
    total_kb = 0
    for pid in live_processes_in_group(pgid):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue  # it ended between the listing and the read
        total_kb += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return total_kb / 1024


def stack_rss_mb(stack: LocalStack) -> dict[str, float]:
    """RSS per part; each part runs in its own session, so its pid is its group id."""
    parts = {"worker": stack.worker, "origin": stack.origin}
    return {name: round(group_rss_mb(part.pid), 1) for name, part in parts.items() if part is not None and part.pid}
