"""The operator's manual, mapped: each of its commands and knobs has a row in the README's "Coming
from the operator's manual" beside what to run now (a command that exists, with options it takes),
the deliberate changes say why, the troubleshooting table covers each symptom, and the manual's
monitoring queries run verbatim against the local D1 and return the right rows.

The manual itself lives outside the repository; MANUAL is its text as issues 2 and 11 quote it.
"""
from __future__ import annotations

import json
import re
import shlex
import sqlite3
from datetime import datetime, timedelta, UTC

import pytest
import typer

from gateway_ops import cli
from gateway_ops.accesslog import find_local_database
from gateway_ops.cloudflare import wrangler
from gateway_ops.cloudflare.wrangler_toml import D1_DATABASE_NAME, read_config
from gateway_ops.paths import MIGRATIONS_DIR, PROJECT_ROOT

#: The manual's commands and knobs (its wording), each of which must be mapped.
MANUAL = [
    "wrangler kv:namespace create GATEWAY_KV",
    "wrangler d1 create organized-gateway-db",
    "wrangler d1 execute organized-gateway-db --file=schema.sql",
    "wrangler secret put OPENCLAW_URL",
    "wrangler secret put AUTH_MODE",
    "wrangler deploy",
    'wrangler tail --status error --sampling-rate 0.1 --search "429"',
    "curl https://<gateway>/health",
    "wrangler kv:key put --binding GATEWAY_KV tier:alice premium",
    "wrangler kv:key delete --binding GATEWAY_KV tier:alice",
    "wrangler kv:key put --binding GATEWAY_KV oauth:alice <token>",
    "wrangler kv:key delete --binding GATEWAY_KV oauth:alice",
    'wrangler d1 execute organized-gateway-db --remote --command "SELECT …"',
    "RATE_LIMIT_PER_MINUTE",
    "OPENCLAW_URL",
    "AUTH_MODE",
    "the KV TTL of `rate:{user}:{minute}` (120 s)",
    "the `anonymous` bucket for requests without `X-User-ID`",
    "`ip_hash` (SHA-256 prefix of the IP)",
]
#: The deliberate changes the section must explain (each a phrase of its bold lead).
CHANGES = ["A Durable Object counts", "A request without `X-User-ID` gets 400", "`ip_hash` is keyed",
           "Tiers are numbers", "the KV TTL knob is gone"]
#: The troubleshooting table's symptoms (a phrase of each).
SYMPTOMS = ["502", "the origin refused the key", "everyone gets 429", "no rows in the dashboard",
            "daily quota", "fails on auth"]


def section(title: str) -> str:
    text = (PROJECT_ROOT / "README.md").read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end]


def table_rows(text: str, columns: int) -> list[list[str]]:
    """The table's body rows, split into cells (a `|` inside backticks does not split)."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("| ") or set(line) <= set("|- "):
            continue
        cells = [cell.strip() for cell in re.split(r"\|(?=(?:[^`]*`[^`]*`)*[^`]*$)", line.strip().strip("|"))]
        if len(cells) == columns:
            rows.append(cells)
    return rows[1:]  # the header row first


def commands_in(cell: str) -> list[str]:
    return [code for code in re.findall(r"`([^`]+)`", cell) if code.startswith(("gateway-ops ", "wrangler ", "curl "))]


COMMAND_TREE = typer.main.get_command(cli.app)


def check_gateway_ops(command: str) -> None:
    """Fails unless ``command`` names a real ``gateway-ops`` command and only options it takes."""
    words = shlex.split(command.replace("…", "X"))[1:]
    group, path = COMMAND_TREE, ["gateway-ops"]
    while getattr(group, "commands", None) and words and words[0] in group.commands:  # type: ignore[attr-defined]
        group = group.commands[words[0]]  # type: ignore[attr-defined]  # a click Group, checked just above
        path.append(words.pop(0))
    assert not getattr(group, "commands", None), f"`{command}`: {' '.join(path)} needs a sub-command"
    options = {name for param in group.params for name in getattr(param, "opts", []) + getattr(param, "secondary_opts", [])}
    unknown = [word.split("=")[0] for word in words if word.startswith("--") and word.split("=")[0] not in options]
    assert not unknown, f"`{command}`: {' '.join(path)} takes no {unknown}"


def test_every_command_and_knob_of_the_manual_is_mapped_to_what_exists_now():
    rows = {left: right for left, right in table_rows(section("Coming from the operator's manual"), 2)}
    lefts = {left.strip("`") for left in rows} | set(rows)
    missing = [entry for entry in MANUAL if entry not in lefts and f"`{entry}`" not in rows]
    assert not missing, f"map these manual entries in the README: {missing}"
    for left, right in rows.items():
        assert right, f"{left}: say what to run now"
        for command in commands_in(right):
            if command.startswith("gateway-ops "):
                check_gateway_ops(command)


def test_the_mapping_check_catches_a_command_that_does_not_exist():
    with pytest.raises(AssertionError, match="takes no"):
        check_gateway_ops("gateway-ops tail --colour red")
    with pytest.raises(AssertionError, match="needs a sub-command"):
        check_gateway_ops("gateway-ops attendees")
    check_gateway_ops('gateway-ops tail --status error --sampling-rate 0.1 --search "429"')


def test_the_deliberate_changes_are_explained():
    text = section("Coming from the operator's manual")
    assert all(change in text for change in CHANGES), [c for c in CHANGES if c not in text]


def test_troubleshooting_gives_cause_confirmation_and_fix_for_each_symptom():
    rows = table_rows(section("Troubleshooting"), 4)
    for symptom in SYMPTOMS:
        matching = [row for row in rows if symptom in row[0] or symptom in row[1]]
        assert len(matching) == 1, f"troubleshooting lacks (or repeats): {symptom}"
        [row] = matching
        assert all(row), f"{symptom}: every column needs text"
        confirms = commands_in(row[2])
        assert confirms, f"{symptom}: name the command that confirms it"
        for command in confirms + commands_in(row[3]):
            if command.startswith("gateway-ops "):
                check_gateway_ops(command)


def test_the_manuals_database_name_is_the_workers():
    assert read_config().d1_name == D1_DATABASE_NAME == "organized-gateway-db"
    assert f"wrangler d1 create {D1_DATABASE_NAME}" in MANUAL


# --- the monitoring queries, verbatim ----------------------------------------------------------

def manual_queries() -> dict[str, str]:
    """``label → SQL`` from the README's sql block (a ``-- label`` line before each query)."""
    found = re.search(r"```sql\n(.*?)```", section("Coming from the operator's manual"), re.S)
    assert found, "the manual's section has no sql block"
    block = found.group(1)
    queries: dict[str, str] = {}
    label = ""
    for line in block.splitlines():
        if line.startswith("-- "):
            label = line[3:].strip()
        elif line.strip():
            queries[label] = line.strip()
    return queries


#: (user, minutes ago, status, latency_ms): rows of known ages.
ROWS = [
    ("alice", 1, 200, 100), ("alice", 3, 200, 300), ("alice", 4, 429, 2), ("alice", 10, 200, 500),
    ("alice", 50, 500, 40), ("alice", 120, 200, 100), ("bob", 2, 502, 30), ("bob", 30, 200, 100),
    ("bob", 26 * 60, 200, 100), ("carol", 7, 200, 700),
]
EXPECTED = {
    "per-user activity, last 5 minutes": [{"user_id": "alice", "requests": 3}, {"user_id": "bob", "requests": 1}],
    "per-user totals": [{"user_id": "alice", "requests": 6, "ok": 4, "rate_limited": 1, "errors": 1},
                        {"user_id": "bob", "requests": 3, "ok": 2, "rate_limited": 0, "errors": 1},
                        {"user_id": "carol", "requests": 1, "ok": 1, "rate_limited": 0, "errors": 0}],
    "errors in the last hour": [{"user_id": "alice", "status": 500, "n": 1}, {"user_id": "bob", "status": 502, "n": 1}],
    "who hit the limit, last 15 minutes": [{"user_id": "alice", "rejected": 1}],
    "requests in the last 24 hours": [{"requests": 9}],
    "latency, last 15 minutes": [{"avg_ms": 272.0, "max_ms": 700}],  # (100+300+2+500+30+700) / 6
}


def old_iso(moment: datetime) -> str:
    """created_at as the Worker wrote it before migration 0002."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@pytest.mark.stack  # runs the real wrangler on a fresh local D1
def test_the_manuals_queries_return_the_right_rows_verbatim(tmp_path):
    queries = manual_queries()
    assert set(queries) == set(EXPECTED)
    wrangler.run(["d1", "migrations", "apply", D1_DATABASE_NAME, *wrangler.local_storage(tmp_path)])
    now = datetime.now(UTC)
    with sqlite3.connect(find_local_database(tmp_path)) as db:
        db.executemany(
            "INSERT INTO requests (request_id, user_id, method, endpoint, status, latency_ms, created_at) "
            "VALUES (?, ?, 'POST', '/v1/chat/completions', ?, ?, ?)",
            [(f"r{i}", user, status, latency, old_iso(now - timedelta(minutes=age)))
             for i, (user, age, status, latency) in enumerate(ROWS)])
        # The bug the migration mends: ISO text compares after datetime() text of the same day.
        old = [{"user_id": u, "requests": n} for u, n in db.execute(queries["per-user activity, last 5 minutes"])]
        assert old != EXPECTED["per-user activity, last 5 minutes"] or now.hour == 0
    # One wrangler call: the migration converts the rows, then each query runs as the manual wrote it.
    statements = [(MIGRATIONS_DIR / "0002_created_at_sqlite_format.sql").read_text(), *queries.values()]
    output = wrangler.run(["d1", "execute", D1_DATABASE_NAME, *wrangler.local_storage(tmp_path), "--json",
                           f"--command={chr(10).join(statements)}"])
    results = json.loads(output[output.index("["):])
    answers = [result["results"] for result in results[-len(queries):]]
    assert dict(zip(queries, answers, strict=True)) == EXPECTED
