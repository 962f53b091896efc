"""Many rows in one statement: a group's rows for a table as one JSON parameter.

SQLAlchemy's executemany over psycopg sends one statement per row (pipelined),
each row's values converted one by one in Python; for a group commit of eight
files that was most of the ~1.2 ms of CPU per file the catalog writes cost the
filer (bench/record_bench.py). Here a table's rows travel as one JSON array,
encoded by the json module's C encoder, and the server unpacks them with
`jsonb_to_recordset` into the table's own column types: one parameter, one
statement, whatever the group's size.

Rows keep their order (each carries its index, `n`), so ids are handed out in
the order the files were placed. Values must be JSON's: numbers, strings,
booleans, None, lists and dicts (cleaned by store.clean_text/clean_json), and
datetimes, sent as ISO 8601 with their offset.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.dialects import postgresql

from alice.daemon.catalog.models import Base

_DIALECT = postgresql.dialect()


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def encode(rows: Iterable[dict[str, Any]]) -> str:
    """The rows as the JSON array `insert` takes, each with its index `n`; ValueError for a
    non-finite float (PostgreSQL's JSON has no NaN: clean the value first)."""
    return json.dumps([{**row, "n": n} for n, row in enumerate(rows)], default=_plain, allow_nan=False,
                      separators=(",", ":"))


def insert(table: str, columns: Iterable[str], tail: str = "") -> TextClause:
    """INSERT INTO `table` (columns) the rows of the JSON parameter :rows (encode()), in
    order; `tail`: the ON CONFLICT and RETURNING clauses. Built once per arguments."""
    return _insert(table, tuple(columns), tail)


@cache
def _insert(table: str, columns: tuple[str, ...], tail: str) -> TextClause:
    t = Base.metadata.tables[table]
    spec = ", ".join(f'"{c}" {t.c[c].type.compile(dialect=_DIALECT)}' for c in columns)
    names = ", ".join(f'"{c}"' for c in columns)
    return text(f"INSERT INTO {table} ({names}) "
                f"SELECT {names} FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r({spec}, n int) "
                f"ORDER BY n {tail}")
