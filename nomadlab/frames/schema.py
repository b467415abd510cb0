"""Frame schemas: every frame's columns, dtypes and meaning in one registry.

A frame module declares its :class:`Schema` once, collects plain Python lists per column
straight from the wire dicts, and calls :meth:`Schema.build`, which converts each list to its
typed column (and hides Nomad's mix of time encodings). The same schema gives the empty frame,
validates results in tests, and generates ``docs/frames.md``.

Dtypes (``Column.dtype``):

===============  ===========================================================================
``string``       pandas ``string`` (IDs, names, free text); ``None`` → ``<NA>``
``category``     ``Column.categories`` is Nomad's full value set, so empty categories show
``Int64``        nullable integer (counts, indexes, sizes)
``float64``      float; ``None`` → NaN
``boolean``      nullable boolean
``time``         ``datetime64[ns, UTC]`` from ``Column.source``: ``ns`` (int Unix ns),
                 ``s`` (int Unix seconds) or ``rfc3339``; Nomad's zero time and 0 → NaT
``duration``     ``timedelta64[ns]`` from int nanoseconds (Go ``time.Duration``)
``object``       lists/dicts kept as Python objects (rarely used)
===============  ===========================================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np
import pandas as pd

from ._values import as_bool, as_float, as_int, as_str

__all__ = ["Column", "Schema", "REGISTRY", "register", "ZERO_TIME", "DTYPES"]

ZERO_TIME = "0001-01-01T00:00:00Z"
Dtype = Literal["string", "category", "Int64", "float64", "boolean", "time", "duration", "object"]
DTYPES: tuple[str, ...] = ("string", "category", "Int64", "float64", "boolean", "time", "duration", "object")
TimeSource = Literal["ns", "s", "rfc3339"]
_UTC_NS = "datetime64[ns, UTC]"
_NAT = int(np.iinfo("int64").min)
_NONE = type(None)
# The Python types a column's wire values may have (JSON numbers decode to int or float).
_WIRE_TYPES: dict[str, frozenset[type]] = {
    "Int64": frozenset({int, _NONE}),
    "duration": frozenset({int, _NONE}),
    "time-ns": frozenset({int, _NONE}),
    "time-s": frozenset({int, _NONE}),
    "float64": frozenset({float, int, _NONE}),
    "boolean": frozenset({bool, _NONE}),
}


@dataclass(frozen=True)
class Column:
    """One column: its name, dtype, meaning, and how its wire value is encoded."""

    name: str
    dtype: Dtype
    description: str
    categories: tuple[str, ...] | None = None
    source: TimeSource | None = None
    unit: str | None = None

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(f"column {self.name!r}: unknown dtype {self.dtype!r}")
        if self.dtype == "category" and not self.categories:
            raise ValueError(f"column {self.name!r}: a category column needs its value set")
        if self.dtype == "time" and self.source is None:
            raise ValueError(f"column {self.name!r}: a time column needs its wire encoding")

    @cached_property
    def _category_dtype(self) -> pd.CategoricalDtype:
        return pd.CategoricalDtype(list(self.categories or ()))

    @property
    def pandas_dtype(self) -> Any:
        if self.dtype == "time":
            return _UTC_NS
        if self.dtype == "duration":
            return "timedelta64[ns]"
        if self.dtype == "category":
            return pd.CategoricalDtype(list(self.categories or ()))
        return self.dtype

    def convert_guarded(self, values: Sequence[Any]) -> Any:
        """:meth:`convert`, where a value of the wrong type (malformed wire data) becomes
        missing rather than failing the column. Well-formed lists take the fast path and pay
        nothing for the guard; only a list that fails is checked value by value."""
        try:
            return self.convert(values)
        except (TypeError, ValueError, OverflowError):
            if not isinstance(values, list):
                raise
            return self.convert(_guarded(self, values))

    def convert(self, values: Sequence[Any]) -> Any:
        """A typed array from the column's wire values (a list, possibly with ``None``).

        An array that already has the column's dtype (say, a key column gathered with
        ``take`` from another frame's typed column) is copied as it is. A list holding a value
        of another type than the column's wire type (a string among integers, a boolean among
        numbers) raises ``TypeError``, so what becomes of each value never depends on the other
        values of the list (frames built page by page equal frames built at once).
        """
        if (isinstance(values, (pd.api.extensions.ExtensionArray, np.ndarray)) and self.dtype != "object"
                and values.dtype == self.pandas_dtype):
            return values.copy()
        wire = _WIRE_TYPES.get(self.dtype if self.dtype != "time" else f"time-{self.source}")
        if wire is not None and isinstance(values, list) and not set(map(type, values)) <= wire:
            raise TypeError(f"column {self.name!r}: values of other types than {sorted(t.__name__ for t in wire)}")
        if self.dtype == "string":
            return _strings(values)
        if self.dtype == "Int64":
            return _integers(values)
        if self.dtype == "float64":
            return np.array([np.nan if v is None else v for v in values], dtype="float64")
        if self.dtype == "boolean":
            return _booleans(values)
        if self.dtype == "category":
            return _categorical(values, list(self.categories or ()), self._category_dtype)
        if self.dtype == "time":
            return _times(values, self.source)
        if self.dtype == "duration":
            data, missing = _int64_and_missing(values, _NAT)
            return pd.array(data.view("timedelta64[ns]"), dtype="timedelta64[ns]")
        return _object_array(values)


_GUARDS: dict[str, Any] = {"Int64": as_int, "duration": as_int, "float64": as_float, "boolean": as_bool}


def _guarded(column: Column, values: list[Any]) -> list[Any]:
    """``values`` with every value of the wrong type replaced by None."""
    if column.dtype == "time":
        if column.source == "rfc3339":
            return [as_str(v) for v in values]
        return [as_int(v) for v in values]
    if column.dtype == "category":
        return [v if isinstance(v, str) else None for v in values]
    guard = _GUARDS.get(column.dtype)
    return values if guard is None else [guard(v) for v in values]


def _object_array(values: Sequence[Any]) -> np.ndarray:
    """A 1-D object array holding each value as it is: ``fromiter`` keeps a list among them
    one item, where ``np.array`` or a slice assignment would broadcast equal-length lists
    into a 2-D shape."""
    return np.fromiter(values, dtype=object, count=len(values))


def _strings(values: Sequence[Any]) -> Any:
    """pandas ``string``: None becomes ``<NA>``, and any other non-string goes through ``str()``
    (as ``pd.array(values, dtype="string")`` does, without its extra copies)."""
    fast = _arrow_strings(values) if isinstance(values, list) else None
    if fast is not None:
        return fast
    dtype = pd.StringDtype()
    return dtype.construct_array_type()._from_sequence(_object_array(values), dtype=dtype, copy=False)


def _arrow_strings(values: list[Any], *, empty_is_na: bool = False) -> Any:
    """The pandas ``string`` array of a list of strings and Nones, built by pyarrow in one C
    pass (pandas' own path checks every value in Python first), or None when the list holds
    anything else or pandas keeps its strings elsewhere than in Arrow (the caller then takes
    the general path). With ``empty_is_na``, "" becomes ``<NA>`` too (Go's zero string)."""
    dtype = pd.StringDtype()
    if dtype.storage != "pyarrow":
        return None
    import pyarrow as pa

    try:
        arr = pa.array(values, type=pa.large_string())
    except (pa.ArrowException, UnicodeError, TypeError, ValueError, OverflowError):
        return None
    if empty_is_na and len(arr):
        import pyarrow.compute as pc

        empty = pc.equal(arr, "")
        if pc.any(empty).as_py():
            arr = pc.if_else(empty, pa.scalar(None, pa.large_string()), arr)
    return dtype.construct_array_type()(pa.chunked_array([arr], type=pa.large_string()))


def _int64_and_missing(values: Sequence[Any], fill: int) -> tuple[np.ndarray, np.ndarray]:
    """int64 data (``fill`` where a value is missing) and the missing mask, from integers and
    Nones (an array may also mark missing values with NaN or ``<NA>``). An integer int64
    cannot hold raises ``OverflowError`` (the caller's guard takes over)."""
    objs = _object_array(values)
    missing = pd.isna(objs)
    if missing.any():
        objs[missing] = fill
    return objs.astype(np.int64), missing


def _integers(values: Sequence[Any]) -> Any:
    """Nullable ``Int64`` from integers and Nones."""
    if not isinstance(values, list):
        with np.errstate(invalid="ignore", over="ignore"):
            return pd.array(values, dtype="Int64")
    data, missing = _int64_and_missing(values, 0)
    return pd.arrays.IntegerArray(data, missing)


def _booleans(values: Sequence[Any]) -> Any:
    """Nullable ``boolean`` from booleans and Nones."""
    if not isinstance(values, list):
        return pd.array(values, dtype="boolean")
    objs = _object_array(values)
    missing = pd.isna(objs)
    if missing.any():
        objs[missing] = False
    return pd.arrays.BooleanArray(objs.astype(bool), missing)


def _categorical(values: Sequence[Any], cats: list[Any], dtype: pd.CategoricalDtype | None = None) -> pd.Categorical:
    """Strings outside ``cats`` become extra categories after them, sorted; None and any value
    that is not a string (malformed wire data) are missing.

    Codes come from one C-level dict lookup per value (``pd.Categorical(values, categories=...)``
    hashes the values in a slower general path); only when some value is not a known category
    are the values looked at one by one.
    """
    code: dict[Any, int] = {c: i for i, c in enumerate(cats)}
    code[None] = -1
    n = len(values)
    try:
        codes = np.fromiter(map(code.__getitem__, values), dtype=np.int32, count=n)
        return pd.Categorical.from_codes(codes, dtype=dtype or pd.CategoricalDtype(cats), validate=False)
    except (KeyError, TypeError):   # a value outside the known set (TypeError: unhashable)
        pass
    extra = sorted({v for v in values if v.__class__ is str and v not in code})
    every = cats + extra
    code.update((c, i) for i, c in enumerate(every))
    codes = np.fromiter((code[v] if v.__class__ is str else -1 for v in values), dtype=np.int32, count=n)
    return pd.Categorical.from_codes(codes, categories=every)


def _times(values: Sequence[Any], source: TimeSource | None) -> Any:
    nat = np.iinfo("int64").min
    if source in ("ns", "s"):
        scale = 1 if source == "ns" else 1_000_000_000
        try:   # every value an integer: converted in C, Go's zero (0) made NaT after
            arr = np.array(values, dtype=np.int64)
            if arr.shape != (len(values),):   # lists among the values: not times
                raise TypeError("not one integer per value")
            if scale != 1:
                limit = np.iinfo("int64").max // scale
                if arr.size and (arr.max() > limit or arr.min() < -limit):
                    raise OverflowError("seconds beyond what nanoseconds can hold")
                arr *= scale
            arr[arr == 0] = nat
        except (TypeError, ValueError, OverflowError):
            arr = np.fromiter((nat if not v else int(v) * scale for v in values), dtype="int64",
                              count=len(values))
        return pd.DatetimeIndex(arr.view("datetime64[ns]"), tz="UTC").array
    # RFC 3339 text only: Go's zero time and anything that is not a string are missing
    cleaned = [v if v.__class__ is str and v and v != ZERO_TIME else None for v in values]
    if not any(v is not None for v in cleaned):
        return pd.DatetimeIndex(np.full(len(values), nat, dtype="int64").view("datetime64[ns]"), tz="UTC").array
    try:
        idx = pd.to_datetime(pd.Series(cleaned, dtype=object), utc=True, format="ISO8601", errors="coerce")
        return idx.astype(_UTC_NS).array
    except (OverflowError, pd.errors.OutOfBoundsDatetime):
        # A time nanoseconds cannot hold (before 1677, after 2262: a year-9999 "never") is NaT
        # rather than the end of the whole frame; only then is the slower per-value path taken.
        return pd.DatetimeIndex([_one_time(v) for v in cleaned], tz="UTC").as_unit("ns").array


def _one_time(value: Any) -> Any:
    if value is None:
        return pd.NaT
    try:
        ts = pd.Timestamp(value)
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
        return ts.as_unit("ns")
    except (ValueError, TypeError, OverflowError, pd.errors.OutOfBoundsDatetime):
        return pd.NaT


@dataclass(frozen=True)
class Schema:
    """A frame's fixed, documented shape."""

    name: str
    grain: str
    """What one row is, e.g. "one row per allocation × task"."""
    endpoint: str
    """Where the objects come from (the Nomad endpoints)."""
    columns: tuple[Column, ...]
    description: str = ""
    keys: tuple[str, ...] = field(default=())
    """The columns that identify a row."""

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if len(names) != len(set(names)):
            raise ValueError(f"schema {self.name!r} repeats a column name")
        missing = [k for k in self.keys if k not in names]
        if missing:
            raise ValueError(f"schema {self.name!r}: key columns {missing} are not columns")

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"frame {self.name!r} has no column {name!r}")

    def empty(self) -> pd.DataFrame:
        """A frame with no rows and every column typed."""
        return self.build({c.name: [] for c in self.columns})

    def build(self, data: Mapping[str, Sequence[Any]]) -> pd.DataFrame:
        """A typed frame from plain per-column lists (every schema column must be given)."""
        return self.frame(self.arrays(data))

    def arrays(self, data: Mapping[str, Sequence[Any]]) -> dict[str, Any]:
        """Every column's typed array from plain per-column lists, not yet a frame: a frame
        read in pieces (page by page, say) keeps these per piece and joins them once with
        :meth:`join`, skipping a frame per piece."""
        missing = [c.name for c in self.columns if c.name not in data]
        if missing:
            raise KeyError(f"frame {self.name!r}: no values given for {missing}")
        lengths = {len(data[c.name]) for c in self.columns}
        if len(lengths) > 1:
            raise ValueError(f"frame {self.name!r}: columns of different lengths {sorted(lengths)}")
        return {c.name: c.convert_guarded(data[c.name]) for c in self.columns}

    def frame(self, arrays: Mapping[str, Any]) -> pd.DataFrame:
        """The frame of typed arrays (from :meth:`arrays` or :meth:`join`), which it owns."""
        frame = pd.DataFrame({c.name: arrays[c.name] for c in self.columns}, copy=False)
        frame.attrs["frame"] = self.name
        return frame

    def join(self, pieces: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
        """One frame of the typed arrays of several pieces (:meth:`arrays`), in order, as if
        built at once: one copy per column, and a category column whose pieces met different
        values outside the known set gets the union of them (known values first, then the
        others sorted), so it stays categorical."""
        if not pieces:
            return self.empty()
        if len(pieces) == 1:
            return self.frame(pieces[0])
        return self.frame({c.name: _join(c, [p[c.name] for p in pieces]) for c in self.columns})

    def concat(self, frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
        """Frames of this schema (built page by page, say) as one, as if built at once (see
        :meth:`join`). Frames that left the schema (an added column, a column cast to another
        dtype) are joined by ``pd.concat``, which keeps what they hold; their categories are
        still united."""
        if len(frames) == 1:
            return frames[0]
        if all(self._exact(f) for f in frames):
            plain = ("object", "float64")    # numpy-backed: their arrays are plain ndarrays
            return self.join([{c.name: f[c.name].to_numpy() if c.dtype in plain else f[c.name].array
                               for c in self.columns} for f in frames])
        pieces = list(frames)
        for c in self.columns:
            if c.dtype != "category" or not all(isinstance(f[c.name].dtype, pd.CategoricalDtype)
                                                for f in pieces if c.name in f.columns):
                continue
            every = _united([f[c.name].array for f in pieces if c.name in f.columns], c)
            pieces = [f if c.name not in f.columns or list(f[c.name].cat.categories) == every
                      else f.assign(**{c.name: f[c.name].cat.set_categories(every)}) for f in pieces]
        frame = pd.concat(pieces, ignore_index=True)
        frame.attrs["frame"] = self.name
        return frame

    def _exact(self, frame: pd.DataFrame) -> bool:
        """Whether ``frame`` has exactly this schema's columns, each of the dtype it builds."""
        if list(frame.columns) != self.names:
            return False
        for c in self.columns:
            got = frame[c.name].dtype
            if c.dtype == "category":
                if not isinstance(got, pd.CategoricalDtype):
                    return False
            elif c.dtype == "string":
                if got != pd.StringDtype():
                    return False
            elif str(got) != str(c.pandas_dtype):
                return False
        return True

    def validate(self, frame: pd.DataFrame) -> None:
        """Raise ``AssertionError`` naming every column whose presence or dtype is wrong."""
        problems = []
        if list(frame.columns) != self.names:
            problems.append(f"columns {list(frame.columns)} != {self.names}")
        for c in self.columns:
            if c.name not in frame.columns:
                continue
            got = frame[c.name].dtype
            want = c.pandas_dtype
            if c.dtype == "category":
                wanted = list(c.categories or ())
                ok = isinstance(got, pd.CategoricalDtype) and list(got.categories)[: len(wanted)] == wanted
            elif c.dtype == "object":
                ok = got == np.dtype(object)
            else:
                ok = str(got) == str(want) or (c.dtype == "string" and isinstance(got, pd.StringDtype))
            if not ok:
                problems.append(f"{c.name}: dtype {got} != {want}")
        if problems:
            raise AssertionError(f"frame {self.name!r} does not match its schema: " + "; ".join(problems))


def _united(arrays: list[Any], column: Column) -> list[Any]:
    """The categories of several categorical arrays of ``column``: the known ones first, then
    every other value met, sorted."""
    known = list(column.categories or ())
    seen = {tuple(a.categories) for a in arrays}
    return known + sorted({v for cats in seen for v in cats if v not in set(known)})


def _join(column: Column, arrays: list[Any]) -> Any:
    """The arrays of one column, end to end, in one new array."""
    if column.dtype == "category" and len({tuple(a.categories) for a in arrays}) > 1:
        every = _united(arrays, column)
        arrays = [a if list(a.categories) == every else a.set_categories(every) for a in arrays]
    first = arrays[0]
    if isinstance(first, np.ndarray):
        return np.concatenate(arrays)
    if column.dtype in ("time", "duration"):   # one unit for all
        arrays = [a.as_unit("ns") for a in arrays]
    return type(first)._concat_same_type(arrays)


REGISTRY: dict[str, Schema] = {}


def register(s: Schema) -> Schema:
    """Add a schema to :data:`REGISTRY` (each frame module registers its own at import)."""
    if s.name in REGISTRY and REGISTRY[s.name] != s:
        raise ValueError(f"a different schema named {s.name!r} is already registered")
    REGISTRY[s.name] = s
    return s
