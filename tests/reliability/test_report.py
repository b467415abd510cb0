"""The reliability page: its table, its flags, and the command that writes it."""

from __future__ import annotations

import datetime as dt

from . import mutations, report
from .figures import Figure

WHEN = dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC)


def test_render_sums_suites_and_flags_cases_off_target() -> None:
    figures = [Figure("faults: read", "jobs × reset", 1, 1, detail="1 retry"),
               Figure("faults: read", "nodes × reset", 1, 0, lost=2, detail="boom"),
               Figure("tls", "a | b", 1, 1)]
    page = report.render(figures, {"python": "3.11"}, WHEN)
    assert "Measured 2026-01-02 03:04 UTC with python 3.11." in page
    assert "**2 of 3 cases at target.**" in page
    assert "| faults: read | 2 | 2 | 1 | 2 | 0 | 0 | **no** |" in page
    assert "| tls | 1 | 1 | 1 | 0 | 0 | 0 | yes |" in page
    assert "**off target** boom" in page and "a \\| b" in page


def test_versions_name_the_packages_behind_the_figures() -> None:
    found = report.versions()
    assert {"python", "nomadlab", "httpx", "uvicorn", "trustme"} <= set(found)


def test_the_page_in_docs_was_written_by_the_command() -> None:
    page = (report.ROOT / "docs" / "reliability.md").read_text()
    assert "python -m tests.reliability.report" in page and "cases at target" in page
    assert "**off target**" not in page and "**no**" not in page


def test_the_defects_section_shows_each_broken_fix_and_what_caught_it() -> None:
    caught = mutations.Outcome("secrets", "token accepted", "nomadlab/config.py", ("t.py",), ("t.py::a",),
                               "1 failed in 1s", "3 passed in 1s", 1, 0)
    missed = mutations.Outcome("tls", "no warning", "nomadlab/client.py", ("u.py",), (), "2 passed in 1s",
                               "2 passed in 1s", 0, 0)
    page = report.render([], {}, WHEN, ("2026-01-02 03:04", [caught, missed]))
    assert "## Defects and the tests that catch them" in page and "Run 2026-01-02 03:04 UTC" in page
    assert "| secrets | token accepted (`nomadlab/config.py`) | `t.py::a` | 1 failed in 1s | 3 passed in 1s |" in page
    assert "**not caught** (u.py)" in page and "**1 of 2 broken fixes caught.**" in page
    assert caught.at_target and not missed.at_target
    assert "No mutation run is recorded" in report.render([], {}, WHEN, None)


def test_every_mutation_still_breaks_todays_code() -> None:
    """Each mutation's text occurs once in its file, so the recorded run is of code that exists."""
    for m in mutations.MUTATIONS:
        assert (report.ROOT / m.file).read_text().count(m.old) == 1, m.what
        assert all((report.ROOT / t.split("::")[0]).exists() for t in m.tests), m.what


def test_the_recorded_mutation_run_caught_every_broken_fix() -> None:
    recorded = mutations.load_results()
    assert recorded is not None, "run python -m tests.reliability.mutations"
    _, outcomes = recorded
    assert [o.what for o in outcomes] == [m.what for m in mutations.MUTATIONS]
    assert [o.what for o in outcomes if not o.at_target] == []
