"""Bootstrap: everything the Worker needs before its first deploy, safe to run again and again.

Cloudflare: preflight (token and permissions) → find-or-create the KV namespace and the D1
database by name → write their ids into wrangler.toml → apply pending D1 migrations. A second
run finds everything and changes nothing. ``dry_run`` makes only read requests and reports
what a real run would do.

Local: the local stack's KV and D1 need no creation (wrangler keys them by binding under the
state folder), so bootstrap checks the Worker's packages and applies pending migrations to the
local D1 with wrangler — for real, the same files and the same ``d1_migrations`` table.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from ..cloudflare_api import make_client, require_account_id
from ..exceptions import SettingsError
from ..results import Check
from ..settings import Settings
from ..paths import WORKER_DIR
from . import wrangler as wrangler_cli
from .errors import NameClashError, WranglerNotInstalledError
from .migrator import Migrator, local_executor, migration_files, remote_executor
from .preflight import check_token, require_token
from .resources import Resource, create_d1_database, create_kv_namespace, find_d1_database, find_kv_namespace
from .wrangler_toml import (D1_BINDING, KV_BINDING, WRANGLER_TOML, WorkerConfig, config_in, ids_diff, read_config,
                            write_ids)


@dataclass(frozen=True)
class Step:
    """One line of the plan or of what was done."""

    name: str
    expected: str
    action: str
    detail: str = ""
    ok: bool = True


@dataclass
class BootstrapReport:
    """What bootstrap found, did (or would do), and the migrations now applied."""

    target: str
    dry_run: bool
    steps: list[Step] = field(default_factory=list)
    toml_diff: str = ""
    pending: list[str] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)

    def add(self, *args: Any, **kwargs: Any) -> None:
        self.steps.append(Step(*args, **kwargs))

    @property
    def passed(self) -> bool:
        return all(step.ok for step in self.steps)

    def checks(self) -> list[Check]:
        return [Check(s.name, s.expected, f"{s.action}: {s.detail}" if s.detail else s.action, s.ok) for s in self.steps]

    def frame(self) -> pd.DataFrame:
        """The steps as a table (name, action, detail) for the CLI and notebooks."""
        return pd.DataFrame([{"step": s.name, "action": s.action, "detail": s.detail, "ok": s.ok} for s in self.steps],
                            columns=["step", "action", "detail", "ok"])


def _check_clash(kind: str, configured: str | None, found: Resource, key: str, section: str, path: Path) -> None:
    """wrangler.toml's id must be the one the account has under our name, or absent."""
    if configured is None or configured == found.id:
        return
    where = f"has id {found.id}" if found.exists else "does not exist in this account"
    raise NameClashError(
        f"{path.name} sets {section} {key} = {configured}, but the {kind} named {found.name!r} {where}: check "
        f"CLOUDFLARE_ACCOUNT_ID, or delete that {key} line so bootstrap can use the {kind} named {found.name!r}."
    )


def _resource_step(report: BootstrapReport, resource: Resource, dry_run: bool) -> None:
    if resource.created:
        report.add(resource.kind, "exists", "created", f"{resource.name} ({resource.id})")
    elif resource.exists:
        report.add(resource.kind, "exists", "found", f"{resource.name} ({resource.id})")
    else:
        report.add(resource.kind, "exists", "would create" if dry_run else "missing", resource.name, ok=dry_run)


def bootstrap_cloudflare(settings: Settings, *, dry_run: bool = False, http_client: httpx.Client | None = None,
                         toml_path: Path = WRANGLER_TOML, migrations_dir: Path | None = None,
                         progress: bool = True) -> BootstrapReport:
    """Preflight, find-or-create KV + D1, write ids, apply migrations (read-only when ``dry_run``).

    :raises PreflightError: when the token is unusable or lacks a permission (nothing was created)
    :raises NameClashError: when wrangler.toml names an id the account does not have under our names
    """
    client = make_client(settings, http_client)
    account = require_account_id(settings)
    config: WorkerConfig = read_config(toml_path)
    migrations = Path(migrations_dir or config.migrations_dir)
    report = BootstrapReport("cloudflare", dry_run)

    require_token(check_token(client, account), account)
    report.add("API token", "active, with the permissions bootstrap needs", "verified",
               "Workers Scripts, KV and D1 reachable")

    kv = find_kv_namespace(client, account, config.kv_title)
    d1 = find_d1_database(client, account, config.d1_name)
    _check_clash("KV namespace", config.kv_id, kv, "id", "[[kv_namespaces]]", Path(toml_path))
    _check_clash("D1 database", config.d1_id, d1, "database_id", "[[d1_databases]]", Path(toml_path))
    if not dry_run:
        kv = kv if kv.exists else create_kv_namespace(client, account, config.kv_title)
        d1 = d1 if d1.exists else create_d1_database(client, account, config.d1_name)
    _resource_step(report, kv, dry_run)
    _resource_step(report, d1, dry_run)

    if kv.id is not None and d1.id is not None:  # both exist
        report.toml_diff = ids_diff(toml_path, kv.id, d1.id)
        if dry_run:
            report.add("wrangler.toml", "ids written", "would write" if report.toml_diff else "unchanged",
                       "KV id and D1 database_id" if report.toml_diff else "ids already there")
        else:
            changed = write_ids(toml_path, kv.id, d1.id)
            report.add("wrangler.toml", "ids written", "written" if changed else "unchanged",
                       f"id = {kv.id}, database_id = {d1.id}")
    else:
        report.add("wrangler.toml", "ids written", "would write", "the ids of the resources created above",
                   ok=dry_run)

    files = [m.name for m in migration_files(migrations)]
    if d1.id is None:  # not created (dry run)
        report.pending = files
        report.add("D1 migrations", f"{len(files)} applied", "would apply", ", ".join(files) or "none", ok=dry_run)
        return report
    migrator = Migrator(remote_executor(client, account, d1.id), migrations)
    pending = migrator.pending()
    report.pending = [m.name for m in pending]
    if dry_run:
        report.add("D1 migrations", f"{len(files)} applied", "would apply" if report.pending else "up to date",
                   ", ".join(report.pending) or f"all {len(files)} applied")
        return report
    done = migrator.apply(progress=progress, pending=pending)
    report.applied = [m.name for m in migrator.applied()]
    missing = [name for name in files if name not in report.applied]
    report.add("D1 migrations", f"{len(files)} applied", f"{len(report.applied)} applied",
               f"applied now: {', '.join(m.name for m in done)}" if done else "already up to date", ok=not missing)
    return report


def bootstrap_local(settings: Settings, *, dry_run: bool = False, worker_dir: Path = WORKER_DIR) -> BootstrapReport:
    """The same steps on the local stack: packages present, migrations applied to the local D1."""
    state_dir = Path(settings.GATEWAY_STATE_DIR).resolve()
    config = config_in(worker_dir)
    report = BootstrapReport("local", dry_run)
    try:
        wrangler = wrangler_cli.find_wrangler(worker_dir=worker_dir)
        report.add("Worker packages", "installed", "installed", str(wrangler))
    except WranglerNotInstalledError:
        if not dry_run:
            raise
        report.add("Worker packages", "installed", "missing", "run `make install`", ok=False)
    for kind, binding in (("KV namespace", KV_BINDING), ("D1 database", D1_BINDING)):
        report.add(kind, "exists", "local", f"binding {binding} under {state_dir}/v3 (wrangler creates it on first use)")
    report.add("wrangler.toml", "ids written", "unchanged", "local storage needs no ids")

    migrator = Migrator(local_executor(state_dir), config.migrations_dir, where="the local D1 database")
    files = [m.name for m in migration_files(config.migrations_dir)]
    report.pending = [m.name for m in migrator.pending()]
    if dry_run:
        report.add("D1 migrations", f"{len(files)} applied", "would apply" if report.pending else "up to date",
                   ", ".join(report.pending) or f"all {len(files)} applied")
        return report
    state_dir.mkdir(parents=True, exist_ok=True)
    wrangler_cli.apply_local_migrations(state_dir, worker_dir=worker_dir)
    report.applied = [m.name for m in migrator.applied()]
    missing = [name for name in files if name not in report.applied]
    report.add("D1 migrations", f"{len(files)} applied", f"{len(report.applied)} applied",
               f"applied now: {', '.join(report.pending)}" if report.pending else "already up to date",
               ok=not missing)
    return report


def bootstrap(settings: Settings, target: str | None = None, *, dry_run: bool = False, **options: Any) -> BootstrapReport:
    """Bootstrap ``target`` (default: settings.GATEWAY_TARGET): ``local`` or ``cloudflare``."""
    target = target or settings.GATEWAY_TARGET
    if target == "local":
        return bootstrap_local(settings, dry_run=dry_run, **options)
    if target == "cloudflare":
        return bootstrap_cloudflare(settings, dry_run=dry_run, **options)
    raise SettingsError(f"Unknown target {target!r}: use 'local' or 'cloudflare'.")
