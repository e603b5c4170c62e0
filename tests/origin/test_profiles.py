"""Named profiles and their overrides."""

from __future__ import annotations

import dataclasses

import pytest

from gateway_ops.origin import PROFILES, resolve_profile


def test_the_three_named_profiles_exist_with_their_shapes() -> None:
    assert set(PROFILES) == {"mac-mini", "large", "instant"}
    mac, large, instant = PROFILES["mac-mini"], PROFILES["large"], PROFILES["instant"]
    assert (mac.slots, mac.base_ms, mac.per_token_ms, mac.output_tokens, mac.max_queue) == (4, 800, 25, 60, 64)
    assert large.slots == 32 and large.base_ms < mac.base_ms and large.per_token_ms < mac.per_token_ms
    assert instant.slots >= 256 and instant.base_ms == 0 and instant.per_token_ms == 0


def test_profiles_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        PROFILES["mac-mini"].slots = 99  # type: ignore[misc]


def test_overrides_apply_and_leave_the_rest_alone() -> None:
    profile = resolve_profile("mac-mini", slots=2, latency_ms=200, per_token_ms=0, max_queue=0, jitter=0)
    assert (profile.slots, profile.base_ms, profile.per_token_ms) == (2, 200, 0)
    assert (profile.max_queue, profile.jitter) == (0, 0)
    assert profile.output_tokens == PROFILES["mac-mini"].output_tokens
    assert PROFILES["mac-mini"].slots == 4  # the registry is untouched


def test_unknown_profile_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"Unknown origin profile 'rpi'; valid profiles: instant, large, mac-mini"):
        resolve_profile("rpi")


@pytest.mark.parametrize(
    "override", [{"slots": 0}, {"latency_ms": -5}, {"max_queue": -1}, {"jitter": 1.5}, {"output_tokens": 0}]
)
def test_impossible_overrides_are_refused(override: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        resolve_profile("instant", **override)  # type: ignore[arg-type]
