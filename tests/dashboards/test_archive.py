"""Archive: export → verify → upload (R2, faked at HTTP) → delete, which never removes an unarchived row."""
from __future__ import annotations

import json
import sqlite3
import time
from datetime import datetime, UTC

import httpx
import pandas as pd
import pytest

from gateway_ops.accesslog import CloudflareAccessLog, LocalAccessLog
from gateway_ops.cloudflare_api import make_client
from gateway_ops.dashboards.archive import (ArchiveError, delete_archived, export_archive, load_archive,
                                            upload_archive, verify_archive)
from gateway_ops.dashboards.live import created_at_text
from gateway_ops.settings import Settings

from helpers import fresh_user, wait_for_rows

from .helpers import NOW, LogFile, row, send

ACCOUNT = "0123456789abcdef0123456789abcdef"
DATABASE = "11111111-2222-3333-4444-555555555555"
SINCE = created_at_text(NOW - pd.Timedelta(minutes=10))


@pytest.fixture
def log_file(tmp_path):
    log_file = LogFile(tmp_path / "state")
    log_file.add([row("old", 3600)] + [row(f"u{i % 3}", 300 - i) for i in range(12)])
    return log_file


def envelope(result, success=True, errors=()):
    return {"success": success, "errors": list(errors), "messages": [], "result": result}


def test_export_writes_parquet_csv_and_manifest_and_verifies_them(log_file, tmp_path):
    archive = export_archive(LocalAccessLog(log_file.state_dir), tmp_path / "out", since=SINCE)
    assert archive.rows == 12 and (archive.min_id, archive.max_id) == (2, 13)
    parquet, csv = pd.read_parquet(archive.parquet), pd.read_csv(archive.csv)
    assert parquet["id"].tolist() == csv["id"].tolist() == list(range(2, 14))
    assert "ip_hash" not in parquet and set(parquet["user_id"]) == {"u0", "u1", "u2"}
    assert load_archive(archive.manifest) == archive and verify_archive(archive) == 12


@pytest.mark.parametrize("damage, message", [
    (lambda a: a.csv.write_text("\n".join(a.csv.read_text().splitlines()[:-1]) + "\n"), "CSV file holds 11 rows"),
    (lambda a: a.parquet.unlink(), "Cannot read the archive back"),
])
def test_a_damaged_archive_fails_verification_and_deletes_nothing(log_file, tmp_path, damage, message):
    log = LocalAccessLog(log_file.state_dir)
    archive = export_archive(log, tmp_path / "out", since=SINCE)
    damage(archive)
    with pytest.raises(ArchiveError, match=message):
        delete_archived(log, archive, confirm=True)
    assert log_file.execute("SELECT COUNT(*) FROM requests")[0][0] == 13


def test_delete_needs_confirmation(log_file, tmp_path):
    log = LocalAccessLog(log_file.state_dir)
    archive = export_archive(log, tmp_path / "out", since=SINCE)
    with pytest.raises(ArchiveError, match="Refusing to delete 12 rows without confirmation"):
        delete_archived(log, archive, confirm=False)
    assert log_file.execute("SELECT COUNT(*) FROM requests")[0][0] == 13


def test_delete_refuses_when_the_database_no_longer_matches_the_archive(log_file, tmp_path):
    log = LocalAccessLog(log_file.state_dir)
    archive = export_archive(log, tmp_path / "out", since=SINCE)
    log_file.execute("DELETE FROM requests WHERE id = 5")
    with pytest.raises(ArchiveError, match="holds 11 rows for the archived range .* nothing was deleted"):
        delete_archived(log, archive, confirm=True)
    assert log_file.execute("SELECT COUNT(*) FROM requests")[0][0] == 12


class FakeCloudflare:
    """Cloudflare's D1 query and R2 object endpoints, shaped as the API docs say, over a real SQLite file."""

    def __init__(self, database_path):
        self.db = sqlite3.connect(database_path, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.uploads: dict[str, bytes] = {}
        self.statements: list[dict] = []
        self.r2_error: int | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        prefix = f"/client/v4/accounts/{ACCOUNT}"
        path = request.url.path
        if request.method == "POST" and path == f"{prefix}/d1/database/{DATABASE}/query":
            sent = json.loads(request.content)
            self.statements.append(sent)
            cursor = self.db.execute(sent["sql"], sent.get("params") or [])
            rows = [dict(r) for r in cursor.fetchall()]
            self.db.commit()
            meta = {"changed_db": cursor.rowcount > 0, "changes": max(cursor.rowcount, 0), "duration": 0.1,
                    "last_row_id": 0, "rows_read": len(rows), "rows_written": max(cursor.rowcount, 0)}
            return httpx.Response(200, json=envelope([{"results": rows, "success": True, "meta": meta}]))
        if request.method == "PUT" and path.startswith(f"{prefix}/r2/buckets/event-archive/objects/"):
            if self.r2_error:
                return httpx.Response(self.r2_error, json=envelope(None, False, [{"code": 10006,
                                                                                 "message": "Access denied"}]))
            key = path.split("/objects/", 1)[1]
            self.uploads[key] = request.content
            return httpx.Response(200, json=envelope({"key": key, "etag": "e", "size": str(len(request.content)),
                                                      "storage_class": "Standard",
                                                      "uploaded": "2026-11-28T10:00:00Z"}))
        return httpx.Response(404, json=envelope(None, False, [{"code": 7003, "message": "No route for that URI"}]))


def fake_client(fake: FakeCloudflare):
    settings = Settings(CLOUDFLARE_API_TOKEN="test-token", CLOUDFLARE_ACCOUNT_ID=ACCOUNT)
    return make_client(settings, http_client=httpx.Client(transport=httpx.MockTransport(fake)))


def test_remote_archive_upload_and_delete_through_the_api(log_file, tmp_path):
    fake = FakeCloudflare(log_file.path)
    client = fake_client(fake)
    log = CloudflareAccessLog(client, ACCOUNT, DATABASE)
    archive = export_archive(log, tmp_path / "out", since=SINCE)
    assert archive.rows == 12
    keys = upload_archive(archive, client, ACCOUNT, "event-archive", prefix="2026-11-28/")
    assert keys == ["2026-11-28/requests.parquet", "2026-11-28/requests.csv", "2026-11-28/requests.json"]
    assert fake.uploads["2026-11-28/requests.csv"] == archive.csv.read_bytes()
    assert delete_archived(log, archive, confirm=True) == 12
    delete = [s for s in fake.statements if s["sql"].startswith("DELETE")]
    assert delete == [{"sql": "DELETE FROM requests WHERE id >= ? AND id <= ? AND created_at >= ? AND created_at < ?",
                       "params": ["2", "13", archive.since, archive.until]}]  # bound, never formatted in
    assert log_file.execute("SELECT user_id FROM requests") == [("old",)]


def test_an_r2_error_is_one_sentence(log_file, tmp_path):
    fake = FakeCloudflare(log_file.path)
    fake.r2_error = 403
    client = fake_client(fake)
    archive = export_archive(LocalAccessLog(log_file.state_dir), tmp_path / "out", since=SINCE)
    with pytest.raises(ArchiveError, match="Uploading requests.parquet to R2 bucket 'event-archive' failed"):
        upload_archive(archive, client, ACCOUNT, "event-archive")


@pytest.mark.stack
def test_local_delete_goes_through_wrangler_while_the_stack_runs(make_stack, tmp_path):
    """The local log is read-only here: deleting uses wrangler on the same files the running Worker writes."""
    stack = make_stack(tmp_path / "state")
    log = LocalAccessLog(stack.state_dir)
    before, user = fresh_user("keep"), fresh_user("archive")
    send(stack.url, before, 2)
    assert len(wait_for_rows(log, before, 2)) == 2
    time.sleep(0.05)  # not a synchronisation: `since` must fall after the millisecond stamped on those rows
    since = datetime.now(UTC).isoformat()
    send(stack.url, user, 6)
    assert len(wait_for_rows(log, user, 6)) == 6
    archive = export_archive(log, tmp_path / "out", since=since)
    assert archive.rows == 6
    assert delete_archived(log, archive, confirm=True) == 6
    left = log.query("SELECT user_id, COUNT(*) AS n FROM requests GROUP BY user_id").set_index("user_id")["n"]
    assert left.to_dict() == {before: 2}
    send(stack.url, user, 1)  # the Worker keeps logging after the delete
    assert len(wait_for_rows(log, user, 1)) == 1


@pytest.mark.parametrize("since", ["2026-11-28 10:00:00.000' OR '1'='1", "2026-11-28 10:00:00", "2026-11-28T10:00:00.000Z",
                                   ""])
def test_only_plain_timestamps_reach_the_wrangler_sql_text(since):
    from gateway_ops import queries

    with pytest.raises(ValueError, match="not a created_at timestamp"):
        queries.delete_range_statement(1, 2, since, "2026-11-28 11:00:00.000")
    # Ids as a string and a float, as they may come from a frame: the wrong types are the point.
    assert queries.delete_range_statement("3", 4.0, "2026-11-28 10:00:00.000", "2026-11-28 11:00:00.000") == (  # type: ignore[arg-type]
        "DELETE FROM requests WHERE id >= 3 AND id <= 4 AND created_at >= '2026-11-28 10:00:00.000' "
        "AND created_at < '2026-11-28 11:00:00.000'")
