"""Hypothesis strategies for hostile requests: what a scanner, a broken client or an attacker sends.

Everything here is sendable by an ordinary HTTP client (httpx); what only a raw socket can send —
control characters in the request line or in a header — is in :func:`raw_requests`.
"""
from __future__ import annotations

import json
import string
from dataclasses import dataclass, field

from hypothesis import strategies as st

#: Headers only the gateway may set or read, and client-supplied forwarding, URL-override and
#: client-IP headers: none of these, as the client sent it, may reach the origin.
SMUGGLED = (
    "X-User-ID", "X-User-Key", "X-Forwarded-User", "X-Request-ID", "X-Codex-Token",
    "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Port", "X-Forwarded-Prefix", "Forwarded",
    "X-Real-IP", "X-Client-IP", "Client-IP", "True-Client-IP", "X-Cluster-Client-IP", "Fastly-Client-IP",
    "X-Originating-IP", "CF-Connecting-IP", "CF-IPCountry", "CF-Worker", "CF-Ray",
    "X-Original-URL", "X-Rewrite-URL", "X-Override-URL", "X-HTTP-Method-Override", "X-HTTP-Method",
    "X-Method-Override",
)
#: Never generated: the simulated origin's own fault switch (test machinery, not client input).
RESERVED = {"x-origin-fault", "host", "content-length", "transfer-encoding"}
TCHARS = string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~"
MAX_BODY_BYTES = 4 * 1024 * 1024


@dataclass
class Hostile:
    method: str
    raw_path: bytes
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""

    def describe(self) -> str:
        headers = [(name.decode("latin-1"), value[:60]) for name, value in self.headers]
        return (f"{self.method} {self.raw_path[:160]!r} ({len(self.raw_path)} B) headers={headers} "
                f"body={self.body[:80]!r} ({len(self.body)} B)")

    __repr__ = describe  # hypothesis prints the failing example: keep it readable


methods = st.one_of(st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]),
                    st.text(string.ascii_uppercase, min_size=1, max_size=12))

_segment = st.one_of(
    st.sampled_from([".", "..", "%2e%2e", "%2E%2e%2f", "..%2f", "%2f", "%00", "%ff", "%", "%zz", "~", "@", ":", ";",
                     "chat", "completions", "models", "embeddings", "_origin", "requests", "health", "v1", "%u2215",
                     "..;", "\\..\\", "%5c..%5c"]),
    st.text(string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@%", max_size=30),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), max_size=8).map(
        lambda text: "".join(f"%{b:02X}" for b in text.encode())),
)
_path = st.builds(lambda prefix, segments, slashes: prefix + "/".join(s + "/" * slashes for s in segments),
                  st.sampled_from(["/v1/", "/v1//", "/", "/health/", "//v1/", "/V1/", "/v1/./", "/v1/../v1/"]),
                  st.lists(_segment, max_size=8), st.integers(0, 1))
paths = st.one_of(
    _path,
    st.builds(lambda p, n: p + "a" * n, _path, st.sampled_from([1_000, 8_000, 16_000, 64_000])),  # very long
    st.sampled_from(["/v1/chat/completions", "/v1/models", "/health", "/v1", "/v1/", "/_origin/requests"]),
)
queries = st.one_of(st.just(""), st.text(string.ascii_letters + string.digits + "=&%+._-[]", max_size=60).map(
    lambda q: "?" + q))


def _header_value_bytes() -> st.SearchStrategy[bytes]:
    """Values an HTTP/1.1 client can send: visible ASCII, tab, obs-text (raw UTF-8), oversized."""
    visible = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E) | st.just("\t"), max_size=80)
    unicode = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=40)
    return st.one_of(
        visible.map(lambda v: v.strip(" \t").encode()),
        unicode.map(lambda v: v.strip().encode("utf-8")),
        st.sampled_from([b"127.0.0.1", b"10.0.0.1, 203.0.113.9", b"for=1.2.3.4;proto=https", b"http://169.254.169.254/",
                         b"/admin", b"DELETE", b"Bearer sk-fuzz-not-a-real-key", b"keep-alive, X-Hop-Secret"]),
        st.sampled_from([4_000, 16_000, 60_000]).map(lambda n: b"v" * n),  # oversized
    )


header_names = st.one_of(
    st.sampled_from(SMUGGLED + ("Connection", "Authorization", "Content-Type", "Accept", "X-Hop-Secret", "TE",
                                "Upgrade", "Proxy-Authorization", "Cookie", "Origin")),
    st.text(TCHARS, min_size=1, max_size=40),
).filter(lambda name: name.lower() not in RESERVED)

user_ids = st.one_of(
    st.from_regex(r"\A[A-Za-z0-9._@-]{1,64}\Z"),
    # invalid: unicode, spaces, empty (control characters: raw_requests, an HTTP client refuses them)
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=80).map(str.strip),
    st.sampled_from(["~missing", "~anonymous", "a" * 65, "../../etc/passwd", "admin%00", "alice bob"]),
)


def _json_text() -> st.SearchStrategy[str]:
    scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                        st.text(max_size=30))
    nested = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10),
                                                                                              inner, max_size=4),
                          max_leaves=20)
    chat = st.fixed_dictionaries(
        {"model": st.one_of(st.text(max_size=200), st.integers(), st.none(), st.just("gpt-4o-mini")),
         "messages": st.one_of(st.just([{"role": "user", "content": "hi"}]), nested)},
        optional={"stream": st.one_of(st.booleans(), nested), "stream_options": nested,
                  "max_tokens": st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False))})
    return st.one_of(nested.map(json.dumps), chat.map(json.dumps))


bodies = st.one_of(
    st.just(b""),
    _json_text().map(str.encode),
    st.binary(max_size=200),  # not JSON, not UTF-8
    st.sampled_from([b"{", b"[", b"{\"model\": ", b"null", b"true", b"\"a string\"", b"{\"stream\": true}",
                     b'{"model": "m", "messages": [], "n": 123456789012345678901234567890123, "t": 1e400}',
                     b'{"model": "m", "stream": true, "stream_options": "yes", "messages": []}',
                     b'{"model": "m", "stream": true, "seed": 12345678901234567890, "messages": []}']),
    st.sampled_from([1_000, 50_000, 200_000]).map(lambda depth: b"[" * depth + b"]" * depth),  # deeply nested
    st.sampled_from([1_000, 50_000]).map(lambda depth: b'{"a":' * depth + b"1" + b"}" * depth),
    st.sampled_from([MAX_BODY_BYTES - 64, MAX_BODY_BYTES + 1, MAX_BODY_BYTES * 2]).map(  # huge
        lambda size: (b'{"model": "m", "messages": [{"role": "user", "content": "' + b"x" * size + b'"}]}')[:size]),
)
content_types = st.sampled_from([None, b"application/json", b"application/json; charset=utf-8", b"text/plain",
                                 b"application/vnd.api+json", b"multipart/form-data; boundary=x", b"application/JSON"])


@st.composite
def hostile_requests(draw) -> Hostile:
    method = draw(methods)
    raw_path = (draw(paths) + draw(queries)).encode("latin-1", "replace")
    headers: list[tuple[bytes, bytes]] = []
    user = draw(st.one_of(st.none(), user_ids))
    if user is not None:
        headers.append((b"X-User-ID", user.encode("utf-8")))
    for name in draw(st.lists(header_names, max_size=6, unique_by=str.lower)):
        headers.append((name.encode(), draw(_header_value_bytes())))
    content_type = draw(content_types)
    if content_type is not None:
        headers.append((b"Content-Type", content_type))
    body = draw(bodies) if method not in ("GET", "HEAD") else b""
    return Hostile(method, raw_path, headers, body)


@st.composite
def raw_requests(draw) -> bytes:
    """Bytes only a raw socket sends: control characters in the request line or a header."""
    control = draw(st.sampled_from([b"\x00", b"\x01", b"\x7f", b"\r", b"\n", b"\x0b", b"\x1b[31m"]))
    where = draw(st.sampled_from(["path", "header_value", "header_name", "user_id"]))
    path, name, value, user = b"/v1/models", b"X-Note", b"ok", b"fuzz-raw"
    if where == "path":
        path = b"/v1/" + control + b"models"
    elif where == "header_value":
        value = b"a" + control + b"b"
    elif where == "header_name":
        name = b"X-" + control + b"Note"
    else:
        user = b"fuzz" + control + b"raw"
    return (b"GET " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nX-User-ID: " + user + b"\r\n" + name + b": " + value
            + b"\r\nConnection: close\r\n\r\n")
