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
