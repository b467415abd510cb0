"""Request bodies decoded as Go's ``encoding/json`` decodes them into Nomad's request structs.

Nomad's HTTP handlers decode a body with ``json.NewDecoder(req.Body).Decode(&args)`` and answer
a failure as 400 with the decoder's own text (``command/agent/http.go`` ``decodeBody``, then
``CodedError(400, err.Error())`` in each handler). This module reproduces those texts:

* syntax, checked first (the decoder scans the whole value before storing it):
  ``invalid character 'x' looking for beginning of value``, ``unexpected EOF`` (truncated),
  ``EOF`` (blank), ``exceeded max depth`` (Go: more than 10 000 levels; here
  :data:`MAX_DEPTH`). Only the first value is
  read: bytes after it are ignored, as a ``json.Decoder`` leaves them unread;
* types, against a :class:`Struct` schema of the Go request type:
  ``json: cannot unmarshal string into Go struct field TaskGroup.Job.TaskGroups.Count of type
  int`` (the innermost struct's name, then the field path from the root), with
  ``number <literal>`` for a number out of the field's range.

Keys match struct fields case-insensitively; ``null`` is accepted everywhere. The schemas list
the fields the simulator reads; other keys pass through unchecked, with numbers kept as
``int`` within int64 and ``float`` beyond (Go would store them as ``float64`` in an
``interface{}``), so no value the state cannot encode gets in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["GoJSONError", "Struct", "Slice", "Map", "decode", "MAX_DEPTH"]

MAX_DEPTH = 200
"""Nesting allowed before ``exceeded max depth``: Go allows 10 000 levels; the simulator stops at
200, far beyond any Nomad request, to stay within Python's recursion limit."""
_WS = b" \t\r\n"


class GoJSONError(ValueError):
    """A body Go's decoder refuses; ``str(error)`` is the decoder's message."""


@dataclass(frozen=True)
class Struct:
    """A Go struct: its type name as Go prints it (``api.Job``) and its fields' types."""

    go: str
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.go.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class Slice:
    elem: Any
    go: str


@dataclass(frozen=True)
class Map:
    value: Any
    go: str


# scalar kinds: Go type name → (kind, bounds)
_INTS = {
    "int": (-(2**63), 2**63 - 1), "int64": (-(2**63), 2**63 - 1), "time.Duration": (-(2**63), 2**63 - 1),
    "int32": (-(2**31), 2**31 - 1), "int8": (-128, 127), "uint64": (0, 2**64 - 1), "uint32": (0, 2**32 - 1),
    "uint8": (0, 255), "uint": (0, 2**64 - 1), "uint16": (0, 2**16 - 1), "int16": (-(2**15), 2**15 - 1),
}
_FLOATS = ("float64", "float32")


# -- syntax ------------------------------------------------------------------------------------
def _quote_char(c: int) -> str:
    if c == 0x27:
        return "'\\''"
    if c == 0x22:
        return "'\"'"
    escapes = {7: "\\a", 8: "\\b", 12: "\\f", 10: "\\n", 13: "\\r", 9: "\\t", 11: "\\v", 0x5C: "\\\\"}
    if c in escapes:
        return f"'{escapes[c]}'"
    if c < 0x20 or c == 0x7F:
        return f"'\\x{c:02x}'"
    if 0x80 <= c < 0xA0:
        return f"'\\u{c:04x}'"
    return f"'{chr(c)}'"


class _Scanner:
    """Go's ``encoding/json`` scanner, enough to find the first value's end or its first error."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def fail(self, context: str) -> GoJSONError:
        if self.pos >= len(self.data):
            return GoJSONError("unexpected EOF")
        return GoJSONError(f"invalid character {_quote_char(self.data[self.pos])} {context}")

    def peek(self) -> int:
        return self.data[self.pos] if self.pos < len(self.data) else -1

    def skip_ws(self) -> None:
        while self.pos < len(self.data) and self.data[self.pos] in _WS:
            self.pos += 1

    def value(self, depth: int) -> None:
        self.skip_ws()
        c = self.peek()
        if c == 0x7B:  # {
            self.obj(depth + 1)
        elif c == 0x5B:  # [
            self.arr(depth + 1)
        elif c == 0x22:
            self.string("in string literal")
        elif c == 0x2D or 0x30 <= c <= 0x39:
            self.number()
        elif c in (0x74, 0x66, 0x6E):  # t f n
            word = {0x74: b"true", 0x66: b"false", 0x6E: b"null"}[c]
            self.pos += 1
            for expected in word[1:]:
                if self.peek() != expected:
                    raise self.fail(f"in literal {word.decode()} (expecting {_quote_char(expected)})")
                self.pos += 1
        else:
            raise self.fail("looking for beginning of value")

    def _depth(self, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise GoJSONError("exceeded max depth")

    def obj(self, depth: int) -> None:
        self._depth(depth)
        self.pos += 1
        self.skip_ws()
        if self.peek() == 0x7D:
            self.pos += 1
            return
        while True:
            self.skip_ws()
            if self.peek() != 0x22:
                raise self.fail("looking for beginning of object key string")
            self.string("in string literal")
            self.skip_ws()
            if self.peek() != 0x3A:
                raise self.fail("after object key")
            self.pos += 1
            self.value(depth)
            self.skip_ws()
            c = self.peek()
            if c == 0x2C:
                self.pos += 1
                continue
            if c == 0x7D:
                self.pos += 1
                return
            raise self.fail("after object key:value pair")

    def arr(self, depth: int) -> None:
        self._depth(depth)
        self.pos += 1
        self.skip_ws()
        if self.peek() == 0x5D:
            self.pos += 1
            return
        while True:
            self.value(depth)
            self.skip_ws()
            c = self.peek()
            if c == 0x2C:
                self.pos += 1
                continue
            if c == 0x5D:
                self.pos += 1
                return
            raise self.fail("after array element")

    def string(self, context: str) -> None:
        self.pos += 1
        while True:
            c = self.peek()
            if c == -1:
                raise self.fail(context)
            if c == 0x22:
                self.pos += 1
                return
            if c < 0x20:
                raise self.fail(context)
            if c == 0x5C:
                self.pos += 1
                e = self.peek()
                if e == 0x75:  # \u
                    self.pos += 1
                    for _ in range(4):
                        h = self.peek()
                        if not (0x30 <= h <= 0x39 or 0x41 <= h <= 0x46 or 0x61 <= h <= 0x66):
                            raise self.fail("in \\u hexadecimal character escape")
                        self.pos += 1
                    continue
                if e == -1 or e not in b'"\\/bfnrt':
                    raise self.fail("in string escape code")
            self.pos += 1

    def number(self) -> None:
        if self.peek() == 0x2D:
            self.pos += 1
            if not 0x30 <= self.peek() <= 0x39:
                raise self.fail("in numeric literal")
        if self.peek() == 0x30:
            self.pos += 1
        else:
            while 0x30 <= self.peek() <= 0x39:
                self.pos += 1
        if self.peek() == 0x2E:
            self.pos += 1
            if not 0x30 <= self.peek() <= 0x39:
                raise self.fail("after decimal point in numeric literal")
            while 0x30 <= self.peek() <= 0x39:
                self.pos += 1
        if self.peek() in (0x65, 0x45):
            self.pos += 1
            if self.peek() in (0x2B, 0x2D):
                self.pos += 1
            if not 0x30 <= self.peek() <= 0x39:
                raise self.fail("in exponent of numeric literal")
            while 0x30 <= self.peek() <= 0x39:
                self.pos += 1


def _first_value(body: bytes) -> bytes:
    """The bytes of the body's first JSON value, or Go's syntax error."""
    scanner = _Scanner(body)
    scanner.skip_ws()
    if scanner.pos >= len(body):
        raise GoJSONError("EOF")
    start = scanner.pos
    scanner.value(0)
    return body[start:scanner.pos]


class _Number(str):
    """A number literal, kept as written until a schema says what Go type it goes into."""


# -- types -------------------------------------------------------------------------------------
def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, _Number):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _loose(value: Any) -> Any:
    """A value with no schema, as ``interface{}`` (numbers: int within int64, else float)."""
    if isinstance(value, _Number):
        return _interface_number(value)
    if isinstance(value, list):
        return [_loose(v) for v in value]
    if isinstance(value, dict):
        return {k: _loose(v) for k, v in value.items()}
    return value


def _interface_number(text: str) -> int | float:
    try:
        n = int(text)
        if -(2**63) <= n < 2**63:
            return n
    except ValueError:
        pass
    f = float(text)
    if f in (float("inf"), float("-inf")):
        raise GoJSONError(f"json: cannot unmarshal number {text} into Go value of type float64")
    return f


@dataclass
class _Ctx:
    struct: str = ""
    path: tuple[str, ...] = ()
    error: GoJSONError | None = None

    def save(self, value_desc: str, go_type: str) -> None:
        if self.error is not None:
            return
        where = f"Go struct field {self.struct}.{'.'.join(self.path)}" if self.struct else "Go value"
        self.error = GoJSONError(f"json: cannot unmarshal {value_desc} into {where} of type {go_type}")


def _type_name(schema: Any) -> str:
    if isinstance(schema, (Struct, Slice, Map)):
        return schema.go
    return str(schema)


def _check(value: Any, schema: Any, ctx: _Ctx) -> Any:
    if value is None or schema == "any":
        return _loose(value)
    kind = _kind(value)
    if isinstance(schema, Struct):
        if kind != "object":
            ctx.save(kind, schema.go)
            return None
        out: dict[str, Any] = {}
        lowered = {name.lower(): name for name in schema.fields}
        for key, item in value.items():
            fname = key if key in schema.fields else lowered.get(key.lower())
            if fname is None:
                out[key] = _loose(item)
                continue
            saved = (ctx.struct, ctx.path)
            ctx.struct, ctx.path = schema.name, (*ctx.path, fname)
            out[key] = _check(item, schema.fields[fname], ctx)
            ctx.struct, ctx.path = saved
        return out
    if isinstance(schema, Slice):
        if kind != "array":
            ctx.save(kind, schema.go)
            return None
        return [_check(item, schema.elem, ctx) for item in value]
    if isinstance(schema, Map):
        if kind != "object":
            ctx.save(kind, schema.go)
            return None
        return {k: _check(v, schema.value, ctx) for k, v in value.items()}
    if schema == "string":
        if kind != "string":
            ctx.save(kind, "string")
            return None
        return value
    if schema == "bool":
        if kind != "bool":
            ctx.save(kind, "bool")
            return None
        return value
    if schema in _INTS:
        if kind != "number":
            ctx.save(kind, schema)
            return None
        low, high = _INTS[schema]
        try:
            n = int(value)
        except ValueError:
            n = None
        if n is None or not low <= n <= high or not value.lstrip("-").isdigit():
            ctx.save(f"number {value}", schema)
            return None
        return n
    if schema in _FLOATS:
        if kind != "number":
            ctx.save(kind, schema)
            return None
        f = float(value)
        if f in (float("inf"), float("-inf")):
            ctx.save(f"number {value}", schema)
            return None
        return f
    raise TypeError(f"unknown schema {schema!r}")


def decode(body: bytes, schema: Any = "any") -> Any:
    """Decode ``body`` into ``schema`` as Go's decoder would, or raise :class:`GoJSONError`.

    An empty body is the caller's case (Nomad answers ``Request body is empty`` before decoding).
    """
    raw = _first_value(body)
    value = json.loads(raw.decode("utf-8", "replace"), parse_int=_Number, parse_float=_Number,
                       parse_constant=_Number)
    ctx = _Ctx()
    out = _check(value, schema, ctx)
    if ctx.error is not None:
        raise ctx.error
    return out
