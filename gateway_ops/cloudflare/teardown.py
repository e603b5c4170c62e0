"""After the event: find, then delete, everything the event left — on Cloudflare and on this machine.

``plan_teardown`` only reads: the Worker (by the name in wrangler.toml), the KV namespace (by the
id bootstrap wrote, else by its title) and the D1 database (by name) on the account, the attendee
files notebook 05 and ``attendees keys`` write under ``runs/`` (keys CSVs, printable cards, id
lists) and the local state folder (local KV, D1, Durable Objects and the admin token).
``delete_planned`` deletes what a plan lists, Worker first (so nothing writes to KV or D1 while
they go), the state folder last, and reports each deletion; a resource already gone counts as
deleted, so a second run finds nothing left and deletes nothing. R2 holds only archives
(``gateway-ops archive --r2-bucket``), which teardown never deletes: the Worker binds no R2 bucket.
"""
from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..controls.token import TOKEN_FILE
from ..migration_stamp import STAMP_NAME
from ..origin_concurrency import LOCAL_FILE as CONCURRENCY_FILE
from ..paths import RUNS_DIR
from .errors import CloudflareError, CloudflareNotFoundError, cloudflare_errors
from .resources import D1_PERMISSION, KV_PERMISSION, WORKERS_PERMISSION, find_d1_database
from .wrangler_toml import WorkerConfig

#: The files that hold attendee credentials or identities (prepare.py and `attendees keys` write them).
ATTENDEE_FILES = ("attendee_keys.csv", "attendee_cards.html", "attendee_ids.csv")
CLOUDFLARE_KINDS = ("Worker", "KV namespace", "D1 database")


@dataclass(frozen=True)
class Doomed:
    """One thing teardown would delete: a Cloudflare resource (with its id) or a local path."""

    kind: str  # "Worker", "KV namespace", "D1 database", "attendee file", "state folder"
    name: str  # the resource's name, or the path
    ident: str | None = None  # the Cloudflare id (the Worker's is its name)

    @property
    def on_cloudflare(self) -> bool:
        return self.kind in CLOUDFLARE_KINDS

    def describe(self) -> str:
        where = "Cloudflare" if self.on_cloudflare else "this machine"
        suffix = f" ({self.ident})" if self.ident and self.ident != self.name else ""
        return f"{self.kind}: {self.name}{suffix} [{where}]"


@dataclass
class TeardownPlan:
    items: list[Doomed] = field(default_factory=list)
    #: what could not be checked, one sentence each (e.g. no Cloudflare token)
    unchecked: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.items

    def of_kind(self, kind: str) -> list[Doomed]:
        return [item for item in self.items if item.kind == kind]

    def text(self) -> str:
        lines = [f"  - {item.describe()}" for item in self.items] or ["  nothing left"]
        return "\n".join(lines + [f"  (not checked: {note})" for note in self.unchecked])


@dataclass(frozen=True)
class Outcome:
    item: Doomed
    deleted: bool
    detail: str = ""


# --- finding ----------------------------------------------------------------------------------


def cloudflare_items(client: Any, account_id: str, config: WorkerConfig) -> list[Doomed]:
    """The Worker, KV namespace and D1 database of this project that exist on the account."""
    found: list[Doomed] = []
    with cloudflare_errors("listing Workers", WORKERS_PERMISSION):
        names = {script.id for script in client.workers.scripts.list(account_id=account_id)}
    if config.worker_name in names:
        found.append(Doomed("Worker", config.worker_name, config.worker_name))
    with cloudflare_errors("listing KV namespaces", KV_PERMISSION):
        namespaces = list(client.kv.namespaces.list(account_id=account_id, per_page=100))
    namespace = next((n for n in namespaces if config.kv_id and n.id == config.kv_id), None) or \
        next((n for n in namespaces if n.title == config.kv_title), None)
    if namespace is not None:
        found.append(Doomed("KV namespace", namespace.title, namespace.id))
    database = find_d1_database(client, account_id, config.d1_name)
    if database.exists:
        found.append(Doomed("D1 database", database.name, database.id))
    return found


def local_items(state_dir: Path, runs_dir: Path = RUNS_DIR) -> list[Doomed]:
    """Attendee files under ``runs_dir`` and the state folder, when they exist."""
    files = sorted({path for name in ATTENDEE_FILES for path in Path(runs_dir).glob(f"**/{name}") if path.is_file()})
    found = [Doomed("attendee file", str(path)) for path in files]
    if looks_like_state(Path(state_dir)):
        found.append(Doomed("state folder", str(Path(state_dir).resolve())))
    return found


#: What the local stack and the local commands write at the top of the state folder: wrangler's storage
#: and temporary folders, the admin token, `origin concurrency`'s setting and the migration stamp.
STATE_ENTRIES = frozenset({"v3", ".wrangler", "tmp", TOKEN_FILE, CONCURRENCY_FILE, STAMP_NAME})


def looks_like_state(folder: Path) -> bool:
    """Only a folder the local stack made is removed whole (a mistyped GATEWAY_STATE_DIR is not):
    it holds wrangler's ``v3`` storage or the admin token file, and nothing but STATE_ENTRIES at its top."""
    if not folder.is_dir():
        return False
    entries = {entry.name for entry in folder.iterdir()}
    return bool(entries & {"v3", TOKEN_FILE}) and entries <= STATE_ENTRIES


def plan_teardown(client: Any | None, account_id: str | None, config: WorkerConfig, state_dir: Path,
                  runs_dir: Path = RUNS_DIR, unchecked_reason: str = "") -> TeardownPlan:
    """What teardown would delete; reads only. ``client`` None: Cloudflare is not checked (say why)."""
    plan = TeardownPlan()
    if client is not None and account_id:
        plan.items += cloudflare_items(client, account_id, config)
    else:
        plan.unchecked.append(f"Cloudflare — {unchecked_reason or 'no account configured'}")
    plan.items += local_items(state_dir, runs_dir)
    return plan


# --- deleting ---------------------------------------------------------------------------------


def _delete_cloudflare(client: Any, account_id: str, item: Doomed) -> None:
    if item.kind == "Worker":
        with cloudflare_errors(f"deleting the Worker {item.name!r}", WORKERS_PERMISSION):
            client.workers.scripts.delete(item.name, account_id=account_id)
    elif item.kind == "KV namespace":
        with cloudflare_errors(f"deleting the KV namespace {item.name!r}", KV_PERMISSION):
            client.kv.namespaces.delete(item.ident, account_id=account_id)
    elif item.kind == "D1 database":
        with cloudflare_errors(f"deleting the D1 database {item.name!r}", D1_PERMISSION):
            client.d1.database.delete(item.ident, account_id=account_id)


def _delete_local(item: Doomed) -> None:
    path = Path(item.name)
    if item.kind == "state folder":
        shutil.rmtree(path, ignore_errors=False) if path.exists() else None
    else:
        path.unlink(missing_ok=True)


ORDER = {"Worker": 0, "KV namespace": 1, "D1 database": 2, "attendee file": 3, "state folder": 4}


def delete_planned(plan: TeardownPlan, client: Any | None, account_id: str | None,
                   on_item: Callable[[Outcome], None] = lambda outcome: None) -> list[Outcome]:
    """Deletes every item of ``plan`` (Worker first, state folder last); one failure does not stop
    the rest. Something already gone counts as deleted."""
    outcomes = []
    for item in sorted(plan.items, key=lambda i: ORDER.get(i.kind, 9)):
        try:
            if item.on_cloudflare:
                if client is None or not account_id:
                    raise CloudflareError("no Cloudflare client")
                _delete_cloudflare(client, account_id, item)
            else:
                _delete_local(item)
            outcome = Outcome(item, True)
        except CloudflareNotFoundError:
            outcome = Outcome(item, True, "already gone")
        except (CloudflareError, OSError) as error:
            outcome = Outcome(item, False, str(error))
        on_item(outcome)
        outcomes.append(outcome)
    return outcomes

