"""The package's public surface: every exported name resolves, and importing stays light."""

from __future__ import annotations

import ast
import subprocess
import sys

import nomadlab


def test_every_exported_name_resolves_to_its_module() -> None:
    assert nomadlab.__all__ == sorted(nomadlab.__all__)
    for name in nomadlab.__all__:
        if name == "__version__":
            continue
        obj = getattr(nomadlab, name)
        assert obj.__name__ == name
        assert obj.__module__ == nomadlab._EXPORTS[name]


def test_audit_log_reader_is_exported() -> None:
    assert "audit_log" in nomadlab.__all__
    assert nomadlab._EXPORTS["audit_log"] == "nomadlab.audit"
    assert list(nomadlab._EXPORTS) == sorted(nomadlab._EXPORTS)


def test_unknown_attribute_raises() -> None:
    try:
        nomadlab.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def _loaded_after(module: str, heavy: set[str]) -> list[str]:
    """Which of ``heavy`` a fresh interpreter has loaded once it imports ``module``."""
    code = f"import sys, {module}; print(sorted({heavy!r} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return list(ast.literal_eval(out.stdout.strip()))


def test_import_is_light() -> None:
    assert _loaded_after("nomadlab", {"httpx", "pandas", "plotly", "ipywidgets", "uvicorn"}) == []


def test_frames_import_leaves_the_client_out() -> None:
    # The frames need pandas, not the HTTP stack: httpx and tenacity (with asyncio) come in
    # when a client is made or a logs frame is read, which keeps `import nomadlab.frames`
    # within P5's 100 ms over pandas.
    heavy = {"httpx", "tenacity", "asyncio", "nomadlab.client", "plotly", "ipywidgets"}
    assert _loaded_after("nomadlab.frames", heavy) == []
