"""Defaulting of pod specs, wherever they appear (pods, and the templates of workloads and jobs).

From k8s.io/kubernetes/pkg/apis/core/v1/defaults.go and the generated SetObjectDefaults_* that call
it: SetDefaults_PodSpec, SetDefaults_Container, probes, volume sources, and the canonical form of
resource quantities. `default_pod` adds what only a Pod gets: its own defaults and the effect of
the default admission plugins (service account, default tolerations, priority) and of the pod
strategy (status phase and QoS class).
"""

from __future__ import annotations

import re
from typing import Any

from core.schema.quantity import Quantity, canonical_quantity

TERMINATION_MESSAGE_PATH = "/dev/termination-log"
DEFAULT_VOLUME_MODE = 0o644  # 420: secret, configMap, downwardAPI and projected volumes
DEFAULT_TOLERATION_SECONDS = 300
_UNREACHABLE_TAINTS = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")


class QuantityError(ValueError):
    """A malformed quantity; the caller knows the object and words the 400."""


def canonical_resource_list(resources: Any, *, round_to_milli: bool = True) -> None:
    """Rewrite every quantity of a resource list (requests, limits, hard, capacity) in canonical form."""
    if not isinstance(resources, dict):
        return
    for name, value in resources.items():
        try:
            resources[name] = canonical_quantity(value, round_to_milli=round_to_milli)
        except ValueError as error:
            raise QuantityError(str(error)) from error


# A docker reference as ParseNormalizedNamed accepts it: [domain/]path[:tag][@digest].
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REFERENCE = re.compile(
    rf"^(?:(?P<domain>[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
    rf"(?::[0-9]+)?)/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$"
)


def image_pull_policy(image: str) -> str:
    """Always when the image's tag is `latest` or it has neither tag nor digest, else IfNotPresent
    (SetDefaults_Container with ParseImageName; an unparsable image counts as tagged)."""
    match = _REFERENCE.match(image)
    if match is None:
        return "IfNotPresent"
    tag = match.group("tag") or ("" if match.group("digest") else "latest")
    return "Always" if tag == "latest" else "IfNotPresent"


def _default_http_get(handler: Any) -> None:
    http_get = handler.get("httpGet") if isinstance(handler, dict) else None
    if isinstance(http_get, dict):
        http_get.setdefault("path", "/")
        http_get.setdefault("scheme", "HTTP")


def _default_probe(probe: Any) -> None:
    if not isinstance(probe, dict):
        return
    for name, value in (
        ("timeoutSeconds", 1),
        ("periodSeconds", 10),
        ("successThreshold", 1),
        ("failureThreshold", 3),
    ):
        if not probe.get(name):
            probe[name] = value
    _default_http_get(probe)
    grpc = probe.get("grpc")
    if isinstance(grpc, dict):
        grpc.setdefault("service", "")


def default_container(container: Any) -> None:
    """SetDefaults_Container and the nested defaults of one container."""
    if not isinstance(container, dict):
        return
    if not container.get("imagePullPolicy"):
        container["imagePullPolicy"] = image_pull_policy(str(container.get("image") or ""))
    if not container.get("terminationMessagePath"):
        container["terminationMessagePath"] = TERMINATION_MESSAGE_PATH
    if not container.get("terminationMessagePolicy"):
        container["terminationMessagePolicy"] = "File"
    for port in container.get("ports") or []:
        if isinstance(port, dict) and not port.get("protocol"):
            port["protocol"] = "TCP"
    for variable in container.get("env") or []:
        field_ref = (
            ((variable or {}).get("valueFrom") or {}).get("fieldRef") if isinstance(variable, dict) else None
        )
        if isinstance(field_ref, dict) and not field_ref.get("apiVersion"):
            field_ref["apiVersion"] = "v1"
    # ResourceRequirements is a plain struct in the Go type, so it is always written, empty or not.
    resources = container.setdefault("resources", {})
    if isinstance(resources, dict):
        canonical_resource_list(resources.get("limits"))
        canonical_resource_list(resources.get("requests"))
    for name in ("livenessProbe", "readinessProbe", "startupProbe"):
        _default_probe(container.get(name))
    lifecycle = container.get("lifecycle")
    if isinstance(lifecycle, dict):
        _default_http_get(lifecycle.get("postStart"))
        _default_http_get(lifecycle.get("preStop"))


def _default_downward_items(items: Any) -> None:
    for item in items or []:
        field_ref = item.get("fieldRef") if isinstance(item, dict) else None
        if isinstance(field_ref, dict) and not field_ref.get("apiVersion"):
            field_ref["apiVersion"] = "v1"


def default_claim_spec(spec: Any) -> None:
    """SetDefaults_PersistentVolumeClaimSpec and its resource lists."""
    if not isinstance(spec, dict):
        return
    spec.setdefault("volumeMode", "Filesystem")
    resources = spec.get("resources")
    if isinstance(resources, dict):
        canonical_resource_list(resources.get("limits"))
        canonical_resource_list(resources.get("requests"))


_VOLUME_SOURCES = (
    "hostPath",
    "emptyDir",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "persistentVolumeClaim",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "configMap",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
)


def default_volume(volume: Any) -> None:
    """SetDefaults_Volume and the defaults of its source."""
    if not isinstance(volume, dict):
        return
    if not any(volume.get(source) is not None for source in _VOLUME_SOURCES):
        volume["emptyDir"] = {}
    if isinstance(volume.get("hostPath"), dict):
        volume["hostPath"].setdefault("type", "")
    for source in ("secret", "configMap", "downwardAPI", "projected"):
        if isinstance(volume.get(source), dict):
            volume[source].setdefault("defaultMode", DEFAULT_VOLUME_MODE)
    if isinstance(volume.get("downwardAPI"), dict):
        _default_downward_items(volume["downwardAPI"].get("items"))
    projected = volume.get("projected")
    if isinstance(projected, dict):
        for projection in projected.get("sources") or []:
            if not isinstance(projection, dict):
                continue
            if isinstance(projection.get("downwardAPI"), dict):
                _default_downward_items(projection["downwardAPI"].get("items"))
            token = projection.get("serviceAccountToken")
            if isinstance(token, dict):
                token.setdefault("expirationSeconds", 3600)
    empty_dir = volume.get("emptyDir")
    if isinstance(empty_dir, dict) and "sizeLimit" in empty_dir:
        try:
            empty_dir["sizeLimit"] = canonical_quantity(empty_dir["sizeLimit"], round_to_milli=False)
        except ValueError as error:
            raise QuantityError(str(error)) from error
    ephemeral = volume.get("ephemeral")
    if isinstance(ephemeral, dict) and isinstance(ephemeral.get("volumeClaimTemplate"), dict):
        default_claim_spec(ephemeral["volumeClaimTemplate"].get("spec"))


def default_pod_spec(spec: Any) -> None:
    """SetDefaults_PodSpec with everything nested in it (containers, volumes, probes, quantities)."""
    if not isinstance(spec, dict):
        return
    if not spec.get("dnsPolicy"):
        spec["dnsPolicy"] = "ClusterFirst"
    if not spec.get("restartPolicy"):
        spec["restartPolicy"] = "Always"
    if spec.get("securityContext") is None:
        spec["securityContext"] = {}
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = 30
    if not spec.get("schedulerName"):
        spec["schedulerName"] = "default-scheduler"
    for volume in spec.get("volumes") or []:
        default_volume(volume)
    for name in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(name) or []:
            default_container(container)
    canonical_resource_list(spec.get("overhead"))
    if isinstance(spec.get("resources"), dict):
        canonical_resource_list(spec["resources"].get("limits"))
        canonical_resource_list(spec["resources"].get("requests"))


def default_pod_template(template: Any) -> None:
    if isinstance(template, dict):
        default_pod_spec(template.get("spec"))


def _requests_from_limits(containers: Any) -> None:
    for container in containers or []:
        resources = container.get("resources") if isinstance(container, dict) else None
        if not isinstance(resources, dict) or not isinstance(resources.get("limits"), dict):
            continue
        requests = resources.setdefault("requests", {})
        for name, value in resources["limits"].items():
            requests.setdefault(name, value)


def _positive(value: Any) -> Quantity | None:
    try:
        quantity = Quantity.parse(str(value))
    except ValueError:
        return None
    return quantity if quantity.value > 0 else None


def qos_class(spec: dict[str, Any]) -> str:
    """BestEffort, Burstable or Guaranteed from the cpu and memory of all containers (ComputePodQOS)."""
    requests: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    guaranteed = True
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        resources = (container or {}).get("resources") or {}
        for name, value in (resources.get("requests") or {}).items():
            quantity = _positive(value) if name in ("cpu", "memory") else None
            if quantity is not None:
                requests[name] = requests.get(name, 0) + quantity.value
        found = set()
        for name, value in (resources.get("limits") or {}).items():
            quantity = _positive(value) if name in ("cpu", "memory") else None
            if quantity is not None:
                found.add(name)
                limits[name] = limits.get(name, 0) + quantity.value
        if not {"cpu", "memory"} <= found:
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    matching = all(name in limits and limits[name] == amount for name, amount in requests.items())
    return "Guaranteed" if guaranteed and matching and len(requests) == len(limits) else "Burstable"


def _tolerates(toleration: Any, taint: str) -> bool:
    """Whether a toleration already covers a NoExecute taint, as DefaultTolerationSeconds decides."""
    if not isinstance(toleration, dict):
        return False
    return toleration.get("key") in (taint, None, "") and toleration.get("effect") in ("NoExecute", None, "")


def default_pod(pod: dict[str, Any]) -> None:
    """A Pod's defaults: its spec, requests taken from limits, service links, and what admission
    and the pod strategy add on create (service account, tolerations, priority, phase, QoS)."""
    spec = pod.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    _requests_from_limits(spec.get("containers"))
    _requests_from_limits(spec.get("initContainers"))
    if spec.get("enableServiceLinks") is None:
        spec["enableServiceLinks"] = True
    if spec.get("hostNetwork"):
        for name in ("containers", "initContainers"):
            for container in spec.get(name) or []:
                for port in (container or {}).get("ports") or []:
                    if isinstance(port, dict) and not port.get("hostPort"):
                        port["hostPort"] = port.get("containerPort")
    default_pod_spec(spec)
    account = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    spec["serviceAccountName"] = account
    spec["serviceAccount"] = account
    if not spec.get("priorityClassName") and spec.get("priority") is None:
        spec["priority"] = 0
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    tolerations = spec.setdefault("tolerations", [])
    if isinstance(tolerations, list):
        for taint in _UNREACHABLE_TAINTS:
            if not any(_tolerates(toleration, taint) for toleration in tolerations):
                tolerations.append(
                    {
                        "key": taint,
                        "operator": "Exists",
                        "effect": "NoExecute",
                        "tolerationSeconds": DEFAULT_TOLERATION_SECONDS,
                    }
                )
    if not isinstance(pod.get("status"), dict) or not pod["status"]:
        pod["status"] = {"phase": "Pending", "qosClass": qos_class(spec)}
