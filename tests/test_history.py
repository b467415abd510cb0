"""Usage history on disk: Parquet partitioned by cluster and day, read back on the frame's schema."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from nomadlab.analysis.usage import USAGE, sample_usage
from nomadlab.client import NomadClient
from nomadlab.history import arrow_schema, clusters, query, read_usage, write_usage
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
        "usage/cluster=dev/date=2026-01-01/part-0.parquet", "usage/cluster=dev/date=2026-01-02/part-0.parquet"]
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
    import duckdb

    write_usage(frame, tmp_path, cluster="dev")
    rows = duckdb.sql(
        f"SELECT cluster, CAST(date AS VARCHAR) AS day, count(*) AS n "
        f"FROM read_parquet('{tmp_path}/usage/**/*.parquet', hive_partitioning=true) "
        f"GROUP BY ALL ORDER BY day").fetchall()
    per_day = frame.groupby(frame["time"].dt.strftime("%Y-%m-%d")).size()
    assert rows == [("dev", day, int(n)) for day, n in per_day.items()]


def test_a_history_written_before_table_folders_is_still_read(frame: pd.DataFrame, tmp_path: Path) -> None:
    # Histories of earlier versions kept usage at <root>/cluster=<name>/date=<day>/ directly.
    for path in write_usage(frame, tmp_path, cluster="old"):
        legacy = tmp_path / path.relative_to(tmp_path / "usage")
        legacy.parent.mkdir(parents=True, exist_ok=True)
        path.rename(legacy)
    write_usage(frame.iloc[:5], tmp_path, cluster="new")
    assert clusters(tmp_path) == ["new", "old"]
    back = read_usage(tmp_path, cluster="old")
    pd.testing.assert_frame_equal(back, frame.sort_values("time", kind="stable").reset_index(drop=True))
    counts = query("SELECT cluster, count(*) AS n FROM usage GROUP BY ALL ORDER BY cluster", root=tmp_path)
    assert counts.to_dict("records") == [{"cluster": "new", "n": 5}, {"cluster": "old", "n": len(frame)}]


def test_query_runs_duckdb_over_the_usage_view(frame: pd.DataFrame, tmp_path: Path) -> None:
    write_usage(frame, tmp_path, cluster="dev")
    write_usage(frame.iloc[:10], tmp_path, cluster="prod")
    got = query("SELECT cluster, CAST(date AS VARCHAR) AS day, count(*) AS n, max(value) AS top FROM usage "
                "WHERE scope = ? GROUP BY ALL ORDER BY cluster, day", root=tmp_path, params=["node"])
    nodes = frame[frame["scope"] == "node"]
    expected = nodes.groupby(nodes["time"].dt.strftime("%Y-%m-%d"))["value"].agg(["size", "max"])
    dev = got[got["cluster"] == "dev"]
    assert dev["day"].tolist() == expected.index.tolist()
    assert dev["n"].tolist() == expected["size"].tolist()
    assert dev["top"].tolist() == pytest.approx(expected["max"].tolist())
    prod_nodes = int((frame.iloc[:10]["scope"] == "node").sum())
    assert int(got.loc[got["cluster"] == "prod", "n"].sum()) == prod_nodes
    # the events view exists, empty, with its columns, before any event is written
    empty = query("SELECT * FROM events", root=tmp_path)
    assert empty.empty and {"index", "topic", "payload", "cluster", "date"} <= set(empty.columns)


def test_query_says_what_it_needs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOMADLAB_HISTORY", raising=False)
    with pytest.raises(ValueError, match="NOMADLAB_HISTORY"):
        query("SELECT 1")
    with pytest.raises(FileNotFoundError, match="write_usage"):
        query("SELECT 1", root=tmp_path / "missing")
    monkeypatch.setenv("NOMADLAB_HISTORY", str(tmp_path))
    assert query("SELECT count(*) AS n FROM usage")["n"].tolist() == [0]
