"""Prints how many fuzz cases ran, per property, at the end of the session (README figures)."""
from __future__ import annotations


def pytest_terminal_summary(terminalreporter):
    from .test_fuzz_gateway import CASES

    if CASES:
        terminalreporter.write_line("fuzz: " + ", ".join(f"{name} {count}" for name, count in sorted(CASES.items())))
