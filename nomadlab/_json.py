"""Decoding Nomad's JSON: fast, and, when asked, only the fields a caller reads.

Every body the client decodes goes through :func:`loads` (``msgspec``: the fastest decoder into
plain Python objects we measured on Nomad's large list bodies, and exact for integers of any
size, where ``orjson`` rounds those beyond 64 bits to floats).

A :class:`Fields` tree names the fields a frame reads. :func:`decoder_for` turns it into a
decoder that builds only those: the rest of each object is skipped while parsing, never turned
into Python objects. Objects are plain dicts, where a field the server did not send is absent,
as in the full decode; or, for ``Fields(..., records=True)``, :class:`Record` objects read by
attribute, where every named field is present (``None`` when not sent). Code reading a
projection reads both, as the frames do. When a body does not have the shape the tree expects
(a list where an object should be, say), the decoder falls back to the full decode of that body
(all dicts), so a projection can only ever drop fields, never fail on data the full decode
accepts.

>>> fields = Fields({"ID": None, "Tasks": MapOf(Fields({"State": None}))})
>>> decode = decoder_for(fields, many=True)
>>> decode(b'[{"ID": "a", "Extra": [1, 2], "Tasks": {"web": {"State": "running", "Pid": 7}}}]')
[{'ID': 'a', 'Tasks': {'web': {'State': 'running'}}}]
"""

from __future__ import annotations

import gc
import itertools
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Optional, TypedDict

import msgspec

__all__ = ["JSONDecodeError", "Fields", "ListOf", "MapOf", "Record", "decoder_for", "is_record", "loads"]

JSONDecodeError = msgspec.DecodeError
"""Raised for a body that is not JSON (a subclass of ``ValueError``)."""

# Decoding a large body creates millions of containers; the cyclic collector would scan the
# growing heap again and again (decoding 357 MB took 4x as long with it running).
_PAUSE_GC_ABOVE = 1 << 20

_ANY = msgspec.json.Decoder()


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector (reference counting still frees memory)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def loads(content: bytes | bytearray | memoryview | str) -> Any:
    """Decode a JSON document into plain Python objects."""
    if len(content) < _PAUSE_GC_ABOVE:
        return _ANY.decode(content)
    with gc_paused():
        return _ANY.decode(content)


@dataclass(frozen=True)
class Fields:
    """The fields of an object to keep: name → ``None`` (the value as sent, whatever it is), a
    nested :class:`Fields`, a :class:`MapOf` or a :class:`ListOf`.

    With ``records``, such objects are decoded as :class:`Record` objects (read by attribute,
    every named field present, ``None`` when the server did not send it) rather than dicts:
    cheaper to build, read and free, for the objects a body holds most of.
    """

    fields: Mapping[str, Fields | MapOf | ListOf | None]
    records: bool = False

    def __hash__(self) -> int:
        return hash((tuple(sorted(self.fields.items())), self.records))

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Fields) and dict(self.fields) == dict(other.fields)
                and self.records == other.records)

    def names(self) -> tuple[str, ...]:
        return tuple(self.fields)


@dataclass(frozen=True)
class MapOf:
    """A map (JSON object with arbitrary keys) whose values are objects with these fields."""

    of: Fields


@dataclass(frozen=True)
class ListOf:
    """A list whose items are objects with these fields."""

    of: Fields


class Record(msgspec.Struct, gc=False):
    """Base of the record types ``Fields(records=True)`` decode into: plain attribute holders of
    JSON values, outside the cyclic collector (decoded JSON holds no cycles)."""


def is_record(obj: Any) -> bool:
    """Whether ``obj`` is a decoded :class:`Record`."""
    return isinstance(obj, Record)


_names = itertools.count()
# The projection's types are built at runtime, out of the type checker's sight.
_Optional: Any = Optional
_TypedDict: Any = TypedDict


def _type_of(spec: Fields | MapOf | ListOf | None) -> Any:
    """The msgspec type for ``spec``; every level may also be ``null``."""
    if spec is None:
        return Any
    if isinstance(spec, MapOf):
        return _Optional[dict[str, _type_of(spec.of)]]  # type: ignore[misc]
    if isinstance(spec, ListOf):
        return _Optional[list[_type_of(spec.of)]]  # type: ignore[misc]
    members = [(name, _type_of(sub)) for name, sub in spec.fields.items()]
    if spec.records:
        record = msgspec.defstruct(f"_Record{next(_names)}", [(name, kind, None) for name, kind in members],
                                   bases=(Record,), gc=False)
        return _Optional[record]
    return _Optional[_TypedDict(f"_Projected{next(_names)}", dict(members), total=False)]


@lru_cache(maxsize=64)
def decoder_for(fields: Fields, *, many: bool = True) -> Callable[[bytes], Any]:
    """A decoder keeping only ``fields`` of a JSON object (of each object of a JSON list when
    ``many``), falling back to the full decode for a body of another shape."""
    target = _type_of(fields)
    list_: Any = list
    typed = msgspec.json.Decoder(list_[target] if many else target)

    def decode(content: bytes) -> Any:
        try:
            if len(content) < _PAUSE_GC_ABOVE:
                return typed.decode(content)
            with gc_paused():
                return typed.decode(content)
        except msgspec.ValidationError:
            return loads(content)

    return decode
