"""Reliability suites that report figures: faults, token hygiene, TLS, load.

Each suite module (``faults``, ``tls``, ``load``, ``hygiene_sweep``) measures its cases as
:class:`~tests.reliability.figures.Figure` records; its ``test_*`` module asserts every figure
is at target, and :mod:`tests.reliability.report` writes them all to ``docs/reliability.md``.
"""
