"""Everything one simulated-origin instance is configured with, in one object.

The app factory, the CLI and the pytest fixtures all build an origin from the same
:class:`OriginSettings`, so a test's origin and the facilitator's command-line origin can only
differ in the values, never in how those values are applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .access import AccessSettings
from .faults import FaultSettings
from .profiles import PROFILES, Profile

DEFAULT_MODELS: tuple[str, ...] = ("gpt-4o-mini", "llama3.2:3b")


@dataclass
class OriginSettings:
    """Configuration of one origin.

    ``faults`` is the live fault object the app reads on every request (``app.state.faults``).
    ``models`` are the names ``GET /v1/models`` lists; completions echo whatever model is asked,
    unless ``reject_unknown_models`` makes any other model a 404 ``model_not_found``, as a real
    server answers. ``access`` is the credential ``/v1/*`` requires (none by default).
    ``seed`` makes latency jitter and the error-rate draws reproducible.
    """

    profile: Profile = field(default_factory=lambda: PROFILES["mac-mini"])
    faults: FaultSettings = field(default_factory=FaultSettings)
    models: tuple[str, ...] = DEFAULT_MODELS
    reject_unknown_models: bool = False
    access: AccessSettings = field(default_factory=AccessSettings)
    seed: int = 0
    embedding_dim: int = 8
    recorder_size: int = 10_000
    json_record_limit: int = 65_536

    def __post_init__(self) -> None:
        if not self.models:
            raise ValueError("models must name at least one model")
        if self.embedding_dim < 1:
            raise ValueError(f"embedding_dim must be at least 1, got {self.embedding_dim}")
        if self.recorder_size < 1:
            raise ValueError(f"recorder_size must be at least 1, got {self.recorder_size}")
        self.models = tuple(self.models)
