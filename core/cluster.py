"""One cluster (kubeconfig context) through the official kubernetes client, kept as plain dicts.

Reads never build the client's typed models (7-15x the cost of a dict, kubernetes-client/python
#1921): requests go through `ApiClient.param_serialize` / `call_api` for auth and TLS, and the
bytes are parsed with orjson (`core.wire_json`). Every request has a timeout; 429 and 5xx answers
are retried honouring Retry-After; a read-only adapter refuses every mutating call before any
request leaves the process, so no code path above it can write.

A one-shot command (`check`, `diff`, `sync`) builds its adapters with `give_up_seconds`: once the
cluster has answered nothing for that long, every further request fails at once with the same
sentence, so an unreachable or silent server ends the command in under 20 s however many kinds
are still to be listed. The live engine never gives up: it keeps reconnecting.

The client and urllib3 are imported where a request is made, not at the top: the engine and the
TUI import this module for its errors, and the client costs about 0.3 s to import.
"""

from __future__ import annotations

import itertools
import json
import random
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from core import wire_json
from core.api_resources import ApiResource, Discovery, parse_discovery
from core.errors import KubedriftError
from core.model import FIELD_MANAGER, ResourceKey
from core.schema.official import is_built_in_group

if TYPE_CHECKING:
    from kubernetes import client as k8s_client

MUTATING_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CONNECT_TIMEOUT: Final = 5.0
"""Per connection attempt; urllib3 makes at most two (core.kubeconfig), so a blackholed server costs 10 s."""
READ_TIMEOUT: Final = 10.0
"""Longest silence within an answer; list pages are small (LIST_PAGE_SIZE): a live server never nears it."""
RETRY_BUDGET_SECONDS: Final = 10.0
"""Retries of 429/5xx stop once this much time has passed, so one sick request fails within it."""
GIVE_UP_SECONDS: Final = 15.0
"""One-shot commands: how long a cluster may go without answering before every request fails at once."""
LIST_PAGE_SIZE: Final = 500
LIST_RESTARTS: Final = 3
"""How often a list whose continue token expired (410, the server compacted mid-list) starts over."""
KEEPALIVE_IDLE_SECONDS: Final = 15
KEEPALIVE_INTERVAL_SECONDS: Final = 5
KEEPALIVE_PROBES: Final = 3
"""TCP keepalive: a peer that vanished (no FIN) is found 15 + 3 x 5 = 30 s after the last byte."""


@dataclass(frozen=True)
class ServerVersion:
    git_version: str
    minor: int


@dataclass(frozen=True, slots=True)
class ListPage:
    """One page of a list: its objects, and the list's resourceVersion (the same on every page).

    `first` starts a list (again, after a restart: drop what came before); `last` ends it."""

    objects: list[dict[str, Any]]
    version: str
    first: bool = True
    last: bool = True


class ReadOnlyError(KubedriftError):
    """A write attempted through a read-only adapter."""


class ClusterError(KubedriftError):
    """A cluster that cannot be reached or that answered with an error."""


class WatchBroken(ClusterError):
    """A watch stream that was open and broke or went silent (not a request that failed): resume it."""


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

    @property
    def version_too_large(self) -> bool:
        """A watch from a resourceVersion the server has not reached (its cache lags, or it restarted
        without its state): the server's answer is 504 "Too large resource version"; relist."""
        return "too large resource version" in self.message.lower() or (
            self.code == 504 and self.reason == "Timeout" and "resource version" in self.message.lower()
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
        give_up_seconds: float | None = None,
    ) -> None:
        """`give_up_seconds`: for one-shot commands, see the module docstring; None never gives up."""
        self.api_client = api_client
        self.context = context
        self.read_only = read_only
        self.server = str(api_client.configuration.host)
        self.give_up_seconds = give_up_seconds
        self._sleep = sleep
        self._discovery: Discovery | None = None
        self._silent_since: float | None = None
        """When the current run of unanswered requests began; any answer ends it."""
        self._last_unreachable: ClusterError | None = None
        self._retry_waited = 0.0

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
            advice = (
                "it is a built-in kind this cluster's version or configuration does not serve: "
                "fix the manifest's apiVersion"
                if is_built_in_group(group)
                else "install its CRD or fix the manifest"
            )
            raise ApiError(
                404,
                "NotFound",
                f"the cluster ({self.context}) serves no kind {where}: {advice}",
            )
        return found

    # Reads.

    def list(
        self, resource: ApiResource, namespace: str | None = None, *, label_selector: str | None = None
    ) -> tuple[list[dict[str, Any]], str]:
        """Every object of a kind (paginated), and the list's resourceVersion to watch from."""
        items: list[dict[str, Any]] = []
        version = ""
        for page in self.list_pages(resource, namespace, label_selector=label_selector):
            if page.first:
                items = []  # a list started over (its continue token expired): only the new one counts
            items.extend(page.objects)
            version = page.version
        return items, version

    def list_pages(
        self, resource: ApiResource, namespace: str | None = None, *, label_selector: str | None = None
    ) -> Iterator[ListPage]:
        """Every object of a kind, a page (LIST_PAGE_SIZE objects) at a time as each arrives, so a
        caller can use the first while the server reads the next.

        A list whose continue token expires (410) starts over, at most LIST_RESTARTS times: its next
        page is `first` again, and what came before it is to be dropped (a consistent list is one
        snapshot, never two stitched together)."""
        query: dict[str, str] = {"limit": str(LIST_PAGE_SIZE)}
        if label_selector:
            query["labelSelector"] = label_selector
        first = True
        restarts = 0
        while True:
            try:
                page = self._get_json(resource.path(namespace), query)
            except ApiError as error:
                if error.code != 410 or first or restarts >= LIST_RESTARTS:
                    raise
                restarts += 1
                query.pop("continue", None)
                first = True
                continue
            items: list[dict[str, Any]] = page.get("items") or []
            kind = resource.kind
            api_version = resource.api_version
            for item in items:
                # List items carry no apiVersion and kind on a real server; the cache wants them.
                item.setdefault("apiVersion", api_version)
                item.setdefault("kind", kind)
            metadata = page.get("metadata") or {}
            token = metadata.get("continue")
            yield ListPage(items, str(metadata.get("resourceVersion") or ""), first=first, last=not token)
            if not token:
                return
            first = False
            query["continue"] = token

    def holds_any(self, resource: ApiResource, *, label_selector: str) -> bool:
        """Whether any object of a kind matches `label_selector`: one request of one item, not a list.
        A continue token without an item (a server that stopped filtering early) counts as yes."""
        page = self._get_json(resource.path(None), {"limit": "1", "labelSelector": label_selector})
        return bool(page.get("items") or (page.get("metadata") or {}).get("continue"))

    def resource_version_now(
        self, resource: ApiResource, namespace: str | None = None, *, read_timeout: float = READ_TIMEOUT
    ) -> str:
        """The server's current resourceVersion, from a one-item list: cheap, and always current
        (a list without resourceVersion is a quorum read), so it tells whether the server went back."""
        query = {"limit": "1"}
        page = _json_of(
            self._request("GET", resource.path(namespace), query=query, read_timeout=read_timeout)
        )
        return str((page.get("metadata") or {}).get("resourceVersion") or "")

    def server_version(self) -> ServerVersion:
        """The server's `/version`: its git version and minor number (`1.31`'s 31; 0 when unreadable)."""
        answer = self._get_json("/version")
        minor = "".join(itertools.takewhile(str.isdigit, str(answer.get("minor") or "")))
        return ServerVersion(str(answer.get("gitVersion") or ""), int(minor) if minor else 0)

    def openapi_v3(self, relative_url: str) -> dict[str, Any]:
        """An /openapi/v3 document: the index, or a group-version's `serverRelativeURL` (`?hash=` kept)."""
        path, _, query = relative_url.partition("?")
        params = dict(part.partition("=")[::2] for part in query.split("&") if part)
        return self._get_json(path, params or None)

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
        idle_timeout: float | None = None,
    ) -> Generator[dict[str, Any], None, None]:
        """Raw watch events from `resource_version`, BOOKMARKs included; an expired one raises ApiError 410.

        The generator closes the connection when it is closed, so a consumer can stop any time;
        `on_open` receives a function that cuts the stream from another thread (to stop or relist).
        With `idle_timeout`, a stream that carries no byte for that long raises WatchBroken, as does
        one that breaks; failing to open it raises ClusterError (or ApiError).
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
        # The read timeout is the longest silence allowed between two chunks: a dead connection
        # that sent no FIN is noticed after it rather than after the server-side timeout.
        read_timeout = idle_timeout if idle_timeout is not None else timeout_seconds + READ_TIMEOUT
        response = self._request(
            "GET", resource.path(namespace), query=query, read_timeout=read_timeout, stream=True
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
            raise WatchBroken(
                f"the watch of {resource.plural} on {self.context} broke: {_root_cause(error, read_timeout)}"
            ) from None
        finally:
            raw.release_conn()

    # Writes.

    def apply(
        self,
        obj: Mapping[str, Any],
        *,
        dry_run: bool = False,
        force: bool = True,
        field_validation: str | None = None,
    ) -> dict[str, Any]:
        """Server-side apply as field manager `kubedrift`; returns the object the server stored (or would).

        `field_validation` (`Ignore`, `Warn`, `Strict`) is sent when given: Argo CD's `Validate=false`
        is `Ignore`."""
        key = ResourceKey.of(obj)
        resource = self.resource_for(key.group, key.kind)
        query = {"fieldManager": FIELD_MANAGER, "force": "true" if force else "false"}
        query |= _write_query(dry_run, field_validation)
        path = resource.path(key.namespace or None, key.name)
        response = self._request(
            "PATCH", path, query=query, body=obj, content_type="application/apply-patch+yaml"
        )
        return _json_of(response)

    def create(
        self, obj: Mapping[str, Any], *, dry_run: bool = False, field_validation: str | None = None
    ) -> dict[str, Any]:
        """POST a new object (a hook, which is created fresh; `generateName` is honoured); returns
        the object the server stored (or would), with the name it was given."""
        key = ResourceKey.of(obj)
        resource = self.resource_for(key.group, key.kind)
        query = _write_query(dry_run, field_validation)
        response = self._request("POST", resource.path(key.namespace or None), query=query, body=dict(obj))
        return _json_of(response)

    def replace(
        self, obj: Mapping[str, Any], *, dry_run: bool = False, field_validation: str | None = None
    ) -> dict[str, Any]:
        """PUT the whole object, as `kubectl replace` does (Argo CD's `Replace=true`); an object
        without `metadata.resourceVersion` is replaced whatever its version."""
        key = ResourceKey.of(obj)
        resource = self.resource_for(key.group, key.kind)
        query = _write_query(dry_run, field_validation)
        path = resource.path(key.namespace or None, key.name)
        response = self._request("PUT", path, query=query, body=dict(obj))
        return _json_of(response)

    def json_patch(
        self, resource: ApiResource, namespace: str | None, name: str, operations: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:
        """PATCH one object with a JSON patch (RFC 6902 operations, `test` ones included); returns
        the object the server stored. Used for what apply cannot say, such as rewriting managedFields."""
        response = self._request(
            "PATCH",
            resource.path(namespace, name),
            body=[dict(operation) for operation in operations],  # a list: the client sends it as is
            content_type="application/json-patch+json",
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
        stream: bool = False,
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
            # The client serialises a body itself when its content type names JSON (a JSON patch must
            # then be a list, or the client sends it as a strategic merge patch); any other content
            # type (apply-patch+yaml) must arrive as bytes.
            as_json = "json" in headers["Content-Type"].lower()
            payload = body if as_json else json.dumps(body, separators=(",", ":")).encode()
        full_path = path + (
            "?" + "&".join(f"{k}={quote(str(v), safe='')}" for k, v in query.items()) if query else ""
        )
        deadline = time.monotonic() + RETRY_BUDGET_SECONDS
        attempt = 0
        while True:
            attempt += 1
            connect_timeout, read_timeout = self._timeouts(read_timeout)
            started = time.monotonic()
            try:
                method_, url, header_params, _, _ = self.api_client.param_serialize(
                    method=method,
                    resource_path=full_path,
                    header_params=headers,
                    auth_settings=["BearerToken"],
                )
                response = self.api_client.call_api(
                    method_, url, header_params=header_params, body=payload,
                    _request_timeout=(connect_timeout, read_timeout),
                )  # fmt: skip
                if not stream:
                    response.response.data  # noqa: B018 - read the body here, where a timeout is caught
            except (urllib3.exceptions.HTTPError, OSError) as error:
                raise self._unanswered(
                    started,
                    ClusterError(
                        f"cannot reach the cluster of context {self.context!r} at {self.server}: "
                        f"{_root_cause(error, read_timeout, connect_timeout)}; "
                        "check that it is running and that the kubeconfig points at it"
                    ),
                ) from None
            except k8s_client.ApiException as error:  # raised for TLS failures, with status 0
                raise ClusterError(
                    f"cannot talk to the cluster of context {self.context!r} at {self.server}: {error.reason}"
                ) from None
            self._silent_since = None
            status = int(response.status)
            if 200 <= status < 300:
                return response
            failure = _api_error(response, status)
            retryable = (status == 429 or status >= 500) and not failure.version_too_large
            if failure.retry_after is not None:
                wait = failure.retry_after
            else:
                wait = min(8.0, 0.25 * 2**attempt) * random.uniform(0.8, 1.2)  # jitter spreads clients out
            if not retryable or time.monotonic() + wait > deadline or not self._may_wait(wait):
                raise failure
            self._sleep(wait)

    def _timeouts(self, read_timeout: float) -> tuple[float, float]:
        """This attempt's (connect, read) timeouts; a one-shot adapter whose cluster has been silent
        fails at once, or waits only what is left of its give-up time."""
        if self.give_up_seconds is None or self._silent_since is None:
            return CONNECT_TIMEOUT, read_timeout
        left = self._silent_since + self.give_up_seconds - time.monotonic()
        if left <= 0 and self._last_unreachable is not None:
            raise ClusterError(str(self._last_unreachable))
        left = max(left, 0.5)
        return min(CONNECT_TIMEOUT, left), min(read_timeout, left)

    def _unanswered(self, started: float, error: ClusterError) -> ClusterError:
        """Note a request the cluster did not answer (see `_timeouts`); returns `error` to raise."""
        if self._silent_since is None:
            self._silent_since = started
        self._last_unreachable = error
        return error

    def _may_wait(self, wait: float) -> bool:
        """Whether a retry may wait `wait` s: a one-shot adapter spends at most its give-up time
        waiting on 429/5xx answers in all, not that much per request and kind."""
        if self.give_up_seconds is None:
            return True
        if self._retry_waited + wait > self.give_up_seconds:
            return False
        self._retry_waited += wait
        return True


def _write_query(dry_run: bool, field_validation: str | None) -> dict[str, str]:
    query = {"fieldManager": FIELD_MANAGER}
    if dry_run:
        query["dryRun"] = "All"
    if field_validation:
        query["fieldValidation"] = field_validation
    return query


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


def keepalive_socket_options() -> list[tuple[int, int, int]]:
    """urllib3 socket options with TCP keepalive (see KEEPALIVE_*), for the client's Configuration."""
    from kubernetes.utils.keepalive import tcp_keepalive_socket_options

    options: list[tuple[int, int, int]] = tcp_keepalive_socket_options(
        idle=KEEPALIVE_IDLE_SECONDS, interval=KEEPALIVE_INTERVAL_SECONDS, count=KEEPALIVE_PROBES
    )
    return options


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


def _root_cause(error: BaseException, read_timeout: float, connect_timeout: float = CONNECT_TIMEOUT) -> str:
    import urllib3

    reason: Any = error
    while isinstance(getattr(reason, "reason", None), BaseException):
        reason = reason.reason
    # NewConnectionError derives from ConnectTimeoutError, and means refused or unresolvable.
    if isinstance(reason, urllib3.exceptions.ConnectTimeoutError) and not isinstance(
        reason, urllib3.exceptions.NewConnectionError
    ):
        return f"no answer to connecting within {connect_timeout:g} s"
    if isinstance(reason, urllib3.exceptions.ReadTimeoutError | TimeoutError):
        return f"it accepted the connection but sent nothing for {read_timeout:g} s"
    text = str(reason)
    # urllib3 wraps the socket error in "<urllib3.connection.HTTPConnection object at 0x..>: Failed to ..."
    return text.split(">: ", 1)[-1]
