"""Child processes are stopped with their whole group, even when a command times out."""
from __future__ import annotations

import sys

import pytest

from gateway_ops.exceptions import StackError
from gateway_ops.processes import live_processes_in_group, run_checked
from helpers import wait_until

# A parent that starts a grandchild and both sleep: only a group kill stops the grandchild.
SPAWNS_A_GRANDCHILD = (
    "import subprocess, sys, time; "
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)"
)


def test_a_timed_out_command_leaves_no_process_of_its_group(tmp_path):
    pid_file = tmp_path / "pid"
    script = f"import os; open({str(pid_file)!r}, 'w').write(str(os.getpgrp())); " + SPAWNS_A_GRANDCHILD
    with pytest.raises(StackError, match="did not finish within 1 s"):
        run_checked("sleeper", [sys.executable, "-c", script], timeout=1)
    group = int(pid_file.read_text())
    wait_until(lambda: not live_processes_in_group(group), timeout=5, interval=0.05)
    assert live_processes_in_group(group) == []


def test_a_failing_command_reports_its_output():
    with pytest.raises(StackError, match=r"(?s)failed \(exit 3\):.*boom"):
        run_checked("failing", [sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"])


def test_a_missing_program_is_one_sentence():
    with pytest.raises(StackError, match="Cannot run ghost: no-such-program-here was not found"):
        run_checked("ghost", ["no-such-program-here"])
