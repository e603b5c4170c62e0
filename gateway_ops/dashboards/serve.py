"""Serving the live dashboard notebook as a standalone page with Voilà, on loopback only.

The notebook is copied with its parameters injected (papermill's parameterisation, no execution)
into a temporary folder and served from there; Voilà runs each page view in a fresh kernel that
inherits this process's environment (GATEWAY_* settings, tokens), so no secret is written into the
notebook. Voilà runs in its own process group and is stopped with it.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import nbformat

from ..exceptions import PortInUseError, StackError
from ..notebooks import check_parameters
from ..paths import NOTEBOOKS_DIR
from ..processes import ManagedProcess
from ..stack import HOST, port_is_free

DASHBOARD_NOTEBOOK = "08_live_dashboard"
#: Voilà's "lab" page template without its two stylesheet links to a CDN (Font Awesome): the page
#: then loads nothing from outside loopback.
OFFLINE_TEMPLATE = "gateway-offline"


def prepare_notebook(folder: Path, parameters: dict[str, Any], name: str = DASHBOARD_NOTEBOOK,
                     notebooks_dir: Path = NOTEBOOKS_DIR) -> Path:
    """Writes ``<folder>/<name>.ipynb`` with ``parameters`` injected after its parameters cell."""
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    check_parameters(parameters)
    notebook = load_notebook_node(str(Path(notebooks_dir) / f"{name}.ipynb"))
    if parameters:
        notebook = parameterize_notebook(notebook, parameters)
    target = Path(folder) / f"{name}.ipynb"
    nbformat.write(notebook, target)
    return target


def offline_template(jupyter_dir: Path) -> Path:
    """Writes the offline template under ``<jupyter_dir>/voila/templates/`` (put jupyter_dir on JUPYTER_PATH).

    It is Voilà's installed lab template minus the lines that link to cdn.jsdelivr.net, derived at
    run time so it always matches the installed Voilà.
    """
    from voila.paths import collect_template_paths

    source = next((Path(p) / "index.html.j2" for p in collect_template_paths(["voila"], "lab")
                   if (Path(p) / "index.html.j2").exists() and Path(p).name == "lab"), None)
    if source is None:
        raise StackError("Voilà's lab template was not found: reinstall the Python packages (`make install`).")
    folder = Path(jupyter_dir) / "voila" / "templates" / OFFLINE_TEMPLATE
    folder.mkdir(parents=True, exist_ok=True)
    lines = [line for line in source.read_text().splitlines(keepends=True) if "cdn.jsdelivr.net" not in line]
    (folder / "index.html.j2").write_text("".join(lines))
    (folder / "conf.json").write_text(json.dumps({"base_template": "lab"}))
    return folder


def voila_argv(notebook: Path, port: int) -> list[str]:
    """Voilà on 127.0.0.1 only, no browser, offline template; its JavaScript comes from the installed packages."""
    return [sys.executable, "-m", "voila", str(notebook), "--no-browser", f"--Voila.ip={HOST}", f"--port={port}",
            f"--template={OFFLINE_TEMPLATE}"]


class DashboardServer:
    """``with DashboardServer(port, parameters) as server: server.url`` — Voilà started, then always stopped."""

    def __init__(self, port: int, parameters: dict[str, Any] | None = None, *, ready_timeout: float = 60.0):
        self.port = int(port)
        self.parameters = dict(parameters or {})
        self.ready_timeout = ready_timeout
        self.process: ManagedProcess | None = None
        self._folder: Path | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    def start(self) -> DashboardServer:
        if not port_is_free(self.port):
            raise PortInUseError(f"Port {self.port} is already in use on {HOST}: choose another with --port.")
        self._folder = Path(tempfile.mkdtemp(prefix="gateway-dashboard-"))
        try:
            notebook = prepare_notebook(self._folder, self.parameters)
            jupyter_dir = self._folder / "jupyter"
            offline_template(jupyter_dir)
            path = os.pathsep.join(filter(None, [str(jupyter_dir), os.environ.get("JUPYTER_PATH")]))
            self.process = ManagedProcess("Voilà", voila_argv(notebook, self.port), cwd=self._folder,
                                          env={**os.environ, "JUPYTER_PATH": path})
            self.process.start(ready=lambda line: f"{HOST}:{self.port}" in line)
            self.process.wait_ready(self.ready_timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def check_alive(self) -> None:
        """Raises StackError when Voilà has stopped on its own."""
        if self.process is not None and self.process.exited():
            raise StackError(f"Voilà stopped unexpectedly:\n{self.process.tail()}")

    def stop(self) -> None:
        """Stops Voilà's process group (Voilà shuts its kernels down on SIGTERM); safe to call twice."""
        if self.process is not None:
            self.process.stop()
            self.process = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def __enter__(self) -> DashboardServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
