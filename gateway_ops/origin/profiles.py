"""Named capacity profiles for the simulated origin.

A facilitator plans a workshop against a concrete machine: "one Mac mini" behaves very differently
from "a large GPU box". Profiles give those machines names so a load test or a notebook can say
``--profile mac-mini`` instead of repeating five numbers, and ``instant`` keeps tests fast.
:func:`resolve_profile` applies command-line style overrides on top of a named profile.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Profile:
    """How one kind of origin machine generates.

    ``base_ms`` is the time to the first token; each output token then costs ``per_token_ms``.
    ``jitter`` is the relative spread of both (0.1 → ±10 %).
    """

    name: str
    slots: int
    base_ms: float
    per_token_ms: float
    output_tokens: int
    max_queue: int
    jitter: float = 0.1

    def __post_init__(self) -> None:
        _check(self.slots >= 1, f"slots must be at least 1, got {self.slots}")
        _check(self.base_ms >= 0, f"latency_ms must be 0 or more, got {self.base_ms}")
        _check(self.per_token_ms >= 0, f"per_token_ms must be 0 or more, got {self.per_token_ms}")
        _check(self.output_tokens >= 1, f"output_tokens must be at least 1, got {self.output_tokens}")
        _check(self.max_queue >= 0, f"max_queue must be 0 or more, got {self.max_queue}")
        _check(0.0 <= self.jitter < 1.0, f"jitter must be in [0, 1), got {self.jitter}")


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


PROFILES: dict[str, Profile] = {
    profile.name: profile
    for profile in (
        Profile("mac-mini", slots=4, base_ms=800, per_token_ms=25, output_tokens=60, max_queue=64),
        Profile("large", slots=32, base_ms=150, per_token_ms=5, output_tokens=60, max_queue=256),
        Profile("instant", slots=256, base_ms=0, per_token_ms=0, output_tokens=16, max_queue=1024, jitter=0.0),
    )
}


def resolve_profile(
    name: str,
    slots: int | None = None,
    latency_ms: float | None = None,
    per_token_ms: float | None = None,
    output_tokens: int | None = None,
    max_queue: int | None = None,
    jitter: float | None = None,
) -> Profile:
    """The named profile with every override that is not ``None`` applied.

    ``latency_ms`` overrides ``base_ms`` (the time to first token).

    :raises ValueError: for an unknown name (the message lists the valid ones) or a bad override.
    """
    try:
        base = PROFILES[name]
    except KeyError:
        valid = ", ".join(sorted(PROFILES))
        raise ValueError(f"Unknown origin profile {name!r}; valid profiles: {valid}.") from None
    overrides: dict[str, Any] = {
        "slots": slots,
        "base_ms": latency_ms,
        "per_token_ms": per_token_ms,
        "output_tokens": output_tokens,
        "max_queue": max_queue,
        "jitter": jitter,
    }
    return replace(base, **{key: value for key, value in overrides.items() if value is not None})
