"""The migration stamp: a start skips wrangler only when nothing it would do has changed.

Each case starts from a folder wrangler really migrated (conftest's per-process copy), then
changes one thing the stamp must notice. ``wrangler.apply_local_migrations`` is replaced by a
recorder only to see whether the stack would have called it.
"""
from __future__ import annotations

import dataclasses
import shutil
import sqlite3

import pytest

from conftest import migrated_state
from gateway_ops import migration_stamp, stack
from gateway_ops.accesslog import find_local_database
from gateway_ops.cloudflare.wrangler_toml import read_config

pytestmark = pytest.mark.stack  # the first copy per process runs the real wrangler


@pytest.fixture
def state(tmp_path):
    folder = tmp_path / "state"
    migrated_state(folder)
    return folder


@pytest.fixture
def wrangler_calls(monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(stack.wrangler, "apply_local_migrations", lambda folder: calls.append(str(folder)))
    return calls


def test_a_stamped_folder_starts_without_wrangler(state, wrangler_calls):
    assert migration_stamp.is_current(state, read_config())
    stack.apply_local_migrations(state)
    assert wrangler_calls == []


def test_a_new_migration_file_runs_wrangler(state, tmp_path):
    config = read_config()
    migrations = tmp_path / "migrations"
    shutil.copytree(config.migrations_dir, migrations)
    (migrations / "0099_next.sql").write_text("ALTER TABLE requests ADD COLUMN next TEXT;\n")
    assert not migration_stamp.is_current(state, dataclasses.replace(config, migrations_dir=migrations))


def test_an_edited_migration_runs_wrangler(state, tmp_path):
    config = read_config()
    migrations = tmp_path / "migrations"
    shutil.copytree(config.migrations_dir, migrations)
    first = sorted(migrations.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited\n")
    assert not migration_stamp.is_current(state, dataclasses.replace(config, migrations_dir=migrations))


def test_another_database_id_runs_wrangler(state):
    assert not migration_stamp.is_current(state, dataclasses.replace(read_config(), d1_id="0f1e2d3c"))


@pytest.mark.parametrize("damage", ["no stamp", "malformed stamp", "record removed", "database deleted"])
def test_a_damaged_folder_runs_wrangler(state, wrangler_calls, damage):
    stamp = state / migration_stamp.STAMP_NAME
    if damage == "no stamp":
        stamp.unlink()
    elif damage == "malformed stamp":
        stamp.write_text("{not json")
    elif damage == "record removed":  # e.g. an older copy of the database put back in its place
        with sqlite3.connect(find_local_database(state)) as db:
            db.execute("DELETE FROM d1_migrations WHERE id = (SELECT MAX(id) FROM d1_migrations)")
    else:
        find_local_database(state).unlink()
    assert not migration_stamp.is_current(state, read_config())
    stack.apply_local_migrations(state)
    assert wrangler_calls == [str(state)]
