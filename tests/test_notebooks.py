"""Notebooks: committed without outputs, parameterised, executed by papermill and checked by nbval."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import nbformat
import papermill
import pytest

from gateway_ops.exceptions import NotebookError
from gateway_ops.notebooks import run_notebook
from gateway_ops.paths import NOTEBOOKS_DIR

NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebooks_carry_no_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name} has outputs: strip them"
    assert "widgets" not in notebook.metadata


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_have_parameters_and_no_secret_parameters(path):
    parameters = papermill.inspect_notebook(str(path))
    assert "out_dir" in parameters
    assert not [name for name in parameters if any(word in name.lower() for word in ("token", "secret", "key"))]


def test_smoke_notebook_runs_under_papermill_and_writes_its_result(gateway_env, tmp_path):
    run = run_notebook("04_smoke_test", {"target": "local", "user_id": "papermill-smoke"}, run_dir=tmp_path)
    assert run.passed and run.result is not None, json.dumps(run.result, indent=2)
    assert run.notebook == tmp_path / "04_smoke_test" / "04_smoke_test.ipynb"
    assert [c["name"] for c in run.result["checks"]][-1] == "access-log row"


def test_a_failing_notebook_is_one_sentence_naming_the_executed_copy(tmp_path, monkeypatch):
    monkeypatch.setenv("GATEWAY_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv("GATEWAY_STATE_DIR", str(tmp_path))
    with pytest.raises(NotebookError, match=r"Notebook 04_smoke_test failed in cell \d+: AssertionError: Smoke test failed"):
        run_notebook("04_smoke_test", {}, run_dir=tmp_path)


def test_secrets_are_refused_as_parameters(tmp_path):
    with pytest.raises(NotebookError, match="CLOUDFLARE_API_TOKEN as notebook parameters"):
        run_notebook("04_smoke_test", {"CLOUDFLARE_API_TOKEN": "x"}, run_dir=tmp_path)


@pytest.mark.notebook  # nbval executes every notebook in a subprocess
def test_notebooks_pass_nbval_lax_against_the_local_stack(gateway_env, tmp_path):
    env = {**os.environ, "GATEWAY_URL": gateway_env.url, "GATEWAY_STATE_DIR": str(gateway_env.state_dir),
           "GATEWAY_RUNS_DIR": str(tmp_path / "runs")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-q", *map(str, NOTEBOOKS)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert sorted(p.name for p in (tmp_path / "runs").glob("*/*/result.json")) == ["result.json"] * len(NOTEBOOKS)
    assert not list(NOTEBOOKS_DIR.glob("result.json")), "a notebook wrote its result beside itself"
