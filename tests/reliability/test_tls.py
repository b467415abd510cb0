"""The TLS / mTLS matrix at target: each variable right works, each wrong says what to set."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from nomadlab.sim import SimCluster

from . import tls
from .figures import failures

pytestmark = pytest.mark.wire


@pytest.fixture(scope="module")
def files() -> Iterator[dict[str, str]]:
    with tls.certificates() as f:
        yield f


@pytest.mark.parametrize("case", tls.CASES, ids=[c.name for c in tls.CASES])
def test_tls_case(case: tls.Case, files: dict[str, str]) -> None:
    figure = tls.measure(case, SimCluster.default(seed=2), files)
    assert figure.at_target, failures([figure])


def test_every_tls_variable_is_tried_both_ways() -> None:
    names = ("NOMAD_CACERT", "NOMAD_CAPATH", "NOMAD_CLIENT_CERT", "NOMAD_CLIENT_KEY", "NOMAD_TLS_SERVER_NAME",
             "NOMAD_SKIP_VERIFY")
    for name in names:
        outcomes = {c.ok for c in tls.CASES if name in c.env}
        assert outcomes == {True, False}, name


def test_a_wrong_case_that_answers_is_off_target(files: dict[str, str]) -> None:
    """The measure fails a case whose expectation does not hold (here: a right CA expected to fail)."""
    wrong = tls.Case("expects failure", "tls", {"NOMAD_CACERT": "{ca}"}, ok=False, says=("NOMAD_CACERT",))
    assert not tls.measure(wrong, SimCluster.default(seed=2), files).at_target
