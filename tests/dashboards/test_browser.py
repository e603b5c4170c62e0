"""The real thing: `gateway-ops dashboard` serves notebook 08 with Voilà, headless Chromium opens it.

The page must show the traffic this test sent, update without a reload when more arrives, drill
down into one user from the browser, load nothing from outside loopback, and the command must stop
Voilà and its kernel on SIGTERM. Screenshots: test-artifacts/dashboard.png (every run) and
docs/dashboard.png (the README's, written when missing or with UPDATE_DOCS_SCREENSHOT=1).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gateway_ops.paths import PROJECT_ROOT
from gateway_ops.stack import free_port

from helpers import fresh_user, wait_for_rows, wait_unless_minute_has, wait_until

from .helpers import allow_only_loopback, send

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
DOCS_SCREENSHOT = PROJECT_ROOT / "docs" / "dashboard.png"
#: Every trace of the page's figure: its panel (``meta``), name and values (bars of top users are horizontal).
PLOT_DATA = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).flatMap(div => (div.data || []).map(t => ({
    meta: t.meta, name: t.name, x: Array.from(t.x || []), y: Array.from(t.y || [])})))"""


def panel_sum(traces: list[dict], panel: str, name: str | None = None) -> int:
    axis = "x" if panel == "top_users" else "y"
    return int(sum(value for trace in traces if trace["meta"] == panel and (name is None or trace["name"] == name)
                   for value in trace[axis] if isinstance(value, (int, float))))


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (Voilà and its kernels run in sessions of their own)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pids: set[int]) -> set[int]:
    living = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            living.add(pid)
    return living


@pytest.fixture
def dashboard_command(gateway_env, tmp_path):
    """`gateway-ops dashboard` as a facilitator runs it, in its own session; yields (process, url)."""
    port = free_port()
    env = {**os.environ, "GATEWAY_RUNS_DIR": str(tmp_path / "runs")}
    process = subprocess.Popen([sys.executable, "-m", "gateway_ops.cli", "dashboard", "--port", str(port),
                                "--refresh", "1", "--window", "15"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    url, lines = None, []
    deadline = time.monotonic() + 90
    assert process.stdout is not None
    while url is None and time.monotonic() < deadline and process.poll() is None:
        line = process.stdout.readline()
        lines.append(line)
        if line.startswith("dashboard http://"):
            url = line.split()[1]
    try:
        assert url == f"http://127.0.0.1:{port}/", "".join(lines)
        yield process, url
    finally:
        # A failed test leaves the command running: SIGTERM lets it stop Voilà and the kernel (each in a
        # session of its own, which a SIGKILL of the command's group would leave behind); then force.
        spawned = descendants(process.pid)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        for pid in alive(spawned):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.notebook  # Voilà executes notebook 08 (the browser marker comes from sync_playwright)
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (make test installs it)")
def test_dashboard_page_shows_the_traffic_and_updates_without_reload(gateway_env, access_log, dashboard_command):
    from playwright.sync_api import sync_playwright

    process, url = dashboard_command
    busy, other = fresh_user("busy"), fresh_user("other")
    wait_unless_minute_has()
    assert send(gateway_env.url, busy, 55).count(429) == 5
    send(gateway_env.url, other, 12, chat_every=4)
    chatty = fresh_user("chatty")
    send(gateway_env.url, chatty, 8, chat_every=1)
    assert send(gateway_env.url, chatty, 2, chat_every=1, headers={"X-Origin-Fault": "error"}) == [500, 500]
    assert len(wait_for_rows(access_log, busy, 55)) == 55 and len(wait_for_rows(access_log, other, 12)) == 12
    assert len(wait_for_rows(access_log, chatty, 10)) == 10


    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1900})
            external = allow_only_loopback(page)
            page.goto(url)
            page.wait_for_selector(".js-plotly-plot", timeout=120_000)
            page.wait_for_selector(f'tr[data-user="{busy}"]', timeout=30_000)

            # The figure and the table show this test's traffic.
            row = page.locator(f'tr[data-user="{busy}"]')
            assert row.locator('td[data-col="requests"]').inner_text() == "55"
            assert row.locator('td[data-col="rate_limited"]').inner_text() == "5"
            assert row.locator('td[data-col="limit_state"]').inner_text() == "over"
            assert "gw-over" in (row.get_attribute("class") or "")
            # The origin panel reads /admin/status with the session stack's generated admin token (no gate there).
            body = page.inner_text("body")
            assert "Origins (gate status)" in body and "Gate off (ORIGIN_MAX_CONCURRENCY unset)" in body, body[-1500:]
            traces = page.evaluate(PLOT_DATA)
            assert panel_sum(traces, "requests") >= 77 and panel_sum(traces, "requests", "429 rate-limited") >= 5
            assert panel_sum(traces, "requests", "5xx error") >= 2
            assert {trace["meta"] for trace in traces} == {"requests", "latency", "origin_errors", "top_users"}
            before = panel_sum(traces, "requests")

            # More traffic: the page follows without a reload.
            page.evaluate("window.__same_page = true")
            send(gateway_env.url, other, 20)
            page.wait_for_function(
                f"""() => document.querySelector('tr[data-user="{other}"] td[data-col="requests"]')?.innerText === '32'""",
                timeout=30_000)
            page.wait_for_function(f"""() => {PLOT_DATA}().filter(t => t.meta === 'requests')
                .reduce((s, t) => s + t.y.reduce((a, v) => a + (v || 0), 0), 0) >= {before + 20}""", timeout=30_000)
            assert page.evaluate("window.__same_page") is True
            assert "(incremental)" in page.inner_text("body")

            # Drill down into one user from the browser.
            page.fill("input[placeholder='user id (or part of it)']", other)
            page.get_by_role("button", name="Show").click()
            page.wait_for_function(f"() => document.body.innerText.includes('{other}: 32 requests since')",
                                   timeout=20_000)

            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
            if os.environ.get("UPDATE_DOCS_SCREENSHOT") == "1" or not DOCS_SCREENSHOT.exists():
                DOCS_SCREENSHOT.parent.mkdir(exist_ok=True)
                figure = page.locator(".js-plotly-plot").first.bounding_box()
                controls = page.locator("text=refresh (s)").first.bounding_box()
                assert figure is not None and controls is not None, "the chart and its controls are on the page"
                top = controls["y"] - 36
                page.screenshot(path=str(DOCS_SCREENSHOT), clip={"x": 0, "y": top, "width": 1280,
                                                                 "height": figure["y"] + figure["height"] - top + 8})
        finally:
            browser.close()
    assert external == [], "the page tried to load something from outside loopback"

    # SIGTERM stops the command, Voilà and the kernel.
    spawned = descendants(process.pid)
    assert spawned, "Voilà should be running under the command"
    os.killpg(process.pid, signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    wait_until(lambda: not alive(spawned), timeout=15, interval=0.2)
    assert not alive(spawned), f"left running: {alive(spawned)}"
