"""Whether kubedrift may write to a context's cluster, and why not: the one place that decides.

Read-only belongs to the cluster, not to the context's name. Two kubeconfig contexts often reach
one cluster (an admin and a viewer context, `prod` and `prod-eu-1`); `contexts: {prod: {readOnly:
true}}` in kubedrift.yaml must then hold through either, or a sync through the other one writes to
the cluster the person marked read-only.

Two contexts reach the same cluster when their server URLs do, compared as scheme, host, port and
path: default ports filled in, host names in any case, a trailing slash ignored, and every
loopback name (`localhost`, `127.0.0.1`, `[::1]`) one host, so sandboxes and port-forwards on this
machine compare by port. The path is kept: proxies such as Rancher (`/k8s/clusters/<id>`) and the
GKE Connect gateway serve many clusters from one host and tell them apart by path. Aliases that
only DNS knows (a CNAME, an IP address for a name) cannot be seen from the kubeconfig alone.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from core.redact import redact_url

if TYPE_CHECKING:
    from core.config import Config
    from core.kubeconfig import Kubeconfig

_DEFAULT_PORTS: Final = {"https": 443, "http": 80}
_LOOPBACK: Final = "loopback"

ClusterIdentity = tuple[str, str, int | None, str]
"""scheme, host (`loopback` for this machine), port, path: equal for URLs that reach one server."""


class ReadOnlyCause(StrEnum):
    """Why writes to a context are refused, from the broadest reason to the narrowest."""

    EVERYWHERE = "everywhere"
    """`--read-only`, or `readOnly: true` at the top of kubedrift.yaml."""
    CONTEXT = "context"
    """kubedrift.yaml marks this very context read-only."""
    SAME_CLUSTER = "same-cluster"
    """Another context, marked read-only, reaches the same cluster."""


@dataclass(frozen=True, slots=True)
class ReadOnlyReason:
    """Why kubedrift refuses to write through one context."""

    cause: ReadOnlyCause
    context: str | None
    """The context asked about."""
    marked_by: str | None = None
    """The context kubedrift.yaml marks read-only: `context` itself, or the one on the same cluster."""
    server: str | None = None
    """The shared server URL, without credentials (SAME_CLUSTER only)."""

    @property
    def note(self) -> str:
        """The short form for a header beside `READ-ONLY`: `same cluster as prod`, or empty."""
        return f"same cluster as {self.marked_by}" if self.cause is ReadOnlyCause.SAME_CLUSTER else ""

    def __str__(self) -> str:
        """The reason as the clause of a sentence: `context 'admin' reaches the same cluster as ...`."""
        if self.cause is ReadOnlyCause.EVERYWHERE:
            return "kubedrift is read-only (--read-only, or readOnly: true in kubedrift.yaml)"
        if self.cause is ReadOnlyCause.CONTEXT:
            return f"context {self.context!r} is read-only ({_setting(self.context)} in kubedrift.yaml)"
        return (
            f"context {self.context!r} reaches the same cluster ({self.server}) as context "
            f"{self.marked_by!r}, which is read-only ({_setting(self.marked_by)} in kubedrift.yaml)"
        )


def read_only_reason(
    config: Config,
    kubeconfig: Kubeconfig | None,
    context: str | None,
    *,
    forced: bool = False,
) -> ReadOnlyReason | None:
    """Why writes through `context` are refused, or None when they are allowed.

    `forced` is `--read-only`. Without a kubeconfig only the context's own name can be checked.
    """
    if forced or config.read_only:
        return ReadOnlyReason(ReadOnlyCause.EVERYWHERE, context)
    if context is None:
        return None
    marked = sorted(name for name, settings in config.contexts.items() if settings.read_only)
    if context in marked:
        return ReadOnlyReason(ReadOnlyCause.CONTEXT, context, context)
    servers: Mapping[str, str] = kubeconfig.contexts if kubeconfig is not None else {}
    identity = cluster_identity(servers.get(context, ""))
    if identity is None:
        return None
    for other in marked:
        if cluster_identity(servers.get(other, "")) == identity:
            return ReadOnlyReason(
                ReadOnlyCause.SAME_CLUSTER, context, other, redact_url(servers[context].rstrip("/"))
            )
    return None


def cluster_identity(server: str) -> ClusterIdentity | None:
    """What a server URL reaches, for comparing two of them; None when there is no usable URL."""
    text = server.strip()
    if not text:
        return None
    if "://" not in text:
        text = f"https://{text}"  # kubectl's default for `server: host:6443`
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:  # a port that is not a number, a broken IPv6 literal
        return None
    host = _canonical_ipv4((parts.hostname or "").rstrip("."))
    if not host:
        return None
    scheme = parts.scheme.lower()
    if port is None:
        port = _DEFAULT_PORTS.get(scheme)
    path = parts.path.rstrip("/")
    return scheme, _LOOPBACK if _is_loopback(host) else host, port, path


def same_cluster(server: str, other: str) -> bool:
    """Whether two server URLs reach one cluster, as `read_only_reason` compares them."""
    identity = cluster_identity(server)
    return identity is not None and identity == cluster_identity(other)


def _setting(context: str | None) -> str:
    return f"contexts.{context}.readOnly"


def _canonical_ipv4(host: str) -> str:
    """An IPv4 literal in the dotted-quad form, however it was spelled; anything else as it is.

    The resolver reads `127.1`, `0x7f000001`, `2130706433` and `127.000.000.001` all as 127.0.0.1
    (inet_aton's forms), so a kubeconfig can reach one server under any of those spellings.
    """
    if not host or not all(c in "0123456789abcdefxABCDEFX." for c in host):
        return host
    try:
        return socket.inet_ntoa(socket.inet_aton(host))
    except OSError:
        return host


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):  # RFC 6761: always this machine
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback
