"""One request through the gateway, to show what a control did, and the tour that proves each one.

``Prober.send`` posts a tiny chat completion as a fresh probe user, with the suite's credentials
(``client.Credentials``: X-User-Key when USER_KEY_SECRET is set, the client key the origin
requires) and reports the status, the gateway's error sentence, ``Retry-After`` and
the answer's token count. ``TOUR`` turns each control on, sends the probes that show its effect,
and compares what came back with what the control promises (README, "During the event: controls"): these are the checks
notebook 10 records, and each fails when the control has no effect.
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from ..client import Credentials
from ..minute_window import wait_before_start
from ..results import Check

PROMPT = [{"role": "user", "content": "One word, please."}]


@dataclass(frozen=True)
class Probe:
    """What one probe request got back (never the key or a token)."""

    status: int | None  # None: the gateway could not be reached
    message: str  # the gateway's error sentence, or the start of the answer
    retry_after: str | None = None
    completion_tokens: int | None = None

    def describe(self) -> str:
        if self.status is None:
            return f"no answer ({self.message})"
        extra = f", Retry-After {self.retry_after}" if self.retry_after else ""
        tokens = f", {self.completion_tokens} completion tokens" if self.completion_tokens is not None else ""
        return f"{self.status}: {self.message[:90]}{extra}{tokens}"


class Prober:
    """Sends probes to the gateway at ``url`` as fresh users (one per call of ``new_user``)."""

    def __init__(self, url: str, *, credentials: Credentials | None = None, model: str = "probe-model",
                 transport: httpx.BaseTransport | None = None, timeout: float = 30.0):
        self.url = url.rstrip("/")
        self.credentials = credentials or Credentials()
        self.model = model
        self._http = httpx.Client(transport=transport, timeout=timeout)

    def new_user(self) -> str:
        return f"control-probe-{uuid.uuid4().hex[:10]}"

    def send(self, user: str | None = None, *, model: str | None = None, max_tokens: int | None = None) -> Probe:
        user = user or self.new_user()
        headers = self.credentials.headers(user)
        body: dict[str, Any] = {"model": model or self.model, "messages": PROMPT}
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        try:
            response = self._http.post(f"{self.url}/v1/chat/completions", headers=headers, json=body)
        except httpx.HTTPError as error:
            return Probe(None, f"{type(error).__name__}: {error}")
        try:
            data = response.json()
        except ValueError:
            data = {}
        data = data if isinstance(data, dict) else {}
        if response.status_code == 200:
            usage = data.get("usage") or {}
            try:
                text = data["choices"][0]["message"]["content"] or ""
            except (KeyError, IndexError, TypeError):
                text = ""
            return Probe(200, f"answer {text[:40]!r}", None, usage.get("completion_tokens"))
        return Probe(response.status_code, str(data.get("error", response.text[:120])),
                     response.headers.get("Retry-After"))

    def close(self) -> None:
        self._http.close()


@dataclass
class Step:
    """One change of the tour: what was changed, the check its probes make, and the probes sent."""

    change: str
    check: Check
    probes: list[Probe] = field(default_factory=list)

    def describe(self) -> str:
        sent = "; ".join(p.describe() for p in self.probes) or "no probe"
        verdict = " ✔" if self.check.passed else f" ✘ expected {self.check.expected}"
        if not self.probes and not self.check.passed:
            sent = str(self.check.observed)
        return f"{self.change} → {sent}{verdict}"


def check_maintenance(prober: Prober, message: str) -> Step:
    probe = prober.send()
    ok = probe.status == 503 and message in probe.message and probe.retry_after is not None
    return Step(f"maintenance on ({message})",
                Check("maintenance answers 503", f"503 with {message!r} and Retry-After", probe.describe(), ok), [probe])


def check_normal(prober: Prober, what: str) -> Step:
    probe = prober.send()
    return Step(what, Check(f"{what}: requests pass", "200", probe.describe(), probe.status == 200), [probe])


def check_limit(prober: Prober, limit: int, sleep: Callable[[float], None] = time.sleep) -> Step:
    """``limit + 1`` requests of one fresh user inside one UTC minute: the last gets 429."""
    sleep(wait_before_start(time.time(), 10))
    user = prober.new_user()
    probes = [prober.send(user) for _ in range(limit + 1)]
    statuses = [p.status for p in probes]
    expected = [200] * limit + [429]
    return Step(f"limit {limit}/min", Check(f"limit {limit}/min holds", expected, statuses, statuses == expected),
                probes[-1:])


def check_models(prober: Prober, allowed: str) -> Step:
    other = f"{allowed}-not-allowed"
    refused, admitted = prober.send(model=other), prober.send(model=allowed)
    ok = refused.status == 403 and allowed in refused.message and admitted.status == 200
    return Step(f"models allow {allowed}",
                Check("other models get 403", f"403 naming {allowed!r} for {other!r}; 200 for {allowed!r}",
                      f"{refused.describe()} | {admitted.describe()}", ok), [refused, admitted])


def check_cap(prober: Prober, cap: int) -> Step:
    """A request asking for 50× the cap gets an answer of at most ``cap`` completion tokens."""
    probe = prober.send(max_tokens=cap * 50)
    ok = probe.status == 200 and probe.completion_tokens is not None and probe.completion_tokens <= cap
    return Step(f"max-tokens {cap}", Check("the cap lowers max_tokens", f"200 with ≤ {cap} completion tokens",
                                           probe.describe(), ok), [probe])


def check_budget(prober: Prober, budget: int, timeout: float = 10.0,
                 sleep: Callable[[float], None] = time.sleep) -> Step:
    """A fresh user spends a budget of ``budget`` tokens: within ``timeout`` s a request gets 429."""
    user = prober.new_user()
    probes = [prober.send(user)]
    deadline = time.monotonic() + timeout
    while probes[-1].status == 200 and time.monotonic() < deadline:
        sleep(0.5)
        probes.append(prober.send(user))
    last = probes[-1]
    ok = probes[0].status == 200 and last.status == 429 and last.retry_after is not None
    return Step(f"budget {budget} tokens per event",
                Check("a spent budget gets 429", "200, then 429 with Retry-After once spent",
                      f"{len(probes)} requests; first {probes[0].describe()}; last {last.describe()}", ok),
                [probes[0], last])
