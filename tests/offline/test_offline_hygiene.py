"""No secret in what the offline layer writes or shows: snapshots, recordings, Parquet history, their
``repr``, ``nomadlab inspect`` and the errors, taken with a management token and an address that
carries a basic-auth password."""

from __future__ import annotations

import gzip
import io
import tarfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from nomadlab.analysis.usage import sample_once
from nomadlab.client import NomadClient
from nomadlab.history import read_usage, write_events, write_usage
from nomadlab.offline import open_recording, open_snapshot, open_source, record, snapshot
from nomadlab.offline.inspect import inspect_path
from nomadlab.offline.recording import read_events
from nomadlab.sim import SimCluster
from nomadlab.sim.scenarios import build_default
from tests import hygiene
from tests.offline._recorder import Recorder, keep_every_event

PASSWORD = "pa55-hygiene-0f1c2d3e4b5a"


class _TokenRecorder(Recorder):
    """The recorder helper, with a client that carries the management token and the password."""

    def __init__(self, cluster: SimCluster, folder: Path, client: NomadClient) -> None:
        super().__init__(cluster, folder)
        self.client = client

    def _run(self) -> None:
        try:
            self.result = record(self.client, self.folder, stop=self.event)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            self.error = exc


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[str], list[str]]]:
    """A snapshot, a recording and a history written through a client holding both secrets, the
    secrets, and the texts the offline layer shows about them."""
    cluster = SimCluster(acl=True, seed=4)
    build_default(cluster)
    keep_every_event(cluster)
    token = cluster.acl.bootstrap()["SecretID"]
    root = tmp_path_factory.mktemp("offline-hygiene")
    with NomadClient(address=f"http://operator:{PASSWORD}@nomad.example:4646", token=token,
                     transport=cluster.transport()) as client, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        snapshot(client, root / "snap.tar.gz")
        rec = _TokenRecorder(cluster, root / "rec", client).start()
        job = client.get("/v1/jobs").body[0]
        client.post(f"/v1/job/{job['ID']}/evaluate", json={"JobID": job["ID"]},
                    params={"namespace": job["Namespace"]})
        cluster.advance(30)
        rec.stop()
        write_usage(sample_once(client), root / "history", cluster="dev")
        write_events([dict(te.event) for te in read_events(root / "rec")], root / "history", cluster="dev")
        recording = open_recording(root / "rec")
        assert recording.time_range is not None
        shown = [repr(open_snapshot(root / "snap.tar.gz")), repr(recording), repr(open_source(root / "snap.tar.gz")),
                 repr(recording.at(recording.time_range[1])),
                 *(inspect_path(root / p).render() for p in ("snap.tar.gz", "rec", "history")),
                 *(str(w.message) for w in caught), repr(read_usage(root / "history"))]
    yield root, [token, PASSWORD], shown


def _texts(root: Path) -> Iterator[tuple[str, str]]:
    """Every file under ``root`` as text: tar members, gzip contents and Parquet rows unpacked."""
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if path.name.endswith(".tar.gz"):
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
                for member in tar.getmembers():
                    body = tar.extractfile(member)
                    if body is not None:
                        yield f"{path.name}:{member.name}", body.read().decode(errors="replace")
        elif path.suffix == ".gz":
            yield str(path), gzip.decompress(data).decode(errors="replace")
        elif path.suffix == ".parquet":
            yield str(path), repr(pq.read_table(path).to_pylist())
        else:
            yield str(path), data.decode(errors="replace")


def test_saved_files_hold_no_secret(saved: tuple[Path, list[str], list[str]]) -> None:
    root, secrets, _ = saved
    texts = list(_texts(root))
    assert any(name.endswith("manifest.json") for name, _ in texts) and any(".parquet" in n for n, _ in texts)
    assert [name for name, text in texts if any(s in text or s[-12:] in text for s in secrets)] == []
    for name, text in texts:
        hygiene.assert_clean(hygiene.scan_text(text, where=name))


def test_reprs_inspection_and_warnings_hold_no_secret(saved: tuple[Path, list[str], list[str]]) -> None:
    _, secrets, shown = saved
    assert len(shown) >= 7 and all(shown)
    assert [text[:80] for text in shown if any(s in text or s[-12:] in text for s in secrets)] == []


def test_the_snapshot_names_the_agent_without_its_credentials(saved: tuple[Path, list[str], list[str]]) -> None:
    root, _, _ = saved
    manifest = open_snapshot(root / "snap.tar.gz").manifest
    assert manifest["address"] == "http://nomad.example:4646"   # the credentials went to the auth header
