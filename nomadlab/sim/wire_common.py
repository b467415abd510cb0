"""Shared helpers of the wire-shape layer: Nomad's time encodings and key lookup.

Everything here is pure: no state, no I/O.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import orjson

__all__ = [
    "ZERO_TIME",
    "NS_PER_S",
    "rfc3339",
    "go_duration",
    "ci_get",
    "ci_has",
    "deep",
    "multierror",
]

ZERO_TIME = "0001-01-01T00:00:00Z"
NS_PER_S = 1_000_000_000

_MISSING: Any = object()


def rfc3339(ns: int) -> str:
    """Render Unix nanoseconds as Go's ``time.Time`` JSON (RFC3339Nano, UTC ``Z``).

    Parameters
    ----------
    ns:
        Unix nanoseconds; ``0`` renders as the zero time ``0001-01-01T00:00:00Z``.

    Returns
    -------
    str
        E.g. ``"2017-05-25T23:41:23.240184101Z"``; trailing zeros of the fraction are dropped
        and a whole second has no fraction at all, as Go prints it.
    """
    ns = int(ns)
    if ns == 0:
        return ZERO_TIME
    secs, frac = divmod(ns, NS_PER_S)
    base = datetime.fromtimestamp(secs, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        base += "." + f"{frac:09d}".rstrip("0")
    return base + "Z"


def _fraction(value: int, unit: int) -> str:
    whole, rest = divmod(value, unit)
    if not rest:
        return str(whole)
    digits = len(str(unit)) - 1
    return f"{whole}." + f"{rest:0{digits}d}".rstrip("0")


def go_duration(ns: int) -> str:
    """Render a nanosecond count as Go's ``time.Duration.String()`` (``"5s"``, ``"1m30s"``).

    Parameters
    ----------
    ns:
        The duration in nanoseconds.

    Returns
    -------
    str
        ``"0s"`` for zero, ``ns``/``µs``/``ms`` units below one second, and the
        ``"<h>h<m>m<s>s"`` form from one second up.
    """
    ns = int(ns)
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    u = abs(ns)
    if u < 1_000:
        return f"{sign}{u}ns"
    if u < 1_000_000:
        return f"{sign}{_fraction(u, 1_000)}µs"
    if u < NS_PER_S:
        return f"{sign}{_fraction(u, 1_000_000)}ms"
    secs, frac = divmod(u, NS_PER_S)
    hours, rem = divmod(secs, 3600)
    minutes, seconds = divmod(rem, 60)
    sec = str(seconds) + ("." + f"{frac:09d}".rstrip("0") if frac else "")
    if hours:
        return f"{sign}{hours}h{minutes}m{sec}s"
    if minutes:
        return f"{sign}{minutes}m{sec}s"
    return f"{sign}{sec}s"


def ci_get(src: Any, name: str, default: Any = None) -> Any:
    """Look a key up the way Go's ``encoding/json`` matches struct fields.

    An exact match wins; otherwise the first key equal to ``name`` ignoring case.
    Non-dict sources give ``default``.
    """
    if not isinstance(src, dict):
        return default
    if name in src:
        return src[name]
    low = name.lower()
    for key, value in src.items():
        if isinstance(key, str) and key.lower() == low:
            return value
    return default


def ci_has(src: Any, name: str) -> bool:
    """Whether ``src`` carries ``name`` (case-insensitively) with a non-null value."""
    return ci_get(src, name, _MISSING) not in (_MISSING, None)


def deep(value: Any) -> Any:
    """A deep copy, so that every returned object is freshly built.

    Wire values are plain JSON, and an orjson round trip copies them several times faster
    than ``copy.deepcopy`` (list projections copy task states for every allocation);
    anything orjson cannot encode as is (non-string keys, other types) takes ``deepcopy``;
    tuples come back as lists, which serialize identically.
    """
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (dict, list)):
        try:
            return orjson.loads(orjson.dumps(value))
        except TypeError:
            pass
    return copy.deepcopy(value)


def multierror(errors: list[str]) -> str:
    """Render a list of error texts as hashicorp/go-multierror's default format.

    One error gives ``"1 error occurred:\\n\\t* <e>\\n\\n"``; several give
    ``"<n> errors occurred:\\n\\t* <e1>\\n\\t* <e2>\\n\\n"``. A nested multierror is simply one
    of the texts, so its own trailing blank lines are kept, as in Nomad's output.
    """
    if len(errors) == 1:
        return f"1 error occurred:\n\t* {errors[0]}\n\n"
    points = "\n\t".join(f"* {e}" for e in errors)
    return f"{len(errors)} errors occurred:\n\t{points}\n\n"
