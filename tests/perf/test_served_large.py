"""The large scenario served on a real-time clock answers while its first second's backlog runs.

Built at "now", the scenario's batch programs have all run their time: about one allocation in
ten exits in the first second served (2,000 at 20,000 allocations, 10,000 at 100,000). Those
transitions run in slices with the state lock let go between them, so a request is answered
within a slice or two instead of after the whole backlog.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from nomadlab.sim import SimCluster
from nomadlab.sim.clock import ManualClock
from nomadlab.sim.scenarios import continue_in_real_time
from nomadlab.sim.scenarios_large import build_large
from nomadlab.sim.server import Ticker

pytestmark = [pytest.mark.wire]


def _due(cluster: SimCluster) -> int:
    with cluster.state.lock:
        now = cluster.clock.now_ns()
        return sum(1 for t in cluster._timers if t[0] <= now)


# The loop's own deadline stays well inside the test's time limit, so a backlog that never
# drains fails on its message (with the backlog seen) instead of a bare timeout.
@pytest.mark.timeout(300)
def test_requests_are_answered_while_the_first_tick_backlog_runs() -> None:
    cluster = SimCluster(clock=ManualClock(time.time_ns()), seed=0)
    build_large(cluster, nodes=2_000, allocs=20_000)
    complete_before = sum(a["ClientStatus"] == "complete" for a in cluster.state.allocs.values())
    continue_in_real_time(cluster)
    # Served without its ticker until the first second's exits are due, then with it: on a
    # loaded machine the server's start and the first answer can take longer than the ticker
    # needs to work the backlog off, and then nothing would be measured while it runs.
    ticker = Ticker(cluster)
    with cluster.serve(port=0, ticker=False) as url, httpx.Client(base_url=url, timeout=60) as client:
        started = time.monotonic()
        assert client.get("/v1/status/leader").status_code == 200
        first = time.monotonic() - started
        due_by = time.monotonic() + 10
        while _due(cluster) <= 100 and time.monotonic() < due_by:
            time.sleep(0.05)
        latencies = []
        backlogs: list[int] = []
        saw_backlog = drained = False
        ticker.start()
        try:
            deadline = time.monotonic() + 150
            while time.monotonic() < deadline:
                backlog = _due(cluster)
                backlogs.append(backlog)
                saw_backlog = saw_backlog or backlog > 100
                t0 = time.monotonic()
                assert client.get("/v1/status/leader").status_code == 200
                latencies.append(time.monotonic() - t0)
                # Drained: what is due now is the cluster's ongoing life (a few transitions that a
                # loaded ticker has not reached yet), not the first second's thousands.
                if saw_backlog and backlog <= 20:
                    drained = True
                    break
                if not saw_backlog and len(backlogs) >= 100 and not any(backlogs):
                    break    # nothing came due, even with the ticker held back: nothing to measure
                time.sleep(0.05)
        finally:
            ticker.stop()
            ticker.join(timeout=30)
    complete = sum(a["ClientStatus"] == "complete" for a in cluster.state.allocs.values())
    assert saw_backlog, f"the batch exits were never seen due: nothing was measured (due: {backlogs[:10]})"
    assert drained, f"the backlog never drained in 150 s (due, last polls: {backlogs[-10:]})"
    assert complete - complete_before >= 1_500, complete - complete_before
    # Before, the first tick held the lock through the whole backlog (18 s at this size on an
    # idle machine, minutes under load): a request waited for all of it.
    assert first < 5.0, first
    assert max(latencies) < 2.0, sorted(latencies)[-5:]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_nomadlab_sim_large_answers_within_seconds_of_serving() -> None:
    """``nomadlab sim --scenario large`` (100,000 allocations): the first answer after the
    command says where it serves (the build is done by then), while 10,000 batch exits are due."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOMAD_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "nomadlab.cli", "sim", "--scenario", "large", "--host", "127.0.0.1",
         "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=dict(env, PYTHONUNBUFFERED="1"),
    )
    try:
        assert proc.stderr is not None
        lines = []
        for line in proc.stderr:
            lines.append(line)
            if "export NOMAD_ADDR=" in line:
                break
        else:
            pytest.fail("nomadlab sim stopped before serving: " + "".join(lines)[-2000:])
        announced = time.monotonic()
        url = f"http://127.0.0.1:{port}"
        answer = None
        while time.monotonic() - announced < 300 and proc.poll() is None:
            try:
                answer = httpx.get(url + "/v1/status/leader", timeout=300)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        first = time.monotonic() - announced
        assert answer is not None and answer.status_code == 200, (answer and answer.text, "".join(lines)[-2000:])
        # Before: about 250 s (the first tick's 10,000 commits each scanned 100,000 allocations).
        assert first < 15.0, f"first answer {first:.1f} s after the command said where it serves"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
