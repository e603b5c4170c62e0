"""CSV files that are safe to open in a spreadsheet, and that gateway_ops still reads back exactly.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in some, a TAB or CR
first) as a formula. Much of what the access log holds comes from clients (``model`` is whatever a
request body said, user ids may start with ``-`` or ``@``), and one attendee key in 64 starts with ``-``
(base64url), so every CSV gateway_ops writes goes through :func:`to_csv`:

* a text cell that starts with one of those characters, or with ``'``, gets one ``'`` in front
  (OWASP's advice: the spreadsheet shows it as text, runs nothing);
* numbers are numbers (``-3`` stays ``-3``), and column names are treated like cells;
* lines end with CRLF (RFC 4180), so a value holding a bare CR or LF is quoted: it cannot start a
  row of its own (whose first cell would escape the rule above) in a reader that splits on CR.

The rule is reversible — strip one leading ``'`` from a text cell — and :func:`read_csv` /
:func:`read_csv_rows` do exactly that, so gateway_ops' own readers (issued keys, ``oauth missing``)
see the original values. For a byte-exact machine copy use ``query --format json`` or the
Parquet file of an archive.
"""
from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

import pandas as pd

from .private_files import write_private_with

#: First characters a spreadsheet may read as the start of a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: Prefixed to neutralise a cell; a cell starting with it is prefixed too, so reading back is exact.
ESCAPE = "'"
#: RFC 4180's line end: Python's csv then quotes every value that holds a CR or an LF.
LINE_END = "\r\n"


def neutralise(value: Any) -> Any:
    """``value`` safe for a spreadsheet: text starting with a formula character or ``'`` gets a ``'``."""
    if isinstance(value, str) and value.startswith((*FORMULA_STARTS, ESCAPE)):
        return ESCAPE + value
    return value


def restore(value: Any) -> Any:
    """The original of a :func:`neutralise` d cell."""
    if isinstance(value, str) and value.startswith(ESCAPE):
        return value[1:]
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every text cell and column name neutralised (numbers untouched)."""
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column].dtype):
            safe[column] = safe[column].map(neutralise, na_action="ignore")
    safe.columns = [neutralise(str(name)) for name in safe.columns]
    return safe


def to_csv(frame: pd.DataFrame, path: str | Path | None = None, *, private: bool = False) -> str | None:
    """Writes ``frame`` (without its index) as spreadsheet-safe CSV to ``path``, owner-only when
    ``private``; without a path, returns the text."""
    safe = safe_frame(frame)
    if path is None:
        return safe.to_csv(index=False, lineterminator=LINE_END)
    if private:
        write_private_with(path, lambda handle: safe.to_csv(handle, index=False, lineterminator=LINE_END), newline="")
    else:
        safe.to_csv(path, index=False, lineterminator=LINE_END)
    return None


def write_rows(path: str | Path, header: Iterable[str], rows: Iterable[Iterable[Any]]) -> Path:
    """Spreadsheet-safe CSV from plain rows (for files written without pandas)."""
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as handle:
        _write_rows(handle, header, rows)
    return path


def _write_rows(handle: IO[str], header: Iterable[str], rows: Iterable[Iterable[Any]]) -> None:
    writer = csv.writer(handle)
    writer.writerow([neutralise(name) for name in header])
    writer.writerows([neutralise(cell) for cell in row] for row in rows)


def read_csv(path: str | Path, **options: Any) -> pd.DataFrame:
    """A CSV written by :func:`to_csv`, with its values restored (``options`` go to ``pd.read_csv``)."""
    frame = pd.read_csv(path, **options)
    frame.columns = [restore(name) for name in frame.columns]
    for column in frame.columns:
        if frame[column].dtype == object or pd.api.types.is_string_dtype(frame[column].dtype):
            frame[column] = frame[column].map(restore, na_action="ignore")
    return frame


def read_csv_rows(path: str | Path) -> list[dict[str, str]]:
    """The rows of a CSV written by :func:`to_csv` or :func:`write_rows`, as restored text."""
    with Path(path).open(newline="", encoding="utf-8") as handle:
        return [_restored(row) for row in csv.DictReader(handle)]


def _restored(row: Mapping[str, str]) -> dict[str, str]:
    return {restore(name): restore(value) for name, value in row.items()}
