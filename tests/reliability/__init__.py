"""Reliability suites that report figures: faults, token hygiene, TLS, load.

Each suite module (``faults``, ``tls``, ``load``) measures its cases as
:class:`~tests.reliability.figures.Figure` records and its ``test_*`` module asserts every
figure is at target; token hygiene is the pytest plugin in ``tests/hygiene.py``.
:mod:`tests.reliability.report` measures them all (a hygiene sweep included) and writes
``docs/reliability.md``, with the last run of :mod:`tests.reliability.mutations` (each
defect class's fix broken in a scratch copy, and the tests that caught it).
"""
