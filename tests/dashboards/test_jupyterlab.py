"""The facilitator's JupyterLab path (`make up`), in headless Chromium: no pop-ups, no update or
news checks, and notebooks 05 and 08 run with "Run All Cells", their widgets rendering and updating.

JupyterLab starts with exactly the flags of the Makefile's `up` target, on a copy of notebooks/
(JupyterLab autosaves, and committed notebooks carry no outputs), with its settings in a temporary
folder and the kernels pointed at the session's local stack. One JupyterLab serves the module; it
runs in its own process group and is stopped with it. Screenshots: test-artifacts/jupyterlab-*.png.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shlex
import shutil
import sys
import time
from pathlib import Path

import pytest

from gateway_ops.paths import NOTEBOOKS_DIR, PROJECT_ROOT
from gateway_ops.processes import ManagedProcess
from gateway_ops.stack import free_port
from helpers import fresh_user, wait_for_rows

from .helpers import allow_only_loopback, send
from .test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, alive, descendants

#: Pop-ups JupyterLab can show: dialogs and notification toasts (news, update checks).
POPUPS = ".jp-Dialog, .Toastify__toast, .jp-Notification-Toast"

# A JupyterLab server with notebook kernels, driven in Chromium (its fixtures start all three).
pytestmark = [pytest.mark.stack, pytest.mark.notebook, pytest.mark.browser,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (make test installs it)")]


def make_up_lab_flags() -> list[str]:
    """The options the Makefile's `up` target gives `jupyter lab` (continuation lines joined)."""
    recipe = (PROJECT_ROOT / "Makefile").read_text().split("\nup:", 1)[1].split("\n\n", 1)[0]
    command = recipe.replace("\\\n", " ").split("/jupyter lab", 1)[1].splitlines()[0]
    return shlex.split(command)


def lab_argv(flags: list[str], folder: Path, port: int, token: str) -> list[str]:
    """`jupyter lab` with the Makefile's flags, on ``folder`` and a port of its own."""
    flags = [flag for flag in flags if not flag.startswith("--notebook-dir")]
    return [sys.executable, "-m", "jupyter", "lab", *flags, f"--notebook-dir={folder}", f"--port={port}",
            "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}"]


def start_lab(stack, tmp: Path, flags: list[str]) -> tuple[ManagedProcess, str]:
    """JupyterLab on a copy of the notebooks, isolated settings, kernels pointed at ``stack``."""
    folder = tmp / "notebooks"
    shutil.copytree(NOTEBOOKS_DIR, folder)
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "GATEWAY_URL": stack.url, "GATEWAY_STATE_DIR": str(stack.state_dir),
           "GATEWAY_TARGET": "local", "GATEWAY_RUNS_DIR": str(tmp / "runs"),
           "JUPYTER_CONFIG_DIR": str(tmp / "config"), "JUPYTERLAB_SETTINGS_DIR": str(tmp / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"), "JUPYTER_RUNTIME_DIR": str(tmp / "runtime")}
    env.pop("USER_KEY_SECRET", None)
    # From the project root, as `make up` runs it (the Makefile's paths are relative to it).
    lab = ManagedProcess("JupyterLab", lab_argv(flags, folder, port, token), cwd=PROJECT_ROOT, env=env)
    lab.start(ready=lambda line: f"127.0.0.1:{port}/lab" in line)
    try:
        lab.wait_ready(90)
    except BaseException:
        lab.stop()
        raise
    return lab, f"http://127.0.0.1:{port}/lab?token={token}"


@pytest.fixture(scope="module")
def lab(stack, tmp_path_factory):
    """One JupyterLab for the module, started as `make up` starts it; yields (url, runs folder)."""
    tmp = tmp_path_factory.mktemp("jupyterlab")
    process, url = start_lab(stack, tmp, make_up_lab_flags())
    yield url, tmp / "runs"
    # Kernels run in sessions of their own: JupyterLab must shut them down when its group stops.
    assert process.pid is not None  # started
    spawned = descendants(process.pid)
    process.stop()
    deadline = time.monotonic() + 15
    while alive(spawned) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(spawned), f"left running after JupyterLab stopped: {alive(spawned)}"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@contextlib.contextmanager
def lab_page(browser, url: str, name: str):
    """A JupyterLab page that lets only loopback through. On leaving: a failure leaves
    test-artifacts/jupyterlab-<name>-failed.png; the page closes; nothing outside loopback was asked for."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    external = allow_only_loopback(page)
    try:
        page.goto(url)
        page.wait_for_selector(".jp-LabShell", timeout=60_000)
        yield page
    except BaseException:
        screenshot(page, f"{name}-failed")
        raise
    finally:
        page.close()
    assert external == [], f"JupyterLab tried to load from outside loopback: {external}"


def open_notebook(page, name: str) -> None:
    """Opens ``name`` from the file browser, as a facilitator does, and waits for an idle kernel."""
    page.locator(".jp-DirListing-item", has_text=f"{name}.ipynb").dblclick()
    page.wait_for_selector(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook", timeout=30_000)
    # The status bar names the kernel once it is connected (before, "Run All" runs nothing).
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90_000)
    assert_no_popups(page)  # e.g. "Select Kernel"


def run_all(page) -> None:
    """Run → Run All Cells, from the menu bar."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()


def wait_for_result(runs: Path, name: str, timeout: float = 150.0) -> dict:
    """The result.json the notebook writes (under GATEWAY_RUNS_DIR) once its last cells have run."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sorted(runs.glob(f"*/{name}/result.json"))
        if found:
            time.sleep(0.5)  # written in one call; let the writer finish
            return json.loads(found[-1].read_text())
        time.sleep(0.5)
    raise AssertionError(f"{name} wrote no result.json within {timeout:.0f} s")


def assert_every_cell_ran(page) -> None:
    """Every code cell has an execution count: none failed and stopped the run, none still queued."""
    page.wait_for_function("""() => {
        const prompts = Array.from(document.querySelectorAll(
            '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputArea-prompt')).map(p => p.innerText.trim());
        return prompts.length > 0 && prompts.every(p => /^\\[\\d+\\]:$/.test(p));
    }""", timeout=60_000)


def assert_no_popups(page) -> None:
    page.wait_for_timeout(1500)  # JupyterLab shows its first-run toasts a moment after loading
    shown = page.locator(POPUPS)
    assert shown.count() == 0, f"JupyterLab showed: {shown.all_inner_texts()}"


def screenshot(page, name: str, show=None) -> None:
    """test-artifacts/jupyterlab-<name>.png, scrolled to ``show`` (CI uploads it; a failing test leaves
    one named -failed)."""
    ARTIFACTS.mkdir(exist_ok=True)
    if show is not None:
        show.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / f"jupyterlab-{name}.png"))


def test_make_up_starts_jupyterlab_without_news_or_update_checks():
    flags = make_up_lab_flags()
    assert "--LabApp.news_url=None" in flags
    assert "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate" in flags
    assert "--no-browser" in flags and "--ip=127.0.0.1" in flags
    settings = next(flag.split("=", 1)[1] for flag in flags if flag.startswith("--LabApp.app_settings_dir="))
    overrides = json.loads((PROJECT_ROOT / settings / "overrides.json").read_text())
    assert overrides["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"
    assert overrides["@jupyterlab/notebook-extension:tracker"]["autoStartDefaultKernel"] is True


@pytest.mark.timeout(300)
def test_attendees_notebook_runs_all_in_jupyterlab_and_its_form_updates(lab, browser, minute_guard):
    url, runs = lab
    with lab_page(browser, url, "05_attendees") as page:
        assert_no_popups(page)
        open_notebook(page, "05_attendees")
        minute_guard()  # the tier check counts requests within one UTC minute
        run_all(page)
        result = wait_for_result(runs, "05_attendees")
        assert result["passed"], result
        assert_every_cell_ran(page)

        # The tier form rendered; setting a limit from the browser updates its output.
        probe = fresh_user("lab-tier")
        form = page.locator(".widget-vbox", has=page.locator("button", has_text="Set limit")).last
        form.get_by_role("textbox", name="user id").fill(probe)
        form.get_by_role("spinbutton", name="per minute").fill("7")
        form.locator("button", has_text="Set limit").click()
        form.get_by_text(f"{probe}: 7 requests/minute, via the admin API").wait_for(timeout=20_000)
        form.locator("td", has_text=probe).wait_for(timeout=20_000)  # and the listing shows it
        screenshot(page, "05_attendees", show=form)
        assert_no_popups(page)


@pytest.mark.timeout(300)
def test_dashboard_notebook_runs_all_in_jupyterlab_and_follows_new_traffic(lab, browser, stack, access_log):
    url, runs = lab
    user = fresh_user("lab")
    send(stack.url, user, 6)
    assert len(wait_for_rows(access_log, user, 6)) == 6
    with lab_page(browser, url, "08_live_dashboard") as page:
        open_notebook(page, "08_live_dashboard")
        run_all(page)
        result = wait_for_result(runs, "08_live_dashboard")
        assert result["passed"], result
        assert result["mode"].startswith("live"), "in JupyterLab the dashboard refreshes on its own"
        assert_every_cell_ran(page)
        page.wait_for_selector(".jp-NotebookPanel:not(.lm-mod-hidden) .js-plotly-plot", timeout=60_000)
        cell = f'tr[data-user="{user}"] td[data-col="requests"]'
        page.wait_for_function(f"() => document.querySelector('{cell}')?.innerText === '6'", timeout=30_000)

        # More traffic: the open notebook's widgets follow without re-running anything.
        send(stack.url, user, 4)
        page.wait_for_function(f"() => document.querySelector('{cell}')?.innerText === '10'", timeout=30_000)
        screenshot(page, "08_live_dashboard", show=page.locator(".js-plotly-plot").first)
        assert_no_popups(page)
