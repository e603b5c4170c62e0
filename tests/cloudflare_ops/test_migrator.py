"""The D1 migrator: pending/applied only read, apply records each file atomically in wrangler's
``d1_migrations`` table — and wrangler 4.86 itself agrees with what gateway_ops recorded."""
from __future__ import annotations

import shutil
import sqlite3

import pytest

from gateway_ops.accesslog import find_local_database
from gateway_ops.cloudflare import wrangler
from gateway_ops.cloudflare.errors import MigrationError
from gateway_ops.cloudflare.migrator import Migrator, local_executor, migration_files, remote_executor
from gateway_ops.paths import MIGRATIONS_DIR

from helpers import migration_names

from .fake_cloudflare import ACCOUNT

NAMES = migration_names()


@pytest.fixture
def d1(fake):
    return fake.add_d1("organized-gateway-db")


@pytest.fixture
def migrations(tmp_path):
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder)
    return folder


def migrator(client, d1, folder):
    return Migrator(remote_executor(client, ACCOUNT, d1.uuid), folder)


def test_pending_and_applied_only_read(fake, client, d1, migrations):
    m = migrator(client, d1, migrations)
    assert m.applied() == []
    assert [x.name for x in m.pending()] == NAMES and NAMES[0] == "0001_init.sql"
    assert fake.mutating() == [] and "d1_migrations" not in d1.tables()


def test_apply_runs_each_file_with_its_record_in_one_request(fake, client, d1, migrations):
    m = migrator(client, d1, migrations)
    assert [x.name for x in m.apply(progress=False)] == NAMES
    assert {"requests", "user_summary", "d1_migrations"} <= d1.tables()
    row = m.applied()[0]
    assert (row.id, row.name) == (1, "0001_init.sql") and row.applied_at[:2] == "20"
    assert [x.name for x in m.applied()] == NAMES
    migration_request = [r for r in fake.requests if "CREATE TABLE IF NOT EXISTS requests" in r.sql]
    assert len(migration_request) == 1
    assert migration_request[0].sql.rstrip().endswith("INSERT INTO d1_migrations (name) VALUES ('0001_init.sql');")
    assert m.pending() == []


def test_applying_again_applies_nothing_and_writes_nothing(fake, client, d1, migrations):
    m = migrator(client, d1, migrations)
    m.apply(progress=False)
    fake.requests.clear()
    assert m.apply(progress=False) == []
    assert fake.mutating() == []


@pytest.mark.stack  # runs the real wrangler
def test_wrangler_and_gateway_ops_agree_on_the_bookkeeping(client, d1, migrations, tmp_path):
    """Same d1_migrations columns as wrangler 4.86 creates; and wrangler, reading a database that
    gateway_ops migrated, finds nothing to apply — until the record is removed."""
    state = tmp_path / "state"
    wrangler.apply_local_migrations(state)  # real wrangler, local D1
    local_file = find_local_database(state)
    m = migrator(client, d1, migrations)
    m.apply(progress=False)
    ours = [tuple(row)[1:] for row in d1.db.execute("PRAGMA table_info(d1_migrations)")]
    with sqlite3.connect(local_file) as db:
        theirs = [row[1:] for row in db.execute("PRAGMA table_info(d1_migrations)")]
        their_rows = db.execute("SELECT id, name FROM d1_migrations").fetchall()
    assert ours == theirs and their_rows == [(row.id, row.name) for row in m.applied()]

    with sqlite3.connect(local_file) as target:  # put gateway_ops' database where wrangler keeps the local D1
        d1.db.backup(target)

    def wrangler_list() -> str:
        return wrangler.run(["d1", "migrations", "list", "DB", *wrangler.local_storage(state)])

    assert "No migrations to apply" in wrangler_list()
    with sqlite3.connect(local_file) as db:  # forget the record: wrangler must now call it pending
        db.execute("DELETE FROM d1_migrations")
    assert "0001_init.sql" in wrangler_list()


def test_a_failing_migration_is_rolled_back_and_named(fake, client, d1, migrations):
    (migrations / "9999_broken.sql").write_text(
        "CREATE TABLE half_done (id INTEGER);\nALTER TABLE requests ADD COLUMN ;\n")
    m = migrator(client, d1, migrations)
    with pytest.raises(MigrationError) as caught:
        m.apply(progress=False)
    message = str(caught.value)
    assert message.startswith("Migration 9999_broken.sql failed on the remote D1 database and was rolled back")
    assert "syntax error" in message and f"the {len(NAMES)} migration(s) before it stay applied" in message
    assert "\n" not in message
    assert "half_done" not in d1.tables()  # the whole file rolled back with its record
    assert [x.name for x in m.applied()] == NAMES
    assert [x.name for x in m.pending()] == ["9999_broken.sql"]


def test_a_migration_applied_meanwhile_by_someone_else_is_one_sentence(client, d1, migrations):
    m = migrator(client, d1, migrations)
    stale = m.pending()
    m.apply(progress=False)  # another bootstrap got there first
    with pytest.raises(MigrationError, match=f"{NAMES[0]} is already recorded as applied .* run bootstrap again"):
        m.apply(progress=False, pending=stale)


def test_files_run_in_wranglers_numeric_order_and_odd_names_are_refused(tmp_path):
    for name in ("10_later.sql", "2_second.sql", "0001_first.sql", "notes.txt"):
        (tmp_path / name).write_text("SELECT 1;")
    assert [m.name for m in migration_files(tmp_path)] == ["0001_first.sql", "2_second.sql", "10_later.sql"]
    (tmp_path / "3_it's.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="may only use letters, digits"):
        migration_files(tmp_path)
    with pytest.raises(MigrationError, match="No migrations folder"):
        migration_files(tmp_path / "nope")


def test_the_local_d1_reads_as_nothing_applied_before_the_stack_ever_ran(tmp_path):
    m = Migrator(local_executor(tmp_path), MIGRATIONS_DIR, where="the local D1 database")
    assert m.applied() == [] and [x.name for x in m.pending()] == NAMES


def test_the_session_stacks_local_d1_shows_the_same_record(stack):
    assert [row.name for row in Migrator(local_executor(stack.state_dir), MIGRATIONS_DIR).applied()] == NAMES
