"""No comment, docstring, message or document points to a file that is not in the repository.

A reference to a planning document kept outside the repository (a DESIGN.md, a TOOLCHAIN.md)
sends a reader nowhere. Two kinds of reference are checked in every tracked text file: any
``NAME.md``, which must be a tracked file's name, and any path that starts with one of the
repository's top-level folders (``gateway_ops/…``, ``worker/src/…``), which must exist.
"""
from __future__ import annotations

import re
import subprocess

import pytest

from gateway_ops.paths import PROJECT_ROOT

#: Not read: generated text, the list of what git ignores, and this file's own examples.
NOT_READ = ("worker/package-lock.json", ".gitignore", "tests/test_references.py")
#: What `make install` and the Worker's tools generate: named on purpose, never committed.
GENERATED = ("worker/node_modules", "worker/.wrangler", "worker/dist", "worker/.dev.vars",
             "worker/worker-configuration.d.ts")
#: Markdown files the suite writes at run time (the pre-event job's summaries), named on purpose.
WRITTEN = ("summary.md", "step-summary.md")
MARKDOWN_NAME = re.compile(r"(?<![\w/.-])([\w.-]+\.md)\b")
PATH = re.compile(r"(?<![\w/.:-])((?:{tops})/[\w./-]*[\w-])")


def tracked_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    return listed.stdout.splitlines()


def text_of(name: str) -> str | None:
    try:
        return (PROJECT_ROOT / name).read_text(encoding="utf-8")
    except (UnicodeDecodeError, FileNotFoundError):
        return None


def dangling_references(files: dict[str, str], existing: set[str]) -> list[str]:
    """``file: reference`` for each reference in ``files`` (name → text) that names nothing in ``existing``."""
    basenames = {path.rsplit("/", 1)[-1] for path in existing}
    folders = {path.rsplit("/", 1)[0] for path in existing if "/" in path}
    folders |= {folder.rsplit("/", i)[0] for folder in folders for i in range(1, folder.count("/") + 1)}
    tops = sorted({path.split("/", 1)[0] for path in existing if "/" in path})
    path_pattern = re.compile(PATH.pattern.format(tops="|".join(map(re.escape, tops))))
    found = []
    for name, text in files.items():
        for match in MARKDOWN_NAME.finditer(text):
            if match.group(1) not in basenames and match.group(1) not in WRITTEN:
                found.append(f"{name}: {match.group(1)}")
        for match in path_pattern.finditer(text):
            reference = match.group(1).rstrip(".")
            if text[match.end(1):match.end(1) + 1] == "*":  # a glob such as gateway_ops/cli*.py
                continue
            if "*" in reference or "{" in reference or "<" in reference or reference.startswith(GENERATED):
                continue
            if reference not in existing and reference.rstrip("/") not in folders:
                found.append(f"{name}: {reference}")
    return found


def test_every_file_a_comment_or_document_names_exists():
    files = tracked_files()
    texts = {name: text for name in files if name not in NOT_READ and (text := text_of(name)) is not None}
    assert dangling_references(texts, set(files)) == []


@pytest.mark.parametrize("text, dangling", [
    ("# the names are fixed in DESIGN.md", ["x.py: DESIGN.md"]),
    ("/** see shared TOOLCHAIN.md */", ["x.py: TOOLCHAIN.md"]),
    ("see gateway_ops/nowhere.py and gateway_ops/here.py", ["x.py: gateway_ops/nowhere.py"]),
    ("README.md, gateway_ops/here.py, gateway_ops/ and runs/<timestamp>/", []),
    ("https://example.com/gateway_ops/nowhere.py", []),
])
def test_the_finder_catches_what_it_should(text, dangling):
    existing = {"README.md", "gateway_ops/here.py", "x.py"}
    assert dangling_references({"x.py": text}, existing) == dangling
