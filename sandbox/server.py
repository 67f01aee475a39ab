"""The sandbox API server: state, the aiohttp application, routing and the request middleware.

`ApiServer` owns the store, the kind registry, the API verbs, the fault plan and the controller tasks.
`ApiServer.app()` is the aiohttp application that kubectl and the kubernetes client talk to.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import sys
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from sandbox import discovery
from sandbox.bootstrap_objects import seed_cluster_objects
from sandbox.errors import StatusError, internal_error, method_not_supported
from sandbox.faults import Faults, RequestRecord, RequestTarget
from sandbox.kinds import KindRegistry
from sandbox.openapi import OpenAPIDocuments
from sandbox.procedures import Procedures
from sandbox.resources import ResourceAPI
from sandbox.rest import ResourceHandlers, json_response, status_response
from sandbox.routing import ResourcePath, resolve, split_group_version
from sandbox.store import Store

logger = logging.getLogger("sandbox")

Controller = Callable[[ResourceAPI], Awaitable[None]]
"""A controller: a coroutine that runs for the server's lifetime, reading and writing through the API."""

SYSTEM_MANAGER = "kube-apiserver"
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
NOT_FOUND_MESSAGE = "the server could not find the requested resource"
# Records the request in the log once its status is known (a watch records when its stream starts).
RECORD_STATUS: web.RequestKey[Callable[[int], None]] = web.RequestKey("record_status")


def default_controllers() -> list[Controller]:
    """The simulated control plane a sandbox runs unless told otherwise (tests may pass `controllers=()`)."""
    from sandbox.controllers import default_controllers as simulated_control_plane

    return list(simulated_control_plane())


@dataclass(frozen=True)
class ServerConfig:
    """How one sandbox behaves; the defaults are a real API server's where one exists."""

    bookmark_interval: float = 60.0
    history_size: int = 10_000
    watcher_backlog: int = 100_000
    service_cidr: str = "10.96.0.0/12"
    user: str = "sandbox"
    # How long a list or watch waits for a resourceVersion the store has not reached before its 504.
    resource_version_wait: float = 3.0


class ApiServer:
    """Everything stateful about one sandbox cluster, and the HTTP application in front of it."""

    def __init__(
        self, config: ServerConfig | None = None, *, controllers: Sequence[Controller] | None = None
    ) -> None:
        self.config = config or ServerConfig()
        self.registry = KindRegistry()
        self.store = Store(history_size=self.config.history_size, watcher_backlog=self.config.watcher_backlog)
        self.api = ResourceAPI(self.store, self.registry, service_cidr=self.config.service_cidr)
        self.faults = Faults()
        self.faults._on_drop_watches = self.store.drop_watchers
        self.faults._on_compact = self.store.compact
        self.openapi = OpenAPIDocuments(self.registry)
        self.controllers = list(default_controllers() if controllers is None else controllers)
        self.address = "127.0.0.1:6443"
        self._resources = ResourceHandlers(
            self.api,
            bookmark_interval=self.config.bookmark_interval,
            resource_version_wait=self.config.resource_version_wait,
        )
        self.procedures = Procedures(self.api, user=self.config.user)
        self._tasks: list[asyncio.Task[None]] = []
        self._seed()
        seed_cluster_objects(self.api)

    def _seed(self) -> None:
        """What a fresh cluster has before anyone writes: system namespaces, the `kubernetes` Service
        and the default StorageClass."""
        namespaces = self.api.resource("v1", "Namespace")
        for name in SYSTEM_NAMESPACES:
            self.api.create(
                namespaces,
                None,
                {"metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}}},
                manager=SYSTEM_MANAGER,
            )
        services = self.api.resource("v1", "Service")
        self.api.create(
            services,
            "default",
            {
                "metadata": {
                    "name": "kubernetes",
                    "labels": {"component": "apiserver", "provider": "kubernetes"},
                },
                "spec": {
                    "clusterIP": self.api.service_ips.first_address,
                    "type": "ClusterIP",
                    "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
                },
            },
            manager=SYSTEM_MANAGER,
        )
        storage_classes = self.registry.preferred("storage.k8s.io", "storageclasses")
        if storage_classes is not None:
            from sandbox.controllers.volumes import DEFAULT_STORAGE_CLASS

            # kind and minikube clusters come with a default class named `standard`.
            default_class = copy.deepcopy(DEFAULT_STORAGE_CLASS)
            self.api.create(storage_classes, None, default_class, manager=SYSTEM_MANAGER)

    # ---- lifecycle ----

    def app(self) -> web.Application:
        application = web.Application(middlewares=[self._middleware], client_max_size=3 * 1024 * 1024)
        application.router.add_route("*", "/{tail:.*}", self._dispatch)
        application.cleanup_ctx.append(self._run_controllers)
        return application

    async def _run_controllers(self, _app: web.Application) -> AsyncIterator[None]:
        self._tasks = [asyncio.create_task(self._supervise(c)) for c in self.controllers]
        yield
        self.store.drop_watchers()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _supervise(self, controller: Controller) -> None:
        try:
            await controller(self.api)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception(
                "sandbox controller %s stopped with an error", getattr(controller, "__name__", controller)
            )

    # ---- middleware: request log, latency, faults, and every error as a Status ----

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path.startswith("/sandbox/"):
            return await handler(request)
        recorded = False

        def record(status: int) -> None:
            nonlocal recorded
            if recorded:
                return
            recorded = True
            self.faults.request_log.append(
                RequestRecord(
                    method=request.method,
                    path=request.path,
                    query=dict(request.query),
                    content_type=request.headers.get("Content-Type", ""),
                    status=status,
                    user_agent=request.headers.get("User-Agent", ""),
                )
            )

        request[RECORD_STATUS] = record
        try:
            if self.faults.delay_seconds:
                await asyncio.sleep(self.faults.delay_seconds)
            target = self._target(request)
            if target is not None:
                failure = self.faults.failure_for(target, self.config.user)
                if failure is not None:
                    raise failure
            response = await handler(request)
        except StatusError as error:
            response = status_response(error)
        except web.HTTPException:
            raise
        except Exception as error:
            traceback.print_exc(file=sys.stderr)
            response = status_response(internal_error(f"{type(error).__name__}: {error}"))
        record(response.status)
        return response

    def _target(self, request: web.Request) -> RequestTarget | None:
        group_version = split_group_version(request.path)
        if group_version is None:
            return None
        path = resolve(self.registry, group_version)
        if path is None:
            return None
        watch = request.query.get("watch", "").lower() in ("true", "1")
        return RequestTarget(
            verb=path.verb(request.method, watch),
            group=path.resource_type.group,
            plural=path.resource_type.plural,
            namespace=path.namespace or "",
            name=path.name or "",
        )

    # ---- routing ----

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        if path.startswith("/sandbox/"):
            return await self._admin(request, path)
        fixed = self._fixed_document(request, path)
        if fixed is not None:
            return fixed
        group_version = split_group_version(path)
        if group_version is None:
            return web.Response(status=404, text="404 page not found\n", content_type="text/plain")
        if not group_version.rest:
            return self._group_version_document(group_version.group, group_version.version)
        resource_path = resolve(self.registry, group_version)
        if resource_path is None:
            raise StatusError(404, "NotFound", NOT_FOUND_MESSAGE, details={})
        self._check_method(request, resource_path)
        # Reviews, tokens, eviction, binding, CSR approval and the container endpoints.
        answered = await self.procedures.handle(request, resource_path)
        if answered is not None:
            return answered
        return await self._resources.handle(request, resource_path, request[RECORD_STATUS])

    def _check_method(self, request: web.Request, path: ResourcePath) -> None:
        allowed = {"GET", "POST", "PUT", "PATCH", "DELETE"} if path.name else {"GET", "POST", "DELETE"}
        if (
            path.name is None
            and path.namespace is None
            and path.resource_type.namespaced
            and request.method != "GET"
        ):
            allowed = {"GET"}
        if request.method not in allowed:
            verb = path.verb(request.method, False)
            raise method_not_supported(path.resource_type.group_resource, verb)

    def _fixed_document(self, request: web.Request, path: str) -> web.StreamResponse | None:
        accept = request.headers.get("Accept", "")
        if path == "/version":
            return json_response(discovery.version_document())
        if path in ("/healthz", "/livez", "/readyz"):
            return web.Response(text="ok", content_type="text/plain")
        if path == "/api":
            aggregated = discovery.negotiate_aggregated(accept)
            if aggregated:
                return json_response(
                    discovery.aggregated_list(self.registry, core=True, version=aggregated),
                    content_type=discovery.aggregated_content_type(aggregated),
                )
            return json_response(discovery.core_versions(self.address))
        if path == "/apis":
            aggregated = discovery.negotiate_aggregated(accept)
            if aggregated:
                return json_response(
                    discovery.aggregated_list(self.registry, core=False, version=aggregated),
                    content_type=discovery.aggregated_content_type(aggregated),
                )
            return json_response(discovery.group_list(self.registry))
        if path.startswith("/apis/") and path.count("/") == 2:
            document = discovery.group_document(self.registry, path.split("/")[2])
            if document is None:
                raise StatusError(404, "NotFound", NOT_FOUND_MESSAGE, details={})
            return json_response(document)
        if path.startswith("/openapi/"):
            return self.openapi.respond(request, path)
        return None

    def _group_version_document(self, group: str, version: str) -> web.Response:
        document = discovery.resource_list(self.registry, group, version)
        if document is None:
            raise StatusError(404, "NotFound", NOT_FOUND_MESSAGE, details={})
        return json_response(document)

    # ---- admin: faults and the request log, outside /api and /apis ----

    async def _admin(self, request: web.Request, path: str) -> web.Response:
        if path == "/sandbox/requests":
            if request.method == "DELETE":
                self.faults.clear_request_log()
                return json_response({"ok": True})
            return json_response({"requests": [r.to_json() for r in self.faults.request_log]})
        if path == "/sandbox/faults" and request.method == "POST":
            try:
                action: Any = await request.json()
                return json_response(self.faults.apply(action if isinstance(action, dict) else {}))
            except (ValueError, KeyError, TypeError) as error:
                return json_response({"ok": False, "error": str(error)}, status=400)
        return web.Response(status=404, text="404 page not found\n", content_type="text/plain")
