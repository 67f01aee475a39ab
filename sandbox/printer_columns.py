"""The columns `kubectl get` shows for each kind, computed on the server as a real one does.

Columns follow the real printers (pkg/printers/internalversion); custom resources use their CRD's
additionalPrinterColumns plus Age; every other kind gets Name and Age, as a real server prints it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from sandbox.crds import read_path
from sandbox.kinds import ResourceType
from sandbox.selectors import format_label_selector

Column = tuple[str, str, int, Callable[[dict[str, Any]], Any]]  # name, type, priority, cell


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    total = int(seconds)
    if total < 120:
        return f"{total}s"
    minutes = total // 60
    if minutes < 10:
        rest = total % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        rest = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if rest == 0 else f"{hours // 24 // 365}y{rest}d"
    return f"{hours // 24 // 365}y"


def _since(timestamp: Any) -> str:
    if not timestamp:
        return "<unknown>"
    try:
        moment = datetime.strptime(str(timestamp), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return "<unknown>"
    return human_duration((datetime.now(UTC) - moment).total_seconds())


def _age(obj: dict[str, Any]) -> str:
    return _since(obj["metadata"].get("creationTimestamp"))


def _spec(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("spec") or {}


def _status(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("status") or {}


def _template_containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = _spec(obj)
    template = spec.get("template") or (spec.get("jobTemplate") or {}).get("spec", {}).get("template") or {}
    return list((template.get("spec") or {}).get("containers") or [])


def _containers(obj: dict[str, Any]) -> str:
    return ",".join(str(c.get("name", "")) for c in _template_containers(obj))


def _images(obj: dict[str, Any]) -> str:
    return ",".join(str(c.get("image", "")) for c in _template_containers(obj))


def _selector(obj: dict[str, Any]) -> str:
    return format_label_selector(_spec(obj).get("selector")) or "<none>"


def _pod_ready(obj: dict[str, Any]) -> str:
    statuses = _status(obj).get("containerStatuses") or []
    ready = sum(1 for s in statuses if s.get("ready"))
    return f"{ready}/{len(_spec(obj).get('containers') or [])}"


def _pod_status(obj: dict[str, Any]) -> str:
    status = _status(obj)
    reason = status.get("reason") or status.get("phase") or "Unknown"
    for container in status.get("containerStatuses") or []:
        state = container.get("state") or {}
        if (state.get("waiting") or {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif (state.get("terminated") or {}).get("reason"):
            reason = state["terminated"]["reason"]
    if obj["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    return str(reason)


def _pod_restarts(obj: dict[str, Any]) -> int:
    return sum(int(s.get("restartCount") or 0) for s in _status(obj).get("containerStatuses") or [])


def _service_ports(obj: dict[str, Any]) -> str:
    ports = []
    for port in _spec(obj).get("ports") or []:
        text = f"{port.get('port')}"
        if port.get("nodePort"):
            text += f":{port['nodePort']}"
        ports.append(f"{text}/{port.get('protocol', 'TCP')}")
    return ",".join(ports) or "<none>"


def _external_ip(obj: dict[str, Any]) -> str:
    spec = _spec(obj)
    if spec.get("type") == "ExternalName":
        return str(spec.get("externalName", ""))
    ingress = (_status(obj).get("loadBalancer") or {}).get("ingress") or []
    addresses = [str(i.get("ip") or i.get("hostname")) for i in ingress] + list(spec.get("externalIPs") or [])
    if addresses:
        return ",".join(addresses)
    return "<pending>" if spec.get("type") == "LoadBalancer" else "<none>"


def _deployment_ready(obj: dict[str, Any]) -> str:
    return f"{_status(obj).get('readyReplicas', 0)}/{_spec(obj).get('replicas', 0)}"


def _job_status(obj: dict[str, Any]) -> str:
    for condition in _status(obj).get("conditions") or []:
        if condition.get("status") == "True" and condition.get("type") in ("Complete", "Failed", "Suspended"):
            return str(condition["type"])
    return "Running"


def _job_completions(obj: dict[str, Any]) -> str:
    completions = _spec(obj).get("completions")
    succeeded = _status(obj).get("succeeded", 0)
    return (
        f"{succeeded}/{completions}"
        if completions is not None
        else f"{succeeded}/1 of {_spec(obj).get('parallelism', 1)}"
    )


def _job_duration(obj: dict[str, Any]) -> str:
    start = _status(obj).get("startTime")
    return _since(start) if start else ""


def _ingress_hosts(obj: dict[str, Any]) -> str:
    hosts = [str(r.get("host")) for r in _spec(obj).get("rules") or [] if r.get("host")]
    return ",".join(hosts) or "*"


def _pvc_capacity(obj: dict[str, Any]) -> str:
    return str((_status(obj).get("capacity") or {}).get("storage", ""))


def _access_modes(modes: Iterable[str] | None) -> str:
    short = {
        "ReadWriteOnce": "RWO",
        "ReadOnlyMany": "ROX",
        "ReadWriteMany": "RWX",
        "ReadWriteOncePod": "RWOP",
    }
    return ",".join(short.get(m, m) for m in modes or [])


def _endpoints(obj: dict[str, Any]) -> str:
    found = [
        f"{a.get('ip')}:{p.get('port')}"
        for subset in obj.get("subsets") or []
        for a in subset.get("addresses") or []
        for p in subset.get("ports") or [{"port": ""}]
    ]
    return ",".join(found) or "<none>"


def _hpa_reference(obj: dict[str, Any]) -> str:
    target = _spec(obj).get("scaleTargetRef") or {}
    return f"{target.get('kind')}/{target.get('name')}"


def _hpa_targets(obj: dict[str, Any]) -> str:
    # Tables print the internal object, so a v1 view's CPU target counts as a metric too.
    spec = _spec(obj)
    has_target = spec.get("metrics") or spec.get("targetCPUUtilizationPercentage") is not None
    return "<unknown>" if has_target else "<none>"


def _count(section: str) -> Callable[[dict[str, Any]], int]:
    return lambda obj: (
        len(obj.get(section) or {}) + (len(obj.get("binaryData") or {}) if section == "data" else 0)
    )


def _pairs(mapping: dict[str, Any] | None) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted((mapping or {}).items())) or "<none>"


def _template_spec(obj: dict[str, Any]) -> dict[str, Any]:
    return (_spec(obj).get("template") or {}).get("spec") or {}


def _node_status(obj: dict[str, Any]) -> str:
    conditions = _status(obj).get("conditions") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    status = "Ready" if ready else "NotReady"
    # printNode: a cordoned node shows `Ready,SchedulingDisabled`.
    return f"{status},SchedulingDisabled" if _spec(obj).get("unschedulable") else status


def _involved_object(obj: dict[str, Any]) -> str:
    involved = obj.get("involvedObject") or {}
    return f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}"


def _last_schedule(obj: dict[str, Any]) -> str:
    last = _status(obj).get("lastScheduleTime")
    return _since(last) if last else "<none>"


def _load_balancer_addresses(obj: dict[str, Any]) -> str:
    ingress = (_status(obj).get("loadBalancer") or {}).get("ingress") or []
    return ",".join(str(i.get("ip") or i.get("hostname")) for i in ingress)


def _pod_selector(obj: dict[str, Any]) -> str:
    return format_label_selector(_spec(obj).get("podSelector")) or "<none>"


def _role_reference(obj: dict[str, Any]) -> str:
    reference = obj.get("roleRef") or {}
    return f"{reference.get('kind')}/{reference.get('name')}"


def _name(obj: dict[str, Any]) -> str:
    return str(obj["metadata"].get("name", ""))


_NAME: Column = ("Name", "string", 0, _name)
_AGE: Column = ("Age", "string", 0, _age)
_CONTAINERS: list[Column] = [
    ("Containers", "string", 1, _containers),
    ("Images", "string", 1, _images),
    ("Selector", "string", 1, _selector),
]

_COLUMNS: dict[tuple[str, str], list[Column]] = {
    ("", "Pod"): [
        _NAME,
        ("Ready", "string", 0, _pod_ready),
        ("Status", "string", 0, _pod_status),
        ("Restarts", "string", 0, _pod_restarts),
        _AGE,
        ("IP", "string", 1, lambda o: _status(o).get("podIP", "<none>")),
        ("Node", "string", 1, lambda o: _spec(o).get("nodeName", "<none>")),
    ],
    ("", "Service"): [
        _NAME,
        ("Type", "string", 0, lambda o: _spec(o).get("type", "ClusterIP")),
        ("Cluster-IP", "string", 0, lambda o: _spec(o).get("clusterIP", "<none>")),
        ("External-IP", "string", 0, _external_ip),
        ("Port(s)", "string", 0, _service_ports),
        _AGE,
        ("Selector", "string", 1, lambda o: _pairs(_spec(o).get("selector"))),
    ],
    ("", "ConfigMap"): [_NAME, ("Data", "integer", 0, _count("data")), _AGE],
    ("", "Secret"): [
        _NAME,
        ("Type", "string", 0, lambda o: o.get("type", "")),
        ("Data", "integer", 0, lambda o: len(o.get("data") or {})),
        _AGE,
    ],
    ("", "ServiceAccount"): [_NAME, ("Secrets", "integer", 0, lambda o: len(o.get("secrets") or [])), _AGE],
    ("", "Namespace"): [_NAME, ("Status", "string", 0, lambda o: _status(o).get("phase", "")), _AGE],
    ("", "PersistentVolumeClaim"): [
        _NAME,
        ("Status", "string", 0, lambda o: _status(o).get("phase", "")),
        ("Volume", "string", 0, lambda o: _spec(o).get("volumeName", "")),
        ("Capacity", "string", 0, _pvc_capacity),
        ("Access Modes", "string", 0, lambda o: _access_modes(_status(o).get("accessModes"))),
        ("StorageClass", "string", 0, lambda o: _spec(o).get("storageClassName", "<unset>")),
        _AGE,
    ],
    ("", "Endpoints"): [_NAME, ("Endpoints", "string", 0, _endpoints), _AGE],
    ("", "Node"): [
        _NAME,
        ("Status", "string", 0, _node_status),
        ("Roles", "string", 0, lambda o: "<none>"),
        _AGE,
        ("Version", "string", 0, lambda o: (_status(o).get("nodeInfo") or {}).get("kubeletVersion", "")),
    ],
    ("", "Event"): [
        ("Last Seen", "string", 0, lambda o: _since(o.get("lastTimestamp") or o.get("eventTime"))),
        ("Type", "string", 0, lambda o: o.get("type", "")),
        ("Reason", "string", 0, lambda o: o.get("reason", "")),
        ("Object", "string", 0, _involved_object),
        ("Message", "string", 0, lambda o: o.get("message", "")),
    ],
    ("apps", "Deployment"): [
        _NAME,
        ("Ready", "string", 0, _deployment_ready),
        ("Up-to-date", "integer", 0, lambda o: _status(o).get("updatedReplicas", 0)),
        ("Available", "integer", 0, lambda o: _status(o).get("availableReplicas", 0)),
        _AGE,
        *_CONTAINERS,
    ],
    ("apps", "ReplicaSet"): [
        _NAME,
        ("Desired", "integer", 0, lambda o: _spec(o).get("replicas", 0)),
        ("Current", "integer", 0, lambda o: _status(o).get("replicas", 0)),
        ("Ready", "integer", 0, lambda o: _status(o).get("readyReplicas", 0)),
        _AGE,
        *_CONTAINERS,
    ],
    ("apps", "StatefulSet"): [_NAME, ("Ready", "string", 0, _deployment_ready), _AGE, *_CONTAINERS[:2]],
    ("apps", "DaemonSet"): [
        _NAME,
        ("Desired", "integer", 0, lambda o: _status(o).get("desiredNumberScheduled", 0)),
        ("Current", "integer", 0, lambda o: _status(o).get("currentNumberScheduled", 0)),
        ("Ready", "integer", 0, lambda o: _status(o).get("numberReady", 0)),
        ("Up-to-date", "integer", 0, lambda o: _status(o).get("updatedNumberScheduled", 0)),
        ("Available", "integer", 0, lambda o: _status(o).get("numberAvailable", 0)),
        ("Node Selector", "string", 0, lambda o: _pairs(_template_spec(o).get("nodeSelector"))),
        _AGE,
        *_CONTAINERS,
    ],
    ("batch", "Job"): [
        _NAME,
        ("Status", "string", 0, _job_status),
        ("Completions", "string", 0, _job_completions),
        ("Duration", "string", 0, _job_duration),
        _AGE,
        *_CONTAINERS,
    ],
    ("batch", "CronJob"): [
        _NAME,
        ("Schedule", "string", 0, lambda o: _spec(o).get("schedule", "")),
        ("Timezone", "string", 0, lambda o: _spec(o).get("timeZone", "<none>")),
        ("Suspend", "boolean", 0, lambda o: bool(_spec(o).get("suspend", False))),
        ("Active", "integer", 0, lambda o: len(_status(o).get("active") or [])),
        ("Last Schedule", "string", 0, _last_schedule),
        _AGE,
        *_CONTAINERS,
    ],
    ("networking.k8s.io", "Ingress"): [
        _NAME,
        ("Class", "string", 0, lambda o: _spec(o).get("ingressClassName", "<none>")),
        ("Hosts", "string", 0, _ingress_hosts),
        ("Address", "string", 0, _load_balancer_addresses),
        ("Ports", "string", 0, lambda o: "80, 443" if _spec(o).get("tls") else "80"),
        _AGE,
    ],
    ("networking.k8s.io", "NetworkPolicy"): [
        _NAME,
        (
            "Pod-Selector",
            "string",
            0,
            lambda o: format_label_selector(_spec(o).get("podSelector")) or "<none>",
        ),
        _AGE,
    ],
    ("autoscaling", "HorizontalPodAutoscaler"): [
        _NAME,
        ("Reference", "string", 0, _hpa_reference),
        ("Targets", "string", 0, _hpa_targets),
        ("MinPods", "string", 0, lambda o: _spec(o).get("minReplicas", 1)),
        ("MaxPods", "integer", 0, lambda o: _spec(o).get("maxReplicas", 0)),
        ("Replicas", "integer", 0, lambda o: _status(o).get("currentReplicas", 0)),
        _AGE,
    ],
    ("policy", "PodDisruptionBudget"): [
        _NAME,
        ("Min Available", "string", 0, lambda o: _spec(o).get("minAvailable", "N/A")),
        ("Max Unavailable", "string", 0, lambda o: _spec(o).get("maxUnavailable", "N/A")),
        ("Allowed Disruptions", "integer", 0, lambda o: _status(o).get("disruptionsAllowed", 0)),
        _AGE,
    ],
    ("rbac.authorization.k8s.io", "RoleBinding"): [
        _NAME,
        ("Role", "string", 0, _role_reference),
        _AGE,
    ],
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): [
        _NAME,
        ("Role", "string", 0, _role_reference),
        _AGE,
    ],
    ("apiextensions.k8s.io", "CustomResourceDefinition"): [
        _NAME,
        ("Created At", "date", 0, lambda o: o["metadata"].get("creationTimestamp", "")),
    ],
}


def _custom_columns(resource_type: ResourceType) -> list[Column]:
    columns: list[Column] = [_NAME]
    declared = list(resource_type.printer_columns)
    for column in declared:
        path = str(column.get("jsonPath", ""))
        kind = str(column.get("type", "string"))

        def cell(obj: dict[str, Any], path: str = path, kind: str = kind) -> Any:
            value = read_path(obj, path)
            if kind == "date":
                return _since(value) if value else "<unknown>"
            return "<none>" if value is None else value

        columns.append(
            (
                str(column.get("name", "")),
                "string" if kind == "date" else kind,
                int(str(column.get("priority", 0))),
                cell,
            )
        )
    if not declared:
        columns.append(_AGE)
    return columns


def columns_for(resource_type: ResourceType) -> list[Column]:
    if resource_type.custom:
        return _custom_columns(resource_type)
    from sandbox.printer_columns_admin import ADMIN_COLUMNS  # it builds on this module's helpers

    key = (resource_type.group, resource_type.kind)
    return _COLUMNS.get(key) or ADMIN_COLUMNS.get(key) or [_NAME, _AGE]
