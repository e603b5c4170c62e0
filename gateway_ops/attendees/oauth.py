"""Codex mode: each user's OAuth token in KV ``oauth:{user}``, sent upstream as X-Codex-Token.

Token values are read from a CSV and written to KV; nothing here returns or prints a value —
only counts and user ids.
"""
from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .kv import KVStore
from .roster import AttendeeError, check_user_id

PREFIX = "oauth:"


def load_tokens_csv(path: str | Path) -> dict[str, str]:
    """``user_id,token`` rows → {user: token}; rejects bad ids, empty tokens and duplicates by line."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or not {"user_id", "token"} <= {f.strip() for f in reader.fieldnames}:
                raise AttendeeError(f"{path} needs the columns user_id,token.")
            tokens: dict[str, str] = {}
            for line, row in enumerate(reader, start=2):
                user = (row.get("user_id") or "").strip()
                token = (row.get("token") or "").strip()
                try:
                    check_user_id(user)
                except AttendeeError as error:
                    raise AttendeeError(f"{path} line {line}: {error}") from None
                if not token:
                    raise AttendeeError(f"{path} line {line}: the token for {user} is empty.")
                if user in tokens:
                    raise AttendeeError(f"{path} line {line}: {user} appears twice.")
                tokens[user] = token
    except OSError as error:
        raise AttendeeError(f"Cannot read {path}: {error.strerror}.") from None
    if not tokens:
        raise AttendeeError(f"{path} has no tokens.")
    return tokens


def store_tokens(store: KVStore, tokens: dict[str, str]) -> int:
    """Writes every token in one bulk write; returns how many."""
    store.put_many({f"{PREFIX}{user}": token for user, token in tokens.items()})
    return len(tokens)


def users_without_token(store: KVStore, user_ids: Iterable[str]) -> list[str]:
    """The users (of those given) who have no token on file."""
    have = {key[len(PREFIX):] for key in store.list_keys(PREFIX)}
    return [user for user in user_ids if user not in have]


def revoke_token(store: KVStore, user_id: str) -> None:
    store.delete_many([f"{PREFIX}{check_user_id(user_id)}"])


@dataclass(frozen=True)
class TokenLoan:
    """Codex mode: a token (GATEWAY_CODEX_TOKEN) the load tests lend their temporary users."""

    store: KVStore
    token: str = field(repr=False)

    @contextmanager
    def lent_to(self, user_ids: Sequence[str]) -> Iterator[None]:
        """``oauth:{user}`` = the token for each user while the block runs; removed afterwards,
        also when the block fails (one bulk write, one bulk delete)."""
        keys = [f"{PREFIX}{check_user_id(user)}" for user in user_ids]
        self.store.put_many({key: self.token for key in keys})
        try:
            yield
        finally:
            self.store.delete_many(keys)


@contextmanager
def lending(loan: TokenLoan | None, user_ids: Sequence[str]) -> Iterator[None]:
    """``loan.lent_to(user_ids)``, or nothing when there is no loan (openai mode)."""
    if loan is None:
        yield
    else:
        with loan.lent_to(user_ids):
            yield


def token_loan(settings, target: str | None = None) -> TokenLoan | None:
    """The loan of GATEWAY_CODEX_TOKEN through the KV of ``target``, or None when it is not set."""
    token = settings.codex_token
    if not token:
        return None
    from .kv import open_kv

    return TokenLoan(open_kv(settings, target), token)
