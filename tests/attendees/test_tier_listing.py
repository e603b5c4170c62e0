"""`attendees tiers`' library: admin-API and KV tiers in one table (the admin value wins), KV only
with a reason when there is no admin path, an error for a wrong token or an unreachable gateway.
The admin API is the contract's stand-in (controls/fake_admin.py); test_cli_and_notebook.py runs
the real Worker."""
from __future__ import annotations

import httpx
import pandas as pd
import pytest

from controls.fake_admin import TOKEN, FakeAdmin
from gateway_ops.attendees import list_tiers, set_tiers
from gateway_ops.attendees.tier_listing import COLUMNS, admin_limits, list_all_tiers, merge_tiers
from gateway_ops.attendees.tier_path import set_tier
from gateway_ops.controls.client import AdminClient
from gateway_ops.controls.errors import AdminAuthError, AdminUnreachableError
from gateway_ops.settings import Settings

from .test_prepare import MemoryKV

URL = "http://gateway.test"


def settings() -> Settings:
    return Settings(_env_file=None, GATEWAY_URL=URL)


def client(fake: FakeAdmin, token: str | None = TOKEN) -> AdminClient:
    return AdminClient(URL, token, transport=fake.transport(), missing_token="No admin token: export ADMIN_TOKEN.")


def rows(frame: pd.DataFrame) -> list[tuple]:
    return [tuple(row) for row in frame[COLUMNS].itertuples(index=False)]


def test_a_tier_set_through_the_admin_api_is_listed_which_kv_alone_would_miss():
    fake, store = FakeAdmin(), MemoryKV()
    change = set_tier(settings(), "alice", 0, admin=client(fake))
    assert change.via == "the admin API"
    # The old listing read KV only: after `attendees tier alice 0` it showed "(no overrides)".
    assert list_tiers(store).empty
    listing = list_all_tiers(settings(), admin=client(fake), store=store)
    assert rows(listing.frame) == [("alice", 0, True, "admin API", "")]
    assert listing.note == "" and "(no overrides)" not in listing.table()


def test_both_sources_in_one_table_and_the_admin_value_wins_over_kv():
    fake, store = FakeAdmin(tiers={"alice": 0, "carol": 40}, generations={"bob": 2}, revoked={"dave"}), MemoryKV()
    set_tiers(store, {"alice": 100, "erin": 5})
    listing = list_all_tiers(settings(), admin=client(fake), store=store)
    # bob and dave have directory entries but no admin tier: they are not overrides.
    assert rows(listing.frame) == [
        ("alice", 0, True, "admin API", "wins over KV 100 (the Worker reads the admin tier first)"),
        ("carol", 40, False, "admin API", ""),
        ("erin", 5, False, "KV", ""),
    ]


@pytest.mark.parametrize("fake, token, reason", [
    (FakeAdmin(), None, "No admin token: export ADMIN_TOKEN."),
    (FakeAdmin(token=None), TOKEN, "has no admin API (404)"),
    (FakeAdmin(has_users_list=False), TOKEN, "has no admin route GET /admin/users"),
])
def test_without_an_admin_path_kv_is_listed_with_one_line_saying_why(fake, token, reason):
    fake.tiers["alice"] = 0
    store = MemoryKV()
    set_tiers(store, {"bob": 3})
    listing = list_all_tiers(settings(), admin=client(fake, token), store=store)
    assert rows(listing.frame) == [("bob", 3, False, "KV", "")]
    assert listing.note.startswith("Admin API tiers not listed, KV only: ") and reason in listing.note
    assert "\n" not in listing.note and TOKEN not in listing.note


def test_a_wrong_token_or_an_unreachable_gateway_is_an_error_not_a_kv_only_listing():
    with pytest.raises(AdminAuthError, match="refused the admin token"):
        list_all_tiers(settings(), admin=client(FakeAdmin(), "wrong-token"), store=MemoryKV())

    def refuse(request):
        raise httpx.ConnectError("connection refused", request=request)

    unreachable = AdminClient(URL, TOKEN, transport=httpx.MockTransport(refuse))
    with pytest.raises(AdminUnreachableError, match="cannot be reached"):
        list_all_tiers(settings(), admin=unreachable, store=MemoryKV())


def test_only_entries_with_a_whole_number_limit_are_admin_tiers():
    assert admin_limits({"a": {"limit": 0}, "b": {"generation": 1}, "c": {"limit": True}, "d": {"limit": 7, "revoked": True}}) \
        == {"a": 0, "d": 7}


def test_no_overrides_anywhere_is_said_so():
    empty = merge_tiers({}, list_tiers(MemoryKV()))
    assert list(empty.columns) == COLUMNS and empty.empty
    assert list_all_tiers(settings(), admin=client(FakeAdmin()), store=MemoryKV()).table() == "(no overrides)"
