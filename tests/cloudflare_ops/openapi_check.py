"""Checks exchanges with the Cloudflare fake against Cloudflare's published OpenAPI schema.

The fake is the only stand-in for Cloudflare in the suite, so a payload it invents would let the
client code pass against an API that does not exist. :class:`CloudflareSchema` reads the vendored
subset (``cloudflare_openapi_subset.json``, made by ``vendor_openapi_subset.py``) and lists, for one
:class:`Exchange`, everything that disagrees with it: an endpoint the subset does not have, path and
query parameters, the JSON or multipart request body, an undocumented status, the response body,
and any response property the schema does not declare (a fake must not invent fields the client
could come to rely on).

The schema is OpenAPI 3.0, read with ``jsonschema`` (Draft 4 rules, as OpenAPI 3.0 builds on them)
after two translations: ``nullable: true`` becomes "or null", and ``oneOf`` is read as ``anyOf``,
because Cloudflare's schema uses ``oneOf`` for alternatives that overlap (both forms of a Worker
upload accept any object), which JSON Schema's exclusive ``oneOf`` would reject every time.
"""
from __future__ import annotations

import email.parser
import email.policy
import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jsonschema import Draft4Validator
from referencing import Registry
from referencing.jsonschema import DRAFT4

SUBSET_PATH = Path(__file__).with_name("cloudflare_openapi_subset.json")
_BASE = "urn:cloudflare-openapi-subset"


@dataclass(frozen=True)
class Exchange:
    """One request to the fake and its answer (``status`` is None when the fake raised instead)."""

    method: str
    path: str  # below /client/v4
    query: dict[str, str]
    content_type: str
    body: bytes
    status: int | None = None
    response_type: str = ""
    response_body: bytes = b""

    def describe(self) -> str:
        return f"{self.method} {self.path}" + (f" → {self.status}" if self.status is not None else "")


@dataclass(frozen=True)
class _Operation:
    template: str
    method: str
    pointer: str  # JSON pointer of the operation in the subset
    spec: dict[str, Any]


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema objects as JSON Schema: ``nullable`` → or-null, ``oneOf`` → ``anyOf``."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {("anyOf" if key == "oneOf" else key): to_json_schema(value) for key, value in node.items()}
    if converted.pop("nullable", False) is True:
        if isinstance(converted.get("type"), str):
            converted["type"] = [converted["type"], "null"]
            if "enum" in converted:
                converted["enum"] = [*converted["enum"], None]
        else:
            return {"anyOf": [converted, {"type": "null"}]}
    return converted


class CloudflareSchema:
    """The vendored subset, ready to check exchanges."""

    def __init__(self, subset: dict[str, Any]) -> None:
        self.subset = subset
        self.document = to_json_schema(subset)
        self.registry = Registry().with_resource(_BASE, DRAFT4.create_resource(self.document))
        self.operations: list[tuple[re.Pattern[str], _Operation]] = []
        self._validators: dict[str, Draft4Validator] = {}
        for template, item in subset["paths"].items():
            pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "([^/]+)", re.escape(template)) + "$")
            for method, spec in item.items():
                pointer = f"/paths/{_escape(template)}/{method}"
                self.operations.append((pattern, _Operation(template, method.upper(), pointer, spec)))

    @classmethod
    def load(cls, path: Path = SUBSET_PATH) -> CloudflareSchema:
        return cls(json.loads(path.read_text()))

    @cached_property
    def source(self) -> dict[str, Any]:
        return self.subset["info"]["x-source"]

    def operation(self, method: str, path: str) -> tuple[_Operation, dict[str, str]] | None:
        for pattern, operation in self.operations:
            match = pattern.match(path)
            if match and operation.method == method:
                names = re.findall(r"\{([^}]+)\}", operation.template)
                return operation, dict(zip(names, match.groups(), strict=True))
        return None

    # --- checks -------------------------------------------------------------------------------
    def problems(self, exchange: Exchange) -> list[str]:
        """Every way ``exchange`` disagrees with the schema; empty when it conforms."""
        found = self.operation(exchange.method, exchange.path)
        if found is None:
            return [f"{exchange.describe()}: this endpoint is not in the vendored Cloudflare schema"]
        operation, path_values = found
        problems = self._parameter_problems(operation, path_values, exchange.query)
        problems += self._request_body_problems(operation, exchange)
        if exchange.status is not None:
            problems += self._response_problems(operation, exchange)
        return [f"{exchange.describe()}: {problem}" for problem in problems]

    def _errors(self, pointer: str, instance: Any) -> list[str]:
        validator = self._validators.get(pointer)
        if validator is None:
            node = self.registry.resolver(_BASE).lookup(f"{_BASE}#{quote(pointer)}").contents
            validator = Draft4Validator(self._inline(node, frozenset()), registry=self.registry)
            self._validators[pointer] = validator
        return [f"{_where(error.absolute_path)}{error.message}" for error in validator.iter_errors(instance)]

    def _parameter_problems(self, operation: _Operation, path_values: dict[str, str], query: dict[str, str]) -> list[str]:
        problems: list[str] = []
        declared = {(p["in"], p["name"]): (index, p) for index, p in enumerate(operation.spec.get("parameters", []))}
        for name, value in path_values.items():
            if ("path", name) not in declared:
                problems.append(f"path parameter {name!r} is not declared")
                continue
            index, _ = declared[("path", name)]
            problems += self._errors(f"{operation.pointer}/parameters/{index}/schema", value)
        for name, raw in query.items():
            if ("query", name) not in declared:
                problems.append(f"query parameter {name!r} is not declared")
                continue
            index, parameter = declared[("query", name)]
            value = _coerce(raw, self._resolve(parameter.get("schema", {})))
            problems += [f"query {name}={raw!r}: {p}" for p in
                         self._errors(f"{operation.pointer}/parameters/{index}/schema", value)]
        for (where, name), (_, parameter) in declared.items():
            present = name in (path_values if where == "path" else query)
            if parameter.get("required") and where in ("path", "query") and not present:
                problems.append(f"required {where} parameter {name!r} is missing")
        return problems

    def _request_body_problems(self, operation: _Operation, exchange: Exchange) -> list[str]:
        body_spec = operation.spec.get("requestBody")
        if body_spec is None:
            return [] if not exchange.body else ["the operation takes no request body, but one was sent"]
        pointer = f"{operation.pointer}/requestBody"
        if "$ref" in body_spec:
            pointer = body_spec["$ref"].removeprefix("#")
            body_spec = self._resolve(body_spec)
        if not exchange.body:
            return ["the request body is required but missing"] if body_spec.get("required") else []
        media = exchange.content_type.split(";")[0].strip().lower()
        if media not in body_spec["content"]:
            return [f"request content type {media!r} is not one of {sorted(body_spec['content'])}"]
        schema_pointer = f"{pointer}/content/{_escape(media)}/schema"
        if media == "application/json":
            instance, problem = _json(exchange.body, "request")
        elif media == "multipart/form-data":
            instance, problem = _multipart(exchange.content_type, exchange.body)
        else:
            instance, problem = exchange.body.decode("utf-8", "replace"), None
        if problem:
            return [problem]
        return [f"request body {p}" for p in self._errors(schema_pointer, instance)]

    def _response_problems(self, operation: _Operation, exchange: Exchange) -> list[str]:
        responses = operation.spec["responses"]
        status = str(exchange.status)
        key = next((k for k in (status, f"{status[0]}XX", "default") if k in responses), None)
        if key is None:
            return [f"status {status} is not documented (documented: {sorted(responses)})"]
        content = self._resolve(responses[key]).get("content", {})
        media = exchange.response_type.split(";")[0].strip().lower()
        if media not in content:
            return [f"response content type {media!r} is not one of {sorted(content)}"]
        pointer = f"{operation.pointer}/responses/{_escape(key)}/content/{_escape(media)}/schema"
        instance, problem = _json(exchange.response_body, "response")
        if problem:
            return [problem]
        self._errors(pointer, instance)  # builds the inlined schema
        undeclared = _undeclared(self._validators[pointer].schema, instance, "")
        return [f"response body {p}" for p in self._errors(pointer, instance)] + [
            f"response body at {where}: property {name!r} is not in the schema" for where, name in undeclared]

    def _inline(self, node: Any, open_refs: frozenset[str]) -> Any:
        """``node`` with each ``$ref`` replaced by its target (validating through references is
        ten times slower); a recursive one stays a reference, made absolute."""
        if isinstance(node, list):
            return [self._inline(item, open_refs) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            if ref in open_refs:
                return {"$ref": f"{_BASE}{ref}"}
            target = self.registry.resolver(_BASE).lookup(f"{_BASE}{ref}").contents
            return self._inline(target, open_refs | {ref})
        return {key: self._inline(value, open_refs) for key, value in node.items()}

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            _, _, kind, name = node["$ref"].split("/", 3)
            node = self.subset["components"][kind][name]
        return node


def _branches(schema: Any) -> list[dict[str, Any]]:
    """``schema`` and every schema it combines (allOf/anyOf), flattened."""
    if not isinstance(schema, dict):
        return []
    found = [schema]
    for key in ("allOf", "anyOf"):
        for part in schema.get(key, []):
            found += _branches(part)
    return found


def _undeclared(schema: Any, instance: Any, where: str) -> list[tuple[str, str]]:
    """Keys of ``instance`` that no branch of ``schema`` declares, where some branch declares keys:
    a fake must not invent fields the client could come to rely on."""
    branches = _branches(schema)
    if isinstance(instance, list):
        items = [b["items"] for b in branches if isinstance(b.get("items"), dict)]
        return [found for index, item in enumerate(instance)
                for found in _undeclared({"allOf": items}, item, f"{where}/{index}")]
    if not isinstance(instance, dict):
        return []
    declared: dict[str, list[Any]] = {}
    for branch in branches:
        for name, sub in branch.get("properties", {}).items():
            declared.setdefault(name, []).append(sub)
    if not declared or any(b.get("additionalProperties") not in (None, False) for b in branches):
        return []
    found = [(where or "/", name) for name in instance if name not in declared]
    for name, subs in declared.items():
        if name in instance:
            found += _undeclared({"allOf": subs}, instance[name], f"{where}/{name}")
    return found


def _where(path: Any) -> str:
    parts = list(path)
    return ("at " + "/".join(str(p) for p in parts) + ": ") if parts else ""


def _coerce(raw: str, schema: dict[str, Any]) -> Any:
    """A query string value as the type its schema declares (they all arrive as text)."""
    kind = schema.get("type")
    try:
        if kind == "integer":
            return int(raw)
        if kind == "number":
            return float(raw) if "." in raw else int(raw)
        if kind == "boolean" and raw in ("true", "false"):
            return raw == "true"
    except ValueError:
        pass
    return raw


def _json(raw: bytes, what: str) -> tuple[Any, str | None]:
    try:
        return json.loads(raw), None
    except ValueError:
        return None, f"the {what} body is not JSON"


def _multipart(content_type: str, raw: bytes) -> tuple[Any, str | None]:
    """A multipart body as ``{part name: text}``, with the ``metadata`` part decoded as JSON."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
    if not message.is_multipart():
        return None, "the request body is not multipart"
    parts: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes), "a form field"
        parts[str(name)] = payload.decode("utf-8", "replace")
    if "metadata" in parts:
        try:
            parts["metadata"] = json.loads(parts["metadata"])
        except ValueError:
            return None, "the multipart 'metadata' part is not JSON"
    return parts, None
