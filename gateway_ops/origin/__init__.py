"""Simulated OpenAI-compatible origin: what the organized-gateway proxies to in tests and rehearsals.

It models a real workshop origin's limits (a few generation slots, a bounded queue, token-paced
latency), injects the faults the gateway must survive, and records every request it receives so
tests can assert what the gateway forwarded. Run strict, it also refuses what a real server
refuses: a missing or wrong credential (401), an unknown model (404), a malformed body (400).
"""

from .access import AccessSettings
from .app import create_app
from .capacity import Capacity, LatencyModel, Lease, QueueFull, Timing
from .faults import FAULT_HEADER, FaultKind, FaultPlan, FaultSettings, plan_faults
from .profiles import PROFILES, Profile, resolve_profile
from .recorder import ReceivedRequest, Recorder
from .server import main, running_app, running_origin, serve, strict_args
from .settings import OriginSettings

__all__ = [
    "AccessSettings",
    "FAULT_HEADER",
    "PROFILES",
    "Capacity",
    "FaultKind",
    "FaultPlan",
    "FaultSettings",
    "LatencyModel",
    "Lease",
    "OriginSettings",
    "Profile",
    "QueueFull",
    "ReceivedRequest",
    "Recorder",
    "Timing",
    "create_app",
    "main",
    "plan_faults",
    "resolve_profile",
    "running_app",
    "running_origin",
    "serve",
    "strict_args",
]
