"""The audit log reader on any bytes: one row per non-blank line, its columns, never an exception."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nomadlab.audit import AUDIT_COLUMNS, audit_log

_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False),
                     st.text(max_size=12), st.sampled_from(["2026-01-01T00:00:00Z", "0001-01-01T00:00:00Z",
                                                            "9999-12-31T23:59:59Z", "yesterday", ""]))
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                         st.dictionaries(st.text(max_size=5), inner, max_size=3)),
                       max_leaves=6)
_RECORDS = st.dictionaries(st.sampled_from([*AUDIT_COLUMNS, "extra"]), _VALUES, max_size=len(AUDIT_COLUMNS))
_LINES = st.one_of(_RECORDS.map(json.dumps), _VALUES.map(json.dumps),
                   st.text(max_size=30).filter(lambda s: "\n" not in s))


@pytest.mark.filterwarnings("error")   # pandas' deprecation of numbers parsed as times included
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_LINES, max_size=8), st.binary(max_size=20))
def test_any_log_reads_as_one_row_per_line(lines: list[str], tail: bytes) -> None:
    data = "\n".join(lines).encode() + (b"\n" + tail if tail else b"")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "audit.jsonl"
        path.write_bytes(data)
        frame = audit_log(path)
    expected = [raw for raw in data.decode("utf-8", "replace").splitlines() if raw.strip()]
    assert len(frame) == len(expected)
    assert list(frame.columns) == list(AUDIT_COLUMNS)
    assert str(frame["time"].dtype) == "datetime64[ns, UTC]"
    assert frame["torn"].dtype == bool
    whole: list[Any] = []
    for raw in expected:
        try:
            whole.append(isinstance(json.loads(raw), dict))
        except ValueError:
            whole.append(False)
    assert (~frame["torn"]).tolist() == whole
