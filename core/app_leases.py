"""`coordination.k8s.io/v1` Leases held by `kubedrift agent`: one per app it may act on, one per live shard.

A Lease is acquired when it is absent, expired (`renewTime + leaseDurationSeconds` has passed) or
already ours, and renewed by writing it again; every write carries the resourceVersion read, so of
two agents racing for one Lease the API server lets exactly one win (the other gets 409 Conflict and
has lost). This is client-go's leader election (`tryAcquireOrRenew`) on kubedrift's own terms:
`acquireTime` and `leaseTransitions` move when the holder changes, and the times are `MicroTime`
(RFC 3339 with microseconds), as a real Lease carries them. Expiry is judged on the wall clock
against `renewTime`, as Kubernetes' own node Leases are, so agents' clocks must agree (NTP).

Requests go through core.cluster's adapter, so API errors are its one-sentence errors, with
429/5xx retried; a refusal (RBAC, a namespace missing) becomes a LeaseError saying what to do.
Everything here blocks: the coordinator (core.shard_membership) calls it on a worker thread.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from core.api_resources import ApiResource
from core.cluster import ApiError, ClusterAdapter
from core.errors import KubedriftError
from core.kubeconfig import IN_CLUSTER, Kubeconfig
from core.model import Destination
from core.sharding import fnv1a_32

LEASE_DURATION_SECONDS: Final = 15
"""How long a Lease stays held after its last renewal."""
RENEW_PERIOD_SECONDS: Final = 5.0
"""How often a holder renews (and the coordinator looks at the other shards)."""
LEASE_GROUP: Final = "coordination.k8s.io"
LEASE_API_VERSION: Final = "coordination.k8s.io/v1"
LEASE_ROLE_LABEL: Final = "kubedrift.io/lease"
"""`app` or `shard`: how the coordinator lists its Leases. Not `app.kubernetes.io/managed-by`, which
would make the Leases look like objects some app tracks."""
LEASE_APP_ANNOTATION: Final = "kubedrift.io/app"
"""The app's name as written, on its Lease (whose name may have had to change)."""
APP_LEASE_PREFIX: Final = "kubedrift-app-"
SHARD_LEASE_PREFIX: Final = "kubedrift-shard-"

_MAX_NAME = 253  # a Lease's name is a DNS-1123 subdomain
_NOT_SUBDOMAIN = re.compile(r"[^a-z0-9.-]+")
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


class LeaseError(KubedriftError):
    """A Lease that cannot be read or written: the API refused, or the cluster is out of reach."""


def app_lease_name(app: str) -> str:
    """`kubedrift-app-<app>`, made a valid Lease name; when the app's name had to change for that, a
    hash of the name is added, so two apps whose names differ only in what was replaced never share
    a Lease."""
    wanted = APP_LEASE_PREFIX + app
    if len(wanted) <= _MAX_NAME and _SUBDOMAIN.fullmatch(wanted):
        return wanted
    suffix = f"-{fnv1a_32(app):08x}"
    cleaned = _NOT_SUBDOMAIN.sub("-", app.lower())
    cleaned = re.sub(r"-{2,}", "-", re.sub(r"\.{2,}", ".", cleaned)).strip("-.")
    cleaned = re.sub(r"(-\.|\.-)", "-", cleaned)
    cleaned = cleaned[: _MAX_NAME - len(APP_LEASE_PREFIX) - len(suffix)].rstrip("-.")
    return f"{APP_LEASE_PREFIX}{cleaned or 'app'}{suffix}"


def shard_lease_name(index: int) -> str:
    """`kubedrift-shard-<I>`: held by the agent serving shard I while it runs."""
    return f"{SHARD_LEASE_PREFIX}{index}"


def micro_time(moment: datetime) -> str:
    """A MicroTime as the API server writes one: RFC 3339 in UTC with exactly six fraction digits."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_micro_time(text: object) -> datetime | None:
    """A Lease time (MicroTime, or a Time without a fraction); None when absent or unreadable."""
    if not isinstance(text, str) or not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class LeaseRecord:
    """What one Lease says, as read (or as this agent last wrote it)."""

    name: str
    holder: str
    """`spec.holderIdentity`; empty when nobody holds it (released)."""
    duration_seconds: int
    renew_time: datetime | None
    acquire_time: datetime | None
    transitions: int
    resource_version: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> LeaseRecord:
        metadata = obj.get("metadata") or {}
        spec = obj.get("spec") or {}
        duration = spec.get("leaseDurationSeconds")
        transitions = spec.get("leaseTransitions")
        return cls(
            name=str(metadata.get("name") or ""),
            holder=str(spec.get("holderIdentity") or ""),
            duration_seconds=duration if isinstance(duration, int) else 0,
            renew_time=parse_micro_time(spec.get("renewTime")),
            acquire_time=parse_micro_time(spec.get("acquireTime")),
            transitions=transitions if isinstance(transitions, int) else 0,
            resource_version=str(metadata.get("resourceVersion") or ""),
            labels=dict(metadata.get("labels") or {}),
            annotations=dict(metadata.get("annotations") or {}),
        )

    def expires_at(self) -> datetime | None:
        """When the holder's claim runs out; None for a Lease nobody holds (or never renewed)."""
        if not self.holder or self.renew_time is None:
            return None
        return self.renew_time + timedelta(seconds=self.duration_seconds)

    def live_holder(self, now: datetime) -> str | None:
        """Who holds it at `now`; None when it is free or expired."""
        expires = self.expires_at()
        return self.holder if expires is not None and now < expires else None


@dataclass(frozen=True)
class LeaseClaim:
    """The outcome of one attempt to acquire or renew a Lease."""

    held: bool
    """Whether this agent holds it now."""
    record: LeaseRecord | None
    """The Lease as written (held) or as last read (not held); None when it could not be read."""

    @property
    def holder(self) -> str | None:
        """The identity holding it, as far as this attempt saw (ours when held)."""
        return self.record.holder if self.record is not None and self.record.holder else None


class LeaseStore:
    """Acquire, renew, read and release the Leases of one namespace, as one holder identity."""

    def __init__(
        self,
        adapter: ClusterAdapter,
        namespace: str,
        identity: str,
        *,
        duration_seconds: int = LEASE_DURATION_SECONDS,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if duration_seconds < 1:
            raise ValueError("a Lease lasts at least one second")
        self.adapter = adapter
        self.namespace = namespace
        self.identity = identity
        self.duration_seconds = duration_seconds
        self._clock = clock
        self._resource: ApiResource | None = None

    def now(self) -> datetime:
        """The wall-clock time Leases are judged by."""
        return self._clock()

    # Reading.

    def read(self, name: str) -> LeaseRecord | None:
        """The Lease, or None when there is none."""
        found = self._call(
            lambda: self.adapter.get(self._leases(), self.namespace, name), f"read the Lease {name}"
        )
        return None if found is None else LeaseRecord.of(found)

    def list(self, role: str) -> list[LeaseRecord]:
        """Every Lease of the namespace labelled with `role` (`app` or `shard`)."""
        items, _ = self._call(
            lambda: self.adapter.list(
                self._leases(), self.namespace, label_selector=f"{LEASE_ROLE_LABEL}={role}"
            ),
            f"list the {role} Leases",
        )
        return [LeaseRecord.of(item) for item in items]

    # Writing.

    def claim(self, name: str, *, role: str, annotations: Mapping[str, str] | None = None) -> LeaseClaim:
        """Acquire the Lease when it is absent, expired, released or ours, and renew it when ours.

        Losing a race (the Lease changed since it was read, or another agent created it first) is
        not an error: the claim says it is not held, and by whom."""
        current = self.read(name)
        now = self._clock()
        if current is None:
            body = self._body(name, role, annotations, None, now)
            try:
                created = self._call(lambda: self.adapter.create(body), f"create the Lease {name}")
            except _Lost:
                return LeaseClaim(False, self.read(name))
            return LeaseClaim(True, LeaseRecord.of(created))
        if current.holder != self.identity and current.live_holder(now) is not None:
            return LeaseClaim(False, current)
        body = self._body(name, role, annotations, current, now)
        try:
            replaced = self._call(lambda: self.adapter.replace(body), f"renew the Lease {name}")
        except _Lost:
            return LeaseClaim(False, self.read(name))
        return LeaseClaim(True, LeaseRecord.of(replaced))

    def release(self, name: str) -> bool:
        """Give a Lease up at once (as client-go's ReleaseOnCancel does), so another agent need not
        wait for it to expire; False when it was not ours (or changed under us)."""
        current = self.read(name)
        if current is None or current.holder != self.identity:
            return False
        body = _lease_object(
            name,
            self.namespace,
            labels=current.labels,
            annotations=current.annotations,
            resource_version=current.resource_version,
            spec={
                "leaseDurationSeconds": 1,
                "renewTime": micro_time(self._clock()),
                "leaseTransitions": current.transitions,
            },
        )
        try:
            self._call(lambda: self.adapter.replace(body), f"release the Lease {name}")
        except _Lost:
            return False
        return True

    def _body(
        self,
        name: str,
        role: str,
        annotations: Mapping[str, str] | None,
        current: LeaseRecord | None,
        now: datetime,
    ) -> dict[str, Any]:
        taken_over = current is None or current.holder != self.identity
        # As client-go counts them: every change of holder, a released Lease taken again included.
        transitions = 0 if current is None else current.transitions + (1 if taken_over else 0)
        acquired = (
            now if taken_over or current is None or current.acquire_time is None else current.acquire_time
        )
        labels = {**(current.labels if current is not None else {}), LEASE_ROLE_LABEL: role}
        return _lease_object(
            name,
            self.namespace,
            labels=labels,
            annotations={**(current.annotations if current is not None else {}), **(annotations or {})},
            resource_version=current.resource_version if current is not None else "",
            spec={
                "holderIdentity": self.identity,
                "leaseDurationSeconds": self.duration_seconds,
                "acquireTime": micro_time(acquired),
                "renewTime": micro_time(now),
                "leaseTransitions": transitions,
            },
        )

    # The API.

    def _leases(self) -> ApiResource:
        if self._resource is None:
            self._resource = self._call(
                lambda: self.adapter.resource_for(LEASE_GROUP, "Lease"), "find the Lease kind"
            )
        return self._resource

    def _call(self, request: Callable[[], Any], doing: str) -> Any:
        """Run one request; a conflict is `_Lost`, any other failure one LeaseError sentence."""
        try:
            return request()
        except ApiError as error:
            if error.code == 409:
                raise _Lost from None
            raise LeaseError(self._explain(error, doing)) from None
        except KubedriftError as error:
            raise LeaseError(
                f"cannot {doing} in namespace {self.namespace} on context {self.adapter.context}: {error}"
            ) from None

    def _explain(self, error: ApiError, doing: str) -> str:
        where = f"namespace {self.namespace} on context {self.adapter.context}"
        if error.code == 403:
            return (
                f"the agent may not {doing} in {where} ({error.message}):"
                " grant it get, list, create and update on leases.coordination.k8s.io there"
            )
        if error.code == 404 and "namespaces" in error.message:
            return (
                f"cannot {doing}: the namespace {self.namespace} does not exist on context"
                f" {self.adapter.context}: create it, or give --lease-namespace"
            )
        return f"cannot {doing} in {where}: {error}"


def lease_adapter(
    kubeconfig: Kubeconfig | None,
    lease_context: str | None,
    *,
    context: str | None = None,
    environ: Mapping[str, str],
    user_agent: str | None = None,
) -> ClusterAdapter:
    """The adapter to the cluster holding the Leases: `--lease-context`'s, else the pod's own cluster
    (in-cluster config) when the agent runs in a pod, else `--context`'s or the current context's.
    Never read-only: the Leases are kubedrift's own objects, not an app's."""
    if lease_context is None and environ.get("KUBERNETES_SERVICE_HOST"):
        kubeconfig = Kubeconfig(IN_CLUSTER, {IN_CLUSTER: "in-cluster"}, IN_CLUSTER, IN_CLUSTER)
    if kubeconfig is None:
        raise LeaseError(
            "no kubeconfig is loaded to reach the cluster that holds the Leases: pass --kubeconfig"
        )
    if lease_context is not None and lease_context not in kubeconfig.contexts:
        raise LeaseError(
            f"--lease-context {lease_context!r} is not a context of {kubeconfig.source}:"
            " give one of its contexts, or leave it out for the current one"
        )
    chosen = kubeconfig.context_for(Destination(), lease_context or context)
    adapter = ClusterAdapter(kubeconfig.api_client(chosen), context=chosen)
    if user_agent is not None:
        adapter.api_client.user_agent = user_agent
    return adapter


class _Lost(Exception):
    """The API server refused a write because another agent wrote first (409)."""


def _lease_object(
    name: str,
    namespace: str,
    *,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    resource_version: str,
    spec: dict[str, Any],
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "labels": dict(labels)}
    if annotations:
        metadata["annotations"] = dict(annotations)
    if resource_version:
        metadata["resourceVersion"] = resource_version  # the precondition: 409 if anyone wrote since
    return {"apiVersion": LEASE_API_VERSION, "kind": "Lease", "metadata": metadata, "spec": spec}
