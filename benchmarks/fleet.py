"""The world most figures run in: a sandbox cluster holding a fleet of tracked objects, and the same
fleet as a zero-config folder of manifests (one app, named after the folder).

The sandbox is filled in-process through its ResourceAPI (server-side apply as `kubedrift`, as a
first sync would), so 10,000 objects take well under a minute rather than many of HTTP. Deployments and
StatefulSets then get the status their controllers would write, so live objects look and weigh
what a real server returns. The sandbox runs without controllers: nothing changes unless a
benchmark changes it.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Final, Protocol, TypeVar

from benchmarks.fixtures import DRIFT_KEY, Manifest, manifests, tracked, write_folder
from core.model import ResourceKey
from sandbox.handle import SandboxThread
from sandbox.patch_types import MERGE
from sandbox.resources import ResourceAPI

APP_NAME: Final = "fleet"
CHUNK: Final = 250
"""Objects written per call onto the sandbox's loop, so its watches keep being served meanwhile."""
STATUS_TIME: Final = "2025-01-02T03:04:05Z"

T = TypeVar("T")
ObjectRef = tuple[str, str, str, str]
"""apiVersion, kind, namespace, name."""


class FleetServer(Protocol):
    """Where the fleet lives: a SandboxThread here, or a sandbox in its own process
    (benchmarks.sandbox_process), which is why what `run` is given is a module-level function or a
    partial of one (it may have to be pickled)."""

    def run(self, fn: Callable[[ResourceAPI], T]) -> T: ...

    def kubeconfig(self, path: Path | str) -> Path: ...


@dataclass
class Fleet:
    """A populated sandbox, its kubeconfig, and the manifests of its one app on disk."""

    sandbox: FleetServer
    kubeconfig: Path
    folder: Path
    manifests: list[Manifest]
    app: str = APP_NAME
    _drifted: set[int] = field(default_factory=set)

    def live_objects(self) -> list[dict[str, Any]]:
        """Every fleet object as the server returns it (a JSON round trip of what it stores)."""
        return [json.loads(text) for text in self.live_texts()]

    def live_texts(self) -> list[str]:
        """Every fleet object as the server returns it, as JSON text (one parsed copy only on demand)."""
        wanted = [
            (obj["apiVersion"], obj["kind"], obj["metadata"]["namespace"], obj["metadata"]["name"])
            for obj in self.manifests
        ]
        texts: list[str] = []
        for start in range(0, len(wanted), CHUNK):
            texts.extend(self.sandbox.run(partial(read_objects, wanted[start : start + CHUNK])))
        return texts

    def drift_targets(self, count: int, seed: int = 6) -> list[int]:
        """Indices of ConfigMaps and Deployments (about half each) to drift, spread over the fleet."""
        rng = random.Random(seed)
        candidates = [i for i, obj in enumerate(self.manifests) if obj["kind"] in ("ConfigMap", "Deployment")]
        return rng.sample(candidates, min(count, len(candidates)))

    def key_of(self, index: int) -> ResourceKey:
        return ResourceKey.of(self.manifests[index])

    def set_drift(self, index: int, drifted: bool) -> None:
        """A `kubectl`-style merge patch that moves one field away from Git (or back to what Git says)."""
        obj = self.manifests[index]
        metadata = obj["metadata"]
        if obj["kind"] == "ConfigMap":
            patch: dict[str, Any] = {"data": {DRIFT_KEY: "drifted" if drifted else obj["data"][DRIFT_KEY]}}
        else:
            replicas = obj["spec"]["replicas"]
            patch = {"spec": {"replicas": replicas + 3 if drifted else replicas}}
        self.sandbox.run(
            partial(
                merge_patch, obj["apiVersion"], obj["kind"], metadata["namespace"], metadata["name"], patch
            )
        )
        if drifted:
            self._drifted.add(index)
        else:
            self._drifted.discard(index)

    def undo_drift(self) -> None:
        for index in sorted(self._drifted):
            self.set_drift(index, False)


@contextmanager
def running_fleet(root: Path, count: int) -> Iterator[Fleet]:
    """A sandbox with `count` fleet objects applied, and `root/fleet/` holding their manifests."""
    objects = manifests(count)
    folder = root / APP_NAME
    write_folder(folder, objects)
    with SandboxThread(controllers=()) as sandbox:
        populate(sandbox, APP_NAME, objects)
        yield Fleet(sandbox, sandbox.kubeconfig(root / "kubeconfig"), folder, objects)


def populate(
    sandbox: FleetServer,
    app: str,
    objects: Sequence[Manifest],
    on_chunk: Callable[[int], None] | None = None,
) -> None:
    """Namespaces, then every object applied as kubedrift's first sync would, then controller statuses;
    `on_chunk` hears how many objects are in after each chunk."""
    namespaces = sorted({obj["metadata"]["namespace"] for obj in objects})

    def create_namespaces(api: ResourceAPI) -> None:
        resource = api.resource("v1", "Namespace")
        for name in namespaces:
            body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
            api.apply(resource, None, name, body, manager="kubedrift", force=True)

    def apply_chunk(api: ResourceAPI, chunk: Sequence[Manifest]) -> None:
        for obj in chunk:
            metadata = obj["metadata"]
            resource = api.resource(obj["apiVersion"], obj["kind"])
            stored = api.apply(
                resource,
                metadata["namespace"],
                metadata["name"],
                tracked(app, obj),
                manager="kubedrift",
                force=True,
            )
            status = controller_status(stored.obj)
            if status is not None:
                api.update_status({**stored.obj, "status": status}, manager="kube-controller-manager")

    sandbox.run(create_namespaces)
    for start in range(0, len(objects), CHUNK):
        chunk = objects[start : start + CHUNK]
        sandbox.run(lambda api, chunk=chunk: apply_chunk(api, chunk))  # type: ignore[misc]
        if on_chunk is not None:
            on_chunk(start + len(chunk))


def read_objects(wanted: Sequence[ObjectRef], api: ResourceAPI) -> list[str]:
    """Objects as JSON text, as a list or watch returns them: the sandbox stores what the URL says,
    a real server's list adds apiVersion and kind."""
    texts = []
    for api_version, kind, namespace, name in wanted:
        obj = dict(api.get(api.resource(api_version, kind), namespace, name).obj)
        obj.setdefault("apiVersion", api_version)
        obj.setdefault("kind", kind)
        texts.append(json.dumps(obj))
    return texts


def merge_patch(
    api_version: str, kind: str, namespace: str, name: str, patch: dict[str, Any], api: ResourceAPI
) -> None:
    """A merge patch as `kubectl patch --type merge` (or `kubectl edit`) sends it."""
    api.patch(api.resource(api_version, kind), namespace, name, MERGE, patch, manager="kubectl")


def controller_status(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The status a Deployment or StatefulSet controller reports once every replica is ready."""
    if obj["kind"] not in ("Deployment", "StatefulSet"):
        return None
    name = obj["metadata"]["name"]
    generation = obj["metadata"].get("generation", 1)
    replicas = obj["spec"].get("replicas", 1)
    counts = {
        "replicas": replicas,
        "updatedReplicas": replicas,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
    }
    if obj["kind"] == "Deployment":
        return {
            "observedGeneration": generation,
            **counts,
            "conditions": [
                _condition("Available", "MinimumReplicasAvailable", "Deployment has minimum availability."),
                _condition(
                    "Progressing",
                    "NewReplicaSetAvailable",
                    f'ReplicaSet "{name}-5d4f8c7b9" has successfully progressed.',
                ),
            ],
        }
    return {
        "observedGeneration": generation,
        **counts,
        "currentReplicas": replicas,
        "currentRevision": f"{name}-7c9d8b6f5",
        "updateRevision": f"{name}-7c9d8b6f5",
        "collisionCount": 0,
    }


def _condition(kind: str, reason: str, message: str) -> dict[str, str]:
    return {
        "type": kind,
        "status": "True",
        "lastUpdateTime": STATUS_TIME,
        "lastTransitionTime": STATUS_TIME,
        "reason": reason,
        "message": message,
    }
