"""The validation a real API server runs before storing: 422 Invalid with field causes.

This covers what users commonly get wrong (names, labels, the 256 KiB of annotations, required fields,
selectors that do not match their template, a Recreate Deployment keeping its rollingUpdate, immutable
fields, and pod specs: sandbox.pod_validation), with the messages of k8s.io/apimachinery field errors
as Kubernetes 1.31 words them.
"""

from __future__ import annotations

import re
from typing import Any

from sandbox.crd_validation import validate_custom_resource
from sandbox.errors import StatusError, invalid
from sandbox.invalid_fields import DNS_LABEL, LABEL_MESSAGE, FieldError
from sandbox.kinds import ResourceType
from sandbox.pod_validation import validate_pod_spec
from sandbox.selectors import label_key_error, label_selector_from_object, label_value_error

__all__ = ["TOTAL_ANNOTATION_SIZE_LIMIT", "FieldError", "invalid_error", "validate", "validate_metadata"]

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")

_SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
    "must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_DNS_1035_MESSAGE = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)

_CONFIG_KEY_MESSAGE = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or "
    "'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
)

# All annotations of an object together, keys and values (kubectl's last-applied copy included).
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024
_WORKLOADS = {("apps", "Deployment"), ("apps", "ReplicaSet"), ("apps", "StatefulSet"), ("apps", "DaemonSet")}
_RBAC_GROUP = "rbac.authorization.k8s.io"


def invalid_error(resource_type: ResourceType, name: str, errors: list[FieldError]) -> StatusError:
    """The 422 Status for these field errors, worded like a real API server's."""
    return invalid(resource_type.kind, name, [(e.field, e.detail) for e in errors], group=resource_type.group)


def validate(obj: dict[str, Any], resource_type: ResourceType, old: dict[str, Any] | None = None) -> None:
    """Raise 422 Invalid when the object (or the change from `old`) is not acceptable."""
    errors = validate_metadata(obj, resource_type)
    key = (resource_type.group, resource_type.kind)
    checks = _KIND_CHECKS.get(key)
    if checks is not None:
        errors.extend(checks(obj))
    if old is not None:
        errors.extend(_immutable_changes(obj, old, resource_type))
    if resource_type.custom:
        # The CRD's schema and rules add their causes to these, in one 422 (sandbox.crd_validation).
        validate_custom_resource(obj, resource_type, old, errors)
    if errors:
        raise invalid_error(resource_type, str(obj["metadata"].get("name", "")), errors)


def validate_metadata(obj: dict[str, Any], resource_type: ResourceType) -> list[FieldError]:
    metadata = obj["metadata"]
    name = str(metadata.get("name") or "")
    errors: list[FieldError] = []
    if not name:
        errors.append(FieldError.required("metadata.name", "name or generateName is required"))
    else:
        problem = _name_problem(name, resource_type)
        if problem:
            errors.append(FieldError.invalid("metadata.name", name, problem))
    for key, value in (metadata.get("labels") or {}).items():
        key_problem = label_key_error(str(key))
        if key_problem:
            errors.append(FieldError.invalid("metadata.labels", key, key_problem))
        value_problem = label_value_error(str(value)) if isinstance(value, str) else "must be a string"
        if value_problem:
            errors.append(FieldError.invalid("metadata.labels", value, value_problem))
    annotations = metadata.get("annotations") or {}
    for key in annotations:
        # A qualified name, except that case does not matter.
        key_problem = label_key_error(str(key).lower())
        if key_problem:
            errors.append(FieldError.invalid("metadata.annotations", key, key_problem))
    if _byte_size(annotations) > TOTAL_ANNOTATION_SIZE_LIMIT:
        errors.append(FieldError.too_long("metadata.annotations", TOTAL_ANNOTATION_SIZE_LIMIT))
    return errors


def _byte_size(annotations: dict[str, Any]) -> int:
    """The size ValidateAnnotationsSize adds up: the UTF-8 bytes of every key and value."""
    return sum(len(str(key).encode()) + len(str(value).encode()) for key, value in annotations.items())


def _name_problem(name: str, resource_type: ResourceType) -> str | None:
    key = (resource_type.group, resource_type.kind)
    if key == ("", "Namespace"):
        return None if len(name) <= 63 and DNS_LABEL.match(name) else LABEL_MESSAGE
    if key == ("", "Service"):
        return None if len(name) <= 63 and _DNS_1035.match(name) else _DNS_1035_MESSAGE
    # RBAC objects and APIServices (`v1.` for the core group) take any path segment name.
    if resource_type.group in (_RBAC_GROUP, "apiregistration.k8s.io"):
        if name in (".", "..") or "/" in name or "%" in name:
            return f"may not be '{name}'" if name in (".", "..") else "may not contain '/' or '%'"
        return None
    return None if len(name) <= 253 and _DNS_SUBDOMAIN.match(name) else _SUBDOMAIN_MESSAGE


def _config_keys(obj: dict[str, Any]) -> list[FieldError]:
    errors: list[FieldError] = []
    for section in ("data", "binaryData"):
        for key in obj.get(section) or {}:
            if not _CONFIG_KEY.match(str(key)) or len(str(key)) > 253:
                errors.append(
                    FieldError.invalid(
                        f"{section}[{key}]",
                        key,
                        _CONFIG_KEY_MESSAGE,
                    )
                )
    return errors


def _pod(obj: dict[str, Any]) -> list[FieldError]:
    return validate_pod_spec(obj.get("spec"), "spec")


def _workload(obj: dict[str, Any], *, pod_spec: bool = True) -> list[FieldError]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [FieldError.required("spec.selector"), FieldError.required("spec.template")]
    errors: list[FieldError] = []
    replicas = spec.get("replicas")
    if replicas is not None and (not isinstance(replicas, int) or replicas < 0):
        errors.append(FieldError.invalid("spec.replicas", replicas, "must be greater than or equal to 0"))
    selector = spec.get("selector")
    template = spec.get("template")
    if not selector:
        errors.append(FieldError.required("spec.selector"))
    elif not (selector.get("matchLabels") or selector.get("matchExpressions")):
        errors.append(
            FieldError.invalid("spec.selector", selector, "empty selector is invalid for deployment")
        )
    if not isinstance(template, dict):
        errors.append(FieldError.required("spec.template"))
        return errors
    labels = (template.get("metadata") or {}).get("labels") or {}
    if selector and not label_selector_from_object(selector).matches(labels):
        errors.append(
            FieldError.invalid(
                "spec.template.metadata.labels", labels, "`selector` does not match template `labels`"
            )
        )
    if pod_spec:
        errors.extend(validate_pod_spec(template.get("spec"), "spec.template.spec"))
    return errors


def _deployment(obj: dict[str, Any]) -> list[FieldError]:
    errors = _workload(obj)
    strategy = (obj.get("spec") or {}).get("strategy") or {}
    if strategy.get("type") == "Recreate" and strategy.get("rollingUpdate") is not None:
        errors.append(
            FieldError.forbidden(
                "spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'"
            )
        )
    return errors


def _stateful_set(obj: dict[str, Any]) -> list[FieldError]:
    """A StatefulSet's pod template is not validated as a pod spec (its volumes may come from claim
    templates, which the pod spec validation would not see), only its restart policy."""
    errors = _workload(obj, pod_spec=False)
    restart = (((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("restartPolicy")
    if restart not in (None, "Always"):
        errors.append(FieldError.not_supported("spec.template.spec.restartPolicy", restart, ["Always"]))
    return errors


def _job_template(template: Any, path: str) -> list[FieldError]:
    if not isinstance(template, dict):
        return [FieldError.required(path)]
    errors = validate_pod_spec(template.get("spec"), f"{path}.spec")
    restart = (template.get("spec") or {}).get("restartPolicy")
    if restart not in ("OnFailure", "Never"):
        if restart is None:
            errors.append(
                FieldError.required(f"{path}.spec.restartPolicy", 'valid values: "OnFailure", "Never"')
            )
        else:
            errors.append(
                FieldError.not_supported(f"{path}.spec.restartPolicy", restart, ["OnFailure", "Never"])
            )
    return errors


def _job(obj: dict[str, Any]) -> list[FieldError]:
    return _job_template((obj.get("spec") or {}).get("template"), "spec.template")


def _cron_job(obj: dict[str, Any]) -> list[FieldError]:
    spec = obj.get("spec") or {}
    errors: list[FieldError] = []
    if not spec.get("schedule"):
        errors.append(FieldError.required("spec.schedule"))
    job_template = spec.get("jobTemplate") or {}
    errors.extend(
        _job_template((job_template.get("spec") or {}).get("template"), "spec.jobTemplate.spec.template")
    )
    return errors


def _service(obj: dict[str, Any]) -> list[FieldError]:
    spec = obj.get("spec") or {}
    service_type = spec.get("type", "ClusterIP")
    errors: list[FieldError] = []
    allowed = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
    if service_type not in allowed:
        errors.append(FieldError.not_supported("spec.type", service_type, allowed))
    ports = spec.get("ports") or []
    if not ports and service_type != "ExternalName" and spec.get("clusterIP") != "None":
        errors.append(FieldError.required("spec.ports"))
    if service_type == "ExternalName" and not spec.get("externalName"):
        errors.append(FieldError.required("spec.externalName"))
    names: set[str] = set()
    seen: set[tuple[Any, Any]] = set()
    for index, port in enumerate(ports):
        where = f"spec.ports[{index}]"
        number = port.get("port")
        if not isinstance(number, int) or not 0 < number < 65536:
            errors.append(
                FieldError.invalid(f"{where}.port", number, "must be between 1 and 65535, inclusive")
            )
        name = port.get("name")
        if len(ports) > 1 and not name:
            errors.append(FieldError.required(f"{where}.name"))
        elif name in names:
            errors.append(FieldError.duplicate(f"{where}.name", name))
        elif name:
            names.add(str(name))
        identity = (number, port.get("protocol", "TCP"))
        if identity in seen:
            errors.append(FieldError.duplicate(where, {"port": str(number), "protocol": str(identity[1])}))
        seen.add(identity)
    return errors


def _role_binding(obj: dict[str, Any]) -> list[FieldError]:
    role_ref = obj.get("roleRef") or {}
    errors: list[FieldError] = []
    if not role_ref.get("kind"):
        errors.append(FieldError.not_supported("roleRef.kind", "", ["Role", "ClusterRole"]))
    if not role_ref.get("name"):
        errors.append(FieldError.required("roleRef.name"))
    return errors


def _crd(obj: dict[str, Any]) -> list[FieldError]:
    spec = obj.get("spec") or {}
    names = spec.get("names") or {}
    errors: list[FieldError] = []
    if not spec.get("group"):
        errors.append(FieldError.required("spec.group"))
    if not names.get("plural"):
        errors.append(FieldError.required("spec.names.plural"))
    if not names.get("kind"):
        errors.append(FieldError.required("spec.names.kind"))
    expected = f"{names.get('plural')}.{spec.get('group')}"
    if names.get("plural") and spec.get("group") and obj["metadata"].get("name") != expected:
        errors.append(
            FieldError.invalid(
                "metadata.name", obj["metadata"].get("name"), 'must be spec.names.plural+"."+spec.group'
            )
        )
    scope = spec.get("scope")
    if scope not in ("Namespaced", "Cluster"):
        errors.append(FieldError.not_supported("spec.scope", scope, ["Cluster", "Namespaced"]))
    versions = spec.get("versions") or []
    if not versions or sum(1 for v in versions if v.get("storage")) != 1:
        errors.append(
            FieldError.invalid(
                "spec.versions", versions, "must have exactly one version marked as storage version"
            )
        )
    for index, version in enumerate(versions):
        if not version.get("name"):
            errors.append(FieldError.required(f"spec.versions[{index}].name"))
        if version.get("served") is None:
            errors.append(FieldError.required(f"spec.versions[{index}].served"))
    return errors


_KIND_CHECKS = {
    ("", "ConfigMap"): _config_keys,
    ("", "Secret"): _config_keys,
    ("", "Pod"): _pod,
    ("", "Service"): _service,
    ("batch", "Job"): _job,
    ("batch", "CronJob"): _cron_job,
    (_RBAC_GROUP, "RoleBinding"): _role_binding,
    (_RBAC_GROUP, "ClusterRoleBinding"): _role_binding,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): _crd,
    ("apps", "Deployment"): _deployment,
    ("apps", "StatefulSet"): _stateful_set,
    ("apps", "ReplicaSet"): _workload,
    ("apps", "DaemonSet"): _workload,
}


def _immutable_changes(
    new: dict[str, Any], old: dict[str, Any], resource_type: ResourceType
) -> list[FieldError]:
    key = (resource_type.group, resource_type.kind)
    new_spec = new.get("spec") or {}
    old_spec = old.get("spec") or {}
    errors: list[FieldError] = []
    if (key in _WORKLOADS or key == ("batch", "Job")) and new_spec.get("selector") != old_spec.get(
        "selector"
    ):
        errors.append(FieldError.invalid("spec.selector", new_spec.get("selector"), "field is immutable"))
    if key == ("batch", "Job") and _template_without_labels(new_spec) != _template_without_labels(old_spec):
        errors.append(FieldError.invalid("spec.template", new_spec.get("template"), "field is immutable"))
    if (
        key == ("", "Service")
        and old_spec.get("clusterIP")
        and new_spec.get("clusterIP") != old_spec.get("clusterIP")
    ):
        errors.append(FieldError.invalid("spec.clusterIP", new_spec.get("clusterIP"), "field is immutable"))
    if key in {("", "ConfigMap"), ("", "Secret")} and old.get("immutable"):
        for section in ("data", "binaryData"):
            if new.get(section) != old.get(section):
                errors.append(FieldError.forbidden(section, "field is immutable when `immutable` is set"))
    if key in {(_RBAC_GROUP, "RoleBinding"), (_RBAC_GROUP, "ClusterRoleBinding")} and new.get(
        "roleRef"
    ) != old.get("roleRef"):
        errors.append(FieldError.invalid("roleRef", new.get("roleRef"), "cannot change roleRef"))
    old_finalizers = set(old["metadata"].get("finalizers") or [])
    added = [f for f in new["metadata"].get("finalizers") or [] if f not in old_finalizers]
    if old["metadata"].get("deletionTimestamp") and added:
        errors.append(
            FieldError.forbidden(
                "metadata.finalizers",
                "no new finalizers can be added if the object is being deleted, "
                f"found new finalizers {added}",
            )
        )
    return errors


def _template_without_labels(spec: dict[str, Any]) -> Any:
    template = dict(spec.get("template") or {})
    metadata = dict(template.get("metadata") or {})
    metadata.pop("labels", None)
    metadata.pop("annotations", None)
    template["metadata"] = metadata
    return template
