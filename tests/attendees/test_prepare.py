"""Notebook 05's steps (gateway_ops.attendees.prepare): each check passes when its promise holds and
fails when it is broken — a listing that lost an id, a key that does not verify, a gateway that
ignores a tier, an attendee without a token."""
from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping

import httpx
import pytest

from gateway_ops.attendees import (LocalKV, issue_attendees, issued_check, list_tiers, probe_tier, store_tokens,
                                   token_coverage_check)
from gateway_ops.keys import user_key
from helpers import CLIENT_KEY, fresh_user

SECRET = "prepare-secret"
IDS = ["ws-001", "ws-002", "ws-003"]


class MemoryKV:
    """A KVStore in a dict (what LocalKV and CloudflareKV do, without wrangler or the network)."""

    target = "memory"

    def __init__(self) -> None:
        self.data: dict[str, str] = {}

    def put_many(self, items: Mapping[str, str]) -> None:
        self.data.update(items)

    def get_many(self, keys: Iterable[str]) -> dict[str, str | None]:
        return {key: self.data.get(key) for key in keys}

    def list_keys(self, prefix: str) -> list[str]:
        return sorted(key for key in self.data if key.startswith(prefix))

    def delete_many(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.data.pop(key, None)


def rewrite(path, change):
    """Applies ``change`` to the CSV's rows (a facilitator's edit, a truncated copy …)."""
    rows = list(csv.DictReader(path.open()))
    fields = list(rows[0])
    rows = change(rows)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fields)
        writer.writeheader()
        writer.writerows(rows)


def test_without_a_secret_the_ids_file_lists_exactly_the_ids_issued(tmp_path):
    issued = issue_attendees(IDS, tmp_path)
    assert issued.path == tmp_path / "attendee_ids.csv" and not issued.with_keys and issued.cards is None
    assert issued.path.read_text().splitlines() == ["user_id", *IDS]
    check = issued_check(issued)
    assert check.passed and check.name == "user ids issued"


def test_the_ids_check_fails_on_a_lost_or_repeated_id(tmp_path):
    issued = issue_attendees(IDS, tmp_path)
    rewrite(issued.path, lambda rows: rows[:2])
    lost = issued_check(issued)
    assert not lost.passed and "2 ids listed, not the 3 issued" in lost.observed
    rewrite(issued.path, lambda rows: [rows[0], rows[0], rows[1]])
    repeated = issued_check(issued)
    assert not repeated.passed and "an id appears twice" in repeated.observed


def test_with_a_secret_keys_and_cards_are_written_and_verified(tmp_path):
    issued = issue_attendees(IDS, tmp_path, secret=SECRET, url="http://127.0.0.1:8787")
    assert issued.with_keys and issued.path.name == "attendee_keys.csv"
    rows = list(csv.DictReader(issued.path.open()))
    assert [r["user_key"] for r in rows] == [user_key(SECRET, u) for u in IDS]
    assert issued.cards is not None and rows[0]["user_key"] in issued.cards.read_text()
    assert issued.path.stat().st_mode & 0o077 == 0, "the keys CSV must be readable by its owner only"
    check = issued_check(issued, SECRET)
    assert check.passed and check.name == "keys issued"
    assert not any(r["user_key"] in f"{check.expected} {check.observed} {issued.summary()}" for r in rows)


def test_the_keys_check_fails_when_a_key_would_not_verify(tmp_path):
    issued = issue_attendees(IDS, tmp_path, secret=SECRET)
    wrong_secret = issued_check(issued, "another-secret")
    assert not wrong_secret.passed and "3 keys do not verify (first: ws-001)" in wrong_secret.observed

    def corrupt_second(rows):
        rows[1]["user_key"] = "x" + rows[1]["user_key"][1:]
        return rows

    rewrite(issued.path, corrupt_second)
    corrupted = issued_check(issued, SECRET)
    assert not corrupted.passed and "1 keys do not verify (first: ws-002)" in corrupted.observed


def gateway(store: MemoryKV, *, honours_tiers: bool = True):
    """A stand-in for GET /v1/models that counts per user against ``tier:{user}`` (or ignores it)."""
    sent: dict[str, int] = {}

    def get(url, headers, timeout):
        user = headers["X-User-ID"]
        sent[user] = sent.get(user, 0) + 1
        tier = store.data.get(f"tier:{user}") if honours_tiers else None
        if tier == "0":
            return httpx.Response(403)
        return httpx.Response(429 if tier is not None and sent[user] > int(tier) else 200)

    return get


@pytest.mark.parametrize("limit, expected", [(2, [200, 200, 429]), (0, [403])])
def test_the_tier_probe_passes_when_the_tier_holds_and_clears_it(limit, expected):
    store = MemoryKV()
    check = probe_tier(store, "http://gateway", limit, user_id="probe", get=gateway(store))
    assert check.passed and check.observed == expected
    assert store.data == {}, "the probe's tier must be cleared"


def test_the_tier_probe_fails_on_a_gateway_that_ignores_tiers():
    store = MemoryKV()
    check = probe_tier(store, "http://gateway", 2, user_id="probe", get=gateway(store, honours_tiers=False))
    assert not check.passed and check.observed == [200, 200, 200]


def test_the_tier_probe_sends_the_users_key_and_clears_the_tier_even_when_sending_fails():
    store, seen = MemoryKV(), []

    def unreachable(url, headers, timeout):
        seen.append(headers)
        raise httpx.ConnectError("refused")

    with pytest.raises(httpx.ConnectError):
        probe_tier(store, "http://gateway", 1, secret=SECRET, user_id="probe", get=unreachable)
    assert seen[0]["X-User-Key"] == user_key(SECRET, "probe")
    assert store.data == {}


def test_token_coverage_fails_naming_the_first_attendee_without_a_token():
    store = MemoryKV()
    store_tokens(store, {"ws-001": "t1", "ws-003": "t3"})
    missing = token_coverage_check(store, IDS)
    assert not missing.passed and missing.observed == "1 missing (first: ws-002)"
    store_tokens(store, {"ws-002": "t2"})
    covered = token_coverage_check(store, IDS)
    assert covered.passed and "t2" not in str(covered)


def test_the_tier_probe_holds_on_the_local_stack(stack, minute_guard):
    store = LocalKV(stack.state_dir)
    probe = fresh_user("probe")
    minute_guard()
    check = probe_tier(store, stack.url, 1, user_id=probe, api_key=CLIENT_KEY)
    assert check.passed, check
    assert probe not in set(list_tiers(store)["user_id"])
