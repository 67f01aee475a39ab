"""One cluster (kubeconfig context) through the official kubernetes client, kept as plain dicts.

Reads never build the client's typed models (7-15x the cost of a dict, kubernetes-client/python
#1921): requests go through `ApiClient.param_serialize` / `call_api` for auth and TLS, and the
bytes are parsed with orjson (`core.wire_json`). Every request has a timeout; 429 and 5xx answers
are retried honouring Retry-After; a read-only adapter refuses every mutating call before any
request leaves the process, so no code path above it can write.

The client and urllib3 are imported where a request is made, not at the top: the engine and the
TUI import this module for its errors, and the client costs about 0.3 s to import.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from core import wire_json
from core.api_resources import ApiResource, Discovery, parse_discovery
from core.errors import KubedriftError
from core.model import FIELD_MANAGER, ResourceKey

if TYPE_CHECKING:
    from kubernetes import client as k8s_client

MUTATING_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CONNECT_TIMEOUT: Final = 5.0
READ_TIMEOUT: Final = 30.0
RETRY_BUDGET_SECONDS: Final = 20.0
"""Retries of 429/5xx stop once this much time has passed, so a sick cluster fails in under 30 s."""
LIST_PAGE_SIZE: Final = 500


class ReadOnlyError(KubedriftError):
    """A write attempted through a read-only adapter."""


class ClusterError(KubedriftError):
    """A cluster that cannot be reached or that answered with an error."""


class ApiError(ClusterError):
    """An error Status from the API server."""

    def __init__(self, code: int, reason: str, message: str, retry_after: float | None = None) -> None:
        self.code = code
        self.reason = reason
        self.message = message
        self.retry_after = retry_after
        super().__init__(message)

    def __str__(self) -> str:
        return (
            f"{self.message} ({self.code} {self.reason})" if self.reason else f"{self.message} ({self.code})"
        )


class ClusterAdapter:
    """Discovery, list, watch, server-side apply and delete against one context."""

    def __init__(
        self,
        api_client: k8s_client.ApiClient,
        *,
        context: str,
        read_only: bool = False,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api_client = api_client
        self.context = context
        self.read_only = read_only
        self.server = str(api_client.configuration.host)
        self._sleep = sleep
        self._discovery: Discovery | None = None

    # Discovery.

    def discover(self, *, refresh: bool = False) -> Discovery:
        """The served kinds: namespaced or not, preferred version, verbs. Cached until `refresh`."""
        if self._discovery is None or refresh:
            core = self._get_json("/api/v1")
            groups = self._get_json("/apis")
            group_versions: dict[str, Any] = {}
            for group in groups.get("groups") or []:
                preferred = (group.get("preferredVersion") or {}).get("groupVersion")
                if preferred:
                    try:
                        group_versions[preferred] = self._get_json(f"/apis/{preferred}")
                    except ApiError as error:
                        if error.code not in (404, 503):  # an aggregated API that is down is skipped
                            raise
            self._discovery = parse_discovery(core, group_versions)
        return self._discovery

    def resource_for(self, group: str, kind: str) -> ApiResource:
        """The served resource of a kind, rediscovering once for kinds a CRD may just have added."""
        found = self.discover().by_kind.get((group, kind))
        if found is None:
            found = self.discover(refresh=True).by_kind.get((group, kind))
        if found is None:
            where = f"{kind}.{group}" if group else kind
            raise ApiError(
                404,
                "NotFound",
                f"the cluster ({self.context}) serves no kind {where}: install its CRD or fix the manifest",
            )
        return found

    # Reads.

    def list(
        self, resource: ApiResource, namespace: str | None = None, *, label_selector: str | None = None
    ) -> tuple[list[dict[str, Any]], str]:
        """Every object of a kind (paginated), and the list's resourceVersion to watch from."""
        items: list[dict[str, Any]] = []
        query: dict[str, str] = {"limit": str(LIST_PAGE_SIZE)}
        if label_selector:
            query["labelSelector"] = label_selector
        while True:
            page = self._get_json(resource.path(namespace), query)
            kind = resource.kind
            api_version = resource.api_version
            for item in page.get("items") or []:
                # List items carry no apiVersion and kind on a real server; the cache wants them.
                item.setdefault("apiVersion", api_version)
                item.setdefault("kind", kind)
                items.append(item)
            metadata = page.get("metadata") or {}
            token = metadata.get("continue")
            if not token:
                return items, str(metadata.get("resourceVersion") or "")
            query["continue"] = token

    def get(self, resource: ApiResource, namespace: str | None, name: str) -> dict[str, Any] | None:
        try:
            return self._get_json(resource.path(namespace, name))
        except ApiError as error:
            if error.code == 404:
                return None
            raise

    def watch(
        self,
        resource: ApiResource,
        resource_version: str,
        *,
        namespace: str | None = None,
        timeout_seconds: int = 300,
        label_selector: str | None = None,
        on_open: Callable[[Callable[[], None]], None] | None = None,
    ) -> Generator[dict[str, Any], None, None]:
        """Raw watch events from `resource_version`, BOOKMARKs included; an expired one raises ApiError 410.

        The generator closes the connection when it is closed, so a consumer can stop any time;
        `on_open` receives a function that cuts the stream from another thread (to stop or relist).
        """
        import urllib3

        query = {
            "watch": "true",
            "allowWatchBookmarks": "true",
            "resourceVersion": resource_version,
            "timeoutSeconds": str(timeout_seconds),
        }
        if label_selector:
            query["labelSelector"] = label_selector
        response = self._request(
            "GET", resource.path(namespace), query=query, read_timeout=timeout_seconds + READ_TIMEOUT
        )
        raw = response.response
        if on_open is not None:
            on_open(raw.shutdown)
        try:
            for line in _lines(raw):
                event = wire_json.loads(line)
                if event.get("type") == "ERROR":
                    status = event.get("object") or {}
                    raise ApiError(
                        int(status.get("code") or 500),
                        str(status.get("reason") or ""),
                        str(status.get("message") or ""),
                    )
                yield event
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise ClusterError(f"the watch of {resource.plural} on {self.context} broke: {error}") from None
        finally:
            raw.release_conn()

    # Writes.

    def apply(self, obj: Mapping[str, Any], *, dry_run: bool = False, force: bool = True) -> dict[str, Any]:
        """Server-side apply as field manager `kubedrift`; returns the object the server stored (or would)."""
        key = ResourceKey.of(obj)
        resource = self.resource_for(key.group, key.kind)
        query = {"fieldManager": FIELD_MANAGER, "force": "true" if force else "false"}
        if dry_run:
            query["dryRun"] = "All"
        path = resource.path(key.namespace or None, key.name)
        response = self._request(
            "PATCH", path, query=query, body=obj, content_type="application/apply-patch+yaml"
        )
        return _json_of(response)

    def delete(
        self,
        resource: ApiResource,
        namespace: str | None,
        name: str,
        *,
        propagation: str = "Foreground",
        dry_run: bool = False,
        precondition_uid: str | None = None,
    ) -> dict[str, Any] | None:
        """Delete one object; None when it was already gone."""
        body: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
        if precondition_uid:
            body["preconditions"] = {"uid": precondition_uid}
        query = {"dryRun": "All"} if dry_run else None
        try:
            response = self._request("DELETE", resource.path(namespace, name), query=query, body=body)
        except ApiError as error:
            if error.code == 404:
                return None
            raise
        return _json_of(response)

    # The one place a request is made.

    def _get_json(self, path: str, query: Mapping[str, str] | None = None) -> dict[str, Any]:
        return _json_of(self._request("GET", path, query=query))

    def _request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str | None = None,
        read_timeout: float = READ_TIMEOUT,
    ) -> Any:
        import urllib3
        from kubernetes import client as k8s_client

        if self.read_only and method in MUTATING_METHODS:
            raise ReadOnlyError(
                f"refused {method} {path}: kubedrift is read-only for context {self.context!r} "
                "(--read-only or readOnly in kubedrift.yaml)"
            )
        headers = {"Accept": "application/json"}
        payload: Any = None
        if body is not None:
            headers["Content-Type"] = content_type or "application/json"
            # The client serialises JSON bodies itself; any other content type must arrive as bytes.
            payload = body if content_type is None else json.dumps(body, separators=(",", ":")).encode()
        full_path = path + (
            "?" + "&".join(f"{k}={quote(str(v), safe='')}" for k, v in query.items()) if query else ""
        )
        deadline = time.monotonic() + RETRY_BUDGET_SECONDS
        attempt = 0
        while True:
            attempt += 1
            try:
                method_, url, header_params, _, _ = self.api_client.param_serialize(
                    method=method,
                    resource_path=full_path,
                    header_params=headers,
                    auth_settings=["BearerToken"],
                )
                response = self.api_client.call_api(
                    method_, url, header_params=header_params, body=payload,
                    _request_timeout=(CONNECT_TIMEOUT, read_timeout),
                )  # fmt: skip
            except (urllib3.exceptions.HTTPError, OSError) as error:
                raise ClusterError(
                    f"cannot reach the cluster of context {self.context!r} at {self.server}: "
                    f"{_root_cause(error)}; check that it is running and that the kubeconfig points at it"
                ) from None
            except k8s_client.ApiException as error:  # raised for TLS failures, with status 0
                raise ClusterError(
                    f"cannot talk to the cluster of context {self.context!r} at {self.server}: {error.reason}"
                ) from None
            status = int(response.status)
            if 200 <= status < 300:
                return response
            failure = _api_error(response, status)
            retryable = status == 429 or status >= 500
            if failure.retry_after is not None:
                wait = failure.retry_after
            else:
                wait = min(8.0, 0.25 * 2**attempt) * random.uniform(0.8, 1.2)  # jitter spreads clients out
            if not retryable or time.monotonic() + wait > deadline:
                raise failure
            self._sleep(wait)


def _api_error(response: Any, status: int) -> ApiError:
    raw = response.response
    data = raw.data if raw is not None else b""
    retry_after: float | None = None
    header = response.headers.get("Retry-After") if response.headers else None
    if header:
        try:
            retry_after = float(header)
        except ValueError:
            retry_after = None
    try:
        body = wire_json.loads(data) if data else {}
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    message = str(
        body.get("message") or (data[:200].decode(errors="replace") if data else response.reason or "")
    )
    return ApiError(status, str(body.get("reason") or response.reason or ""), message, retry_after)


def _json_of(response: Any) -> dict[str, Any]:
    data = response.response.data
    value = wire_json.loads(data) if data else {}
    return value if isinstance(value, dict) else {}


def _lines(raw: Any) -> Iterator[bytes]:
    """JSON lines of a chunked watch stream, however the chunks split them."""
    pending = b""
    for chunk in raw.stream(amt=None, decode_content=True):
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            if line.strip():
                yield line
    if pending.strip():
        yield pending


def _root_cause(error: BaseException) -> str:
    reason: Any = getattr(error, "reason", None)
    while isinstance(reason, BaseException) and getattr(reason, "reason", None) is not None:
        reason = getattr(reason, "reason", None)
    text = str(reason or error)
    # urllib3 wraps the socket error in "<urllib3.connection.HTTPConnection object at 0x..>: Failed to ..."
    return text.split(">: ", 1)[-1]
