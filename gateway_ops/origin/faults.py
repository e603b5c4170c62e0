"""Fault injection for the simulated origin.

The gateway has to tell apart an origin that errors, one that never answers, one that answers
late, one that hangs up mid-stream and one that sends garbage. These settings make each of those
happen on demand. :class:`FaultSettings` is mutable and read at request time, so a test can flip a
fault on a running server (``app.state.faults`` or ``PUT /_origin/faults``); the request header
``X-Origin-Fault`` targets a single request instead. :func:`plan_faults` combines both into the
:class:`FaultPlan` one request follows.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from enum import StrEnum
from typing import Any

FAULT_HEADER = "x-origin-fault"
"""Per-request override, e.g. ``X-Origin-Fault: drop`` or ``X-Origin-Fault: slow=250, error``."""

DEFAULT_SLOW_MS = 1000.0
"""Header delay for ``X-Origin-Fault: slow`` when neither the header nor the settings give one."""


class FaultKind(StrEnum):
    ERROR = "error"
    HANG = "hang"
    SLOW = "slow"
    DROP = "drop"
    MALFORMED = "malformed"


@dataclass
class FaultSettings:
    """Server-wide faults. All off by default.

    * ``error_rate`` — fraction of requests answered 500 with an OpenAI-style JSON error.
    * ``hang`` — never send response headers; wait until the client goes away or shutdown.
    * ``slow_headers_ms`` — delay before anything else happens (so before the headers).
    * ``drop_connection`` — abort mid-response: a stream sends one event, a JSON body half of it.
    * ``malformed_json`` — 200 with ``Content-Type: application/json`` and a broken body.
    """

    error_rate: float = 0.0
    hang: bool = False
    slow_headers_ms: float = 0.0
    drop_connection: bool = False
    malformed_json: bool = False

    def __post_init__(self) -> None:
        _validate(self)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def update(self, changes: Mapping[str, Any]) -> None:
        """Apply ``changes`` in place, all or nothing.

        :raises ValueError: for an unknown field or a value of the wrong type or range.
        """
        known = {field.name for field in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"Unknown fault setting(s) {unknown}; valid: {sorted(known)}.")
        candidate = replace(self, **changes)  # validates before anything is assigned
        for name in changes:
            setattr(self, name, getattr(candidate, name))

    def reset(self) -> None:
        """Turn every fault off."""
        self.update(FaultSettings().to_dict())


def _validate(settings: FaultSettings) -> None:
    rate = settings.error_rate
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0.0 <= rate <= 1.0:
        raise ValueError(f"error_rate must be a number in [0, 1], got {rate!r}")
    slow = settings.slow_headers_ms
    if isinstance(slow, bool) or not isinstance(slow, int | float) or slow < 0:
        raise ValueError(f"slow_headers_ms must be a number of ms ≥ 0, got {slow!r}")
    for name in ("hang", "drop_connection", "malformed_json"):
        if not isinstance(getattr(settings, name), bool):
            raise ValueError(f"{name} must be true or false, got {getattr(settings, name)!r}")


@dataclass(frozen=True)
class FaultPlan:
    """What one request will suffer, decided before it is handled."""

    hang: bool = False
    slow_headers_ms: float = 0.0
    error: bool = False
    drop: bool = False
    malformed: bool = False


def parse_fault_header(value: str | None) -> dict[FaultKind, float | None]:
    """Parse ``X-Origin-Fault``: comma-separated kinds; ``slow`` may carry ``=MS``.

    :raises ValueError: for an unknown kind or a bad ``slow`` delay.
    """
    requested: dict[FaultKind, float | None] = {}
    for item in (value or "").split(","):
        word, _, argument = item.strip().partition("=")
        if not word:
            continue
        try:
            kind = FaultKind(word.strip().lower())
        except ValueError:
            valid = "|".join(kind.value for kind in FaultKind)
            raise ValueError(f"Unknown X-Origin-Fault {word.strip()!r}; expected {valid}.") from None
        requested[kind] = _parse_delay(argument) if kind is FaultKind.SLOW else None
    return requested


def _parse_delay(argument: str) -> float | None:
    if not argument.strip():
        return None
    try:
        delay = float(argument)
    except ValueError:
        raise ValueError(f"X-Origin-Fault slow delay must be a number of ms, got {argument!r}.") from None
    if delay < 0:
        raise ValueError(f"X-Origin-Fault slow delay must be ≥ 0 ms, got {argument!r}.")
    return delay


def plan_faults(settings: FaultSettings, header: str | None, rng: random.Random) -> FaultPlan:
    """Combine the server-wide settings with one request's ``X-Origin-Fault`` header.

    The error-rate draw only consumes the generator when ``error_rate`` is between 0 and 1, so a
    seeded run stays reproducible. :raises ValueError: for a bad header (see parse_fault_header).
    """
    requested = parse_fault_header(header)
    return FaultPlan(
        hang=settings.hang or FaultKind.HANG in requested,
        slow_headers_ms=_slow_ms(settings, requested),
        error=FaultKind.ERROR in requested or _draw_error(settings.error_rate, rng),
        drop=settings.drop_connection or FaultKind.DROP in requested,
        malformed=settings.malformed_json or FaultKind.MALFORMED in requested,
    )


def _slow_ms(settings: FaultSettings, requested: Mapping[FaultKind, float | None]) -> float:
    if FaultKind.SLOW not in requested:
        return float(settings.slow_headers_ms)
    explicit = requested[FaultKind.SLOW]
    if explicit is not None:
        return explicit
    return float(settings.slow_headers_ms) or DEFAULT_SLOW_MS


def _draw_error(rate: float, rng: random.Random) -> bool:
    if rate <= 0.0:
        return False
    if rate >= 1.0:
        return True
    return rng.random() < rate
