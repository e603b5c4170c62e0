"""Fault injection for the simulated origin.

The gateway has to tell apart an origin that errors, one that never answers, one that answers
late, one that goes silent after its headers, one that hangs up mid-stream and one that sends
garbage, and a burst of 5xx answers from one that stays up. These settings make each of those
happen on demand. :class:`FaultSettings` is mutable and read at request time, so a test can flip a
fault on a running server (``app.state.faults`` or ``PUT /_origin/faults``); the request header
``X-Origin-Fault`` targets a single request instead. :func:`plan_faults` combines both into the
:class:`FaultPlan` one request follows.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from enum import StrEnum
from typing import Any

FAULT_HEADER = "x-origin-fault"
"""Per-request override, e.g. ``X-Origin-Fault: drop``, ``X-Origin-Fault: slow=250, error`` or
``X-Origin-Fault: error=503, stall``."""

DEFAULT_SLOW_MS = 1000.0
"""Header delay for ``X-Origin-Fault: slow`` when neither the header nor the settings give one."""

STALL_FOREVER = math.inf
"""A stall with no end: the origin stays silent until the client goes away."""

ERROR_STATUSES = range(500, 600)
"""An injected error is a server error: the origin is up but failing."""


class FaultKind(StrEnum):
    ERROR = "error"
    HANG = "hang"
    SLOW = "slow"
    DROP = "drop"
    MALFORMED = "malformed"
    STALL = "stall"


@dataclass
class FaultSettings:
    """Server-wide faults. All off by default.

    * ``error_rate`` — fraction of requests answered ``error_status`` with an OpenAI-style JSON error.
    * ``error_burst`` — the next N requests are answered ``error_status``; it counts down to 0.
    * ``error_status`` — the status of injected errors (a 5xx; 500 by default).
    * ``hang`` — never send response headers; wait until the client goes away or shutdown.
    * ``slow_headers_ms`` — delay before anything else happens (so before the headers).
    * ``drop_connection`` — abort mid-response: a stream sends one event, a JSON body half of it.
    * ``malformed_json`` — 200 with ``Content-Type: application/json`` and a broken body.
    * ``stall_after_headers`` — send the headers and the first part (a stream's first event, half a
      JSON body), then stay silent until the client goes away: the connection stays open.
    """

    error_rate: float = 0.0
    hang: bool = False
    slow_headers_ms: float = 0.0
    drop_connection: bool = False
    malformed_json: bool = False
    error_burst: int = 0
    error_status: int = 500
    stall_after_headers: bool = False

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

    def take_burst(self) -> bool:
        """True (and one fewer left) while an error burst lasts."""
        if self.error_burst <= 0:
            return False
        self.error_burst -= 1
        return True


def _validate(settings: FaultSettings) -> None:
    rate = settings.error_rate
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0.0 <= rate <= 1.0:
        raise ValueError(f"error_rate must be a number in [0, 1], got {rate!r}")
    slow = settings.slow_headers_ms
    if isinstance(slow, bool) or not isinstance(slow, int | float) or slow < 0:
        raise ValueError(f"slow_headers_ms must be a number of ms ≥ 0, got {slow!r}")
    for name in ("hang", "drop_connection", "malformed_json", "stall_after_headers"):
        if not isinstance(getattr(settings, name), bool):
            raise ValueError(f"{name} must be true or false, got {getattr(settings, name)!r}")
    burst = settings.error_burst
    if isinstance(burst, bool) or not isinstance(burst, int) or burst < 0:
        raise ValueError(f"error_burst must be a whole number ≥ 0, got {burst!r}")
    _check_status(settings.error_status, "error_status")


def _check_status(status: object, name: str) -> int:
    if isinstance(status, bool) or not isinstance(status, int) or status not in ERROR_STATUSES:
        raise ValueError(f"{name} must be a server error status (500–599), got {status!r}")
    return status


@dataclass(frozen=True)
class FaultPlan:
    """What one request will suffer, decided before it is handled."""

    hang: bool = False
    slow_headers_ms: float = 0.0
    error: bool = False
    drop: bool = False
    malformed: bool = False
    error_status: int = 500
    stall_ms: float | None = None
    """After the headers and the first part, silence for this long (``STALL_FOREVER``: until the
    client leaves), then the rest; None: no stall."""


def parse_fault_header(value: str | None) -> dict[FaultKind, float | None]:
    """Parse ``X-Origin-Fault``: comma-separated kinds; ``slow`` and ``stall`` may carry ``=MS``,
    ``error`` may carry ``=STATUS`` (a 5xx).

    :raises ValueError: for an unknown kind or a bad delay or status.
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
        requested[kind] = _parse_argument(kind, argument)
    return requested


def _parse_argument(kind: FaultKind, argument: str) -> float | None:
    if kind is FaultKind.ERROR:
        return _parse_status(argument)
    if kind in (FaultKind.SLOW, FaultKind.STALL):
        return _parse_delay(kind, argument)
    return None


def _parse_status(argument: str) -> float | None:
    if not argument.strip():
        return None
    try:
        return float(_check_status(int(argument), "X-Origin-Fault error status"))
    except ValueError:
        raise ValueError(f"X-Origin-Fault error status must be 500–599, got {argument!r}.") from None


def _parse_delay(kind: FaultKind, argument: str) -> float | None:
    if not argument.strip():
        return None
    try:
        delay = float(argument)
    except ValueError:
        raise ValueError(f"X-Origin-Fault {kind.value} delay must be a number of ms, got {argument!r}.") from None
    if not 0 <= delay < math.inf:
        raise ValueError(f"X-Origin-Fault {kind.value} delay must be ≥ 0 ms, got {argument!r}.")
    return delay


def plan_faults(settings: FaultSettings, header: str | None, rng: random.Random) -> FaultPlan:
    """Combine the server-wide settings with one request's ``X-Origin-Fault`` header.

    The error-rate draw only consumes the generator when ``error_rate`` is between 0 and 1, so a
    seeded run stays reproducible; a request in an error burst uses up one of it (the settings
    change). :raises ValueError: for a bad header (see parse_fault_header).
    """
    requested = parse_fault_header(header)
    explicit_status = requested.get(FaultKind.ERROR)
    error = FaultKind.ERROR in requested or settings.take_burst() or _draw_error(settings.error_rate, rng)
    return FaultPlan(
        hang=settings.hang or FaultKind.HANG in requested,
        slow_headers_ms=_slow_ms(settings, requested),
        error=error,
        drop=settings.drop_connection or FaultKind.DROP in requested,
        malformed=settings.malformed_json or FaultKind.MALFORMED in requested,
        error_status=int(explicit_status) if explicit_status is not None else settings.error_status,
        stall_ms=_stall_ms(settings, requested),
    )


def _stall_ms(settings: FaultSettings, requested: Mapping[FaultKind, float | None]) -> float | None:
    if FaultKind.STALL in requested:
        explicit = requested[FaultKind.STALL]
        return STALL_FOREVER if explicit is None else explicit
    return STALL_FOREVER if settings.stall_after_headers else None


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
