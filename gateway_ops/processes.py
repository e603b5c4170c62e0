"""Child processes that are started in their own process group and stopped as a whole.

`wrangler` starts node and workerd children: signalling only the direct child would leave them
running and their ports bound, so every child here leads a new session and is stopped with
``killpg`` — SIGTERM first, SIGKILL if it has not gone within the grace period.
"""
from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from .exceptions import StackError
from .log import logger


class ManagedProcess:
    """A child process whose output is kept (last lines) and whose whole group can be stopped."""

    def __init__(self, name: str, argv: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None):
        self.name = name
        self.argv = list(argv)
        self.cwd = cwd
        self.env = dict(env) if env is not None else None
        self.output: deque[str] = deque(maxlen=200)
        self._ready = threading.Event()
        self._ready_line: str | None = None
        self._process: subprocess.Popen[str] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self, ready: Callable[[str], bool]) -> None:
        """Starts the process; `ready(line)` marks the output line that means it is serving."""
        try:
            self._process = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                bufsize=1,
                start_new_session=True,
            )
        except FileNotFoundError as error:
            raise StackError(f"Cannot start {self.name}: {error.filename} was not found.") from None
        threading.Thread(target=self._pump, args=(ready,), name=f"{self.name}-output", daemon=True).start()

    def _pump(self, ready: Callable[[str], bool]) -> None:
        assert self._process and self._process.stdout
        for line in self._process.stdout:
            line = line.rstrip("\n")
            self.output.append(line)
            logger.debug("%s: %s", self.name, line)
            if not self._ready.is_set() and ready(line):
                self._ready_line = line
                self._ready.set()

    def wait_ready(self, timeout: float) -> str:
        """Waits for the ready line; raises StackError with the process's last output if it never comes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._ready.wait(0.05):
                return self._ready_line or ""
            if self.exited():
                raise StackError(f"{self.name} exited before it was ready:\n{self.tail()}")
        raise StackError(f"{self.name} was not ready within {timeout:.0f} s:\n{self.tail()}")

    def exited(self) -> bool:
        return self._process is not None and self._process.poll() is not None

    def tail(self, lines: int = 15) -> str:
        return "\n".join(list(self.output)[-lines:]) or "(no output)"

    def stop(self, grace: float = 10.0) -> None:
        """Stops the process and every process in its group; safe to call twice."""
        process = self._process
        if process is None:
            return
        if not stop_group(process, grace):
            logger.warning("%s did not stop within %.0f s; killed it", self.name, grace)
        self._process = None


def live_processes_in_group(pgid: int) -> list[int]:
    """PIDs in process group ``pgid`` that are still running (zombies excluded), read from /proc.

    A zombie holds no port or memory; it only waits for its parent (or init) to reap it.
    """
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        state, pgrp = fields[0], int(fields[2])
        if pgrp == pgid and state != "Z":
            alive.append(int(stat.parent.name))
    return alive


def run_checked(name: str, argv: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None,
                timeout: float = 120) -> str:
    """Runs a short command to completion in its own process group; raises StackError with its
    output on failure. On a timeout or an interruption (Ctrl-C, SIGTERM) the whole group is
    killed: wrangler's node and workerd children would otherwise keep running."""
    try:
        process = subprocess.Popen(
            list(argv), cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, start_new_session=True,
        )
    except FileNotFoundError as error:
        raise StackError(f"Cannot run {name}: {error.filename} was not found.") from None
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_group(process, grace=0)
        raise StackError(f"{name} did not finish within {timeout:.0f} s.") from None
    except BaseException:
        stop_group(process, grace=0)
        raise
    if process.returncode != 0:
        output = (stdout + stderr).strip().splitlines()[-15:]
        raise StackError(f"{name} failed (exit {process.returncode}):\n" + "\n".join(output))
    return stdout


def stop_group(process: subprocess.Popen, grace: float = 10.0) -> bool:
    """SIGTERM to the process's whole group, then, after at most ``grace`` seconds, SIGKILL to
    whatever is left of it: the leader may be gone while children of its group linger. Safe to
    call when the process has already ended. Returns whether the leader ended within ``grace``."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        process.wait(timeout=grace)
        in_time = True
    except subprocess.TimeoutExpired:
        in_time = False
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=5)
    return in_time
