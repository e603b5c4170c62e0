"""The pip (pyproject.toml) and conda (environment.yml) environments must list the same packages."""
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def pyproject_pins() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return set(project["dependencies"]) | set(project["optional-dependencies"]["dev"])


def environment_pins() -> set[str]:
    text = (ROOT / "environment.yml").read_text()
    pins = re.findall(r"^\s+- ([A-Za-z0-9_.\-\[\]]+==[^\s#]+)\s*$", text, flags=re.MULTILINE)
    return set(pins)


def test_environment_yml_pins_exactly_what_pyproject_pins():
    assert environment_pins() == pyproject_pins()


def test_every_dependency_is_pinned_exactly():
    assert all("==" in pin for pin in pyproject_pins())


def test_environment_yml_installs_the_package_itself():
    assert "- -e .[dev]" in (ROOT / "environment.yml").read_text()


# What `make install` gives beyond pip (the Worker's npm packages, Chromium for the browser tests)
# reaches conda users through the same Makefile steps, run in the conda environment.
CONDA_STEPS = 'make install chromium VENV="$CONDA_PREFIX"'


def make_plan(*targets: str, prefix) -> str:
    """The commands `make` would run for ``targets`` from nothing (-B), without running them (-n)."""
    import subprocess

    done = subprocess.run(["make", "-n", "-B", *targets, f"VENV={prefix}"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_conda_route_runs_every_install_step_in_the_conda_environment(tmp_path):
    import os
    import sys

    prefix = tmp_path / "conda-env"
    (prefix / "bin").mkdir(parents=True)
    os.symlink(sys.executable, prefix / "bin" / "python")
    plan = make_plan("install", "chromium", prefix=prefix)
    assert f"{prefix}/bin/python -m pip install" in plan and "-e '.[dev]'" in plan
    assert "cd worker && npm ci" in plan
    assert "apt-get install -y -qq chromium" in plan
    assert f"test -x {prefix}/bin/python" in plan, "an existing environment is used, not replaced by a venv"
    # …and it is what `make install` does (plus Chromium, which `make test` installs for everyone).
    default = make_plan("install", prefix=".venv").replace(".venv", str(prefix))
    assert all(line in plan for line in default.splitlines())
    assert "rm -rf .venv " in (ROOT / "Makefile").read_text(), "`make clean` never deletes a conda environment"


def test_environment_yml_and_the_readme_give_the_conda_steps():
    for document in ("environment.yml", "README.md"):
        text = (ROOT / document).read_text()
        assert "conda env create -f environment.yml" in text and CONDA_STEPS in text, document


def test_node_and_python_versions_agree_everywhere():
    text = (ROOT / "environment.yml").read_text()
    node_pin = re.search(r"^\s+- nodejs=(\d+)\s*$", text, flags=re.MULTILINE)
    python_pin = re.search(r"^\s+- python=(3\.\d+)\s*$", text, flags=re.MULTILINE)
    assert node_pin and python_pin, "environment.yml pins nodejs and python"
    node, python = node_pin.group(1), python_pin.group(1)
    test_yml = (ROOT / ".github" / "workflows" / "test.yml").read_text()
    pre_event = (ROOT / ".github" / "workflows" / "pre-event.yml").read_text()
    assert f'node-version: "{node}"' in test_yml
    assert f"image: python:{python}-" in test_yml and f'python-version: "{python}"' in pre_event
    required = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert required == f">={python}"
