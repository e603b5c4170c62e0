"""The wrangler.toml edit: two new lines, every comment and the layout kept, idempotent, and
wrangler 4.86 itself reads the ids. Always on a copy, never the real worker/wrangler.toml."""
from __future__ import annotations

import os
import re
import tomllib

import pytest

from gateway_ops.cloudflare import wrangler, wrangler_toml
from gateway_ops.cloudflare.wrangler_toml import WRANGLER_TOML
from gateway_ops.exceptions import SettingsError
from gateway_ops.paths import WORKER_DIR

KV_ID = "0f2ac74b498b48028cb68387c421e279"
D1_ID = "5b1ce5a4-7cf0-4c4e-9f0e-1d2b3c4d5e6f"


def comments(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.lstrip().startswith("#")]


def test_the_committed_file_has_no_ids_yet():
    config = wrangler_toml.read_config(WRANGLER_TOML)
    assert (config.kv_id, config.d1_id) == (None, None)
    assert config.worker_name == "organized-gateway" and config.kv_title == "organized-gateway-GATEWAY_KV"
    assert config.migrations_dir == (WORKER_DIR.parent / "migrations").resolve()


def test_writing_ids_adds_two_lines_and_keeps_everything_else(worker_copy):
    path = worker_copy / "wrangler.toml"
    before = path.read_text()
    assert wrangler_toml.write_ids(path, KV_ID, D1_ID) is True
    after = path.read_text()
    added = [line for line in after.splitlines() if line not in before.splitlines()]
    assert added == [f'id = "{KV_ID}"', f'database_id = "{D1_ID}"']
    assert [line for line in after.splitlines() if line not in added] == before.splitlines()
    assert comments(after) == comments(before) and len(comments(before)) >= 8
    # each id sits right under the key naming its resource, before the next table's comment
    lines = after.splitlines()
    assert lines[lines.index('binding = "GATEWAY_KV"') + 1] == f'id = "{KV_ID}"'
    assert lines[lines.index('database_name = "organized-gateway-db"') + 1] == f'database_id = "{D1_ID}"'
    parsed = tomllib.loads(after)
    assert parsed["kv_namespaces"] == [{"binding": "GATEWAY_KV", "id": KV_ID}]
    assert parsed["d1_databases"][0]["database_id"] == D1_ID
    assert {k: v for k, v in parsed.items() if k not in ("kv_namespaces", "d1_databases")} == \
        {k: v for k, v in tomllib.loads(before).items() if k not in ("kv_namespaces", "d1_databases")}
    config = wrangler_toml.read_config(path)
    assert (config.kv_id, config.d1_id) == (KV_ID, D1_ID)


def test_writing_the_same_ids_again_changes_nothing_and_new_ids_replace_old_ones(worker_copy):
    path = worker_copy / "wrangler.toml"
    wrangler_toml.write_ids(path, KV_ID, D1_ID)
    once = path.read_bytes()
    assert wrangler_toml.write_ids(path, KV_ID, D1_ID) is False
    assert path.read_bytes() == once
    assert wrangler_toml.ids_diff(path, KV_ID, D1_ID) == ""
    wrangler_toml.write_ids(path, "f" * 32, D1_ID)
    text = path.read_text()
    assert text.count("\nid = ") == 1 and f'id = "{"f" * 32}"' in text


def test_the_diff_shows_the_two_lines_without_writing(worker_copy):
    path = worker_copy / "wrangler.toml"
    before = path.read_bytes()
    diff = wrangler_toml.ids_diff(path, KV_ID, D1_ID)
    assert [line for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")] == \
        [f'+id = "{KV_ID}"', f'+database_id = "{D1_ID}"']
    assert path.read_bytes() == before


def test_malformed_or_incomplete_files_are_one_sentence(tmp_path):
    broken = tmp_path / "wrangler.toml"
    broken.write_text('name = "organized-gateway"\n[[kv_namespaces]\n')
    with pytest.raises(SettingsError, match="is not valid TOML .* restore it with git"):
        wrangler_toml.read_config(broken)
    broken.write_text('name = "organized-gateway"\n')
    with pytest.raises(SettingsError, match=r'no \[\[kv_namespaces\]\] with binding = "GATEWAY_KV"'):
        wrangler_toml.read_config(broken)
    with pytest.raises(SettingsError, match="does not exist"):
        wrangler_toml.read_config(tmp_path / "missing.toml")


@pytest.mark.stack  # runs the real wrangler
def test_wrangler_reads_the_ids_bootstrap_wrote(worker_copy, tmp_path):
    """wrangler 4.86 (offline dry run) binds the KV namespace by the id we wrote."""
    for name in ("src", "node_modules", "tsconfig.json"):
        os.symlink(WORKER_DIR / name, worker_copy / name)
    wrangler_toml.write_ids(worker_copy / "wrangler.toml", KV_ID, D1_ID)
    stdout = wrangler.run(["deploy", "--dry-run", "--outdir", str(tmp_path / "dist")], worker_dir=worker_copy)
    assert re.search(rf"env\.GATEWAY_KV \({KV_ID}\)\s+KV Namespace", stdout), stdout
    assert "env.DB (organized-gateway-db)" in stdout
