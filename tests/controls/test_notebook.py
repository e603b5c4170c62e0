"""Notebook 10 under papermill against the local stack: the rehearsal proves every control and
restores them; without an admin API the notebook fails and says why."""
from __future__ import annotations

import json

import pytest

from gateway_ops.exceptions import NotebookError
from gateway_ops.notebooks import run_notebook

from .test_integration import OFF


def test_the_control_notebook_proves_each_control_and_restores_them(gateway_env, tmp_path):
    run = run_notebook("10_event_controls", {"limit_to_try": 2, "cap_to_try": 4}, run_dir=tmp_path)
    assert run.result is not None and run.passed, json.dumps(run.result and run.result["checks"], indent=2)
    names = [c["name"] for c in run.result["checks"]]
    assert names[-2:] == ["controls restored", "no secret on the panel"] and len(names) == 12
    assert run.result["controls"] == OFF
    executed = (tmp_path / "10_event_controls" / "10_event_controls.ipynb").read_text()
    assert gateway_env.admin_token not in executed


def test_without_an_admin_api_the_notebook_fails_and_says_why(make_stack, tmp_path, monkeypatch):
    bare = make_stack(tmp_path / "state", admin_token=False)
    monkeypatch.setenv("GATEWAY_URL", bare.url)
    monkeypatch.setenv("GATEWAY_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("ADMIN_TOKEN", "some-token")  # set here, but the Worker has none
    with pytest.raises(NotebookError, match="A control did not have its effect"):
        run_notebook("10_event_controls", {"run_tour": False}, run_dir=tmp_path / "runs")
    result = json.loads(next((tmp_path / "runs").glob("**/result.json")).read_text())
    assert not result["passed"] and "has no admin API" in " ".join(result["errors"])
    assert "some-token" not in (tmp_path / "runs" / "10_event_controls" / "10_event_controls.ipynb").read_text()
