"""What a person does to the demo cluster behind Git's back, one step at a time.

`Drifter` makes one change per call, through the official kubernetes client as kubectl would
(scale, edit a ConfigMap, delete a Service, set an image) or through a new commit in the sample
repository. Each step reads the current value first and picks a different one from a short list,
so a step always changes something and the cluster never wanders far from Git. Choices come from
a seeded `random.Random`: varied, and the same on every run with the same seed.

`drift_loop.DriftLoop` calls it on a timer; tests call `perform` directly.
"""

from __future__ import annotations

import json
import random
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from core.errors import KubedriftError
from core.model import ResourceKey
from tui.demo.sample_repo import DATASTORE, REPORTS, SHOP, DemoApp, SampleRepo

DEFAULT_SEED: Final = 5
CONTEXT: Final = "sandbox"


class DriftKind(StrEnum):
    """The kinds of drift the demo makes."""

    SCALE = "scale"
    EDIT_CONFIG_MAP = "edit-configmap"
    DELETE_SERVICE = "delete-service"
    CHANGE_IMAGE = "change-image"
    GIT_COMMIT = "git-commit"


# Live edits are what the demo is about; a Git commit now and then shows Git moving ahead.
KIND_WEIGHTS: Final = {
    DriftKind.SCALE: 3,
    DriftKind.EDIT_CONFIG_MAP: 2,
    DriftKind.DELETE_SERVICE: 2,
    DriftKind.CHANGE_IMAGE: 2,
    DriftKind.GIT_COMMIT: 1,
}


@dataclass(frozen=True, slots=True)
class DriftEvent:
    """One change made: to which app and object, and the command a person would have typed."""

    kind: DriftKind
    app: str
    key: ResourceKey
    command: str

    def __str__(self) -> str:
        return self.command


class DriftSkipped(KubedriftError):
    """A step that cannot change its target now (the Service is already gone, say)."""


@dataclass(frozen=True, slots=True)
class Workload:
    """A Deployment, StatefulSet or CronJob the demo scales or re-images."""

    app: DemoApp
    kind: str
    name: str
    container: str
    image: str
    tags: tuple[str, ...]
    replicas: tuple[int, ...] = ()

    @property
    def key(self) -> ResourceKey:
        group = "batch" if self.kind == "CronJob" else "apps"
        return ResourceKey(group, self.kind, self.app.namespace, self.name)

    @property
    def noun(self) -> str:
        return self.kind.lower()


@dataclass(frozen=True, slots=True)
class ServiceTarget:
    """A Service the demo deletes by hand."""

    app: DemoApp
    name: str

    @property
    def key(self) -> ResourceKey:
        return ResourceKey("", "Service", self.app.namespace, self.name)


@dataclass(frozen=True, slots=True)
class ConfigEdit:
    """A ConfigMap key the demo edits live, and the values it may take."""

    app: DemoApp
    name: str
    data_key: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class GitEdit:
    """A field of a manifest in Git that a demo commit changes; `path` leads into the first document."""

    app: DemoApp
    file: str
    key: ResourceKey
    path: tuple[str | int, ...]
    values: tuple[Any, ...]
    message: str
    """The commit subject; `{value}` is replaced by the new value."""


Target = Workload | ServiceTarget | ConfigEdit | GitEdit

WORKLOADS: Final = (
    Workload(SHOP, "Deployment", "web", "web", "ghcr.io/acme/shop-web", ("1.4.3", "1.5.0"), (3, 4, 5)),
    Workload(DATASTORE, "StatefulSet", "db", "postgres", "postgres", ("16.6", "17.2"), (2, 3)),
    Workload(
        REPORTS, "CronJob", "nightly-report", "report", "ghcr.io/acme/report-runner", ("2.1.1", "2.2.0")
    ),
)
SERVICES: Final = (ServiceTarget(SHOP, "web"), ServiceTarget(DATASTORE, "db"))
CONFIG_EDITS: Final = (
    ConfigEdit(SHOP, "web-config", "LOG_LEVEL", ("info", "debug", "warn")),
    ConfigEdit(
        SHOP, "web-config", "FEATURE_FLAGS", ("search,wishlist", "search", "search,wishlist,gift-cards")
    ),
)
GIT_EDITS: Final = (
    GitEdit(
        SHOP,
        "deployment.yaml",
        ResourceKey("apps", "Deployment", SHOP.namespace, "web"),
        ("spec", "replicas"),
        (2, 3),
        "shop: run {value} web replicas",
    ),
    GitEdit(
        SHOP,
        "configmap.yaml",
        ResourceKey("", "ConfigMap", SHOP.namespace, "web-config"),
        ("data", "CHECKOUT_PROVIDER"),
        ("stripe", "adyen"),
        "shop: check out with {value}",
    ),
    GitEdit(
        REPORTS,
        "cronjob.yaml",
        ResourceKey("batch", "CronJob", REPORTS.namespace, "nightly-report"),
        ("spec", "schedule"),
        ("30 2 * * *", "0 4 * * *"),
        "reports: run the nightly report at '{value}'",
    ),
    GitEdit(
        DATASTORE,
        "statefulset.yaml",
        ResourceKey("apps", "StatefulSet", DATASTORE.namespace, "db"),
        ("spec", "template", "spec", "containers", 0, "args", 1),
        ("max_connections=200", "max_connections=300"),
        "datastore: postgres {value}",
    ),
)


class Drifter:
    """Makes drift in the demo cluster and repository, one step per call (not thread-safe)."""

    def __init__(
        self, api_client: k8s_client.ApiClient, repo: SampleRepo, *, seed: int = DEFAULT_SEED
    ) -> None:
        self.api_client = api_client
        self.repo = repo
        self.random = random.Random(seed)
        self._core = k8s_client.CoreV1Api(api_client)
        self._apps = k8s_client.AppsV1Api(api_client)
        self._batch = k8s_client.BatchV1Api(api_client)

    @classmethod
    def for_kubeconfig(cls, kubeconfig: Path, repo: SampleRepo, *, seed: int = DEFAULT_SEED) -> Drifter:
        api_client = k8s_config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=str(kubeconfig), context=CONTEXT, persist_config=False
        )
        return cls(api_client, repo, seed=seed)

    def close(self) -> None:
        self.api_client.close()  # type: ignore[no-untyped-call]

    def random_step(self) -> DriftEvent | None:
        """One drift of a randomly chosen kind; None when no target can change right now."""
        kinds = list(KIND_WEIGHTS)
        weights = [KIND_WEIGHTS[kind] for kind in kinds]
        order = self.random.sample(kinds, counts=weights, k=sum(weights))
        for kind in dict.fromkeys(order):  # each kind once, in weighted-random order
            try:
                return self.perform(kind)
            except DriftSkipped:
                continue
        return None

    def perform(self, kind: DriftKind, app: str | None = None) -> DriftEvent:
        """One drift of `kind`, on `app` when given (else on a random target that can take it)."""
        targets = _targets(kind)
        candidates = [t for t in targets if app is None or t.app.name == app]
        if not candidates:
            raise DriftSkipped(f"the demo has no {kind} drift for app {app!r}")
        self.random.shuffle(candidates)
        reasons: list[str] = []
        for target in candidates:
            try:
                return self._step(kind, target)
            except DriftSkipped as skipped:
                reasons.append(str(skipped))
        raise DriftSkipped("; ".join(reasons))

    def _step(self, kind: DriftKind, target: Target) -> DriftEvent:
        if isinstance(target, Workload):
            return self._scale(target) if kind is DriftKind.SCALE else self._change_image(target)
        if isinstance(target, ConfigEdit):
            return self._edit_config_map(target)
        if isinstance(target, ServiceTarget):
            return self._delete_service(target)
        return self._commit(target)

    # The live edits, each as its kubectl command would make it.

    def _scale(self, workload: Workload) -> DriftEvent:
        ns, name = workload.app.namespace, workload.name
        current = self._read(workload)
        replicas = self._other((current.get("spec") or {}).get("replicas"), workload.replicas)
        body = {"spec": {"replicas": replicas}}
        # kubectl scale writes the /scale subresource, not the object.
        if workload.kind == "Deployment":
            self._apps.patch_namespaced_deployment_scale(
                name, ns, body, field_manager="kubectl", _preload_content=False
            )
        else:
            self._apps.patch_namespaced_stateful_set_scale(
                name, ns, body, field_manager="kubectl", _preload_content=False
            )
        command = f"kubectl -n {ns} scale {workload.noun}/{name} --replicas={replicas}"
        return DriftEvent(DriftKind.SCALE, workload.app.name, workload.key, command)

    def _edit_config_map(self, edit: ConfigEdit) -> DriftEvent:
        ns = edit.app.namespace
        current = _json(self._core.read_namespaced_config_map(edit.name, ns, _preload_content=False))
        value = self._other((current.get("data") or {}).get(edit.data_key), edit.values)
        patch = {"data": {edit.data_key: value}}
        self._core.patch_namespaced_config_map(
            edit.name, ns, patch, field_manager="kubectl-patch", _preload_content=False
        )
        command = (
            f"kubectl -n {ns} patch configmap/{edit.name} --type=merge "
            f"-p {shlex.quote(json.dumps(patch, separators=(',', ':')))}"
        )
        key = ResourceKey("", "ConfigMap", ns, edit.name)
        return DriftEvent(DriftKind.EDIT_CONFIG_MAP, edit.app.name, key, command)

    def _delete_service(self, service: ServiceTarget) -> DriftEvent:
        key = service.key
        try:
            self._core.delete_namespaced_service(
                key.name, key.namespace, propagation_policy="Background", _preload_content=False
            )
        except ApiException as error:
            if error.status == 404:
                raise DriftSkipped(f"service {key.namespace}/{key.name} is already deleted") from None
            raise
        command = f"kubectl -n {key.namespace} delete service/{key.name}"
        return DriftEvent(DriftKind.DELETE_SERVICE, service.app.name, key, command)

    def _change_image(self, workload: Workload) -> DriftEvent:
        current = self._read(workload)
        pod_spec = _pod_template(workload, current).get("spec") or {}
        image = next(
            (c.get("image") for c in pod_spec.get("containers") or [] if c.get("name") == workload.container),
            None,
        )
        tag = self._other(str(image or "").rpartition(":")[2], workload.tags)
        new_image = f"{workload.image}:{tag}"
        # A strategic merge patch, as `kubectl set image` sends: containers merge by name.
        template = {"spec": {"containers": [{"name": workload.container, "image": new_image}]}}
        ns, name = workload.app.namespace, workload.name
        if workload.kind == "CronJob":
            body: dict[str, Any] = {"spec": {"jobTemplate": {"spec": {"template": template}}}}
            self._batch.patch_namespaced_cron_job(
                name, ns, body, field_manager="kubectl-set", _preload_content=False
            )
        elif workload.kind == "Deployment":
            self._apps.patch_namespaced_deployment(
                name,
                ns,
                {"spec": {"template": template}},
                field_manager="kubectl-set",
                _preload_content=False,
            )
        else:
            self._apps.patch_namespaced_stateful_set(
                name,
                ns,
                {"spec": {"template": template}},
                field_manager="kubectl-set",
                _preload_content=False,
            )
        command = f"kubectl -n {ns} set image {workload.noun}/{name} {workload.container}={new_image}"
        return DriftEvent(DriftKind.CHANGE_IMAGE, workload.app.name, workload.key, command)

    def _read(self, workload: Workload) -> dict[str, Any]:
        ns, name = workload.app.namespace, workload.name
        if workload.kind == "CronJob":
            return _json(self._batch.read_namespaced_cron_job(name, ns, _preload_content=False))
        if workload.kind == "Deployment":
            return _json(self._apps.read_namespaced_deployment(name, ns, _preload_content=False))
        return _json(self._apps.read_namespaced_stateful_set(name, ns, _preload_content=False))

    # Git moving ahead of the cluster.

    def _commit(self, edit: GitEdit) -> DriftEvent:
        relative = f"{edit.app.path}/{edit.file}"
        documents = self.repo.read(relative)
        parent: Any = documents[0]
        for step in edit.path[:-1]:
            parent = parent[step]
        last = edit.path[-1]
        value = self._other(parent[last], edit.values)
        parent[last] = value
        message = edit.message.format(value=value)
        sha = self.repo.commit(relative, documents, message)
        command = f"git commit -m {shlex.quote(message)}  # {sha[:7]} in {self.repo.root.name}/"
        return DriftEvent(DriftKind.GIT_COMMIT, edit.app.name, edit.key, command)

    def _other(self, current: Any, choices: Sequence[Any]) -> Any:
        """A random choice that differs from `current`, so every step changes something."""
        others = [choice for choice in choices if choice != current]
        if not others:
            raise DriftSkipped(f"no value other than {current!r} to change to")
        return self.random.choice(others)


def _json(response: Any) -> dict[str, Any]:
    """A raw (`_preload_content=False`) response as a plain dict: no typed models on this path."""
    data: dict[str, Any] = json.loads(response.data)
    return data


def _pod_template(workload: Workload, obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj.get("spec") or {}
    if workload.kind == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    template: dict[str, Any] = spec.get("template") or {}
    return template


def _targets(kind: DriftKind) -> Sequence[Target]:
    if kind is DriftKind.SCALE:
        return [workload for workload in WORKLOADS if workload.replicas]
    if kind is DriftKind.EDIT_CONFIG_MAP:
        return CONFIG_EDITS
    if kind is DriftKind.DELETE_SERVICE:
        return SERVICES
    if kind is DriftKind.CHANGE_IMAGE:
        return WORKLOADS
    return GIT_EDITS
