"""The client modules' public names are explicit and importable."""

from __future__ import annotations

import importlib

import pytest

MODULES = ["nomadlab.config", "nomadlab.errors", "nomadlab.client", "nomadlab.streams",
           "nomadlab.retries",
           "nomadlab.fanout"]


@pytest.mark.parametrize("name", MODULES)
def test_all_names_exist(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__all__, name
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert missing == []
    assert len(set(module.__all__)) == len(module.__all__)


@pytest.mark.parametrize("name", MODULES)
def test_public_classes_and_functions_are_exported(name: str) -> None:
    module = importlib.import_module(name)
    defined = {
        n for n, obj in vars(module).items()
        if not n.startswith("_") and getattr(obj, "__module__", None) == name
        and (isinstance(obj, type) or callable(obj))
    }
    assert sorted(defined - set(module.__all__)) == []
