"""Capacity model of the simulated origin: a few generation slots, a bounded queue, and latency.

A workshop's real origin (one Mac mini running a local model, say) can only generate a handful of
answers at once; everything else waits, and past some point it refuses. Load tests of the gateway
only mean something if the origin behaves that way, so this module models exactly three things:

* :class:`Capacity` — ``slots`` concurrent generations, a FIFO queue of at most ``max_queue``
  waiters behind them, and an immediate :class:`QueueFull` past that bound. Counters
  (``in_flight``, ``queued``, ``served``, ``rejected``, ``peak_in_flight``, and ``peak_held``: the
  most requests it held at once, generating or queued) let tests and benchmarks observe it.
* :class:`LatencyModel` — ``base_ms + per_token_ms * output_tokens`` scaled by a multiplicative
  jitter drawn from a seeded :class:`random.Random`, so runs are reproducible.
* :class:`Timing` — one sampled latency split into time-to-first-token and time per token, so a
  stream can send its first event early and spread the rest over the generation.

Nothing here knows about HTTP; the app turns :class:`QueueFull` into a 503.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass


class QueueFull(Exception):
    """Raised by :meth:`Capacity.acquire` when every slot is busy and the queue is at its bound."""

    def __init__(self, slots: int, max_queue: int) -> None:
        super().__init__(
            f"The origin is at capacity: all {slots} generation slots are busy "
            f"and the queue of {max_queue} is full."
        )
        self.slots = slots
        self.max_queue = max_queue


class Lease:
    """One held slot. :meth:`release` is idempotent so every exit path may call it safely."""

    def __init__(self, capacity: Capacity) -> None:
        self._capacity = capacity
        self._released = False

    @property
    def released(self) -> bool:
        return self._released

    def release(self) -> None:
        if self._released:
            return
        self._released = True
        self._capacity._release_slot(completed=True)


class Capacity:
    """A fixed number of generation slots with a bounded FIFO queue behind them.

    Unlike :class:`asyncio.Semaphore` it refuses instead of waiting once the queue is full, hands a
    freed slot straight to the oldest waiter (strict FIFO), and keeps counters for tests. It binds
    to no event loop, so one instance can serve apps run on different loops.
    """

    def __init__(self, slots: int, max_queue: int) -> None:
        if slots < 1:
            raise ValueError(f"slots must be at least 1, got {slots}")
        if max_queue < 0:
            raise ValueError(f"max_queue must be 0 or more, got {max_queue}")
        self.slots = slots
        self.max_queue = max_queue
        self.in_flight = 0
        self.served = 0
        self.rejected = 0
        self.peak_in_flight = 0
        #: the most requests held at once, in slots and queued (what a gate in front must bound)
        self.peak_held = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def queued(self) -> int:
        """Requests waiting for a slot right now."""
        return len(self._waiters)

    async def acquire(self) -> Lease:
        """Take a slot, waiting in the queue if needed.

        :raises QueueFull: at once, when all slots are busy and ``max_queue`` requests already wait.
        """
        if self.in_flight < self.slots and not self._waiters:
            self._occupy()
            return Lease(self)
        if len(self._waiters) >= self.max_queue:
            self.rejected += 1
            raise QueueFull(self.slots, self.max_queue)
        await self._wait_for_handoff()
        return Lease(self)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[Lease]:
        """``async with capacity.slot():`` — hold a slot for the block (see :meth:`acquire`)."""
        lease = await self.acquire()
        try:
            yield lease
        finally:
            lease.release()

    def snapshot(self) -> dict[str, int]:
        """The counters as a JSON-ready dict."""
        return {
            "slots": self.slots,
            "max_queue": self.max_queue,
            "in_flight": self.in_flight,
            "queued": self.queued,
            "served": self.served,
            "rejected": self.rejected,
            "peak_in_flight": self.peak_in_flight,
            "peak_held": self.peak_held,
        }

    def reset_counters(self) -> None:
        """Zero ``served``, ``rejected`` and the peaks (live slots and queue are kept)."""
        self.served = 0
        self.rejected = 0
        self.peak_in_flight = self.in_flight
        self.peak_held = self.in_flight + self.queued

    def _occupy(self) -> None:
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        self._note_held()

    def _note_held(self) -> None:
        self.peak_held = max(self.peak_held, self.in_flight + len(self._waiters))

    async def _wait_for_handoff(self) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._note_held()
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            elif waiter.done() and not waiter.cancelled():
                self._release_slot(completed=False)  # handed a slot we will never use: pass it on
            raise

    def _release_slot(self, *, completed: bool) -> None:
        if completed:
            self.served += 1
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot moves to the waiter: in_flight is unchanged
                return
        self.in_flight -= 1


@dataclass(frozen=True)
class Timing:
    """One generation's sampled latency, split the way a model produces tokens."""

    ttft_s: float
    per_token_s: float
    output_tokens: int

    @property
    def total_s(self) -> float:
        return self.ttft_s + self.per_token_s * self.output_tokens


class LatencyModel:
    """``(base_ms + per_token_ms * tokens) * jitter`` with jitter uniform in ``[1 - j, 1 + j]``."""

    def __init__(self, base_ms: float, per_token_ms: float, jitter: float = 0.0, seed: int = 0) -> None:
        if base_ms < 0 or per_token_ms < 0:
            raise ValueError("latencies must be 0 ms or more")
        if not 0.0 <= jitter < 1.0:
            raise ValueError(f"jitter must be in [0, 1), got {jitter}")
        self.base_ms = base_ms
        self.per_token_ms = per_token_ms
        self.jitter = jitter
        self._rng = random.Random(seed)

    def nominal_ms(self, output_tokens: int) -> float:
        """The latency without jitter."""
        return self.base_ms + self.per_token_ms * output_tokens

    def sample(self, output_tokens: int) -> Timing:
        """Draw one generation's timing; the same factor scales both parts."""
        factor = self._draw_factor()
        return Timing(
            ttft_s=self.base_ms * factor / 1000.0,
            per_token_s=self.per_token_ms * factor / 1000.0,
            output_tokens=output_tokens,
        )

    def sample_ms(self, output_tokens: int) -> float:
        """Draw one generation's total latency in milliseconds."""
        return self.sample(output_tokens).total_s * 1000.0

    def _draw_factor(self) -> float:
        if self.jitter == 0.0:
            return 1.0
        return self._rng.uniform(1.0 - self.jitter, 1.0 + self.jitter)
