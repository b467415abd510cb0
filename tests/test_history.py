"""Usage history on disk: Parquet partitioned by cluster and day, read back on the frame's schema."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from nomadlab.analysis.usage import USAGE, sample_usage
from nomadlab.client import NomadClient
from nomadlab.history import arrow_schema, read_usage, write_usage
from nomadlab.sim import SimCluster
from nomadlab.sim.clock import ManualClock

# 2026-01-01T23:50:00Z: twenty minutes of samples cross midnight.
START_NS = 1767311400 * 10**9


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    cluster = SimCluster.default(clock=ManualClock(START_NS))
    client = NomadClient(transport=cluster.transport())
    return sample_usage(client, every="5min", duration="20min", progress=False, sleep=cluster.advance)


def test_round_trip_is_equal_to_the_frame(frame: pd.DataFrame, tmp_path: Path) -> None:
    assert frame["time"].dt.date.nunique() == 2
    write_usage(frame, tmp_path, cluster="dev")
    back = read_usage(tmp_path, cluster="dev")
    USAGE.validate(back)
    pd.testing.assert_frame_equal(back, frame.reset_index(drop=True))
    # Categories come back whole, including the ones no row uses.
    assert list(back["metric"].cat.categories) == list(frame["metric"].cat.categories)


def test_partitions_are_hive_style_by_cluster_and_utc_day(frame: pd.DataFrame, tmp_path: Path) -> None:
    paths = write_usage(frame, tmp_path, cluster="dev")
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == [
        "cluster=dev/date=2026-01-01/part-0.parquet", "cluster=dev/date=2026-01-02/part-0.parquet"]
    again = write_usage(frame, tmp_path, cluster="dev")
    assert [p.name for p in again] == ["part-1.parquet", "part-1.parquet"]  # appended, never rewritten
    assert not list(tmp_path.rglob("*.tmp"))  # the temporary files were renamed
    import pyarrow.parquet as pq

    schema = pq.read_schema(paths[0])
    assert schema.names == USAGE.names
    assert schema.equals(arrow_schema())
    first_day = read_usage(tmp_path, cluster="dev", until="2026-01-02")
    assert (first_day["time"] < pd.Timestamp("2026-01-02", tz="UTC")).all()
    assert len(first_day) == 2 * (frame["time"] < pd.Timestamp("2026-01-02", tz="UTC")).sum()


def test_read_filters_by_cluster_and_time(frame: pd.DataFrame, tmp_path: Path) -> None:
    write_usage(frame, tmp_path, cluster="dev")
    write_usage(frame.iloc[:10], tmp_path, cluster="prod")
    assert len(read_usage(tmp_path, cluster="prod")) == 10
    assert len(read_usage(tmp_path)) == len(frame) + 10
    since = frame["time"].max()
    late = read_usage(tmp_path, cluster="dev", since=since)
    assert set(late["time"]) == {since}
    assert read_usage(tmp_path, cluster="nobody").empty
    USAGE.validate(read_usage(tmp_path, cluster="nobody"))


def test_errors_say_what_to_do(frame: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="write_usage"):
        read_usage(tmp_path / "missing")
    with pytest.raises(ValueError, match="names a folder"):
        write_usage(frame, tmp_path, cluster="../up")
    with pytest.raises(ValueError, match="not a usage frame"):
        write_usage(frame.drop(columns=["metric"]), tmp_path, cluster="dev")
    assert write_usage(USAGE.empty(), tmp_path, cluster="dev") == []


def test_duckdb_reads_the_layout(frame: pd.DataFrame, tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    write_usage(frame, tmp_path, cluster="dev")
    rows = duckdb.sql(
        f"SELECT cluster, CAST(date AS VARCHAR) AS day, count(*) AS n "
        f"FROM read_parquet('{tmp_path}/**/*.parquet', hive_partitioning=true) "
        f"GROUP BY ALL ORDER BY day").fetchall()
    per_day = frame.groupby(frame["time"].dt.strftime("%Y-%m-%d")).size()
    assert rows == [("dev", day, int(n)) for day, n in per_day.items()]
