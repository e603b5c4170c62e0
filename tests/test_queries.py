"""queries.py's promise: values reach SQL only as bound ``?`` parameters, except in the places its
docstring names, which validate what they write in. This test finds every place that formats SQL
text and fails on any other."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from gateway_ops import queries

SQL = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|WHERE|AND|VALUES)\b")
#: Where queries.py builds SQL text from something other than its own column-list constants.
DOCUMENTED = {
    "id_times": "only `?` marks, one per id",
    "_range_predicate": "integers and created_at timestamps, validated",
    "count_range_statement": "the validated predicate",
    "delete_range_statement": "the validated predicate",
}


def formatting_sites(source: str) -> set[str]:
    """Functions (or "<module>") with an f-string or ``.format()`` that builds SQL from a value."""
    sites: set[str] = set()

    def visit(node: ast.AST, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            inside = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else where
            if isinstance(child, ast.JoinedStr):
                text = "".join(str(part.value) for part in child.values if isinstance(part, ast.Constant))
                values = [part.value for part in child.values if isinstance(part, ast.FormattedValue)]
                only_constants = all(isinstance(v, ast.Name) and v.id.isupper() for v in values)
                if SQL.search(text) and not (where == "<module>" and only_constants):
                    sites.add(where)
            elif (isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute) and child.func.attr == "format"
                  and isinstance(child.func.value, ast.Name) and child.func.value.id.isupper()):
                sites.add(where)
            visit(child, inside)

    visit(ast.parse(source), "<module>")
    return sites


def test_sql_is_formatted_only_where_the_docstring_says():
    assert formatting_sites(Path(queries.__file__).read_text()) == set(DOCUMENTED)


def test_the_check_finds_a_value_formatted_into_sql():
    source = 'def by_user(log, user):\n    return log.query(f"SELECT * FROM requests WHERE user_id = \'{user}\'")\n'
    assert formatting_sites(source) == {"by_user"}
    assert formatting_sites('X = "SELECT {cols} FROM t"\ndef f(c):\n    return X.format(cols=c)\n') == {"f"}
    assert formatting_sites('def f(v):\n    raise ValueError(f"not a timestamp: {v!r}")\n') == set()


def test_the_migration_record_is_formatted_only_by_the_migrator():
    package = Path(queries.__file__).parent
    users = {path.relative_to(package).as_posix() for path in package.rglob("*.py")
             if "D1_MIGRATIONS_RECORD" in path.read_text()}
    assert users == {"queries.py", "cloudflare/migrator.py"}


@pytest.mark.parametrize("bad", ["2026-11-28 09:00:00.000' OR 1=1 --", "yesterday", "2026-11-28 09:00:00",
                                 "2026-11-28T09:00:00.000Z"])
def test_range_statements_refuse_anything_but_timestamps(bad):
    with pytest.raises(ValueError, match="not a created_at timestamp"):
        queries.delete_range_statement(1, 2, bad, "2026-11-28 10:00:00.000")
