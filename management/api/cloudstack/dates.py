"""DATE parameters as CloudStack reads them (ApiDispatcher): "yyyy-MM-dd", "yyyy-MM-dd HH:mm:ss", or an ISO 8601
date-time with or without zone; anything else is a 431 naming the parameter."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from management.errors import ServerApiParamError

_TZ = re.compile(r"([+-]\d{2})(\d{2})$")


def parse_date(value: str, param: str, command: str, *, end_of_day: bool = False) -> datetime:
    v = value.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
            d = datetime.fromisoformat(v)
            if end_of_day:
                d = d.replace(hour=23, minute=59, second=59)
        else:
            v = v.replace(" ", "T", 1)
            if v.endswith("Z"):
                v = v[:-1] + "+00:00"
            d = datetime.fromisoformat(_TZ.sub(r"\1:\2", v))
    except ValueError:
        raise ServerApiParamError(f"Unable to execute API command {command.lower()} due to invalid value {value} "
                                  f"for parameter {param}") from None
    return d if d.tzinfo is not None else d.replace(tzinfo=UTC)
