"""Wire-value guards: take a decoded JSON value, return it when it has the expected type, else None.

Frames collect per-column lists straight from the wire dicts; these guards keep a malformed or
unexpected value (a string where a number belongs, a dict where a name belongs) from breaking a
column's typed conversion in :meth:`~nomadlab.frames.schema.Schema.build`. The value simply
becomes missing (``<NA>``/``NaN``/``NaT``), as a field an older Nomad does not send would.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from typing import Any

__all__ = ["as_int", "as_float", "as_str", "as_bool", "as_dict", "as_list", "matches"]

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def as_int(value: Any) -> int | None:
    """An integer (an integral float counts), else None. Booleans are not integers here."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if _INT64_MIN <= value <= _INT64_MAX else None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return as_int(int(value))
    return None


def as_float(value: Any) -> float | None:
    """A number as float, else None (booleans excluded)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return float(value)
    except OverflowError:
        return None


def as_str(value: Any) -> str | None:
    """A string, else None."""
    return value if isinstance(value, str) else None


def as_bool(value: Any) -> bool | None:
    """A boolean, else None."""
    return value if isinstance(value, bool) else None


def as_dict(value: Any) -> dict[str, Any]:
    """A dict, else an empty dict (so that ``.get`` chains never fail)."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """A list, else an empty list."""
    return value if isinstance(value, list) else []


def matches(value: Any, wanted: str | Sequence[str] | None, *, prefix: bool = False) -> bool:
    """Whether ``value`` is one of ``wanted`` (a string or a collection of strings; None = all).

    With ``prefix=True`` a wanted string also matches as a prefix of ``value`` (short IDs, as
    the Nomad CLI accepts them).
    """
    if wanted is None:
        return True
    options: Iterable[Hashable] = (wanted,) if isinstance(wanted, str) else wanted
    if not isinstance(value, str):
        return False
    for w in options:
        if not isinstance(w, str):
            continue
        if value == w or (prefix and w and value.startswith(w)):
            return True
    return False
