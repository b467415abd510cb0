"""The reliability page: its table, its flags, and the command that writes it."""

from __future__ import annotations

import datetime as dt

from . import report
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
