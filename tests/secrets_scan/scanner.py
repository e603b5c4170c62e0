"""Finds recognisable fake secrets in outputs, in the forms a leak takes.

Each fake secret is ``FAKE-<NAME>-<32 random hex>``: the random core is unique to one test run,
so finding it anywhere — whole, URL-encoded, base64-encoded, hex-encoded, or just its core (a
truncated or partly masked copy) — can only mean the value leaked.
"""
from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

#: the secrets gateway_ops knows about (README: Settings), each given a fake value for the scan
SECRET_NAMES = ("USER_KEY_SECRET", "IP_HASH_SALT", "GATEWAY_CLIENT_API_KEY", "GATEWAY_CODEX_TOKEN",
                "CLOUDFLARE_API_TOKEN", "ADMIN_TOKEN")


def fake_secrets(names: Iterable[str] = SECRET_NAMES) -> dict[str, str]:
    return {name: f"FAKE-{name.replace('_', '-')}-{uuid.uuid4().hex}" for name in names}


def core(value: str) -> str:
    return value.rsplit("-", 1)[-1]


def needles(value: str) -> dict[str, bytes]:
    """The forms of ``value`` a leak may take."""
    raw = value.encode()
    return {
        "verbatim": raw,
        "random core": core(value).encode(),
        "url-encoded": quote(value, safe="").encode(),
        "base64": base64.b64encode(raw).rstrip(b"="),
        "base64url": base64.urlsafe_b64encode(raw).rstrip(b"="),
        "hex": binascii.hexlify(raw),
    }


@dataclass(frozen=True)
class Finding:
    secret: str
    form: str
    where: str

    def __str__(self) -> str:
        return f"{self.secret} ({self.form}) in {self.where}"


def scan_bytes(blob: bytes, where: str, secrets: Mapping[str, str]) -> list[Finding]:
    return [Finding(name, form, where) for name, value in secrets.items()
            for form, needle in needles(value).items() if needle in blob]


def scan_paths(paths: Iterable[Path], secrets: Mapping[str, str]) -> tuple[list[Finding], int]:
    """Every file under each path (recursively); returns the findings and how many files were read."""
    findings: list[Finding] = []
    count = 0
    for root in paths:
        for path in ([root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())):
            findings += scan_bytes(path.read_bytes(), str(path), secrets)
            count += 1
    return findings, count
