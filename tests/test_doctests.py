"""Every docstring example of the package runs and shows what it says.

The examples run on the in-process simulator (no network). Each module is imported by name
here, one test per module, so the package itself still imports lazily.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import nomadlab

MODULES = sorted(m.name for m in pkgutil.walk_packages(nomadlab.__path__, prefix="nomadlab."))


def test_modules_are_found() -> None:
    assert {"nomadlab.config", "nomadlab.frames.jobs", "nomadlab.sim.cluster", "nomadlab.streams"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module, name):
        if test.lineno is None or not test.examples:
            continue
        runner.run(test)
    results = runner.summarize(verbose=False)
    assert results.failed == 0, f"{results.failed} of {results.attempted} examples of {name} failed (see stdout)"


def test_package_still_imports_lazily() -> None:
    """Collecting these tests imports every module; a fresh interpreter must not."""
    import subprocess
    import sys

    code = "import sys, nomadlab; print(sorted(m for m in sys.modules if m.startswith('nomadlab')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['nomadlab']"
