"""A realistic fleet of manifests: what a platform team's repository holds, deterministic by index.

The mix is mostly Deployments, Services and ConfigMaps, with some Secrets and StatefulSets, spread
over a few namespaces. Each manifest carries what real ones carry (recommended labels, probes,
resources, env, volumes), so that once a server has defaulted it and added `managedFields` and a
status, a live object weighs about 3 KB of JSON, as on a real cluster.

`manifests(n)` gives the desired objects; `write_folder` and `write_repository` put them on disk,
one file per object, as a zero-config folder or a Git repository.
"""

from __future__ import annotations

import base64
import os
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Final

import yaml

from core.model import TRACKING_ANNOTATION, TRACKING_LABEL, TRACKING_LABEL_VALUE, ResourceKey

Manifest = dict[str, Any]
NAMESPACES: Final = tuple(f"team-{index:02d}" for index in range(20))
# Out of every 20 objects: 7 Deployments, 5 Services, 5 ConfigMaps, 2 Secrets, 1 StatefulSet.
_D, _S, _C, _X, _T = "Deployment", "Service", "ConfigMap", "Secret", "StatefulSet"
KIND_CYCLE: Final = (_D, _S, _C, _D, _S, _C, _D, _X, _D, _S, _C, _D, _T, _S, _C, _D, _X, _D, _S, _C)
GIT_ENV: Final = {
    **os.environ,
    "GIT_AUTHOR_NAME": "kubedrift bench",
    "GIT_AUTHOR_EMAIL": "bench@kubedrift.invalid",
    "GIT_COMMITTER_NAME": "kubedrift bench",
    "GIT_COMMITTER_EMAIL": "bench@kubedrift.invalid",
}
DRIFT_KEY: Final = "BENCH_TOKEN"
"""A ConfigMap data key the benchmarks flip to cause (and undo) drift."""

try:
    _Dumper: Any = yaml.CSafeDumper
except AttributeError:  # PyYAML without libyaml
    _Dumper = yaml.SafeDumper


def manifests(count: int) -> list[Manifest]:
    """`count` desired objects; the same index always gives the same object."""
    return [manifest(index) for index in range(count)]


def manifest(index: int) -> Manifest:
    kind = KIND_CYCLE[index % len(KIND_CYCLE)]
    return _BUILDERS[kind](index)


def namespace_of(index: int) -> str:
    return NAMESPACES[index % len(NAMESPACES)]


def tracked(app: str, obj: Manifest) -> Manifest:
    """`obj` as kubedrift's first sync applies it: with the tracking label and annotation."""
    metadata = dict(obj["metadata"])
    metadata["labels"] = {**metadata.get("labels", {}), TRACKING_LABEL: TRACKING_LABEL_VALUE}
    metadata["annotations"] = {
        **metadata.get("annotations", {}),
        TRACKING_ANNOTATION: ResourceKey.of(obj).tracking_id(app),
    }
    return {**obj, "metadata": metadata}


def file_name(obj: Manifest) -> str:
    metadata = obj["metadata"]
    return f"{metadata['namespace']}/{obj['kind'].lower()}-{metadata['name']}.yaml"


def dump(obj: Manifest) -> str:
    return str(yaml.dump(obj, Dumper=_Dumper, sort_keys=False, default_flow_style=False))


def write_folder(folder: Path, objects: Iterable[Manifest]) -> list[Path]:
    """One YAML file per object under `folder/<namespace>/`; returns the paths written."""
    paths = []
    for obj in objects:
        path = folder / file_name(obj)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dump(obj))
        paths.append(path)
    return paths


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, env=GIT_ENV, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def write_repository(repo: Path, objects: Iterable[Manifest], *, path: str = "apps/fleet") -> Path:
    """A Git repository (branch main) with the objects under `path`, in one commit."""
    write_folder(repo / path, objects)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "fleet")
    return repo


def with_drift_value(obj: Manifest, value: str) -> Manifest:
    """A ConfigMap with its DRIFT_KEY set to `value` (the benchmarks' one-field change)."""
    return {**obj, "data": {**obj["data"], DRIFT_KEY: value}}


# The kinds.


def _labels(name: str, index: int, component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/instance": f"{name}-prod",
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": f"product-{index % 37}",
        "app.kubernetes.io/version": f"1.{index % 23}.{index % 7}",
        "team": namespace_of(index),
    }


def _metadata(name: str, index: int, component: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": namespace_of(index),
        "labels": _labels(name, index, component),
        "annotations": {
            "owner": f"{namespace_of(index)}@example.com",
            "docs": f"https://wiki.example.com/{name}",
        },
    }


def _container(name: str, index: int) -> dict[str, Any]:
    return {
        "name": name,
        "image": f"ghcr.io/example/{name}:1.{index % 23}.{index % 7}",
        "ports": [{"name": "http", "containerPort": 8080}, {"name": "metrics", "containerPort": 9090}],
        "env": [
            {"name": "LOG_LEVEL", "value": "info"},
            {"name": "PORT", "value": "8080"},
            {"name": "REGION", "value": "eu-west-1"},
            {"name": "FEATURE_FLAGS", "value": "search,checkout"},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {
                "name": "DATABASE_URL",
                "valueFrom": {"secretKeyRef": {"name": f"{name}-secret", "key": "database-url"}},
            },
        ],
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "500m", "memory": "512Mi"},
        },
        "readinessProbe": {
            "httpGet": {"path": "/ready", "port": "http"},
            "initialDelaySeconds": 5,
            "periodSeconds": 10,
        },
        "livenessProbe": {
            "httpGet": {"path": "/healthz", "port": "http"},
            "initialDelaySeconds": 15,
            "periodSeconds": 20,
        },
        "volumeMounts": [{"name": "config", "mountPath": "/etc/app"}],
    }


def _pod_template(name: str, index: int, component: str) -> dict[str, Any]:
    return {
        "metadata": {
            "labels": {"app.kubernetes.io/name": name, "app.kubernetes.io/component": component},
            "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "9090"},
        },
        "spec": {
            "containers": [_container(name, index)],
            "volumes": [{"name": "config", "configMap": {"name": f"{name}-config"}}],
        },
    }


def _deployment(index: int) -> Manifest:
    name = f"svc-{index:05d}"
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(name, index, "server"),
        "spec": {
            "replicas": 1 + index % 3,
            "selector": {
                "matchLabels": {"app.kubernetes.io/name": name, "app.kubernetes.io/component": "server"}
            },
            "template": _pod_template(name, index, "server"),
        },
    }


def _statefulset(index: int) -> Manifest:
    name = f"db-{index:05d}"
    template = _pod_template(name, index, "database")
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": _metadata(name, index, "database"),
        "spec": {
            "serviceName": name,
            "replicas": 1,
            "selector": {
                "matchLabels": {"app.kubernetes.io/name": name, "app.kubernetes.io/component": "database"}
            },
            "template": template,
        },
    }


def _service(index: int) -> Manifest:
    name = f"svc-{index:05d}"
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(name, index, "server"),
        "spec": {
            "selector": {"app.kubernetes.io/name": name, "app.kubernetes.io/component": "server"},
            "ports": [
                {"name": "http", "port": 80, "targetPort": "http"},
                {"name": "metrics", "port": 9090, "targetPort": "metrics"},
            ],
        },
    }


def _configmap(index: int) -> Manifest:
    name = f"cfg-{index:05d}"
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(name, index, "config"),
        "data": {
            DRIFT_KEY: "a",
            "LOG_LEVEL": "info",
            "CACHE_TTL_SECONDS": str(60 + index % 240),
            "UPSTREAM_URL": f"http://svc-{(index + 1) % 10_000:05d}.{namespace_of(index + 1)}.svc:80",
            "app.properties": "\n".join(
                f"feature.{flag}.enabled={'true' if (index + position) % 2 else 'false'}"
                for position, flag in enumerate(("search", "checkout", "reviews", "recommendations", "beta"))
            )
            + "\n",
        },
    }


def _secret(index: int) -> Manifest:
    name = f"sec-{index:05d}"

    def encoded(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _metadata(name, index, "credentials"),
        "type": "Opaque",
        "data": {
            "username": encoded(f"user-{index}"),
            "password": encoded(f"correct-horse-battery-{index:05d}"),
            "database-url": encoded(f"postgres://user-{index}@db-{index:05d}:5432/app"),
        },
    }


_BUILDERS: Final[dict[str, Callable[[int], Manifest]]] = {
    "Deployment": _deployment,
    "StatefulSet": _statefulset,
    "Service": _service,
    "ConfigMap": _configmap,
    "Secret": _secret,
}
