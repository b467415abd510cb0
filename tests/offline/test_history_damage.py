"""A history root with damaged or foreign files: reading it either gives the table on its schema or
fails with HistoryFormatError naming the file, never with pyarrow's own exceptions."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nomadlab.analysis.usage import USAGE, sample_once
from nomadlab.client import NomadClient
from nomadlab.errors import NomadError
from nomadlab.history import (
    EVENTS,
    HistoryFormatError,
    events_frame,
    read_events,
    read_usage,
    write_events,
    write_usage,
)
from nomadlab.sim import SimCluster

READERS = {"usage": (read_usage, USAGE), "events": (read_events, EVENTS)}


@pytest.fixture(scope="module")
def written() -> Iterator[dict[str, Path]]:
    """One history root holding a usage part and an events part, and the path of each part."""
    root = Path(tempfile.mkdtemp(prefix="history-"))
    usage = sample_once(NomadClient(transport=SimCluster.default(seed=0).transport()))
    events = events_frame([
        {"Index": 7, "Topic": "Job", "Type": "JobRegistered", "Key": "web", "Namespace": "default",
         "Payload": {"Job": {"ID": "web", "Status": "running", "SubmitTime": 1_767_225_600 * 10**9}}},
        {"Index": 8, "Topic": "Node", "Type": "NodeDrain", "Key": "n1", "Namespace": "",
         "Payload": {"Node": {"ID": "n1", "Status": "ready", "StatusUpdatedAt": 1_767_225_660}}},
    ])
    parts = {"usage": write_usage(usage, root, cluster="dev")[0],
             "events": write_events(events, root, cluster="dev")[0]}
    yield {"root": root, **parts}
    shutil.rmtree(root, ignore_errors=True)


def _copy(written: dict[str, Path], into: Path) -> dict[str, Path]:
    shutil.copytree(written["root"], into, dirs_exist_ok=True)
    return {t: into / written[t].relative_to(written["root"]) for t in READERS}


@pytest.mark.parametrize("table", sorted(READERS))
def test_undamaged_parts_read_back(written: dict[str, Path], table: str) -> None:
    read, schema = READERS[table]
    frame = read(written["root"])
    schema.validate(frame)
    assert len(frame) > 0


def _damage(how: str, part: Path) -> None:
    data = part.read_bytes()
    if how == "garbage":
        part.write_bytes(b"not a parquet file")
    elif how == "empty":
        part.write_bytes(b"")
    elif how == "cut":
        part.write_bytes(data[: len(data) // 2])
    elif how == "other table":
        pq.write_table(pa.table({"x": [1, 2]}), part)
    elif how == "wrong types":
        table = pq.read_table(part)
        pq.write_table(table.set_column(table.schema.get_field_index("time"), "time",
                                        pa.array(["a time"] * len(table))), part)


@pytest.mark.parametrize("table", sorted(READERS))
@pytest.mark.parametrize("how", ["garbage", "empty", "cut", "other table", "wrong types"])
def test_a_damaged_part_is_named_with_what_to_do(written: dict[str, Path], tmp_path: Path, table: str,
                                                 how: str) -> None:
    parts = _copy(written, tmp_path)
    _damage(how, parts[table])
    with pytest.raises(HistoryFormatError) as info:
        READERS[table][0](tmp_path)
    assert isinstance(info.value, NomadError)
    assert str(parts[table]) in str(info.value) and "move it out of" in str(info.value)
    other = "events" if table == "usage" else "usage"
    READERS[other][1].validate(READERS[other][0](tmp_path))  # the other table is not touched


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                HealthCheck.too_slow])
@given(table=st.sampled_from(sorted(READERS)), cut=st.floats(0.0, 1.0),
       flips=st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(1, 255)), max_size=6))
def test_mangled_bytes_give_the_schema_or_a_history_error(written: dict[str, Path], table: str, cut: float,
                                                          flips: list[tuple[float, int]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        parts = _copy(written, Path(tmp))
        data = bytearray(parts[table].read_bytes())
        for where, xor in flips:
            data[min(int(where * len(data)), len(data) - 1)] ^= xor
        parts[table].write_bytes(bytes(data[: max(1, int(cut * len(data)))] if cut < 1.0 else data))
        read, schema = READERS[table]
        try:
            frame = read(Path(tmp))
        except HistoryFormatError as exc:
            assert str(parts[table]) in str(exc)
        else:
            schema.validate(frame)
            assert list(frame.columns) == schema.names
            assert isinstance(frame, pd.DataFrame)
