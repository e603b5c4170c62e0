"""Regenerates ``cloudflare_openapi_subset.json``: the part of Cloudflare's published OpenAPI schema
that the suite's Cloudflare fake answers for, with every ``$ref`` it needs.

Cloudflare's schema (``openapi.json`` in the public ``cloudflare/api-schemas`` repository) is far
too large to vendor whole, so this keeps only the operations in :data:`OPERATIONS` and the
components they reach. Run it against a git copy of that repository::

    python -m tests.cloudflare_ops.vendor_openapi_subset --repo PATH/TO/api-schemas.git [--commit SHA]

Without ``--commit`` it takes the newest commit whose ``openapi.json`` the copy holds (a shallow or
partial copy may lack the newest, very large versions). Paths that exist in Cloudflare's API but not
in that version of the schema are listed in :data:`ALIASES`: each is vendored as a copy of the
operation with the same request and response shapes, and says so in ``x-alias-of``.

Where that schema contradicts itself or the API's observed answers, :func:`apply_errata` corrects
it and records each correction in ``info.x-errata``, so the vendored file says exactly where it
departs from its source.
"""
from __future__ import annotations

import argparse
import copy
import json
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SOURCE_REPOSITORY = "https://github.com/cloudflare/api-schemas"
SUBSET_PATH = Path(__file__).with_name("cloudflare_openapi_subset.json")

#: (path, method) of every Cloudflare endpoint gateway_ops calls.
OPERATIONS: tuple[tuple[str, str], ...] = (
    ("/user/tokens/verify", "get"),
    ("/accounts/{account_id}/storage/kv/namespaces", "get"),
    ("/accounts/{account_id}/storage/kv/namespaces", "post"),
    ("/accounts/{account_id}/storage/kv/namespaces/{namespace_id}", "delete"),
    ("/accounts/{account_id}/storage/kv/namespaces/{namespace_id}/bulk", "put"),
    ("/accounts/{account_id}/storage/kv/namespaces/{namespace_id}/bulk/delete", "post"),
    ("/accounts/{account_id}/storage/kv/namespaces/{namespace_id}/keys", "get"),
    ("/accounts/{account_id}/d1/database", "get"),
    ("/accounts/{account_id}/d1/database", "post"),
    ("/accounts/{account_id}/d1/database/{database_id}", "delete"),
    ("/accounts/{account_id}/d1/database/{database_id}/query", "post"),
    ("/accounts/{account_id}/workers/scripts", "get"),
    ("/accounts/{account_id}/workers/scripts/{script_name}", "put"),
    ("/accounts/{account_id}/workers/scripts/{script_name}", "delete"),
)

_DISPATCH_SECRETS = "/accounts/{account_id}/workers/dispatch/namespaces/{dispatch_namespace}/scripts/{script_name}/secrets"
#: (path, method) missing from the vendored version → (path, method) of the operation of the same shape.
ALIASES: dict[tuple[str, str], tuple[str, str]] = {
    ("/accounts/{account_id}/tokens/verify", "get"): ("/user/tokens/verify", "get"),
    ("/accounts/{account_id}/workers/scripts/{script_name}/secrets", "get"): (_DISPATCH_SECRETS, "get"),
    ("/accounts/{account_id}/workers/scripts/{script_name}/secrets", "put"): (_DISPATCH_SECRETS, "put"),
}
_ACCOUNT_ID = {"in": "path", "name": "account_id", "required": True,
               "schema": {"description": "Account identifier tag.", "maxLength": 32, "type": "string"}}
_KEPT_FIELDS = ("operationId", "summary", "parameters", "requestBody", "responses")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "--git-dir", str(repo), *args], check=True, capture_output=True, text=True).stdout


def newest_present_commit(repo: Path) -> str:
    """The newest commit whose ``openapi.json`` is in the copy (partial copies lack the largest
    blobs) and is a whole schema (some commits hold a few-kilobyte placeholder)."""
    log = git(repo, "log", "--format=C %H", "--raw", "--no-abbrev", "HEAD", "--", "openapi.json").splitlines()
    pairs, commit = [], ""
    for line in log:
        if line.startswith("C "):
            commit = line[2:]
        elif line.startswith(":"):
            pairs.append((commit, line.split()[3]))
    checked = subprocess.run(["git", "--git-dir", str(repo), "cat-file", "--batch-check"], check=True, text=True,
                             input="".join(f"{blob}\n" for _, blob in pairs), capture_output=True).stdout.splitlines()
    for (commit, _), answer in zip(pairs, checked, strict=True):
        fields = answer.split()
        if len(fields) == 3 and fields[1] == "blob" and int(fields[2]) > 1_000_000:
            return commit
    raise SystemExit("no whole version of openapi.json is present in this copy")


def operation(paths: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    item = paths[path]
    found = {key: copy.deepcopy(value) for key, value in item[method].items() if key in _KEPT_FIELDS}
    found["parameters"] = [*copy.deepcopy(item.get("parameters", [])), *found.get("parameters", [])]
    return found


def alias(paths: dict[str, Any], target: tuple[str, str], source: tuple[str, str]) -> dict[str, Any]:
    """The operation at ``source`` re-homed at ``target``'s path parameters."""
    found = operation(paths, *source)
    names = {part[1:-1] for part in target[0].split("/") if part.startswith("{")}
    kept = [p for p in found["parameters"] if p.get("in") != "path" or p.get("name") in names]
    if "account_id" in names and not any(p.get("name") == "account_id" for p in kept):
        kept.insert(0, copy.deepcopy(_ACCOUNT_ID))
    found["parameters"] = kept
    found["x-alias-of"] = f"{source[1].upper()} {source[0]}"
    return found


def refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        own = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return own.union(*(refs(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(refs(value) for value in node))
    return set()


def with_components(spec: dict[str, Any], subset_paths: dict[str, Any]) -> dict[str, Any]:
    """Every component ``subset_paths`` reaches, transitively, keyed as in the source."""
    components: dict[str, dict[str, Any]] = {}
    pending, seen = refs(subset_paths), set()
    while pending:
        ref = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        _, _, kind, name = ref.split("/", 3)
        target = spec["components"][kind][name]
        components.setdefault(kind, {})[name] = target
        pending |= refs(target)
    return {kind: dict(sorted(items.items())) for kind, items in sorted(components.items())}


_FAILURE = re.compile(r"^#/components/schemas/(.+)_api-response-common(-failure)?$")


def _failure_envelope(schema: dict[str, Any]) -> str | None:
    """The ``*_api-response-common-failure`` of the service a 4XX schema belongs to, if any."""
    for ref in sorted(refs(schema)):
        if match := _FAILURE.match(ref):
            return f"#/components/schemas/{match.group(1)}_api-response-common-failure"
    return None


def apply_errata(subset: dict[str, Any]) -> list[str]:
    """Corrects the schema where it cannot be right, and says what changed (for ``x-errata``).

    :raises SystemExit: when a defect is gone (a newer version fixed it): drop that erratum.
    """
    errata: list[str] = []
    schemas = subset["components"]["schemas"]
    common = schemas["d1_api-response-common"]["properties"]
    if common["result"] != {"type": "object"}:
        raise SystemExit("d1_api-response-common changed: review erratum 1")
    common["result"] = {"anyOf": [{"type": "object"}, {"items": {}, "type": "array"}, {"type": "string"}]}
    errata.append(
        "d1_api-response-common.result was {type: object}, which every D1 list and query response "
        "contradicts (it narrows result to an array): made object, array or string, as the other "
        "services' api-response-common envelopes have it."
    )
    for path, item in subset["paths"].items():
        for method, operation in item.items():
            failure = operation["responses"].get("4XX")
            schema = failure["content"]["application/json"].get("schema") if failure else None
            envelope = _failure_envelope(schema) if schema else None
            direct = [part["$ref"] for part in [schema or {}, *(schema or {}).get("allOf", [])] if "$ref" in part]
            successes = [ref.rsplit("/", 1)[1] for ref in direct if ref != envelope]
            if envelope and successes:
                failure["content"]["application/json"]["schema"] = {"$ref": envelope}
                errata.append(
                    f"{method.upper()} {path} 4XX: the schema requires {' and '.join(successes)} (success: true) "
                    f"of an error answer; replaced by {envelope.rsplit('/', 1)[1]} alone."
                )
            if failure and "5XX" not in operation["responses"]:
                operation["responses"]["5XX"] = copy.deepcopy(operation["responses"]["4XX"])
    errata += _delete_errata(subset)
    upload = subset["components"]["requestBodies"]["workers_script_upload"]["content"]["multipart/form-data"]
    forms = upload["schema"].get("oneOf", [])
    if [sorted(form.get("properties", {})) for form in forms] != [["<any part name>", "metadata"], ["message"]]:
        raise SystemExit("the Worker upload's forms changed: review the rollback erratum")
    upload["schema"] = forms[0]
    errata.append(
        "Worker upload (multipart): the second form, {message} for a rollback 'only parsed when query param "
        "rollback_to is present', accepts any object, so oneOf could never hold and anyOf would check "
        "nothing; dropped (the suite never rolls back), leaving the upload form with its metadata."
    )
    errata.append("5XX added to every operation as a copy of its 4XX: Cloudflare answers server errors with "
                  "the same failure envelope, and the schema documents none.")
    with_minimum = [name for name, schema in schemas.items()
                    if name.endswith("_messages") and schema["items"]["properties"]["code"].pop("minimum", None)]
    if not with_minimum:
        raise SystemExit("no *_messages has a code minimum any more: drop that erratum")
    errata.append(
        f"code minimum 1000 dropped from {', '.join(sorted(with_minimum))}: Cloudflare answers rate "
        "limiting with 429 and code 971 ('Please wait and consider throttling your request speed')."
    )
    return errata


def _delete_errata(subset: dict[str, Any]) -> list[str]:
    """The three deletions teardown uses, where the schema cannot be right as written.

    :raises SystemExit: when a defect is gone (a newer version fixed it): drop that erratum.
    """
    errata = []
    worker = "/accounts/{account_id}/workers/scripts/{script_name}"
    kv = "/accounts/{account_id}/storage/kv/namespaces/{namespace_id}"
    d1 = "/accounts/{account_id}/d1/database/{database_id}"
    for path in (worker, kv):
        operation = subset["paths"][path]["delete"]
        if operation.get("requestBody") != {"content": {"application/json": {}}, "required": True}:
            raise SystemExit(f"DELETE {path} request body changed: review its erratum")
        del operation["requestBody"]
        errata.append(f"DELETE {path}: a required request body without a schema was dropped; the SDK sends none "
                      "and the API needs none to delete.")
    responses = subset["paths"][worker]["delete"]["responses"]
    if any(responses[key]["content"]["application/json"] for key in ("200", "4XX")):
        raise SystemExit("the Worker delete documents a schema now: drop its erratum")
    responses["200"]["content"]["application/json"] = {
        "schema": {"$ref": "#/components/schemas/workers_api-response-common"}}
    for key in ("4XX", "5XX"):
        responses[key]["content"]["application/json"] = {
            "schema": {"$ref": "#/components/schemas/workers_api-response-common-failure"}}
    errata.append(f"DELETE {worker}: 200 and 4XX had no body schema (nothing could be checked); given "
                  "workers_api-response-common and its -failure, as the other Workers operations answer.")
    success = subset["paths"][d1]["delete"]["responses"]["200"]["content"]["application/json"]["schema"]
    parts = success.get("allOf", [])
    if [part.get("$ref") for part in parts][:1] != ["#/components/schemas/d1_api-response-common"] or \
            parts[1]["properties"]["result"].get("enum") != [None]:
        raise SystemExit("the D1 delete's success schema changed: review its erratum")
    common = copy.deepcopy(subset["components"]["schemas"]["d1_api-response-common"])
    common["properties"]["result"] = parts[1]["properties"]["result"]
    subset["paths"][d1]["delete"]["responses"]["200"]["content"]["application/json"]["schema"] = common
    errata.append(f"DELETE {d1} 200: allOf of d1_api-response-common (a non-null result) and result null could "
                  "never hold; inlined the common envelope with result null, as the API answers.")
    return errata


def build(repo: Path, commit: str) -> dict[str, Any]:
    spec = json.loads(git(repo, "show", f"{commit}:openapi.json"))
    committed = git(repo, "show", "-s", "--format=%cI", commit).strip()
    head, head_date = git(repo, "show", "-s", "--format=%H %cI", "HEAD").split()
    paths: dict[str, dict[str, Any]] = {}
    for path, method in OPERATIONS:
        paths.setdefault(path, {})[method] = operation(spec["paths"], path, method)
    for target, source in ALIASES.items():
        if target[1] in spec["paths"].get(target[0], {}):
            raise SystemExit(f"{target} is in this version now: move it from ALIASES to OPERATIONS")
        paths.setdefault(target[0], {})[target[1]] = alias(spec["paths"], target, source)
    subset = {
        "openapi": spec["openapi"],
        "info": {
            "title": "Cloudflare API: the subset organized-gateway's tests use",
            "version": spec["info"].get("version", ""),
            "x-source": {
                "repository": SOURCE_REPOSITORY,
                "file": "openapi.json",
                "commit": commit,
                "commit_date": committed,
                "extracted_on": datetime.now(UTC).date().isoformat(),
                "newest_commit_of_the_copy": {"commit": head, "commit_date": head_date,
                                              "openapi_json_present": head == commit},
                "generator": "tests/cloudflare_ops/vendor_openapi_subset.py",
            },
        },
        "paths": dict(sorted(paths.items())),
        "components": copy.deepcopy(with_components(spec, paths)),
    }
    subset["info"]["x-errata"] = apply_errata(subset)
    return subset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, required=True, help="git directory of cloudflare/api-schemas")
    parser.add_argument("--commit", help="commit to read openapi.json from (default: newest present)")
    parser.add_argument("--out", type=Path, default=SUBSET_PATH)
    args = parser.parse_args()
    subset = build(args.repo, args.commit or newest_present_commit(args.repo))
    args.out.write_text(json.dumps(subset, indent=1, sort_keys=False) + "\n")
    print(f"wrote {args.out} ({len(subset['paths'])} paths) from {subset['info']['x-source']['commit']}")


if __name__ == "__main__":
    main()
