"""Where the project's parts live, found from the package's own location (an editable install)."""
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
WORKER_DIR = PROJECT_ROOT / "worker"
MIGRATIONS_DIR = PROJECT_ROOT / "migrations"
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
RUNS_DIR = PROJECT_ROOT / "runs"
DEFAULT_STATE_DIR = PROJECT_ROOT / ".gateway"
