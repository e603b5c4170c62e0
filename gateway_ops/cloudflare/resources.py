"""Find-or-create the gateway's KV namespace and D1 database, by name, idempotently.

Finding is separate from creating so that a dry run can show the plan with read-only calls.
``account_id`` is passed on every call (the SDK would otherwise need it configured globally).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import CloudflareRequestError, cloudflare_errors

KV_PERMISSION = "Workers KV Storage Edit"
D1_PERMISSION = "D1 Edit"
WORKERS_PERMISSION = "Workers Scripts Edit"
#: Cloudflare's error codes for "that name is taken" (a create raced with another bootstrap).
KV_TITLE_TAKEN = 10014
D1_NAME_TAKEN = 7502


@dataclass(frozen=True)
class Resource:
    """A KV namespace or D1 database: its name, its id when it exists, and whether we created it."""

    kind: str
    name: str
    id: str | None
    created: bool = False

    @property
    def exists(self) -> bool:
        return self.id is not None


def find_kv_namespace(client: Any, account_id: str, title: str) -> Resource:
    """The KV namespace titled ``title`` (id None when there is none). Reads every page."""
    with cloudflare_errors("listing KV namespaces", KV_PERMISSION):
        for namespace in client.kv.namespaces.list(account_id=account_id, per_page=100):
            if namespace.title == title:
                return Resource("KV namespace", title, namespace.id)
    return Resource("KV namespace", title, None)


def find_d1_database(client: Any, account_id: str, name: str) -> Resource:
    """The D1 database named ``name`` (id None when there is none). Reads every page."""
    with cloudflare_errors("listing D1 databases", D1_PERMISSION):
        for database in client.d1.database.list(account_id=account_id, name=name, per_page=100):
            if database.name == name:
                return Resource("D1 database", name, database.uuid)
    return Resource("D1 database", name, None)


def create_kv_namespace(client: Any, account_id: str, title: str) -> Resource:
    """Creates the KV namespace; if the title was taken meanwhile, returns the one that took it."""
    try:
        with cloudflare_errors(f"creating the KV namespace {title!r}", KV_PERMISSION):
            namespace = client.kv.namespaces.create(account_id=account_id, title=title)
    except CloudflareRequestError as error:
        if KV_TITLE_TAKEN in error.codes:
            return find_kv_namespace(client, account_id, title)
        raise
    return Resource("KV namespace", title, namespace.id, created=True)


def create_d1_database(client: Any, account_id: str, name: str) -> Resource:
    """Creates the D1 database; if the name was taken meanwhile, returns the one that took it."""
    try:
        with cloudflare_errors(f"creating the D1 database {name!r}", D1_PERMISSION):
            database = client.d1.database.create(account_id=account_id, name=name)
    except CloudflareRequestError as error:
        if D1_NAME_TAKEN in error.codes:
            return find_d1_database(client, account_id, name)
        raise
    return Resource("D1 database", name, database.uuid, created=True)


def find_or_create_kv_namespace(client: Any, account_id: str, title: str) -> Resource:
    found = find_kv_namespace(client, account_id, title)
    return found if found.exists else create_kv_namespace(client, account_id, title)


def find_or_create_d1_database(client: Any, account_id: str, name: str) -> Resource:
    found = find_d1_database(client, account_id, name)
    return found if found.exists else create_d1_database(client, account_id, name)
