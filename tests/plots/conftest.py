"""Constructed input frames shared by the plot tests."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.analysis.test_states import EVENTS

from . import _frames as F

NODES = [
    ("node-1", "default", "ready", 8000.0, 500.0, 6000.0, 3000.0),
    ("node-2", "gpu", "ready", 16000.0, 1000.0, 4000.0, None),
    ("node-3", "default", "down", 8000.0, 500.0, 2000.0, 1500.0),
]


@pytest.fixture
def capacity() -> pd.DataFrame:
    return F.capacity_frame(NODES)


@pytest.fixture
def usage() -> pd.DataFrame:
    return F.usage_frame()


@pytest.fixture
def task_events() -> pd.DataFrame:
    return F.events_frame(EVENTS)


@pytest.fixture
def timeline() -> pd.DataFrame:
    return F.timeline_frame()


@pytest.fixture
def rightsizing() -> pd.DataFrame:
    return F.rightsizing_frame()


@pytest.fixture
def jobs() -> pd.DataFrame:
    return F.jobs_frame()


@pytest.fixture
def restart_counts() -> pd.DataFrame:
    return F.restart_counts_frame()
