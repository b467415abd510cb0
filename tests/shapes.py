"""Shape comparison for contract tests: does an object have the JSON shape of a sample?

Only shape is compared, never values: every key of the sample must be present in the actual
object with the same JSON type ("null", "bool", "number", "string", "array", "object").
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

__all__ = ["assert_same_shape", "shape_mismatches", "json_type"]


def json_type(value: Any) -> str:
    """The JSON type name of a decoded value (int and float are both "number")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _compile(patterns: Collection[str]) -> list[re.Pattern[str]]:
    out = []
    for p in patterns:
        rx = re.escape(p).replace(r"\[\*\]", r"\[\d+\]").replace(r"\*", r"[^.\[]+")
        out.append(re.compile(rx))
    return out


def _matches(path: str, pats: list[re.Pattern[str]]) -> bool:
    return any(p.fullmatch(path) for p in pats)


def shape_mismatches(
    sample: Any,
    actual: Any,
    *,
    path: str = "$",
    ignore: Collection[str] = (),
    maps: Collection[str] = (),
) -> list[str]:
    """Every place where ``actual`` lacks the shape of ``sample``, as ``"<path>: <why>"``.

    Parameters
    ----------
    ignore:
        JSON paths (``*`` matches one key, ``[*]`` any index) whose subtree is not compared.
    maps:
        Paths of objects keyed by IDs or names (``TaskStates``, ``Drivers``, ``Meta``...):
        their keys are not compared; each actual value is compared against the sample
        value under the same key, or else the sample's first value.
    """
    out: list[str] = []
    _walk(sample, actual, path, _compile(ignore), _compile(maps), out)
    return out


def _walk(sample: Any, actual: Any, path: str, ignore: list[re.Pattern[str]],
          maps: list[re.Pattern[str]], out: list[str]) -> None:
    if _matches(path, ignore) or sample is None:
        return
    st, at = json_type(sample), json_type(actual)
    if at == "null":
        out.append(f"{path}: null where the sample has {st}")
        return
    if st != at:
        out.append(f"{path}: {at} where the sample has {st}")
        return
    if st == "array":
        if sample and actual:
            for i, elem in enumerate(sample):
                _walk(elem, actual[0], f"{path}[{i}]", ignore, maps, out)
        return
    if st != "object":
        return
    if _matches(path, maps):
        values = [v for v in sample.values() if v is not None]
        if not values:
            return
        for key, value in actual.items():
            ref = sample.get(key)
            _walk(ref if ref is not None else values[0], value, f"{path}.{key}", ignore, maps,
                  out)
        return
    for key, value in sample.items():
        sub = f"{path}.{key}"
        if key not in actual:
            if not _matches(sub, ignore):
                out.append(f"{sub}: missing")
            continue
        _walk(value, actual[key], sub, ignore, maps, out)


def assert_same_shape(
    sample: Any,
    actual: Any,
    *,
    path: str = "$",
    ignore: Collection[str] = (),
    maps: Collection[str] = (),
) -> None:
    """Assert ``actual`` has the shape of ``sample``; the message lists every mismatch."""
    problems = shape_mismatches(sample, actual, path=path, ignore=ignore, maps=maps)
    if problems:
        raise AssertionError(f"{len(problems)} shape mismatch(es):\n  " + "\n  ".join(problems))
