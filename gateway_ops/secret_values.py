"""Recognising a secret by what it looks like, not only by what it is called.

papermill writes every parameter into the executed notebook, so a notebook parameter must never
carry a credential — whatever its name. A name like ``api_key`` gives one away; so does a value:
a URL with a password in it (``https://user:pass@host``), an ``Authorization`` value
(``Bearer …``), an OpenAI-style key (``sk-…``), a JWT, or the value of one of gateway_ops' own
secrets from the environment. :func:`secret_reasons` says which, naming the parameter and the
kind, never the value.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

#: Parameter names that say "secret".
SECRET_NAME = re.compile(r"token|secret|password|passwd|api_?key|salt|credential|bearer", re.IGNORECASE)
#: Environment variables that hold secrets gateway_ops knows about (README: Settings).
SECRET_ENV_NAMES = (
    "USER_KEY_SECRET", "IP_HASH_SALT", "GATEWAY_CLIENT_API_KEY", "GATEWAY_CODEX_TOKEN", "CLOUDFLARE_API_TOKEN",
    "ADMIN_TOKEN", "OPENAI_API_KEY",
)
#: Shorter values are not compared (a one-letter "secret" would match everything).
MIN_SECRET_LENGTH = 8

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a bearer token", re.compile(r"\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE)),
    ("an API key (sk-…)", re.compile(r"(?<![A-Za-z0-9])sk-[A-Za-z0-9_-]{8,}")),
    ("a JSON Web Token", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")),
    ("a GitHub token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}")),
)
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]+")


def secret_reasons(parameters: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """{parameter name: why it looks like a secret}, e.g. ``{"url": "a URL with credentials"}``."""
    known = _known_secrets(os.environ if environ is None else environ)
    reasons = {}
    for name, value in parameters.items():
        if SECRET_NAME.search(name):
            reasons[name] = "its name says secret"
            continue
        kinds = sorted({kind for text in _texts(value) for kind in _kinds(text, known)})
        if kinds:
            reasons[name] = " and ".join(kinds)
    return reasons


def looks_secret(text: str, environ: Mapping[str, str] | None = None) -> bool:
    """True when ``text`` holds something shaped like a credential (see the module docstring)."""
    return bool(_kinds(text, _known_secrets(os.environ if environ is None else environ)))


def _kinds(text: str, known: Mapping[str, str]) -> set[str]:
    kinds = {kind for kind, pattern in _PATTERNS if pattern.search(text)}
    if any(_has_credentials(url) for url in _URL.findall(text)):
        kinds.add("a URL with credentials")
    kinds |= {f"the value of {name}" for name, value in known.items() if value in text}
    return kinds


def _has_credentials(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return "@" in url.split("/", 3)[2] if url.count("/") >= 2 else False
    return bool(parts.password or (parts.username and "@" in parts.netloc))


def _known_secrets(environ: Mapping[str, str]) -> dict[str, str]:
    return {name: environ[name] for name in SECRET_ENV_NAMES if len(environ.get(name) or "") >= MIN_SECRET_LENGTH}


def _texts(value: Any) -> Iterator[str]:
    """Every string inside ``value`` (nested lists, tuples, dicts: keys and values), and bytes decoded."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, bytes):
        yield value.decode("utf-8", "replace")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _texts(key)
            yield from _texts(item)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from _texts(item)
