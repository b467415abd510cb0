"""Fixtures shared by every test tier."""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType

import pytest

pytest_plugins = ("tests.hygiene",)

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "shared" / "nomad-api" / "samples"
REFERENCE_MD = SAMPLES_DIR.parent / "REFERENCE.md"


def in_ci(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the tests run in CI (``CI`` set to a true value, as CI services set it)."""
    value = (os.environ if environ is None else environ).get("CI", "")
    return value.strip().lower() not in ("", "0", "false", "no", "off")


def pytest_sessionstart(session: pytest.Session) -> None:
    """In CI a missing samples folder fails the run: the contract tests would only skip."""
    if in_ci() and not SAMPLES_DIR.is_dir():
        raise pytest.UsageError(
            f"CI is set but the sample responses are not at {SAMPLES_DIR}: check out ../shared "
            "beside the project (the contract tests need them and would otherwise be skipped)"
        )


def require(module: str, *, install: str) -> ModuleType:
    """Import a dependency outside the test extra (``jupyterlab``, from the ``lab`` extra).

    In CI, where every extra is installed, a missing one fails the test with what to install;
    elsewhere the test is skipped with that reason. Test-extra packages are imported plainly.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        reason = f"{module} is not installed ({exc}): pip install {install}"
        if in_ci():
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(autouse=True)
def _clean_nomad_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's or CI's NOMAD_* variables (or proxies) unless it sets them."""
    for name in list(os.environ):
        if name.startswith("NOMAD_") or name.lower() in {
            "http_proxy", "https_proxy", "all_proxy", "no_proxy", "ssl_cert_file", "ssl_cert_dir",
        }:
            monkeypatch.delenv(name, raising=False)
    from tests import hygiene  # the plugin above, imported by then

    if hygiene.enabled():
        monkeypatch.setenv("NOMAD_TOKEN", hygiene.token())  # tests/hygiene.py: it must never show


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """The official sample responses in ``../shared/nomad-api/samples`` (skip when absent)."""
    if not SAMPLES_DIR.is_dir():
        pytest.skip(f"sample responses not found at {SAMPLES_DIR}: contract tests need ../shared")
    return SAMPLES_DIR
