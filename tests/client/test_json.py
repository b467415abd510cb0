"""nomadlab._json: the decoder every body goes through, and projections to the fields read."""

from __future__ import annotations

import gc

import msgspec
import pytest

from nomadlab._json import Fields, JSONDecodeError, ListOf, MapOf, decoder_for, is_record, loads

SPEC = Fields({
    "ID": None,
    "Res": Fields({"Cpu": None}),
    "Tasks": MapOf(Fields({"State": None, "Events": ListOf(Fields({"Type": None, "Time": None}, records=True))})),
})


def test_loads_is_exact_for_big_integers_and_raises_a_value_error() -> None:
    assert loads(b"[18446744073709551615, 123456789012345678901234567890]") == [
        18446744073709551615, 123456789012345678901234567890]
    with pytest.raises(JSONDecodeError, match="truncated") as info:
        loads(b'[{"ID": "a"')
    assert isinstance(info.value, ValueError)


def test_loads_pauses_the_collector_only_while_decoding_a_large_body() -> None:
    body = msgspec.json.encode([{"k": i} for i in range(200_000)])
    assert len(body) > 1 << 20
    assert gc.isenabled()
    assert len(loads(body)) == 200_000
    assert gc.isenabled()


def test_projection_keeps_only_named_fields_at_every_level() -> None:
    body = b'''[{"ID": "a", "Junk": {"x": [1, 2]}, "Res": {"Cpu": 5, "Mem": 7},
                "Tasks": {"web": {"State": "dead", "Pid": 3,
                                  "Events": [{"Type": "Started", "Time": 1, "Extra": "x"}, {"Type": "Killed"}]}}}]'''
    (obj,) = decoder_for(SPEC, many=True)(body)
    assert obj.keys() == {"ID", "Res", "Tasks"} and obj["Res"] == {"Cpu": 5}
    web = obj["Tasks"]["web"]
    assert web.keys() == {"State", "Events"}
    started, killed = web["Events"]
    assert is_record(started) and (started.Type, started.Time) == ("Started", 1)
    assert not hasattr(started, "Extra")
    assert killed.Time is None                  # a named field the server did not send


def test_projection_accepts_nulls_and_missing_fields() -> None:
    body = b'[{"ID": null, "Tasks": {"web": null, "db": {"Events": null}}}, null, {}]'
    got = decoder_for(SPEC, many=True)(body)
    assert got == [{"ID": None, "Tasks": {"web": None, "db": {"Events": None}}}, None, {}]


def test_a_body_of_another_shape_falls_back_to_the_full_decode() -> None:
    odd = b'[{"ID": "a", "Tasks": ["not", "a", "map"], "Junk": 1}]'
    assert decoder_for(SPEC, many=True)(odd) == [{"ID": "a", "Tasks": ["not", "a", "map"], "Junk": 1}]
    assert decoder_for(SPEC, many=True)(b'{"not": "a list"}') == {"not": "a list"}
    with pytest.raises(JSONDecodeError):
        decoder_for(SPEC, many=True)(b'[{"ID": ')


def test_decoders_are_cached_per_projection() -> None:
    same = Fields({"ID": None, "Res": Fields({"Cpu": None}),
                   "Tasks": MapOf(Fields({"State": None,
                                          "Events": ListOf(Fields({"Type": None, "Time": None}, records=True))}))})
    assert same == SPEC and hash(same) == hash(SPEC)
    assert decoder_for(same, many=True) is decoder_for(SPEC, many=True)
    assert decoder_for(Fields({"ID": None}), many=False)(b'{"ID": 1, "X": 2}') == {"ID": 1}
    assert Fields({"ID": None}) != Fields({"ID": None}, records=True)
