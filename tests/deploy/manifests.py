"""The objects `deploy/` installs, built the way kubedrift itself builds an app: the Helm chart by
Helm's engine in-process (core.helm_chart), the kustomizations by core.kustomize and Argo CD's
`kustomize.components` option (core.kustomize_overlay). Builds are cached: every test reads them."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.helm_chart import render_chart
from core.kustomize import SubprocessKustomize
from core.kustomize_overlay import build_with_options
from core.source_options import HelmOptions, KustomizeOptions, KustomizeReplica

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
ALERTS = DEPLOY / "prometheus" / "alerts.yaml"
CHART = DEPLOY / "helm" / "kubedrift"
KUSTOMIZE = DEPLOY / "kustomize"
BASE = KUSTOMIZE / "base"
WRITES_COMPONENT = "../components/writes"

TOKEN_FILE = "/var/run/kubedrift/token/token"
CONFIG_FILE = "/etc/kubedrift/kubedrift.yaml"
WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection", "escalate", "bind", "*"})
ALERT_NAMES = (
    "KubedriftAppOutOfSync",
    "KubedriftAppDegraded",
    "KubedriftSelfHealRetrying",
    "KubedriftAgentDown",
    "KubedriftWatchDisconnected",
)


@dataclass(frozen=True)
class Install:
    """One way of installing the agent: what it creates, and what it was asked for."""

    name: str
    objects: tuple[dict[str, Any], ...]
    writes: bool
    namespace: str = "kubedrift"

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [obj for obj in self.objects if obj["kind"] == kind]

    def one(self, kind: str, name: str | None = None) -> dict[str, Any]:
        found = [obj for obj in self.of_kind(kind) if name is None or obj["metadata"]["name"] == name]
        assert len(found) == 1, f"{self.name}: expected one {kind} {name or ''}, found {len(found)}"
        return found[0]

    @property
    def kinds(self) -> list[str]:
        return sorted(obj["kind"] for obj in self.objects)


def documents(stream: bytes) -> tuple[dict[str, Any], ...]:
    return tuple(doc for doc in yaml.safe_load_all(stream) if doc is not None)


@functools.cache
def _chart_stream(values_json: str, release: str, namespace: str) -> bytes:
    return render_chart(
        CHART, HelmOptions(values_object=values_json), release_name=release, namespace=namespace
    )


def chart(
    values: Mapping[str, Any] | None = None, *, release: str = "kubedrift", namespace: str = "kubedrift"
) -> Install:
    """The chart rendered with these values, as `helm template` would (and as an Argo CD app would)."""
    values = dict(values or {})
    stream = _chart_stream(json.dumps(values, sort_keys=True), release, namespace)
    writes = bool(values.get("writes", {}).get("enabled", False))
    return Install(f"helm {values}", documents(stream), writes, namespace)


@functools.cache
def _kustomize_stream(components: tuple[str, ...], replicas: int | None) -> bytes:
    options = KustomizeOptions(
        components=components,
        replicas=(KustomizeReplica("kubedrift", replicas),) if replicas is not None else (),
    )
    built = build_with_options(BASE, KUSTOMIZE, options, SubprocessKustomize())
    if built is None:
        pytest.skip("neither kubectl nor kustomize is on PATH")
    return built


def kustomize(*, writes: bool = False, replicas: int | None = None) -> Install:
    """The base, with the writes component when asked (Argo CD's kustomize.components option)."""
    stream = _kustomize_stream((WRITES_COMPONENT,) if writes else (), replicas)
    return Install("kustomize base" + (" + writes" if writes else ""), documents(stream), writes)


def kustomize_folder(folder: Path) -> tuple[dict[str, Any], ...]:
    """A kustomization folder built as is."""
    built = SubprocessKustomize().build(folder)
    if built is None:
        pytest.skip("neither kubectl nor kustomize is on PATH")
    return documents(built)


def alert_groups() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    assert isinstance(groups, list)
    return groups


def alert_rules(groups: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for group in groups:
        yield from (rule for rule in group["rules"] if "alert" in rule)


def agent_container(install: Install) -> dict[str, Any]:
    pod = install.one("StatefulSet")["spec"]["template"]["spec"]
    containers: list[dict[str, Any]] = [c for c in pod["containers"] if c["name"] == "agent"]
    assert len(containers) == 1, f"{install.name}: no single container named agent"
    return containers[0]


def config_document(install: Install) -> dict[str, Any]:
    """The kubedrift.yaml the agents are started with (the ConfigMap the StatefulSet mounts)."""
    pod = install.one("StatefulSet")["spec"]["template"]["spec"]
    mounted = {v["name"]: v for v in pod["volumes"]}["config"]["configMap"]["name"]
    data = install.one("ConfigMap", mounted)["data"]["kubedrift.yaml"]
    document = yaml.safe_load(data)
    assert isinstance(document, dict)
    return document


# The ways of installing that every invariant is checked on (ids are pytest ids).
VARIANTS: dict[str, Any] = {
    "kustomize-base": lambda: kustomize(),
    "kustomize-writes": lambda: kustomize(writes=True),
    "helm-default": lambda: chart(),
    "helm-writes": lambda: chart({"writes": {"enabled": True}}),
    "helm-tls-monitoring": lambda: chart(
        {
            "tls": {"secretName": "kubedrift-tls"},
            "serviceMonitor": {"enabled": True},
            "prometheusRule": {"enabled": True},
            "shards": 3,
        }
    ),
    "helm-release-prod": lambda: chart(
        {
            "writes": {"enabled": True},
            "serviceMonitor": {"enabled": True},
            "prometheusRule": {"enabled": True},
        },
        release="prod",
        namespace="ops",
    ),
}
MONITORED = ["kustomize-base", "kustomize-writes", "helm-tls-monitoring", "helm-release-prod"]
"""The variants above that include a ServiceMonitor and a PrometheusRule."""
