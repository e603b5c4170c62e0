"""Archiving the access log: a time range to Parquet and CSV, optionally to R2, optionally out of D1.

The order is the safety: **export** (both files, plus a manifest) → **verify** (both files read back,
same rows and ids as the database holds for the range) → optionally **upload** → optionally
**delete**, which needs an explicit confirmation and deletes only the archived id span of the range,
after checking once more that the database holds exactly as many rows there as the archive.

Deleting locally goes through ``wrangler d1 execute --local --persist-to STATE`` (the local log is
opened read-only here); remotely through the D1 query API with bound parameters.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .. import queries
from ..accesslog import AccessLog, LocalAccessLog
from ..cloudflare import wrangler
from ..cloudflare.errors import WranglerError, WranglerNotInstalledError
from ..exceptions import GatewayOpsError
from ..spreadsheet_csv import read_csv, to_csv
from .ranges import read_range, time_range

#: The R2 object API of the REST API takes bodies up to 300 MB.
R2_MAX_BYTES = 300 * 1024 * 1024


class ArchiveError(GatewayOpsError):
    """An archive could not be written, verified, uploaded, or its rows deleted safely."""


@dataclass(frozen=True)
class Archive:
    """What was archived: the files, the range, how many rows and which id span."""

    parquet: Path
    csv: Path
    manifest: Path
    rows: int
    since: str
    until: str
    min_id: int
    max_id: int

    def to_dict(self) -> dict[str, Any]:
        return {key: str(value) if isinstance(value, Path) else value for key, value in asdict(self).items()}


def export_archive(log: AccessLog, folder: str | Path, since: str | None = None, until: str | None = None, *,
                   name: str = "requests", progress: bool = False) -> Archive:
    """Writes ``[since, until)`` to ``<folder>/<name>.parquet`` and ``.csv`` and verifies both.

    :raises ArchiveError: when a file cannot be written or does not read back complete
    """
    since_iso, until_iso = time_range(since, until)
    upto = queries.id_bounds(log)[1]
    expected = queries.range_count(log, since_iso, until_iso, upto)
    rows = read_range(log, since_iso, until_iso, upto_id=upto, progress=progress)
    if len(rows) != expected["rows"]:
        raise ArchiveError(f"Read {len(rows)} rows but the log holds {expected['rows']} in the range: nothing was written.")
    folder = Path(folder)
    archive = Archive(parquet=folder / f"{name}.parquet", csv=folder / f"{name}.csv", manifest=folder / f"{name}.json",
                      rows=len(rows), since=since_iso, until=until_iso, min_id=expected["min_id"],
                      max_id=expected["max_id"])
    try:
        folder.mkdir(parents=True, exist_ok=True)
        rows.to_parquet(archive.parquet, index=False)
        to_csv(rows, archive.csv)  # spreadsheet-safe; the Parquet file is the exact copy
        archive.manifest.write_text(json.dumps(archive.to_dict(), indent=2) + "\n")
    except OSError as error:
        raise ArchiveError(f"Cannot write the archive in {folder}: {error.strerror or error}.") from None
    verify_archive(archive)
    return archive


def load_archive(manifest: str | Path) -> Archive:
    """The archive described by a manifest written by ``export_archive``."""
    path = Path(manifest)
    try:
        data = json.loads(path.read_text())
        return Archive(**{**data, **{key: Path(data[key]) for key in ("parquet", "csv", "manifest")}})
    except (OSError, ValueError, TypeError, KeyError) as error:
        raise ArchiveError(f"{path} is not an archive manifest: {error}.") from None


def verify_archive(archive: Archive) -> int:
    """Reads both files back: same row count as the manifest, same ids, inside its id span and range.

    :raises ArchiveError: naming what does not match
    """
    try:
        parquet = pd.read_parquet(archive.parquet, columns=["id", "created_at"])
        csv = read_csv(archive.csv, usecols=["id", "created_at"])
    except (OSError, ValueError, KeyError) as error:
        raise ArchiveError(f"Cannot read the archive back: {error}.") from None
    for label, frame in (("Parquet", parquet), ("CSV", csv)):
        if len(frame) != archive.rows:
            raise ArchiveError(f"The {label} file holds {len(frame)} rows, the archive says {archive.rows}.")
    if archive.rows == 0:
        return 0
    if not parquet["id"].astype("int64").equals(csv["id"].astype("int64")) or not parquet["id"].is_unique:
        raise ArchiveError("The Parquet and CSV files do not hold the same rows.")
    if int(parquet["id"].min()) != archive.min_id or int(parquet["id"].max()) != archive.max_id:
        raise ArchiveError("The archive's ids do not span what its manifest says.")
    created = parquet["created_at"].astype("str")
    if (created < archive.since).any() or (created >= archive.until).any():
        raise ArchiveError("The archive holds rows outside its time range.")
    return archive.rows


def upload_archive(archive: Archive, client: Any, account_id: str, bucket: str, prefix: str = "") -> list[str]:
    """Uploads the Parquet, CSV and manifest files to R2 (``client``: a ``cloudflare.Cloudflare``); returns the keys.

    :raises ArchiveError: for a file over the REST API's 300 MB limit, or an API error
    """
    import cloudflare

    verify_archive(archive)
    keys = []
    for path in (archive.parquet, archive.csv, archive.manifest):
        size = path.stat().st_size
        if size > R2_MAX_BYTES:
            raise ArchiveError(f"{path.name} is {size / 2**20:.0f} MB; the R2 REST API takes at most 300 MB: "
                               "archive a shorter time range.")
        key = "/".join(part.strip("/") for part in (prefix, path.name) if part.strip("/"))
        try:
            client.r2.buckets.objects.upload(key, path.read_bytes(), account_id=account_id, bucket_name=bucket)
        except cloudflare.APIError as error:
            raise ArchiveError(f"Uploading {path.name} to R2 bucket {bucket!r} failed: {error}.") from None
        keys.append(key)
    return keys


def delete_archived(log: AccessLog, archive: Archive, *, confirm: bool) -> int:
    """Deletes the archived rows from D1 — only with ``confirm=True``, and only after verifying the archive.

    Returns how many rows were deleted.

    :raises ArchiveError: without confirmation, when the archive does not verify, or when the database
        holds a different number of rows for the archived span than the archive (nothing is deleted)
    """
    if not confirm:
        raise ArchiveError(f"Refusing to delete {archive.rows} rows without confirmation: pass --delete --yes "
                           "(CLI) or confirm_delete=True.")
    verify_archive(archive)
    if archive.rows == 0:
        return 0
    held = queries.range_count(log, archive.since, archive.until, archive.max_id)
    if (held["rows"], held["min_id"], held["max_id"]) != (archive.rows, archive.min_id, archive.max_id):
        raise ArchiveError(f"The database holds {held['rows']} rows for the archived range (ids {held['min_id']}–"
                           f"{held['max_id']}) but the archive has {archive.rows} (ids {archive.min_id}–"
                           f"{archive.max_id}): nothing was deleted. Archive again, then delete.")
    if isinstance(log, LocalAccessLog):
        _delete_locally(log.state_dir, archive)
    else:
        log.query(queries.DELETE_RANGE, [archive.min_id, archive.max_id, archive.since, archive.until])
    left = queries.range_count(log, archive.since, archive.until, archive.max_id)["rows"]
    if left:
        raise ArchiveError(f"{left} archived rows are still in the database after the delete.")
    return archive.rows


def _delete_locally(state_dir: Path, archive: Archive) -> None:
    """The local D1 through wrangler (the engine the local Worker writes with), after wrangler itself
    confirms it sees exactly the archived rows — the same database file that was verified."""
    seen = _wrangler_sql(state_dir, queries.count_range_statement(archive.min_id, archive.max_id, archive.since,
                                                                    archive.until))
    count = int(seen[0]["results"][0]["rows"]) if seen and seen[0].get("results") else -1
    if count != archive.rows:
        raise ArchiveError(f"wrangler sees {count} rows for the archived range in {state_dir}, the archive has "
                           f"{archive.rows}: nothing was deleted.")
    _wrangler_sql(state_dir, queries.delete_range_statement(archive.min_id, archive.max_id, archive.since,
                                                            archive.until))


def _wrangler_sql(state_dir: Path, statement: str) -> list:
    try:
        return wrangler.d1_execute_local(state_dir, statement)
    except WranglerNotInstalledError:
        raise ArchiveError("The Worker's packages are not installed: run `make install` (or `cd worker && npm ci`).") \
            from None
    except WranglerError as error:
        raise ArchiveError(f"wrangler could not run SQL on the local access log: "
                           f"{wrangler.failure_reason(str(error))}. Nothing was deleted.") from None
