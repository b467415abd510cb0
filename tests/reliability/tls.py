"""TLS / mutual-TLS matrix: every ``NOMAD_*`` TLS variable, set right and set wrong.

Certificates come from ``trustme``: the cluster's CA signs the agent's certificates (one for
``127.0.0.1``, one naming only ``server.global.nomad`` as Nomad's own do) and a client
certificate; another CA signs a client certificate the agent must refuse. Each case sets the
variables, builds the client from the environment as the CLI would, reads ``/v1/jobs``
from the served simulator, and must either answer or fail with a
:class:`~nomadlab.errors.NomadError` that names what to set (a variable or the scheme),
without being retried.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import trustme

from nomadlab.client import NomadClient, RetryPolicy
from nomadlab.errors import NomadError, NomadInsecureWarning
from nomadlab.sim import SimCluster

from .figures import Figure

__all__ = ["CASES", "Case", "certificates", "measure", "measure_all"]


@dataclass(frozen=True)
class Case:
    """One row: the agent's setup, the variables set, and what must happen."""

    name: str
    server: str                 # "tls", "mtls" or "named" (certificate for server.global.nomad only)
    env: dict[str, str]         # values may name files by key: "{ca}", "{client_cert}", ...
    ok: bool
    says: tuple[str, ...] = ()  # what the error must name (each of them)
    warns: bool = False         # NomadInsecureWarning expected
    scheme: str = "https"


CASES: tuple[Case, ...] = (
    Case("NOMAD_CACERT right", "tls", {"NOMAD_CACERT": "{ca}"}, ok=True),
    Case("NOMAD_CACERT wrong CA", "tls", {"NOMAD_CACERT": "{other_ca}"}, ok=False, says=("NOMAD_CACERT",)),
    Case("NOMAD_CACERT missing file", "tls", {"NOMAD_CACERT": "{missing}"}, ok=False, says=("NOMAD_CACERT",)),
    Case("no CA set (system roots)", "tls", {}, ok=False, says=("NOMAD_CACERT",)),
    Case("NOMAD_CAPATH right", "tls", {"NOMAD_CAPATH": "{ca_dir}"}, ok=True),
    Case("NOMAD_CAPATH wrong CA", "tls", {"NOMAD_CAPATH": "{other_ca_dir}"}, ok=False, says=("NOMAD_CAPATH",)),
    Case("NOMAD_CAPATH empty folder", "tls", {"NOMAD_CAPATH": "{empty_dir}"}, ok=False, says=("NOMAD_CAPATH",)),
    Case("NOMAD_CLIENT_CERT/KEY right (mTLS)", "mtls",
         {"NOMAD_CACERT": "{ca}", "NOMAD_CLIENT_CERT": "{client_cert}", "NOMAD_CLIENT_KEY": "{client_key}"}, ok=True),
    Case("no client certificate (mTLS)", "mtls", {"NOMAD_CACERT": "{ca}"}, ok=False,
         says=("NOMAD_CLIENT_CERT", "NOMAD_CLIENT_KEY")),
    Case("client certificate of another CA (mTLS)", "mtls",
         {"NOMAD_CACERT": "{ca}", "NOMAD_CLIENT_CERT": "{other_client_cert}",
          "NOMAD_CLIENT_KEY": "{other_client_key}"}, ok=False, says=("NOMAD_CLIENT_CERT", "NOMAD_CLIENT_KEY")),
    Case("NOMAD_CLIENT_KEY not the certificate's key", "mtls",
         {"NOMAD_CACERT": "{ca}", "NOMAD_CLIENT_CERT": "{client_cert}", "NOMAD_CLIENT_KEY": "{other_client_key}"},
         ok=False, says=("NOMAD_CLIENT_KEY",)),
    Case("NOMAD_CLIENT_CERT without NOMAD_CLIENT_KEY", "mtls",
         {"NOMAD_CACERT": "{ca}", "NOMAD_CLIENT_CERT": "{client_cert}"}, ok=False, says=("NOMAD_CLIENT_KEY",)),
    Case("NOMAD_TLS_SERVER_NAME right", "named",
         {"NOMAD_CACERT": "{ca}", "NOMAD_TLS_SERVER_NAME": "server.global.nomad"}, ok=True),
    Case("NOMAD_TLS_SERVER_NAME unset, agent named otherwise", "named", {"NOMAD_CACERT": "{ca}"}, ok=False,
         says=("NOMAD_TLS_SERVER_NAME",)),
    Case("NOMAD_TLS_SERVER_NAME wrong", "named",
         {"NOMAD_CACERT": "{ca}", "NOMAD_TLS_SERVER_NAME": "client.global.nomad"}, ok=False,
         says=("NOMAD_TLS_SERVER_NAME",)),
    Case("NOMAD_SKIP_VERIFY=true, untrusted agent", "tls", {"NOMAD_SKIP_VERIFY": "true"}, ok=True, warns=True),
    Case("NOMAD_SKIP_VERIFY=false, untrusted agent", "tls", {"NOMAD_SKIP_VERIFY": "false"}, ok=False,
         says=("NOMAD_CACERT",)),
    Case("http:// to the TLS port", "tls", {"NOMAD_CACERT": "{ca}"}, ok=False, says=("https://",), scheme="http"),
    Case("https:// to a plain agent", "plain", {"NOMAD_CACERT": "{ca}"}, ok=False, says=("http://",)),
)


@contextlib.contextmanager
def certificates() -> Iterator[dict[str, str]]:
    """The certificate files of the matrix, in a temporary folder, by key."""
    ca, other = trustme.CA(), trustme.CA()
    with tempfile.TemporaryDirectory(prefix="nomadlab-tls-") as tmp:
        root = Path(tmp)
        files: dict[str, str] = {}

        def put(key: str, blob: trustme.Blob, folder: Path = root) -> None:
            folder.mkdir(exist_ok=True)
            path = folder / f"{key}.pem"
            blob.write_to_path(str(path))
            files[key] = str(path)

        put("ca", ca.cert_pem)
        put("other_ca", other.cert_pem)
        put("ca_copy", ca.cert_pem, root / "ca.d")
        put("other_ca_copy", other.cert_pem, root / "other.d")
        (root / "empty.d").mkdir()
        (root / "empty.d" / "README").write_text("no certificate here\n")
        files.update(ca_dir=str(root / "ca.d"), other_ca_dir=str(root / "other.d"),
                     empty_dir=str(root / "empty.d"), missing=str(root / "absent.pem"))
        server = ca.issue_cert("127.0.0.1", "localhost")
        named = ca.issue_cert("server.global.nomad")
        client = ca.issue_cert("client.global.nomad")
        stranger = other.issue_cert("client.global.nomad")
        for key, cert in (("server", server), ("named", named), ("client", client), ("other_client", stranger)):
            put(f"{key}_cert", cert.cert_chain_pems[0])
            put(f"{key}_key", cert.private_key_pem)
        yield files


def _serve_kwargs(server: str, files: dict[str, str]) -> dict[str, str]:
    if server == "plain":
        return {}
    cert = "named" if server == "named" else "server"
    kwargs = {"ssl_certfile": files[f"{cert}_cert"], "ssl_keyfile": files[f"{cert}_key"]}
    if server == "mtls":
        kwargs["ssl_ca_certs"] = files["ca"]
    return kwargs


def measure(case: Case, cluster: SimCluster, files: dict[str, str]) -> Figure:
    """Run one case; survived when it answered, or failed at once saying what to set."""
    env = {k: v.format(**files) for k, v in case.env.items()}
    saved = {k: os.environ.get(k) for k in [*env, "NOMAD_ADDR"]}
    sleeps: list[float] = []
    try:
        with cluster.serve(port=0, ticker=False, **_serve_kwargs(case.server, files)) as url:
            scheme_url = url.replace("https://", "http://") if case.scheme == "http" else url
            if case.server == "plain":
                scheme_url = url.replace("http://", "https://")
            os.environ.update(env, NOMAD_ADDR=scheme_url)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    with NomadClient(sleep=sleeps.append, retry=RetryPolicy(attempts=3)) as client:
                        client.get("/v1/jobs")
                except NomadError as exc:
                    error: NomadError | None = exc
                else:
                    error = None
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    warned = any(issubclass(w.category, NomadInsecureWarning) for w in caught)
    if case.ok:
        ok = error is None and warned == case.warns
        detail = "answered" + (", warned verification is off" if warned else "") if ok else f"{error!r}"[:200]
    else:
        text = str(error) if error is not None else ""
        ok = error is not None and all(s in text for s in case.says) and not sleeps
        detail = (f"{type(error).__name__}, names {', '.join(case.says)}" if ok
                  else f"{type(error).__name__ if error else 'answered'}: {text}"[:240]
                  + (f" (retried {len(sleeps)}x)" if sleeps else ""))
    return Figure("tls", case.name, 1, int(ok), detail=detail)


def measure_all() -> list[Figure]:
    """Every case of :data:`CASES`."""
    cluster = SimCluster.default(seed=2)
    with certificates() as files:
        return [measure(case, cluster, files) for case in CASES]
