"""The `kubectl get` columns of the cluster-administration kinds: replication controllers, quotas and
limit ranges, storage classes, priority classes, endpoint slices, leases, certificate signing
requests, admission webhook configurations and API services.

They follow the real printers (pkg/printers/internalversion/printers.go; the aggregator's own table
for APIService). `printer_columns.columns_for` looks a kind up here when its own table has no entry.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sandbox.printer_columns import Column, human_duration

DEFAULT_CLASS_ANNOTATIONS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)
_MAX_LISTED = 3  # listWithMoreString: three entries, then "+ N more..."


def _since(timestamp: Any) -> str:
    if not timestamp:
        return "<unknown>"
    try:
        moment = datetime.strptime(str(timestamp)[:19] + "Z", "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return "<unknown>"
    return human_duration((datetime.now(UTC) - moment).total_seconds())


def _spec(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("spec") or {}


def _status(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("status") or {}


def _name(obj: dict[str, Any]) -> str:
    return str(obj["metadata"].get("name", ""))


def _age(obj: dict[str, Any]) -> str:
    return _since(obj["metadata"].get("creationTimestamp"))


def _created_at(obj: dict[str, Any]) -> str:
    """The default table convertor's `Created At` cell: the RFC 3339 creation time."""
    return str(obj["metadata"].get("creationTimestamp") or "")


def _listed(entries: list[str]) -> str:
    """listWithMoreString: the first three, `+ N more...`, or `<unset>` for none."""
    text = ",".join(entries[:_MAX_LISTED])
    if len(entries) > _MAX_LISTED:
        return f"{text} + {len(entries) - _MAX_LISTED} more..."
    return text or "<unset>"


def _template_containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return list(((_spec(obj).get("template") or {}).get("spec") or {}).get("containers") or [])


def _rc_selector(obj: dict[str, Any]) -> str:
    selector = _spec(obj).get("selector") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items())) or "<none>"


def _quota_column(limits: bool) -> Callable[[dict[str, Any]], str]:
    """printResourceQuota: `resource: used/hard` for each hard limit, `limits.*` in the Limit column."""

    def cell(obj: dict[str, Any]) -> str:
        hard = _status(obj).get("hard") or {}
        used = _status(obj).get("used") or {}
        parts = []
        for resource in sorted(hard):
            pieces = resource.split(".")
            if (len(pieces) > 1 and pieces[0] == "limits") == limits:
                parts.append(f"{resource}: {used.get(resource, '0')}/{hard[resource]}")
        return ", ".join(parts)

    return cell


def _storage_class_name(obj: dict[str, Any]) -> str:
    annotations = obj["metadata"].get("annotations") or {}
    default = any(annotations.get(key) == "true" for key in DEFAULT_CLASS_ANNOTATIONS)
    return f"{_name(obj)} (default)" if default else _name(obj)


def _slice_ports(obj: dict[str, Any]) -> str:
    ports = []
    for port in obj.get("ports") or []:
        if port.get("port") is not None:
            ports.append(str(port["port"]))
        else:
            ports.append(str(port.get("name") or "*"))
    return _listed(ports)


def _slice_endpoints(obj: dict[str, Any]) -> str:
    return _listed([str(a) for e in obj.get("endpoints") or [] for a in e.get("addresses") or []])


def _csr_condition(obj: dict[str, Any]) -> str:
    kinds = {c.get("type") for c in _status(obj).get("conditions") or [] if c.get("status", "True") == "True"}
    state = "Denied" if "Denied" in kinds else "Approved" if "Approved" in kinds else "Pending"
    if "Failed" in kinds:
        state += ",Failed"
    if _status(obj).get("certificate"):
        state += ",Issued"
    return state


def _csr_duration(obj: dict[str, Any]) -> str:
    seconds = _spec(obj).get("expirationSeconds")
    return human_duration(float(seconds)) if seconds is not None else "<none>"


def _api_service_target(obj: dict[str, Any]) -> str:
    service = _spec(obj).get("service")
    if not service:
        return "Local"
    return f"{service.get('namespace')}/{service.get('name')}"


def _api_service_available(obj: dict[str, Any]) -> str:
    for condition in _status(obj).get("conditions") or []:
        if condition.get("type") == "Available":
            if condition.get("status") == "True":
                return "True"
            return f"{condition.get('status')} ({condition.get('reason')})"
    return "Unknown"


_NAME: Column = ("Name", "string", 0, _name)
_AGE: Column = ("Age", "string", 0, _age)

ADMIN_COLUMNS: dict[tuple[str, str], list[Column]] = {
    ("", "ReplicationController"): [
        _NAME,
        ("Desired", "integer", 0, lambda o: _spec(o).get("replicas", 0)),
        ("Current", "integer", 0, lambda o: _status(o).get("replicas", 0)),
        ("Ready", "integer", 0, lambda o: _status(o).get("readyReplicas", 0)),
        _AGE,
        (
            "Containers",
            "string",
            1,
            lambda o: ",".join(str(c.get("name", "")) for c in _template_containers(o)),
        ),
        ("Images", "string", 1, lambda o: ",".join(str(c.get("image", "")) for c in _template_containers(o))),
        ("Selector", "string", 1, _rc_selector),
    ],
    ("", "LimitRange"): [_NAME, ("Created At", "date", 0, _created_at)],
    ("", "ResourceQuota"): [
        _NAME,
        _AGE,
        ("Request", "string", 0, _quota_column(limits=False)),
        ("Limit", "string", 0, _quota_column(limits=True)),
    ],
    ("storage.k8s.io", "StorageClass"): [
        ("Name", "string", 0, _storage_class_name),
        ("Provisioner", "string", 0, lambda o: o.get("provisioner", "")),
        ("ReclaimPolicy", "string", 0, lambda o: o.get("reclaimPolicy") or "Delete"),
        ("VolumeBindingMode", "string", 0, lambda o: o.get("volumeBindingMode") or "Immediate"),
        ("AllowVolumeExpansion", "string", 0, lambda o: str(bool(o.get("allowVolumeExpansion"))).lower()),
        _AGE,
    ],
    ("scheduling.k8s.io", "PriorityClass"): [
        _NAME,
        ("Value", "integer", 0, lambda o: o.get("value", 0)),
        ("Global-Default", "boolean", 0, lambda o: bool(o.get("globalDefault", False))),
        _AGE,
        ("PreemptionPolicy", "string", 0, lambda o: o.get("preemptionPolicy", "")),
    ],
    ("discovery.k8s.io", "EndpointSlice"): [
        _NAME,
        ("AddressType", "string", 0, lambda o: o.get("addressType", "")),
        ("Ports", "string", 0, _slice_ports),
        ("Endpoints", "string", 0, _slice_endpoints),
        _AGE,
    ],
    ("coordination.k8s.io", "Lease"): [
        _NAME,
        ("Holder", "string", 0, lambda o: _spec(o).get("holderIdentity", "")),
        _AGE,
    ],
    ("certificates.k8s.io", "CertificateSigningRequest"): [
        _NAME,
        _AGE,
        ("SignerName", "string", 0, lambda o: _spec(o).get("signerName", "")),
        ("Requestor", "string", 0, lambda o: _spec(o).get("username", "")),
        ("RequestedDuration", "string", 0, _csr_duration),
        ("Condition", "string", 0, _csr_condition),
    ],
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"): [
        _NAME,
        ("Webhooks", "integer", 0, lambda o: len(o.get("webhooks") or [])),
        _AGE,
    ],
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"): [
        _NAME,
        ("Webhooks", "integer", 0, lambda o: len(o.get("webhooks") or [])),
        _AGE,
    ],
    ("apiregistration.k8s.io", "APIService"): [
        _NAME,
        ("Service", "string", 0, _api_service_target),
        ("Available", "string", 0, _api_service_available),
        _AGE,
    ],
}
