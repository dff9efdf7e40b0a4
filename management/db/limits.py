"""Column limits checked before a flush: an integer outside its column's range, a string longer than its column,
a non-finite float are the caller's mistake (CloudStack's 431), not a driver error (SQLite's "Python int too
large", MariaDB's "Out of range value" / "Data too long") that would surface as a 530.

The limits come from the models: Integer is 32-bit, BigInteger 64-bit, SmallInteger 16-bit, String(n) holds n
characters and, on MariaDB, Text holds 65535 bytes.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import BigInteger, Float, Integer, SmallInteger, String, Text, inspect
from sqlalchemy.orm import Session

from management.errors import ParamError

_TEXT_BYTES_MYSQL = 65535


class ColumnValueError(ParamError):
    """A value a column cannot hold; the dispatcher names the command it came from."""


def _bits(column_type: Any) -> int | None:
    if isinstance(column_type, BigInteger):
        return 64
    if isinstance(column_type, SmallInteger):
        return 16
    if isinstance(column_type, Integer):
        return 32
    return None


def check_value(key: str, column_type: Any, value: Any, dialect: str) -> None:
    if value is None:
        return
    if isinstance(value, int) and not isinstance(value, bool):
        bits = _bits(column_type)
        if bits is not None and not -(1 << (bits - 1)) <= value < (1 << (bits - 1)):
            raise ColumnValueError(f"Value {value} is out of range for param: {key}")
    elif isinstance(value, str):
        if isinstance(column_type, Text) and column_type.length is None:
            if dialect == "mysql" and len(value.encode()) > _TEXT_BYTES_MYSQL:
                raise ColumnValueError(f"Value greater than max allowed length {_TEXT_BYTES_MYSQL} for param: {key}")
        elif isinstance(column_type, String) and column_type.length and len(value) > column_type.length:
            raise ColumnValueError(f"Value greater than max allowed length {column_type.length} for param: {key}")
    elif isinstance(value, float) and isinstance(column_type, Float) and not math.isfinite(value):
        raise ColumnValueError(f"Value {value} is out of range for param: {key}")


_CHECKED: dict[Any, dict[str, Any]] = {}


def _checked_columns(mapper: Any) -> dict[str, Any]:
    """{attribute: column type} of the mapper's columns that have a limit to check (built once per model)."""
    cols = _CHECKED.get(mapper)
    if cols is None:
        cols = _CHECKED[mapper] = {
            attr.key: attr.columns[0].type for attr in mapper.column_attrs
            if isinstance(attr.columns[0].type, (Integer, String, Float))}  # Text and the integers derive from these
    return cols


def before_flush(session: Session, _context: Any, _instances: Any) -> None:
    bind = session.get_bind()
    dialect = bind.dialect.name
    new = session.new
    for obj in (*new, *session.dirty):
        state = inspect(obj)
        cols = _checked_columns(state.mapper)
        keys = cols if obj in new else [k for k in state.committed_state if k in cols]
        values = state.dict
        for key in keys:
            value = values.get(key)
            if value is not None:
                check_value(key, cols[key], value, dialect)
