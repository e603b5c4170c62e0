"""Running the facilitator's notebooks with papermill, each into its own folder under ``runs/``.

The input notebook is fixed; the executed copy and its ``result.json`` are the record of the run
(``runs/<timestamp>/<notebook>/``). Parameters are checked so that no secret is ever passed as one
(by its name or by its value: ``gateway_ops.secret_values``): papermill writes parameters into the
executed notebook.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, UTC
from pathlib import Path
from typing import Any

import nbformat

from .exceptions import NotebookError
from .paths import NOTEBOOKS_DIR, runs_root
from .secret_values import secret_reasons


@dataclass(frozen=True)
class NotebookRun:
    name: str
    notebook: Path
    result: dict[str, Any] | None

    @property
    def passed(self) -> bool:
        return bool(self.result and self.result.get("passed"))


def new_run_dir(runs_dir: Path | None = None) -> Path:
    """A fresh ``runs/<UTC timestamp>/`` folder (``GATEWAY_RUNS_DIR`` moves ``runs/``)."""
    runs_dir = runs_dir or runs_root()
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    for suffix in ["", *(f"-{i}" for i in range(2, 100))]:
        folder = Path(runs_dir) / f"{stamp}{suffix}"
        try:
            folder.mkdir(parents=True)
            return folder
        except FileExistsError:
            continue
    raise NotebookError(f"Could not create a run folder under {runs_dir}.")


def output_dir(out_dir: str, name: str) -> Path:
    """Where a notebook writes its result: ``out_dir`` when papermill set it, else a new run folder
    (a notebook opened in JupyterLab leaves its record under ``runs/`` too, never beside itself)."""
    folder = Path(out_dir) if out_dir else new_run_dir() / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def check_parameters(parameters: dict[str, Any]) -> None:
    """Refuses parameters that look like secrets, by name or by value (a URL with a password, a
    bearer token, an ``sk-…`` key, a known secret's value): they would be written into the notebook.
    The message names the parameters and why, never a value."""
    reasons = secret_reasons(parameters)
    if reasons:
        why = "; ".join(f"{name}: {reason}" for name, reason in reasons.items())
        raise NotebookError(
            f"Refusing to pass {', '.join(reasons)} as notebook parameters ({why}): secrets come from the "
            "environment or .env, never from parameters."
        )


def _drop_widget_state(path: Path) -> None:
    """Executed notebooks keep no widget state (plotly's bundle alone is ~5 MB)."""
    notebook = nbformat.read(path, as_version=4)
    if notebook.metadata.pop("widgets", None) is not None:
        nbformat.write(notebook, path)


def run_notebook(name: str, parameters: dict[str, Any] | None = None, *, run_dir: Path | None = None,
                 notebooks_dir: Path = NOTEBOOKS_DIR) -> NotebookRun:
    """Executes ``notebooks/<name>.ipynb`` into ``<run_dir>/<name>/`` and reads its result.json.

    :raises NotebookError: when a cell fails (naming the cell and the executed copy)
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError
    from traitlets.config import Config

    parameters = dict(parameters or {})
    check_parameters(parameters)
    source = Path(notebooks_dir) / f"{name}.ipynb"
    if not source.exists():
        raise NotebookError(f"No notebook named {name!r} in {notebooks_dir}.")
    out_dir = (run_dir or new_run_dir()) / name
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / f"{name}.ipynb"
    try:
        papermill.execute_notebook(
            str(source), str(output), parameters={**parameters, "out_dir": str(out_dir)},
            cwd=str(out_dir), kernel_name="python3", progress_bar=False, log_output=False,
            # The kernel talks over Unix sockets, not loopback TCP: no port, nothing in plain text.
            config=Config({"KernelManager": {"transport": "ipc"}}),
        )
    except PapermillExecutionError as error:
        raise NotebookError(
            f"Notebook {name} failed in cell {error.exec_count}: {error.ename}: {error.evalue.strip()[:300]} "
            f"(executed copy: {output})."
        ) from None
    finally:
        if output.exists():
            _drop_widget_state(output)
    result_path = out_dir / "result.json"
    result = json.loads(result_path.read_text()) if result_path.exists() else None
    return NotebookRun(name=name, notebook=output, result=result)
