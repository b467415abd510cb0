"""Running the recorder against an in-process simulated cluster, in a thread."""

from __future__ import annotations

import collections
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from nomadlab.client import NomadClient
from nomadlab.offline import record
from nomadlab.offline.recording import RecordProgress
from nomadlab.retries import RetryPolicy
from nomadlab.sim import SimCluster


def keep_every_event(cluster: SimCluster) -> None:
    """Let the cluster's event buffer hold every event (Nomad's holds 100 indexes), and beat
    often so that a recorder notices its stop quickly."""
    cluster.events.frames = collections.deque(cluster.events.frames, maxlen=None)
    cluster.events.heartbeat_s = 0.05


def client_of(cluster: SimCluster) -> NomadClient:
    return NomadClient(transport=cluster.transport(), retry=RetryPolicy(attempts=2, backoff=0.01, max_backoff=0.05))


class Recorder:
    """``record()`` in a thread: :meth:`start` waits for its snapshot, :meth:`stop` for it to
    catch up with every event the cluster has made, then stops it."""

    def __init__(self, cluster: SimCluster, folder: Path, **options: Any) -> None:
        self.cluster = cluster
        self.folder = folder
        self.options = options
        self.event = threading.Event()
        self.result: RecordProgress | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.result = record(client_of(self.cluster), self.folder, stop=self.event, **self.options)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            self.error = exc

    def start(self) -> Recorder:
        marker = self.folder / "recording.json"
        existed = marker.exists() and (self.folder / "checkpoint.json").exists()
        before = self._checkpoint_time() if existed else None
        self.thread.start()
        deadline = time.monotonic() + 60
        while not marker.exists() or (existed and self._checkpoint_time() == before):
            assert self.error is None, self.error
            assert time.monotonic() < deadline, "the recorder did not start"
            time.sleep(0.01)
        return self

    def _checkpoint_time(self) -> Any:
        try:
            return orjson.loads((self.folder / "checkpoint.json").read_bytes()).get("updated_at")
        except (FileNotFoundError, orjson.JSONDecodeError):
            return None

    def last_event_index(self) -> int:
        frames = self.cluster.events.frames
        return frames[-1][0] if frames else 0

    def caught_up(self) -> bool:
        try:
            cp = orjson.loads((self.folder / "checkpoint.json").read_bytes())
        except (FileNotFoundError, orjson.JSONDecodeError):
            return False
        return int(cp["index"]) >= self.last_event_index()

    def stop(self, *, timeout: float = 60) -> RecordProgress:
        deadline = time.monotonic() + timeout
        while not self.caught_up():
            assert self.error is None, self.error
            assert time.monotonic() < deadline, "the recorder did not catch up with the cluster"
            time.sleep(0.02)
        self.event.set()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the recorder did not stop"
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result
