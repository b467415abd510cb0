"""``docs/frames.md`` is generated from the schema registry and kept up to date."""

from __future__ import annotations

from pathlib import Path

import pytest

from nomadlab.frames import FETCHERS, REGISTRY
from nomadlab.frames.docs import DEFAULT_PATH, main, render
from nomadlab.frames.schema import Column, Schema

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "frames.md"


def test_default_path_is_the_committed_page() -> None:
    assert DEFAULT_PATH == COMMITTED


def test_committed_page_is_up_to_date() -> None:
    assert COMMITTED.is_file(), "docs/frames.md is missing: run `python -m nomadlab.frames.docs`"
    assert COMMITTED.read_text(encoding="utf-8") == render(), (
        "docs/frames.md is stale: run `python -m nomadlab.frames.docs` and commit the result"
    )


def test_page_lists_every_registered_frame_and_column() -> None:
    text = render()
    # every fetcher but the three-in-one allocation_frames has its own registered schema
    assert set(FETCHERS) - {"allocation_frames"} <= set(REGISTRY)
    for name, schema in REGISTRY.items():
        assert f"## `{name}`" in text
        assert f"- **Grain:** {schema.grain}" in text
        section = text.split(f"## `{name}`", 1)[1].split("\n## `", 1)[0]
        for column in schema.columns:
            assert f"| `{column.name}` |" in section, f"{name}.{column.name} is not documented"


def test_render_shows_dtype_unit_and_categories() -> None:
    schema = Schema(
        name="demo_frame", grain="one row per thing", endpoint="GET /v1/things", keys=("id",),
        description="Things | with a pipe.",
        columns=(
            Column("id", "string", "Thing ID."),
            Column("state", "category", "State | with a pipe.", categories=("on", "off")),
            Column("seen", "time", "When.", source="s"),
            Column("size_mb", "Int64", "Size.", unit="MB"),
        ),
    )
    text = render({"demo_frame": schema})
    assert "- **Keys:** `id`" in text
    assert "- **Endpoint:** GET /v1/things" in text
    assert "| `state` | category |  | `on`, `off` | State \\| with a pipe. |" in text
    assert "| `seen` | datetime64[ns, UTC] ← int Unix seconds |" in text
    assert "| `size_mb` | Int64 | MB |" in text
    assert "Fetcher" not in text  # not a fetcher of nomadlab.frames


def test_main_writes_and_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "docs" / "frames.md"
    assert main(["--check", "--output", str(out)]) == 1  # missing
    assert main(["--output", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == render()
    assert main(["--check", "--output", str(out)]) == 0
    out.write_text(out.read_text(encoding="utf-8") + "hand edit\n", encoding="utf-8")
    assert main(["--check", "--output", str(out)]) == 1
    assert "out of date" in capsys.readouterr().err
