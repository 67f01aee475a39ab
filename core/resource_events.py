"""An object's recent Events (core `v1` Events), to show beside who changed its drifted fields.

Fetched on demand, for drifted resources only (`check -o json`): one list of Events per namespace,
matched to objects by `involvedObject.uid`, or by kind, namespace and name when an Event carries no
uid. Events are a hint for a person, so a cluster that refuses them (403) or fails to list them
leaves them out rather than failing the report.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

from core.cluster import ClusterError
from core.model import ResourceKey

RECENT_EVENTS: Final = 5
"""How many Events per object, newest first: enough to see a pattern, small enough to read."""

_EVENT_GROUP: Final = ""
_EVENT_KIND: Final = "Event"


@dataclass(frozen=True, slots=True)
class RecentEvent:
    """One Event about an object, as `check -o json` shows it."""

    type: str
    """`Normal` or `Warning`."""
    reason: str
    message: str
    time: str
    """When it last happened (RFC 3339), from lastTimestamp, eventTime or the series; may be empty."""
    count: int

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "reason": self.reason,
            "message": self.message,
            "time": self.time or None,
            "count": self.count,
        }


class EventLister(Protocol):
    """What fetching needs of the cluster adapter (core.cluster.ClusterAdapter)."""

    def resource_for(self, group: str, kind: str) -> Any: ...

    def list(
        self, resource: Any, namespace: str | None = None, *, label_selector: str | None = None
    ) -> tuple[list[dict[str, Any]], str]: ...


def events_about(
    events: Iterable[Mapping[str, Any]], key: ResourceKey, uid: str = "", limit: int = RECENT_EVENTS
) -> tuple[RecentEvent, ...]:
    """The newest `limit` Events of `events` about the object `key` (with `uid` when known)."""
    found = [_recent(event) for event in events if _about(event, key, uid)]
    found.sort(key=lambda event: event.time, reverse=True)
    return tuple(found[:limit])


def fetch_recent_events(
    adapter: EventLister, objects: Iterable[tuple[ResourceKey, Mapping[str, Any] | None]]
) -> dict[ResourceKey, tuple[RecentEvent, ...]]:
    """Each object's recent Events (objects without any are left out), listing each namespace once.
    A namespace whose Events cannot be listed gives none."""
    wanted = list(objects)
    by_namespace: dict[str, list[dict[str, Any]]] = {}
    try:
        resource = adapter.resource_for(_EVENT_GROUP, _EVENT_KIND)
    except ClusterError:  # a cluster without Events shows none; the report goes on
        return {}
    result: dict[ResourceKey, tuple[RecentEvent, ...]] = {}
    for key, live in wanted:
        # Events about a cluster-scoped object are recorded in `default`, as kubectl describe reads them.
        namespace = key.namespace or "default"
        if namespace not in by_namespace:
            try:
                by_namespace[namespace] = adapter.list(resource, namespace)[0]
            except ClusterError:  # refused or failing: no Events, never a failed report
                by_namespace[namespace] = []
        metadata = (live or {}).get("metadata")
        uid = str(metadata.get("uid") or "") if isinstance(metadata, Mapping) else ""
        events = events_about(by_namespace[namespace], key, uid)
        if events:
            result[key] = events
    return result


def _about(event: Mapping[str, Any], key: ResourceKey, uid: str) -> bool:
    involved = event.get("involvedObject")
    if not isinstance(involved, Mapping):
        return False
    if uid and involved.get("uid"):
        return bool(involved.get("uid") == uid)
    api_version = str(involved.get("apiVersion") or "")
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    return (
        involved.get("kind") == key.kind
        and (involved.get("name") or "") == key.name
        and (involved.get("namespace") or "") == key.namespace
        and (not api_version or group == key.group)
    )


def _recent(event: Mapping[str, Any]) -> RecentEvent:
    found = event.get("series")
    series: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    time = (
        event.get("lastTimestamp")
        or series.get("lastObservedTime")
        or event.get("eventTime")
        or event.get("firstTimestamp")
        or _creation_time(event)
        or ""
    )
    count = event.get("count") or series.get("count") or 1
    return RecentEvent(
        str(event.get("type") or ""),
        str(event.get("reason") or ""),
        str(event.get("message") or ""),
        str(time),
        int(count) if isinstance(count, int) else 1,
    )


def _creation_time(event: Mapping[str, Any]) -> str:
    metadata = event.get("metadata")
    return str(metadata.get("creationTimestamp") or "") if isinstance(metadata, Mapping) else ""
