"""The one module that runs wrangler: its command line, environment, folder and errors — and a
guard that no other module starts wrangler or spells a binding name itself."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

import gateway_ops
from gateway_ops.cloudflare import wrangler
from gateway_ops.cloudflare.errors import WranglerError, WranglerNotInstalledError
from gateway_ops.cloudflare.wrangler_toml import D1_BINDING, KV_BINDING

from .fake_cloudflare import ACCOUNT, TOKEN

PACKAGE = Path(gateway_ops.__file__).parent


def calls(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_command_names_stop_at_the_first_name_path_or_option():
    assert wrangler.command_name(["d1", "migrations", "apply", "DB", "--local"]) == "wrangler d1 migrations apply"
    assert wrangler.command_name(["kv", "bulk", "put", "/tmp/x.json", "--binding", "GATEWAY_KV"]) == "wrangler kv bulk put"
    assert wrangler.command_name(["tail", "organized-gateway", "--format", "json"]) == "wrangler tail"


def test_a_local_command_runs_in_the_worker_folder_quietly_and_without_credentials(tmp_path, fake_wrangler,
                                                                                   monkeypatch):
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("FAKE_WRANGLER_LOG", str(log))
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "")
    with pytest.raises(WranglerError, match=r"(?s)wrangler d1 migrations list failed \(exit 2\):.*unsupported command"):
        wrangler.run(["d1", "migrations", "list", D1_BINDING, *wrangler.local_storage(tmp_path / "state")],
                     wrangler=fake_wrangler, worker_dir=tmp_path)
    [call] = calls(log)
    assert call["argv"] == ["d1", "migrations", "list", "DB", "--local", "--persist-to", str(tmp_path / "state")]
    assert call["cwd"] == str(tmp_path) and call["ci"] == "true" and not call["token_in_env"]


def test_a_cloudflare_command_gets_the_token_in_its_environment_only(cf_settings):
    env = wrangler.cloudflare_env(cf_settings)
    assert env["CLOUDFLARE_API_TOKEN"] == TOKEN and env["CLOUDFLARE_ACCOUNT_ID"] == ACCOUNT
    assert all(env[name] == value for name, value in wrangler.WRANGLER_ENV.items())
    assert env["WRANGLER_SEND_METRICS"] == "false" and env["CLOUDFLARE_CF_FETCH_ENABLED"] == "false"


def test_a_missing_wrangler_is_one_sentence(tmp_path):
    with pytest.raises(WranglerNotInstalledError, match=r"wrangler is not installed .* run `make install`"):
        wrangler.run(["d1", "migrations", "list", D1_BINDING], worker_dir=tmp_path)


def test_failure_reason_finds_wranglers_own_words():
    assert wrangler.failure_reason('x\n{"error": {"text": "no such table: requests"}}') == "no such table: requests"
    assert wrangler.failure_reason("banner\n✘ [ERROR] Database is locked\nmore") == "Database is locked"
    assert wrangler.failure_reason("") == "no output"


def _sources():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path.relative_to(PACKAGE).as_posix(), ast.parse(path.read_text())


def _constants_outside(owner: str, values: tuple[str, ...]) -> list[str]:
    """Where a string constant equal to one of ``values`` appears in any module but ``owner``."""
    return [f"{name}:{node.lineno} {node.value!r}" for name, tree in _sources() if name != owner
            for node in ast.walk(tree) if isinstance(node, ast.Constant) and node.value in values]


def test_only_the_wrangler_module_starts_wrangler():
    """No other module builds wrangler's path, its environment or its local-storage options."""
    assert _constants_outside("cloudflare/wrangler.py", (".bin", "--persist-to", "WRANGLER_SEND_METRICS",
                                                         "CLOUDFLARE_CF_FETCH_ENABLED")) == []


def test_binding_names_are_spelled_only_in_wrangler_toml():
    assert _constants_outside("cloudflare/wrangler_toml.py", (KV_BINDING, D1_BINDING, "RATE_LIMITER")) == []


def _imports(tree) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names.add((node.module or "").split(".")[0])
    return names


def test_only_wrangler_toml_reads_wrangler_toml():
    readers = {name for name, tree in _sources() if _imports(tree) & {"tomlkit", "tomllib"}}
    assert readers == {"cloudflare/wrangler_toml.py"}
