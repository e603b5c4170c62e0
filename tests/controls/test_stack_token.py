"""The local stack hands its Worker an admin token: ADMIN_TOKEN when set, else the state folder's
(generated once, owner-only). Checked on the Worker's environment, without starting anything."""
from __future__ import annotations

from gateway_ops.stack import LocalStack, StackConfig


def worker_env(tmp_path, **options) -> dict[str, str]:
    return LocalStack(StackConfig(state_dir=tmp_path, **options))._worker_env()


def test_without_admin_token_the_state_folders_token_is_generated_and_passed(tmp_path, monkeypatch):
    monkeypatch.delenv("ADMIN_TOKEN", raising=False)
    env = worker_env(tmp_path)
    assert env["ADMIN_TOKEN"] == (tmp_path / "admin_token").read_text().strip()
    assert worker_env(tmp_path)["ADMIN_TOKEN"] == env["ADMIN_TOKEN"]  # the same token on every start


def test_admin_token_from_the_environment_wins_and_no_file_is_written(tmp_path, monkeypatch):
    monkeypatch.setenv("ADMIN_TOKEN", "from-the-environment")
    assert worker_env(tmp_path)["ADMIN_TOKEN"] == "from-the-environment"
    assert worker_env(tmp_path, worker_settings={"ADMIN_TOKEN": "given"})["ADMIN_TOKEN"] == "given"
    assert not (tmp_path / "admin_token").exists()


def test_a_stack_can_run_without_an_admin_api(tmp_path, monkeypatch):
    monkeypatch.setenv("ADMIN_TOKEN", "in-the-shell")  # never leaks into a Worker told to have none
    assert "ADMIN_TOKEN" not in worker_env(tmp_path, worker_settings={}, admin_token=False)
