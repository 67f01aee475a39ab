"""v1 Events as the controllers and the kubelet record them (`kubectl get events`, the TUI's event log).

Like client-go's recorder, a repeat of the same reason and message for the same object bumps the
existing Event's `count` and `lastTimestamp` instead of creating another. Recording never fails the
caller: an Event that cannot be written (a terminating namespace, say) is dropped.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from sandbox.errors import StatusError

if TYPE_CHECKING:
    from sandbox.resources import ResourceAPI

logger = logging.getLogger("sandbox.controllers")

NORMAL = "Normal"
WARNING = "Warning"


class EventRecorder:
    """Records Events from one component (`deployment-controller`, `kubelet`, ...)."""

    def __init__(
        self, component: str, *, manager: str, host: str = "", enabled: bool = True, limit: int = 4096
    ) -> None:
        self.component = component
        self.manager = manager
        self.host = host
        self.enabled = enabled
        self._limit = limit
        # (involved uid, type, reason, message) -> (namespace, Event name)
        self._recent: dict[tuple[str, str, str, str], tuple[str, str]] = {}

    def record(
        self, api: ResourceAPI, obj: dict[str, Any], event_type: str, reason: str, message: str
    ) -> None:
        if not self.enabled:
            return
        try:
            self._record(api, obj, event_type, reason, message)
        except StatusError as error:
            logger.debug("%s: event %s for %s not recorded: %s", self.component, reason, _name(obj), error)

    def _record(
        self, api: ResourceAPI, obj: dict[str, Any], event_type: str, reason: str, message: str
    ) -> None:
        events = api.resource("v1", "Event")
        metadata = obj["metadata"]
        namespace = str(metadata.get("namespace") or "default")
        now = api.clock()
        key = (str(metadata.get("uid") or ""), event_type, reason, message)
        known = self._recent.get(key)
        if known is not None:
            existing = api.find(events, known[0], known[1])
            if existing is not None:
                repeated = existing.copy()
                repeated["count"] = int(repeated.get("count") or 1) + 1
                repeated["lastTimestamp"] = now
                api.update(events, known[0], known[1], repeated, manager=self.manager)
                return
        name = f"{metadata['name']}.{time.time_ns():x}"
        source: dict[str, str] = {"component": self.component}
        if self.host:
            source["host"] = self.host
        involved: dict[str, Any] = {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind")}
        involved["name"] = metadata.get("name")
        if metadata.get("namespace"):
            involved["namespace"] = metadata["namespace"]
        involved["uid"] = metadata.get("uid")
        involved["resourceVersion"] = metadata.get("resourceVersion")
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "source": source,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "type": event_type,
            "eventTime": None,
            "reportingComponent": self.component,
            "reportingInstance": self.host,
        }
        api.create(events, namespace, body, manager=self.manager)
        if len(self._recent) >= self._limit:
            self._recent.pop(next(iter(self._recent)))
        self._recent[key] = (namespace, name)


def _name(obj: dict[str, Any]) -> str:
    metadata = obj.get("metadata") or {}
    namespace = metadata.get("namespace")
    return f"{namespace}/{metadata.get('name')}" if namespace else str(metadata.get("name"))
