"""The validation of a pod spec, wherever one appears (a Pod, or the template of a workload or Job),
as pkg/apis/core/validation does it for Kubernetes 1.31, with its field paths and messages.

Covered: containers (names, images, ports), environment variable names (the strict rule: the relaxed
one is RelaxedEnvironmentVariableValidation, beta and on by default only from 1.32), volume mounts
against the pod's volumes, and resource requests against limits.
"""

from __future__ import annotations

import re
from typing import Any

from core.schema.quantity import Quantity
from sandbox.invalid_fields import DNS_LABEL, LABEL_MESSAGE, FieldError

__all__ = ["validate_pod_spec"]

_ENV_VAR_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_ENV_VAR_MESSAGE = (
    "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', "
    "and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used "
    "for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')"
)
_NEGATIVE = "must be greater than or equal to 0"


def validate_pod_spec(spec: Any, path: str) -> list[FieldError]:
    """The field errors of a pod spec at `path` (`spec`, `spec.template.spec`, ...)."""
    if not isinstance(spec, dict):
        return [FieldError.required(path)]
    errors: list[FieldError] = []
    if not spec.get("containers"):
        errors.append(FieldError.required(f"{path}.containers"))
    volumes = {str(v.get("name")) for v in spec.get("volumes") or [] if isinstance(v, dict) and v.get("name")}
    seen: set[str] = set()
    for list_name in ("initContainers", "containers"):
        for index, container in enumerate(spec.get(list_name) or []):
            where = f"{path}.{list_name}[{index}]"
            if not isinstance(container, dict):
                errors.append(FieldError.required(where))
                continue
            errors.extend(_container_name(container.get("name"), where, seen))
            if not container.get("image"):
                errors.append(FieldError.required(f"{where}.image"))
            errors.extend(_ports(container.get("ports"), where))
            errors.extend(_env(container.get("env"), where))
            errors.extend(_volume_mounts(container.get("volumeMounts"), volumes, where))
            errors.extend(_resources(container.get("resources"), f"{where}.resources"))
    return errors


def _container_name(name: Any, where: str, seen: set[str]) -> list[FieldError]:
    if not name:
        return [FieldError.required(f"{where}.name")]
    if name in seen:
        return [FieldError.duplicate(f"{where}.name", name)]
    seen.add(str(name))
    if not DNS_LABEL.match(str(name)):
        return [FieldError.invalid(f"{where}.name", name, LABEL_MESSAGE)]
    return []


def _ports(ports: Any, where: str) -> list[FieldError]:
    errors: list[FieldError] = []
    for index, port in enumerate(ports or []):
        number = port.get("containerPort") if isinstance(port, dict) else None
        if not isinstance(number, int) or not 0 < number < 65536:
            errors.append(
                FieldError.invalid(
                    f"{where}.ports[{index}].containerPort", number, "must be between 1 and 65535, inclusive"
                )
            )
    return errors


def env_var_name_problems(name: str) -> list[str]:
    """validation.IsEnvVarName: the regex, then the names a shell would take for a directory."""
    problems = [] if _ENV_VAR_NAME.match(name) else [_ENV_VAR_MESSAGE]
    if name == ".":
        problems.append("must not be '.'")
    elif name == "..":
        problems.append("must not be '..'")
    elif name.startswith(".."):
        problems.append("must not start with '..'")
    return problems


def _env(variables: Any, where: str) -> list[FieldError]:
    errors: list[FieldError] = []
    for index, variable in enumerate(variables or []):
        field = f"{where}.env[{index}].name"
        name = variable.get("name") if isinstance(variable, dict) else None
        if not name:
            errors.append(FieldError.required(field))
            continue
        problems = env_var_name_problems(str(name))
        errors.extend(FieldError.invalid(field, name, problem) for problem in problems)
    return errors


def _volume_mounts(mounts: Any, volumes: set[str], where: str) -> list[FieldError]:
    """ValidateVolumeMounts: each mount names a volume of the pod and a path no other mount uses."""
    errors: list[FieldError] = []
    paths: set[str] = set()
    for index, mount in enumerate(mounts or []):
        if not isinstance(mount, dict):
            continue
        field = f"{where}.volumeMounts[{index}]"
        name = str(mount.get("name") or "")
        if not name:
            errors.append(FieldError.required(f"{field}.name"))
        if name not in volumes:
            errors.append(FieldError.not_found(f"{field}.name", name))
        mount_path = str(mount.get("mountPath") or "")
        if not mount_path:
            errors.append(FieldError.required(f"{field}.mountPath"))
        if mount_path in paths:
            errors.append(FieldError.invalid(f"{field}.mountPath", mount_path, "must be unique"))
        paths.add(mount_path)
    return errors


def _overcommit_allowed(resource: str) -> bool:
    """Native resources (no domain, or a kubernetes.io one) other than huge pages may have requests
    below their limits; extended resources may not."""
    native = "/" not in resource or "kubernetes.io/" in resource
    return native and not resource.startswith("hugepages-")


def _quantity(value: Any) -> Quantity | None:
    try:
        return Quantity.parse(str(value))
    except ValueError:
        return None


def _resources(resources: Any, where: str) -> list[FieldError]:
    """ValidateResourceRequirements: no negative quantity, and no request above its limit (nor
    different from it, for a resource that cannot be overcommitted)."""
    if not isinstance(resources, dict):
        return []
    given_limits, given_requests = resources.get("limits"), resources.get("requests")
    limits: dict[str, Any] = given_limits if isinstance(given_limits, dict) else {}
    requests: dict[str, Any] = given_requests if isinstance(given_requests, dict) else {}
    errors: list[FieldError] = []
    for name in sorted(limits):
        limit = _quantity(limits[name])
        if limit is not None and limit.value < 0:
            errors.append(FieldError.invalid(f"{where}.limits[{name}]", str(limits[name]), _NEGATIVE))
    for name in sorted(requests):
        request = _quantity(requests[name])
        if request is None:
            continue
        if request.value < 0:
            errors.append(FieldError.invalid(f"{where}.requests[{name}]", str(requests[name]), _NEGATIVE))
        limit = _quantity(limits[name]) if name in limits else None
        if limit is not None:
            if request.value != limit.value and not _overcommit_allowed(name):
                errors.append(
                    FieldError.invalid(
                        f"{where}.requests",
                        str(requests[name]),
                        f"must be equal to {name} limit of {limits[name]}",
                    )
                )
            elif request.value > limit.value:
                errors.append(
                    FieldError.invalid(
                        f"{where}.requests",
                        str(requests[name]),
                        f"must be less than or equal to {name} limit of {limits[name]}",
                    )
                )
        elif not _overcommit_allowed(name):
            errors.append(
                FieldError.required(f"{where}.limits", "Limit must be set for non overcommitable resources")
            )
    return errors
