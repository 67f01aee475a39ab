"""What `kubedrift agent` is told on its command line, checked, with the contract's defaults filled in.

Each mistake is one sentence naming the option and what to give instead (a ConfigError: exit 2).
"""

from __future__ import annotations

import os
import re
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from agent.stream import RETAINED_LINES
from core.errors import ConfigError, KubedriftError
from core.sharding import Shard

DEFAULT_LISTEN: Final = "0.0.0.0:8080"
KEEPALIVE_SECONDS: Final = 15.0
"""How long a watch stream stays silent before a keep-alive (a blank line, or an SSE comment)."""
DEFAULT_LEASE_NAMESPACE: Final = "kubedrift"
POD_NAMESPACE_FILE: Final = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
"""Where a pod reads its own namespace (the service account's projected volume)."""

_LISTEN: Final = re.compile(r"(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^:\[\]]*)):(?P<port>\d{1,5})")


@dataclass(frozen=True, slots=True)
class Listen:
    """Where the agent listens: `--listen HOST:PORT` (`[::1]:8080` for IPv6; an empty host: all)."""

    host: str
    port: int

    def url(self, port: int, *, tls: bool) -> str:
        """The address the agent serves on, with the port bound (`port` 0 picks a free one)."""
        host = f"[{self.host}]" if ":" in self.host else self.host or "0.0.0.0"
        return f"{'https' if tls else 'http'}://{host}:{port}"


def parse_listen(text: str) -> Listen:
    match = _LISTEN.fullmatch(text.strip())
    port = int(match.group("port")) if match else -1
    if match is None or port > 65535:
        raise ConfigError(
            f"--listen {text!r} is not HOST:PORT: give an address and a port, for example 0.0.0.0:8080, "
            "127.0.0.1:9090 or [::]:8080"
        )
    return Listen(match.group("v6") or match.group("host") or "", port)


@dataclass(frozen=True, slots=True)
class AgentOptions:
    """Everything about how the agent serves, beside what kubedrift.yaml says."""

    listen: Listen
    identity: str
    """The name in the status document, on each stream line, and as the Lease holder."""
    token_file: Path | None = None
    insecure_no_auth: bool = False
    tls_cert: Path | None = None
    tls_key: Path | None = None
    shard: Shard | None = None
    lease_namespace: str = DEFAULT_LEASE_NAMESPACE
    lease_context: str | None = None
    """The kubeconfig context whose cluster holds the Leases; None: in-cluster, else the current one."""
    retained_lines: int = RETAINED_LINES
    keepalive_seconds: float = KEEPALIVE_SECONDS

    def __post_init__(self) -> None:
        if (self.tls_cert is None) != (self.tls_key is None):
            given, missing = (
                ("--tls-cert", "--tls-key") if self.tls_key is None else ("--tls-key", "--tls-cert")
            )
            raise ConfigError(f"{given} needs {missing} too: give both the certificate and its private key")


def default_identity(environ: Mapping[str, str]) -> str:
    """`$HOSTNAME` (a pod's name), else this host's name and the process id."""
    return environ.get("HOSTNAME", "").strip() or f"{socket.gethostname()}-{os.getpid()}"


def default_lease_namespace(from_config: str | None, namespace_file: Path = POD_NAMESPACE_FILE) -> str:
    """kubedrift.yaml's `agent.leaseNamespace`, else the pod's own namespace, else `kubedrift`."""
    if from_config:
        return from_config
    try:
        found = namespace_file.read_text(encoding="utf-8").strip()
    except OSError:
        found = ""
    return found or DEFAULT_LEASE_NAMESPACE


def tls_context(options: AgentOptions) -> ssl.SSLContext | None:
    """The server's TLS context from --tls-cert and --tls-key; None for plain HTTP."""
    if options.tls_cert is None or options.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(options.tls_cert, options.tls_key)
    except FileNotFoundError as error:
        raise KubedriftError(
            f"cannot serve HTTPS: {error.filename or options.tls_cert} does not exist; "
            "check --tls-cert and --tls-key"
        ) from None
    except ssl.SSLError:  # OpenSSL's own words ("PEM lib (_ssl.c:3905)") tell a user nothing
        raise KubedriftError(
            f"cannot serve HTTPS: --tls-cert {options.tls_cert} and --tls-key {options.tls_key} are not a "
            "PEM certificate and the PEM private key that belongs to it"
        ) from None
    except OSError as error:
        raise KubedriftError(
            f"cannot serve HTTPS: cannot read --tls-cert {options.tls_cert} or --tls-key {options.tls_key}: "
            f"{error.strerror or error}"
        ) from None
    return context


def bind(listen: Listen) -> socket.socket:
    """The listening socket, bound now, so that a port in use is one sentence before anything starts."""
    host = listen.host or "0.0.0.0"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, listen.port), family=family, backlog=128, reuse_port=False)
    except OSError as error:
        shown = f"[{host}]:{listen.port}" if family == socket.AF_INET6 else f"{host}:{listen.port}"
        raise KubedriftError(
            f"cannot listen on {shown}: {error.strerror or error}; choose another --listen address or port"
        ) from None
