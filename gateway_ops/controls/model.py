"""The event's controls as the Worker holds them, and the changes the commands send (pure code).

The shapes are the admin API contract of issue 14 (``GET``/``PATCH /admin/controls``)::

    {"maintenance": {"on": false, "message": null}, "limit_per_minute": null, "models": null,
     "max_tokens": null, "budget": null | {"tokens": 5000, "per": "hour" | "event"},
     "updated_at": "2026-11-30 09:00:00.000" | null}

``null`` means the control is off. Each ``*_change`` function checks its input and returns the
``PATCH`` body for one control, so a malformed value is refused here, before anything is sent.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import AdminError, AdminRequestError

BUDGET_PERIODS = ("hour", "event")


@dataclass(frozen=True)
class Budget:
    tokens: int
    per: str  # "hour" or "event"


@dataclass(frozen=True)
class Controls:
    """The controls in force; the defaults are "nothing active"."""

    maintenance: bool = False
    message: str | None = None
    limit_per_minute: int | None = None
    models: tuple[str, ...] | None = None
    max_tokens: int | None = None
    budget: Budget | None = None
    updated_at: str | None = None

    @classmethod
    def from_json(cls, data: Any) -> Controls:
        """Reads the Worker's answer; :raises AdminError: when it is not the contract's shape."""
        try:
            maintenance = data.get("maintenance") or {}
            budget = data.get("budget")
            models = data.get("models")
            return cls(
                maintenance=bool(maintenance.get("on", False)),
                message=maintenance.get("message"),
                limit_per_minute=_optional_int(data.get("limit_per_minute")),
                models=tuple(str(m) for m in models) if models is not None else None,
                max_tokens=_optional_int(data.get("max_tokens")),
                budget=Budget(int(budget["tokens"]), str(budget["per"])) if budget is not None else None,
                updated_at=data.get("updated_at"),
            )
        except (AttributeError, KeyError, TypeError, ValueError):
            raise AdminError(f"The gateway's controls are not in the expected shape: {str(data)[:200]}.") from None

    @property
    def active(self) -> list[str]:
        """One short phrase per control that is on, in a fixed order."""
        parts = []
        if self.maintenance:
            parts.append("MAINTENANCE" + (f" ({self.message})" if self.message else ""))
        if self.limit_per_minute is not None:
            parts.append("blocked: limit 0/min" if self.limit_per_minute == 0 else f"limit {self.limit_per_minute}/min")
        if self.models is not None:
            parts.append(f"models: {', '.join(self.models)}")
        if self.max_tokens is not None:
            parts.append(f"max_tokens ≤ {self.max_tokens:,}")
        if self.budget is not None:
            parts.append(f"budget {self.budget.tokens:,} tokens per user per {self.budget.per}")
        return parts

    def line(self) -> str:
        """The dashboard's one line: every active control, or that none is."""
        if not self.active:
            return "controls: none active (usual limit, any model, no cap, no budget)"
        return "controls: " + " · ".join(self.active)

    def rows(self) -> list[tuple[str, str]]:
        """(control, state) for every control, on or off — what `control status` prints."""
        budget = f"{self.budget.tokens:,} tokens per user per {self.budget.per}" if self.budget else "off"
        return [
            ("maintenance", ("ON" + (f": {self.message}" if self.message else "")) if self.maintenance else "off"),
            ("limit", f"{self.limit_per_minute} requests/min per user" if self.limit_per_minute is not None
             else "off (RATE_LIMIT_PER_MINUTE applies)"),
            ("models", ", ".join(self.models) if self.models is not None else "any"),
            ("max-tokens", f"{self.max_tokens:,}" if self.max_tokens is not None else "off"),
            ("budget", budget),
            ("updated", f"{self.updated_at} UTC" if self.updated_at else "never changed"),
        ]

    def to_json(self) -> dict[str, Any]:
        """The contract's JSON of these controls (``updated_at`` left out: the Worker sets it)."""
        return {
            "maintenance": {"on": self.maintenance, "message": self.message},
            "limit_per_minute": self.limit_per_minute,
            "models": list(self.models) if self.models is not None else None,
            "max_tokens": self.max_tokens,
            "budget": {"tokens": self.budget.tokens, "per": self.budget.per} if self.budget else None,
        }


def _optional_int(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(value)
    return value


def whole_number(text: Any, what: str, minimum: int) -> int:
    """``text`` as an int ≥ ``minimum``; :raises AdminRequestError: naming ``what`` otherwise."""
    raw = str(text).strip().replace("_", "")
    if not raw.isdigit() or int(raw) < minimum:
        raise AdminRequestError(f"{what} must be a whole number of at least {minimum}, got {text!r}.")
    return int(raw)


def maintenance_change(on: bool, message: str | None = None) -> dict[str, Any]:
    message = (message or "").strip() or None
    if not on and message:
        raise AdminRequestError("A maintenance message goes with `maintenance on`, not `off`.")
    return {"maintenance": {"on": bool(on), "message": message}}


def limit_change(limit: Any) -> dict[str, Any]:
    """The per-user limit for everyone; 0 blocks every user, ``None`` returns to RATE_LIMIT_PER_MINUTE."""
    return {"limit_per_minute": None if limit is None else whole_number(limit, "The limit per minute", 0)}


def models_change(models: str | list[str] | tuple[str, ...] | None) -> dict[str, Any]:
    """An allow-list (``"a,b"`` or a list); ``None``: any model."""
    if models is None:
        return {"models": None}
    names = [m.strip() for m in (models.split(",") if isinstance(models, str) else models)]
    names = list(dict.fromkeys(n for n in names if n))
    if not names:
        raise AdminRequestError("Give at least one model name to allow (e.g. `models allow gpt-4o-mini`), "
                                "or `models any` to lift the list.")
    return {"models": names}


def max_tokens_change(cap: Any) -> dict[str, Any]:
    """The cap on ``max_tokens``/``max_completion_tokens``; ``None`` or ``"off"``: no cap."""
    if cap is None or str(cap).strip().lower() == "off":
        return {"max_tokens": None}
    return {"max_tokens": whole_number(cap, "The max-tokens cap", 1)}


def budget_change(tokens: Any, per: str | None = "event") -> dict[str, Any]:
    """A per-user token budget over each UTC hour or the whole event; ``None`` or ``"off"``: none."""
    if tokens is None or str(tokens).strip().lower() == "off":
        return {"budget": None}
    if per not in BUDGET_PERIODS:
        raise AdminRequestError(f"A budget is per hour or per event, got {per!r}.")
    return {"budget": {"tokens": whole_number(tokens, "The token budget", 1), "per": per}}
