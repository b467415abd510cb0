"""The schema registry: typed column conversion, empty frames, validation, registration."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from nomadlab.frames.schema import DTYPES, REGISTRY, ZERO_TIME, Column, Schema, register

UTC = "datetime64[ns, UTC]"


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text).tz_convert("UTC")


def values(array: Any) -> list[Any]:
    return list(pd.Series(array).tolist())


# --- times ---------------------------------------------------------------------------------------


def test_ns_times_are_utc_and_zero_or_none_is_nat() -> None:
    col = Column("t", "time", "", source="ns")
    out = col.convert([1_495_743_243_970_720_000, 0, None, 1])
    assert str(out.dtype) == UTC
    got = values(out)
    assert got[0] == ts("2017-05-25T20:14:03.97072Z")
    assert got[3] == ts("1970-01-01T00:00:00.000000001Z")  # nanoseconds are kept exactly
    assert pd.isna(got[1]) and pd.isna(got[2])


@pytest.mark.parametrize("source", ["ns", "s"])
def test_zero_time_is_nat_on_the_fast_path(source: Any) -> None:
    """Integers only (no None): the values take the vectorised path, where 0 must still be NaT."""
    out = Column("t", "time", "", source=source).convert([0, 1_566_814_982, 0])
    got = values(out)
    assert pd.isna(got[0]) and pd.isna(got[2]) and not pd.isna(got[1])
    assert Column("t", "time", "", source=source).convert([0]).isna().all()


def test_second_times_scale_to_ns() -> None:
    out = Column("t", "time", "", source="s").convert([1_566_814_982, 0, None])
    assert str(out.dtype) == UTC
    assert values(out)[0] == ts("2019-08-26T10:23:02Z")
    assert pd.isna(values(out)[1]) and pd.isna(values(out)[2])


def test_rfc3339_offsets_become_utc_and_nanoseconds_survive() -> None:
    out = Column("t", "time", "", source="rfc3339").convert(
        ["2019-08-26T12:22:50.762716458+02:00", "2021-03-31T12:11:39Z", "2021-03-31T12:12:20.213412Z"]
    )
    assert str(out.dtype) == UTC
    first, second, third = values(out)
    assert first == pd.Timestamp("2019-08-26T10:22:50.762716458", tz="UTC")
    assert first.nanosecond == 458
    assert second == ts("2021-03-31T12:11:39Z")
    assert third == ts("2021-03-31T12:12:20.213412Z")


@pytest.mark.parametrize("missing", [ZERO_TIME, "", None, "not a time"], ids=["zero", "empty", "none", "junk"])
def test_rfc3339_zero_time_empty_and_junk_are_nat(missing: Any) -> None:
    out = Column("t", "time", "", source="rfc3339").convert([missing, "2021-03-31T12:11:39Z"])
    assert str(out.dtype) == UTC
    assert pd.isna(values(out)[0])
    assert values(out)[1] == ts("2021-03-31T12:11:39Z")


def test_rfc3339_all_missing_is_typed_nat() -> None:
    out = Column("t", "time", "", source="rfc3339").convert([ZERO_TIME, None])
    assert str(out.dtype) == UTC
    assert pd.isna(values(out)).all()


def test_rfc3339_outside_the_nanosecond_range_is_nat_not_an_error() -> None:
    """A parseable time pandas cannot hold in ns (before 1677 or after 2262) must not break the frame.

    Currently ``Column.convert`` raises ``OutOfBoundsDatetime`` from the final ``astype``, so one
    odd value (a year-9999 "never" deadline, a corrupted record) fails the whole fetcher.
    """
    out = Column("t", "time", "", source="rfc3339").convert(["9999-12-31T23:59:59Z", "2021-03-31T12:11:39Z"])
    assert str(out.dtype) == UTC
    assert pd.isna(values(out)[0])
    assert values(out)[1] == ts("2021-03-31T12:11:39Z")


# --- other dtypes ----------------------------------------------------------------------------------


def test_durations_from_int_nanoseconds() -> None:
    out = Column("d", "duration", "").convert([1_000_000_000, None, 0, 5_000_000_000_000])
    assert str(out.dtype) == "timedelta64[ns]"
    got = values(out)
    assert got[0] == pd.Timedelta(seconds=1)
    assert pd.isna(got[1])
    assert got[2] == pd.Timedelta(0)  # a zero duration is a real value, unlike a zero time
    assert got[3] == pd.Timedelta(hours=1, minutes=23, seconds=20)


def test_int64_keeps_none_as_na() -> None:
    out = Column("i", "Int64", "").convert([1, None, 2**62])
    assert str(out.dtype) == "Int64"
    assert out[0] == 1 and out[1] is pd.NA and out[2] == 2**62


def test_float_none_is_nan() -> None:
    out = Column("f", "float64", "").convert([1, None, 2.5])
    assert out.dtype == np.float64
    assert out[0] == 1.0 and np.isnan(out[1]) and out[2] == 2.5


def test_boolean_keeps_na() -> None:
    out = Column("b", "boolean", "").convert([True, None, False])
    assert str(out.dtype) == "boolean"
    assert bool(out[0]) is True
    assert out[1] is pd.NA
    assert not out[2]


def test_string_none_is_na_and_other_values_become_text() -> None:
    out = Column("s", "string", "").convert(["a", None, 7])
    assert isinstance(out.dtype, pd.StringDtype)
    assert values(out)[0] == "a" and pd.isna(values(out)[1]) and values(out)[2] == "7"


def test_category_has_the_full_value_set_and_keeps_unknown_values() -> None:
    col = Column("status", "category", "", categories=("pending", "running", "complete"))
    out = col.convert(["running", "weird-new-status", None, "running"])
    assert list(out.categories) == ["pending", "running", "complete", "weird-new-status"]
    counts = pd.Series(out).value_counts(sort=False)
    assert counts.to_dict() == {"pending": 0, "running": 2, "complete": 0, "weird-new-status": 1}
    assert pd.isna(out[2])


def test_object_keeps_python_values() -> None:
    out = Column("o", "object", "").convert([{"a": "1"}, ["x"], None])
    assert out.dtype == object
    assert out[0] == {"a": "1"} and out[1] == ["x"] and out[2] is None


# --- whole frames ----------------------------------------------------------------------------------

ALL_KINDS = Schema(
    name="test_all_kinds",
    grain="one row per thing",
    endpoint="none",
    keys=("id",),
    columns=(
        Column("id", "string", "ID."),
        Column("status", "category", "Status.", categories=("a", "b")),
        Column("count", "Int64", "Count."),
        Column("ratio", "float64", "Ratio."),
        Column("flag", "boolean", "Flag."),
        Column("at_ns", "time", "Time.", source="ns"),
        Column("at_s", "time", "Time.", source="s"),
        Column("at_text", "time", "Time.", source="rfc3339"),
        Column("took", "duration", "Duration."),
        Column("meta", "object", "Meta."),
    ),
)


def test_the_test_schema_covers_every_dtype() -> None:
    assert {c.dtype for c in ALL_KINDS.columns} == set(DTYPES)


def test_empty_frame_has_every_column_typed() -> None:
    empty = ALL_KINDS.empty()
    assert len(empty) == 0
    assert list(empty.columns) == ALL_KINDS.names
    ALL_KINDS.validate(empty)
    assert list(empty["status"].cat.categories) == ["a", "b"]
    assert str(empty["at_text"].dtype) == UTC
    assert str(empty["took"].dtype) == "timedelta64[ns]"
    assert empty.attrs["frame"] == "test_all_kinds"


def test_build_types_every_column_and_validates() -> None:
    frame = ALL_KINDS.build({
        "id": ["x", "y"], "status": ["a", None], "count": [1, None], "ratio": [0.5, None],
        "flag": [None, True], "at_ns": [1, 0], "at_s": [1, None], "at_text": [ZERO_TIME, "2021-01-01T00:00:00Z"],
        "took": [None, 1], "meta": [None, {"k": "v"}],
    })
    ALL_KINDS.validate(frame)
    assert frame["count"].isna().tolist() == [False, True]


def test_build_requires_every_column_and_equal_lengths() -> None:
    data: dict[str, list[Any]] = {c.name: [] for c in ALL_KINDS.columns}
    del data["meta"]
    with pytest.raises(KeyError, match="meta"):
        ALL_KINDS.build(data)
    data = {c.name: [None] for c in ALL_KINDS.columns}
    data["id"] = ["a", "b"]
    with pytest.raises(ValueError, match="different lengths"):
        ALL_KINDS.build(data)


@pytest.mark.parametrize(
    "break_it, message",
    [
        (lambda f: f.drop(columns=["ratio"]), "columns"),
        (lambda f: f.assign(extra=1), "columns"),
        (lambda f: f[list(reversed(f.columns))], "columns"),
        (lambda f: f.assign(count=f["count"].astype("float64")), "count: dtype"),
        (lambda f: f.assign(at_ns=f["at_ns"].dt.tz_localize(None)), "at_ns: dtype"),
        (lambda f: f.assign(at_text=f["at_text"].astype("datetime64[us, UTC]")), "at_text: dtype"),
        (lambda f: f.assign(status=f["status"].astype("string")), "status: dtype"),
        (lambda f: f.assign(status=f["status"].cat.reorder_categories(["b", "a"])), "status: dtype"),
        (lambda f: f.assign(flag=f["flag"].astype(object)), "flag: dtype"),
        (lambda f: f.assign(meta=f["meta"].astype("string")), "meta: dtype"),
    ],
    ids=["missing", "extra", "order", "int-as-float", "naive-time", "us-time", "category-as-string",
         "category-order", "boolean-as-object", "object-as-string"],
)
def test_validate_names_what_is_wrong(break_it: Any, message: str) -> None:
    frame = ALL_KINDS.build({c.name: [None] for c in ALL_KINDS.columns})
    with pytest.raises(AssertionError, match=message):
        ALL_KINDS.validate(break_it(frame))


def test_validate_accepts_extra_categories_after_the_declared_ones() -> None:
    frame = ALL_KINDS.build({**{c.name: [None] for c in ALL_KINDS.columns}, "status": ["new"]})
    assert list(frame["status"].cat.categories) == ["a", "b", "new"]
    ALL_KINDS.validate(frame)


# --- declarations ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"dtype": "int"}, "unknown dtype"),
        ({"dtype": "category"}, "value set"),
        ({"dtype": "time"}, "wire encoding"),
    ],
    ids=["unknown-dtype", "category-without-values", "time-without-source"],
)
def test_column_declaration_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Column("c", description="", **kwargs)


def test_schema_declaration_errors() -> None:
    with pytest.raises(ValueError, match="repeats"):
        Schema("s", "g", "e", (Column("a", "string", ""), Column("a", "Int64", "")))
    with pytest.raises(ValueError, match="key columns"):
        Schema("s", "g", "e", (Column("a", "string", ""),), keys=("b",))


def test_register_refuses_a_different_schema_under_the_same_name() -> None:
    name = "test_schema_register_conflict"
    first = Schema(name, "one row per x", "none", (Column("a", "string", ""),))
    try:
        assert register(first) is first
        assert register(Schema(name, "one row per x", "none", (Column("a", "string", ""),))) == first
        with pytest.raises(ValueError, match="already registered"):
            register(Schema(name, "one row per x", "none", (Column("a", "Int64", ""),)))
        assert REGISTRY[name] == first
    finally:
        REGISTRY.pop(name, None)


def test_schema_lookup() -> None:
    assert ALL_KINDS.column("ratio").dtype == "float64"
    with pytest.raises(KeyError, match="no column"):
        ALL_KINDS.column("nope")


# --- pieces joined: a frame read page by page ---------------------------------------------------

PIECES = [
    {"id": ["x", None], "status": ["a", "zeta"], "count": [1, None], "ratio": [0.5, None],
     "flag": [None, True], "at_ns": [1, 0], "at_s": [1, None],
     "at_text": [ZERO_TIME, "2021-01-01T00:00:00.123456789+02:00"], "took": [None, 1], "meta": [None, {"k": "v"}]},
    {c.name: [] for c in ALL_KINDS.columns},                     # an empty page
    {"id": ["z"], "status": ["alpha"], "count": [2**63 - 1], "ratio": [1], "flag": [False],
     "at_ns": [None], "at_s": [0], "at_text": ["junk"], "took": [0], "meta": [["l"]]},
]


def test_joined_pieces_equal_the_frame_built_at_once() -> None:
    whole = {c.name: [v for p in PIECES for v in p[c.name]] for c in ALL_KINDS.columns}
    want = ALL_KINDS.build(whole)
    got = ALL_KINDS.join([ALL_KINDS.arrays(p) for p in PIECES])
    pd.testing.assert_frame_equal(got, want)
    ALL_KINDS.validate(got)
    # values outside the known set, met on different pieces: known first, then the others sorted
    assert list(got["status"].cat.categories) == ["a", "b", "alpha", "zeta"]
    assert got.attrs["frame"] == "test_all_kinds"


def test_join_of_one_piece_or_none() -> None:
    one = ALL_KINDS.arrays(PIECES[0])
    pd.testing.assert_frame_equal(ALL_KINDS.join([one]), ALL_KINDS.build(PIECES[0]))
    pd.testing.assert_frame_equal(ALL_KINDS.join([]), ALL_KINDS.empty())


def test_concat_of_built_frames_equals_the_join() -> None:
    frames = [ALL_KINDS.build(p) for p in PIECES]
    pd.testing.assert_frame_equal(ALL_KINDS.concat(frames),
                                  ALL_KINDS.join([ALL_KINDS.arrays(p) for p in PIECES]))


def test_arrays_checks_like_build() -> None:
    with pytest.raises(KeyError, match="no values given"):
        ALL_KINDS.arrays({"id": ["x"]})
    bad = {c.name: [None] for c in ALL_KINDS.columns} | {"id": ["x", "y"]}
    with pytest.raises(ValueError, match="different lengths"):
        ALL_KINDS.arrays(bad)


@pytest.mark.parametrize(("dtype", "wire", "want"), [
    ("Int64", [1, 2**63, None], [1, None, None]),          # beyond int64: missing, not an error
    ("Int64", [1, "2", True, 1.5], [1, None, None, None]),  # wrong wire types: missing
    ("boolean", [True, 1, None, "true"], [True, None, None, None]),
    ("duration", [1, 2**64, None], [pd.Timedelta(1), None, None]),
])
def test_a_value_of_the_wrong_type_or_size_is_missing_alone(dtype: str, wire: list[Any], want: list[Any]) -> None:
    got = values(Column("c", dtype, "").convert_guarded(wire))   # type: ignore[arg-type]
    assert [None if pd.isna(v) else v for v in got] == want


def test_arrays_are_converted_like_lists() -> None:
    ints = Column("i", "Int64", "")
    assert values(ints.convert(np.array([1, 2]))) == [1, 2]
    flags = Column("b", "boolean", "")
    assert values(flags.convert(pd.array([True, None], dtype="boolean"))) == [True, pd.NA]
    names = Column("s", "string", "")
    taken = names.convert(["a", "b"]).take([1, 1, 0])      # a typed array is kept as it is
    assert values(names.convert(taken)) == ["b", "b", "a"]


def test_concat_of_frames_that_left_the_schema_keeps_what_they_hold() -> None:
    built = [ALL_KINDS.build(p) for p in (PIECES[0], PIECES[2])]
    cast = built[1].assign(id=built[1]["id"].astype("str"), took=built[1]["took"].astype("timedelta64[us]"),
                           note=["extra"])
    out = ALL_KINDS.concat([built[0], cast])
    assert out["id"].tolist()[0] == "x" and out["id"].tolist()[2] == "z"
    assert out["took"].tolist()[2] == pd.Timedelta(0)
    assert out["note"].tolist()[2] == "extra" and pd.isna(out["note"].tolist()[0])   # kept, not dropped
    assert list(out["status"].cat.categories) == ["a", "b", "alpha", "zeta"]
    assert out.attrs["frame"] == "test_all_kinds"


def test_sample_strategies_skip_without_the_samples_never_stand_in(monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Any) -> None:
    """Without ``../shared`` a sample (and a hypothesis strategy over one) skips the test: a stand-in
    object would let the fuzz tests pass while testing almost nothing."""
    import warnings

    from tests.frames import conftest as frames_conftest

    monkeypatch.setattr(frames_conftest, "SAMPLES_DIR", tmp_path / "absent")
    with pytest.raises(pytest.skip.Exception, match="absent"):
        frames_conftest.sample("GET_v1_jobs.json")
    with warnings.catch_warnings(), pytest.raises(pytest.skip.Exception, match="absent"):
        warnings.simplefilter("ignore")   # .example() outside @given warns that it is for the REPL
        frames_conftest.mutated_sample("GET_v1_jobs.json").example()
