"""The record every notebook and check command leaves: ``result.json``.

Shape (the same for every notebook and command): ``{"passed": bool, "checks": [{"name", "expected", "observed", "passed"}], …}``
where ``passed`` is true only if every check held. Extra keys (e.g. a capacity sweep's ``steps``)
sit beside them.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class Check:
    """One thing that was expected, what was seen, and whether they agree."""

    name: str
    expected: Any
    observed: Any
    passed: bool


def result_dict(checks: list[Check], **extra: Any) -> dict[str, Any]:
    return {"passed": bool(checks) and all(c.passed for c in checks), "checks": [asdict(c) for c in checks], **extra}


def write_result(path: str | Path, checks: list[Check], **extra: Any) -> dict[str, Any]:
    """Writes ``result.json`` (creating its folder) and returns what it wrote."""
    result = result_dict(checks, **extra)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    return result


def checks_frame(checks: list[Check]) -> pd.DataFrame:
    """The checks as a table, one row per check, for notebooks and the CLI."""
    frame = pd.DataFrame([asdict(c) for c in checks], columns=["name", "expected", "observed", "passed"])
    frame["result"] = frame["passed"].map({True: "PASS", False: "FAIL"})
    return frame[["result", "name", "expected", "observed"]]
