"""The one reader (and writer) of ``worker/wrangler.toml``, and the binding names the Worker uses.

Every other module takes names and ids from here: ``KV_BINDING``/``D1_BINDING`` for wrangler's
``--binding``/database argument, ``read_config()`` for the Worker name and the ids bootstrap wrote.

The committed file deliberately omits the KV ``id`` and the D1 ``database_id`` (wrangler rejects
empty strings, and without them ``wrangler dev`` keys local storage by binding name). Bootstrap
adds them right after the key that names the resource, with tomlkit, so a diff shows two new
lines and nothing else. Every function takes the path, so tests work on a copy.
"""
from __future__ import annotations

import difflib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import tomlkit
from tomlkit.exceptions import TOMLKitError

from ..exceptions import SettingsError
from ..paths import WORKER_DIR

WRANGLER_TOML = WORKER_DIR / "wrangler.toml"
#: The binding names of the Worker's KV namespace and D1 database, as worker/wrangler.toml declares them.
KV_BINDING = "GATEWAY_KV"
D1_BINDING = "DB"
#: The Worker's name when wrangler.toml does not say.
DEFAULT_NAME = "organized-gateway"
#: The D1 database's name — the one the operator's manual uses in `wrangler d1 execute
#: organized-gateway-db …`; bootstrap finds an existing database by it before creating one.
D1_DATABASE_NAME = "organized-gateway-db"
#: What to do when an id is missing.
RUN_BOOTSTRAP = "run `gateway-ops bootstrap --target cloudflare` first"


@dataclass(frozen=True)
class WorkerConfig:
    """What gateway_ops needs from wrangler.toml."""

    worker_name: str
    kv_id: str | None
    d1_name: str
    d1_id: str | None
    migrations_dir: Path

    @property
    def kv_title(self) -> str:
        """The KV namespace's title: wrangler's own convention for `kv namespace create GATEWAY_KV`."""
        return f"{self.worker_name}-{KV_BINDING}"

    def require_kv_id(self) -> str:
        """The KV namespace id bootstrap wrote.

        :raises SettingsError: before bootstrap
        """
        if not self.kv_id:
            raise SettingsError(f"wrangler.toml has no {KV_BINDING} id yet: {RUN_BOOTSTRAP}.")
        return self.kv_id

    def require_d1_id(self) -> str:
        """The D1 database id bootstrap wrote.

        :raises SettingsError: before bootstrap
        """
        if not self.d1_id:
            raise SettingsError(f"wrangler.toml has no D1 database_id yet: {RUN_BOOTSTRAP}.")
        return self.d1_id


def _parse(path: Path) -> tomlkit.TOMLDocument:
    try:
        return tomlkit.parse(Path(path).read_text())
    except FileNotFoundError:
        raise SettingsError(f"{path} does not exist: run gateway_ops from the project checkout.") from None
    except TOMLKitError as error:
        raise SettingsError(f"{path} is not valid TOML ({error}): fix it, or restore it with git.") from None


def _binding(document: tomlkit.TOMLDocument, section: str, binding: str, path: Path):
    for table in document.get(section, []):
        if table.get("binding") == binding:
            return table
    raise SettingsError(f"{path} has no [[{section}]] with binding = \"{binding}\": restore it with git.")


def read_config(path: Path = WRANGLER_TOML) -> WorkerConfig:
    """The Worker name, binding ids (None until bootstrap) and migrations folder from wrangler.toml.

    :raises SettingsError: when the file is missing, malformed or lacks a binding
    """
    path = Path(path)
    document = _parse(path)
    kv = _binding(document, "kv_namespaces", KV_BINDING, path)
    d1 = _binding(document, "d1_databases", D1_BINDING, path)
    return WorkerConfig(
        worker_name=str(document.get("name") or DEFAULT_NAME),
        kv_id=str(kv["id"]) if kv.get("id") else None,
        d1_name=str(d1.get("database_name") or D1_DATABASE_NAME),
        d1_id=str(d1["database_id"]) if d1.get("database_id") else None,
        migrations_dir=(path.parent / str(d1.get("migrations_dir") or "migrations")).resolve(),
    )


def config_in(worker_dir: Path) -> WorkerConfig:
    """``read_config`` of the wrangler.toml in ``worker_dir`` (a copy of the Worker, in tests)."""
    return read_config(Path(worker_dir) / WRANGLER_TOML.name)


def _set_after(table, anchor: str, key: str, value: str) -> None:
    """Sets ``key`` in an array-of-tables entry, placing a new key right after ``anchor``.

    ``table.add`` would append after the comment that introduces the *next* table, which
    tomlkit keeps at the end of this one; ``_insert_after`` puts the line where a person would.
    """
    if key in table:
        table[key] = value
    elif anchor in table:
        table.value._insert_after(anchor, key, value)
    else:
        table.add(key, value)


def with_ids(text: str, kv_id: str, d1_id: str, path: Path = WRANGLER_TOML) -> str:
    """The wrangler.toml text with the KV ``id`` and the D1 ``database_id`` set (pure: no I/O)."""
    try:
        document = tomlkit.parse(text)
    except TOMLKitError as error:
        raise SettingsError(f"{path} is not valid TOML ({error}): fix it, or restore it with git.") from None
    _set_after(_binding(document, "kv_namespaces", KV_BINDING, path), "binding", "id", kv_id)
    _set_after(_binding(document, "d1_databases", D1_BINDING, path), "database_name", "database_id", d1_id)
    return tomlkit.dumps(document)


def ids_diff(path: Path, kv_id: str, d1_id: str) -> str:
    """The unified diff writing the ids would make (empty when they are already there)."""
    path = Path(path)
    before = path.read_text()
    after = with_ids(before, kv_id, d1_id, path)
    return "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True), str(path), str(path)))


def write_ids(path: Path, kv_id: str, d1_id: str) -> bool:
    """Writes the ids into wrangler.toml (atomically); returns False when nothing had to change."""
    path = Path(path)
    before = path.read_text()
    after = with_ids(before, kv_id, d1_id, path)
    if after == before:
        return False
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".wrangler.", suffix=".toml")
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(after)
        os.chmod(temporary, path.stat().st_mode & 0o777)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return True
