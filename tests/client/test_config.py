"""NomadConfig: CLI-like precedence, every NOMAD_* variable, TLS defaults, no secret printed."""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import pytest
import trustme

from nomadlab.config import DEFAULT_ADDRESS, NomadConfig, parse_go_bool
from nomadlab.errors import NomadConfigError

from .conftest import TOKEN


def test_autouse_fixture_leaves_no_nomad_variables() -> None:
    from tests import hygiene

    left = {k: v for k, v in os.environ.items() if k.startswith("NOMAD_")}
    assert left == ({"NOMAD_TOKEN": hygiene.token()} if hygiene.enabled() else {})


def test_defaults_without_environment() -> None:
    cfg = NomadConfig.from_env(environ={})
    assert cfg.address == DEFAULT_ADDRESS == "http://127.0.0.1:4646"
    assert (cfg.token, cfg.namespace, cfg.region) == (None, None, None)
    assert cfg.skip_verify is False
    assert cfg.headers() == {}


@pytest.mark.parametrize(
    ("variable", "value", "attribute", "expected"),
    [
        ("NOMAD_ADDR", "https://nomad.example:4646", "address", "https://nomad.example:4646"),
        ("NOMAD_TOKEN", TOKEN, "token", TOKEN),
        ("NOMAD_NAMESPACE", "web", "namespace", "web"),
        ("NOMAD_REGION", "eu-west", "region", "eu-west"),
        ("NOMAD_CACERT", "/etc/nomad/ca.pem", "ca_cert", "/etc/nomad/ca.pem"),
        ("NOMAD_CAPATH", "/etc/nomad/cas", "ca_path", "/etc/nomad/cas"),
        ("NOMAD_TLS_SERVER_NAME", "server.global.nomad", "tls_server_name",
         "server.global.nomad"),
        ("NOMAD_SKIP_VERIFY", "true", "skip_verify", True),
        ("NOMAD_HTTP_AUTH", "alice:pa:ss", "http_auth", ("alice", "pa:ss")),
        ("NOMAD_HTTP_AUTH", "alice", "http_auth", ("alice", "")),
    ],
    ids=["addr", "token", "namespace", "region", "cacert", "capath", "server-name",
         "skip-verify", "http-auth", "http-auth-user-only"],
)
def test_each_variable_is_read(variable: str, value: str, attribute: str, expected: object,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(variable, value)
    assert getattr(NomadConfig.from_env(), attribute) == expected


def test_client_cert_and_key_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOMAD_CLIENT_CERT", "/c.pem")
    monkeypatch.setenv("NOMAD_CLIENT_KEY", "/k.pem")
    cfg = NomadConfig.from_env()
    assert (cfg.client_cert, cfg.client_key) == ("/c.pem", "/k.pem")


def test_explicit_arguments_beat_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOMAD_ADDR", "http://from-env:4646")
    monkeypatch.setenv("NOMAD_TOKEN", "env-token")
    monkeypatch.setenv("NOMAD_NAMESPACE", "env-ns")
    monkeypatch.setenv("NOMAD_SKIP_VERIFY", "1")
    cfg = NomadConfig.from_env(address="http://explicit:4646", token=TOKEN, namespace="web",
                               skip_verify=False)
    assert (cfg.address, cfg.token, cfg.namespace, cfg.skip_verify) == (
        "http://explicit:4646", TOKEN, "web", False)


def test_empty_variable_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOMAD_ADDR", "")
    monkeypatch.setenv("NOMAD_TOKEN", "")
    cfg = NomadConfig.from_env()
    assert (cfg.address, cfg.token) == (DEFAULT_ADDRESS, None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", True), ("t", True), ("TRUE", True), ("True", True), ("0", False), ("F", False),
     ("false", False), ("yes", None), ("on", None), ("", None)],
    ids=lambda v: repr(v),
)
def test_skip_verify_is_a_go_boolean(text: str, expected: bool | None) -> None:
    assert parse_go_bool(text) is expected


def test_unparseable_skip_verify_is_ignored_like_the_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOMAD_SKIP_VERIFY", "yes")
    assert NomadConfig.from_env().skip_verify is False


@pytest.mark.parametrize(
    ("given", "address"),
    [("127.0.0.1:4646", "http://127.0.0.1:4646"),
     ("https://nomad.example:4646/", "https://nomad.example:4646"),
     ("http://nomad.example:4646/prefix/", "http://nomad.example:4646/prefix")],
    ids=["no-scheme", "trailing-slash", "path-prefix"],
)
def test_address_is_normalised(given: str, address: str) -> None:
    assert NomadConfig(address=given).address == address


def test_credentials_in_address_move_to_http_auth_and_win() -> None:
    cfg = NomadConfig.from_env(address="https://bob:s%40cret@nomad.example:4646",
                               http_auth="alice:other", environ={})
    assert cfg.address == "https://nomad.example:4646"
    assert cfg.http_auth == ("bob", "s@cret")
    assert "s@cret" not in repr(cfg)


@pytest.mark.parametrize("address", ["ftp://nomad:21", "http://"], ids=["scheme", "no-host"])
def test_bad_address_is_a_config_error(address: str) -> None:
    with pytest.raises(NomadConfigError):
        NomadConfig(address=address)


@pytest.mark.parametrize("present", ["client_cert", "client_key"])
def test_client_cert_needs_key(present: str) -> None:
    with pytest.raises(NomadConfigError, match="NOMAD_CLIENT_CERT and NOMAD_CLIENT_KEY"):
        NomadConfig(**{present: "/x.pem"})  # type: ignore[arg-type]


def test_token_is_trimmed_like_nomad_does() -> None:
    assert NomadConfig(token=f"  {TOKEN}\n").token == TOKEN
    assert NomadConfig(token="   ").token is None


def test_token_and_password_never_print() -> None:
    cfg = NomadConfig(token=TOKEN, http_auth=("alice", "hunter2-password"), namespace="web")
    for text in (repr(cfg), str(cfg), f"{cfg}", repr([cfg])):
        assert TOKEN not in text
        assert "hunter2-password" not in text
    assert "namespace='web'" in repr(cfg)
    assert "token='<redacted>'" in repr(cfg)


def test_config_is_frozen() -> None:
    cfg = NomadConfig()
    with pytest.raises(AttributeError):
        cfg.token = "x"  # type: ignore[misc]


def test_tls_is_verified_by_default() -> None:
    ctx = NomadConfig(address="https://nomad.example:4646").ssl_context()
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.check_hostname is True


def test_skip_verify_turns_verification_off() -> None:
    ctx = NomadConfig(address="https://nomad.example:4646", skip_verify=True).ssl_context()
    assert ctx.verify_mode == ssl.CERT_NONE
    assert ctx.check_hostname is False


def test_ca_cert_is_loaded(tmp_path: Path) -> None:
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    ctx = NomadConfig(ca_cert=str(ca_file)).ssl_context()
    subjects = [dict(x[0] for x in c["subject"]) for c in ctx.get_ca_certs()]
    assert len(subjects) == 1  # only our CA, not the system roots
    assert subjects[0]["organizationName"].startswith("trustme")


@pytest.mark.parametrize(
    ("fields", "expected"),
    [({"ca_cert": "/ca.pem", "ca_path": "/cas"}, {"cafile": "/ca.pem"})],
    ids=["ca-cert-wins"],
)
def test_ca_precedence(fields: dict[str, str], expected: dict[str, str],
                       monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, str]] = []
    real = ssl.create_default_context

    def spy(**kwargs: str) -> ssl.SSLContext:
        calls.append(kwargs)
        return real()

    monkeypatch.setattr(ssl, "create_default_context", spy)
    NomadConfig(**fields).ssl_context()  # type: ignore[arg-type]
    assert calls == [expected]


def test_missing_ca_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(NomadConfigError, match="NOMAD_CACERT"):
        NomadConfig(ca_cert=str(tmp_path / "missing.pem")).ssl_context()


def test_ca_path_reads_every_pem_file_as_nomad_does(tmp_path: Path) -> None:
    """Nomad loads each certificate under NOMAD_CAPATH; OpenSSL's hashed names are not needed."""
    first, second = trustme.CA(), trustme.CA()
    (tmp_path / "sub").mkdir()
    first.cert_pem.write_to_path(str(tmp_path / "one.pem"))
    second.cert_pem.write_to_path(str(tmp_path / "sub" / "two.crt"))
    (tmp_path / "notes.txt").write_text("not a certificate")
    ctx = NomadConfig(ca_path=str(tmp_path)).ssl_context()
    assert len(ctx.get_ca_certs()) == 2


@pytest.mark.parametrize("make", ["missing", "empty"])
def test_ca_path_without_certificates_says_what_to_set(tmp_path: Path, make: str) -> None:
    folder = tmp_path / "cas"
    if make == "empty":
        folder.mkdir()
    with pytest.raises(NomadConfigError, match="NOMAD_CAPATH.*NOMAD_CACERT"):
        NomadConfig(ca_path=str(folder)).ssl_context()
