"""Reading the access log: one interface, two backends, pandas DataFrames out.

* ``LocalAccessLog`` opens the local stack's D1 SQLite file read-only (fast, no server needed).
* ``CloudflareAccessLog`` runs the same SQL on the remote D1 through the official ``cloudflare``
  SDK, with parameters bound, never interpolated.

The SQL itself lives in ``gateway_ops.queries``.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from .exceptions import AccessLogError
from .settings import Settings

D1_SUBDIR = Path("v3") / "d1" / "miniflare-D1DatabaseObject"


class AccessLog(Protocol):
    """Anything that runs SQL on the access log and returns a DataFrame."""

    def query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame: ...


def find_local_database(state_dir: Path) -> Path:
    """The local D1 file holding ``requests`` under ``state_dir`` (the newest, if several).

    :raises AccessLogError: when the local stack has never run with this state folder
    """
    folder = Path(state_dir) / D1_SUBDIR
    candidates = sorted(
        (p for p in folder.glob("*.sqlite") if p.name != "metadata.sqlite"),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for candidate in candidates:
        with sqlite3.connect(f"file:{candidate}?mode=ro", uri=True) as db:
            if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'requests'").fetchone():
                return candidate
    raise AccessLogError(
        f"No local access log under {state_dir}: start the local stack once (`gateway-ops up`), "
        "or set GATEWAY_STATE_DIR to the folder it used."
    )


class LocalAccessLog:
    """The local stack's D1 database, opened read-only for each query."""

    def __init__(self, state_dir: str | Path):
        self.state_dir = Path(state_dir)

    def query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        path = find_local_database(self.state_dir)
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
                return pd.read_sql_query(sql, db, params=tuple(params))
        except (sqlite3.Error, pd.errors.DatabaseError) as error:
            raise AccessLogError(f"The access-log query failed: {error}.") from None


class CloudflareAccessLog:
    """The deployed gateway's D1 database, through the D1 query API."""

    def __init__(self, client: Any, account_id: str, database_id: str):
        self.client = client
        self.account_id = account_id
        self.database_id = database_id

    def query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        import cloudflare

        try:
            page = self.client.d1.database.query(
                self.database_id, account_id=self.account_id, sql=sql, params=[_d1_param(p) for p in params]
            )
        except cloudflare.APIError as error:
            from .cloudflare.errors import translate

            reason = translate(error, "querying the remote access log", "D1 Edit")
            raise AccessLogError(f"The remote access-log query failed: {reason}") from None
        rows: list[dict[str, Any]] = []
        for result in page.result if hasattr(page, "result") else page:
            rows.extend(result.results or [])
        return pd.DataFrame(rows)


def _d1_param(value: Any) -> str:
    """D1's query API takes parameters as strings; SQLite's affinity restores numbers."""
    return str(value)


def cloudflare_access_log(settings: Settings, http_client: Any = None) -> CloudflareAccessLog:
    """The deployed gateway's access log: the D1 database whose id bootstrap wrote into wrangler.toml.

    :raises SettingsError: when the token or account is missing, or bootstrap has not run
    """
    from .cloudflare.wrangler_toml import read_config
    from .cloudflare_api import make_client, require_account_id

    return CloudflareAccessLog(make_client(settings, http_client), require_account_id(settings),
                               read_config().require_d1_id())


def open_access_log(settings: Settings, target: str | None = None) -> AccessLog:
    """The access log for ``target`` (default: settings.GATEWAY_TARGET)."""
    target = target or settings.GATEWAY_TARGET
    if target == "local":
        return LocalAccessLog(settings.GATEWAY_STATE_DIR)
    if target == "cloudflare":
        return cloudflare_access_log(settings)
    raise AccessLogError(f"Unknown target {target!r}: use 'local' or 'cloudflare'.")
