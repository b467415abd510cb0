"""The suite's own guard: in CI a missing samples folder fails the run instead of skipping."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import conftest


@pytest.mark.parametrize(("value", "expected"), [
    ("true", True), ("1", True), ("yes", True), ("", False), ("false", False), ("0", False)])
def test_ci_is_read_from_the_environment(value: str, expected: bool) -> None:
    assert conftest.in_ci({"CI": value}) is expected
    assert conftest.in_ci({}) is False


def test_missing_samples_fail_the_run_in_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(conftest, "SAMPLES_DIR", tmp_path / "absent")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.UsageError, match="absent"):
        conftest.pytest_sessionstart(None)  # type: ignore[arg-type]


def test_missing_samples_only_skip_outside_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(conftest, "SAMPLES_DIR", tmp_path / "absent")
    monkeypatch.delenv("CI", raising=False)
    conftest.pytest_sessionstart(None)  # type: ignore[arg-type]


def test_samples_are_found_beside_the_checkout() -> None:
    """``../shared`` relative to this checkout, never a fixed absolute path."""
    root = Path(__file__).resolve().parents[1]
    assert root.parent / "shared" / "nomad-api" / "samples" == conftest.SAMPLES_DIR
    fixed = ("/" + "work/shared", "/" + "work/main")   # spelled apart so this file is no offender
    offenders = [p for p in root.joinpath("tests").rglob("*.py") if any(f in p.read_text() for f in fixed)]
    assert offenders == []


def test_no_test_skips_on_a_missing_import() -> None:
    """``importorskip`` would turn a missing test dependency, or an import error of nomadlab's own
    modules, into a green run: test-extra packages are imported plainly, the others through
    ``tests.conftest.require`` (which fails in CI)."""
    root = Path(__file__).resolve().parents[1]
    call = "importor" + "skip("   # spelled apart so this file is no offender
    offenders = [str(p.relative_to(root)) for p in root.joinpath("tests").rglob("*.py") if call in p.read_text()]
    assert offenders == []


def test_require_fails_in_ci_and_skips_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    missing = "nomadlab_no_such_module"
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=f"{missing} is not installed.*pip install x"):
        conftest.require(missing, install="x")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="pip install x"):
        conftest.require(missing, install="x")
    assert conftest.require("json", install="x").__name__ == "json"
