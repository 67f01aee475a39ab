"""What every way of installing the agent must hold, checked on the objects kubedrift itself builds
from deploy/: the kustomize base (with and without the writes component) and the Helm chart (default,
writes, TLS with monitoring, another release name). RBAC is read-only but for Leases unless writes are
asked for; the agents run as the contract says; Services, probes and the ServiceMonitor line up."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from typing import Any

import pytest

from tests.deploy.manifests import (
    CONFIG_FILE,
    MONITORED,
    ROOT,
    TOKEN_FILE,
    VARIANTS,
    WRITE_VERBS,
    Install,
    agent_container,
    alert_groups,
    config_document,
)

NAMESPACED = {
    "ServiceAccount",
    "Role",
    "RoleBinding",
    "ConfigMap",
    "Secret",
    "StatefulSet",
    "Service",
    "ServiceMonitor",
    "PrometheusRule",
}
LEASES = ("coordination.k8s.io", "leases")


@pytest.fixture(params=list(VARIANTS), ids=list(VARIANTS))
def install(request: pytest.FixtureRequest) -> Install:
    build: Callable[[], Install] = VARIANTS[request.param]
    return build()


@pytest.fixture(params=MONITORED, ids=MONITORED)
def monitored(request: pytest.FixtureRequest) -> Install:
    """The installs that asked for a ServiceMonitor and a PrometheusRule."""
    build: Callable[[], Install] = VARIANTS[request.param]
    return build()


def write_grants(install: Install, kind: str) -> dict[tuple[str, str], set[str]]:
    """(apiGroup, resource) -> the write verbs granted on it by every `kind` role."""
    grants: dict[tuple[str, str], set[str]] = {}
    for role in install.of_kind(kind):
        for rule in role.get("rules", []):
            verbs = set(rule.get("verbs", [])) & WRITE_VERBS
            for group in rule.get("apiGroups", []):
                for resource in rule.get("resources", []):
                    grants.setdefault((group, resource), set()).update(verbs)
    return {target: verbs for target, verbs in grants.items() if verbs}


def test_rbac_writes_nothing_but_leases_unless_writes_are_asked_for(install: Install) -> None:
    assert write_grants(install, "Role") == {LEASES: {"create", "update", "patch", "delete"}}
    cluster_writes = write_grants(install, "ClusterRole")
    if install.writes:
        assert cluster_writes == {("*", "*"): {"create", "update", "patch", "delete"}}
    else:
        assert cluster_writes == {}


def test_every_kind_is_readable_and_watchable(install: Install) -> None:
    readers = [
        rule
        for role in install.of_kind("ClusterRole")
        for rule in role["rules"]
        if rule.get("apiGroups") == ["*"] and rule.get("resources") == ["*"]
    ]
    assert any({"get", "list", "watch"} <= set(rule["verbs"]) for rule in readers)


def test_every_role_is_bound_to_the_agents_service_account(install: Install) -> None:
    pod = install.one("StatefulSet")["spec"]["template"]["spec"]
    account = install.one("ServiceAccount", pod["serviceAccountName"])
    assert account["metadata"]["namespace"] == install.namespace
    roles = {
        (obj["kind"], obj["metadata"]["name"]) for obj in install.objects if obj["kind"].endswith("Role")
    }
    bound = set()
    for binding in install.of_kind("ClusterRoleBinding") + install.of_kind("RoleBinding"):
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": pod["serviceAccountName"], "namespace": install.namespace}
        ]
        bound.add((binding["roleRef"]["kind"], binding["roleRef"]["name"]))
    assert bound == roles


def test_namespaced_objects_are_in_the_install_namespace(install: Install) -> None:
    for obj in install.objects:
        if obj["kind"] in NAMESPACED:
            assert obj["metadata"]["namespace"] == install.namespace, obj["metadata"]["name"]


def test_the_agent_runs_with_the_contracts_command_line(install: Install) -> None:
    container = agent_container(install)
    command = container["command"] + container["args"]
    assert command[:2] == ["kubedrift", "agent"]
    assert f"--token-file={TOKEN_FILE}" in command
    assert "--listen=0.0.0.0:8080" in command
    assert f"--config={CONFIG_FILE}" in command
    # The shard comes from KUBEDRIFT_SHARDS and the pod's ordinal, which must follow the replicas.
    assert not any(arg.startswith("--shard") for arg in command)
    statefulset = install.one("StatefulSet")
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["KUBEDRIFT_SHARDS"] == str(statefulset["spec"]["replicas"])


def test_the_image_is_this_versions(install: Install) -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert agent_container(install)["image"] == f"ghcr.io/kubedrift/kubedrift:{version}"


def test_the_token_and_config_files_are_mounted_from_their_objects(install: Install) -> None:
    container = agent_container(install)
    pod = install.one("StatefulSet")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    token_mount = mounts["/var/run/kubedrift/token"]
    token_volume = volumes[token_mount["name"]]["secret"]
    assert token_mount["readOnly"] is True
    # The file is `token` in that folder, whatever the Secret's key.
    items = token_volume.get("items", [{"key": "token", "path": "token"}])
    assert [item["path"] for item in items] == ["token"]
    config_mount = mounts["/etc/kubedrift"]
    assert "configMap" in volumes[config_mount["name"]]
    assert isinstance(config_document(install)["apps"], list)


def test_the_config_allows_writes_exactly_when_writes_are_granted(install: Install) -> None:
    assert config_document(install)["agent"]["allowWrites"] is install.writes


def test_probes_use_the_contracts_health_endpoints_on_the_http_port(install: Install) -> None:
    container = agent_container(install)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": 8080}
    tls = "--tls-cert=/var/run/kubedrift/tls/tls.crt" in container["args"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["port"] == "http"
        assert container[probe]["httpGet"].get("scheme", "HTTP") == ("HTTPS" if tls else "HTTP")


def test_the_agent_runs_unprivileged_on_a_read_only_root(install: Install) -> None:
    container = agent_container(install)
    pod = install.one("StatefulSet")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["enableServiceLinks"] is False
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    # A read-only root needs somewhere to write: HOME (Git clones, caches, the audit file) and /tmp.
    env = {e["name"]: e.get("value") for e in container["env"]}
    writable = {m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")}
    assert {env["HOME"], "/tmp"} <= writable


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def test_services_reach_the_agents_on_port_http_8080(install: Install) -> None:
    statefulset = install.one("StatefulSet")
    pod_labels = statefulset["spec"]["template"]["metadata"]["labels"]
    assert _selects(statefulset["spec"]["selector"]["matchLabels"], pod_labels)
    services = {svc["metadata"]["name"]: svc for svc in install.of_kind("Service")}
    assert len(services) == 2
    headless = services[statefulset["spec"]["serviceName"]]
    assert headless["spec"]["clusterIP"] == "None"
    (api,) = (svc for name, svc in services.items() if name != statefulset["spec"]["serviceName"])
    assert api["metadata"]["name"] == statefulset["metadata"]["name"]
    for service in services.values():
        assert _selects(service["spec"]["selector"], pod_labels)
        assert [(p["name"], p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [
            ("http", 8080, "http")
        ]


def test_the_service_monitor_scrapes_metrics_once_per_agent_as_job_kubedrift(monitored: Install) -> None:
    install = monitored
    monitor = install.one("ServiceMonitor")
    selector = monitor["spec"]["selector"]["matchLabels"]
    scraped = [svc for svc in install.of_kind("Service") if _selects(selector, svc["metadata"]["labels"])]
    assert [svc["spec"].get("clusterIP") for svc in scraped] != ["None"]
    assert len(scraped) == 1, "two Services scraped would scrape every agent twice"
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in scraped[0]["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"
    # KubedriftAgentDown looks for up{job="kubedrift"}.
    assert {"action": "replace", "targetLabel": "job", "replacement": "kubedrift"} in endpoint["relabelings"]
    tls = "--tls-cert=/var/run/kubedrift/tls/tls.crt" in agent_container(install)["args"]
    assert endpoint.get("scheme", "http") == ("https" if tls else "http")
    assert ("tlsConfig" in endpoint) is tls


def test_the_prometheus_rule_carries_the_groups_of_alerts_yaml(monitored: Install) -> None:
    assert monitored.one("PrometheusRule")["spec"]["groups"] == alert_groups()


def test_objects_are_unique_and_well_formed(install: Install) -> None:
    keys: list[tuple[Any, ...]] = [
        (obj["apiVersion"], obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"])
        for obj in install.objects
    ]
    assert len(keys) == len(set(keys))
    for obj in install.objects:
        assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "kubedrift", obj["metadata"]["name"]
