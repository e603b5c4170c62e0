"""Find-or-create by name: paginated lookups, idempotence, and a create that races another one."""
from __future__ import annotations

from gateway_ops.cloudflare import resources

from .fake_cloudflare import ACCOUNT, error_response


def test_finds_a_namespace_on_a_later_page(fake, client):
    for n in range(250):
        fake.add_kv(f"someone-else-{n:03d}")
    wanted = fake.add_kv("organized-gateway-GATEWAY_KV")
    found = resources.find_kv_namespace(client, ACCOUNT, "organized-gateway-GATEWAY_KV")
    assert found.id == wanted and not found.created
    pages = [int(r.query.get("page", 1)) for r in fake.requests if r.path.endswith("/storage/kv/namespaces")]
    assert pages == [1, 2, 3]  # 100 per page; the third holds it
    assert all(r.query["per_page"] == "100" for r in fake.requests)


def test_a_missing_namespace_reads_until_the_empty_page_and_creates_nothing(fake, client):
    for n in range(30):
        fake.add_kv(f"other-{n}")
    found = resources.find_kv_namespace(client, ACCOUNT, "organized-gateway-GATEWAY_KV")
    assert found.id is None and not found.exists
    assert [r.method for r in fake.requests] == ["GET", "GET"] and len(fake.kv) == 30


def test_find_or_create_twice_creates_once(fake, client):
    first = resources.find_or_create_kv_namespace(client, ACCOUNT, "organized-gateway-GATEWAY_KV")
    second = resources.find_or_create_kv_namespace(client, ACCOUNT, "organized-gateway-GATEWAY_KV")
    assert first.created and not second.created and first.id == second.id
    d1_first = resources.find_or_create_d1_database(client, ACCOUNT, "organized-gateway")
    d1_second = resources.find_or_create_d1_database(client, ACCOUNT, "organized-gateway")
    assert d1_first.created and not d1_second.created and d1_first.id == d1_second.id
    assert len(fake.kv) == 1 and len(fake.d1) == 1
    assert [r.method for r in fake.requests].count("POST") == 2


def test_d1_lookup_matches_the_exact_name_not_a_prefix(fake, client):
    fake.add_d1("organized-gateway-staging")
    assert resources.find_d1_database(client, ACCOUNT, "organized-gateway").id is None
    assert all(r.query.get("name") == "organized-gateway" for r in fake.requests)


def test_a_create_that_loses_a_race_returns_the_winner(fake, client):
    winner = fake.add_kv("organized-gateway-GATEWAY_KV")  # created by someone else after our lookup
    created = resources.create_kv_namespace(client, ACCOUNT, "organized-gateway-GATEWAY_KV")
    assert created.id == winner and not created.created
    database = fake.add_d1("organized-gateway")
    assert resources.create_d1_database(client, ACCOUNT, "organized-gateway").id == database.uuid


def test_other_create_errors_are_not_mistaken_for_a_race(fake, client):
    fake.inject("POST", r"/d1/database$", error_response(400, 7406, "Your account has reached the maximum number "
                                                                   "of databases"))
    try:
        resources.create_d1_database(client, ACCOUNT, "organized-gateway")
    except Exception as error:  # noqa: BLE001 - the class and message are what we check
        assert type(error).__name__ == "CloudflareRequestError" and "maximum number of databases" in str(error)
    else:
        raise AssertionError("the create error was swallowed")
