"""The demo's Git repository: three apps a newcomer recognises, and the kubedrift.yaml that tracks them.

- `shop`: a web shop (Deployment, Service, ConfigMap, Secret, Ingress), synced by hand.
- `datastore`: a StatefulSet whose volumeClaimTemplate makes a PVC, its ConfigMap and its headless
  Service; it self-heals, so drift on it is undone live. Its sync runs in waves with a hook, shaped
  like argocd-example-apps' sync-waves and pre-post-sync: a PreSync schema-migration Job, then the
  ConfigMap (wave -1), the StatefulSet (wave 0) and the Service (wave 1), each wave Healthy before
  the next.
- `reports`: a nightly CronJob, synced by hand; `/spec/suspend` is under ignoreDifferences so an
  on-call engineer may pause it without it counting as drift.

Manifests are kept as dicts and written as YAML, so the drift generator edits them structurally.
Commits go through GitPython with a fixed author: the demo must work on a machine without a git
identity configured.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import git
import yaml

from core.sync_hooks import HOOK_ANNOTATION, HOOK_DELETE_POLICY_ANNOTATION, SYNC_WAVE_ANNOTATION

BRANCH: Final = "main"
AUTHOR: Final = git.Actor("kubedrift demo", "demo@kubedrift.invalid")
CONFIG_FILE: Final = "kubedrift.yaml"
REPO_FOLDER: Final = "gitops"

Manifest = dict[str, Any]


@dataclass(frozen=True, slots=True)
class DemoApp:
    """One app of the sample repository: its name, namespace, folder and sync policy line."""

    name: str
    namespace: str
    sync_policy: str = ""
    """The `syncPolicy:` flow mapping written into kubedrift.yaml; empty means manual."""
    ignore_differences: str = ""

    @property
    def path(self) -> str:
        return f"apps/{self.name}"


SHOP: Final = DemoApp("shop", "shop")
DATASTORE: Final = DemoApp("datastore", "datastore", sync_policy="{automated: {selfHeal: true}}")
REPORTS: Final = DemoApp(
    "reports",
    "reports",
    ignore_differences="[{group: batch, kind: CronJob, jsonPointers: [/spec/suspend]}]",
)
DEMO_APPS: Final = (SHOP, DATASTORE, REPORTS)
SELF_HEALING_APP: Final = DATASTORE

SHOP_IMAGE: Final = "ghcr.io/acme/shop-web"
DATASTORE_IMAGE: Final = "postgres"
REPORTS_IMAGE: Final = "ghcr.io/acme/report-runner"
MIGRATE_IMAGE: Final = "migrate/migrate:v4.17.1"


def _namespace(name: str) -> Manifest:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def _shop_manifests() -> dict[str, list[Manifest]]:
    labels = {"app.kubernetes.io/name": "web", "app.kubernetes.io/part-of": "shop"}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": dict(labels)},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app.kubernetes.io/name": "web"}},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": f"{SHOP_IMAGE}:1.4.2",
                            "ports": [{"name": "http", "containerPort": 8080}],
                            "envFrom": [
                                {"configMapRef": {"name": "web-config"}},
                                {"secretRef": {"name": "web-secrets"}},
                            ],
                            "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "128Mi"},
                                "limits": {"cpu": "500m", "memory": "256Mi"},
                            },
                        }
                    ]
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "labels": dict(labels)},
        "spec": {
            "selector": {"app.kubernetes.io/name": "web"},
            "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
        },
    }
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "web-config"},
        "data": {"LOG_LEVEL": "info", "CHECKOUT_PROVIDER": "stripe", "FEATURE_FLAGS": "search,wishlist"},
    }
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "web-secrets"},
        "type": "Opaque",
        "stringData": {"PAYMENT_API_KEY": "sk_test_demo_4eC39HqLyjWDarjtT1", "SESSION_KEY": "demo-only"},
    }
    ingress = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "web"},
        "spec": {
            "rules": [
                {
                    "host": "shop.demo.localhost",
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "web", "port": {"name": "http"}}},
                            }
                        ]
                    },
                }
            ]
        },
    }
    return {
        "namespace.yaml": [_namespace(SHOP.namespace)],
        "deployment.yaml": [deployment],
        "service.yaml": [service],
        "configmap.yaml": [config_map],
        "secret.yaml": [secret],
        "ingress.yaml": [ingress],
    }


def _sync_wave(wave: int) -> dict[str, str]:
    return {SYNC_WAVE_ANNOTATION: str(wave)}


def _datastore_manifests() -> dict[str, list[Manifest]]:
    labels = {"app.kubernetes.io/name": "db", "app.kubernetes.io/part-of": "datastore"}
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "db-config", "labels": dict(labels), "annotations": _sync_wave(-1)},
        "data": {"POSTGRES_DB": "shop", "PGDATA": "/var/lib/postgresql/data/pgdata"},
    }
    # A fixed name rather than Argo CD's generateName: the screenshots show it, and HookSucceeded
    # frees the name again after each sync.
    migration = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": "db-migrate",
            "labels": dict(labels),
            "annotations": {HOOK_ANNOTATION: "PreSync", HOOK_DELETE_POLICY_ANNOTATION: "HookSucceeded"},
        },
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": "migrate",
                            "image": MIGRATE_IMAGE,
                            "args": ["-path", "/migrations", "-database", "$(DATABASE_URL)", "up"],
                            "env": [{"name": "DATABASE_URL", "value": "postgres://db.datastore:5432/shop"}],
                        }
                    ],
                }
            },
        },
    }
    statefulset = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db", "labels": dict(labels), "annotations": _sync_wave(0)},
        "spec": {
            "serviceName": "db",
            "replicas": 1,
            "selector": {"matchLabels": {"app.kubernetes.io/name": "db"}},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "containers": [
                        {
                            "name": "postgres",
                            "image": f"{DATASTORE_IMAGE}:16.4",
                            "args": ["-c", "max_connections=200"],
                            "ports": [{"name": "postgres", "containerPort": 5432}],
                            "envFrom": [{"configMapRef": {"name": "db-config"}}],
                            "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql/data"}],
                        }
                    ]
                },
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
                }
            ],
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "db", "labels": dict(labels), "annotations": _sync_wave(1)},
        "spec": {
            "clusterIP": "None",
            "selector": {"app.kubernetes.io/name": "db"},
            "ports": [{"name": "postgres", "port": 5432}],
        },
    }
    return {
        "namespace.yaml": [_namespace(DATASTORE.namespace)],
        "migrate-job.yaml": [migration],
        "configmap.yaml": [config_map],
        "statefulset.yaml": [statefulset],
        "service.yaml": [service],
    }


def _reports_manifests() -> dict[str, list[Manifest]]:
    cronjob = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "nightly-report"},
        "spec": {
            "schedule": "30 2 * * *",
            "suspend": False,
            "concurrencyPolicy": "Forbid",
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "OnFailure",
                            "containers": [
                                {
                                    "name": "report",
                                    "image": f"{REPORTS_IMAGE}:2.1.0",
                                    "args": ["--since=24h", "--to=finance@acme.example"],
                                }
                            ],
                        }
                    }
                }
            },
        },
    }
    return {"namespace.yaml": [_namespace(REPORTS.namespace)], "cronjob.yaml": [cronjob]}


_MANIFESTS: Final[dict[str, Callable[[], dict[str, list[Manifest]]]]] = {
    SHOP.name: _shop_manifests,
    DATASTORE.name: _datastore_manifests,
    REPORTS.name: _reports_manifests,
}


def config_text(apps: tuple[DemoApp, ...] = DEMO_APPS) -> str:
    """The demo's kubedrift.yaml: every app from ./gitops on the sandbox context."""
    lines = [
        "# kubedrift demo: three apps from ./gitops, deployed to the sandbox cluster.",
        "# datastore self-heals; shop and reports are synced by hand (s in the TUI).",
        "apps:",
    ]
    for app in apps:
        lines += [
            f"  - name: {app.name}",
            f"    source: {{repoURL: ./{REPO_FOLDER}, targetRevision: {BRANCH}, path: {app.path}}}",
            f"    destination: {{name: sandbox, namespace: {app.namespace}}}",
        ]
        if app.sync_policy:
            lines.append(f"    syncPolicy: {app.sync_policy}")
        if app.ignore_differences:
            lines.append(f"    ignoreDifferences: {app.ignore_differences}")
    return "\n".join(lines) + "\n"


class SampleRepo:
    """The demo's Git work tree: written once, then edited one commit at a time."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def create(cls, root: Path) -> SampleRepo:
        """Write every app's manifests into a new repository at `root`, as one first commit."""
        root.mkdir(parents=True, exist_ok=True)
        repo = git.Repo.init(root)
        try:
            # `git init -b` needs git 2.28; pointing HEAD by hand works on every git.
            repo.git.symbolic_ref("HEAD", f"refs/heads/{BRANCH}")
            written: list[str] = []
            for app in DEMO_APPS:
                for file_name, documents in _MANIFESTS[app.name]().items():
                    relative = f"{app.path}/{file_name}"
                    _write_documents(root / relative, documents)
                    written.append(relative)
            repo.index.add(written)
            repo.index.commit("Add shop, datastore and reports", author=AUTHOR, committer=AUTHOR)
        finally:
            repo.close()
        return cls(root)

    def read(self, relative: str) -> list[Manifest]:
        """The documents of one manifest file in the work tree."""
        with (self.root / relative).open(encoding="utf-8") as stream:
            return [document for document in yaml.safe_load_all(stream) if document]

    def commit(self, relative: str, documents: list[Manifest], message: str) -> str:
        """Replace one manifest file and commit it on the branch; returns the new commit's SHA."""
        _write_documents(self.root / relative, documents)
        repo = git.Repo(self.root)
        try:
            repo.index.add([relative])
            commit = repo.index.commit(message, author=AUTHOR, committer=AUTHOR)
            return commit.hexsha
        finally:
            repo.close()

    def head(self) -> str:
        repo = git.Repo(self.root)
        try:
            return repo.head.commit.hexsha
        finally:
            repo.close()


def _write_documents(path: Path, documents: list[Manifest]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(documents, sort_keys=False), encoding="utf-8")


def write_sample(root: Path) -> tuple[SampleRepo, Path]:
    """The sample repository under `root/gitops` and `root/kubedrift.yaml` beside it."""
    repo = SampleRepo.create(root / REPO_FOLDER)
    config = root / CONFIG_FILE
    config.write_text(config_text(), encoding="utf-8")
    return repo, config
