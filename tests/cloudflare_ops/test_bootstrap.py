"""Bootstrap on Cloudflare (against the fake API) and on the local stack (for real)."""
from __future__ import annotations

import httpx
import pytest

from gateway_ops.accesslog import LocalAccessLog
from gateway_ops.cloudflare.bootstrap import bootstrap, bootstrap_cloudflare, bootstrap_local
from gateway_ops.cloudflare.errors import CloudflareRequestError, NameClashError, PreflightError, WranglerNotInstalledError
from gateway_ops.cloudflare.wrangler_toml import read_config
from gateway_ops.exceptions import SettingsError

from helpers import migration_names

from .fake_cloudflare import error_response

NAMES = migration_names()


def run(fake, settings, worker_copy, **options):
    return bootstrap_cloudflare(settings, http_client=fake.http_client(), toml_path=worker_copy / "wrangler.toml",
                                progress=False, **options)


def actions(report):
    return {step.name: step.action for step in report.steps}


def test_a_fresh_account_gets_everything_and_a_second_run_creates_nothing(fake, cf_settings, worker_copy):
    first = run(fake, cf_settings, worker_copy)
    assert actions(first) == {"API token": "verified", "KV namespace": "created", "D1 database": "created",
                              "wrangler.toml": "written", "D1 migrations": f"{len(NAMES)} applied"}
    assert first.passed and first.applied == NAMES
    [kv_id] = fake.kv
    [database] = fake.d1.values()
    config = read_config(worker_copy / "wrangler.toml")
    assert (config.kv_id, config.d1_id) == (kv_id, database.uuid)
    assert fake.kv[kv_id] == "organized-gateway-GATEWAY_KV" and database.name == "organized-gateway-db"
    assert "requests" in database.tables()

    toml_after_first = (worker_copy / "wrangler.toml").read_bytes()
    fake.requests.clear()
    second = run(fake, cf_settings, worker_copy)
    assert actions(second) == {"API token": "verified", "KV namespace": "found", "D1 database": "found",
                               "wrangler.toml": "unchanged", "D1 migrations": f"{len(NAMES)} applied"}
    assert fake.mutating() == []  # idempotent: not one write request
    assert len(fake.kv) == 1 and len(fake.d1) == 1
    assert (worker_copy / "wrangler.toml").read_bytes() == toml_after_first


def test_a_dry_run_on_a_fresh_account_sends_no_write_and_writes_no_file(fake, cf_settings, worker_copy):
    before = (worker_copy / "wrangler.toml").read_bytes()
    report = run(fake, cf_settings, worker_copy, dry_run=True)
    assert fake.mutating() == [] and fake.requests  # it did ask Cloudflare, read-only
    assert (worker_copy / "wrangler.toml").read_bytes() == before
    assert fake.kv == {} and fake.d1 == {}
    assert actions(report) == {"API token": "verified", "KV namespace": "would create", "D1 database": "would create",
                               "wrangler.toml": "would write", "D1 migrations": "would apply"}
    assert report.pending == NAMES and report.passed


def test_a_dry_run_with_a_database_reads_its_migrations_with_selects_only(fake, cf_settings, worker_copy):
    fake.add_kv("organized-gateway-GATEWAY_KV")
    database = fake.add_d1("organized-gateway-db")
    report = run(fake, cf_settings, worker_copy, dry_run=True)
    assert actions(report)["D1 migrations"] == "would apply" and report.pending == NAMES
    assert actions(report)["wrangler.toml"] == "would write" and "+database_id" in report.toml_diff
    assert any(r.path.endswith("/query") for r in fake.requests) and fake.mutating() == []
    assert database.tables() == set()


def test_after_bootstrap_a_dry_run_reports_nothing_to_do(fake, cf_settings, worker_copy):
    run(fake, cf_settings, worker_copy)
    report = run(fake, cf_settings, worker_copy, dry_run=True)
    assert actions(report)["wrangler.toml"] == "unchanged" and actions(report)["D1 migrations"] == "up to date"
    assert report.toml_diff == "" and report.pending == []


def test_a_missing_permission_stops_before_anything_is_created(fake, cf_settings, worker_copy):
    fake.denied.add("d1")
    with pytest.raises(PreflightError, match="The API token lacks D1 Edit"):
        run(fake, cf_settings, worker_copy)
    assert fake.mutating() == [] and fake.kv == {}


def test_wrangler_toml_pointing_elsewhere_is_a_name_clash(fake, cf_settings, worker_copy):
    fake.add_kv("organized-gateway-GATEWAY_KV")
    path = worker_copy / "wrangler.toml"
    path.write_text(path.read_text().replace('binding = "GATEWAY_KV"', 'binding = "GATEWAY_KV"\nid = "' + "a" * 32 + '"'))
    with pytest.raises(NameClashError) as caught:
        run(fake, cf_settings, worker_copy)
    message = str(caught.value)
    assert f"sets [[kv_namespaces]] id = {'a' * 32}" in message and "organized-gateway-GATEWAY_KV" in message
    assert "delete that id line" in message and "\n" not in message
    assert fake.mutating() == []


def test_a_create_refused_by_cloudflare_leaves_wrangler_toml_alone(fake, cf_settings, worker_copy):
    fake.inject("POST", r"/d1/database$", error_response(400, 7406, "Your account has reached the maximum number "
                                                                   "of databases"))
    before = (worker_copy / "wrangler.toml").read_bytes()
    with pytest.raises(CloudflareRequestError, match="creating the D1 database 'organized-gateway-db'.*maximum number"):
        run(fake, cf_settings, worker_copy)
    assert (worker_copy / "wrangler.toml").read_bytes() == before
    assert len(fake.kv) == 1  # the KV namespace was created; the next run finds it


def test_no_network_is_one_sentence(fake, cf_settings, worker_copy):
    fake.inject("GET", r"/user/tokens/verify$", httpx.ConnectError("Name or service not known"), times=2)
    with pytest.raises(Exception, match="Could not reach Cloudflare's API"):
        run(fake, cf_settings, worker_copy)


def test_missing_settings_are_one_sentence(fake, cf_settings, worker_copy):
    with pytest.raises(SettingsError, match="CLOUDFLARE_ACCOUNT_ID is not set"):
        run(fake, cf_settings.model_copy(update={"CLOUDFLARE_ACCOUNT_ID": None}), worker_copy)
    with pytest.raises(SettingsError, match="Unknown target 'prod'"):
        bootstrap(cf_settings, "prod")


def test_the_report_becomes_checks_and_a_table(fake, cf_settings, worker_copy):
    report = run(fake, cf_settings, worker_copy)
    checks = report.checks()
    assert [c.name for c in checks] == ["API token", "KV namespace", "D1 database", "wrangler.toml", "D1 migrations"]
    assert all(c.passed for c in checks)
    assert list(report.frame().columns) == ["step", "action", "detail", "ok"]


# --- local target, for real -----------------------------------------------------------------------

@pytest.mark.stack  # runs the real wrangler
def test_local_bootstrap_migrates_a_fresh_state_folder_and_is_idempotent(cf_settings, tmp_path):
    settings = cf_settings.model_copy(update={"GATEWAY_STATE_DIR": tmp_path / "fresh-state"})
    plan = bootstrap(settings, "local", dry_run=True)
    assert actions(plan)["D1 migrations"] == "would apply" and plan.pending == NAMES
    assert not (tmp_path / "fresh-state").exists()  # the dry run touched nothing
    first = bootstrap(settings, "local")
    assert first.passed and first.applied == NAMES
    assert first.steps[-1].detail == f"applied now: {', '.join(NAMES)}"
    assert LocalAccessLog(tmp_path / "fresh-state").query("SELECT COUNT(*) AS n FROM requests").iloc[0]["n"] == 0
    second = bootstrap(settings, "local")
    assert second.pending == [] and second.steps[-1].detail == "already up to date"


def test_local_bootstrap_without_the_worker_packages_says_so(cf_settings, worker_copy):
    plan = bootstrap_local(cf_settings, dry_run=True, worker_dir=worker_copy)
    assert not plan.passed and plan.steps[0].detail == "run `make install`"
    with pytest.raises(WranglerNotInstalledError, match=r"wrangler is not installed .* run `make install`"):
        bootstrap_local(cf_settings, worker_dir=worker_copy)
