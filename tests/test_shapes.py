"""The shape-comparison utility used by the contract tests."""

from __future__ import annotations

import pytest

from tests.shapes import assert_same_shape, json_type, shape_mismatches

SAMPLE = {
    "ID": "a",
    "Count": 1,
    "Ratio": 0.5,
    "Ok": True,
    "Tags": ["x"],
    "Nested": {"Deep": {"Value": "v"}},
    "Maybe": None,
    "TaskStates": {"redis": {"State": "running", "Events": [{"Type": "Started", "Time": 1}]}},
}


def test_identical_shapes_pass() -> None:
    assert_same_shape(SAMPLE, dict(SAMPLE))
    assert shape_mismatches(SAMPLE, SAMPLE) == []


def test_int_and_float_are_both_number_and_extra_keys_are_fine() -> None:
    actual = {**SAMPLE, "Count": 1.5, "Ratio": 2, "Extra": {"x": 1}}
    assert shape_mismatches(SAMPLE, actual) == []
    assert json_type(True) == "bool" and json_type(1) == "number"


def test_missing_key_is_reported_with_path() -> None:
    actual = {k: v for k, v in SAMPLE.items() if k != "Count"}
    actual["Nested"] = {"Deep": {}}
    problems = shape_mismatches(SAMPLE, actual)
    assert "$.Count: missing" in problems
    assert "$.Nested.Deep.Value: missing" in problems


def test_wrong_types_are_all_reported_at_once() -> None:
    actual = {**SAMPLE, "ID": 3, "Ok": "yes", "Tags": {"x": 1}, "Count": True}
    with pytest.raises(AssertionError) as exc:
        assert_same_shape(SAMPLE, actual)
    msg = str(exc.value)
    assert "4 shape mismatch(es)" in msg
    for expected in ("$.ID: number where the sample has string",
                     "$.Ok: string where the sample has bool",
                     "$.Tags: object where the sample has array",
                     "$.Count: bool where the sample has number"):
        assert expected in msg


def test_null_in_sample_matches_anything_but_null_in_actual_does_not() -> None:
    assert shape_mismatches(SAMPLE, {**SAMPLE, "Maybe": {"a": [1]}}) == []
    assert shape_mismatches(SAMPLE, {**SAMPLE, "ID": None}) == [
        "$.ID: null where the sample has string"]
    assert shape_mismatches(SAMPLE, {**SAMPLE, "ID": None}, ignore={"$.ID"}) == []


def test_list_elements_compared_against_first_actual_element() -> None:
    sample = {"L": [{"A": 1}, {"B": "x"}]}
    assert shape_mismatches(sample, {"L": [{"A": 2, "B": "y"}, {}]}) == []
    assert shape_mismatches(sample, {"L": [{"A": 2}]}) == ["$.L[1].B: missing"]
    assert shape_mismatches(sample, {"L": []}) == []


def test_id_keyed_maps_compare_values_not_keys() -> None:
    actual = {**SAMPLE, "TaskStates": {"web": {"State": "pending", "Events": [{"Type": "R"}]}}}
    assert shape_mismatches(SAMPLE, actual) == ["$.TaskStates.redis: missing"]
    problems = shape_mismatches(SAMPLE, actual, maps={"$.TaskStates"})
    assert problems == ["$.TaskStates.web.Events[0].Time: missing"]


def test_wildcards_in_map_and_ignore_paths() -> None:
    sample = [{"TaskStates": {"a": {"State": "x", "Failed": False}}}]
    actual = [{"TaskStates": {"b": {"State": "y"}}}]
    assert shape_mismatches(sample, actual, maps={"$[*].TaskStates"}) == [
        "$[0].TaskStates.b.Failed: missing"]
    assert shape_mismatches(sample, actual, maps={"$[*].TaskStates"},
                            ignore={"$[*].TaskStates.*.Failed"}) == []
