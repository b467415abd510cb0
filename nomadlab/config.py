"""How to reach a Nomad agent: address, ACL token, namespace, region and TLS.

:class:`NomadConfig` is read the way the ``nomad`` CLI reads it: explicit arguments first, then
the ``NOMAD_*`` environment variables, then the CLI's defaults (``http://127.0.0.1:4646``, no
token, the agent's own namespace and region, TLS verified against the system roots).

=========================  ==========================================================
variable                   field
=========================  ==========================================================
``NOMAD_ADDR``             ``address`` (``user:pass@`` in it becomes ``http_auth``)
``NOMAD_TOKEN``            ``token`` (sent as ``X-Nomad-Token``)
``NOMAD_NAMESPACE``        ``namespace`` (``*`` means every namespace, on list endpoints)
``NOMAD_REGION``           ``region``
``NOMAD_CACERT``           ``ca_cert`` (wins over ``ca_path`` when both are set)
``NOMAD_CAPATH``           ``ca_path``
``NOMAD_CLIENT_CERT``      ``client_cert`` (needs ``client_key``)
``NOMAD_CLIENT_KEY``       ``client_key``
``NOMAD_TLS_SERVER_NAME``  ``tls_server_name`` (SNI and the name checked in the cert)
``NOMAD_SKIP_VERIFY``      ``skip_verify`` (a Go boolean: ``1``/``t``/``true``...; else ignored)
``NOMAD_HTTP_AUTH``        ``http_auth`` (``user:password`` or ``user``)
=========================  ==========================================================

Building a config never touches the network or the file system; :meth:`NomadConfig.ssl_context`
reads the certificate files when the client is built. The token and the basic-auth password
never appear in ``repr``/``str``.

Example
-------
>>> cfg = NomadConfig.from_env(address="http://127.0.0.1:4646", token="s3cr3t", environ={})
>>> "s3cr3t" in repr(cfg)
False
"""

from __future__ import annotations

import os
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from nomadlab.errors import NomadConfigError

__all__ = ["DEFAULT_ADDRESS", "NomadConfig", "parse_go_bool"]

DEFAULT_ADDRESS = "http://127.0.0.1:4646"

# Environment variable → field, as the Nomad CLI's api.DefaultConfig reads them.
_ENV_FIELDS: tuple[tuple[str, str], ...] = (
    ("NOMAD_ADDR", "address"),
    ("NOMAD_TOKEN", "token"),
    ("NOMAD_NAMESPACE", "namespace"),
    ("NOMAD_REGION", "region"),
    ("NOMAD_CACERT", "ca_cert"),
    ("NOMAD_CAPATH", "ca_path"),
    ("NOMAD_CLIENT_CERT", "client_cert"),
    ("NOMAD_CLIENT_KEY", "client_key"),
    ("NOMAD_TLS_SERVER_NAME", "tls_server_name"),
)

# Go's strconv.ParseBool: anything else is an error, which the CLI ignores.
_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def parse_go_bool(text: str) -> bool | None:
    """``strconv.ParseBool``: ``True``/``False``, or ``None`` when Go would refuse the text."""
    if text in _GO_TRUE:
        return True
    if text in _GO_FALSE:
        return False
    return None


def _redacted(address: str) -> str:
    """``address`` with any ``user:password@`` replaced by ``<redacted>@``, for messages."""
    scheme, sep, rest = address.partition("://")
    if not sep:
        scheme, rest = "", address
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        authority = "<redacted>@" + authority.rpartition("@")[2]
    return f"{scheme}{sep}{authority}{slash}{path}"


def _bad_character(text: str) -> int | None:
    """The position of the first character an HTTP header cannot carry (a control character
    or anything outside ASCII), or None when there is none."""
    for i, ch in enumerate(text):
        if not " " <= ch <= "~":
            return i
    return None


def _ca_path_pems(folder: str) -> str:
    """Every PEM certificate in the files under ``folder``, joined (what ``NOMAD_CAPATH`` names)."""
    root = Path(folder)
    if not root.is_dir():
        raise NomadConfigError(f"NOMAD_CAPATH {folder!r} is not a folder: set it to the folder holding the CA's "
                               "PEM files, or set NOMAD_CACERT to the CA file itself")
    pems: list[str] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        pems += re.findall(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", text, flags=re.S)
    if not pems:
        raise NomadConfigError(f"NOMAD_CAPATH {folder!r} holds no PEM certificate: put the CA's certificate "
                               "there, or set NOMAD_CACERT to the CA file itself")
    return "\n".join(pems) + "\n"


def _split_http_auth(text: str) -> tuple[str, str]:
    user, _, password = text.partition(":")
    return user, password


@dataclass(frozen=True, repr=False)
class NomadConfig:
    """Connection settings for one Nomad agent (frozen; see the module docstring for env names).

    Parameters
    ----------
    address
        Base URL of the agent's HTTP API. A value without a scheme gets ``http://``.
        Credentials in the URL (``https://user:pass@host``) move to ``http_auth``.
    token
        ACL token ``SecretID``; sent as ``X-Nomad-Token``. Never printed.
    namespace, region
        Sent as ``?namespace=``/``?region=`` unless a call names its own. ``None`` sends
        nothing (Nomad then uses ``default`` and the agent's region).
    ca_cert, ca_path, client_cert, client_key, tls_server_name, skip_verify
        TLS settings, named like the CLI flags. Verification is on unless ``skip_verify``.
    http_auth
        ``(user, password)`` for HTTP basic auth in front of the agent. The password is never
        printed.
    timeout
        Seconds for connecting and for a non-blocking read. Blocking queries add their wait.
    """

    address: str = DEFAULT_ADDRESS
    token: str | None = None
    namespace: str | None = None
    region: str | None = None
    ca_cert: str | None = None
    ca_path: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    tls_server_name: str | None = None
    skip_verify: bool = False
    http_auth: tuple[str, str] | None = None
    timeout: float = 30.0

    def __post_init__(self) -> None:
        address = self.address.strip() or DEFAULT_ADDRESS
        if "://" not in address:
            address = "http://" + address
        shown = _redacted(address)
        try:
            parts = urlsplit(address)
            parts.port  # noqa: B018  (a port that is not a number in 0-65535 raises here)
        except ValueError:
            raise NomadConfigError(
                f"address {shown!r} has an invalid port: give a number from 1 to 65535 in "
                "NOMAD_ADDR, as in http://127.0.0.1:4646"
            ) from None
        if parts.scheme not in ("http", "https"):
            raise NomadConfigError(
                f"address {parts.scheme}://{parts.hostname or ''} has an unsupported scheme: "
                "use http:// or https:// in NOMAD_ADDR"
            )
        if not parts.hostname:
            raise NomadConfigError(f"address {shown!r} has no host: set NOMAD_ADDR to http://host:4646")
        if parts.port == 0:
            raise NomadConfigError(
                f"address {shown!r} has port 0: give the agent's HTTP port (4646 by default) in NOMAD_ADDR"
            )
        if parts.username is not None or parts.password is not None:
            # As in the Go client, credentials in the URL win over NOMAD_HTTP_AUTH.
            object.__setattr__(
                self, "http_auth", (unquote(parts.username or ""), unquote(parts.password or ""))
            )
            netloc = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
            if ":" in (parts.hostname or "") and not netloc.startswith("["):
                netloc = f"[{parts.hostname}]" + ("" if parts.port is None else f":{parts.port}")
            address = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
        object.__setattr__(self, "address", address.rstrip("/"))
        if self.token is not None:
            token = self.token.strip()
            at = _bad_character(token)
            if at is not None:
                raise NomadConfigError(
                    f"the ACL token holds a character an HTTP header cannot carry (a control or "
                    f"non-ASCII character, at position {at}): set NOMAD_TOKEN to the token's "
                    "SecretID alone (check for a pasted newline or quote)"
                )
            object.__setattr__(self, "token", token or None)
        if self.http_auth is not None and any(_bad_character(str(p)) is not None for p in self.http_auth):
            raise NomadConfigError(
                "the HTTP basic-auth user or password holds a control or non-ASCII character: "
                "fix NOMAD_HTTP_AUTH (or the user:password in NOMAD_ADDR)"
            )
        if bool(self.client_cert) != bool(self.client_key):
            raise NomadConfigError(
                "both a client certificate and a client key are needed for mutual TLS: "
                "set NOMAD_CLIENT_CERT and NOMAD_CLIENT_KEY together"
            )
        if self.timeout <= 0:
            raise NomadConfigError("timeout must be a positive number of seconds")

    # -- construction -------------------------------------------------------------------

    @classmethod
    def from_env(
        cls,
        *,
        address: str | None = None,
        token: str | None = None,
        namespace: str | None = None,
        region: str | None = None,
        ca_cert: str | None = None,
        ca_path: str | None = None,
        client_cert: str | None = None,
        client_key: str | None = None,
        tls_server_name: str | None = None,
        skip_verify: bool | None = None,
        http_auth: tuple[str, str] | str | None = None,
        timeout: float | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> NomadConfig:
        """Explicit arguments, then ``NOMAD_*`` variables, then defaults (as the CLI does).

        An argument left at ``None`` falls back to its variable; an empty variable counts as
        unset. ``environ`` replaces ``os.environ`` (for tests).
        """
        env = os.environ if environ is None else environ
        explicit: dict[str, object] = {
            "address": address,
            "token": token,
            "namespace": namespace,
            "region": region,
            "ca_cert": ca_cert,
            "ca_path": ca_path,
            "client_cert": client_cert,
            "client_key": client_key,
            "tls_server_name": tls_server_name,
        }
        values: dict[str, object] = {}
        for var, name in _ENV_FIELDS:
            if explicit[name] is not None:
                values[name] = explicit[name]
            elif env.get(var):
                values[name] = env[var]
        if skip_verify is not None:
            values["skip_verify"] = skip_verify
        elif env.get("NOMAD_SKIP_VERIFY"):
            parsed = parse_go_bool(env["NOMAD_SKIP_VERIFY"])
            if parsed is not None:
                values["skip_verify"] = parsed
        if isinstance(http_auth, str):
            values["http_auth"] = _split_http_auth(http_auth)
        elif http_auth is not None:
            values["http_auth"] = http_auth
        elif env.get("NOMAD_HTTP_AUTH"):
            values["http_auth"] = _split_http_auth(env["NOMAD_HTTP_AUTH"])
        if timeout is not None:
            values["timeout"] = timeout
        return cls(**values)  # type: ignore[arg-type]

    def with_options(self, **changes: object) -> NomadConfig:
        """A copy with some fields changed (``dataclasses.replace``)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    # -- derived values -----------------------------------------------------------------

    @property
    def uses_tls(self) -> bool:
        """Whether ``address`` is ``https://``."""
        return self.address.startswith("https://")

    def headers(self) -> dict[str, str]:
        """Headers sent on every request (the token, when there is one)."""
        return {"X-Nomad-Token": self.token} if self.token else {}

    def ssl_context(self) -> ssl.SSLContext:
        """An SSL context from the TLS fields (reads the certificate files named here).

        ``ca_cert`` wins over ``ca_path`` (as with ``-ca-cert``/``-ca-path``); ``ca_path`` is
        read as Nomad reads it: every PEM certificate in every file under the folder (OpenSSL's
        hashed file names are not needed). With neither, the ``certifi`` roots are used.
        ``skip_verify`` turns verification off.
        """
        try:
            if self.ca_cert:
                ctx = ssl.create_default_context(cafile=self.ca_cert)
            elif self.ca_path:
                ctx = ssl.create_default_context(cadata=_ca_path_pems(self.ca_path))
            else:
                import certifi

                ctx = ssl.create_default_context(cafile=certifi.where())
            if self.client_cert and self.client_key:
                ctx.load_cert_chain(self.client_cert, self.client_key)
        except (OSError, ssl.SSLError) as exc:
            raise NomadConfigError(
                f"cannot load TLS files ({exc}): check NOMAD_CACERT, NOMAD_CAPATH, "
                "NOMAD_CLIENT_CERT and NOMAD_CLIENT_KEY"
            ) from exc
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.skip_verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    # -- printing -----------------------------------------------------------------------

    def __repr__(self) -> str:
        shown: list[str] = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value == f.default and f.name != "address":
                continue
            if f.name == "token":
                value = "<redacted>"
            elif f.name == "http_auth":
                value = (value[0], "<redacted>")
            shown.append(f"{f.name}={value!r}")
        return f"NomadConfig({', '.join(shown)})"

    __str__ = __repr__
