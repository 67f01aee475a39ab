"""The `pods/eviction` subresource (policy/v1 Eviction), as EvictionREST does it, which `kubectl drain` uses.

A pod that is finished, pending or already being deleted is deleted without looking at budgets.
Otherwise the one PodDisruptionBudget selecting it must allow a disruption: the eviction takes one
from `status.disruptionsAllowed`, records the pod in `status.disruptedPods` (so the disruption
controller does not count it healthy while it goes) and deletes the pod gracefully. A budget that
allows none answers 429 TooManyRequests, which kubectl drain retries every five seconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.errors import StatusError, bad_request, forbidden
from sandbox.selectors import label_selector_from_object
from sandbox.store import StoredObject

if TYPE_CHECKING:
    from sandbox.resources import ResourceAPI

EVICTION_API_VERSIONS = ("policy/v1", "policy/v1beta1")
DISRUPTION_BUDGET_CAUSE = "DisruptionBudget"
APISERVER_MANAGER = "kube-apiserver"
VIOLATION = "Cannot evict pod as it would violate the pod's disruption budget."


def success(code: int = 201) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code}


def _too_many_requests(cause: str, retry_after: int) -> StatusError:
    """NewTooManyRequests with a DisruptionBudget cause; a Retry-After header only when it is set."""
    details: dict[str, Any] = {"causes": [{"reason": DISRUPTION_BUDGET_CAUSE, "message": cause}]}
    headers: dict[str, str] = {}
    if retry_after:
        details["retryAfterSeconds"] = retry_after
        headers["Retry-After"] = str(retry_after)
    return StatusError(429, "TooManyRequests", VIOLATION, details=details, headers=headers)


def _is_ready(pod: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def disruption_allowed_condition(status: dict[str, Any], generation: int, now: str) -> dict[str, Any]:
    """UpdateDisruptionAllowedCondition: whether the budget lets one more pod go."""
    allowed = int(status.get("disruptionsAllowed") or 0) > 0
    condition = {
        "type": "DisruptionAllowed",
        "status": "True" if allowed else "False",
        "observedGeneration": generation,
        "lastTransitionTime": now,
        "reason": "SufficientPods" if allowed else "InsufficientPods",
        "message": "",
    }
    for old in status.get("conditions") or []:
        if old.get("type") == "DisruptionAllowed" and old.get("status") == condition["status"]:
            condition["lastTransitionTime"] = old.get("lastTransitionTime", now)
    return condition


def evict(api: ResourceAPI, namespace: str, name: str, body: Any, *, dry_run: bool) -> dict[str, Any]:
    """Evict one pod; the Status to answer with (201 Success), or a StatusError."""
    if not isinstance(body, dict) or body.get("kind", "Eviction") != "Eviction":
        raise bad_request(f"not a Eviction object: {type(body).__name__}")
    if body.get("apiVersion") and body["apiVersion"] not in EVICTION_API_VERSIONS:
        raise bad_request(
            f"the API version in the data ({body['apiVersion']}) does not match the expected API "
            "version (policy/v1)"
        )
    if str((body.get("metadata") or {}).get("name") or "") != name:
        raise bad_request("name in URL does not match name in Eviction object")
    options = dict(body.get("deleteOptions") or {})
    dry_run = dry_run or bool(options.get("dryRun"))
    grace = options.get("gracePeriodSeconds")
    pods = api.resource("v1", "Pod")
    pod = api.get(pods, namespace, name).obj
    phase = (pod.get("status") or {}).get("phase", "Pending")
    preconditions = dict(options.get("preconditions") or {})

    def delete() -> dict[str, Any]:
        api.delete(
            pods,
            namespace,
            name,
            preconditions=preconditions,
            dry_run=dry_run,
            grace_period=None if grace is None else int(grace),
            propagation=options.get("propagationPolicy"),
        )
        return success()

    if phase in ("Succeeded", "Failed", "Pending") or pod["metadata"].get("deletionTimestamp"):
        return delete()
    budgets = _budgets_of(api, pod)
    if len(budgets) > 1:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": (
                "This pod has more than one PodDisruptionBudget, which the eviction subresource "
                "does not support."
            ),
            "code": 500,
        }
    if budgets:
        budget = budgets[0]
        status = budget.obj.get("status") or {}
        current, desired = int(status.get("currentHealthy") or 0), int(status.get("desiredHealthy") or 0)
        if _is_ready(pod) or current < desired or desired <= 0:
            _take_one(api, budget, name, dry_run=dry_run)
        else:
            # An unready pod costs the budget nothing, as long as it is still the pod just checked.
            preconditions.setdefault("resourceVersion", str(pod["metadata"].get("resourceVersion") or ""))
    return delete()


def _budgets_of(api: ResourceAPI, pod: dict[str, Any]) -> list[StoredObject]:
    """The budgets in the pod's namespace whose (non-empty) selector matches it."""
    budget_type = api.resource("policy/v1", "PodDisruptionBudget")
    labels = pod["metadata"].get("labels") or {}
    found = []
    for stored in api.store.iter_objects(budget_type.storage_key, pod["metadata"].get("namespace")):
        selector = (stored.obj.get("spec") or {}).get("selector")
        matcher = label_selector_from_object(selector)
        if selector is None or matcher.empty or not matcher.matches(labels):
            continue
        found.append(stored)
    return found


def _take_one(api: ResourceAPI, stored: StoredObject, pod_name: str, *, dry_run: bool) -> None:
    """checkAndDecrement: refuse when the budget is stale or exhausted, else spend one disruption."""
    budget = stored.copy()
    metadata = budget["metadata"]
    status = dict(budget.get("status") or {})
    name = str(metadata["name"])
    if int(status.get("observedGeneration") or 0) < int(metadata.get("generation") or 0):
        raise _too_many_requests(f"The disruption budget {name} is still being processed by the server.", 10)
    allowed = int(status.get("disruptionsAllowed") or 0)
    if allowed < 0:
        raise forbidden("poddisruptionbudget.policy", name, "pdb disruptions allowed is negative")
    if allowed == 0:
        raise _too_many_requests(
            f"The disruption budget {name} needs {int(status.get('desiredHealthy') or 0)} healthy pods "
            f"and has {int(status.get('currentHealthy') or 0)} currently",
            0,
        )
    status["disruptionsAllowed"] = allowed - 1
    if status["disruptionsAllowed"] == 0:
        condition = disruption_allowed_condition(status, int(metadata.get("generation") or 0), api.clock())
        status["conditions"] = [
            c for c in status.get("conditions") or [] if c.get("type") != "DisruptionAllowed"
        ] + [condition]
    if dry_run:
        return
    status["disruptedPods"] = {**(status.get("disruptedPods") or {}), pod_name: api.clock()}
    budget["status"] = status
    api.update_status(budget, manager=APISERVER_MANAGER)
