"""Read-only is decided per cluster: which server URLs are one cluster, and why a context is read-only."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from core.config import Config, ContextSettings
from core.kubeconfig import Kubeconfig
from core.read_only import ReadOnlyCause, ReadOnlyReason, cluster_identity, read_only_reason, same_cluster


@pytest.mark.parametrize(
    ("server", "other"),
    [
        ("https://prod.example.com", "https://prod.example.com:443/"),
        ("https://PROD.example.com.", "https://prod.example.com"),
        ("http://k8s.local", "http://k8s.local:80"),
        ("prod.example.com:6443", "https://prod.example.com:6443"),  # kubectl's default scheme
        ("http://127.0.0.1:6443", "http://localhost:6443/"),
        ("http://[::1]:6443", "http://127.0.0.1:6443"),
        ("http://localhost:6443", "http://127.0.0.2:6443"),
        ("http://[::ffff:127.0.0.1]:6443", "http://localhost:6443"),
        ("https://user:secret@prod.example.com/?timeout=5", "https://prod.example.com"),
        ("https://rancher.example.com/k8s/clusters/c-1/", "https://rancher.example.com/k8s/clusters/c-1"),
        # IPv4 literals as the resolver (inet_aton) reads them.
        ("http://127.0.0.1:17001", "http://127.1:17001"),
        ("http://127.0.0.1:17001", "http://0x7f000001:17001"),
        ("http://127.0.0.1:17001", "http://2130706433:17001"),
        ("http://127.0.0.1:17001", "http://127.000.000.001:17001"),
        ("https://10.0.0.1:6443", "https://10.1:6443"),
    ],
)
def test_urls_that_reach_one_server_are_one_cluster(server: str, other: str) -> None:
    assert same_cluster(server, other)
    assert same_cluster(other, server)


@pytest.mark.parametrize(
    ("server", "other"),
    [
        ("http://127.0.0.1:6443", "http://127.0.0.1:6444"),  # two sandboxes on this machine
        ("https://prod.example.com", "https://prod.example.com:6443"),
        ("https://prod.example.com:443", "http://prod.example.com:443"),
        ("https://prod.example.com", "https://dev.example.com"),
        ("http://localhost:6443", "http://10.0.0.1:6443"),
        # One proxy host, many clusters told apart by path (Rancher, the GKE Connect gateway).
        ("https://rancher.example.com/k8s/clusters/c-1", "https://rancher.example.com/k8s/clusters/c-2"),
        ("", ""),  # a context whose cluster has no server is nobody's twin
        ("https://:6443", "https://:6443"),
        ("https://prod.example.com:http", "https://prod.example.com:http"),
        ("https://10.0.0.1:6443", "https://10.0.0.2:6443"),
        ("https://cafe.example:6443", "https://0xcafe:6443"),  # a host name, not a number
    ],
)
def test_urls_of_different_servers_are_not_one_cluster(server: str, other: str) -> None:
    assert not same_cluster(server, other)


def test_identity_fills_in_default_ports_and_names_loopback() -> None:
    assert cluster_identity("https://Prod.example.com/") == ("https", "prod.example.com", 443, "")
    assert cluster_identity("http://localhost:8080/api/") == ("http", "loopback", 8080, "/api")
    assert cluster_identity("in-cluster") == ("https", "in-cluster", 443, "")
    assert cluster_identity("   ") is None


SERVERS = {
    "prod": "https://prod.example.com:6443",
    "prod-admin": "https://PROD.example.com:6443/",
    "prod-viewer": "https://prod.example.com:6443",
    "dev": "https://dev.example.com:6443",
    "sandbox": "http://127.0.0.1:41000",
    "sandbox-alias": "http://localhost:41000",
    "orphan": "",
}


def kubeconfig(servers: dict[str, str] = SERVERS) -> Kubeconfig:
    return Kubeconfig("test kubeconfig", MappingProxyType(servers), "dev", None)


def config(read_only: bool = False, **contexts: bool) -> Config:
    settings = {name: ContextSettings(read_only=value) for name, value in contexts.items()}
    return Config(apps=(), read_only=read_only, contexts=MappingProxyType(settings))


def test_a_context_on_the_cluster_of_a_read_only_context_is_read_only() -> None:
    reason = read_only_reason(config(prod=True), kubeconfig(), "prod-admin")
    assert reason == ReadOnlyReason(
        ReadOnlyCause.SAME_CLUSTER, "prod-admin", "prod", "https://PROD.example.com:6443"
    )
    assert reason.note == "same cluster as prod"
    assert str(reason) == (
        "context 'prod-admin' reaches the same cluster (https://PROD.example.com:6443) as context 'prod', "
        "which is read-only (contexts.prod.readOnly in kubedrift.yaml)"
    )
    assert read_only_reason(config(prod=True), kubeconfig(), "dev") is None
    assert read_only_reason(config(sandbox=True), kubeconfig(), "sandbox-alias") is not None


def test_the_context_itself_and_the_global_switches_come_first() -> None:
    own = read_only_reason(config(prod=True, **{"prod-admin": True}), kubeconfig(), "prod-admin")
    assert own == ReadOnlyReason(ReadOnlyCause.CONTEXT, "prod-admin", "prod-admin")
    assert (own.note, str(own)) == (
        "",
        "context 'prod-admin' is read-only (contexts.prod-admin.readOnly in kubedrift.yaml)",
    )
    for reason in (
        read_only_reason(config(read_only=True), kubeconfig(), "dev"),
        read_only_reason(config(), kubeconfig(), "dev", forced=True),
        read_only_reason(config(), None, None, forced=True),
    ):
        assert reason is not None and reason.cause is ReadOnlyCause.EVERYWHERE
        assert "--read-only" in str(reason)


def test_the_marking_context_is_named_the_same_way_every_time() -> None:
    # Two read-only contexts on the cluster: the first by name is the one quoted, on every run.
    both = config(prod=True, **{"prod-viewer": True})
    reason = read_only_reason(both, kubeconfig(), "prod-admin")
    assert reason is not None and reason.marked_by == "prod"


def test_what_cannot_be_compared_is_left_to_the_name() -> None:
    assert read_only_reason(config(prod=True), None, "prod-admin") is None, "no kubeconfig: name only"
    assert read_only_reason(config(prod=True), None, "prod") is not None
    assert read_only_reason(config(orphan=True), kubeconfig(), "dev") is None
    assert read_only_reason(config(orphan=True), kubeconfig(), "orphan") is not None
    assert read_only_reason(config(elsewhere=True), kubeconfig(), "prod") is None, "not in the kubeconfig"
    assert read_only_reason(config(prod=False), kubeconfig(), "prod-admin") is None
    assert read_only_reason(config(prod=True), kubeconfig(), None) is None


def test_the_shared_server_is_quoted_without_credentials() -> None:
    servers = {"prod": "https://prod.example.com", "admin": "https://bot:TOKEN@prod.example.com/"}
    reason = read_only_reason(config(prod=True), kubeconfig(servers), "admin")
    assert reason is not None and reason.server == "https://prod.example.com"
    assert "TOKEN" not in str(reason)
