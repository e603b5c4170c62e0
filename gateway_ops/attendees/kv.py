"""The gateway's KV namespace (``GATEWAY_KV``), local or on Cloudflare, behind one small interface.

* ``LocalKV`` goes through wrangler's ``kv bulk`` commands on the local stack's state folder — the
  running local Worker sees a change on its next request.
* ``CloudflareKV`` uses the official SDK's bulk endpoints. Cloudflare KV is eventually consistent:
  a change can take up to 60 seconds to reach every location.

Values pass through temporary files readable by the owner only and are never logged.
"""
from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

from ..cloudflare import wrangler
from ..exceptions import GatewayOpsError
from ..settings import Settings

#: How long a KV change may take to be seen everywhere, per target (seconds).
PROPAGATION_SECONDS = {"local": 0, "cloudflare": 60}


class KVStore(Protocol):
    target: str

    def put_many(self, items: Mapping[str, str]) -> None: ...

    def get_many(self, keys: Iterable[str]) -> dict[str, str | None]: ...

    def list_keys(self, prefix: str) -> list[str]: ...

    def delete_many(self, keys: Iterable[str]) -> None: ...


def _json_in(output: str) -> Any:
    """The JSON document in wrangler's output, ignoring any notice printed after it."""
    start = min((i for i in (output.find("["), output.find("{")) if i >= 0), default=-1)
    if start < 0:
        raise GatewayOpsError("wrangler printed no JSON for a KV read; run with --verbose to see its output.")
    return json.JSONDecoder().raw_decode(output[start:])[0]


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class LocalKV:
    """GATEWAY_KV of the local stack, persisted under ``state_dir``."""

    target = "local"

    def __init__(self, state_dir: str | Path):
        self.state_dir = Path(state_dir)

    def _wrangler(self, *args: str) -> str:
        return wrangler.kv_local(self.state_dir, *args)

    def _with_file(self, payload: Any, *args: str) -> str:
        with tempfile.TemporaryDirectory(prefix="gateway-kv-") as folder:
            path = Path(folder) / "payload.json"
            path.touch(mode=0o600)
            path.write_text(json.dumps(payload))
            return self._wrangler(*args[:2], str(path), *args[2:])

    def put_many(self, items: Mapping[str, str]) -> None:
        if items:
            self._with_file([{"key": k, "value": v} for k, v in items.items()], "bulk", "put")

    def get_many(self, keys: Iterable[str]) -> dict[str, str | None]:
        keys = list(keys)
        if not keys:
            return {}
        found = _json_in(self._with_file(keys, "bulk", "get"))
        return {key: (found.get(key) or {}).get("value") for key in keys}

    def list_keys(self, prefix: str) -> list[str]:
        return [entry["name"] for entry in _json_in(self._wrangler("key", "list", "--prefix", prefix))]

    def delete_many(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        if keys:
            self._with_file(keys, "bulk", "delete", "--force")


class CloudflareKV:
    """GATEWAY_KV on Cloudflare, through the SDK's bulk endpoints."""

    target = "cloudflare"

    def __init__(self, client: Any, account_id: str, namespace_id: str):
        self.client = client
        self.account_id = account_id
        self.namespace_id = namespace_id

    def _call(self, action: str, function, *args, **kwargs):
        import cloudflare

        try:
            return function(self.namespace_id, *args, account_id=self.account_id, **kwargs)
        except cloudflare.APIError as error:
            raise GatewayOpsError(f"Could not {action} in Cloudflare KV: {error}.") from None

    def put_many(self, items: Mapping[str, str]) -> None:
        body = [{"key": k, "value": v} for k, v in items.items()]
        for chunk in _chunks(body, 10_000):
            self._call("write keys", self.client.kv.namespaces.bulk_update, body=chunk)

    def get_many(self, keys: Iterable[str]) -> dict[str, str | None]:
        keys = list(keys)
        values: dict[str, str | None] = {}
        for chunk in _chunks(keys, 100):
            result = self._call("read keys", self.client.kv.namespaces.bulk_get, keys=chunk, type="text")
            found = (result.values if result is not None else None) or {}
            values.update({key: found.get(key) for key in chunk})
        return values

    def list_keys(self, prefix: str) -> list[str]:
        page = self._call("list keys", self.client.kv.namespaces.keys.list, prefix=prefix)
        return [key.name for key in page]

    def delete_many(self, keys: Iterable[str]) -> None:
        for chunk in _chunks(list(keys), 10_000):
            self._call("delete keys", self.client.kv.namespaces.bulk_delete, body=chunk)


def open_kv(settings: Settings, target: str | None = None) -> KVStore:
    """GATEWAY_KV for ``target`` (default: settings.GATEWAY_TARGET)."""
    target = target or settings.GATEWAY_TARGET
    if target == "local":
        return LocalKV(settings.GATEWAY_STATE_DIR)
    if target == "cloudflare":
        from ..cloudflare.wrangler_toml import read_config
        from ..cloudflare_api import make_client, require_account_id

        return CloudflareKV(make_client(settings), require_account_id(settings), read_config().require_kv_id())
    raise GatewayOpsError(f"Unknown target {target!r}: use 'local' or 'cloudflare'.")
