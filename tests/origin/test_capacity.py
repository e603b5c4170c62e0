"""The capacity model alone: slots, the bounded FIFO queue, counters, and seeded latency."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway_ops.origin import Capacity, LatencyModel, QueueFull


async def settle() -> None:
    """Let every ready task run (a handoff wakes its waiter on the next loop iterations)."""
    for _ in range(5):
        await asyncio.sleep(0)


# --- slots and queue ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_slots_are_taken_without_waiting_and_counted() -> None:
    capacity = Capacity(slots=2, max_queue=0)
    first = await capacity.acquire()
    second = await capacity.acquire()
    assert (capacity.in_flight, capacity.queued, capacity.peak_in_flight) == (2, 0, 2)
    first.release()
    second.release()
    assert capacity.snapshot() == {
        "slots": 2, "max_queue": 0, "in_flight": 0, "queued": 0, "served": 2, "rejected": 0, "peak_in_flight": 2,
        "peak_held": 2,
    }


@pytest.mark.anyio
async def test_waiters_get_freed_slots_in_fifo_order() -> None:
    capacity = Capacity(slots=1, max_queue=3)
    held = await capacity.acquire()
    order: list[int] = []

    async def wait(n: int) -> None:
        async with capacity.slot():
            order.append(n)

    tasks = []
    for n in range(3):
        tasks.append(asyncio.create_task(wait(n)))
        await settle()
    assert capacity.queued == 3 and capacity.in_flight == 1
    held.release()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2]
    assert (capacity.in_flight, capacity.queued, capacity.served, capacity.peak_in_flight) == (0, 0, 4, 1)
    assert capacity.peak_held == 4  # one generating + three queued: what a gate in front must bound


@pytest.mark.anyio
async def test_past_the_queue_bound_requests_are_rejected_at_once() -> None:
    capacity = Capacity(slots=1, max_queue=1)
    held = await capacity.acquire()
    waiter = asyncio.create_task(capacity.acquire())
    await settle()
    with pytest.raises(QueueFull, match="1 generation slots are busy and the queue of 1 is full"):
        await capacity.acquire()
    assert (capacity.rejected, capacity.queued) == (1, 1)
    held.release()
    (await waiter).release()
    assert (capacity.served, capacity.rejected, capacity.in_flight) == (2, 1, 0)


@pytest.mark.anyio
async def test_zero_queue_rejects_as_soon_as_slots_are_busy() -> None:
    capacity = Capacity(slots=1, max_queue=0)
    held = await capacity.acquire()
    with pytest.raises(QueueFull):
        await capacity.acquire()
    held.release()
    (await capacity.acquire()).release()
    assert capacity.rejected == 1 and capacity.served == 2


@pytest.mark.anyio
async def test_a_cancelled_waiter_leaves_the_queue_without_leaking_a_slot() -> None:
    capacity = Capacity(slots=1, max_queue=2)
    held = await capacity.acquire()
    doomed = asyncio.create_task(capacity.acquire())
    survivor = asyncio.create_task(capacity.acquire())
    await settle()
    doomed.cancel()
    await settle()
    assert capacity.queued == 1
    held.release()
    (await survivor).release()
    assert (capacity.in_flight, capacity.queued) == (0, 0)


@pytest.mark.anyio
async def test_a_waiter_cancelled_after_the_handoff_passes_the_slot_on() -> None:
    capacity = Capacity(slots=1, max_queue=2)
    held = await capacity.acquire()
    first = asyncio.create_task(capacity.acquire())
    second = asyncio.create_task(capacity.acquire())
    await settle()
    held.release()  # hands the slot to `first` ...
    first.cancel()  # ... which is cancelled before it resumes
    lease = await second
    assert capacity.in_flight == 1
    lease.release()
    assert capacity.in_flight == 0 and capacity.served == 2


@pytest.mark.anyio
async def test_lease_release_is_idempotent_and_slot_releases_on_error() -> None:
    capacity = Capacity(slots=1, max_queue=0)
    lease = await capacity.acquire()
    lease.release()
    lease.release()
    assert lease.released and capacity.in_flight == 0 and capacity.served == 1
    with pytest.raises(RuntimeError):
        async with capacity.slot():
            raise RuntimeError("boom")
    assert capacity.in_flight == 0 and capacity.served == 2


@pytest.mark.anyio
async def test_reset_counters_keeps_live_slots() -> None:
    capacity = Capacity(slots=2, max_queue=0)
    (await capacity.acquire()).release()
    held = await capacity.acquire()
    capacity.rejected = 5
    capacity.reset_counters()
    assert (capacity.served, capacity.rejected, capacity.in_flight, capacity.peak_in_flight) == (0, 0, 1, 1)
    held.release()


@pytest.mark.parametrize(("slots", "max_queue"), [(0, 1), (1, -1)])
def test_capacity_rejects_impossible_sizes(slots: int, max_queue: int) -> None:
    with pytest.raises(ValueError):
        Capacity(slots=slots, max_queue=max_queue)


# --- latency -----------------------------------------------------------------------------------


def test_latency_without_jitter_is_exact_and_split_into_ttft_and_tokens() -> None:
    model = LatencyModel(base_ms=800, per_token_ms=25, jitter=0.0)
    timing = model.sample(60)
    assert timing.ttft_s == pytest.approx(0.8)
    assert timing.per_token_s == pytest.approx(0.025)
    assert timing.total_s == pytest.approx(2.3)
    assert model.sample_ms(60) == pytest.approx(model.nominal_ms(60)) == pytest.approx(2300)


def test_latency_jitter_is_reproducible_from_the_seed() -> None:
    def draws(seed: int) -> list[float]:
        model = LatencyModel(base_ms=100, per_token_ms=10, jitter=0.3, seed=seed)
        return [model.sample_ms(10) for _ in range(20)]

    assert draws(7) == draws(7)
    assert len(set(draws(7))) > 1
    assert draws(7) != draws(8)


@given(
    base=st.one_of(st.just(0.0), st.floats(0.001, 5000)),
    per_token=st.one_of(st.just(0.0), st.floats(0.001, 100)),
    jitter=st.floats(0, 0.99),
    tokens=st.integers(1, 500),
    seed=st.integers(0, 2**32),
)
def test_jittered_latency_stays_within_its_band(
    base: float, per_token: float, jitter: float, tokens: int, seed: int
) -> None:
    model = LatencyModel(base, per_token, jitter, seed)
    nominal = model.nominal_ms(tokens)
    timing = model.sample(tokens)
    assert (1 - jitter) * nominal - 1e-6 <= timing.total_s * 1000 <= (1 + jitter) * nominal + 1e-6
    if base > 0 and per_token > 0:  # one factor scales both parts
        assert timing.ttft_s / base == pytest.approx(timing.per_token_s / per_token)


@pytest.mark.parametrize(
    "kwargs", [{"base_ms": -1, "per_token_ms": 0}, {"base_ms": 0, "per_token_ms": 0, "jitter": 1.0}]
)
def test_latency_rejects_impossible_values(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        LatencyModel(**kwargs)
