"""Where the project's parts live, found from the package's own location (an editable install)."""
import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
WORKER_DIR = PROJECT_ROOT / "worker"
MIGRATIONS_DIR = PROJECT_ROOT / "migrations"
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
RUNS_DIR = PROJECT_ROOT / "runs"
DEFAULT_STATE_DIR = PROJECT_ROOT / ".gateway"


def runs_root() -> Path:
    """Where runs are kept: ``runs/`` at the project root, or ``GATEWAY_RUNS_DIR`` when set."""
    return Path(os.environ.get("GATEWAY_RUNS_DIR") or RUNS_DIR)
