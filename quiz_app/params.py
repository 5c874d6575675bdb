"""Whole numbers from requests: ASCII digits only, bounded to what the database
stores, so odd input (superscripts, 30-digit ids) is a 4xx, never a 500."""

from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter

#: Ids, positions and versions are 32-bit signed INTEGER columns on PostgreSQL
#: (SQLite stores up to 64 bits, but nothing larger than this is ever issued).
MAX_DB_INT = 2**31 - 1
#: Longer strings cannot be in range; checked before int() does any work.
_MAX_DIGITS = len(str(MAX_DB_INT))


def parse_int(raw: str | None, *, lo: int, hi: int) -> int | None:
    """`raw` as an int in [lo, hi] if it is plain ASCII decimal digits, else None.

    str.isdigit() and int() both accept non-ASCII digits (² or ١), so the
    check is on ASCII explicitly.
    """
    if raw is None or not raw or len(raw) > _MAX_DIGITS:
        return None
    if not (raw.isascii() and raw.isdigit()):
        return None
    value = int(raw)
    return value if lo <= value <= hi else None


def json_int(value: Any, *, lo: int, hi: int) -> int | None:
    """A JSON number that is an integer (not a bool) in [lo, hi], else None."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if lo <= value <= hi else None


class BoundedIntConverter(IntegerConverter):
    """The `<int:...>` converter with ASCII digits and the database's bounds: an
    id no row can have does not match the route (404) instead of overflowing
    the driver."""

    regex = f"[0-9]{{1,{_MAX_DIGITS}}}"

    def __init__(self, map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_DB_INT)
        super().__init__(map, *args, **kwargs)
