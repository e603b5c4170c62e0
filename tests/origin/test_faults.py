"""Fault settings and the per-request plan, without HTTP."""

from __future__ import annotations

import random

import pytest

from gateway_ops.origin import FaultPlan, FaultSettings, plan_faults
from gateway_ops.origin.faults import DEFAULT_SLOW_MS, STALL_FOREVER


def test_no_faults_by_default() -> None:
    assert plan_faults(FaultSettings(), None, random.Random(0)) == FaultPlan()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("error", FaultPlan(error=True)),
        ("hang", FaultPlan(hang=True)),
        ("drop", FaultPlan(drop=True)),
        ("malformed", FaultPlan(malformed=True)),
        ("slow", FaultPlan(slow_headers_ms=DEFAULT_SLOW_MS)),
        ("slow=250", FaultPlan(slow_headers_ms=250.0)),
        (" Slow=10 , DROP ", FaultPlan(slow_headers_ms=10.0, drop=True)),
    ],
)
def test_the_header_targets_one_request(header: str, expected: FaultPlan) -> None:
    assert plan_faults(FaultSettings(), header, random.Random(0)) == expected


def test_settings_apply_to_every_request() -> None:
    settings = FaultSettings(error_rate=1.0, hang=True, slow_headers_ms=40, drop_connection=True, malformed_json=True)
    assert plan_faults(settings, None, random.Random(0)) == FaultPlan(True, 40.0, True, True, True)
    assert plan_faults(FaultSettings(slow_headers_ms=40), "slow", random.Random(0)).slow_headers_ms == 40.0


def test_error_rate_is_a_seeded_fraction() -> None:
    def errors(seed: int) -> list[bool]:
        rng = random.Random(seed)
        return [plan_faults(FaultSettings(error_rate=0.25), None, rng).error for _ in range(2000)]

    assert errors(3) == errors(3)
    assert 400 <= sum(errors(3)) <= 600


@pytest.mark.parametrize("header", ["explode", "slow=fast", "slow=-3"])
def test_bad_headers_are_refused_with_the_valid_kinds(header: str) -> None:
    with pytest.raises(ValueError, match="X-Origin-Fault"):
        plan_faults(FaultSettings(), header, random.Random(0))


def test_update_is_all_or_nothing_and_reset_turns_everything_off() -> None:
    faults = FaultSettings()
    faults.update({"error_rate": 0.5, "hang": True})
    assert (faults.error_rate, faults.hang) == (0.5, True)
    with pytest.raises(ValueError, match="hang must be true or false"):
        faults.update({"error_rate": 0.1, "hang": "yes"})
    with pytest.raises(ValueError, match="Unknown fault setting"):
        faults.update({"explode": True})
    assert (faults.error_rate, faults.hang) == (0.5, True)
    faults.reset()
    assert faults == FaultSettings()


@pytest.mark.parametrize("kwargs", [{"error_rate": 1.5}, {"error_rate": True}, {"slow_headers_ms": -1}])
def test_impossible_settings_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        FaultSettings(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("error=503", FaultPlan(error=True, error_status=503)),
        ("stall", FaultPlan(stall_ms=STALL_FOREVER)),
        ("stall=120", FaultPlan(stall_ms=120.0)),
        ("stall, drop", FaultPlan(stall_ms=STALL_FOREVER, drop=True)),
    ],
)
def test_the_header_sets_an_error_status_and_a_stall(header: str, expected: FaultPlan) -> None:
    assert plan_faults(FaultSettings(), header, random.Random(0)) == expected


@pytest.mark.parametrize("header", ["error=404", "error=five", "stall=-1", "stall=inf"])
def test_bad_statuses_and_stalls_are_refused(header: str) -> None:
    with pytest.raises(ValueError, match="X-Origin-Fault"):
        plan_faults(FaultSettings(), header, random.Random(0))


def test_an_error_burst_fails_exactly_the_next_n_requests() -> None:
    settings = FaultSettings(error_burst=3, error_status=502)
    plans = [plan_faults(settings, None, random.Random(0)) for _ in range(5)]
    assert [p.error for p in plans] == [True, True, True, False, False]
    assert {p.error_status for p in plans} == {502}
    assert settings.error_burst == 0


def test_stall_after_headers_applies_to_every_request() -> None:
    assert plan_faults(FaultSettings(stall_after_headers=True), None, random.Random(0)).stall_ms == STALL_FOREVER


@pytest.mark.parametrize("kwargs", [{"error_burst": -1}, {"error_burst": 1.5}, {"error_status": 404},
                                    {"error_status": True}, {"stall_after_headers": 1}])
def test_impossible_burst_status_and_stall_settings_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        FaultSettings(**kwargs)  # type: ignore[arg-type]
