"""Nomad's ``?filter=`` expression language (go-bexpr), for the simulated Nomad API.

There is no maintained Python port of go-bexpr, so this module implements the language
itself: a character-level scanner and a recursive-descent parser that follows go-bexpr's
PEG grammar rule for rule, and a compiler that turns the syntax tree into nested closures,
so that one parse serves any number of evaluations.

Grammar (as in go-bexpr's ``grammar/grammar.peg``)
--------------------------------------------------
- ``or`` binds loosest, then ``and``, then ``not``; parentheses group. ``not not X`` is ``X``.
- Match expressions: ``Sel == V``, ``Sel != V``, ``Sel contains V``, ``Sel not contains V``,
  ``Sel matches V``, ``Sel not matches V``, ``Sel is empty``, ``Sel is not empty``,
  ``V in Sel``, ``V not in Sel``.
- Selectors: an identifier (``[a-zA-Z][a-zA-Z0-9_/]*``) followed by ``.Ident``, ``.123``
  or ``["key"]`` parts; or a JSON pointer written as a quoted string (``"/Meta/k"``).
- Values: a selector written bare (``Status == running`` compares with the text
  ``running``, ``Stop == true`` with ``true``), a number (``-1``, ``0.5``), a double-quoted
  string with Go escapes, or a backtick raw string. A quoted value that looks like a JSON
  pointer (``"/a/b"``) is read as a pointer selector, whose text is ``a/b``: this quirk
  of go-bexpr is kept.
- Parse errors carry go-bexpr's (pigeon's) text, for example
  ``1:6 (5): no match found, expected: "!=", ".", "==", "[", [ \\t\\r\\n] or [a-zA-Z0-9_/]``
  or ``1:12 (11): rule "string": Unterminated string literal``.

Evaluation
----------
Objects are Nomad's wire JSON decoded into Python. A ``dict`` stands for a Go struct or a
Go map, and go-bexpr treats the two differently, so the engine decides: the top-level
object is a struct; a ``dict`` (or ``null``) held by a struct field whose name is in
``map_fields`` (default :data:`NOMAD_MAP_FIELDS`: ``Meta``, ``Attributes``, ...) is a map;
every other ``dict`` is a struct. Then, as go-bexpr does:

- The literal is converted to the selected value's type: ``Priority == "50"`` and
  ``Priority == 50`` are the same test; ``Priority == "5x"`` fails with
  ``error getting match value in expression: strconv.ParseInt: ...``. Integers follow Go's
  ``strconv.ParseInt`` with base 0 (``0x10``, ``0o17``, ``1_000``), booleans
  ``strconv.ParseBool`` (``true``, ``T``, ``1``, ...).
- ``==``/``!=`` work on strings, numbers and booleans only; on a list, object or ``null``
  they raise ``unable to find suitable primitive comparison function for matching``.
- ``in``/``contains``: element equality (after conversion) for lists, key membership for
  maps, substring for strings; on a struct or a scalar they raise ``Cannot perform
  in/contains operations on type ...``.
- A path does not reach through lists: ``TaskGroups.Name`` raises ``couldn't convert value
  "Name" to type int``; use ``TaskGroups.0.Name`` or ``TaskGroups["0"].Name``.
- An unknown struct field raises :class:`FilterEvalError`
  (``error finding value in datum: /Foo at part 0: couldn't find struct field with name
  "Foo"``). A missing *map* key as the last part of the path does not raise: the match
  takes the operator's not-present answer (go-bexpr >= 0.1.12, used by Nomad): ``==``,
  ``in``, ``is not empty`` and ``matches`` are false; ``!=``, ``not in``, ``is empty`` and
  ``not matches`` are true. So ``Meta["x"] == "y"`` is simply false on a job without that
  key, while a typo in a struct field is a 400 in Nomad, as here.
- ``matches`` compiles the pattern with RE2 (the ``google-re2`` binding): Go's syntax
  (``\\z``, ``(?<name>``, ``\\Q..\\E``, POSIX classes, ``$`` as end of text; ``\\d``, ``\\w``,
  ``\\s`` are ASCII) and Go's linear-time matching, so no pattern can hang a request.
  go-bexpr compiles the pattern when a match is first evaluated, so an invalid pattern is
  not a syntax error: it raises :class:`FilterEvalError` (``Failed to compile regular
  expression ...``) when an object with a string at that selector is evaluated.

Nesting hundreds of parentheses deep is refused with go-bexpr's expression-limit text
(``max number of expressions parsed``); go-bexpr's own limit is higher.

JSON loses some Go detail, and the engine fills it in as follows: ``null`` stands for a nil
collection (``is empty`` is true, ``in`` is false), every integer is an ``int``, and the
Go type names inside some error texts are approximations.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "NOMAD_MAP_FIELDS",
    "Filter",
    "FilterEvalError",
    "FilterSyntaxError",
    "compile_filter",
]

#: Struct fields of Nomad objects whose value is a Go map (string keys); see the module notes.
NOMAD_MAP_FIELDS: Final[frozenset[str]] = frozenset(
    {
        "Meta",
        "Attributes",
        "Links",
        "Drivers",
        "HostVolumes",
        "HostNetworks",
        "CSIControllerPlugins",
        "CSINodePlugins",
        "Summary",
        "TaskStates",
        "Tasks",
        "TaskGroups",
        "FailedTGAllocs",
        "QueuedAllocations",
        "ClassEligibility",
        "NodesAvailable",
        "ClassFiltered",
        "ConstraintFiltered",
        "ClassExhausted",
        "DimensionExhausted",
        "Scores",
        "Env",
        "Config",
        "Options",
        "Volumes",
        "TaggedAddresses",
        "CanaryMeta",
        "Labels",
        "NodePools",
        "PlannedAllocs",
    }
)


class FilterSyntaxError(ValueError):
    """The filter expression does not parse; ``str()`` is go-bexpr's parse error text."""


class FilterEvalError(ValueError):
    """Evaluating the filter against one object failed; ``str()`` is go-bexpr's text."""


# --------------------------------------------------------------------------------------------
# Go formatting helpers
# --------------------------------------------------------------------------------------------

_GO_ESCAPES: Final[dict[str, str]] = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
    '"': '\\"',
}


def _go_quote(text: str) -> str:
    """Quote ``text`` as Go's ``strconv.Quote`` (and ``%q``) does."""
    out = ['"']
    for ch in text:
        esc = _GO_ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


class _NumError(Exception):
    """A ``strconv.NumError``: ``strconv.<func>: parsing "<num>": <reason>``."""

    def __init__(self, func: str, num: str, reason: str) -> None:
        super().__init__(f"strconv.{func}: parsing {_go_quote(num)}: {reason}")
        self.reason = reason


_SYNTAX: Final = "invalid syntax"
_RANGE: Final = "value out of range"


def _underscore_ok(text: str) -> bool:
    """Go's ``strconv.underscoreOK``: underscores only between digits (or after a prefix)."""
    saw = "^"
    i = 0
    if text[:1] in ("-", "+"):
        text = text[1:]
    hexa = False
    if len(text) >= 2 and text[0] == "0" and text[1].lower() in "box":
        i = 2
        saw = "0"
        hexa = text[1].lower() == "x"
    while i < len(text):
        ch = text[i]
        if "0" <= ch <= "9" or (hexa and "a" <= ch.lower() <= "f"):
            saw = "0"
        elif ch == "_":
            if saw != "0":
                return False
            saw = "_"
        elif saw == "_":
            return False
        else:
            saw = "!"
        i += 1
    return saw != "_"


def _go_parse_uint(text: str, func: str, orig: str) -> int:
    """Go's ``strconv.ParseUint(text, 0, 64)`` (errors name ``func`` and ``orig``)."""
    if text == "":
        raise _NumError(func, orig, _SYNTAX)
    base = 10
    digits = text
    if text[0] == "0":
        if len(text) >= 3 and text[1].lower() in "box":
            base = {"b": 2, "o": 8, "x": 16}[text[1].lower()]
            digits = text[2:]
        else:
            base = 8
            digits = text[1:]
    value = 0
    underscores = False
    for ch in digits:
        if ch == "_":
            underscores = True
            continue
        if "0" <= ch <= "9":
            d = ord(ch) - 48
        elif "a" <= ch.lower() <= "z":
            d = ord(ch.lower()) - 87
        else:
            raise _NumError(func, orig, _SYNTAX)
        if d >= base:
            raise _NumError(func, orig, _SYNTAX)
        value = value * base + d
    if underscores and not _underscore_ok(text):
        raise _NumError(func, orig, _SYNTAX)
    if value >= 1 << 64:
        raise _NumError(func, orig, _RANGE)
    return value


def _go_parse_int(text: str) -> int:
    """Go's ``strconv.ParseInt(text, 0, 64)``."""
    if text == "":
        raise _NumError("ParseInt", text, _SYNTAX)
    neg = text[0] == "-"
    body = text[1:] if text[0] in "+-" else text
    try:
        magnitude = _go_parse_uint(body, "ParseInt", text)
    except _NumError as exc:
        if exc.reason == _RANGE:
            raise _NumError("ParseInt", text, _RANGE) from None
        raise
    if (not neg and magnitude >= 1 << 63) or (neg and magnitude > 1 << 63):
        raise _NumError("ParseInt", text, _RANGE)
    return -magnitude if neg else magnitude


_BOOL_WORDS: Final[dict[str, bool]] = {
    "1": True,
    "t": True,
    "T": True,
    "TRUE": True,
    "true": True,
    "True": True,
    "0": False,
    "f": False,
    "F": False,
    "FALSE": False,
    "false": False,
    "False": False,
}


def _go_parse_bool(text: str) -> bool:
    """Go's ``strconv.ParseBool``."""
    try:
        return _BOOL_WORDS[text]
    except KeyError:
        raise _NumError("ParseBool", text, _SYNTAX) from None


_DEC_FLOAT: Final = re.compile(r"(?:[0-9_]+\.?[0-9_]*|\.[0-9_]+)(?:[eE][+-]?[0-9_]+)?")
_HEX_FLOAT: Final = re.compile(
    r"0[xX](?:[0-9a-fA-F_]+\.?[0-9a-fA-F_]*|\.[0-9a-fA-F_]+)[pP][+-]?[0-9_]+"
)


def _go_parse_float(text: str) -> float:
    """Go's ``strconv.ParseFloat(text, 64)``."""
    body = text[1:] if text[:1] in ("+", "-") else text
    sign = -1.0 if text[:1] == "-" else 1.0
    low = body.lower()
    if low in ("inf", "infinity"):
        return sign * float("inf")
    if text.lower() == "nan":
        return float("nan")
    if _DEC_FLOAT.fullmatch(body):
        if "_" in body and not _underscore_ok(body):
            raise _NumError("ParseFloat", text, _SYNTAX)
        if not any(c.isdigit() for c in body.split("e")[0].split("E")[0]):
            raise _NumError("ParseFloat", text, _SYNTAX)
        value = float(body.replace("_", ""))
    elif _HEX_FLOAT.fullmatch(body):
        if "_" in body and not _underscore_ok(body):
            raise _NumError("ParseFloat", text, _SYNTAX)
        value = float.fromhex(body.replace("_", ""))
    else:
        raise _NumError("ParseFloat", text, _SYNTAX)
    if value == float("inf"):
        raise _NumError("ParseFloat", text, _RANGE)
    return sign * value


def _go_list_index(part: str) -> int | None:
    """Index a Go slice by a path part as pointerstructure does (``""`` is 0), or ``None``."""
    try:
        return _go_parse_int(part or "0")
    except _NumError:
        return None


def _go_kind(value: Any, is_map: bool) -> str:
    """The ``reflect.Kind`` name go-bexpr would report for a decoded JSON value."""
    t = type(value)
    if t is str:
        return "string"
    if t is bool:
        return "bool"
    if t is int:
        return "int"
    if t is float:
        return "float64"
    if t is list:
        return "slice"
    if t is dict:
        return "map" if is_map else "struct"
    return "map" if is_map else "invalid"


def _go_type(value: Any, is_map: bool) -> str:
    """An approximate Go type name for a decoded JSON value."""
    t = type(value)
    if t is list:
        return "[]interface {}"
    if t is dict or (value is None and is_map):
        return "map[string]interface {}" if is_map else "struct"
    if value is None:
        return "<nil>"
    return _go_kind(value, is_map)


# --------------------------------------------------------------------------------------------
# Go RE2 patterns on Python's re
# --------------------------------------------------------------------------------------------

_POSIX_CLASSES: Final[dict[str, str]] = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7f",
    "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z",
    "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}
_GO_ESCAPE_LETTERS: Final = frozenset("aftnrvxAzbBdDsSwWpPQE")


class _RegexError(Exception):
    """A Go ``regexp/syntax`` error: ``error parsing regexp: <code>: `<expr>```."""

    def __init__(self, code: str, expr: str) -> None:
        super().__init__(f"error parsing regexp: {code}: `{expr}`")


def _translate_go_regex(pattern: str) -> str:
    """Rewrite a Go RE2 pattern into an equivalent Python pattern (or raise ``_RegexError``)."""
    multiline = re.search(r"\(\?[a-zA-Z]*m", pattern) is not None
    out: list[str] = []
    i = 0
    n = len(pattern)
    in_class = False
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= n:
                raise _RegexError("trailing backslash at end of expression", "")
            nxt = pattern[i + 1]
            if nxt == "Q" and not in_class:
                end = pattern.find("\\E", i + 2)
                literal = pattern[i + 2 :] if end < 0 else pattern[i + 2 : end]
                out.append(re.escape(literal))
                i = n if end < 0 else end + 2
                continue
            if nxt.isdigit():
                j = i + 1
                if nxt == "0" or (nxt <= "7" and i + 2 < n and "0" <= pattern[i + 2] <= "7"):
                    while j < n and j < i + 4 and "0" <= pattern[j] <= "7":
                        j += 1
                    out.append(f"\\x{int(pattern[i + 1 : j], 8):02x}")
                    i = j
                    continue
                raise _RegexError("invalid escape sequence", pattern[i : i + 2])
            if nxt.isascii() and nxt.isalpha() and nxt not in _GO_ESCAPE_LETTERS:
                raise _RegexError("invalid escape sequence", pattern[i : i + 2])
            if nxt == "z" and not in_class:
                out.append("\\Z")
            else:
                out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            if ch == "[" and pattern.startswith("[:", i):
                end = pattern.find(":]", i + 2)
                name = pattern[i + 2 : end] if end > 0 else ""
                if name in _POSIX_CLASSES:
                    out.append(_POSIX_CLASSES[name])
                    i = end + 2
                    continue
            if ch == "]" and not (out and out[-1] in ("[", "[^")):
                in_class = False
            elif ch == "[":
                out.append("\\[")
                i += 1
                continue
            out.append(ch)
            i += 1
            continue
        if ch == "[":
            in_class = True
            if pattern.startswith("[^", i):
                out.append("[^")
                i += 2
            else:
                out.append("[")
                i += 1
            if i < n and pattern[i] == "]":
                out.append("\\]")
                i += 1
            continue
        if ch == "(" and pattern.startswith("(?", i):
            if pattern.startswith("(?<", i) and not pattern.startswith(("(?<=", "(?<!"), i):
                out.append("(?P<")
                i += 3
                continue
            if i + 2 < n and pattern[i + 2] in "=!<#":
                raise _RegexError("invalid or unsupported Perl syntax", pattern[i : i + 3])
        if ch == "$" and not multiline:
            out.append("\\Z")
            i += 1
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _regex_error_from_python(pattern: str, exc: re.error) -> _RegexError:
    """Describe a Python compile failure the way Go's regexp/syntax would."""
    msg = exc.msg
    pos = exc.pos if exc.pos is not None else 0
    if msg.startswith("missing ), unterminated subpattern"):
        return _RegexError("missing closing )", pattern)
    if msg.startswith("unbalanced parenthesis"):
        return _RegexError("unexpected )", pattern)
    if msg.startswith("unterminated character set"):
        return _RegexError("missing closing ]", pattern[pos:])
    if msg.startswith("nothing to repeat"):
        end = pos + 1
        if pattern[pos : pos + 1] == "{":
            end = pattern.find("}", pos) + 1 or len(pattern)
        if pattern[end : end + 1] == "?":
            end += 1
        return _RegexError("missing argument to repetition operator", pattern[pos:end])
    if msg.startswith("multiple repeat"):
        return _RegexError("invalid nested repetition operator", pattern[max(pos - 1, 0) : pos + 1])
    if msg.startswith("bad escape"):
        return _RegexError("invalid escape sequence", pattern[pos : pos + 2])
    if msg.startswith("bad character range"):
        return _RegexError("invalid character class range", msg.rsplit(" ", 1)[-1])
    return _RegexError("invalid or unsupported Perl syntax", pattern[pos:] or pattern)


# RE2's (C++) error codes, as Go's regexp/syntax words the same errors.
_RE2_CODES: Final = {
    "missing )": "missing closing )",
    "missing ]": "missing closing ]",
    "unexpected )": "unexpected )",
    "trailing \\": "trailing backslash at end of expression",
    "no argument for repetition operator": "missing argument to repetition operator",
    "bad repetition operator": "invalid nested repetition operator",
    "invalid repetition size": "invalid repeat count",
    "invalid perl operator": "invalid or unsupported Perl syntax",
    "invalid escape sequence": "invalid escape sequence",
    "invalid character class range": "invalid character class range",
    "invalid character class": "invalid character class",
    "invalid named capture group": "invalid named capture",
    "invalid UTF-8": "invalid UTF-8",
}


class _RE2Pattern:
    """A compiled RE2 pattern: linear-time matching, as Go's regexp (go-bexpr's ``matches``)."""

    def __init__(self, compiled: Any) -> None:
        self._compiled = compiled

    def search(self, text: str) -> bool:
        """Whether the pattern matches anywhere in ``text``."""
        return self._compiled.search(text) is not None


def _compile_go_regex(pattern: str) -> _RE2Pattern:
    """Compile a Go RE2 pattern with RE2 itself (raises ``_RegexError`` with Go's error text).

    Go's ``regexp`` and RE2 share one syntax and guarantee linear-time matching, so a pattern
    such as ``(a+)+$`` costs no more than any other. Escapes Go refuses but C++ RE2 accepts
    are refused first by the Go-syntax check of :func:`_translate_go_regex`.
    """
    import re2  # google-re2

    _translate_go_regex(pattern)  # Go-only refusals (escapes, Perl syntax) with Go's texts
    options = re2.Options()
    options.log_errors = False
    try:
        return _RE2Pattern(re2.compile(pattern, options=options))
    except re2.error as exc:
        raw = exc.args[0] if exc.args else b""
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        code, _, expr = text.partition(": ")
        go_code = _RE2_CODES.get(code)
        if go_code is None:
            raise _RegexError("invalid or unsupported Perl syntax", pattern) from None
        if go_code in ("missing closing )", "unexpected )"):
            expr = pattern
        raise _RegexError(go_code, expr) from None


# --------------------------------------------------------------------------------------------
# Syntax tree
# --------------------------------------------------------------------------------------------

_EQ, _NE, _IN, _NOT_IN = "Equal", "Not Equal", "In", "Not In"
_EMPTY, _NOT_EMPTY, _MATCHES, _NOT_MATCHES = "Is Empty", "Is Not Empty", "Matches", "Not Matches"

# go-bexpr's MatchOperator.NotPresentDisposition: the answer for a missing map key.
_NOT_PRESENT: Final[dict[str, bool]] = {
    _EQ: False,
    _NE: True,
    _IN: False,
    _NOT_IN: True,
    _EMPTY: True,
    _NOT_EMPTY: False,
    _MATCHES: False,
    _NOT_MATCHES: True,
}


@dataclass(frozen=True, slots=True)
class _Selector:
    pointer: bool  # written as a quoted JSON pointer rather than dotted
    parts: tuple[str, ...]

    def text(self) -> str:
        """The selector's text as go-bexpr prints it (also the text of a bare value)."""
        return ("/" if self.pointer else ".").join(self.parts)

    def pointer_text(self) -> str:
        """The JSON pointer form used in lookup errors (``/a/b``, with ``~0``/``~1``)."""
        return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in self.parts)


@dataclass(frozen=True, slots=True)
class _Match:
    op: str
    selector: _Selector
    value: str | None

    def __repr__(self) -> str:
        inner = self.selector.text()
        if self.value is not None:
            inner += f", {self.value!r}"
        return f"{self.op.replace(' ', '')}({inner})"


@dataclass(frozen=True, slots=True)
class _Not:
    operand: _Node

    def __repr__(self) -> str:
        return f"Not({self.operand!r})"


@dataclass(frozen=True, slots=True)
class _Binary:
    op: str  # "And" or "Or"
    left: _Node
    right: _Node

    def __repr__(self) -> str:
        return f"{self.op}({self.left!r}, {self.right!r})"


_Node = _Match | _Not | _Binary


# --------------------------------------------------------------------------------------------
# Parser: go-bexpr's PEG grammar with pigeon's failure reporting
# --------------------------------------------------------------------------------------------

_FAIL: Final = object()
_MAX_EXPRESSIONS: Final = 2_000_000


class _Abort(Exception):
    """Parsing stops at once (pigeon turns a panic in action code into an error)."""


def _is_ws(ch: str) -> bool:
    return ch in " \t\r\n"


def _is_alpha(ch: str) -> bool:
    return ch.isascii() and ch.isalpha()


def _is_ident_rest(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch in "_/")


def _is_digit(ch: str) -> bool:
    return "0" <= ch <= "9"


def _is_nonzero_digit(ch: str) -> bool:
    return "1" <= ch <= "9"


def _is_pointer_char(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "LN" or ch in "-_.~:|"


_WS_CLASS: Final = "[ \\t\\r\\n]"


class _Parser:
    """Recursive descent over go-bexpr's grammar, recording failures as pigeon does."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.n = len(text)
        self.pos = 0
        self.max_fail_pos = 0
        self.max_fail_expected: list[str] = []
        self.invert = False
        self.errors: list[tuple[int, str | None, str]] = []
        self.rules: list[str] = []
        self.count = 0
        self.memo: dict[tuple[str, object, int, bool], tuple[Any, int]] = {}

    # -- bookkeeping --------------------------------------------------------------------
    def _record(self, success: bool, pos: int, want: str) -> None:
        if success != self.invert:
            return
        if pos < self.max_fail_pos:
            return
        if pos > self.max_fail_pos:
            self.max_fail_pos = pos
            self.max_fail_expected = []
        self.max_fail_expected.append("!" + want if self.invert else want)

    def _tick(self) -> None:
        self.count += 1
        if self.count > _MAX_EXPRESSIONS:
            self._panic("max number of expressions parsed")

    def _add_error(self, pos: int, message: str) -> None:
        self.errors.append((pos, self.rules[-1] if self.rules else None, message))

    def _panic(self, message: str) -> None:
        self._add_error(self.pos, message)
        raise _Abort

    def _rule(self, name: str, body: Callable[[], Any]) -> Any:
        # Results are memoized per (rule, position, predicate polarity). A repeated attempt
        # would record exactly the same failures and errors again, so the reported text is
        # unchanged, while nested parentheses no longer cost exponential time.
        key = (name, body.__code__, self.pos, self.invert)
        cached = self.memo.get(key)
        if cached is not None:
            self.pos = cached[1]
            return cached[0]
        self.rules.append(name)
        result = body()
        self.rules.pop()
        self.memo[key] = (result, self.pos)
        return result

    # -- matchers -----------------------------------------------------------------------
    def lit(self, literal: str) -> bool:
        self._tick()
        start = self.pos
        want = _go_quote(literal)
        if self.text.startswith(literal, start):
            self.pos += len(literal)
            self._record(True, start, want)
            return True
        self._record(False, start, want)
        return False

    def cls(self, pred: Callable[[str], bool], want: str) -> bool:
        self._tick()
        start = self.pos
        if start < self.n and pred(self.text[start]):
            self.pos += 1
            self._record(True, start, want)
            return True
        self._record(False, start, want)
        return False

    def any_char(self) -> bool:
        self._tick()
        start = self.pos
        if start >= self.n:
            self._record(False, start, ".")
            return False
        self.pos += 1
        self._record(True, start, ".")
        return True

    def not_(self, body: Callable[[], Any]) -> bool:
        start = self.pos
        self.invert = not self.invert
        ok = body() not in (False, _FAIL)
        self.invert = not self.invert
        self.pos = start
        return not ok

    def and_(self, body: Callable[[], Any]) -> bool:
        start = self.pos
        ok = body() not in (False, _FAIL)
        self.pos = start
        return ok

    # -- lexical rules ------------------------------------------------------------------
    def ws(self) -> bool:
        """``_ "whitespace" <- [ \\t\\r\\n]+``"""

        def body() -> bool:
            if not self.cls(_is_ws, _WS_CLASS):
                return False
            while self.cls(_is_ws, _WS_CLASS):
                pass
            return True

        return bool(self._rule('"whitespace"', body))

    def opt_ws(self) -> None:
        self.ws()

    def eof(self) -> bool:
        return self._rule("EOF", lambda: self.not_(self.any_char)) is True

    # -- expressions --------------------------------------------------------------------
    def parse(self) -> _Node:
        try:
            result = self._rule("Input", self.input)
        except _Abort:
            result = _FAIL
        except RecursionError:
            self.errors.append((self.pos, None, "max number of expressions parsed"))
            result = _FAIL
        if self.errors:
            raise FilterSyntaxError(self._render_errors())
        if result is _FAIL:
            raise FilterSyntaxError(self._render_no_match())
        assert isinstance(result, _Match | _Not | _Binary)
        return result

    def input(self) -> Any:
        start = self.pos
        self.opt_ws()
        if self.lit("("):
            self.opt_ws()
            expr = self.or_expr()
            if expr is not _FAIL:
                self.opt_ws()
                if self.lit(")"):
                    self.opt_ws()
                    if self.eof():
                        return expr
        self.pos = start
        self.opt_ws()
        expr = self.or_expr()
        if expr is not _FAIL:
            self.opt_ws()
            if self.eof():
                return expr
        self.pos = start
        return _FAIL

    def or_expr(self) -> Any:
        def body() -> Any:
            start = self.pos
            left = self.and_expr()
            if left is not _FAIL and self.ws() and self.lit("or") and self.ws():
                right = self.or_expr()
                if right is not _FAIL:
                    return _Binary("Or", left, right)
            self.pos = start
            return self.and_expr()

        return self._rule("OrExpression", body)

    def and_expr(self) -> Any:
        def body() -> Any:
            start = self.pos
            left = self.not_expr()
            if left is not _FAIL and self.ws() and self.lit("and") and self.ws():
                right = self.and_expr()
                if right is not _FAIL:
                    return _Binary("And", left, right)
            self.pos = start
            return self.not_expr()

        return self._rule("AndExpression", body)

    def not_expr(self) -> Any:
        def body() -> Any:
            start = self.pos
            if self.lit("not") and self.ws():
                operand = self.not_expr()
                if operand is not _FAIL:
                    return operand.operand if isinstance(operand, _Not) else _Not(operand)
            self.pos = start
            return self.paren_expr()

        return self._rule("NotExpression", body)

    def paren_expr(self) -> Any:
        def body() -> Any:
            start = self.pos
            if self.lit("("):
                self.opt_ws()
                expr = self.or_expr()
                if expr is not _FAIL:
                    self.opt_ws()
                    if self.lit(")"):
                        return expr
            self.pos = start
            expr = self.match_expr()
            if expr is not _FAIL:
                return expr
            self.pos = start
            if self.lit("("):
                self.opt_ws()
                if self.or_expr() is not _FAIL:
                    self.opt_ws()
                    if self.not_(lambda: self.lit(")")):
                        self._add_error(self.pos, "Unmatched parentheses")
            self.pos = start
            return _FAIL

        return self._rule('"grouping"', body)

    def match_expr(self) -> Any:
        def body() -> Any:
            alternatives = (self.match_sel_op_value, self.match_sel_op, self.match_value_op_sel)
            for alternative in alternatives:
                start = self.pos
                result = alternative()
                if result is not _FAIL:
                    return result
                self.pos = start
            return _FAIL

        return self._rule('"match"', body)

    def _operator(self, names: tuple[str, ...]) -> str | None:
        for name in names:
            start = self.pos
            if self._rule(name, _OPERATOR_RULES[name](self)):
                return _OPERATOR_RESULTS[name]
            self.pos = start
        return None

    def match_sel_op_value(self) -> Any:
        def body() -> Any:
            sel = self.selector()
            if sel is _FAIL:
                return _FAIL
            op = self._operator(
                (
                    "MatchEqual",
                    "MatchNotEqual",
                    "MatchContains",
                    "MatchNotContains",
                    "MatchMatches",
                    "MatchNotMatches",
                )
            )
            if op is None:
                return _FAIL
            value = self.value()
            if value is _FAIL:
                return _FAIL
            return _Match(op, sel, value)

        return self._rule('"match"', body)

    def match_sel_op(self) -> Any:
        def body() -> Any:
            sel = self.selector()
            if sel is _FAIL:
                return _FAIL
            op = self._operator(("MatchIsEmpty", "MatchIsNotEmpty"))
            if op is None:
                return _FAIL
            return _Match(op, sel, None)

        return self._rule('"match"', body)

    def match_value_op_sel(self) -> Any:
        def body() -> Any:
            start = self.pos
            value = self.value()
            if value is not _FAIL:
                op = self._operator(("MatchIn", "MatchNotIn"))
                if op is not None:
                    sel = self.selector()
                    if sel is not _FAIL:
                        return _Match(op, sel, value)
            self.pos = start
            if (
                self.value() is not _FAIL
                and self._operator(("MatchIn", "MatchNotIn")) is not None
                and self.not_(self.selector)
            ):
                self._add_error(self.pos, "Invalid selector")
            self.pos = start
            return _FAIL

        return self._rule('"match"', body)

    # -- selectors and values -----------------------------------------------------------
    def selector(self) -> Any:
        def body() -> Any:
            start = self.pos
            first = self.identifier()
            if first is not _FAIL:
                parts: list[Any] = [first]
                while True:
                    before = self.pos
                    part = self.selector_or_index()
                    if part is _FAIL:
                        self.pos = before
                        break
                    parts.append(part)
                if any(p is None for p in parts):
                    self._panic("interface conversion: interface {} is nil, not string")
                return _Selector(False, tuple(parts))
            self.pos = start
            if self.lit('"'):
                segments: list[str] = []
                while True:
                    before = self.pos
                    seg = self.pointer_segment()
                    if seg is _FAIL:
                        self.pos = before
                        break
                    segments.append(seg)
                if self.lit('"'):
                    joined = "/".join(segments)
                    parts_ = tuple(
                        p.replace("~1", "/").replace("~0", "~") for p in joined.split("/")
                    )
                    return _Selector(True, parts_)
            self.pos = start
            return _FAIL

        return self._rule('"selector"', body)

    def pointer_segment(self) -> Any:
        def body() -> Any:
            start = self.pos
            if not self.lit("/"):
                return _FAIL
            want = "[\\pL\\pN-_.~:|]"
            if not self.cls(_is_pointer_char, want):
                return _FAIL
            while self.cls(_is_pointer_char, want):
                pass
            return self.text[start + 1 : self.pos]

        return self._rule("JsonPointerSegment", body)

    def identifier(self) -> Any:
        def body() -> Any:
            start = self.pos
            if not self.cls(_is_alpha, "[a-zA-Z]"):
                return _FAIL
            while self.cls(_is_ident_rest, "[a-zA-Z0-9_/]"):
                pass
            return self.text[start : self.pos]

        return self._rule("Identifier", body)

    def selector_or_index(self) -> Any:
        def body() -> Any:
            start = self.pos
            if self.lit("."):
                ident = self.identifier()
                if ident is not _FAIL:
                    return ident
            self.pos = start
            index = self.index_expr()
            if index is not _FAIL:
                return index
            self.pos = start
            if self.lit(".") and self.cls(_is_digit, "[0-9]"):
                while self.cls(_is_digit, "[0-9]"):
                    pass
                return self.text[start + 1 : self.pos]
            self.pos = start
            return _FAIL

        return self._rule("SelectorOrIndex", body)

    def index_expr(self) -> Any:
        def body() -> Any:
            start = self.pos
            if self.lit("["):
                self.opt_ws()
                literal = self.string_literal()
                if literal is not _FAIL:
                    self.opt_ws()
                    if self.lit("]"):
                        return literal
            self.pos = start
            if self.lit("["):
                self.opt_ws()
                if self.not_(self.string_literal):
                    self._add_error(self.pos, "Invalid index")
            self.pos = start
            if self.lit("["):
                self.opt_ws()
                if self.string_literal() is not _FAIL:
                    self.opt_ws()
                    if self.not_(lambda: self.lit("]")):
                        self._add_error(self.pos, "Unclosed index expression")
            self.pos = start
            return _FAIL

        return self._rule('"index"', body)

    def value(self) -> Any:
        def body() -> Any:
            start = self.pos
            sel = self.selector()
            if sel is not _FAIL:
                assert isinstance(sel, _Selector)
                return sel.text()
            self.pos = start
            number = self.number_literal()
            if number is not _FAIL:
                return number
            self.pos = start
            string = self.string_literal()
            if string is not _FAIL:
                if string is None:
                    self._panic("interface conversion: interface {} is nil, not string")
                return string
            self.pos = start
            return _FAIL

        return self._rule('"value"', body)

    def number_literal(self) -> Any:
        def after_numbers() -> bool:
            def body() -> bool:
                def alternatives() -> bool:
                    start = self.pos
                    if self.ws():
                        return True
                    self.pos = start
                    if self.eof():
                        return True
                    self.pos = start
                    return self.lit(")")

                return self.and_(alternatives)

            return bool(self._rule("AfterNumbers", body))

        def number_text() -> bool:
            before = self.pos
            if not self.lit("-"):
                self.pos = before
            return bool(self._rule("IntegerOrFloat", self.integer_or_float))

        def body() -> Any:
            start = self.pos
            if number_text() and after_numbers():
                return self.text[start : self.pos]
            self.pos = start
            if number_text() and self.not_(after_numbers):
                self._add_error(self.pos, "Invalid number literal")
            self.pos = start
            return _FAIL

        return self._rule('"number"', body)

    def integer_or_float(self) -> bool:
        start = self.pos
        if not self.lit("0"):
            self.pos = start
            if not self.cls(_is_nonzero_digit, "[1-9]"):
                return False
            while self.cls(_is_digit, "[0-9]"):
                pass
        fraction = self.pos
        if self.lit(".") and self.cls(_is_digit, "[0-9]"):
            while self.cls(_is_digit, "[0-9]"):
                pass
        else:
            self.pos = fraction
        return True

    def string_literal(self) -> Any:
        def chars(quote: str) -> None:
            name = "RawStringChar" if quote == "`" else "DoubleStringChar"
            while True:
                before = self.pos

                def one() -> bool:
                    return self.not_(lambda: self.lit(quote)) and self.any_char()

                if not self._rule(name, one):
                    self.pos = before
                    return

        def body() -> Any:
            start = self.pos
            for quote in ("`", '"'):
                self.pos = start
                if self.lit(quote):
                    chars(quote)
                    if self.lit(quote):
                        try:
                            return _go_unquote(self.text[start : self.pos])
                        except ValueError:
                            self._add_error(start, _SYNTAX)
                            return None
            for quote in ("`", '"'):
                self.pos = start
                if self.lit(quote):
                    chars(quote)
                    if self.eof():
                        self._add_error(self.pos, "Unterminated string literal")
                        break
            self.pos = start
            return _FAIL

        return self._rule('"string"', body)

    # -- error text ---------------------------------------------------------------------
    def _position(self, index: int) -> str:
        before = self.text[:index]
        line = 1 + before.count("\n")
        if index < self.n and self.text[index] == "\n":
            line += 1
            col = 0
        else:
            col = index - (before.rfind("\n"))
        offset = len(before.encode("utf-8", "surrogatepass"))
        return f"{line}:{col} ({offset})"

    def _render_errors(self) -> str:
        seen: list[str] = []
        for index, rule, message in self.errors:
            prefix = self._position(index)
            if rule is not None:
                prefix += f": rule {rule}"
            text = f"{prefix}: {message}"
            if text not in seen:
                seen.append(text)
        return "\n".join(seen)

    def _render_no_match(self) -> str:
        expected = set(self.max_fail_expected)
        eof = "!." in expected
        expected.discard("!.")
        items = sorted(expected, key=lambda s: s.encode("utf-8"))
        if eof:
            items.append("EOF")
        listed = ", ".join(items[:-1]) + " or " + items[-1] if len(items) > 1 else "".join(items)
        return f"{self._position(self.max_fail_pos)}: no match found, expected: {listed}"


def _operator_rule(*pieces: str) -> Callable[[_Parser], Callable[[], bool]]:
    """Build an operator rule: ``"_"`` is required whitespace, ``"_?"`` optional."""

    def bind(parser: _Parser) -> Callable[[], bool]:
        def body() -> bool:
            for piece in pieces:
                if piece == "_?":
                    parser.opt_ws()
                elif piece == "_":
                    if not parser.ws():
                        return False
                elif not parser.lit(piece):
                    return False
            return True

        return body

    return bind


_OPERATOR_RULES: Final[dict[str, Callable[[_Parser], Callable[[], bool]]]] = {
    "MatchEqual": _operator_rule("_?", "==", "_?"),
    "MatchNotEqual": _operator_rule("_?", "!=", "_?"),
    "MatchIsEmpty": _operator_rule("_", "is", "_", "empty"),
    "MatchIsNotEmpty": _operator_rule("_", "is", "_", "not", "_", "empty"),
    "MatchIn": _operator_rule("_", "in", "_"),
    "MatchNotIn": _operator_rule("_", "not", "_", "in", "_"),
    "MatchContains": _operator_rule("_", "contains", "_"),
    "MatchNotContains": _operator_rule("_", "not", "_", "contains", "_"),
    "MatchMatches": _operator_rule("_", "matches", "_"),
    "MatchNotMatches": _operator_rule("_", "not", "_", "matches", "_"),
}
_OPERATOR_RESULTS: Final[dict[str, str]] = {
    "MatchEqual": _EQ,
    "MatchNotEqual": _NE,
    "MatchIsEmpty": _EMPTY,
    "MatchIsNotEmpty": _NOT_EMPTY,
    "MatchIn": _IN,
    "MatchNotIn": _NOT_IN,
    "MatchContains": _IN,
    "MatchNotContains": _NOT_IN,
    "MatchMatches": _MATCHES,
    "MatchNotMatches": _NOT_MATCHES,
}

_SIMPLE_ESCAPES: Final[dict[str, str]] = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    '"': '"',
}


def _go_unquote(literal: str) -> str:
    """Go's ``strconv.Unquote`` for a backtick or double-quoted literal (``ValueError`` if bad)."""
    if literal[0] == "`":
        return literal[1:-1].replace("\r", "")
    body = literal[1:-1]
    if "\n" in body:
        raise ValueError(literal)
    out = bytearray()
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out += ch.encode("utf-8", "surrogatepass")
            i += 1
            continue
        if i + 1 >= len(body):
            raise ValueError(literal)
        code = body[i + 1]
        if code in _SIMPLE_ESCAPES:
            out += _SIMPLE_ESCAPES[code].encode()
            i += 2
        elif code in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[code]
            digits = body[i + 2 : i + 2 + width]
            if len(digits) != width or any(c not in "0123456789abcdefABCDEF" for c in digits):
                raise ValueError(literal)
            number = int(digits, 16)
            if code == "x":
                out.append(number)
            else:
                if number > 0x10FFFF or 0xD800 <= number < 0xE000:
                    raise ValueError(literal)
                out += chr(number).encode("utf-8")
            i += 2 + width
        elif "0" <= code <= "7":
            digits = body[i + 1 : i + 4]
            if len(digits) != 3 or any(c not in "01234567" for c in digits):
                raise ValueError(literal)
            number = int(digits, 8)
            if number > 0o377:
                raise ValueError(literal)
            out.append(number)
            i += 4
        else:
            raise ValueError(literal)
    return out.decode("utf-8", "surrogateescape")


# --------------------------------------------------------------------------------------------
# Compilation to closures
# --------------------------------------------------------------------------------------------

_Predicate = Callable[[Any], bool]


class _Lookup(Exception):
    """A selector failed to resolve at ``part``; ``missing_key`` marks a missing map key."""

    def __init__(self, message: str, part: int, missing_key: bool) -> None:
        super().__init__(message)
        self.part = part
        self.missing_key = missing_key


def _make_resolver(
    selector: _Selector, map_fields: frozenset[str]
) -> Callable[[Any], tuple[Any, bool]]:
    """Return ``obj -> (value, is_map)`` following the path as go's pointerstructure does."""
    parts = selector.parts
    pointer = selector.pointer_text()

    def resolve(obj: Any) -> tuple[Any, bool]:
        value = obj
        is_map = False
        for i, part in enumerate(parts):
            kind = type(value)
            if kind is dict:
                if is_map:
                    if part not in value:
                        raise _Lookup(
                            f"{pointer} at part {i}: couldn't find key {_go_quote(part)}", i, True
                        )
                    value = value[part]
                    is_map = False
                else:
                    try:
                        value = value[part]
                    except KeyError:
                        raise _Lookup(
                            f"{pointer} at part {i}: couldn't find struct field with name "
                            f"{_go_quote(part)}",
                            i,
                            False,
                        ) from None
                    is_map = part in map_fields
            elif kind is list:
                index = _go_list_index(part)
                if index is None:
                    raise _Lookup(
                        f"{pointer} at part {i}: couldn't convert value {_go_quote(part)} "
                        "to type int",
                        i,
                        False,
                    )
                if not 0 <= index < len(value):
                    raise _Lookup(
                        f"{pointer} at part {i}: index {index} is out of range "
                        f"(length = {len(value)})",
                        i,
                        False,
                    )
                value = value[index]
                is_map = False
            elif value is None and is_map:
                raise _Lookup(
                    f"{pointer} at part {i}: couldn't find key {_go_quote(part)}", i, True
                )
            else:
                raise _Lookup(
                    f"{pointer}: at part {i}, invalid value kind: {_go_kind(value, is_map)}",
                    i,
                    False,
                )
        return value, is_map

    return resolve


class _Coerced:
    """The literal converted to each Go kind once, keeping the conversion error if any."""

    __slots__ = ("raw", "_cache")

    def __init__(self, raw: str) -> None:
        self.raw = raw
        self._cache: dict[type, Any] = {}

    def as_kind(self, kind: type) -> Any:
        """The literal as ``kind`` (``bool``, ``int``, ``float``, ``str``) or raise."""
        try:
            result = self._cache[kind]
        except KeyError:
            try:
                if kind is bool:
                    result = _go_parse_bool(self.raw)
                elif kind is int:
                    result = _go_parse_int(self.raw)
                elif kind is float:
                    result = _go_parse_float(self.raw)
                else:
                    result = self.raw
            except _NumError as exc:
                result = exc
            self._cache[kind] = result
        if isinstance(result, _NumError):
            raise FilterEvalError(f"error getting match value in expression: {result}")
        return result


_SCALARS: Final = (str, bool, int, float)


def _compile_match(node: _Match, map_fields: frozenset[str]) -> _Predicate:
    resolve = _make_resolver(node.selector, map_fields)
    last = len(node.selector.parts) - 1
    absent = _NOT_PRESENT[node.op]
    sel_quoted = _go_quote(node.selector.text())
    op = node.op
    coerced = _Coerced(node.value if node.value is not None else "")
    raw = coerced.raw

    def equal(value: Any, is_map: bool) -> bool:
        kind = type(value)
        if kind is str:
            return bool(value == raw)
        if kind in _SCALARS:
            return bool(coerced.as_kind(kind) == value)
        raise FilterEvalError("unable to find suitable primitive comparison function for matching")

    def contains(value: Any, is_map: bool) -> bool:
        kind = type(value)
        if kind is str:
            return raw in value
        if kind is list:
            for item in value:
                item_kind = type(item)
                if item_kind is str:
                    if item == raw:
                        return True
                elif item_kind in _SCALARS:
                    if coerced.as_kind(item_kind) == item:
                        return True
                else:
                    raise FilterEvalError(
                        'unable to find suitable primitive comparison function for "in" comparison'
                    )
            return False
        if kind is dict and is_map:
            return raw in value
        if value is None:
            return False
        if kind in _SCALARS:
            coerced.as_kind(kind)
        raise FilterEvalError(
            f"Cannot perform in/contains operations on type {_go_kind(value, is_map)} "
            f"for selector: {sel_quoted}"
        )

    def empty(value: Any, is_map: bool) -> bool:
        kind = type(value)
        if kind is str or kind is list or (kind is dict and is_map):
            return len(value) == 0
        if value is None:
            return True
        raise FilterEvalError(
            f"cannot perform is-empty operations on type {_go_kind(value, is_map)} "
            f"for selector: {sel_quoted}"
        )

    pattern: _RE2Pattern | None = None
    pattern_error: str | None = None
    if op in (_MATCHES, _NOT_MATCHES):
        try:
            pattern = _compile_go_regex(raw)
        except _RegexError as exc:
            pattern_error = f"Failed to compile regular expression {_go_quote(raw)}: {exc}"

    def matches(value: Any, is_map: bool) -> bool:
        if type(value) is not str:
            raise FilterEvalError(
                f"Value of type {_go_type(value, is_map)} is not convertible to []byte"
            )
        if pattern is None:
            raise FilterEvalError(pattern_error or "")
        return pattern.search(value)

    test: Callable[[Any, bool], bool]
    negate = op in (_NE, _NOT_IN, _NOT_EMPTY, _NOT_MATCHES)
    if op in (_EQ, _NE):
        test = equal
    elif op in (_IN, _NOT_IN):
        test = contains
    elif op in (_EMPTY, _NOT_EMPTY):
        test = empty
    else:
        test = matches

    def evaluate(obj: Any) -> bool:
        try:
            value, is_map = resolve(obj)
        except _Lookup as exc:
            if exc.missing_key and exc.part == last and last >= 1:
                return absent
            raise FilterEvalError(f"error finding value in datum: {exc}") from None
        result = test(value, is_map)
        return not result if negate else result

    return evaluate


def _compile_node(node: _Node, map_fields: frozenset[str]) -> _Predicate:
    if isinstance(node, _Match):
        return _compile_match(node, map_fields)
    if isinstance(node, _Not):
        inner = _compile_node(node.operand, map_fields)
        return lambda obj: not inner(obj)
    left = _compile_node(node.left, map_fields)
    right = _compile_node(node.right, map_fields)
    if node.op == "And":
        return lambda obj: left(obj) and right(obj)
    return lambda obj: left(obj) or right(obj)


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


class Filter:
    """A compiled filter: call it with a decoded Nomad object to get ``True``/``False``.

    Parameters
    ----------
    expression : str
        The source text.
    tree : object
        The parsed syntax tree (shown by ``repr``).
    predicate : callable
        The compiled evaluation function.
    """

    __slots__ = ("expression", "_tree", "_predicate")

    def __init__(self, expression: str, tree: object, predicate: Callable[[Any], bool]) -> None:
        self.expression = expression
        self._tree = tree
        self._predicate = predicate

    def __call__(self, obj: Any) -> bool:
        """Evaluate the filter against ``obj``.

        Parameters
        ----------
        obj : Any
            A Nomad object as decoded from its JSON wire form.

        Returns
        -------
        bool
            Whether the object passes the filter.

        Raises
        ------
        FilterEvalError
            When go-bexpr would fail on this object (unknown field, impossible comparison).
        """
        return self._predicate(obj)

    def __repr__(self) -> str:
        return f"Filter({self.expression!r}, ast={self._tree!r})"


def compile_filter(expression: str, *, map_fields: Collection[str] = NOMAD_MAP_FIELDS) -> Filter:
    """Parse a go-bexpr filter expression once and compile it for repeated evaluation.

    Parameters
    ----------
    expression : str
        The filter text, as sent in Nomad's ``?filter=`` parameter. Nomad skips filtering
        when the parameter is empty; callers should do the same (an empty expression is a
        syntax error here, as it is for go-bexpr).
    map_fields : Collection[str], optional
        Struct field names whose object values are Go maps rather than structs; see the
        module notes. Defaults to :data:`NOMAD_MAP_FIELDS`.

    Returns
    -------
    Filter
        A callable ``obj -> bool``.

    Raises
    ------
    FilterSyntaxError
        When the expression does not parse; the message is go-bexpr's parse error text.
    """
    tree = _Parser(expression).parse()
    predicate = _compile_node(tree, frozenset(map_fields))
    return Filter(expression, tree, predicate)
